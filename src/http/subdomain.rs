//! Named subdomains: `PUT` creates one (idempotently) with the gateway's
//! backup clone as its genesis clone and answers once that clone is present;
//! `DELETE` removes it, its data, and leaves the name unusable.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value};

use super::ApiState;
use super::admin::{account_name, authenticate, authenticate_caller, clone_config, json_body};
use crate::accounts::{Registered, RemotesAuth, SignerKey, SubdomainId, SubdomainPut, SubdomainRecord, naming};
use crate::auth::signature::{self, PublicKey};
use crate::auth::{AuthError, Caller, Principal};
use crate::backup::BackupError;
use crate::error::ApiError;

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::NotFound => ApiError::NotFound,
            BackupError::Store(e) => ApiError::Store(e),
            BackupError::Quarantined(reason) => {
                tracing::warn!(reason = %reason, "request for a quarantined domain refused");
                ApiError::Unavailable(crate::backup::QUARANTINED)
            }
            other => {
                tracing::error!(error = %other, "backup clone failure");
                ApiError::Unavailable("backup clone unavailable, try again later")
            }
        }
    }
}

/// The optional PUT body: `{"useSignatures": bool, "user": {"@id": IRI,
/// "key": {"keyid", "public"}}}`, the Node gateway's shape.
#[derive(Debug, Default)]
struct PutBody {
    use_signatures: Option<bool>,
    user: Option<PutUser>,
}

/// The `user` of a PUT body: who will sign, and with which key.
#[derive(Debug)]
struct PutUser {
    /// The user's absolute IRI (a minted token's subject).
    id: String,
    /// The user's key (with their `@id`). Absent is allowed, as by the Node
    /// gateway, but then the user cannot be a signer.
    key: Option<SignerKey>,
}

fn bad(message: &str) -> ApiError {
    ApiError::BadRequest(message.to_owned())
}

fn put_body(body: &Bytes) -> Result<PutBody, ApiError> {
    let Some(body) = json_body(body)? else { return Ok(PutBody::default()) };
    let obj = body.as_object().ok_or_else(|| bad("expected a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !matches!(k.as_str(), "useSignatures" | "user")) {
        return Err(ApiError::BadRequest(format!("unknown property {k}")));
    }
    let use_signatures = match obj.get("useSignatures") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad("useSignatures must be a boolean")),
    };
    let user = match obj.get("user") {
        None | Some(Value::Null) => None,
        Some(Value::Object(user)) => Some(put_user(user)?),
        Some(_) => return Err(bad("user must be an object")),
    };
    Ok(PutBody { use_signatures, user })
}

fn put_user(user: &Map<String, Value>) -> Result<PutUser, ApiError> {
    if let Some(k) = user.keys().find(|k| !matches!(k.as_str(), "@id" | "key")) {
        return Err(ApiError::BadRequest(format!("unknown property user.{k}")));
    }
    let id = match user.get("@id") {
        Some(Value::String(id)) if is_absolute_iri(id) => id.clone(),
        _ => return Err(bad("user @id must be an absolute URI")),
    };
    let key = match user.get("key") {
        None | Some(Value::Null) => None,
        Some(Value::Object(key)) => Some(user_key(&id, key)?),
        Some(_) => return Err(bad("user key must be an object")),
    };
    Ok(PutUser { id, key })
}

fn user_key(user: &str, key: &Map<String, Value>) -> Result<SignerKey, ApiError> {
    for k in key.keys() {
        match k.as_str() {
            "keyid" | "public" | "type" => {}
            // The Node gateway tolerates it; a private key must never leave
            // its holder, so a request carrying one is refused, not stored
            "private" => return Err(bad("never send the private key; user key takes keyid and public")),
            other => return Err(ApiError::BadRequest(format!("unknown property user.key.{other}"))),
        }
    }
    match key.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "rsa" => {}
        Some(_) => return Err(bad("user key type must be rsa")),
    }
    let keyid = match key.get("keyid") {
        Some(Value::String(k)) if signature::valid_keyid(k) => k.clone(),
        _ => return Err(ApiError::BadRequest(signature::SignatureError::BadKeyid.to_string())),
    };
    let public = key.get("public").and_then(Value::as_str).ok_or_else(|| bad("user key public must be a string"))?;
    PublicKey::from_base64_spki(public).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(SignerKey { user: user.to_owned(), keyid, public: public.to_owned() })
}

/// An absolute URI (RFC 3986 `scheme ":" hier-part`), without the
/// characters a URI never holds; bounded in length.
fn is_absolute_iri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else { return false };
    let scheme_ok = scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    scheme_ok
        && !rest.is_empty()
        && s.len() <= 2048
        && !s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
        })
}

