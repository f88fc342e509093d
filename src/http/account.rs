//! Accounts and their keys: `/api/v1/user/:account…`, with the Node
//! gateway's paths and shapes where it has them (key minting, activation,
//! details patch, user public keys) and our own for what it lacks (key list,
//! revocation, rotation, account details and removal).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::admin::{account_name, authenticate, json_body};
use crate::accounts::{AccountPatch, ActivationError, MintOptions, Minted, SubdomainId};
use crate::auth::{AuthError, Credentials, Principal};
use crate::error::ApiError;

/// The caller, if it may manage `account` (its key holder or root).
fn owner(state: &ApiState, account: &str, headers: &HeaderMap) -> Result<Principal, ApiError> {
    account_name(account)?;
    let who = authenticate(state, headers)?;
    state.authority.authorise_owner(&who, account)?;
    Ok(who)
}

#[derive(Deserialize)]
pub struct KeyQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl KeyQuery {
    fn wants_rsa(&self) -> Result<bool, ApiError> {
        match self.kind.as_deref() {
            None | Some("") => Ok(false),
            Some("rsa") => Ok(true),
            Some(_) => Err(ApiError::BadRequest("type must be rsa".into())),
        }
    }
}

/// Mints off the async workers: RSA generation takes a while.
async fn mint(state: &ApiState, account: &str, opts: MintOptions) -> Result<Option<Minted>, ApiError> {
    let accounts = state.accounts.clone();
    let (app, account) = (state.authority.root_name().to_owned(), account.to_owned());
    tokio::task::spawn_blocking(move || accounts.mint_key(&app, &account, &opts))
        .await
        .map_err(|_| ApiError::Unavailable("key minting interrupted, try again"))?
        .map_err(ApiError::from)
}

fn minted_json(minted: &Minted) -> Value {
    let mut out = json!({ "auth": { "key": minted.key.reveal() } });
    if let Some(rsa) = &minted.rsa {
        out["key"] = json!(rsa);
    }
    out
}

/// `POST /api/v1/user/:account/key[?type=rsa]`: a new key (one per device).
/// With `X-Activation-Code` and the activation token as Bearer, it
/// activates (creating the account if new); otherwise the account itself or
/// root asks (root may create the account).
#[tracing::instrument(skip_all, fields(account = %account))]
pub async fn post_key(
    State(state): State<ApiState>,
    Path(account): Path<String>,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    account_name(&account)?;
    let rsa = query.wants_rsa()?;
    if account == state.authority.root_name() {
        return Err(AuthError::Forbidden("the root key is set by configuration").into());
    }
    if let Some(code) = headers.get("x-activation-code") {
        let code = code.to_str().map_err(|_| ApiError::BadRequest("malformed activation code".into()))?;
        return activate(&state, &account, code, &headers, rsa).await;
    }
    let who = authenticate(&state, &headers)?;
    state.authority.authorise_owner(&who, &account)?;
    let opts = MintOptions { create: who == Principal::Root, rsa, now_ms: crate::now_ms(), ..Default::default() };
    let minted = mint(&state, &account, opts).await?.ok_or(ApiError::NotFound)?;
    tracing::info!(target: "audit", account = %account, keyid = %minted.key.keyid, by = who.describe(), rsa, "key minted");
    Ok(Json(minted_json(&minted)))
}

async fn activate(
    state: &ApiState,
    account: &str,
    code: &str,
    headers: &HeaderMap,
    rsa: bool,
) -> Result<Json<Value>, ApiError> {
    let token = match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(Credentials::from_header) {
        Some(Ok(Credentials::Bearer(token))) => token,
        _ => return Err(AuthError::BadToken("the activation token is required as a Bearer credential").into()),
    };
    let activation = match state.activations.redeem(&token, code, account, crate::now_ms()) {
        Ok(a) => a,
        Err(ActivationError::Store(e)) => return Err(e.into()),
        Err(ActivationError::Auth(e)) => return Err(e.into()),
        Err(refused) => {
            tracing::warn!(target: "audit", account = %account, reason = %refused, "activation refused");
            return Err(AuthError::BadToken(match refused {
                ActivationError::WrongCode => "activation code incorrect",
                ActivationError::WrongAccount => "activation is for another account",
                ActivationError::Expired => "activation expired",
                _ => "activation unknown, used or expired",
            })
            .into());
        }
    };
    let opts =
        MintOptions { create: true, rsa, email: Some(activation.email), now_ms: crate::now_ms(), ..Default::default() };
    let minted = mint(state, account, opts).await?.ok_or(ApiError::NotFound)?;
    tracing::info!(target: "audit", account = %account, keyid = %minted.key.keyid, rsa, "key minted by email activation");
    Ok(Json(minted_json(&minted)))
}

