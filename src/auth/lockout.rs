//! Brute-force protection: failed authentications are counted per (client
//! IP, claimed account). After `max_failures` within `window`, that pair is
//! locked out for `lockout` — even with the right key — doubling on each
//! repeat (capped). Another IP is not affected, so an attacker cannot lock
//! the owner out; a success clears the pair's failure count.
//!
//! In memory: a restart forgets lockouts, which costs an attacker a restart
//! they cannot cause. The map is bounded; when full, idle entries are swept
//! and, failing that, new pairs are not tracked (fail open on memory rather
//! than on authentication: the keys themselves are unguessable).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest lockout after repeated doubling.
const MAX_LOCKOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// Most (IP, account) pairs tracked at once.
const MAX_ENTRIES: usize = 100_000;

/// The account a presented user names, as lockouts count it: the last path
/// segment of an IRI, bounded in length.
pub fn claimed_name(user: &str) -> String {
    user.rsplit('/').next().unwrap_or(user).chars().take(64).collect()
}

/// Lockout policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LockoutPolicy {
    /// Failures within `window` that lock the pair out.
    pub max_failures: usize,
    pub window: Duration,
    /// First lockout; doubles on each further one.
    pub lockout: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy { max_failures: 10, window: Duration::from_secs(600), lockout: Duration::from_secs(900) }
    }
}

#[derive(Default)]
struct Entry {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
    /// Lockouts so far (the next one lasts `lockout × 2^locks`).
    locks: u32,
}

/// The lockout state of every (IP, account) pair.
pub struct Lockouts {
    policy: LockoutPolicy,
    entries: Mutex<HashMap<(IpAddr, String), Entry>>,
}

/// A pair that is locked out: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LockedOut(pub Duration);

impl Lockouts {
    pub fn new(policy: LockoutPolicy) -> Self {
        Lockouts { policy, entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(IpAddr, String), Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Refuses a locked-out pair before any credential is looked at.
    pub fn check(&self, ip: IpAddr, account: &str) -> Result<(), LockedOut> {
        self.check_at(ip, account, Instant::now())
    }

    fn check_at(&self, ip: IpAddr, account: &str, now: Instant) -> Result<(), LockedOut> {
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(&(ip, account.to_owned())) else { return Ok(()) };
        match entry.locked_until {
            Some(until) if until > now => {
                let left = until - now;
                tracing::warn!(target: "audit", %ip, account, retry_after = left.as_secs(), "refused: locked out");
                Err(LockedOut(left))
            }
            Some(_) => {
                entry.locked_until = None;
                tracing::info!(target: "audit", %ip, account, "lockout ended");
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a failure; returns the lockout it starts, if it starts one.
    pub fn failed(&self, ip: IpAddr, account: &str) -> Option<LockedOut> {
        self.failed_at(ip, account, Instant::now())
    }

    fn failed_at(&self, ip: IpAddr, account: &str, now: Instant) -> Option<LockedOut> {
        let mut entries = self.lock();
        let key = (ip, account.to_owned());
        if !entries.contains_key(&key) && entries.len() >= MAX_ENTRIES {
            let policy = self.policy;
            entries.retain(|_, e| {
                e.locked_until.is_some_and(|u| u > now)
                    || e.failures.back().is_some_and(|t| now.duration_since(*t) < policy.window)
            });
            if entries.len() >= MAX_ENTRIES {
                tracing::warn!("lockout table full; failure not tracked");
                return None;
            }
        }
        let entry = entries.entry(key).or_default();
        while entry.failures.front().is_some_and(|t| now.duration_since(*t) >= self.policy.window) {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);
        if entry.failures.len() < self.policy.max_failures {
            return None;
        }
        entry.failures.clear();
        let factor = 1u32.checked_shl(entry.locks).unwrap_or(u32::MAX);
        let duration = self.policy.lockout.saturating_mul(factor).min(MAX_LOCKOUT);
        entry.locks = entry.locks.saturating_add(1);
        entry.locked_until = Some(now + duration);
        tracing::warn!(target: "audit", %ip, account, secs = duration.as_secs(), "lockout started");
        Some(LockedOut(duration))
    }

    /// A success clears the pair's failures (not its lockout history).
    pub fn succeeded(&self, ip: IpAddr, account: &str) {
        if let Some(e) = self.lock().get_mut(&(ip, account.to_owned())) {
            e.failures.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn policy() -> LockoutPolicy {
        LockoutPolicy { max_failures: 3, window: Duration::from_secs(60), lockout: Duration::from_secs(100) }
    }

    #[test]
    fn locks_the_pair_only_and_doubles() {
        let l = Lockouts::new(policy());
        let t0 = Instant::now();
        assert_eq!(l.failed_at(A, "acc", t0), None);
        assert_eq!(l.failed_at(A, "acc", t0), None);
        assert_eq!(l.failed_at(A, "acc", t0), Some(LockedOut(Duration::from_secs(100))));
        assert!(l.check_at(A, "acc", t0 + Duration::from_secs(99)).is_err());
        // Another IP, or another account from this IP, is unaffected
        assert!(l.check_at(B, "acc", t0).is_ok());
        assert!(l.check_at(A, "other", t0).is_ok());
        let t1 = t0 + Duration::from_secs(101);
        assert!(l.check_at(A, "acc", t1).is_ok());
        for _ in 0..2 {
            assert_eq!(l.failed_at(A, "acc", t1), None);
        }
        assert_eq!(l.failed_at(A, "acc", t1), Some(LockedOut(Duration::from_secs(200))), "doubles on repeat");
    }

    #[test]
    fn failures_outside_the_window_and_successes_do_not_count() {
        let l = Lockouts::new(policy());
        let t0 = Instant::now();
        l.failed_at(A, "acc", t0);
        l.failed_at(A, "acc", t0);
        assert_eq!(l.failed_at(A, "acc", t0 + Duration::from_secs(61)), None, "two failures left the window");
        l.succeeded(A, "acc");
        let t2 = t0 + Duration::from_secs(62);
        assert_eq!(l.failed_at(A, "acc", t2), None);
        assert_eq!(l.failed_at(A, "acc", t2), None);
        assert!(l.failed_at(A, "acc", t2).is_some());
    }
}
