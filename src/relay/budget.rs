//! Each socket's message budget: a token bucket of `burst` messages refilled
//! at `per_sec`, checked on every incoming event, so it must cost next to
//! nothing. A token is taken with a plain atomic load and store (no locked
//! read-modify-write: one socket's events are extracted one after another,
//! and were two ever to race, the bucket would only miscount by one); the
//! clock is read only when the bucket runs dry, and then refills it with
//! what the time since the last refill earned (at most `burst`). Refilling
//! only when empty is a little more generous than a continuous bucket (an
//! idle spell is not capped until the next refill), never more than twice
//! the burst over any window: plenty for a flood limit.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

/// The relay's per-socket limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// Messages per second a socket may send on average.
    pub per_sec: u64,
    /// Messages a socket may send at once.
    pub burst: u64,
    /// Largest message (payload and Socket.io framing), in bytes.
    pub max_bytes: u64,
}

/// One socket's bucket.
pub(super) struct Budget {
    tokens: AtomicI64,
    /// When the bucket was last refilled, in ns since `born`.
    refilled_ns: AtomicU64,
    born: Instant,
}

impl Budget {
    /// A full bucket.
    pub(super) fn new(limits: &MessageLimits) -> Self {
        Budget {
            tokens: AtomicI64::new(i64::try_from(limits.burst).unwrap_or(i64::MAX)),
            refilled_ns: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    /// Takes one message's token; false if the socket is over its rate.
    #[inline]
    pub(super) fn take(&self, limits: &MessageLimits) -> bool {
        let tokens = self.tokens.load(Ordering::Relaxed);
        if tokens > 0 {
            self.tokens.store(tokens - 1, Ordering::Relaxed);
            return true;
        }
        self.refill(limits, self.born.elapsed().as_nanos() as u64)
    }

    /// The bucket ran dry at `now_ns`: refill it from the time elapsed, and
    /// take one token if that earned any.
    #[cold]
    fn refill(&self, limits: &MessageLimits, now_ns: u64) -> bool {
        let last = self.refilled_ns.load(Ordering::Relaxed);
        let elapsed = u128::from(now_ns.saturating_sub(last));
        let earned = (elapsed * u128::from(limits.per_sec) / 1_000_000_000).min(u128::from(limits.burst)) as u64;
        if earned == 0 {
            self.tokens.store(0, Ordering::Relaxed);
            return false;
        }
        // Keep the fraction of a token already under way, unless capped
        let spent_ns = if earned == limits.burst {
            now_ns
        } else {
            last + (u128::from(earned) * 1_000_000_000 / u128::from(limits.per_sec.max(1))) as u64
        };
        self.refilled_ns.store(spent_ns, Ordering::Relaxed);
        self.tokens.store(i64::try_from(earned).unwrap_or(i64::MAX) - 1, Ordering::Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: MessageLimits = MessageLimits { per_sec: 100, burst: 10, max_bytes: 1024 };

    #[test]
    fn burst_then_rate() {
        let b = Budget::new(&LIMITS);
        for i in 0..10 {
            assert!(b.take(&LIMITS), "burst message {i}");
        }
        // Dry: nothing earned within the same instant
        assert!(!b.refill(&LIMITS, 1_000));
        // 50 ms later: 5 more
        let t = 50_000_000;
        assert!(b.refill(&LIMITS, t));
        for _ in 0..4 {
            assert!(b.take(&LIMITS));
        }
        assert_eq!(b.tokens.load(Ordering::Relaxed), 0, "five in 50 ms at 100/s");
        // 15 ms later: one token earned, the 5 ms fraction kept
        assert!(b.refill(&LIMITS, t + 15_000_000));
        assert!(!b.refill(&LIMITS, t + 16_000_000));
        assert!(b.refill(&LIMITS, t + 20_000_000), "the fraction carried over");
        // A long quiet spell gives the burst, no more
        assert!(b.refill(&LIMITS, 60_000_000_000));
        assert_eq!(b.tokens.load(Ordering::Relaxed), 9);
    }
}
