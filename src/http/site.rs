//! The website, embedded in the binary (it needs no files beside it): the
//! home page, the root public key, sign-up and the account page, and their
//! stylesheet and scripts. Pages are fragments of `web/` filled into one
//! layout with this gateway's origin and domain; everything interactive is
//! done by the browser against the Administration API, so this module knows
//! no account rules.
//!
//! An operator who restyles the site sets `web.dir`: a file of the same
//! name there (`layout.html`, a page fragment, `assets/site.css`, or any
//! new file under `assets/`) replaces the embedded one, read at each request
//! so edits show at once; every other file stays embedded.
//!
//! Every response forbids framing, sniffing and referrers, and its
//! Content-Security-Policy admits scripts, styles and requests from this
//! origin only (no inline script or style).

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::ApiState;

const LAYOUT: &str = include_str!("../../web/layout.html");
const HOME: &str = include_str!("../../web/index.html");
const PUBLIC_KEY: &str = include_str!("../../web/publickey.html");
const PUBLIC_KEY_UNAVAILABLE: &str = include_str!("../../web/publickey-unavailable.html");
const SIGN_UP: &str = include_str!("../../web/signup.html");
const ACCOUNT: &str = include_str!("../../web/account.html");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The static files under `/assets/`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("/assets/site.css", "text/css; charset=utf-8", include_bytes!("../../web/assets/site.css")),
    ("/assets/common.js", "text/javascript; charset=utf-8", include_bytes!("../../web/assets/common.js")),
    ("/assets/signup.js", "text/javascript; charset=utf-8", include_bytes!("../../web/assets/signup.js")),
    ("/assets/account.js", "text/javascript; charset=utf-8", include_bytes!("../../web/assets/account.js")),
    ("/assets/icon.svg", "image/svg+xml", include_bytes!("../../web/assets/icon.svg")),
];

/// The navigation bar: path and label.
const NAV: &[(&str, &str)] =
    &[("/", "Home"), ("/signup", "Sign up"), ("/account", "Account"), ("/publicKey", "Public key"), ("/docs", "Docs")];

/// Content types of the files an operator's `web.dir/assets` may add.
const ASSET_TYPES: &[(&str, &str)] = &[
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("webp", "image/webp"),
    ("ico", "image/x-icon"),
    ("woff2", "font/woff2"),
];

/// Where the site's files come from: embedded, or the operator's directory
/// first (`web.dir`).
#[derive(Clone, Default)]
pub struct WebDir(Option<Arc<PathBuf>>);

impl WebDir {
    pub fn new(dir: Option<PathBuf>) -> Self {
        WebDir(dir.map(Arc::new))
    }

    /// The operator's copy of `name` (a relative path of known, safe
    /// segments), or `None` to use the embedded one.
    fn read(&self, name: &str) -> Option<Vec<u8>> {
        let dir = self.0.as_deref()?;
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(file = %dir.join(name).display(), error = %e, "web.dir file unreadable; serving the embedded one");
                None
            }
        }
    }

    /// A page template: the operator's, or the embedded one.
    fn text(&self, name: &str, embedded: &'static str) -> Cow<'static, str> {
        match self.read(name).map(String::from_utf8) {
            Some(Ok(text)) => Cow::Owned(text),
            Some(Err(_)) => {
                tracing::warn!(file = name, "web.dir file is not UTF-8; serving the embedded one");
                Cow::Borrowed(embedded)
            }
            None => Cow::Borrowed(embedded),
        }
    }
}

/// The site's routes, merged into the gateway's router.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(home))
        .route("/publicKey", get(public_key))
        .route("/signup", get(sign_up))
        .route("/account", get(account))
        // The Node gateway's page names, so that old links still land
        .route("/register", get(|| async { Redirect::permanent("/signup") }))
        .route("/activate", get(|| async { Redirect::permanent("/signup") }))
        .route("/favicon.ico", get(|| async { Redirect::permanent("/assets/icon.svg") }))
        .route("/assets/{file}", get(asset))
        .merge(super::docs::routes())
}

/// `GET /assets/{file}`: the operator's file of that name, else the
/// embedded one.
async fn asset(State(state): State<ApiState>, Path(file): Path<String>) -> Response {
    let safe = !file.starts_with('.') && file.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    let extension = file.rsplit_once('.').map(|(_, ext)| ext);
    let content_type = ASSET_TYPES.iter().find(|(ext, _)| Some(*ext) == extension).map(|(_, t)| *t);
    let path = format!("/assets/{file}");
    let embedded = ASSETS.iter().find(|(p, _, _)| *p == path);
    let found = match (safe, content_type) {
        (true, Some(content_type)) => state.web.read(&format!("assets/{file}")).map(|bytes| (content_type, bytes)),
        _ => None,
    };
    match (found, embedded) {
        (Some((content_type, bytes)), _) => secured(StatusCode::OK, content_type, bytes),
        (None, Some(&(_, content_type, bytes))) => secured(StatusCode::OK, content_type, bytes),
        (None, None) => secured(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "no such file"),
    }
}

