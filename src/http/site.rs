//! The website, embedded in the binary (it needs no files beside it): the
//! home page, the root public key, sign-up and the account page, and their
//! stylesheet and scripts. Pages are fragments of `web/` filled into one
//! layout with this gateway's origin and domain; everything interactive is
//! done by the browser against the Administration API, so this module knows
//! no account rules.
//!
//! Every response forbids framing, sniffing and referrers, and its
//! Content-Security-Policy admits scripts, styles and requests from this
//! origin only (no inline script or style).

use axum::Router;
use axum::extract::State;
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
    &[("/", "Home"), ("/signup", "Sign up"), ("/account", "Account"), ("/publicKey", "Public key")];

/// The site's routes, merged into the gateway's router.
pub fn routes() -> Router<ApiState> {
    let mut router = Router::new()
        .route("/", get(home))
        .route("/publicKey", get(public_key))
        .route("/signup", get(sign_up))
        .route("/account", get(account))
        // The Node gateway's page names, so that old links still land
        .route("/register", get(|| async { Redirect::permanent("/signup") }))
        .route("/activate", get(|| async { Redirect::permanent("/signup") }))
        .route("/favicon.ico", get(|| async { Redirect::permanent("/assets/icon.svg") }));
    for &(path, content_type, body) in ASSETS {
        router = router.route(path, get(move || async move { secured(StatusCode::OK, content_type, body) }));
    }
    router
}

/// A response with the site's security headers.
fn secured(status: StatusCode, content_type: &'static str, body: impl IntoResponse) -> Response {
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
fn page(state: &ApiState, path: &str, title: &str, main: &str, extra: &[(&str, &str)]) -> String {
    let origin = escape(&state.gateway.origin);
    let domain = escape(&state.gateway.domain);
    let mut values = vec![("origin", origin.as_str()), ("domain", domain.as_str())];
    values.extend_from_slice(extra);
    let main = fill(main, &values);
    let nav = nav(path);
    values.extend_from_slice(&[("title", title), ("nav", nav.as_str()), ("main", main.as_str())]);
    fill(LAYOUT, &values)
}

fn html(status: StatusCode, body: String) -> Response {
    secured(status, "text/html; charset=utf-8", body)
}

/// `GET /`: what the gateway is and how to connect a clone to it.
pub async fn home(State(state): State<ApiState>) -> Response {
    html(StatusCode::OK, page(&state, "/", "Home", HOME, &[]))
}

/// `GET /signup`: account name and email, activation code, new key.
async fn sign_up(State(state): State<ApiState>) -> Response {
    html(StatusCode::OK, page(&state, "/signup", "Sign up", SIGN_UP, &[]))
}

/// `GET /account`: sign in with a key and manage the account.
async fn account(State(state): State<ApiState>) -> Response {
    html(StatusCode::OK, page(&state, "/account", "Account", ACCOUNT, &[]))
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
            html(StatusCode::OK, page(&state, "/publicKey", title, PUBLIC_KEY, &extra))
        }
        Err(_) => html(StatusCode::SERVICE_UNAVAILABLE, page(&state, "/publicKey", title, PUBLIC_KEY_UNAVAILABLE, &[])),
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
