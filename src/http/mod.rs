//! HTTP transport (axum): routes, request parsing and responses. Business
//! rules live in `auth` and `accounts`; handlers only translate.

mod account;
mod admin;
mod backup;
mod clone_api;
mod clone_follow;
mod docs;
mod guard;
mod limits;
mod openapi;
pub mod site;
mod subdomain;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use tokio::sync::watch;

use crate::accounts::{AccountStore, Activations};
use crate::auth::Authority;
use crate::backup::Backups;
use crate::config::GatewayName;
use crate::relay::Relay;
use crate::rootkey::RootPublicKey;
pub use limits::HttpLimits;

/// Largest Administration API request body.
pub(crate) const ADMIN_BODY_LIMIT: usize = 64 * 1024;

/// What HTTP handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// Access decisions.
    pub authority: Authority,
    /// Account storage.
    pub accounts: AccountStore,
    /// Public name and origin.
    pub gateway: Arc<GatewayName>,
    /// The relay (for its counters).
    pub relay: Arc<Relay>,
    /// Backup clones of named subdomains.
    pub backups: Backups,
    pub activations: Activations,
    pub root_public: RootPublicKey,
    pub rotation_grace: std::time::Duration,
    pub mailer: crate::mail::Mailer,
    pub metrics_public: bool,
    /// The website's files (`web.dir`).
    pub web: site::WebDir,
    /// Request rates and quotas.
    pub limits: Arc<HttpLimits>,
    /// Largest backup a restore accepts, in bytes.
    pub max_restore_bytes: u64,
    /// Becomes true when the gateway shuts down (ends event streams).
    pub stopping: watch::Receiver<bool>,
}

/// The HTTP routes of the gateway.
pub fn router(state: ApiState) -> Router {
    let write_limit = state.limits.clone_write_bytes;
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/context", get(admin::context))
        .route("/api/v1/publicKey", get(account::root_public_key))
        .route("/api/v1/user/{account}/activation", post(account::post_activation))
        .route("/api/v1/user/{account}/key", post(account::post_key).get(account::list_keys))
        .route("/api/v1/user/{account}/key/{keyid}", delete(account::revoke_key))
        .route("/api/v1/user/{account}/key/{keyid}/rotate", post(account::rotate_key))
        .route("/api/v1/user/{account}/publicKey/{keyid}", get(account::user_public_key))
        .route(
            "/api/v1/user/{account}",
            get(account::get_account).patch(account::patch_account).delete(account::delete_account),
        )
        .route("/api/v1/domain/{account}", post(admin::post_domain))
        .route("/api/v1/domain/{account}/{name}", put(subdomain::put_subdomain).delete(subdomain::delete_subdomain))
        .route(
            "/api/v1/domain/{account}/{name}/state",
            get(clone_api::get_state)
                .post(clone_api::post_state)
                .delete(clone_follow::delete_state)
                .layer(DefaultBodyLimit::max(write_limit)),
        )
        .route("/api/v1/domain/{account}/{name}/backup", get(backup::get_backup).post(backup::post_backup))
        .route("/api/v1/domain/{account}/{name}/poll", post(clone_follow::post_poll))
        .route("/api/v1/domain/{account}/{name}/updates", get(clone_follow::get_updates))
        .merge(site::routes())
        .route("/healthz", get(async || "ok"))
        .route("/readyz", get(admin::readyz))
        .route("/metrics", get(admin::metrics))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::lockouts))
        .layer(axum::middleware::from_fn_with_state(state.clone(), admin::refuse_oversized))
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::rate_limit))
        .layer(axum::middleware::from_fn(admin::count_requests))
        .layer(DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .with_state(state)
}
