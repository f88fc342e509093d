//! HTTP robustness: thousands of random and malformed requests to every
//! route the OpenAPI document lists, and to the website, through the real
//! router. None may be answered with a 5xx or panic, and afterwards the
//! gateway still serves and its accounts still work.
//!
//! Requests mix well-formed parts (real account names and keys, so handlers
//! get past authentication and parse their bodies) with broken ones: garbage
//! and oversized path segments, odd methods, broken `Authorization` headers,
//! truncated, mistyped, deeply nested or binary bodies, random queries.
//! The seed is printed; `ROBUSTNESS_SEED=<n>` replays a run and
//! `ROBUSTNESS_REQUESTS=<n>` changes its length.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use meld_gateway::config::{AuthSettings, Settings};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tower::ServiceExt;

mod common;
use common::basic;

const ACCOUNT: &str = "robust";

/// Route templates and methods, from the OpenAPI document, plus the site.
fn routes() -> Vec<(String, Vec<String>)> {
    let doc: Value = serde_json::from_str(include_str!("../doc/openapi.json")).unwrap();
    let mut routes: Vec<(String, Vec<String>)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| (path.clone(), item.as_object().unwrap().keys().map(|m| m.to_uppercase()).collect()))
        .collect();
    for page in ["/", "/signup", "/account", "/publicKey", "/docs", "/docs/{page}", "/assets/{file}"] {
        routes.push((page.into(), vec!["GET".into()]));
    }
    routes
}

/// Random text of up to `max` characters, from troublesome alphabets.
fn garbage(rng: &mut StdRng, max: usize) -> String {
    let len = rng.random_range(0..=max);
    const PIECES: &[&str] = &[
        "a", "Z", "0", ".", "-", "_", "%", "%00", "%2F", "%2e%2e", "..", "/", "\\", " ", "\"", "'", "{", "}", "[", "]",
        ":", "@", "#", "?", "&", "=", "+", "é", "🚧", "\u{202e}", "\u{0}", "\n", "%ff", "%C0%AF",
    ];
    (0..len).map(|_| *PIECES.choose(rng).unwrap()).collect()
}

/// A path segment that a URI can carry: mostly valid, sometimes hostile.
fn segment(rng: &mut StdRng, valid: &[&str]) -> String {
    match rng.random_range(0..10) {
        0..=4 => (*valid.choose(rng).unwrap()).to_owned(),
        5 => "a".repeat(rng.random_range(64..5000)),
        _ => {
            let raw = garbage(rng, 40);
            form_urlencoded::byte_serialize(raw.as_bytes()).collect::<String>().replace('+', "%20")
        }
    }
}

fn json_body(rng: &mut StdRng) -> Vec<u8> {
    const BODIES: &[&str] = &[
        r#"{"@insert":{"naming":"uuid"}}"#,
        r#"{"@insert":{"remotesAuth":["anon","key","jwt"]},"@delete":{"email":"x@y.z"}}"#,
        r#"{"@insert":{"naming":[1,2,{"@id":null}]}}"#,
        r#"{"email":"someone@example.org"}"#,
        r#"{"email":"not an email","code":"123456"}"#,
        r#"{"user":{"@id":"http://ex.org/u","key":{"keyid":"k1","public":"AAAA"}},"useSignatures":true}"#,
        r#"{"useSignatures":"yes"}"#,
        r#"{"@describe":"?s"}"#,
        r#"{"@select":"?s","@where":{"@id":"?s","p":{"@list":{"0":"?x"}}}}"#,
        r#"{"@insert":{"@id":"fred","name":"Fred","n":1e308,"l":{"@list":["a",{"@id":"b"}]}}}"#,
        r#"{"@delete":{"@id":"?s"},"@where":{"@id":"?s"}}"#,
        r#"{"@update":{"@id":"fred","n":{"@plus":1}}}"#,
        r#"[{"@id":"x","@type":"@id"}]"#,
        r#"{"@context":{"@vocab":"javascript:alert(1)"},"@insert":{"@id":"x"}}"#,
        "null",
        "[]",
        "\"text\"",
        "123456789012345678901234567890",
    ];
    let base = BODIES.choose(rng).unwrap().as_bytes().to_vec();
    match rng.random_range(0..8) {
        0 => base[..rng.random_range(0..=base.len())].to_vec(),
        1 => {
            let mut b = base;
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..b.len().max(1));
                if i < b.len() {
                    b[i] = rng.random();
                }
            }
            b
        }
        2 => {
            let depth = rng.random_range(100..5000);
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
        }
        3 => (0..rng.random_range(0..512)).map(|_| rng.random()).collect(),
        4 => garbage(rng, 200).into_bytes(),
        _ => base,
    }
}

