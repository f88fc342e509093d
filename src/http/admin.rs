//! Administration API handlers, with the Node gateway's paths and shapes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::ApiState;
use crate::accounts::{Account, RemotesAuth, SubdomainId, naming};
use crate::auth::{AuthError, Caller, Principal};
use crate::error::ApiError;

pub(super) fn authenticate(state: &ApiState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    Ok(authenticate_caller(state, headers)?.who)
}

/// The caller with the key it presented, for minting tokens on its behalf.
pub(super) fn authenticate_caller(state: &ApiState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let header =
        headers.get(header::AUTHORIZATION).map(|v| v.to_str().map_err(|_| AuthError::Unrecognised)).transpose()?;
    Ok(state.authority.authenticate_header(header)?)
}

pub(super) fn account_name(account: &str) -> Result<(), ApiError> {
    if naming::is_component(account) { Ok(()) } else { Err(ApiError::NotFound) }
}

/// Parses an optional JSON body; an empty body is `None`.
pub(super) fn json_body(body: &Bytes) -> Result<Option<Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
}

/// `?type=rsa` on key requests.
#[tracing::instrument(skip_all, fields(account = %account))]
pub async fn post_domain(
    State(state): State<ApiState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    account_name(&account)?;
    let body = body?;
    let body = json_body(&body)?.unwrap_or_else(|| json!({}));
    let obj = body.as_object().ok_or_else(|| ApiError::BadRequest("expected a JSON object".into()))?;
    if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "name" | "useSignatures")) {
        return Err(ApiError::BadRequest(format!("unknown property {k}")));
    }
    let name = match obj.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) if naming::is_component(n) => Some(n.as_str()),
        Some(_) => {
            return Err(ApiError::BadRequest("name must be lowercase letters, digits, - or _".into()));
        }
    };
    let acc = state.accounts.get(&account)?;
    let uuid_ok = acc.as_ref().is_some_and(Account::allows_uuid);
    let (name, genesis) = match name {
        None if uuid_ok => (naming::new_uuid_name().map_err(|e| AuthError::Random(e.to_string()))?, Some(true)),
        None => return Err(ApiError::MethodNotAllowed("Unable to generate name; use PUT")),
        // A UUID name the account allows: its config, genesis unknown
        Some(n) if uuid_ok && naming::is_uuid_name(n) => (n.to_owned(), None),
        Some(_) => {
            let who = authenticate(&state, &headers)?;
            state.authority.authorise_account(&who, &account)?;
            return Err(ApiError::NotImplemented("named subdomains are not available on this gateway yet"));
        }
    };
    let acc = acc.ok_or(ApiError::NotFound)?;
    let id = SubdomainId { account, name };
    Ok(Json(clone_config(&state, &acc, &id, genesis, None, None)))
}

/// The configuration a new clone needs, without any secret: credentials are
/// placeholders the app fills in (the Node gateway's shape).
/// `user` is the requesting account when known (named subdomains); the key
/// is always a placeholder, never the real one.
/// The config a clone of the subdomain needs. `user` names the account in
/// key auth; `token` is a freshly minted JWT for `jwt` remotes auth (else a
/// placeholder is shown).
pub(super) fn clone_config(
    state: &ApiState,
    acc: &Account,
    id: &SubdomainId,
    genesis: Option<bool>,
    user: Option<&str>,
    token: Option<String>,
) -> Value {
    let mut io = json!({ "uri": state.gateway.origin });
    if acc.remotes_auth.contains(&RemotesAuth::Jwt) {
        let jwt = token.unwrap_or_else(|| "≪your-token≫".to_owned());
        io["opts"] = json!({ "auth": { "jwt": jwt } });
    } else if acc.allows_key_remotes() {
        let user = user.unwrap_or("≪your-account-name≫");
        io["opts"] = json!({ "auth": { "key": "≪your-auth-key≫", "user": user } });
    }
    let mut config = json!({ "@domain": id.to_domain(&state.gateway.domain) });
    if let Some(genesis) = genesis {
        config["genesis"] = json!(genesis);
    }
    config["io"] = io;
    config
}

/// `GET /api/v1/context`: the JSON-LD context of the gateway's own data, as
/// the Node gateway publishes it.
pub async fn context(State(state): State<ApiState>) -> impl IntoResponse {
    let body = json!({
        "@base": format!("http://{}/", state.gateway.domain),
        "@vocab": "http://gw.m-ld.org/#",
        "naming": { "@type": "@vocab" },
        "remotesAuth": { "@type": "@vocab" }
    });
    ([(header::CONTENT_TYPE, "application/ld+json")], body.to_string())
}

