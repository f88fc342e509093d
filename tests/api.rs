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

struct Harness {
    app: axum::Router,
    root: String,
    accounts: AccountStore,
}

fn harness() -> Harness {
    harness_with(Settings::default())
}

fn harness_with(settings: Settings) -> Harness {
    let settings = Settings { gateway: Some("ex.org".into()), ..settings };
    let config = Config::from_settings(settings).unwrap();
    let store = Store::temporary().unwrap();
    let root = AuthKey::generate("rootacc").unwrap();
    let gw = meld_gateway::server::build(&config, &store, root.clone()).unwrap();
    Harness { app: gw.app, root: root.reveal(), accounts: AccountStore::new(&store).unwrap() }
}

fn basic(user: &str, key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{key}")))
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