/// `GET /api/v1/user/:account/key`: the account's keys, without secrets.
#[tracing::instrument(skip_all, fields(account = %account))]
pub async fn list_keys(
    State(state): State<ApiState>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    owner(&state, &account, &headers)?;
    let keys = state.accounts.keys_of(&account)?.ok_or(ApiError::NotFound)?;
    let now = crate::now_ms();
    let listed: Vec<Value> = keys
        .into_iter()
        .map(|(keyid, rec)| {
            let mut k = json!({ "keyid": keyid, "created": rec.created, "rsa": rec.rsa_public.is_some() });
            if let Some(expires) = rec.expires {
                k["expires"] = json!(expires);
            }
            let status = if rec.revoked {
                "revoked"
            } else if rec.expires.is_some_and(|e| now >= e) {
                "expired"
            } else {
                "active"
            };
            k["status"] = json!(status);
            k
        })
        .collect();
    Ok(Json(Value::Array(listed)))
}

/// `DELETE /api/v1/user/:account/key/:keyid`: revokes the key at once.
#[tracing::instrument(skip_all, fields(account = %account, keyid = %keyid))]
pub async fn revoke_key(
    State(state): State<ApiState>,
    Path((account, keyid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let who = owner(&state, &account, &headers)?;
    if !state.accounts.revoke_key(&account, &keyid)? {
        return Err(ApiError::NotFound);
    }
    tracing::info!(target: "audit", account = %account, keyid = %keyid, by = who.describe(), "key revoked");
    state.relay.recheck_admissions();
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/user/:account/key/:keyid/rotate[?type=rsa]`: a new key;
/// the old one keeps working for the configured grace period.
#[tracing::instrument(skip_all, fields(account = %account, keyid = %keyid))]
pub async fn rotate_key(
    State(state): State<ApiState>,
    Path((account, keyid)): Path<(String, String)>,
    Query(query): Query<KeyQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    account_name(&account)?;
    let rsa = query.wants_rsa()?;
    let who = authenticate(&state, &headers)?;
    state.authority.authorise_owner(&who, &account)?;
    let now = crate::now_ms();
    let until = now.saturating_add(state.rotation_grace.as_millis() as u64);
    let opts = MintOptions { rsa, rotate: Some((keyid.clone(), until)), now_ms: now, ..Default::default() };
    let minted = match mint(&state, &account, opts).await {
        Err(ApiError::Auth(AuthError::Forbidden(_))) => return Err(ApiError::NotFound),
        other => other?.ok_or(ApiError::NotFound)?,
    };
    tracing::info!(
        target: "audit", account = %account, old = %keyid, keyid = %minted.key.keyid, expires = until,
        by = who.describe(), "key rotated"
    );
    let mut out = minted_json(&minted);
    out["rotated"] = json!({ "keyid": keyid, "expires": until });
    Ok(Json(out))
}

/// `GET /api/v1/user/:account/publicKey/:keyid`: a key's RSA public key, PEM.
#[tracing::instrument(skip_all, fields(account = %account, keyid = %keyid))]
pub async fn user_public_key(
    State(state): State<ApiState>,
    Path((account, keyid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    account_name(&account)?;
    let who = authenticate(&state, &headers)?;
    state.authority.authorise_account(&who, &account)?;
    let public = state
        .accounts
        .key(&keyid)?
        .filter(|rec| rec.account == account)
        .and_then(|rec| rec.rsa_public)
        .ok_or(ApiError::NotFound)?;
    let pem = crate::auth::rsa_pair::public_pem(&public)?;
    Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], pem))
}

/// `GET /api/v1/publicKey`: the gateway's root public key, PEM.
pub async fn root_public_key(State(state): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    match state.root_public.pem().await {
        Ok(pem) => Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], pem.to_string())),
        Err(_) => Err(ApiError::Unavailable("root public key not ready, try again")),
    }
}

/// `GET /api/v1/user/:account`: the account's details.
#[tracing::instrument(skip_all, fields(account = %account))]
pub async fn get_account(
    State(state): State<ApiState>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    owner(&state, &account, &headers)?;
    let acc = state.accounts.get(&account)?.ok_or(ApiError::NotFound)?;
    Ok(Json(json!({
        "@id": acc.name,
        "email": acc.emails,
        "naming": acc.naming,
        "remotesAuth": acc.remotes_auth,
        "subdomain": acc.subdomains,
        "key": acc.keyids,
    })))
}

/// `PATCH /api/v1/user/:account`: `@insert`/`@delete` of `email`, `naming`
/// and `remotesAuth`.
#[tracing::instrument(skip_all, fields(account = %account))]
pub async fn patch_account(
    State(state): State<ApiState>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    account_name(&account)?;
    let body = body?;
    let who = authenticate(&state, &headers)?;
    state.authority.authorise_owner(&who, &account)?;
    let body = json_body(&body)?.ok_or_else(|| ApiError::BadRequest("a patch body is required".into()))?;
    let patch = AccountPatch::from_json(&account, &body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    state.accounts.patch(&account, &patch)?.ok_or(ApiError::NotFound)?;
    tracing::info!(target: "audit", account = %account, by = who.describe(), "account details changed");
    state.relay.recheck_admissions();
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/user/:account`: the account, its keys and its named
/// subdomains (with their backups) go; the subdomain names stay unusable.
#[tracing::instrument(skip_all, fields(account = %account))]
pub async fn delete_account(
    State(state): State<ApiState>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let who = owner(&state, &account, &headers)?;
    if account == state.authority.root_name() {
        return Err(AuthError::Forbidden("the root account cannot be deleted").into());
    }
    let removed = state.accounts.delete_account(&account, crate::now_ms())?.ok_or(ApiError::NotFound)?;
    for name in removed {
        let sd = SubdomainId { account: account.clone(), name };
        if let Err(e) = state.backups.remove(&sd).await {
            tracing::error!(subdomain = %sd.name, error = %e, "backup data of a deleted account not removed");
        }
        state.relay.close_domain(&sd.to_domain(&state.gateway.domain));
    }
    tracing::info!(target: "audit", account = %account, by = who.describe(), "account deleted");
    state.relay.recheck_admissions();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationBody {
    email: String,
}

/// `POST /api/v1/user/:account/activation {"email"}`: emails a six-digit
/// code and answers `{"jwe"}`, the token to redeem it with. An existing
/// account can only be activated with an email registered to it.
#[tracing::instrument(skip_all, fields(account = %account))]
pub async fn post_activation(
    State(state): State<ApiState>,
    Path(account): Path<String>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    account_name(&account)?;
    let body = json_body(&body?)?.ok_or_else(|| ApiError::BadRequest("a body {\"email\"} is required".into()))?;
    let ActivationBody { email } =
        serde_json::from_value(body).map_err(|_| ApiError::BadRequest("expected {\"email\": <address>}".into()))?;
    let email = email.trim().to_owned();
    if !crate::accounts::looks_like_email(&email) {
        return Err(ApiError::BadRequest("invalid email address".into()));
    }
    if account == state.authority.root_name() {
        return Err(AuthError::Forbidden("the root account cannot be activated by email").into());
    }
    if let Some(acc) = state.accounts.get(&account)?
        && !acc.emails.contains(&email)
    {
        tracing::warn!(target: "audit", account = %account, "activation refused: email not registered to the account");
        return Err(AuthError::Forbidden("email not registered to this account").into());
    }
    // Mail bombing: a few codes per client and per address
    let ip = state.authority.client_ip(peer.map(|p| p.0.0), &headers);
    state.limits.activation(ip, &email)?;
    let (token, code) = state.activations.start(&account, &email, crate::now_ms()).map_err(|e| match e {
        ActivationError::Store(e) => ApiError::Store(e),
        ActivationError::Auth(e) => ApiError::Auth(e),
        other => ApiError::BadRequest(other.to_string()),
    })?;
    if let Err(e) = state.mailer.send_activation_code(&email, &account, &code).await {
        tracing::error!(error = %e.detail(), "activation email not sent");
        state.activations.cancel(&token)?;
        return Err(if e.is_bad_address() {
            ApiError::BadRequest("invalid email address".into())
        } else {
            ApiError::Unavailable("the activation email could not be sent, try again later")
        });
    }
    tracing::info!(target: "audit", account = %account, "activation code sent");
    Ok(Json(json!({ "jwe": token })))
}
