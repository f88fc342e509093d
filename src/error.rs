//! The HTTP edge's error type: every handler error becomes one status code
//! and a short, stable JSON body `{"code","message"}` (the Node gateway's
//! restify shape). Detail goes to the log, never to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthError;
use crate::store::StoreError;

/// An API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Authentication or authorisation failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The request is malformed; the message is public.
    #[error("{0}")]
    BadRequest(String),
    /// No such resource.
    #[error("not found")]
    NotFound,
    /// The resource does not support this (e.g. no UUID naming).
    #[error("{0}")]
    MethodNotAllowed(&'static str),
    /// A conditional request's precondition (`If-Match`) failed.
    #[error("{0}")]
    PreconditionFailed(&'static str),
    /// The request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(&'static str),
    /// A dependency (e.g. a backup clone) cannot serve now.
    #[error("{0}")]
    Unavailable(&'static str),
    /// A feature this gateway does not offer yet.
    #[error("{0}")]
    NotImplemented(&'static str),
    /// The request body is over the route's limit, or could not be read.
    #[error("request body too large")]
    PayloadTooLarge,
    /// Too many requests from this client (or for this address): a rate
    /// limit; retry after this many seconds.
    #[error("too many requests; try again in {0} s")]
    RateLimited(u64),
    /// An account quota is reached; the message is public.
    #[error("{0}")]
    LimitReached(String),
    /// The request body stopped arriving (or broke off) before it was whole.
    #[error("request body incomplete or too slow")]
    BodyIncomplete,
    /// Too many failed authentications from this client for this account.
    #[error("too many failed attempts; try again in {0} s")]
    LockedOut(u64),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Auth(AuthError::Forbidden(_)) => StatusCode::FORBIDDEN,
            ApiError::Auth(AuthError::Random(_) | AuthError::Store(_) | AuthError::Crypto(_)) | ApiError::Store(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::Auth(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::LockedOut(_) | ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::LimitReached(_) => StatusCode::CONFLICT,
            ApiError::BodyIncomplete => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(e: axum::extract::rejection::BytesRejection) -> Self {
        tracing::debug!(error = %e, "request body refused");
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE { ApiError::PayloadTooLarge } else { ApiError::BodyIncomplete }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let public = matches!(status, StatusCode::NOT_IMPLEMENTED | StatusCode::SERVICE_UNAVAILABLE);
        let message = if status.is_server_error() && !public {
            tracing::error!(error = %self, "request failed");
            "internal error".to_owned()
        } else {
            if matches!(self, ApiError::Auth(_)) {
                crate::metrics::auth_failure();
                tracing::warn!(target: "audit", status = status.as_u16(), reason = %self, "access refused");
            }
            self.to_string()
        };
        let code = status.canonical_reason().unwrap_or("Error").replace(' ', "");
        let body = serde_json::json!({ "code": code, "message": message });
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::LockedOut(secs) | ApiError::RateLimited(secs) = &self
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"m-ld gateway\""));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_public_messages() {
        assert_eq!(ApiError::Auth(AuthError::BadCredentials).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ApiError::Auth(AuthError::Forbidden("x")).status(), StatusCode::FORBIDDEN);
        let store = ApiError::Store(StoreError::Corruption { tree: "accounts", detail: "secret detail".into() });
        assert_eq!(store.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let response = store.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
