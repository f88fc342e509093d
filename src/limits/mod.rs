//! Limits against exhaustion that are not about one protocol: keyed rate
//! limits (HTTP requests and activation mails per client IP or address) and
//! open connections per IP and in total. The relay's per-socket message
//! budget lives with the relay (`relay::budget`), where it is checked on
//! every message without a lock.
//!
//! Knows nothing of HTTP or Socket.io: callers give keys and act on verdicts.

pub mod conns;
pub mod rate;

pub use conns::{ConnLimits, ConnRefusal, ConnSlot, Conns};
pub use rate::{KeyedLimiter, Quota, RetryAfter};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// At most one log line a second for a kind of refusal, so that a flood of
/// refusals does not flood the log: [`LogThrottle::allow`] says whether to
/// write this one, and how many were left out since the last.
pub struct LogThrottle {
    born: Instant,
    /// When a line was last allowed, in ms since `born`, plus one second (so
    /// that the first is allowed).
    last_ms: AtomicU64,
    skipped: AtomicU64,
}

impl Default for LogThrottle {
    fn default() -> Self {
        LogThrottle { born: Instant::now(), last_ms: AtomicU64::new(0), skipped: AtomicU64::new(0) }
    }
}

impl LogThrottle {
    /// `Some(left out since the last line)` if this one may be logged.
    pub fn allow(&self) -> Option<u64> {
        let now = self.born.elapsed().as_millis() as u64 + 1000;
        let last = self.last_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < 1000
            || self.last_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            self.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.skipped.swap(0, Ordering::Relaxed))
    }
}
