//! Backup and restore of a named subdomain: `GET …/backup` streams its
//! backup clone as a versioned, checksummed file (`backup::archive`);
//! `POST …/backup` restores one as a subdomain that does not exist yet.
//! Both are for the account's own key or root, never a token bearer: a
//! backup holds the whole domain, and a restore creates a subdomain.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;

use super::ApiState;
use super::admin::{drain, drain_rest};
use super::subdomain::owned;
use crate::backup::archive::CONTENT_TYPE;
use crate::backup::{ExportFailed, RestoreError};
use crate::error::ApiError;

impl From<RestoreError> for ApiError {
    fn from(e: RestoreError) -> Self {
        match e {
            RestoreError::Archive(e) => ApiError::BadRequest(e.to_string()),
            RestoreError::Invalid(message) => ApiError::BadRequest(message),
            RestoreError::Exists => ApiError::Conflict("the subdomain exists; a backup restores only as a new one"),
            RestoreError::Tombstoned => ApiError::Conflict("this subdomain was removed and cannot be re-created"),
            RestoreError::NoAccount => ApiError::NotFound,
            RestoreError::TooLarge => ApiError::PayloadTooLarge,
            RestoreError::Body(detail) => ApiError::BadRequest(format!("request body unreadable: {detail}")),
            RestoreError::Backup(e) => e.into(),
        }
    }
}

/// `GET /api/v1/domain/:account/:name/backup`.
#[tracing::instrument(skip_all, fields(account = %account, name = %name))]
pub async fn get_backup(
    State(state): State<ApiState>,
    Path((account, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (sd, who) = owned(&state, &headers, account, name)?;
    let export = state.backups.export(&sd, crate::now_ms()).await?;
    tracing::info!(target: "audit", account = %sd.account, name = %sd.name, by = who.describe(), "subdomain exported");
    let first = futures_util::stream::once(async move { Ok::<_, ExportFailed>(export.first) });
    let rest = futures_util::stream::unfold(export.rest, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let filename = format!("{}-{}-{}.mgb", sd.account, sd.name, export.header.exported);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    Ok((headers, Body::from_stream(first.chain(rest))).into_response())
}

/// `POST /api/v1/domain/:account/:name/backup`: the body is a backup; it
/// becomes the new subdomain `:account/:name`, of the same m-ld domain.
#[tracing::instrument(skip_all, fields(account = %account, name = %name))]
pub async fn post_backup(
    State(state): State<ApiState>,
    Path((account, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    // Refusals before the body is read drain it first (as `refuse_oversized`
    // does): answering mid-upload would reset the connection under the client
    let checked = (|| {
        let (sd, who) = owned(&state, &headers, account, name)?;
        if declared.is_some_and(|len| len > state.max_restore_bytes) {
            return Err(ApiError::PayloadTooLarge);
        }
        state.backups.restorable(&sd).map_err(|e| refused(&sd, &who, e))?;
        Ok((sd, who))
    })();
    let (sd, who) = match checked {
        Ok(checked) => checked,
        Err(e) => {
            drain(body, declared).await;
            return Err(e);
        }
    };
    let limit = state.max_restore_bytes;
    let mut stream = body.into_data_stream();
    let restored = match state.backups.restore(&sd, &mut stream, limit, crate::now_ms()).await {
        Ok(restored) => restored,
        Err(e) => {
            // Refused midway (a bad record): the client is still sending
            if !matches!(e, RestoreError::TooLarge) {
                drain_rest(&mut stream).await;
            }
            return Err(refused(&sd, &who, e));
        }
    };
    tracing::info!(target: "audit", account = %sd.account, name = %sd.name, by = who.describe(),
        records = restored.records, use_signatures = restored.header.use_signatures, "subdomain restored");
    // Open it now, as PUT does: a clone connecting next finds it present
    state.backups.ensure(&sd).await?;
    let body = json!({
        "@domain": restored.header.domain,
        "records": restored.records,
        "useSignatures": restored.header.use_signatures,
        "exported": restored.header.exported,
    });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// Logs a refused restore (its detail stays here) and makes its response.
fn refused(sd: &crate::accounts::SubdomainId, who: &crate::auth::Principal, e: RestoreError) -> ApiError {
    tracing::warn!(account = %sd.account, name = %sd.name, by = who.describe(), error = %e, "restore refused");
    e.into()
}
