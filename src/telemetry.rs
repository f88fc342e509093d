//! Logging: `tracing` to stderr, filtered by `LOG_LEVEL`. Security events use
//! the `audit` target so they can be filtered or shipped separately.

use tracing_subscriber::EnvFilter;

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

/// Installs the global subscriber (once, at start-up).
pub fn init(level: &str) -> anyhow::Result<()> {
    let filter = filter_for(level).map_err(|e| anyhow::anyhow!("invalid LOG_LEVEL {level:?}: {e}"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a terminal, never in files or pipes
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn levels_and_filters() {
        assert!(super::filter_for("INFO").is_ok());
        assert!(super::filter_for("debug").is_ok());
        assert!(super::filter_for("meld_gateway=trace").is_ok());
        assert!(super::filter_for("=====").is_err());
    }
}
