//! A keyed rate limiter (GCRA, the "virtual scheduling" form of a token
//! bucket): each key may do `burst` things at once and then `per_period /
//! period` on average. One entry per key holds the theoretical arrival time
//! of its next request; a key's bucket is full again once that time has
//! passed, so an idle entry carries no information and can be swept.
//!
//! For HTTP requests and activation mails, a few thousand decisions per
//! second at most: a mutex over a map is simple and cheap enough there. The
//! relay's per-message budget is elsewhere (`relay::budget`), lock-free.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys tracked at once; past it, idle keys are swept, and if none is
/// idle the new key is refused (an attacker with that many addresses is
/// better slowed down as a whole than let through).
const MAX_KEYS: usize = 100_000;
/// Least time between two sweeps of a full table.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// How many things per how long, with what burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Things allowed at once, after a quiet spell (≥ 1).
    pub burst: u32,
    /// How long it takes to earn one more (the period divided by its count).
    pub interval: Duration,
}

impl Quota {
    /// `per_sec` per second with `burst` at once (both at least 1).
    pub fn per_second(per_sec: u32, burst: u32) -> Self {
        Quota { burst: burst.max(1), interval: Duration::from_secs(1) / per_sec.max(1) }
    }

    /// `count` per `period`, all of them at once if saved up.
    pub fn per_period(count: u32, period: Duration) -> Self {
        Quota { burst: count.max(1), interval: period / count.max(1) }
    }
}

/// The limit was reached: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds to wait, at least 1 (for `Retry-After`).
    pub fn secs(self) -> u64 {
        self.0.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// A rate limit per key.
pub struct KeyedLimiter<K> {
    quota: Quota,
    /// Key → theoretical arrival time of its next request.
    tats: Mutex<HashMap<K, Instant>>,
    /// When the table was last swept (only ever locked inside `tats`).
    swept: Mutex<Option<Instant>>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter allowing `quota` per key.
    pub fn new(quota: Quota) -> Self {
        KeyedLimiter { quota, tats: Mutex::new(HashMap::new()), swept: Mutex::new(None) }
    }

    /// The quota this limiter applies.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// Counts one request for `key` now, or says how long to wait.
    pub fn check(&self, key: &K) -> Result<(), RetryAfter> {
        self.check_at(key, Instant::now())
    }

    /// Whether `key` could do one more now, without counting it.
    pub fn peek(&self, key: &K) -> Result<(), RetryAfter> {
        let tats = self.lock();
        match tats.get(key) {
            Some(tat) => self.verdict(*tat, Instant::now()).map(|_| ()),
            None => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Instant>> {
        self.tats.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The new theoretical arrival time if one more request at `now` fits.
    fn verdict(&self, tat: Instant, now: Instant) -> Result<Instant, RetryAfter> {
        let tat = tat.max(now);
        // The bucket holds `burst` intervals: a request fits while the
        // backlog after it stays within them
        let allowance = self.quota.interval * self.quota.burst;
        let next = tat + self.quota.interval;
        match (next - now).checked_sub(allowance) {
            Some(wait) if !wait.is_zero() => Err(RetryAfter(wait)),
            _ => Ok(next),
        }
    }

    pub(crate) fn check_at(&self, key: &K, now: Instant) -> Result<(), RetryAfter> {
        let mut tats = self.lock();
        if let Some(tat) = tats.get_mut(key) {
            *tat = self.verdict(*tat, now)?;
            return Ok(());
        }
        if tats.len() >= MAX_KEYS {
            // Entries in the past are full buckets: forgetting them changes
            // nothing. A sweep scans every key, so at most one a second
            if self.swept.lock().unwrap_or_else(|p| p.into_inner()).is_none_or(|at| now >= at + SWEEP_EVERY) {
                tats.retain(|_, tat| *tat > now);
                *self.swept.lock().unwrap_or_else(|p| p.into_inner()) = Some(now);
            }
            if tats.len() >= MAX_KEYS {
                return Err(RetryAfter(self.quota.interval.max(SWEEP_EVERY)));
            }
        }
        tats.insert(key.clone(), self.verdict(now, now)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let l = KeyedLimiter::new(Quota::per_second(10, 3));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(l.check_at(&"a", t0).is_ok(), "burst {i}");
        }
        let wait = l.check_at(&"a", t0).unwrap_err();
        assert_eq!(wait.0, Duration::from_millis(100));
        assert_eq!(wait.secs(), 1);
        // Another key has its own bucket
        assert!(l.check_at(&"b", t0).is_ok());
        // One interval later, exactly one more
        let t1 = t0 + Duration::from_millis(100);
        assert!(l.check_at(&"a", t1).is_ok());
        assert!(l.check_at(&"a", t1).is_err());
        // A long quiet spell refills the burst, no more
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(l.check_at(&"a", t2).is_ok());
        }
        assert!(l.check_at(&"a", t2).is_err());
    }

    #[test]
    fn per_period_quota() {
        let q = Quota::per_period(3, Duration::from_secs(3600));
        assert_eq!((q.burst, q.interval), (3, Duration::from_secs(1200)));
        let l = KeyedLimiter::new(q);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check_at(&"x@ex.org".to_owned(), t0).is_ok());
        }
        let wait = l.check_at(&"x@ex.org".to_owned(), t0).unwrap_err();
        assert_eq!(wait.secs(), 1200);
    }

    #[test]
    fn refused_requests_do_not_count() {
        let l = KeyedLimiter::new(Quota::per_second(1, 1));
        let t0 = Instant::now();
        assert!(l.check_at(&1, t0).is_ok());
        for _ in 0..100 {
            assert!(l.check_at(&1, t0).is_err());
        }
        assert!(l.check_at(&1, t0 + Duration::from_secs(1)).is_ok(), "hammering does not extend the wait");
    }
}
