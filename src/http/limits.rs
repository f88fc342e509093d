//! HTTP request rates per client IP (429 with `Retry-After`), the
//! activation-mail rates, and the account and body quotas handlers read.
//!
//! Two buckets per IP: requests without credentials (the website, activation,
//! anonymous configs) get a low rate, requests with credentials a high one
//! (wrong credentials are bounded by lockouts anyway). Socket.io requests
//! are not counted here: sockets are bounded by the connection limits and
//! the handshake lockout, and a clone's long-polling would eat the budget.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use crate::config::Limits;
use crate::error::ApiError;
use crate::limits::{Conns, KeyedLimiter, LogThrottle, RetryAfter};

/// The limits HTTP handlers apply, with their counters.
pub struct HttpLimits {
    anon: KeyedLimiter<IpAddr>,
    authed: KeyedLimiter<IpAddr>,
    activations_per_ip: KeyedLimiter<IpAddr>,
    activations_per_email: KeyedLimiter<String>,
    /// Most named subdomains per account.
    pub subdomains_per_account: usize,
    /// Largest Clone API write body.
    pub clone_write_bytes: usize,
    /// Open connections (for the metrics).
    pub conns: Arc<Conns>,
    refused: [AtomicU64; 4],
    log: LogThrottle,
}

/// Which rate a request broke (metric label order).
#[derive(Debug, Clone, Copy)]
enum Which {
    Anonymous = 0,
    Authenticated = 1,
    ActivationsPerIp = 2,
    ActivationsPerEmail = 3,
}

const LABELS: [&str; 4] = ["anonymous", "authenticated", "activations_per_ip", "activations_per_email"];

impl HttpLimits {
    /// The limits from configuration, over the accept loop's connections.
    pub fn new(limits: &Limits, conns: Arc<Conns>) -> Self {
        HttpLimits {
            anon: KeyedLimiter::new(limits.anon_requests),
            authed: KeyedLimiter::new(limits.requests),
            activations_per_ip: KeyedLimiter::new(limits.activations_per_ip),
            activations_per_email: KeyedLimiter::new(limits.activations_per_email),
            subdomains_per_account: limits.subdomains_per_account,
            clone_write_bytes: limits.clone_write_bytes,
            conns,
            refused: Default::default(),
            log: LogThrottle::default(),
        }
    }

    fn refused(&self, which: Which, ip: IpAddr, wait: RetryAfter) -> ApiError {
        self.refused[which as usize].fetch_add(1, Ordering::Relaxed);
        if let Some(also) = self.log.allow() {
            tracing::warn!(%ip, limit = LABELS[which as usize], retry_after = wait.secs(), refused_since_last_line = also, "request refused: rate limit");
        }
        ApiError::RateLimited(wait.secs())
    }

    /// Counts an activation mail to `email` asked from `ip`; refuses past
    /// either rate. The address is compared case-insensitively.
    pub fn activation(&self, ip: Option<IpAddr>, email: &str) -> Result<(), ApiError> {
        if let Some(ip) = ip.map(crate::limits::client_key) {
            self.activations_per_ip.check(&ip).map_err(|w| self.refused(Which::ActivationsPerIp, ip, w))?;
        }
        let key = email.to_ascii_lowercase();
        self.activations_per_email
            .check(&key)
            .map_err(|w| self.refused(Which::ActivationsPerEmail, ip.unwrap_or(IpAddr::from([0, 0, 0, 0])), w))
    }

    /// Refusals by limit, for the metrics.
    pub fn refusals(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        LABELS.iter().zip(&self.refused).map(|(l, n)| (*l, n.load(Ordering::Relaxed)))
    }
}

/// Middleware: one request from this client IP, in its bucket.
pub async fn rate_limit(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/socket.io/") {
        return next.run(req).await;
    }
    let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let Some(ip) = state.authority.client_ip(peer, req.headers()).map(crate::limits::client_key) else {
        return next.run(req).await;
    };
    let credentials = req.headers().contains_key(header::AUTHORIZATION);
    let limits = &state.limits;
    let (limiter, which) =
        if credentials { (&limits.authed, Which::Authenticated) } else { (&limits.anon, Which::Anonymous) };
    match limiter.check(&ip) {
        Ok(()) => next.run(req).await,
        Err(wait) => limits.refused(which, ip, wait).into_response(),
    }
}
