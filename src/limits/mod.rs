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

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The key a client IP is limited under: an IPv4 address as it is (an
/// IPv4-mapped IPv6 one as IPv4), an IPv6 address by its /64 prefix, since
/// one subscriber usually holds a whole /64 and could otherwise take a new
/// address, and a fresh bucket, for every request.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_prefix() {
        let key = |s: &str| client_key(s.parse().unwrap()).to_string();
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }

    #[test]
    fn log_throttle_allows_one_line_a_second() {
        let t = LogThrottle::default();
        assert_eq!(t.allow(), Some(0));
        assert_eq!(t.allow(), None);
        assert_eq!(t.allow(), None);
    }
}
