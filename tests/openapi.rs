//! The OpenAPI document (`doc/openapi.json`) against the router: the set of
//! (path, method) pairs it describes is exactly the set the router serves
//! within its scope, it holds together (refs, path parameters, error
//! bodies), and the gateway serves it.
//!
//! **Scope.** Every path under `/api/`, plus `/healthz`, `/readyz` and
//! `/metrics`. Outside it: the website (`/` and any page added beside it),
//! which is HTML for people, and the Socket.io relay, which is a layer at
//! `/socket.io/`, not a route. So a new website route needs no entry here,
//! and a new API route fails this test until it is documented.
//!
//! **Reading the router.** The routes are read from the source text of every
//! file under `src/http/`: each `.route("<path>", <method router>)` call,
//! however it spans lines, with the HTTP methods called at the top level of
//! its second argument (`get(h).post(h)`, `axum::routing::delete(h)`, and
//! not calls nested inside, such as `.layer(DefaultBodyLimit::max(n))`).
//! Constructs whose routes the text does not show (a path that is not a
//! string literal, `any`, `on`, and `nest` or `route_service` under `/api`)
//! fail the test rather than being guessed at.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use meld_gateway::auth::AuthKey;
use meld_gateway::config::{Config, Settings};
use meld_gateway::store::Store;
use serde_json::Value;
use tower::ServiceExt;

/// The document as the binary embeds it.
const DOCUMENT: &str = include_str!("../doc/openapi.json");

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Whether a route belongs in the OpenAPI document.
fn in_scope(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// A token of Rust source, as far as finding routes needs.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Ident(String),
    Punct(char),
}

/// Splits Rust source into string literals, identifiers (and numbers) and
/// punctuation, dropping whitespace, comments, and char literals.
fn tokens(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if i >= chars.len() {
                    panic!("unterminated block comment");
                } else {
                    i += 1;
                }
            }
        } else if c == '"' || (matches!(c, 'r' | 'b') && matches!(at(i + 1), '"' | '#' | 'r')) {
            // "…", b"…", r"…", r#"…"#, br#"…"#
            let mut j = i;
            if chars[j] == 'b' {
                j += 1;
            }
            let raw = chars[j] == 'r';
            if raw {
                j += 1;
            }
            let hashes = chars[j..].iter().take_while(|&&h| h == '#').count();
            j += hashes;
            if at(j) != '"' {
                // An identifier such as `r#type` or `br`
                let start = i;
                i += 1;
                while at(i).is_alphanumeric() || at(i) == '_' || at(i) == '#' {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
                continue;
            }
            j += 1;
            let mut text = String::new();
            loop {
                let d = at(j);
                if j >= chars.len() {
                    panic!("unterminated string literal");
                }
                if !raw && d == '\\' {
                    text.push(d);
                    text.push(at(j + 1));
                    j += 2;
                    continue;
                }
                if d == '"' && chars[j + 1..].iter().take(hashes).filter(|&&h| h == '#').count() == hashes {
                    j += 1 + hashes;
                    break;
                }
                text.push(d);
                j += 1;
            }
            out.push(Token::Str(text));
            i = j;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a)
            if at(i + 1) == '\\' {
                // Past the quote, the backslash and the escaped character
                i += 3;
                while i < chars.len() && at(i) != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while at(i).is_alphanumeric() || at(i) == '_' {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

fn is_punct(t: Option<&Token>, c: char) -> bool {
    t == Some(&Token::Punct(c))
}

/// The (path, method) pairs of the `.route(…)` calls in one source file,
/// and the places that add routes this reading cannot see.
fn routes_in(src: &str, file: &Path) -> Vec<(String, String)> {
    let toks = tokens(src);
    let mut found = Vec::new();
    for i in 0..toks.len() {
        let Some(Token::Ident(call)) = toks.get(i + 1) else { continue };
        if !is_punct(toks.get(i), '.') || !is_punct(toks.get(i + 2), '(') {
            continue;
        }
        let path = match toks.get(i + 3) {
            Some(Token::Str(p)) => p.clone(),
            // The website's asset table is out of scope by the rule above
            _ if call == "route" && file.ends_with("site.rs") => continue,
            // A route whose path is not written out would escape the check
            _ if call == "route" => panic!("{}: a .route( path that is not a string literal", file.display()),
            _ => continue,
        };
        match call.as_str() {
            "route" => {}
            "nest" | "nest_service" | "route_service" => {
                assert!(
                    !path.starts_with("/api") && !in_scope(&path),
                    "{}: .{call}(\"{path}\", …) adds routes this test cannot read; use .route",
                    file.display()
                );
                continue;
            }
            _ => continue,
        }
        assert!(is_punct(toks.get(i + 4), ','), "{}: .route(\"{path}\" not followed by a comma", file.display());
        // The method router: up to the `)` closing `.route(`
        let mut depth = 0usize;
        let mut methods = Vec::new();
        let mut j = i + 5;
        loop {
            let t = toks.get(j).unwrap_or_else(|| panic!("{}: unclosed .route(\"{path}\"", file.display()));
            match t {
                Token::Punct('(' | '[' | '{') => depth += 1,
                Token::Punct(')' | ']' | '}') if depth == 0 => break,
                Token::Punct(')' | ']' | '}') => depth -= 1,
                Token::Ident(name) if depth == 0 && is_punct(toks.get(j + 1), '(') => {
                    if METHODS.contains(&name.as_str()) {
                        methods.push(name.clone());
                    } else if matches!(name.as_str(), "any" | "on" | "any_service" | "on_service") {
                        panic!("{}: route \"{path}\" uses {name}(…); list its methods explicitly", file.display());
                    }
                }
                _ => {}
            }
            j += 1;
        }
        assert!(!methods.is_empty(), "{}: no HTTP method found for route \"{path}\"", file.display());
        found.extend(methods.into_iter().map(|m| (path.clone(), m)));
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every (path, method) the router's source declares.
fn router_routes() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http"), &mut files);
    let mut routes = BTreeSet::new();
    for file in files {
        let src = std::fs::read_to_string(&file).unwrap();
        for route in routes_in(&src, &file) {
            assert!(routes.insert(route.clone()), "{route:?} declared twice");
        }
    }
    routes
}

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("doc/openapi.json is JSON")
}

/// Every (path, method) the document describes.
fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if METHODS.contains(&method.as_str()) {
                routes.insert((path.clone(), method.clone()));
            }
        }
    }
    routes
}

