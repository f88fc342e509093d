//! The Clone API (the Node gateway's paths and shapes): read a named
//! subdomain's backup clone with json-rql (`GET …/state?q=`), answered as
//! newline-delimited JSON, one subject or binding per line; and write to it
//! (`POST …/state`) as a local operation of the backup clone, broadcast to the
//! domain's clones and flushed to disk before the answer. `ETag: "<tick>"` is
//! the backup clone's clock; `If-Match` makes a write conditional on it.
//! `?lock` on a write keeps the state locked after it (see `clone_follow`).

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::admin::authenticate_caller;
use super::subdomain::subdomain_id;
use crate::accounts::SubdomainId;
use crate::auth::Caller;
use crate::backup::Queueing;
use crate::error::ApiError;
use crate::meld::jrql::{self, JrqlError};
use crate::meld::{Context, MeldClone};

impl From<JrqlError> for ApiError {
    fn from(e: JrqlError) -> Self {
        if e.is_client_error() {
            ApiError::BadRequest(e.to_string())
        } else {
            tracing::error!(error = %e, "json-rql evaluation failed");
            ApiError::Unavailable("the subdomain's store failed")
        }
    }
}

/// The clone's clock ticks, as an entity tag.
pub(super) fn etag(clone: &MeldClone) -> String {
    format!("\"{}\"", clone.state().time.ticks().unwrap_or(0))
}

pub(super) fn etag_header(tag: &str) -> HeaderValue {
    HeaderValue::from_str(tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// Authenticates and authorises a Clone API request for `sd`.
pub(super) fn authorised(
    state: &ApiState,
    headers: &HeaderMap,
    account: String,
    name: String,
) -> Result<SubdomainId, ApiError> {
    Ok(authorised_caller(state, headers, account, name)?.0)
}

/// As [`authorised`], with the caller.
pub(super) fn authorised_caller(
    state: &ApiState,
    headers: &HeaderMap,
    account: String,
    name: String,
) -> Result<(SubdomainId, Caller), ApiError> {
    let sd = subdomain_id(account, name)?;
    let caller = authenticate_caller(state, headers)?;
    state.authority.authorise_account(&caller.who, &sd.account)?;
    Ok((sd, caller))
}

/// `GET /api/v1/domain/:account/:name/state?q=<json-rql>` (or `query=`);
/// `?lock` answers whether the state is locked.
#[tracing::instrument(skip_all, fields(account = %account, name = %name))]
pub async fn get_state(
    State(state): State<ApiState>,
    Path((account, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sd = authorised(&state, &headers, account, name)?;
    let Some(text) = params.get("q").or_else(|| params.get("query")) else {
        if params.contains_key("lock") {
            let backup = state.backups.ensure(&sd).await?;
            let (tag, locked) =
                backup.run_following(|clone, follow, _| ((etag(clone), follow.locked()), Vec::new())).await?;
            let body = if locked { "true" } else { "false" };
            let headers = [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (header::ETAG, etag_header(&tag)),
            ];
            return Ok((headers, body).into_response());
        }
        return Err(ApiError::MethodNotAllowed("give a query with q= or query="));
    };
    let ctx = Context::domain(&sd.to_domain(&state.gateway.domain));
    // A bad query is refused before the clone is even opened
    let query = jrql::parse_read_json(&ctx, text)?;
    let backup = state.backups.ensure(&sd).await?;
    let (tag, results) =
        backup.run(move |clone, _| ((etag(clone), jrql::read(clone.dataset(), &ctx, &query)), Vec::new())).await?;
    let mut body = Vec::new();
    for result in results? {
        // Serialising a Value cannot fail: every case maps to JSON
        if serde_json::to_writer(&mut body, &result).is_ok() {
            body.push(b'\n');
        }
    }
    let headers =
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson")), (header::ETAG, etag_header(&tag))];
    Ok((headers, Body::from(body)).into_response())
}

/// `POST /api/v1/domain/:account/:name/state` with a json-rql write;
/// `?lock` keeps the state locked after it (201, with the lock's
/// `Location`), as does a write made while locked.
#[tracing::instrument(skip_all, fields(account = %account, name = %name))]
pub async fn post_state(
    State(state): State<ApiState>,
    Path((account, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let sd = authorised(&state, &headers, account, name)?;
    let body = body?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    let ctx = Context::domain(&sd.to_domain(&state.gateway.domain));
    let write = jrql::parse_write_json(&ctx, text)?;
    let if_match = headers.get(header::IF_MATCH).map(|v| v.to_str().unwrap_or_default().to_owned());
    let keep_lock = params.contains_key("lock");
    let backup = state.backups.ensure(&sd).await?;
    let outcome = backup
        .run_following(move |clone, follow, now| {
            let tag = etag(clone);
            if if_match.as_ref().is_some_and(|m| m != "*" && *m != tag) {
                return (Written::Stale(tag), Vec::new());
            }
            let resolved = match jrql::resolve_write(clone.dataset(), &write) {
                Ok(resolved) => resolved,
                Err(e) => return (Written::Refused(e), Vec::new()),
            };
            // The Node gateway locks for every write and unlocks after it
            // unless asked to keep the lock, or it was locked before
            let locked = keep_lock || follow.locked();
            if locked {
                follow.lock(now);
            }
            let written = clone.write(&resolved.deletes, &resolved.inserts, now);
            // Its update goes out (and, under a lock, in the queue as
            // emitted once, like Node's echo) whatever the flush does
            follow.collect(clone, if locked { Queueing::Echo } else { Queueing::Skip });
            match written {
                // Durable before the answer: the write is on disk
                Ok((out, _)) => match clone.dataset().flush() {
                    Ok(()) => (Written::Done(etag(clone)), out),
                    Err(e) => (Written::Failed(e.to_string()), out),
                },
                Err(e) => (Written::Failed(e.to_string()), Vec::new()),
            }
        })
        .await?;
    match outcome {
        Written::Done(tag) if keep_lock => {
            let headers = [(header::ETAG, etag_header(&tag)), (header::LOCATION, lock_location(&sd))];
            Ok((StatusCode::CREATED, headers).into_response())
        }
        Written::Done(tag) => Ok((StatusCode::OK, [(header::ETAG, etag_header(&tag))]).into_response()),
        Written::Stale(tag) => {
            let mut response = ApiError::PreconditionFailed("If-Match does not match the current ETag").into_response();
            response.headers_mut().insert(header::ETAG, etag_header(&tag));
            Ok(response)
        }
        Written::Refused(e) => Err(e.into()),
        Written::Failed(detail) => {
            tracing::error!(account = %sd.account, name = %sd.name, error = %detail, "Clone API write failed");
            Err(ApiError::Unavailable("the write could not be stored"))
        }
    }
}

/// Where a subdomain's lock is (the Node gateway's `Location`, which is
/// relative to the API root).
pub(super) fn lock_location(sd: &SubdomainId) -> HeaderValue {
    HeaderValue::from_str(&format!("/domain/{}/{}/state?lock", sd.account, sd.name))
        .unwrap_or_else(|_| HeaderValue::from_static("/"))
}

/// What a write came to, on the clone's thread.
enum Written {
    Done(String),
    Stale(String),
    Refused(JrqlError),
    Failed(String),
}