/// A response with the site's security headers.
pub(super) fn secured(status: StatusCode, content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut res = (status, body).into_response();
    let headers = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-cache"),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
        (header::HeaderName::from_static("cross-origin-resource-policy"), "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    res
}

/// HTML-escapes text for element content and attribute values.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Fills `{{name}}` placeholders in one pass, so that a value can never
/// introduce another placeholder. Values are inserted as given (escape
/// first); unknown placeholders are left as they are.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}").and_then(|end| values.iter().find(|(k, _)| *k == &after[..end]).map(|(_, v)| (end, v))) {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The navigation links, the current page marked for assistive technology.
fn nav(current: &str) -> String {
    NAV.iter()
        .map(|(path, label)| {
            let mark = if *path == current { r#" aria-current="page""# } else { "" };
            format!(r#"<li><a href="{path}"{mark}>{label}</a></li>"#)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A page: its fragment in the layout, with this gateway's names filled in.
pub(super) fn page(state: &ApiState, path: &str, title: &str, main: &str, extra: &[(&str, &str)]) -> String {
    let origin = escape(&state.gateway.origin);
    let domain = escape(&state.gateway.domain);
    let mut values = vec![("origin", origin.as_str()), ("domain", domain.as_str())];
    values.extend_from_slice(extra);
    let main = fill(main, &values);
    let nav = nav(path);
    values.extend_from_slice(&[("title", title), ("nav", nav.as_str()), ("main", main.as_str())]);
    fill(&state.web.text("layout.html", LAYOUT), &values)
}

fn html(status: StatusCode, body: String) -> Response {
    secured(status, "text/html; charset=utf-8", body)
}

/// `GET /`: what the gateway is and how to connect a clone to it.
pub async fn home(State(state): State<ApiState>) -> Response {
    html(StatusCode::OK, page(&state, "/", "Home", &state.web.text("index.html", HOME), &[]))
}

/// `GET /signup`: account name and email, activation code, new key.
async fn sign_up(State(state): State<ApiState>) -> Response {
    html(StatusCode::OK, page(&state, "/signup", "Sign up", &state.web.text("signup.html", SIGN_UP), &[]))
}

/// `GET /account`: sign in with a key and manage the account.
async fn account(State(state): State<ApiState>) -> Response {
    html(StatusCode::OK, page(&state, "/account", "Account", &state.web.text("account.html", ACCOUNT), &[]))
}

/// `GET /publicKey`: the root public key exactly as `/api/v1/publicKey`
/// serves it, and the SHA-256 fingerprint of its DER.
async fn public_key(State(state): State<ApiState>) -> Response {
    let title = "Root public key";
    match state.root_public.pem().await {
        Ok(pem) => {
            let fingerprint = fingerprint(&pem).unwrap_or_else(|| "(not a PEM key)".to_owned());
            let pem = escape(&pem);
            let extra = [("pem", pem.as_str()), ("fingerprint", fingerprint.as_str())];
            let main = state.web.text("publickey.html", PUBLIC_KEY);
            html(StatusCode::OK, page(&state, "/publicKey", title, &main, &extra))
        }
        Err(_) => {
            let main = state.web.text("publickey-unavailable.html", PUBLIC_KEY_UNAVAILABLE);
            html(StatusCode::SERVICE_UNAVAILABLE, page(&state, "/publicKey", title, &main, &[]))
        }
    }
}

/// SHA-256 of a PEM's DER content, as colon-separated upper-case hex pairs.
fn fingerprint(pem: &str) -> Option<String> {
    let body: String = pem.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    if der.is_empty() {
        return None;
    }
    let digest = Sha256::digest(&der);
    Some(digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_is_one_pass() {
        let out = fill("a {{x}} b {{y}} {{unknown}} {{", &[("x", "{{y}}"), ("y", "Y")]);
        assert_eq!(out, "a {{y}} b Y {{unknown}} {{");
    }

    #[test]
    fn fingerprint_is_of_the_der() {
        let der = b"\x30\x03\x02\x01\x05";
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n");
        let expect: Vec<String> = Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(fingerprint(&pem), Some(expect.join(":")));
        assert_eq!(fingerprint("not base64 !"), None);
    }

    #[test]
    fn escape_covers_markup() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn every_page_fragment_references_only_served_assets() {
        for fragment in [LAYOUT, HOME, PUBLIC_KEY, SIGN_UP, ACCOUNT] {
            for (i, _) in fragment.match_indices("/assets/") {
                let tail = &fragment[i..];
                let end = tail.find('"').unwrap_or(tail.len());
                assert!(ASSETS.iter().any(|(p, _, _)| *p == &tail[..end]), "{} is not served", &tail[..end]);
            }
            assert!(!fragment.contains("<script>") && !fragment.contains("style="), "inline script or style");
        }
    }
}
