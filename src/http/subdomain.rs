//! Named subdomains: `PUT` creates one (idempotently) with the gateway's
//! backup clone as its genesis clone and answers once that clone is present;
//! `DELETE` removes it, its data, and leaves the name unusable.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::ApiState;
use super::admin::{account_name, authenticate, authenticate_caller, clone_config, json_body};
use crate::accounts::{Registered, RemotesAuth, SubdomainId, SubdomainRecord, naming};
use crate::auth::{AuthError, Principal};
use crate::backup::BackupError;
use crate::error::ApiError;

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::NotFound => ApiError::NotFound,
            BackupError::Store(e) => ApiError::Store(e),
            other => {
                tracing::error!(error = %other, "backup clone failure");
                ApiError::Unavailable("backup clone unavailable, try again later")
            }
        }
    }
}

/// The optional PUT body.
struct PutBody {
    use_signatures: Option<bool>,
    user: Option<Value>,
}

fn put_body(body: &Bytes) -> Result<PutBody, ApiError> {
    let Some(body) = json_body(body)? else { return Ok(PutBody { use_signatures: None, user: None }) };
    let obj = body.as_object().ok_or_else(|| ApiError::BadRequest("expected a JSON object".into()))?;
    if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "useSignatures" | "user")) {
        return Err(ApiError::BadRequest(format!("unknown property {k}")));
    }
    let use_signatures = match obj.get("useSignatures") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::BadRequest("useSignatures must be a boolean".into())),
    };
    let user = match obj.get("user") {
        None | Some(Value::Null) => None,
        Some(user @ Value::Object(_)) => Some(user.clone()),
        Some(_) => return Err(ApiError::BadRequest("user must be an object".into())),
    };
    Ok(PutBody { use_signatures, user })
}

pub(super) fn subdomain_id(account: String, name: String) -> Result<SubdomainId, ApiError> {
    account_name(&account)?;
    if !naming::is_component(&name) {
        return Err(ApiError::BadRequest("subdomain names are lowercase letters, digits, - or _".into()));
    }
    Ok(SubdomainId { account, name })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// `PUT /api/v1/domain/:account/:name`.
#[tracing::instrument(skip_all, fields(account = %account, name = %name))]
pub async fn put_subdomain(
    State(state): State<ApiState>,
    Path((account, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let sd = subdomain_id(account, name)?;
    let caller = authenticate_caller(&state, &headers)?;
    let who = caller.who.clone();
    state.authority.authorise_account(&who, &sd.account)?;
    let body = put_body(&body?)?;
    let user_iri = body.user.as_ref().and_then(|u| u.get("@id")).and_then(Value::as_str).map(str::to_owned);
    let acc = state.accounts.get(&sd.account)?.ok_or(ApiError::NotFound)?;
    let clone_id = format!("gw-{}", naming::new_uuid_name().map_err(|e| AuthError::Random(e.to_string()))?);
    let record = SubdomainRecord {
        use_signatures: body.use_signatures.unwrap_or(false),
        user: body.user,
        created: now_ms(),
        clone_id,
    };
    match state.accounts.register_subdomain(&sd.account, &sd.name, record)? {
        Registered::Created(_) => {
            tracing::info!(target: "audit", account = %sd.account, name = %sd.name, by = who.describe(), "subdomain created");
        }
        Registered::Existing(existing) => {
            if body.use_signatures.is_some_and(|u| u != existing.use_signatures) {
                return Err(ApiError::Conflict("useSignatures cannot change on an existing subdomain"));
            }
        }
        Registered::Tombstoned => {
            return Err(ApiError::Conflict("this subdomain was removed and cannot be re-created"));
        }
        Registered::NoAccount => return Err(ApiError::NotFound),
    }
    state.backups.ensure(&sd).await?;
    let user = match &who {
        Principal::Account(name) | Principal::Delegate { account: name, .. } => name.as_str(),
        _ => state.authority.root_name(),
    };
    // A token for clones, minted with the caller's key (a caller holding
    // only a token cannot mint another)
    let token = match &caller.key {
        Some(key) if acc.remotes_auth.contains(&RemotesAuth::Jwt) => {
            Some(state.authority.mint_token(key, &sd.account, user_iri.as_deref())?)
        }
        _ => None,
    };
    Ok(Json(clone_config(&state, &acc, &sd, Some(false), Some(user), token)))
}

/// `DELETE /api/v1/domain/:account/:name`.
#[tracing::instrument(skip_all, fields(account = %account, name = %name))]
pub async fn delete_subdomain(
    State(state): State<ApiState>,
    Path((account, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let sd = subdomain_id(account, name)?;
    let who = authenticate(&state, &headers)?;
    state.authority.authorise_owner(&who, &sd.account)?;
    state.accounts.remove_subdomain(&sd.account, &sd.name, now_ms())?.ok_or(ApiError::NotFound)?;
    state.backups.remove(&sd).await?;
    // Clones still connected to the removed domain are sent away
    state.relay.close_domain(&sd.to_domain(&state.gateway.domain));
    tracing::info!(target: "audit", account = %sd.account, name = %sd.name, by = who.describe(), "subdomain removed");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn put_bodies() {
        assert!(put_body(&Bytes::new()).unwrap().use_signatures.is_none());
        let b = put_body(&Bytes::from_static(br#"{"useSignatures":true,"user":{"@id":"alice"}}"#)).unwrap();
        assert_eq!(b.use_signatures, Some(true));
        assert_eq!(b.user, Some(json!({"@id": "alice"})));
        for bad in [&br#"[]"#[..], br#"{"useSignatures":"yes"}"#, br#"{"colour":1}"#, br#"{"user":"alice"}"#, b"{"] {
            assert!(put_body(&Bytes::from_static(bad)).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