struct Harness {
    app: axum::Router,
    root: String,
    key: String,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> (StatusCode, Option<String>, Vec<u8>) {
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let content_type = res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?").to_owned());
        // Event streams never end: their status is the answer
        if content_type.as_deref() == Some("text/event-stream") {
            return (status, content_type, Vec::new());
        }
        let body = tokio::time::timeout(Duration::from_secs(30), axum::body::to_bytes(res.into_body(), 64 << 20))
            .await
            .expect("a response body that ends")
            .unwrap_or_default()
            .to_vec();
        (status, content_type, body)
    }

    async fn get(&self, path: &str, auth: Option<&str>) -> StatusCode {
        let mut req = Request::builder().uri(path);
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        self.send(req.body(Body::empty()).unwrap()).await.0
    }
}

async fn harness() -> Harness {
    let settings = Settings {
        // Random wrong keys would lock the test account out: lockouts have
        // tests of their own
        auth: AuthSettings { lockout_failures: Some(u64::MAX), ..AuthSettings::default() },
        ..Settings::default()
    };
    let gw = common::gateway(settings);
    let mut h = Harness { app: gw.app, root: gw.root, key: String::new(), _dir: gw.dir };
    let req = Request::post(format!("/api/v1/user/{ACCOUNT}/key"))
        .header(header::AUTHORIZATION, basic("rootacc", &h.root))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = h.send(req).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).unwrap();
    h.key = body["auth"]["key"].as_str().unwrap().to_owned();
    // The root key pair is generated in the background: its routes answer
    // 503 until then, which is not what this test looks for
    let t0 = Instant::now();
    while h.get("/api/v1/publicKey", None).await != StatusCode::OK {
        assert!(t0.elapsed() < Duration::from_secs(120), "root key pair generated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_malformed_requests_get_no_5xx_and_the_gateway_lives_on() {
    let h = harness().await;
    let seed = std::env::var("ROBUSTNESS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random::<u64>);
    let count: usize = std::env::var("ROBUSTNESS_REQUESTS").ok().and_then(|s| s.parse().ok()).unwrap_or(5000);
    println!("ROBUSTNESS_SEED={seed} ROBUSTNESS_REQUESTS={count}");
    let mut rng = StdRng::seed_from_u64(seed);
    let routes = routes();
    let (keyid, _) = h.key.split_once(':').unwrap();
    let keyid = keyid.rsplit_once('.').unwrap().1.to_owned();
    let accounts = [ACCOUNT, "rootacc", "nobody"];
    let names = ["sd1", "sd2", "00000000-0000-4000-8000-000000000000"];
    let keyids = [keyid.as_str(), "abcdef", "zzzzzz"];
    let mut statuses = std::collections::BTreeMap::new();

    for n in 0..count {
        let (template, methods) = routes.choose(&mut rng).unwrap();
        let mut path = String::new();
        for part in template.split('/').skip(1) {
            path.push('/');
            path.push_str(&match part {
                "{account}" => segment(&mut rng, &accounts),
                "{name}" => segment(&mut rng, &names),
                "{keyid}" => segment(&mut rng, &keyids),
                "{page}" => segment(&mut rng, &["security", "http-api.md", "nothing"]),
                "{file}" => segment(&mut rng, &["site.css", "icon.svg", "x.png"]),
                literal => literal.to_owned(),
            });
        }
        if rng.random_bool(0.3) {
            let query = match rng.random_range(0..5) {
                0 => format!("q={}", form_urlencoded::byte_serialize(&json_body(&mut rng)).collect::<String>()),
                1 => "lock".to_owned(),
                2 => "type=rsa".to_owned(),
                3 => format!("type={}", segment(&mut rng, &["rsa", "ed25519"])),
                _ => form_urlencoded::byte_serialize(garbage(&mut rng, 60).as_bytes()).collect(),
            };
            path = format!("{path}?{query}");
        }
        let method = match rng.random_range(0..10) {
            0 => ["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND"].choose(&mut rng).unwrap(),
            _ => methods.choose(&mut rng).unwrap().as_str(),
        };
        let auth = match rng.random_range(0..9) {
            0 => None,
            1 | 2 => Some(basic(ACCOUNT, &h.key)),
            3 => Some(basic("rootacc", &h.root)),
            4 => Some(basic(ACCOUNT, &format!("{}x", h.key))),
            5 => Some(format!("Basic {}", garbage(&mut rng, 80))),
            6 => Some(format!(
                "Bearer {}.{}.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(garbage(&mut rng, 60)),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json_body(&mut rng)),
                garbage(&mut rng, 40)
            )),
            7 => Some(basic(&garbage(&mut rng, 20), &garbage(&mut rng, 90))),
            _ => Some(garbage(&mut rng, 100)),
        };
        let body = match rng.random_range(0..6) {
            0 => Vec::new(),
            // Once in a while, past every body limit
            1 if rng.random_bool(0.01) => vec![b'['; 17 << 20],
            _ => json_body(&mut rng),
        };
        let mut req = Request::builder().method(method).uri(&path);
        if let Some(auth) = &auth {
            req = req.header(header::AUTHORIZATION, auth.as_str());
        }
        let content_type = [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "",
            "application/json; charset=utf-16",
        ]
        .choose(&mut rng)
        .unwrap();
        if !content_type.is_empty() {
            req = req.header(header::CONTENT_TYPE, *content_type);
        }
        if rng.random_bool(0.05) {
            req = req.header("X-Activation-Code", garbage(&mut rng, 12));
        }
        // A builder refuses some of what random parts make (e.g. a control
        // character in a header): such requests cannot be sent at all
        let Ok(req) = req.body(Body::from(body.clone())) else { continue };
        let (status, content_type, answer) = h.send(req).await;
        *statuses.entry(status.as_u16()).or_insert(0u32) += 1;
        assert!(
            !status.is_server_error(),
            "request {n}: {method} {path} (auth {auth:?}, body {:?}) answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)]),
            String::from_utf8_lossy(&answer[..answer.len().min(300)])
        );
        if status.is_client_error() && path.starts_with("/api/") && status != StatusCode::METHOD_NOT_ALLOWED {
            // Refusals of the API say why, in JSON
            let json: Result<Value, _> = serde_json::from_slice(&answer);
            assert!(
                json.is_ok() || answer.is_empty(),
                "request {n}: {method} {path} answered {status} with {content_type:?} {}",
                String::from_utf8_lossy(&answer[..answer.len().min(300)])
            );
        }
    }
    println!("statuses: {statuses:?}");
    assert!(statuses.keys().any(|s| *s < 300), "some requests got through: {statuses:?}");
    assert!(statuses.keys().filter(|s| **s >= 400).count() >= 4, "many kinds of refusal: {statuses:?}");

    // The gateway lives on: health, storage, the root, and a new account
    assert_eq!(h.get("/healthz", None).await, StatusCode::OK);
    assert_eq!(h.get("/readyz", None).await, StatusCode::OK);
    assert_eq!(h.get("/api/v1/user/rootacc", Some(&basic("rootacc", &h.root))).await, StatusCode::OK);
    let req = Request::post("/api/v1/user/afterwards/key")
        .header(header::AUTHORIZATION, basic("rootacc", &h.root))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(req).await.0, StatusCode::OK);
}