/// Who signs for this PUT, if the subdomain uses signatures: the body's
/// user, or else the account itself with the RSA key minted for the key it
/// authenticated with (`POST …/key?type=rsa`). `None` if neither has a key.
fn signer(state: &ApiState, caller: &Caller, body: &PutBody) -> Result<Option<SignerKey>, ApiError> {
    if let Some(user) = &body.user {
        return Ok(user.key.clone());
    }
    let Principal::Account(account) = &caller.who else { return Ok(None) };
    let Some(keyid) = caller.key.as_ref().map(|k| k.keyid.clone()) else { return Ok(None) };
    let Some(public) = state.accounts.key(&keyid)?.and_then(|k| k.rsa_public) else { return Ok(None) };
    if PublicKey::from_base64_spki(&public).is_err() {
        tracing::warn!(%keyid, "stored RSA public key unreadable; not used for signatures");
        return Ok(None);
    }
    let user = format!("http://{}/{account}", state.gateway.domain);
    Ok(Some(SignerKey { user, keyid, public }))
}

pub(super) fn subdomain_id(account: String, name: String) -> Result<SubdomainId, ApiError> {
    account_name(&account)?;
    if !naming::is_component(&name) {
        return Err(ApiError::BadRequest("subdomain names are lowercase letters, digits, - or _".into()));
    }
    Ok(SubdomainId { account, name })
}