/// `GET /metrics`: relay counters in Prometheus text format.
/// `GET /metrics`: Prometheus text format; root only unless
/// `metrics.public`.
pub async fn metrics(State(state): State<ApiState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    if !state.metrics_public {
        let who = authenticate(&state, &headers)?;
        if who != Principal::Root {
            return Err(AuthError::Forbidden("metrics are for the root account").into());
        }
    }
    use crate::metrics::Family;
    let mut families: Vec<Family<'_>> = (state.relay.stats.snapshot().into_iter())
        .map(|(name, value)| Family {
            name: format!("meld_gateway_{name}"),
            help: "Relay counter.",
            kind: if name.ends_with("_total") { "counter" } else { "gauge" },
            samples: vec![(String::new(), value)],
        })
        .collect();
    families.push(Family {
        name: "meld_gateway_relay_limit_refusals_total".into(),
        help: "Sockets told and disconnected for breaking a per-socket limit (messages per second, bytes per message).",
        kind: "counter",
        samples: (state.relay.stats.limit_refusals().into_iter())
            .map(|(limit, n)| (format!("limit=\"{limit}\""), n))
            .collect(),
    });
    families.push(Family {
        name: "meld_gateway_http_rate_limited_total".into(),
        help: "HTTP requests refused with 429 by a rate limit, by limit.",
        kind: "counter",
        samples: state.limits.refusals().map(|(limit, n)| (format!("limit=\"{limit}\""), n)).collect(),
    });
    families.push(Family {
        name: "meld_gateway_connections_open".into(),
        help: "Open TCP connections.",
        kind: "gauge",
        samples: vec![(String::new(), state.limits.conns.open() as u64)],
    });
    families.push(Family {
        name: "meld_gateway_connections_refused_total".into(),
        help: "TCP connections closed at once for going over a connection limit, by limit.",
        kind: "counter",
        samples: (state.limits.conns.refused().into_iter())
            .map(|(limit, n)| (format!("limit=\"{}\"", limit.label()), n))
            .collect(),
    });
    families.push(Family {
        name: "meld_gateway_relay_domains".into(),
        help: "Domains with connected sockets.",
        kind: "gauge",
        samples: vec![(String::new(), state.relay.room_count() as u64)],
    });
    families.push(Family {
        name: "meld_gateway_backups_open".into(),
        help: "Backup clones open.",
        kind: "gauge",
        samples: vec![(String::new(), state.backups.open_count() as u64)],
    });
    families.push(Family {
        name: "meld_gateway_domains_quarantined".into(),
        help: "Domains refused because their stored data failed an integrity check (found when first opened).",
        kind: "gauge",
        samples: vec![(String::new(), state.backups.quarantined_count() as u64)],
    });
    families.extend(crate::metrics::own_families());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render(&families)))
}

/// `GET /readyz`: storage answers and the gateway is not stopping; 503
/// otherwise.
pub async fn readyz(State(state): State<ApiState>) -> Result<&'static str, ApiError> {
    if *state.stopping.borrow() {
        return Err(ApiError::Unavailable("shutting down"));
    }
    let accounts = state.accounts.clone();
    let root = state.authority.root_name().to_owned();
    let storage = tokio::task::spawn_blocking(move || accounts.get(&root)).await;
    match storage {
        Ok(Ok(Some(_))) => Ok("ready"),
        other => {
            tracing::error!(?other, "readiness: storage check failed");
            Err(ApiError::Unavailable("storage unavailable"))
        }
    }
}

/// Counts each request by route template and status.
pub async fn count_requests(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let response = next.run(req).await;
    crate::metrics::http_request(&route, &method, response.status().as_u16());
    response
}

/// A request body declared larger than its route accepts is read and thrown
/// away (up to [`DRAIN_CAP`] bytes, for at most [`DRAIN_TIME`]) before the 413
/// goes out: answering while the client is still sending makes the
/// connection reset under it, and it would see a network error instead of
/// the refusal.
pub async fn refuse_oversized(
    State(state): State<ApiState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = req.uri().path();
    let limit = if path.ends_with("/state") {
        state.limits.clone_write_bytes
    } else if path.starts_with("/api/v1/domain/") && path.ends_with("/backup") && path.split('/').count() == 7 {
        // A restore has its own, configured limit, enforced as it streams
        return next.run(req).await;
    } else {
        super::ADMIN_BODY_LIMIT
    };
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => {
            tracing::debug!(declared = len, limit, path = req.uri().path(), "request body too large");
            drain(req.into_body(), declared).await;
            ApiError::PayloadTooLarge.into_response()
        }
        _ => next.run(req).await,
    }
}

/// Reads and throws away a body about to be refused, if it is declared no
/// larger than [`DRAIN_CAP`] (for at most [`DRAIN_TIME`]): see
/// [`refuse_oversized`].
pub(super) async fn drain(body: axum::body::Body, declared: Option<u64>) {
    if declared.is_some_and(|len| len <= DRAIN_CAP) {
        drain_rest(&mut body.into_data_stream()).await;
    }
}

/// Reads and throws away the rest of a body being refused midway, up to
/// [`DRAIN_CAP`] bytes and for at most [`DRAIN_TIME`].
pub(super) async fn drain_rest(body: &mut axum::body::BodyDataStream) {
    use futures_util::StreamExt;
    let drain = async {
        let mut read = 0u64;
        while let Some(Ok(chunk)) = body.next().await {
            read += chunk.len() as u64;
            if read > DRAIN_CAP {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
}

/// Largest oversized body still drained before refusing it.
const DRAIN_CAP: u64 = 16 * 1024 * 1024;
/// Longest time spent draining one.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);
