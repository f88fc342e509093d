//! Following a subdomain's updates through the Clone API.
//!
//! The Node gateway's pull model: `POST …/poll` answers every queued update
//! (`application/x-ndjson`, each with its `@emitCount` incremented) and
//! locks the state, so that the consumer reads the state those updates led
//! to; `DELETE …/state?lock` releases it and clears the queue (everything
//! was processed). A lock not released in time lapses (see `backup`).
//!
//! Beyond Node, a push model: `GET …/updates` streams every update as it
//! happens, as Server-Sent Events (`data: <MeldUpdate JSON>`), with no lock.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::{self, error::RecvError};

use super::ApiState;
use super::clone_api::{authorised, authorised_caller, etag, etag_header, lock_location};
use crate::auth::{Admission, AuthError};
use crate::error::ApiError;

/// How often an idle event stream gets a comment, so that proxies keep it.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an open event stream's credentials are checked again.
const STREAM_RECHECK: Duration = Duration::from_secs(2);

/// `POST /api/v1/domain/:account/:name/poll`: 201 with every queued update,
/// and the state locked.
#[tracing::instrument(skip_all, fields(account = %account, name = %name))]
pub async fn post_poll(
    State(state): State<ApiState>,
    Path((account, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sd = authorised(&state, &headers, account, name)?;
    let backup = state.backups.ensure(&sd).await?;
    let (tag, lines) = backup.run_following(|clone, follow, now| ((etag(clone), follow.poll(now)), Vec::new())).await?;
    let lines = lines?;
    let mut body = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        body.push_str(&line);
        body.push('\n');
    }
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson")),
        (header::ETAG, etag_header(&tag)),
        (header::LOCATION, lock_location(&sd)),
    ];
    Ok((StatusCode::CREATED, headers, body).into_response())
}

/// `DELETE /api/v1/domain/:account/:name/state?lock`: releases the lock
/// (200) and clears the queue; 404 if not locked. The state itself cannot
/// be deleted (405).
#[tracing::instrument(skip_all, fields(account = %account, name = %name))]
pub async fn delete_state(
    State(state): State<ApiState>,
    Path((account, name)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let sd = authorised(&state, &headers, account, name)?;
    if !params.contains_key("lock") {
        return Err(ApiError::MethodNotAllowed("only the lock (?lock) can be deleted"));
    }
    let backup = state.backups.ensure(&sd).await?;
    let (tag, unlocked) = backup.run_following(|clone, follow, _| ((etag(clone), follow.unlock()), Vec::new())).await?;
    if unlocked? {
        Ok((StatusCode::OK, [(header::ETAG, etag_header(&tag))]).into_response())
    } else {
        Err(ApiError::NotFound)
    }
}

/// `GET /api/v1/domain/:account/:name/updates`: every update from now on,
/// as Server-Sent Events. The stream starts with a `: ready` comment (the
/// subscription is in place) and ends when the gateway closes the clone or
/// shuts down, or once the key it was opened with (or the key that signed
/// its token) is revoked or rotated out; an `event: lagged` with the number
/// of updates missed means the consumer fell behind.
#[tracing::instrument(skip_all, fields(account = %account, name = %name))]
pub async fn get_updates(
    State(state): State<ApiState>,
    Path((account, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (sd, caller) = authorised_caller(&state, &headers, account, name)?;
    let presented = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let admission = Admission::of_http(&caller, presented);
    let backup = state.backups.ensure(&sd).await?;
    // Subscribed before answering: nothing after the answer is missed. The
    // stream does not keep the backup open (only its broadcast).
    let updates = backup.subscribe();
    drop(backup);
    let mut stopping = state.stopping.clone();
    let stopped = async move {
        if stopping.wait_for(|stopped| *stopped).await.is_err() {
            // Nobody can signal a shutdown any more: stream on
            std::future::pending::<()>().await;
        }
    };
    let lapsed = credentials_lapse(state.authority.clone(), sd.account.clone(), admission);
    let ready = stream::once(async { Ok::<_, Infallible>(Event::default().comment("ready")) });
    let events = ready
        .chain(update_events(updates))
        .take_until(futures_util::future::select(Box::pin(stopped), Box::pin(lapsed)));
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"));
    Ok(sse.into_response())
}

/// Resolves once `admission` no longer allows `account`'s things, checking
/// every [`STREAM_RECHECK`]; the audit log says why.
async fn credentials_lapse(authority: crate::auth::Authority, account: String, admission: Admission) {
    loop {
        tokio::time::sleep(STREAM_RECHECK).await;
        let (check, acc, adm) = (authority.clone(), account.clone(), admission.clone());
        match tokio::task::spawn_blocking(move || check.still_authorised(&acc, &adm)).await {
            Ok(Ok(())) | Err(_) => {}
            Ok(Err(AuthError::Store(e))) => {
                tracing::error!(error = %e, "update stream: credentials re-check failed to read the store");
            }
            Ok(Err(reason)) => {
                tracing::warn!(target: "audit", account = %account, reason = %reason,
                    "update stream ended: its credentials no longer admit it");
                crate::metrics::auth_failure();
                return;
            }
        }
    }
}

fn update_events(updates: broadcast::Receiver<Arc<str>>) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold(updates, |mut updates| async move {
        let event = match updates.recv().await {
            Ok(json) => Event::default().data(&*json),
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "update stream subscriber lagged");
                Event::default().event("lagged").data(missed.to_string())
            }
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(event), updates))
    })
}