/// A request for `:account/:name` that only the account itself (or root)
/// may make: the subdomain and who asked. Tokens are refused.
pub(super) fn owned(
    state: &ApiState,
    headers: &HeaderMap,
    account: String,
    name: String,
) -> Result<(SubdomainId, Principal), ApiError> {
    let sd = subdomain_id(account, name)?;
    let who = authenticate(state, headers)?;
    state.authority.authorise_owner(&who, &sd.account)?;
    Ok((sd, who))
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
    let user_iri = body.user.as_ref().map(|u| u.id.clone());
    if let Principal::Delegate { user, .. } = &who {
        // A token bearer may fetch an existing subdomain's config, and may
        // register a signing key only for the user its token names
        if state.accounts.subdomain(&sd.account, &sd.name)?.is_none() {
            return Err(AuthError::Forbidden("a token cannot create subdomains").into());
        }
        if body.user.as_ref().is_some_and(|u| u.key.is_some() && Some(&u.id) != user.as_ref()) {
            return Err(AuthError::Forbidden("a token may register a key only for its own user").into());
        }
    }
    let acc = state.accounts.get(&sd.account)?.ok_or(ApiError::NotFound)?;
    let clone_id = format!("gw-{}", naming::new_uuid_name().map_err(|e| AuthError::Random(e.to_string()))?);
    let put = SubdomainPut {
        new: SubdomainRecord { use_signatures: false, signers: Vec::new(), created: crate::now_ms(), clone_id },
        use_signatures: body.use_signatures,
        signer: signer(&state, &caller, &body)?,
        max_subdomains: state.limits.subdomains_per_account,
    };
    let record = match state.accounts.put_subdomain(&sd.account, &sd.name, &put)? {
        Registered::Created(record) => {
            tracing::info!(target: "audit", account = %sd.account, name = %sd.name, by = who.describe(), use_signatures = record.use_signatures, "subdomain created");
            record
        }
        Registered::Existing(record) => record,
        Registered::SignaturesDiffer => {
            return Err(ApiError::Conflict("useSignatures cannot change on an existing subdomain"));
        }
        Registered::SignerRequired => {
            return Err(bad(
                "a user key is required for signatures: give user.key, or mint an RSA key (?type=rsa) for the key you authenticate with",
            ));
        }
        Registered::KeyidTaken => {
            return Err(ApiError::Conflict("this keyid is bound to another user or key on this subdomain"));
        }
        Registered::Tombstoned => {
            return Err(ApiError::Conflict("this subdomain was removed and cannot be re-created"));
        }
        Registered::NoAccount => return Err(ApiError::NotFound),
        Registered::LimitReached => {
            let max = state.limits.subdomains_per_account;
            tracing::warn!(account = %sd.account, name = %sd.name, max, "subdomain refused: the account has the most allowed");
            return Err(ApiError::LimitReached(format!(
                "this account has {max} named subdomains, the most allowed; remove one first"
            )));
        }
    };
    if let Some(signer) = put.signer.as_ref().filter(|_| record.use_signatures) {
        tracing::info!(target: "audit", account = %sd.account, name = %sd.name, user = %signer.user, keyid = %signer.keyid, by = who.describe(), "subdomain signer");
        // An open backup clone verifies with the new key from now on
        state.backups.reload_signers(&sd)?;
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
    let (sd, who) = owned(&state, &headers, account, name)?;
    state.accounts.remove_subdomain(&sd.account, &sd.name, crate::now_ms())?.ok_or(ApiError::NotFound)?;
    state.backups.remove(&sd).await?;
    // Clones still connected to the removed domain are sent away
    state.relay.close_domain(&sd.to_domain(&state.gateway.domain));
    tracing::info!(target: "audit", account = %sd.account, name = %sd.name, by = who.describe(), "subdomain removed");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2X86ed9LrXp3oTzv74l7HSFOtXlt7Z46GFX1roMVYZUZn0yNWbOFyxLT3SsgzG91FcjDP0Za4AbBjnmELOx3a893EouX3XyFQxinoT4o8xIHdgQyAbVNx3TohFWtX8Vb9FX2JLzWmmHW5yNWvkNs1Eij22tkcfmj2ej7DKn34HVMKq4KF7On5wolAujZVaBZqu7+dSxYQKsFrehyweZzSEiqSX";

    fn public() -> String {
        let fixture: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/signatures/node-signature.json")).unwrap();
        fixture["public"].as_str().unwrap().to_owned()
    }

    fn body(json: &str) -> Result<PutBody, ApiError> {
        put_body(&Bytes::from(json.to_owned()))
    }

    #[test]
    fn put_bodies() {
        assert!(put_body(&Bytes::new()).unwrap().use_signatures.is_none());
        let b = body(r#"{"useSignatures":true,"user":{"@id":"http://ex.org/alice"}}"#).unwrap();
        assert_eq!(b.use_signatures, Some(true));
        assert!(b.user.unwrap().key.is_none());
        let public = public();
        let b = body(&format!(
            r#"{{"useSignatures":true,"user":{{"@id":"http://ex.org/alice","key":{{"type":"rsa","keyid":"alice1","public":"{public}"}}}}}}"#
        ))
        .unwrap();
        let key = b.user.unwrap().key.unwrap();
        assert_eq!((key.user.as_str(), key.keyid.as_str()), ("http://ex.org/alice", "alice1"));
        assert_eq!(key.public, public);
    }

    #[test]
    fn bad_put_bodies() {
        let public = public();
        let user = |id: &str, key: &str| format!(r#"{{"useSignatures":true,"user":{{"@id":{id},"key":{key}}}}}"#);
        let key = |keyid: &str, public: &str| format!(r#"{{"keyid":{keyid},"public":{public}}}"#);
        let good_key = key(r#""alice1""#, &format!("{public:?}"));
        let cases = [
            "[]".to_owned(),
            "{".to_owned(),
            r#"{"useSignatures":"yes"}"#.to_owned(),
            r#"{"colour":1}"#.to_owned(),
            r#"{"user":"alice"}"#.to_owned(),
            r#"{"user":{"@id":"http://ex.org/a","name":"A"}}"#.to_owned(),
            user(r#""alice""#, &good_key),
            user(r#""http://ex.org/a b""#, &good_key),
            user(r#"":nothing""#, &good_key),
            user("7", &good_key),
            user(r#""http://ex.org/alice""#, r#""alice1""#),
            user(r#""http://ex.org/alice""#, &key(r#""ab""#, &format!("{public:?}"))),
            user(r#""http://ex.org/alice""#, &key(r#""alice-1""#, &format!("{public:?}"))),
            user(r#""http://ex.org/alice""#, &key("12345", &format!("{public:?}"))),
            user(r#""http://ex.org/alice""#, &key(r#""alice1""#, r#""not base64!""#)),
            user(r#""http://ex.org/alice""#, &key(r#""alice1""#, r#""aGVsbG8=""#)),
            user(r#""http://ex.org/alice""#, &key(r#""alice1""#, &format!("{PUBLIC:?}"))),
            user(r#""http://ex.org/alice""#, &key(r#""alice1""#, "42")),
            user(r#""http://ex.org/alice""#, r#"{"keyid":"alice1"}"#),
            user(r#""http://ex.org/alice""#, &format!(r#"{{"keyid":"alice1","public":{public:?},"private":"x"}}"#)),
            user(r#""http://ex.org/alice""#, &format!(r#"{{"keyid":"alice1","public":{public:?},"type":"ec"}}"#)),
        ];
        for bad in cases {
            assert!(body(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn absolute_iris() {
        for ok in ["http://ex.org/alice", "urn:uuid:1234", "mailto:a@b.org", "did:key:z6Mk"] {
            assert!(is_absolute_iri(ok), "{ok}");
        }
        for bad in ["alice", "/alice", ":x", "http:", "1http://x", "http://ex.org/<a>", "http://ex.org/a\nb", ""] {
            assert!(!is_absolute_iri(bad), "{bad}");
        }
    }
}
