//! The HTTP API's request edges through the real router: a route of the
//! OpenAPI document with fuzzed path segments, query, `Authorization` header
//! and body (the admin JSON bodies, json-rql writes and queries). Refuse
//! with a 4xx or answer, never panic, never a 5xx (but a 503 while the root
//! key pair is still being generated).
//!
//! Input: three selector bytes (route, method, credentials), then up to
//! five parts separated by 0xFF: two path segments, a query, a header, a
//! body.
#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{Request, header};
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use meld_gateway::auth::AuthKey;
use meld_gateway::config::{AuthSettings, Config, Settings};
use meld_gateway::store::Store;
use tower::ServiceExt;

struct Fixture {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    routes: Vec<(String, Vec<String>)>,
    account_auth: String,
    root_auth: String,
    _dir: tempfile::TempDir,
}

fn basic(user: &str, key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{key}")))
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        gateway: Some("fuzz.example.org".into()),
        data_path: Some(dir.path().to_owned()),
        subdomain_cache_size: Some(4),
        auth: AuthSettings { lockout_failures: Some(u64::MAX), ..AuthSettings::default() },
        ..Settings::default()
    };
    let config = Config::from_settings(settings).expect("config");
    let store = Store::temporary().expect("store");
    let root = AuthKey::generate("fuzzroot").expect("root key");
    let root_auth = basic("fuzzroot", &root.reveal());
    let app = rt.block_on(async { meld_gateway::server::build(&config, &store, root).expect("gateway").app });
    let req = Request::post("/api/v1/user/fuzzacc/key").header(header::AUTHORIZATION, &root_auth).body(Body::empty());
    let res = rt.block_on(app.clone().oneshot(req.expect("request"))).expect("infallible");
    let body = rt.block_on(axum::body::to_bytes(res.into_body(), 1 << 20)).expect("body");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("key JSON");
    let account_auth = basic("fuzzacc", json["auth"]["key"].as_str().expect("a key"));
    let doc: serde_json::Value = serde_json::from_str(include_str!("../../doc/openapi.json")).expect("openapi");
    let routes = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| (path.clone(), item.as_object().expect("item").keys().map(|m| m.to_uppercase()).collect()))
        .collect();
    Fixture { rt, app, routes, account_auth, root_auth, _dir: dir }
});

fn encode(bytes: &[u8]) -> String {
    form_urlencoded::byte_serialize(bytes).collect::<String>().replace('+', "%20")
}

fuzz_target!(|data: &[u8]| {
    let f = &*FIXTURE;
    let [route, method, auth, rest @ ..] = data else { return };
    let mut parts = rest.split(|b| *b == 0xFF);
    let mut next = || parts.next().unwrap_or_default();
    let (seg1, seg2, query, presented, body) = (next(), next(), next(), next(), next());
    let (template, methods) = &f.routes[usize::from(*route) % f.routes.len()];
    let mut segments = [seg1, seg2].into_iter();
    let mut path = String::new();
    for part in template.split('/').skip(1) {
        path.push('/');
        if part.starts_with('{') {
            match segments.next().filter(|s| !s.is_empty()) {
                Some(s) => path.push_str(&encode(s)),
                None if part == "{account}" => path.push_str("fuzzacc"),
                None => path.push_str("sd"),
            }
        } else {
            path.push_str(part);
        }
    }
    if !query.is_empty() {
        path = format!("{path}?{}", String::from_utf8_lossy(query).replace(['#', ' '], "%20"));
    }
    let method = match method % 8 {
        7 => "PROPFIND",
        m => methods.get(usize::from(m)).map_or("GET", String::as_str),
    };
    let mut req = Request::builder().method(method).uri(path.as_str()).header(header::CONTENT_TYPE, "application/json");
    match auth % 4 {
        0 => req = req.header(header::AUTHORIZATION, &f.account_auth),
        1 => req = req.header(header::AUTHORIZATION, &f.root_auth),
        2 => req = req.header(header::AUTHORIZATION, presented),
        _ => {}
    }
    let Ok(req) = req.body(Body::from(body.to_vec())) else { return };
    let status = f.rt.block_on(async {
        let res = f.app.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        if res.headers().get(header::CONTENT_TYPE).is_none_or(|t| t != "text/event-stream") {
            let _ = axum::body::to_bytes(res.into_body(), 64 << 20).await;
        }
        status
    });
    let key_pending = status.as_u16() == 503 && path.contains("ublicKey");
    assert!(!status.is_server_error() || key_pending, "{method} {path} answered {status}");
});