/// Follows a local `$ref` (`#/a/b`), or returns the value itself.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("non-local $ref {r}"));
            doc.pointer(pointer).unwrap_or_else(|| panic!("$ref {r} resolves to nothing"))
        }
        None => v,
    }
}

#[test]
fn route_reader_understands_chains_layers_and_comments() {
    let src = r##"
        // .route("/api/commented", get(x))
        Router::new()
            .route("/api/a/{id}", get(h::a).post(h::b)
                .layer(DefaultBodyLimit::max(1024)))
            .route(
                "/api/b",
                axum::routing::delete(h::c).patch(|| async { get_thing(")") }),
            )
            /* .route("/api/hidden", put(x)) */
            .route("/api/c", options(|| async { let _ = ('(', '\'', r#"")"#, 'a'); }))
            .route("/", get(site::home))
            .route("/healthz", get(async || "ok"))
    "##;
    let found: BTreeSet<_> = routes_in(src, Path::new("example.rs")).into_iter().collect();
    let expected: BTreeSet<_> = [
        ("/api/a/{id}", "get"),
        ("/api/a/{id}", "post"),
        ("/api/b", "delete"),
        ("/api/b", "patch"),
        ("/api/c", "options"),
        ("/", "get"),
        ("/healthz", "get"),
    ]
    .into_iter()
    .map(|(p, m)| (p.to_owned(), m.to_owned()))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn every_route_in_scope_is_documented_and_nothing_else() {
    let served: BTreeSet<_> = router_routes().into_iter().filter(|(path, _)| in_scope(path)).collect();
    let documented = documented_routes(&document());
    assert!(served.len() > 10, "too few routes found in src/http: {served:?}");
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "doc/openapi.json out of step with the router:\n  not documented: {missing:?}\n  not routed: {extra:?}"
    );
}

#[test]
fn the_document_holds_together() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    // Every local $ref resolves
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        resolve(&doc, &serde_json::json!({ "$ref": r }));
    }
    let error_schema = serde_json::json!({ "$ref": "#/components/schemas/Error" });
    let mut operation_ids = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let templated: BTreeSet<&str> =
            path.split('{').skip(1).map(|s| s.split_once('}').expect("closed {param}").0).collect();
        let shared = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        for (method, op) in item.as_object().unwrap().iter().filter(|(m, _)| METHODS.contains(&m.as_str())) {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(operation_ids.insert(id.to_owned(), path.clone()).is_none(), "operationId {id} twice");
            // Path parameters declared are exactly the template's
            let params = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            let declared: BTreeSet<&str> = shared
                .iter()
                .chain(params.iter())
                .map(|p| resolve(&doc, p))
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(declared, templated, "{method} {path}: path parameters");
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}: no responses"));
            assert!(!responses.is_empty(), "{method} {path}: no responses");
            assert!(op.get("security").is_some(), "{method} {path}: say who may call it (security)");
            // Errors are {"code","message"}
            for (status, response) in responses {
                let response = resolve(&doc, response);
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/json"]["schema"];
                    assert_eq!(schema, &error_schema, "{method} {path} {status}: the Error schema");
                }
            }
        }
    }
}

#[tokio::test]
async fn the_gateway_serves_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let settings =
        Settings { gateway: Some("ex.org".into()), data_path: Some(dir.path().to_owned()), ..Settings::default() };
    let config = Config::from_settings(settings).unwrap();
    let store = Store::temporary().unwrap();
    let gw = meld_gateway::server::build(&config, &store, AuthKey::generate("rootacc").unwrap()).unwrap();
    let req = Request::builder().uri("/api/v1/openapi.json").body(Body::empty()).unwrap();
    let res = gw.app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 22).await.unwrap();
    let served: Value = serde_json::from_slice(&bytes).expect("served document is JSON");
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"), "{}", served["openapi"]);
    assert_eq!(served, document());
}
