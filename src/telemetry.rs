//! Logging: `tracing` to stderr, filtered by `LOG_LEVEL`. Security events use
//! the `audit` target; they also go, one JSON object per line, to
//! `<data>/audit.log` (size-rotated, whatever `LOG_LEVEL` says).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// `audit.log` is rotated past this size…
pub const AUDIT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// …keeping this many older files (`audit.log.1` newest).
pub const AUDIT_KEEP: usize = 5;
/// The audit log's file name in the data directory.
pub const AUDIT_FILE: &str = "audit.log";

/// Turns `LOG_LEVEL` (a Node-style level such as `INFO` or `debug`, or a full
/// `tracing` filter) into a filter. Bare levels keep chatty dependencies at
/// `warn` so that `debug` shows the gateway's own decisions.
pub fn filter_for(level: &str) -> Result<EnvFilter, tracing_subscriber::filter::ParseError> {
    let lower = level.trim().to_ascii_lowercase();
    let directive = match lower.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" | "off" => {
            format!("{lower},socketioxide=warn,engineioxide=warn,sled=warn,hyper=warn,tower=warn")
        }
        "silent" => "off".to_owned(),
        _ => level.to_owned(),
    };
    EnvFilter::try_new(directive)
}

/// Installs the global subscriber (once, at start-up); with a data
/// directory, also the audit log file in it.
pub fn init(level: &str, data_path: Option<&Path>) -> anyhow::Result<()> {
    let filter = filter_for(level).map_err(|e| anyhow::anyhow!("invalid LOG_LEVEL {level:?}: {e}"))?;
    let console = tracing_subscriber::fmt::layer()
        // Colour codes only for a terminal, never in files or pipes
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_filter(filter);
    let audit = match data_path {
        Some(dir) => {
            crate::rootkey::ensure_private_dir(dir)?;
            let file = RotatingFile::open(dir.join(AUDIT_FILE), AUDIT_MAX_BYTES, AUDIT_KEEP)?;
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_ansi(false)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(file)
                    .with_filter(tracing_subscriber::filter::filter_fn(|m| m.target() == "audit")),
            )
        }
        None => None,
    };
    tracing_subscriber::registry().with(console).with(audit).try_init().map_err(|e| anyhow::anyhow!("{e}"))
}

/// An append-only file that rolls over to `.1`, `.2`, … past a size.
#[derive(Clone)]
pub struct RotatingFile(Arc<Mutex<Rotating>>);

struct Rotating {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
    keep: usize,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

impl RotatingFile {
    pub fn open(path: PathBuf, max: u64, keep: usize) -> std::io::Result<Self> {
        let file = open_append(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile(Arc::new(Mutex::new(Rotating { path, file, size, max, keep }))))
    }
}

impl Rotating {
    fn rotate(&mut self) -> std::io::Result<()> {
        let name = |n: usize| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        let _ = std::fs::remove_file(name(self.keep));
        for n in (1..self.keep).rev() {
            let _ = std::fs::rename(name(n), name(n + 1));
        }
        std::fs::rename(&self.path, name(1))?;
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// One log line's writer: the line is written whole under the lock.
pub struct LineWriter(RotatingFile, Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.1.is_empty() {
            return;
        }
        let mut r = self.0.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if r.size > 0
            && r.size + self.1.len() as u64 > r.max
            && r.keep > 0
            && let Err(e) = r.rotate()
        {
            eprintln!("audit log rotation failed: {e}");
        }
        match r.file.write_all(&self.1) {
            Ok(()) => r.size += self.1.len() as u64,
            Err(e) => eprintln!("audit log write failed: {e}"),
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RotatingFile {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(self.clone(), Vec::with_capacity(256))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rotates_past_the_size_keeping_whole_lines() {
        use tracing_subscriber::fmt::MakeWriter;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let file = super::RotatingFile::open(path.clone(), 100, 2).unwrap();
        for i in 0..20 {
            let mut w = file.make_writer();
            std::io::Write::write_all(&mut w, format!("{{\"line\":{i:03}, \"pad\":\"xxxxxxxxxx\"}}\n").as_bytes())
                .unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.len() <= 100 && current.ends_with("019, \"pad\":\"xxxxxxxxxx\"}\n"), "{current}");
        assert!(dir.path().join("audit.log.1").exists() && dir.path().join("audit.log.2").exists());
        assert!(!dir.path().join("audit.log.3").exists(), "keeps two");
        for f in ["audit.log", "audit.log.1", "audit.log.2"] {
            let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
            assert!(text.lines().all(|l| l.starts_with('{') && l.ends_with('}')), "whole lines in {f}");
        }
    }

    #[test]
    fn levels_and_filters() {
        assert!(super::filter_for("INFO").is_ok());
        assert!(super::filter_for("debug").is_ok());
        assert!(super::filter_for("meld_gateway=trace").is_ok());
        assert!(super::filter_for("=====").is_err());
    }
}
