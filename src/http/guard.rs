//! Brute-force protection on every HTTP route: a (client IP, account) pair
//! locked out by repeated authentication failures gets 429 with
//! `Retry-After` before its credentials are even looked at; each 401 counts
//! a failure, each success clears the count. See `auth::lockout`.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use crate::auth::lockout::LockedOut;
use crate::error::ApiError;

/// The account a path is about (`/api/v1/user/:account…`,
/// `/api/v1/domain/:account…`).
fn path_account(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1/user/").or_else(|| path.strip_prefix("/api/v1/domain/"))?;
    rest.split('/').next().filter(|a| !a.is_empty())
}

pub async fn lockouts(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let presents_credentials = header.is_some() || req.headers().contains_key("x-activation-code");
    let Some(ip) = state.authority.client_ip(peer, req.headers()).filter(|_| presents_credentials) else {
        return next.run(req).await;
    };
    let account = state.authority.claimed_account(header, path_account(req.uri().path()).unwrap_or("-"));
    let lockouts = state.authority.lockouts();
    if let Err(LockedOut(left)) = lockouts.check(ip, &account) {
        crate::metrics::auth_failure();
        return ApiError::LockedOut(left.as_secs().max(1)).into_response();
    }
    let response = next.run(req).await;
    if response.status() == axum::http::StatusCode::UNAUTHORIZED {
        lockouts.failed(ip, &account);
    } else if response.status().is_success() {
        lockouts.succeeded(ip, &account);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_from_paths() {
        assert_eq!(path_account("/api/v1/user/acc/key"), Some("acc"));
        assert_eq!(path_account("/api/v1/domain/acc/sd/state"), Some("acc"));
        assert_eq!(path_account("/api/v1/user/"), None);
        assert_eq!(path_account("/metrics"), None);
    }
}
