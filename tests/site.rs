//! The website through the real router: `web.dir` replaces embedded files
//! one by one and serves nothing outside its `assets/`; the documentation
//! pages render with the site's headers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use meld_gateway::config::{Settings, WebSettings};
use tower::ServiceExt;

mod common;

struct Site {
    app: axum::Router,
    _data: tempfile::TempDir,
}

fn site(web_dir: Option<&std::path::Path>) -> Site {
    let settings = Settings { web: WebSettings { dir: web_dir.map(ToOwned::to_owned) }, ..Settings::default() };
    let gw = common::gateway(settings);
    Site { app: gw.app, _data: gw.dir }
}

impl Site {
    async fn get(&self, path: &str) -> (StatusCode, String, String) {
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let content_type =
            res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let ours = path.starts_with("/assets/") || path.starts_with("/docs");
        assert!(!ours || res.headers().contains_key(header::CONTENT_SECURITY_POLICY), "{path}: CSP");
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 22).await.unwrap();
        (status, content_type, String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[tokio::test]
async fn web_dir_replaces_embedded_files_one_by_one() {
    let web = tempfile::tempdir().unwrap();
    std::fs::create_dir(web.path().join("assets")).unwrap();
    std::fs::write(web.path().join("index.html"), "<h1>Our own gateway</h1><p>{{origin}}</p>").unwrap();
    std::fs::write(web.path().join("assets/site.css"), "body { color: rebeccapurple; }").unwrap();
    std::fs::write(web.path().join("assets/logo.png"), b"\x89PNG fake").unwrap();
    std::fs::write(web.path().join("assets/notes.txt"), "not a known type").unwrap();
    std::fs::write(web.path().join("secret.txt"), "outside assets").unwrap();
    let custom = site(Some(web.path()));
    let embedded = site(None);

    let (status, _, home) = custom.get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("<h1>Our own gateway</h1><p>https://ex.org/</p>"), "{home}");
    assert!(home.contains(r#"href="/docs""#), "the embedded layout still wraps it");
    let (_, _, embedded_home) = embedded.get("/").await;
    assert!(!embedded_home.contains("Our own gateway"));

    let (status, content_type, css) = custom.get("/assets/site.css").await;
    assert_eq!(
        (status, content_type.as_str(), css.as_str()),
        (StatusCode::OK, "text/css; charset=utf-8", "body { color: rebeccapurple; }")
    );
    let (status, content_type, _) = custom.get("/assets/logo.png").await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "image/png"));
    // Files the operator did not replace stay embedded
    let (status, _, signup) = custom.get("/signup").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(signup, embedded.get("/signup").await.2);
    assert_eq!(custom.get("/assets/common.js").await, embedded.get("/assets/common.js").await);
    // Nothing else of the directory is reachable
    for path in [
        "/assets/notes.txt",
        "/assets/..%2Fsecret.txt",
        "/assets/%2e%2e%2fsecret.txt",
        "/secret.txt",
        "/assets/.hidden.css",
    ] {
        let (status, _, body) = custom.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("outside assets"), "{path}");
    }
}

#[tokio::test]
async fn documentation_pages_render_in_the_layout() {
    let site = site(None);
    let (status, content_type, index) = site.get("/docs").await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "text/html; charset=utf-8"));
    assert!(index.contains(r#"<a href="/docs/operator-guide">"#), "{index}");
    let (status, _, guide) = site.get("/docs/operator-guide").await;
    assert_eq!(status, StatusCode::OK);
    assert!(guide.contains("<table>") && guide.contains("M_LD_GATEWAY_WEB__DIR"), "settings table rendered");
    assert!(guide.contains(r#"aria-current="page""#), "navigation marks Docs");
    assert_eq!(site.get("/docs/security.md").await.0, StatusCode::OK, "links written for GitHub work too");
    assert_eq!(site.get("/docs/README.md").await.2, index, "README.md is the index");
    assert_eq!(site.get("/docs/nothing").await.0, StatusCode::NOT_FOUND);
    assert_eq!(site.get("/docs/img/website-account.png").await.1, "image/png");
}
