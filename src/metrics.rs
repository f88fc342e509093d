//! Process-wide counters that have no better owner (authentication
//! failures, HTTP requests by route and status), and the Prometheus text
//! exposition of every metric. The relay keeps its own counters
//! (`relay::RelayStats`); the exposition reads them too.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

static AUTH_FAILURES: AtomicU64 = AtomicU64::new(0);
static BACKUP_APPLIED: AtomicU64 = AtomicU64::new(0);
static BACKUP_LAG_US_SUM: AtomicU64 = AtomicU64::new(0);
static BACKUP_LAG_US_MAX: AtomicU64 = AtomicU64::new(0);
static HTTP_REQUESTS: Mutex<BTreeMap<(String, &'static str, u16), u64>> = Mutex::new(BTreeMap::new());

/// Counts a refused authentication or authorisation (HTTP or handshake).
pub fn auth_failure() {
    AUTH_FAILURES.fetch_add(1, Ordering::Relaxed);
}

/// Records that a backup clone applied a relayed operation `lag` after the
/// relay handed it over (the time it waited behind other work included).
pub fn backup_applied(lag: std::time::Duration) {
    let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
    BACKUP_APPLIED.fetch_add(1, Ordering::Relaxed);
    BACKUP_LAG_US_SUM.fetch_add(us, Ordering::Relaxed);
    BACKUP_LAG_US_MAX.fetch_max(us, Ordering::Relaxed);
}

/// Counts an HTTP request by its route template (not its path, which would
/// grow without bound), method and status.
pub fn http_request(route: &str, method: &axum::http::Method, status: u16) {
    let method = match *method {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    let mut map = HTTP_REQUESTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *map.entry((route.to_owned(), method, status)).or_insert(0) += 1;
}

/// One metric family in the text format.
pub struct Family<'a> {
    pub name: String,
    pub help: &'a str,
    /// `counter` or `gauge`.
    pub kind: &'a str,
    /// Label sets (`key="value",…`, already escaped) with values.
    pub samples: Vec<(String, u64)>,
}

/// Escapes a label value for the text format.
pub fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The families kept here.
pub fn own_families() -> Vec<Family<'static>> {
    let http = HTTP_REQUESTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    vec![
        Family {
            name: "meld_gateway_auth_failures_total".into(),
            help: "Refused authentications and authorisations (HTTP and Socket.io handshakes).",
            kind: "counter",
            samples: vec![(String::new(), AUTH_FAILURES.load(Ordering::Relaxed))],
        },
        Family {
            name: "meld_gateway_backup_operations_applied_total".into(),
            help: "Relayed operations applied by backup clones.",
            kind: "counter",
            samples: vec![(String::new(), BACKUP_APPLIED.load(Ordering::Relaxed))],
        },
        Family {
            name: "meld_gateway_backup_apply_lag_microseconds_total".into(),
            help: "Sum of the apply lags (relay hand-over to applied) of those operations; \
                   divide its rate by the applied rate for the mean lag.",
            kind: "counter",
            samples: vec![(String::new(), BACKUP_LAG_US_SUM.load(Ordering::Relaxed))],
        },
        Family {
            name: "meld_gateway_backup_apply_lag_max_microseconds".into(),
            help: "The longest apply lag since the previous scrape.",
            kind: "gauge",
            samples: vec![(String::new(), BACKUP_LAG_US_MAX.swap(0, Ordering::Relaxed))],
        },
        Family {
            name: "meld_gateway_http_requests_total".into(),
            help: "HTTP requests by route template, method and status.",
            kind: "counter",
            samples: http
                .iter()
                .map(|((route, method, status), n)| {
                    (format!("route=\"{}\",method=\"{method}\",status=\"{status}\"", label(route)), *n)
                })
                .collect(),
        },
    ]
}

/// The text exposition of `families`.
pub fn render(families: &[Family<'_>]) -> String {
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (labels, value) in &f.samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{} {value}", f.name);
            } else {
                let _ = writeln!(out, "{}{{{labels}}} {value}", f.name);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        http_request("/a/{b}", &axum::http::Method::GET, 200);
        http_request("/a/{b}", &axum::http::Method::GET, 200);
        let text = render(&own_families());
        assert!(text.contains("# TYPE meld_gateway_http_requests_total counter\n"));
        assert!(text.contains("meld_gateway_http_requests_total{route=\"/a/{b}\",method=\"GET\",status=\"200\"} "));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
