//! The OpenAPI 3.1 description of the HTTP API, `doc/openapi.json`, built
//! into the binary and served as written. `tests/openapi.rs` keeps it in step
//! with the router; this module knows nothing of its contents.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, checked for JSON and route coverage by `tests/openapi.rs`.
const DOCUMENT: &str = include_str!("../../doc/openapi.json");

/// `GET /api/v1/openapi.json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
