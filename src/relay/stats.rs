//! Relay counters, read by the metrics endpoint and logged at shutdown.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters of what the relay did.
#[derive(Debug, Default)]
pub struct RelayStats {
    /// Handshakes accepted.
    pub connected: AtomicU64,
    /// Handshakes refused.
    pub refused: AtomicU64,
    /// Sockets currently connected.
    pub open: AtomicU64,
    /// `operation` messages received.
    pub operations: AtomicU64,
    /// Payload bytes of `operation`, `send`, `reply` and `notify` messages
    /// received.
    pub bytes: AtomicU64,
    /// `send`/`reply`/`notify` messages received.
    pub unicasts: AtomicU64,
    /// Unicasts whose recipient was not connected.
    pub unicasts_unrouted: AtomicU64,
    /// Events queued to sockets.
    pub delivered: AtomicU64,
    /// Events not queued because the socket had closed.
    pub undeliverable: AtomicU64,
    /// Sockets disconnected because their queue was full.
    pub slow_disconnects: AtomicU64,
    /// Malformed events refused.
    pub malformed: AtomicU64,
    /// Sockets cut off for sending messages too fast.
    pub refused_rate: AtomicU64,
    /// Sockets cut off for sending a message too large.
    pub refused_size: AtomicU64,
}

impl RelayStats {
    /// Name/value pairs for exposition.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let v = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("relay_handshakes_accepted_total", v(&self.connected)),
            ("relay_handshakes_refused_total", v(&self.refused)),
            ("relay_sockets_open", v(&self.open)),
            ("relay_operations_received_total", v(&self.operations)),
            ("relay_payload_bytes_received_total", v(&self.bytes)),
            ("relay_unicasts_received_total", v(&self.unicasts)),
            ("relay_unicasts_unrouted_total", v(&self.unicasts_unrouted)),
            ("relay_events_delivered_total", v(&self.delivered)),
            ("relay_events_undeliverable_total", v(&self.undeliverable)),
            ("relay_slow_disconnects_total", v(&self.slow_disconnects)),
            ("relay_events_malformed_total", v(&self.malformed)),
        ]
    }

    /// Sockets cut off for breaking a limit, by limit (`rate`, `size`).
    pub fn limit_refusals(&self) -> [(&'static str, u64); 2] {
        [("rate", self.refused_rate.load(Ordering::Relaxed)), ("size", self.refused_size.load(Ordering::Relaxed))]
    }
}
