//! The website, embedded in the binary: for now the home page, filled in
//! with this gateway's real origin and domain.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::ApiState;

const HOME: &str = include_str!("../../web/index.html");

/// HTML-escapes text for element content and attribute values.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// `GET /`: the home page.
pub async fn home(State(state): State<ApiState>) -> impl IntoResponse {
    let page = HOME
        .replace("{{origin}}", &escape(&state.gateway.origin))
        .replace("{{domain}}", &escape(&state.gateway.domain));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        page,
    )
}
