//! What the integration tests share: a gateway built on the real router
//! (no sockets) over a temporary store, and credentials for it.
#![allow(clippy::unwrap_used, dead_code)]

use base64::Engine;
use meld_gateway::auth::AuthKey;
use meld_gateway::config::{Config, Settings};
use meld_gateway::store::Store;

/// A gateway for domain `ex.org` with root account `rootacc`.
pub struct TestGateway {
    pub app: axum::Router,
    /// The whole root key, `rootacc.<keyid>:<secret>`.
    pub root: String,
    pub store: Store,
    /// The data directory (outbox, root key pair), removed on drop.
    pub dir: tempfile::TempDir,
}

/// Builds a gateway with `settings` (its gateway name and data path set
/// here).
pub fn gateway(settings: Settings) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings { gateway: Some("ex.org".into()), data_path: Some(dir.path().to_owned()), ..settings };
    let config = Config::from_settings(settings).unwrap();
    let store = Store::temporary().unwrap();
    let root = AuthKey::generate("rootacc").unwrap();
    let gw = meld_gateway::server::build(&config, &store, root.clone()).unwrap();
    TestGateway { app: gw.app, root: root.reveal(), store, dir }
}

/// An `Authorization: Basic` value.
pub fn basic(user: &str, key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{key}")))
}
