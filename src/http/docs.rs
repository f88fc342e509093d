//! The documentation of `doc/`, embedded like the rest of the website and
//! rendered from its Markdown into the site's layout at `/docs` and
//! `/docs/{page}`, so that readers of a running gateway have the guides of
//! exactly its version.
//!
//! The Markdown is ours, but it is rendered as if it were not: raw HTML in it
//! is shown as text, and links are rewritten to stay on this origin (other
//! pages of `doc/` to their `/docs/…` path, files outside `doc/` to plain
//! text, since the site does not serve them).

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::get;
use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};

use super::ApiState;
use super::site::{page, secured};

/// The pages: path segment (empty for the index), title, Markdown.
const PAGES: &[(&str, &str, &str)] = &[
    ("", "Documentation", include_str!("../../doc/README.md")),
    ("getting-started", "Getting started", include_str!("../../doc/getting-started.md")),
    ("http-api", "HTTP API", include_str!("../../doc/http-api.md")),
    ("operator-guide", "Operator guide", include_str!("../../doc/operator-guide.md")),
    ("architecture", "Architecture", include_str!("../../doc/architecture.md")),
    ("security", "Security", include_str!("../../doc/security.md")),
];

/// The images the pages show, under `/docs/img/`.
const IMAGES: &[(&str, &str, &[u8])] =
    &[("website-account.png", "image/png", include_bytes!("../../doc/img/website-account.png"))];

/// Each page rendered once, on first use.
static RENDERED: LazyLock<HashMap<&'static str, String>> =
    LazyLock::new(|| PAGES.iter().map(|&(path, _, markdown)| (path, render(markdown))).collect());

/// The documentation's routes, merged into the site's.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/docs", get(async |State(state): State<ApiState>| doc_page(&state, "")))
        .route("/docs/", get(async || Redirect::permanent("/docs")))
        .route("/docs/openapi.json", get(async || Redirect::permanent("/api/v1/openapi.json")))
        .route(
            "/docs/{page}",
            get(async |State(state): State<ApiState>, Path(name): Path<String>| doc_page(&state, &name)),
        )
        .route("/docs/img/{file}", get(image))
}

fn doc_page(state: &ApiState, name: &str) -> Response {
    let name = name.strip_suffix(".md").unwrap_or(name);
    let name = if name == "README" { "" } else { name };
    let found = PAGES.iter().find(|(path, _, _)| *path == name).zip(RENDERED.get(name));
    match found {
        Some(((_, title, _), body)) => {
            let main = format!(r#"<article class="doc">{body}</article>"#);
            secured(StatusCode::OK, "text/html; charset=utf-8", page(state, "/docs", title, &main, &[]))
        }
        None => {
            let main = r#"<h1>Not found</h1><p>No such page. See <a href="/docs">the documentation</a>.</p>"#;
            secured(StatusCode::NOT_FOUND, "text/html; charset=utf-8", page(state, "/docs", "Not found", main, &[]))
        }
    }
}

async fn image(Path(file): Path<String>) -> Response {
    match IMAGES.iter().find(|(name, _, _)| *name == file) {
        Some(&(_, content_type, bytes)) => secured(StatusCode::OK, content_type, bytes),
        None => secured(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "no such image"),
    }
}

/// Markdown to HTML: tables, raw HTML shown as text, headings given the
/// ids GitHub gives them (the pages link to each other's sections by those),
/// links kept on this origin.
fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut events: Vec<Event<'_>> = Parser::new_ext(markdown, options).collect();
    let mut slugs: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { level, .. }) = &events[i] {
            let level: HeadingLevel = *level;
            let text: String = events[i + 1..]
                .iter()
                .take_while(|e| !matches!(e, Event::End(TagEnd::Heading(_))))
                .filter_map(|e| match e {
                    Event::Text(t) | Event::Code(t) => Some(t.as_ref()),
                    _ => None,
                })
                .collect();
            let mut id = slug(&text);
            let seen = slugs.entry(id.clone()).or_insert(0);
            if *seen > 0 {
                id = format!("{id}-{seen}");
            }
            *seen += 1;
            events[i] = Event::Start(Tag::Heading {
                level,
                id: Some(CowStr::from(id)),
                classes: Vec::new(),
                attrs: Vec::new(),
            });
        }
        i += 1;
    }
    // Links leaving doc/ lose their anchor (text stays): drop both ends
    let mut dropped = Vec::new();
    let events = events.into_iter().filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => match link_target(&dest_url) {
            Some(dest) => {
                dropped.push(false);
                Some(Event::Start(Tag::Link { link_type, dest_url: dest.into(), title, id }))
            }
            None => {
                dropped.push(true);
                None
            }
        },
        Event::End(TagEnd::Link) => (!dropped.pop().unwrap_or(false)).then_some(Event::End(TagEnd::Link)),
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            let dest = link_target(&dest_url).unwrap_or_default();
            Some(Event::Start(Tag::Image { link_type, dest_url: dest.into(), title, id }))
        }
        other => Some(other),
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// Where a link of a doc page points on this site; `None` for files the
/// site does not serve.
fn link_target(dest: &str) -> Option<String> {
    if dest.starts_with("https://")
        || dest.starts_with("http://")
        || dest.starts_with("mailto:")
        || dest.starts_with('#')
    {
        return Some(dest.to_owned());
    }
    if dest.starts_with('/') {
        return Some(dest.to_owned()); // a gateway route, as in the guides' examples
    }
    let (file, fragment) = match dest.split_once('#') {
        Some((file, fragment)) => (file, format!("#{fragment}")),
        None => (dest, String::new()),
    };
    let file = file.strip_prefix("./").unwrap_or(file);
    if file == "openapi.json" {
        return Some("/api/v1/openapi.json".into());
    }
    if let Some(image) = file.strip_prefix("img/") {
        return IMAGES.iter().any(|(name, _, _)| *name == image).then(|| format!("/docs/img/{image}"));
    }
    let stem = file.strip_suffix(".md")?;
    let stem = if stem == "README" { "" } else { stem };
    let path = if stem.is_empty() { "/docs".to_owned() } else { format!("/docs/{stem}") };
    PAGES.iter().any(|(page, _, _)| *page == stem).then(|| format!("{path}{fragment}"))
}

