//! Administration API through the real router (no sockets): statuses, JSON
//! shapes, and that refused requests change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use meld_gateway::accounts::AccountStore;
use meld_gateway::auth::AuthKey;
use meld_gateway::config::{Config, Settings};
use meld_gateway::store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

mod common;
use common::basic;

struct Harness {
    app: axum::Router,
    root: String,
    accounts: AccountStore,
    store: Store,
    /// The data directory (outbox, root key pair), removed on drop.
    dir: tempfile::TempDir,
}

fn harness() -> Harness {
    harness_with(Settings::default())
}

fn harness_with(settings: Settings) -> Harness {
    let gw = common::gateway(settings);
    Harness {
        app: gw.app,
        root: gw.root,
        accounts: AccountStore::new(&gw.store).unwrap(),
        store: gw.store,
        dir: gw.dir,
    }
}

impl Harness {
    async fn call(&self, method: &str, path: &str, auth: Option<String>, body: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_owned())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let json = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        (status, json)
    }

    /// A request answered with its status, headers and text body.
    async fn call_text(
        &self,
        method: &str,
        path: &str,
        auth: &str,
        body: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let req = Request::builder().method(method).uri(path).header(header::AUTHORIZATION, auth);
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_owned())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn create_account(&self, name: &str) -> String {
        let (status, body) =
            self.call("POST", &format!("/api/v1/user/{name}/key"), Some(basic("rootacc", &self.root)), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["auth"]["key"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn root_creates_accounts_and_accounts_mint_their_own_keys() {
    let h = harness();
    let key = h.create_account("acc").await;
    assert!(key.starts_with("rootacc."), "{key}");
    // The account gets a second, different key with its own
    let (status, body) = h.call("POST", "/api/v1/user/acc/key", Some(basic("acc", &key)), None).await;
    assert_eq!(status, StatusCode::OK);
    let second = body["auth"]["key"].as_str().unwrap();
    assert_ne!(second, key);
    assert_eq!(h.accounts.get("acc").unwrap().unwrap().keyids.len(), 2);
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_401_and_change_nothing() {
    let h = harness();
    let key = h.create_account("acc").await;
    let (appkeyid, _) = key.split_once(':').unwrap();
    let wrong = format!("{appkeyid}:{}", "x".repeat(74));
    let before = h.accounts.get("acc").unwrap();
    for auth in [None, Some(basic("acc", &wrong)), Some("Bearer abc".into()), Some("Basic !!".into())] {
        let (status, body) = h.call("POST", "/api/v1/user/acc/key", auth.clone(), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(body["code"], "Unauthorized");
        let (status, _) =
            h.call("PATCH", "/api/v1/user/acc", auth.clone(), Some(r#"{"@insert":{"naming":"uuid"}}"#)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // A wrong root secret creates no account
    let (status, _) = h.call("POST", "/api/v1/user/newacc/key", Some(basic("rootacc", &wrong)), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(h.accounts.get("newacc").unwrap().is_none());
    assert_eq!(h.accounts.get("acc").unwrap(), before);
}

#[tokio::test]
async fn one_account_cannot_touch_another() {
    let h = harness();
    let a = h.create_account("acca").await;
    h.create_account("accb").await;
    let (status, _) =
        h.call("PATCH", "/api/v1/user/accb", Some(basic("acca", &a)), Some(r#"{"@insert":{"naming":"uuid"}}"#)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h.call("POST", "/api/v1/user/accb/key", Some(basic("acca", &a)), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Nor can it claim to be the other account
    let (status, _) = h.call("POST", "/api/v1/user/accb/key", Some(basic("accb", &a)), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.accounts.get("accb").unwrap().unwrap().keyids.len(), 1);
    assert!(!h.accounts.get("accb").unwrap().unwrap().allows_uuid());
}

#[tokio::test]
async fn uuid_subdomain_configs() {
    let h = harness();
    let key = h.create_account("acc").await;
    let (status, body) = h.call("POST", "/api/v1/domain/acc", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    let (status, _) =
        h.call("PATCH", "/api/v1/user/acc", Some(basic("acc", &key)), Some(r#"{"@insert":{"naming":"uuid"}}"#)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, config) = h.call("POST", "/api/v1/domain/acc", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let domain = config["@domain"].as_str().unwrap();
    let name = domain.strip_suffix(".acc.ex.org").unwrap();
    assert!(meld_gateway::accounts::naming::is_uuid_name(name), "{domain}");
    assert_eq!(config["genesis"], true);
    assert_eq!(config["io"]["uri"], "https://ex.org/");
    // Key auth is the default, so the config says where the credentials go
    assert_eq!(config["io"]["opts"]["auth"], json!({"key": "≪your-auth-key≫", "user": "≪your-account-name≫"}));
    // With anonymous remotes only, no credentials at all
    let (status, _) = h
        .call(
            "PATCH",
            "/api/v1/user/acc",
            Some(basic("acc", &key)),
            Some(r#"{"@insert":{"remotesAuth":"anon"},"@delete":{"remotesAuth":"key"}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, config) = h.call("POST", "/api/v1/domain/acc", None, None).await;
    assert!(config["io"].get("opts").is_none(), "{config}");
    assert_ne!(config["@domain"].as_str().unwrap(), domain);
}

#[tokio::test]
async fn malformed_input_is_400_and_changes_nothing() {
    let h = harness();
    let key = h.create_account("acc").await;
    let auth = || Some(basic("acc", &key));
    for body in [
        "{",
        "[]",
        r#"{"@insert":{"naming":"sometimes"}}"#,
        r#"{"@insert":{"colour":"red"}}"#,
        r#"{"@insert":{"@id":"other","naming":"uuid"}}"#,
        "",
    ] {
        let (status, res) = h.call("PATCH", "/api/v1/user/acc", auth(), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?} → {res}");
        assert!(res["message"].is_string());
    }
    assert!(!h.accounts.get("acc").unwrap().unwrap().allows_uuid());
    let (status, _) = h.call("POST", "/api/v1/domain/acc", None, Some(r#"{"name": 7}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h.call("POST", "/api/v1/user/acc/key?type=dsa", auth(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let big = format!(r#"{{"@insert":{{"email":"{}@x.org"}}}}"#, "a".repeat(100_000));
    let (status, _) = h.call("PATCH", "/api/v1/user/acc", auth(), Some(&big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, res) = h.call("POST", "/api/v1/domain/acc", None, Some(&big)).await;
    assert_eq!((status, res["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("PayloadTooLarge")));
    // Bad account names are not found
    let (status, _) = h.call("POST", "/api/v1/user/Bad.Name/key", Some(basic("rootacc", &h.root)), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(h.accounts.get("acc").unwrap().unwrap().keyids.len(), 1);
}

#[tokio::test]
async fn context_names_the_gateway_domain() {
    let h = harness();
    let (status, body) = h.call("GET", "/api/v1/context", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["@base"], "http://ex.org/");
}

/// The emit counts of a poll's NDJSON lines.
fn emit_counts(ndjson: &str) -> Vec<u64> {
    ndjson.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["@emitCount"].as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_api_locks_lapse_and_the_update_queue_is_bounded() {
    let settings: Settings = toml::from_str("[clone_api]\nupdate_queue_limit = 2\nlock_timeout_secs = 1\n").unwrap();
    let h = harness_with(settings);
    let key = h.create_account("acc").await;
    let auth = basic("acc", &key);
    let (status, _) = h.call("PUT", "/api/v1/domain/acc/sd", Some(auth.clone()), None).await;
    assert_eq!(status, StatusCode::OK);
    let state = "/api/v1/domain/acc/sd/state";
    // Three writes under a lock: each queued as an echo, the oldest dropped
    for i in 0..3 {
        let body = format!("{{\"@id\": \"s{i}\", \"n\": {i}}}");
        let (status, headers, _) = h.call_text("POST", &format!("{state}?lock"), &auth, Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(headers[header::LOCATION], "/domain/acc/sd/state?lock");
    }
    let (status, headers, polled) = h.call_text("POST", "/api/v1/domain/acc/sd/poll", &auth, None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers[header::CONTENT_TYPE], "application/x-ndjson");
    assert_eq!(emit_counts(&polled), [2, 2], "bounded to 2, echoes polled: {polled}");
    assert!(polled.contains("\"s2\"") && !polled.contains("\"s0\""), "the oldest dropped: {polled}");
    let (_, _, locked) = h.call_text("GET", &format!("{state}?lock"), &auth, None).await;
    assert_eq!(locked, "true");
    // Nobody releases it: it lapses, and the queue is kept
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let (_, _, locked) = h.call_text("GET", &format!("{state}?lock"), &auth, None).await;
    assert_eq!(locked, "false", "the lock lapsed");
    let (status, _, _) = h.call_text("DELETE", &format!("{state}?lock"), &auth, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing to release");
    let (_, _, polled) = h.call_text("POST", "/api/v1/domain/acc/sd/poll", &auth, None).await;
    assert_eq!(emit_counts(&polled), [3, 3], "kept after the lapse: {polled}");
    let (status, _, _) = h.call_text("DELETE", &format!("{state}?lock"), &auth, None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, polled) = h.call_text("POST", "/api/v1/domain/acc/sd/poll", &auth, None).await;
    assert_eq!(polled, "", "cleared by the release");
    // Deleting the subdomain drops its queue with its data
    let (status, _, _) = h.call_text("DELETE", "/api/v1/domain/acc/sd", &auth, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_api_update_stream_carries_writes() {
    use futures_util::StreamExt;
    let h = harness();
    let key = h.create_account("acc").await;
    let auth = basic("acc", &key);
    let (status, _) = h.call("PUT", "/api/v1/domain/acc/sd", Some(auth.clone()), None).await;
    assert_eq!(status, StatusCode::OK);
    let stream = |auth: &str, path: &str| {
        Request::get(format!("/api/v1/domain/acc/{path}/updates"))
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap()
    };
    let res = h.app.clone().oneshot(stream(&auth, "sd")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = res.into_body().into_data_stream();
    let mut text = String::new();
    let mut read_until = async |text: &mut String, what: &str| {
        while !text.contains(what) {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next()).await;
            let chunk = chunk.unwrap_or_else(|_| panic!("no {what:?} in {text:?}")).unwrap().unwrap();
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    };
    read_until(&mut text, "ready\n\n").await;
    let (status, _, _) =
        h.call_text("POST", "/api/v1/domain/acc/sd/state", &auth, Some(r#"{"@id": "fred", "name": "Fred"}"#)).await;
    assert_eq!(status, StatusCode::OK);
    read_until(&mut text, "}\n\n").await;
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let update: Value = serde_json::from_str(data).unwrap();
    assert_eq!(update["@insert"], json!([{"@id": "fred", "name": "Fred"}]));
    assert_eq!(update["@delete"], json!([]));
    assert!(update["@ticks"].is_u64() && update.get("@emitCount").is_none(), "{update}");
    // Same auth as the Clone API; unknown subdomains are 404
    let other = basic("other", &h.create_account("other").await);
    assert_eq!(h.app.clone().oneshot(stream(&other, "sd")).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(h.app.clone().oneshot(stream("Basic !!", "sd")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h.app.clone().oneshot(stream(&auth, "nosuch")).await.unwrap().status(), StatusCode::NOT_FOUND);
}

impl Harness {
    /// The code in the newest activation email to `to` in the outbox.
    fn last_code(&self, to: &str) -> String {
        let outbox = self.dir.path().join("outbox");
        let mut files: Vec<_> = std::fs::read_dir(&outbox).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let text = files
            .iter()
            .rev()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .find(|t| t.contains(&format!("To: {to}")))
            .expect("an activation email");
        let body = text.split("\r\n\r\n").skip(1).collect::<Vec<_>>().join("\n");
        let codes: Vec<&str> = body.split(|c: char| !c.is_ascii_digit()).filter(|w| w.len() == 6).collect();
        assert_eq!(codes.len(), 1, "{text}");
        codes[0].to_owned()
    }

    async fn activation(&self, account: &str, email: &str) -> (String, String) {
        let body = json!({ "email": email }).to_string();
        let (status, res) = self.call("POST", &format!("/api/v1/user/{account}/activation"), None, Some(&body)).await;
        assert_eq!(status, StatusCode::OK, "{res}");
        (res["jwe"].as_str().unwrap().to_owned(), self.last_code(email))
    }

    async fn redeem(&self, account: &str, jwe: Option<&str>, code: &str) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method("POST")
            .uri(format!("/api/v1/user/{account}/key"))
            .header("x-activation-code", code);
        if let Some(jwe) = jwe {
            req = req.header(header::AUTHORIZATION, format!("Bearer {jwe}"));
        }
        let res = self.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    fn key_count(&self) -> usize {
        ["acc", "newacc", "other"].iter().filter_map(|a| self.accounts.get(a).unwrap()).map(|a| a.keyids.len()).sum()
    }
}

#[tokio::test]
async fn activation_refusals_are_4xx_and_create_nothing() {
    let h = harness();
    let bad_bodies = [
        None,
        Some("{"),
        Some("[]"),
        Some("{}"),
        Some(r#"{"email": 42}"#),
        Some(r#"{"email": "no-at-sign"}"#),
        Some(r#"{"email": "a@b"}"#),
        Some(r#"{"email": "a b@ex.org"}"#),
        Some(r#"{"email": "a@ex.org", "more": 1}"#),
    ];
    for body in bad_bodies {
        let (status, res) = h.call("POST", "/api/v1/user/newacc/activation", None, body).await;
        assert!(status.is_client_error(), "{body:?} → {status} {res}");
    }
    for name in ["Upper", "dot.ted", "sp%20ace", "rootacc"] {
        let (status, _) =
            h.call("POST", &format!("/api/v1/user/{name}/activation"), None, Some(r#"{"email":"a@ex.org"}"#)).await;
        assert!(status.is_client_error(), "{name} → {status}");
    }
    let (jwe, code) = h.activation("newacc", "n@ex.org").await;
    let wrong = if code == "111111" { "222222" } else { "111111" };
    let refusals = [
        (Some(jwe.as_str()), wrong),
        (None, code.as_str()),
        (Some("garbage"), code.as_str()),
        (Some(""), code.as_str()),
    ];
    for (jwe, code) in refusals {
        let (status, res) = h.redeem("newacc", jwe, code).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{jwe:?} {code} → {res}");
    }
    let (status, _) = h.redeem("other", Some(&jwe), &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "code for another account");
    // A Basic header without a colon, and a malformed key, with the code
    for auth in [format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("newacc")), basic("newacc", "k")]
    {
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/user/newacc/key")
            .header("x-activation-code", &code)
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap();
        assert_eq!(h.app.clone().oneshot(req).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    assert!(h.accounts.get("newacc").unwrap().is_none() && h.accounts.get("other").unwrap().is_none());
    // The right code works once
    let (status, res) = h.redeem("newacc", Some(&jwe), &code).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    assert_eq!(h.accounts.get("newacc").unwrap().unwrap().emails, vec!["n@ex.org"]);
    let (status, _) = h.redeem("newacc", Some(&jwe), &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reused code");
    assert_eq!(h.key_count(), 1);
    // Five wrong codes void an activation, even for the right code after
    let (jwe, code) = h.activation("newacc", "n@ex.org").await;
    let wrong = if code == "111111" { "222222" } else { "111111" };
    for _ in 0..5 {
        assert_eq!(h.redeem("newacc", Some(&jwe), wrong).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(h.redeem("newacc", Some(&jwe), &code).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(h.key_count(), 1);
    // An existing account only activates with its registered email
    let body = r#"{"email":"intruder@ex.org"}"#;
    let (status, _) = h.call("POST", "/api/v1/user/newacc/activation", None, Some(body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn key_management_refusals() {
    let h = harness();
    let key = h.create_account("acc").await;
    let other = h.create_account("other").await;
    let keyid = key.split_once('.').unwrap().1.split_once(':').unwrap().0.to_owned();
    let before = h.key_count();
    let cases = [
        ("POST", "/api/v1/user/acc/key/zzzzzz/rotate".to_string(), basic("acc", &key), StatusCode::NOT_FOUND),
        ("DELETE", "/api/v1/user/acc/key/zzzzzz".to_string(), basic("acc", &key), StatusCode::NOT_FOUND),
        ("POST", format!("/api/v1/user/acc/key/{keyid}/rotate"), basic("other", &other), StatusCode::FORBIDDEN),
        ("DELETE", format!("/api/v1/user/acc/key/{keyid}"), basic("other", &other), StatusCode::FORBIDDEN),
        ("POST", format!("/api/v1/user/acc/key/{keyid}/rotate?type=dsa"), basic("acc", &key), StatusCode::BAD_REQUEST),
        ("GET", "/api/v1/user/acc/key".into(), basic("other", &other), StatusCode::FORBIDDEN),
        ("GET", format!("/api/v1/user/acc/publicKey/{keyid}"), basic("acc", &key), StatusCode::NOT_FOUND),
        ("DELETE", "/api/v1/user/rootacc".into(), basic("rootacc", &h.root), StatusCode::FORBIDDEN),
        ("DELETE", "/api/v1/user/acc".into(), basic("other", &other), StatusCode::FORBIDDEN),
        ("DELETE", "/api/v1/user/acc".into(), "Bearer x.y.z".into(), StatusCode::UNAUTHORIZED),
    ];
    for (method, path, auth, want) in cases {
        let (status, res) = h.call(method, &path, Some(auth), None).await;
        assert_eq!(status, want, "{method} {path} → {res}");
    }
    assert_eq!(h.key_count(), before);
    assert!(h.accounts.get("acc").unwrap().is_some());
    assert!(!h.accounts.key(&keyid).unwrap().unwrap().revoked);
}

// ------------------------------------------------------- signed updates

/// An RSA public key (base64 SPKI DER) made by Node.
fn node_public_key() -> String {
    let fixture: Value = serde_json::from_str(include_str!("fixtures/signatures/node-signature.json")).unwrap();
    fixture["public"].as_str().unwrap().to_owned()
}

fn signed_body(user: &str, keyid: &str, public: &str) -> String {
    json!({"useSignatures": true, "user": {"@id": user, "key": {"keyid": keyid, "public": public}}}).to_string()
}

#[tokio::test]
async fn put_records_signing_users_and_answers_the_same_config() {
    let h = harness();
    let key = h.create_account("acc").await;
    let auth = || Some(basic("acc", &key));
    let public = node_public_key();
    let (status, plain) = h.call("PUT", "/api/v1/domain/acc/plain", auth(), None).await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    let body = signed_body("http://ex.org/alice", "alice1", &public);
    let (status, signed) = h.call("PUT", "/api/v1/domain/acc/sd", auth(), Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    // The clone config is exactly what a PUT without a body gives
    assert_eq!(signed["@domain"], "sd.acc.ex.org");
    let mut normalised = signed.clone();
    normalised["@domain"] = plain["@domain"].clone();
    assert_eq!(normalised, plain);
    assert!(!signed.to_string().contains(&public[..40]), "no key in the config");
    let record = h.accounts.subdomain("acc", "sd").unwrap().unwrap();
    assert!(record.use_signatures);
    assert_eq!(record.signers.len(), 1);
    assert_eq!((record.signers[0].user.as_str(), record.signers[0].keyid.as_str()), ("http://ex.org/alice", "alice1"));
    // Idempotent; a second user is added, the first kept
    let (status, again) = h.call("PUT", "/api/v1/domain/acc/sd", auth(), Some(&body)).await;
    assert_eq!((status, &again), (StatusCode::OK, &signed));
    let bob = json!({"user": {"@id": "http://ex.org/bob", "key": {"keyid": "bob_01", "public": public}}}).to_string();
    let (status, _) = h.call("PUT", "/api/v1/domain/acc/sd", auth(), Some(&bob)).await;
    assert_eq!(status, StatusCode::OK);
    let keyids: Vec<_> =
        h.accounts.subdomain("acc", "sd").unwrap().unwrap().signers.into_iter().map(|s| s.keyid).collect();
    assert_eq!(keyids, ["alice1", "bob_01"]);
    // A keyid already bound to another user: 409, nothing stored
    let eve = signed_body("http://ex.org/eve", "alice1", &public);
    let (status, res) = h.call("PUT", "/api/v1/domain/acc/sd", auth(), Some(&eve)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{res}");
    assert_eq!(h.accounts.subdomain("acc", "sd").unwrap().unwrap().signers.len(), 2);
    // A user on a subdomain without signatures is not recorded
    let (status, _) = h.call("PUT", "/api/v1/domain/acc/plain", auth(), Some(&bob)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h.accounts.subdomain("acc", "plain").unwrap().unwrap().signers.is_empty());
}

#[tokio::test]
async fn malformed_put_bodies_are_400_and_store_nothing() {
    let h = harness();
    let key = h.create_account("acc").await;
    let auth = || Some(basic("acc", &key));
    let public = node_public_key();
    let user = |id: Value, key: Value| json!({"useSignatures": true, "user": {"@id": id, "key": key}}).to_string();
    let good_key = || json!({"keyid": "alice1", "public": public});
    let cases = [
        ("not JSON", "{".to_owned()),
        ("not an object", "[]".to_owned()),
        ("unknown property", r#"{"useSignatures":true,"colour":"red"}"#.to_owned()),
        ("useSignatures not a boolean", r#"{"useSignatures":"true"}"#.to_owned()),
        ("user not an object", r#"{"useSignatures":true,"user":"http://ex.org/alice"}"#.to_owned()),
        ("relative @id", user(json!("alice"), good_key())),
        ("@id with a space", user(json!("http://ex.org/al ice"), good_key())),
        ("@id not a string", user(json!(7), good_key())),
        ("key not an object", user(json!("http://ex.org/alice"), json!("alice1"))),
        ("short keyid", user(json!("http://ex.org/alice"), json!({"keyid": "al1", "public": public}))),
        ("keyid with a dash", user(json!("http://ex.org/alice"), json!({"keyid": "alice-1", "public": public}))),
        ("keyid with a colon", user(json!("http://ex.org/alice"), json!({"keyid": "alice:1", "public": public}))),
        ("keyid a number", user(json!("http://ex.org/alice"), json!({"keyid": 123456, "public": public}))),
        ("no public key", user(json!("http://ex.org/alice"), json!({"keyid": "alice1"}))),
        ("public not base64", user(json!("http://ex.org/alice"), json!({"keyid": "alice1", "public": "@@@@"}))),
        (
            "public not a key",
            user(json!("http://ex.org/alice"), json!({"keyid": "alice1", "public": "aGVsbG8gd29ybGQ="})),
        ),
        (
            "public an Ed25519 key",
            user(
                json!("http://ex.org/alice"),
                json!({"keyid": "alice1", "public": "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="}),
            ),
        ),
        ("public truncated", user(json!("http://ex.org/alice"), json!({"keyid": "alice1", "public": &public[..100]}))),
        ("public a number", user(json!("http://ex.org/alice"), json!({"keyid": "alice1", "public": 5}))),
        (
            "type not rsa",
            user(json!("http://ex.org/alice"), json!({"type": "ec", "keyid": "alice1", "public": public})),
        ),
        (
            "private key sent",
            user(json!("http://ex.org/alice"), json!({"keyid": "alice1", "public": public, "private": "AAAA"})),
        ),
        (
            "user key missing, signatures on",
            json!({"useSignatures": true, "user": {"@id": "http://ex.org/alice"}}).to_string(),
        ),
        // The account signs as itself, but its key has no RSA public key
        ("no user, no account RSA key", r#"{"useSignatures":true}"#.to_owned()),
    ];
    for (what, body) in cases {
        let (status, res) = h.call("PUT", "/api/v1/domain/acc/sd", auth(), Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {res}");
        assert!(res["message"].as_str().is_some_and(|m| !m.is_empty() && m.len() < 200), "{what}: {res}");
        assert!(!res.to_string().contains(&public[..40]), "{what}: no key material in {res}");
        assert_eq!(h.accounts.subdomain("acc", "sd").unwrap(), None, "{what}: nothing stored");
    }
    assert!(h.accounts.get("acc").unwrap().unwrap().subdomains.is_empty());
}

#[tokio::test]
async fn use_signatures_cannot_change_and_a_refused_put_changes_nothing() {
    let h = harness();
    let key = h.create_account("acc").await;
    let auth = || Some(basic("acc", &key));
    let public = node_public_key();
    let (status, _) = h.call("PUT", "/api/v1/domain/acc/plain", auth(), Some(r#"{"useSignatures":false}"#)).await;
    assert_eq!(status, StatusCode::OK);
    let body = signed_body("http://ex.org/alice", "alice1", &public);
    let (status, res) = h.call("PUT", "/api/v1/domain/acc/plain", auth(), Some(&body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{res}");
    let plain = h.accounts.subdomain("acc", "plain").unwrap().unwrap();
    assert!(!plain.use_signatures && plain.signers.is_empty());

    let (status, _) = h.call("PUT", "/api/v1/domain/acc/sd", auth(), Some(&body)).await;
    assert_eq!(status, StatusCode::OK);
    let before = h.accounts.subdomain("acc", "sd").unwrap().unwrap();
    let bob = json!({"useSignatures": false, "user": {"@id": "http://ex.org/bob", "key": {"keyid": "bob_01", "public": public}}});
    let (status, res) = h.call("PUT", "/api/v1/domain/acc/sd", auth(), Some(&bob.to_string())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{res}");
    assert_eq!(h.accounts.subdomain("acc", "sd").unwrap().unwrap(), before, "bob not added");
    // Absent useSignatures keeps the setting; without a user and without
    // an RSA key for the account's key, there is nobody to sign as
    let (status, res) = h.call("PUT", "/api/v1/domain/acc/sd", auth(), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{res}");
    assert!(res["message"].as_str().unwrap().contains("key"), "{res}");
    assert_eq!(h.accounts.subdomain("acc", "sd").unwrap().unwrap(), before);
}

#[tokio::test]
async fn an_account_signs_as_itself_with_the_rsa_key_of_its_auth_key() {
    let h = harness();
    let key = h.create_account("acc").await;
    let keyid = AuthKey::parse(&key).unwrap().keyid;
    // What `POST …/key?type=rsa` leaves on the key record
    let keys = h.store.tree(meld_gateway::store::KEYS_TREE).unwrap();
    let mut record: meld_gateway::accounts::KeyRecord =
        serde_json::from_slice(&keys.get(&keyid).unwrap().unwrap()).unwrap();
    record.rsa_public = Some(node_public_key());
    keys.insert(&keyid, serde_json::to_vec(&record).unwrap()).unwrap();
    let (status, res) =
        h.call("PUT", "/api/v1/domain/acc/sd", Some(basic("acc", &key)), Some(r#"{"useSignatures":true}"#)).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    let signers = h.accounts.subdomain("acc", "sd").unwrap().unwrap().signers;
    assert_eq!(signers.len(), 1);
    assert_eq!((signers[0].user.as_str(), signers[0].keyid.as_str()), ("http://ex.org/acc", keyid.as_str()));
    assert_eq!(signers[0].public, node_public_key());
}

/// A request from `ip`, as the accept loop tags it.
async fn from_ip(h: &Harness, ip: &str, path: &str, auth: Option<String>) -> axum::response::Response {
    let mut req = Request::builder().uri(path);
    if let Some(auth) = auth {
        req = req.header(header::AUTHORIZATION, auth);
    }
    let mut req = req.body(Body::empty()).unwrap();
    let peer: std::net::SocketAddr = format!("{ip}:40000").parse().unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    h.app.clone().oneshot(req).await.unwrap()
}

#[tokio::test]
async fn requests_past_the_per_ip_rate_get_429_with_retry_after() {
    let limits = meld_gateway::config::LimitsSettings {
        anon_requests_per_sec: Some(1),
        anon_request_burst: Some(3),
        requests_per_sec: Some(1),
        request_burst: Some(2),
        ..Default::default()
    };
    let h = harness_with(Settings { limits, ..Default::default() });
    for _ in 0..3 {
        assert_eq!(from_ip(&h, "10.0.0.1", "/api/v1/context", None).await.status(), StatusCode::OK);
    }
    let refused = from_ip(&h, "10.0.0.1", "/api/v1/context", None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
    let body: Value =
        serde_json::from_slice(&axum::body::to_bytes(refused.into_body(), 1 << 16).await.unwrap()).unwrap();
    assert_eq!(body["code"], "TooManyRequests");
    assert!(body["message"].as_str().unwrap().contains("too many requests"), "{body}");
    // Another IP has its own bucket; credentials have their own too
    assert_eq!(from_ip(&h, "10.0.0.2", "/api/v1/context", None).await.status(), StatusCode::OK);
    let root = Some(basic("rootacc", h.root.as_str()));
    for _ in 0..2 {
        let r = from_ip(&h, "10.0.0.1", "/api/v1/user/rootacc", root.clone()).await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = from_ip(&h, "10.0.0.1", "/api/v1/user/rootacc", root.clone()).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Socket.io requests are not counted here (the relay's own limits apply)
    let io = from_ip(&h, "10.0.0.1", "/socket.io/?EIO=4&transport=polling", None).await;
    assert_ne!(io.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A byte flipped in one stored record of domain `a` (through sled, so only
/// the integrity digest can see it): after a restart, `a` is quarantined
/// (503 saying so, counted in the metrics) and `b` is served as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_with_a_flipped_byte_is_quarantined_and_the_others_served() {
    let dir = tempfile::tempdir().unwrap();
    let settings =
        Settings { gateway: Some("ex.org".into()), data_path: Some(dir.path().to_owned()), ..Default::default() };
    let config = Config::from_settings(settings).unwrap();
    let store = Store::temporary().unwrap();
    let root = AuthKey::generate("rootacc").unwrap();
    let first = meld_gateway::server::build(&config, &store, root.clone()).unwrap();
    let accounts = AccountStore::new(&store).unwrap();
    let h = Harness { app: first.app.clone(), root: root.reveal(), accounts, store: store.clone(), dir };
    let auth = basic("acc", &h.create_account("acc").await);
    for sd in ["a", "b"] {
        let (status, _) = h.call("PUT", &format!("/api/v1/domain/acc/{sd}"), Some(auth.clone()), None).await;
        assert_eq!(status, StatusCode::OK);
        let body = format!("{{\"@id\": \"x-{sd}\", \"name\": \"{sd}\"}}");
        let path = format!("/api/v1/domain/acc/{sd}/state");
        let (status, _, text) = h.call_text("POST", &path, &auth, Some(&body)).await;
        assert!(status.is_success(), "{status} {text}");
    }
    first.backups.close_all().await;

    // Flip the last byte of the first triple's value in a's current spo tree
    let db = store.db();
    let spo = db
        .tree_names()
        .into_iter()
        .find(|n| n.starts_with(b"clone/acc/a/g") && n.ends_with(b"/spo"))
        .expect("a's spo tree");
    let spo = db.open_tree(spo).unwrap();
    let (key, value) = spo.first().unwrap().expect("a triple in a");
    let mut flipped = value.to_vec();
    *flipped.last_mut().unwrap() ^= 1;
    spo.insert(key, flipped).unwrap();

    let second = meld_gateway::server::build(&config, &store, root).unwrap();
    let h = Harness { app: second.app, ..h };
    let describe = |id: &str| format!("q=%7B%22%40describe%22%3A%22{id}%22%7D");
    let (status, _, text) =
        h.call_text("GET", &format!("/api/v1/domain/acc/a/state?{}", describe("x-a")), &auth, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("domain quarantined: its stored data failed an integrity check"), "{text}");
    let (status, _, text) =
        h.call_text("GET", &format!("/api/v1/domain/acc/b/state?{}", describe("x-b")), &auth, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("\"x-b\""), "{text}");
    let root_auth = basic("rootacc", &h.root);
    let (_, _, metrics) = h.call_text("GET", "/metrics", &root_auth, None).await;
    assert!(metrics.contains("\nmeld_gateway_domains_quarantined 1\n"), "{metrics}");
    // Removing the quarantined subdomain works, and ends its quarantine
    let (status, _, text) = h.call_text("DELETE", "/api/v1/domain/acc/a", &auth, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    let (_, _, metrics) = h.call_text("GET", "/metrics", &root_auth, None).await;
    assert!(metrics.contains("\nmeld_gateway_domains_quarantined 0\n"), "{metrics}");
}

/// An open update stream ends soon after the key it was opened with is
/// revoked (a stream of another key stays open), and the audit says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_stream_ends_when_its_key_is_revoked() {
    let h = harness();
    let first = h.create_account("acc").await;
    let (status, body) = h.call("POST", "/api/v1/user/acc/key", Some(basic("acc", &first)), None).await;
    assert_eq!(status, StatusCode::OK);
    let second = body["auth"]["key"].as_str().unwrap().to_owned();
    let (status, _) = h.call("PUT", "/api/v1/domain/acc/sd", Some(basic("acc", &first)), None).await;
    assert_eq!(status, StatusCode::OK);
    let open = |key: String| {
        let req = Request::builder()
            .uri("/api/v1/domain/acc/sd/updates")
            .header(header::AUTHORIZATION, basic("acc", &key))
            .body(Body::empty())
            .unwrap();
        h.app.clone().oneshot(req)
    };
    let kept = open(first.clone()).await.unwrap();
    let cut = open(second.clone()).await.unwrap();
    assert_eq!((kept.status(), cut.status()), (StatusCode::OK, StatusCode::OK));
    let keyid = second.split_once(':').unwrap().0.rsplit_once('.').unwrap().1.to_owned();
    let (status, _) =
        h.call("DELETE", &format!("/api/v1/user/acc/key/{keyid}"), Some(basic("acc", &first)), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The revoked key's stream ends by itself; the other one streams on
    let ended =
        tokio::time::timeout(std::time::Duration::from_secs(10), axum::body::to_bytes(cut.into_body(), 1 << 20)).await;
    let text = String::from_utf8(ended.expect("the revoked key's stream ends").unwrap().to_vec()).unwrap();
    assert!(text.starts_with(": ready"), "{text}");
    let still =
        tokio::time::timeout(std::time::Duration::from_secs(3), axum::body::to_bytes(kept.into_body(), 1 << 20)).await;
    assert!(still.is_err(), "the stream of a valid key stays open");
}