/// GitHub's heading anchors: lower case, punctuation dropped, spaces to
/// hyphens (so "7. The Node gateway's 🚧 items" is `7-the-node-gateways--items`).
fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_githubs() {
        assert_eq!(slug("7. The Node gateway's 🚧 items"), "7-the-node-gateways--items");
        assert_eq!(slug("`meld-gateway verify`"), "meld-gateway-verify");
    }

    #[test]
    fn links_stay_on_this_origin() {
        assert_eq!(link_target("operator-guide.md#tls").as_deref(), Some("/docs/operator-guide#tls"));
        assert_eq!(link_target("README.md").as_deref(), Some("/docs"));
        assert_eq!(link_target("README.md#x").as_deref(), Some("/docs#x"));
        assert_eq!(link_target("openapi.json").as_deref(), Some("/api/v1/openapi.json"));
        assert_eq!(link_target("img/website-account.png").as_deref(), Some("/docs/img/website-account.png"));
        assert_eq!(link_target("../compose.example.yaml"), None);
        assert_eq!(link_target("nothere.md"), None);
        assert_eq!(link_target("https://m-ld.org/").as_deref(), Some("https://m-ld.org/"));
    }

    #[test]
    fn raw_html_is_text_and_foreign_links_lose_their_anchor() {
        let html = render("# A *b*\n\n<script>alert(1)</script>\n\n[x](../Cargo.toml) [y](http-api.md#z)\n\n# A b\n");
        assert!(html.contains(r#"<h1 id="a-b">"#), "{html}");
        assert!(html.contains(r#"<h1 id="a-b-1">"#), "{html}");
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("x <a href=\"/docs/http-api#z\">y</a>"), "{html}");
    }

    #[test]
    fn every_page_renders_and_every_doc_link_resolves() {
        for (path, _, markdown) in PAGES {
            let html = &RENDERED[path];
            assert!(html.len() > markdown.len() / 2, "{path} rendered");
            for (at, _) in html.match_indices("href=\"/docs") {
                let tail = &html[at + 6..];
                let href = &tail[..tail.find('"').unwrap_or(tail.len())];
                let (target, fragment) = href.split_once('#').unwrap_or((href, ""));
                let target = target.trim_start_matches("/docs").trim_start_matches('/');
                let page = RENDERED.get(target).unwrap_or_else(|| panic!("{path} links to missing {href}"));
                if !fragment.is_empty() {
                    assert!(page.contains(&format!("id=\"{fragment}\"")), "{path} links to missing section {href}");
                }
            }
        }
    }
}
