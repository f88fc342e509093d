//! Following a backup clone's updates for the Clone API, with the Node
//! gateway's semantics: every update is queued persistently (see `queue`)
//! until a consumer polls; a poll locks the state, so that incoming
//! operations are held and the consumer sees the state the updates led to,
//! until it releases the lock (which clears the queue: all were processed).
//! Beyond Node, every update is also broadcast as it happens (the
//! Server-Sent Events stream), and a lock left too long is released.
//!
//! Owned by the clone's thread; holds no clone. The thread keeps the clone
//! holding operations exactly while [`Follow::locked`] (see `task`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use super::queue::UpdateQueue;
use crate::meld::{Context, MeldClone};
use crate::store::StoreError;

/// Most bytes of operations held under a lock; past it the lock is released
/// rather than let memory grow.
const MAX_HELD_BYTES: usize = 64 << 20;
/// Updates buffered for each slow event-stream subscriber.
pub const BROADCAST_CAPACITY: usize = 1024;

/// Limits of update following (defaults in `config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowSettings {
    /// Most updates queued per subdomain.
    pub queue_limit: usize,
    /// Longest lock without a poll or write renewing it.
    pub lock_timeout: Duration,
}

/// Whether and how an update goes in the poll queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queueing {
    /// Queued, not yet emitted (`@emitCount` 0): remote updates.
    Queue,
    /// Queued as emitted once (the Node gateway's write "echo"): a Clone
    /// API write under a lock.
    Echo,
    /// Not queued: a Clone API write that took no lock (the Node gateway
    /// would clear the queue after it; we keep the others' updates).
    Skip,
}

/// The update queue, lock and broadcast of one backup clone.
pub struct Follow {
    ctx: Context,
    queue: UpdateQueue,
    settings: FollowSettings,
    /// When the lock lapses, if locked.
    lock: Option<Instant>,
    events: broadcast::Sender<Arc<str>>,
}

impl Follow {
    /// Following for a clone of `domain`, queueing in `queue`, broadcasting
    /// rendered updates to `events`.
    pub(super) fn new(
        domain: &str,
        queue: UpdateQueue,
        settings: FollowSettings,
        events: broadcast::Sender<Arc<str>>,
    ) -> Self {
        Follow { ctx: Context::domain(domain), queue, settings, lock: None, events }
    }

    /// The broadcast of rendered updates.
    pub(super) fn events(&self) -> broadcast::Sender<Arc<str>> {
        self.events.clone()
    }

    /// Whether the state is locked.
    pub fn locked(&self) -> bool {
        self.lock.is_some()
    }

    /// Locks the state (or renews the lock) from `now`.
    pub fn lock(&mut self, now: Instant) {
        self.lock = Some(now + self.settings.lock_timeout);
    }

    /// Releases the lock and clears the queue; false if it was not locked.
    pub fn unlock(&mut self) -> Result<bool, StoreError> {
        if self.lock.take().is_none() {
            return Ok(false);
        }
        self.queue.clear()?;
        Ok(true)
    }

    /// Locks the state and hands out every queued update, oldest first, as
    /// JSON with its emit count incremented.
    pub fn poll(&mut self, now: Instant) -> Result<Vec<String>, StoreError> {
        self.lock(now);
        self.queue.poll()
    }

    /// Renders, broadcasts and (per `queueing`) queues the updates the clone
    /// has recorded. A queue failure is logged: the update still went out
    /// on the broadcast, and the data itself is safe in the clone.
    pub fn collect(&mut self, clone: &mut MeldClone, queueing: Queueing) {
        for update in clone.take_updates() {
            let json = match serde_json::to_string(&update.to_json(&self.ctx)) {
                Ok(json) => json,
                Err(e) => {
                    tracing::error!(error = %e, "cannot render an update");
                    continue;
                }
            };
            let emitted = match queueing {
                Queueing::Queue => Some(0),
                Queueing::Echo => Some(1),
                Queueing::Skip => None,
            };
            if let Some(count) = emitted
                && let Err(e) = self.queue.push(update.ticks, &json, count)
            {
                tracing::error!(error = %e, ticks = update.ticks, "cannot queue an update for polls");
            }
            // Nobody subscribed is not an error
            let _ = self.events.send(Arc::from(json));
        }
    }

    /// When the lock lapses, if locked.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.lock
    }

    /// Releases a lock that has lapsed, or that holds too much, keeping the
    /// queue (the consumer may not have processed it: the next poll hands
    /// it out again with a higher emit count). True if released.
    pub(super) fn expire(&mut self, now: Instant, held_bytes: Option<usize>) -> bool {
        let Some(deadline) = self.lock else { return false };
        if deadline <= now {
            tracing::warn!(
                timeout_s = self.settings.lock_timeout.as_secs(),
                queued = self.queue.len(),
                "Clone API lock not released in time; released, updates kept queued"
            );
        } else if held_bytes.is_some_and(|b| b > MAX_HELD_BYTES) {
            tracing::warn!(
                held_bytes = held_bytes.unwrap_or_default(),
                "Clone API lock holds too many incoming operations; released, updates kept queued"
            );
        } else {
            return false;
        }
        self.lock = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn follow(timeout: Duration) -> (sled::Db, Follow, broadcast::Receiver<Arc<str>>) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let queue = UpdateQueue::open(db.open_tree("updates/a/b").unwrap(), 100);
        let (tx, rx) = broadcast::channel(8);
        let settings = FollowSettings { queue_limit: 100, lock_timeout: timeout };
        (db, Follow::new("sd.acc.ex.org", queue, settings, tx), rx)
    }

    #[test]
    fn poll_locks_unlock_clears_and_timeouts_keep_the_queue() {
        let (_db, mut f, _rx) = follow(Duration::from_secs(10));
        let now = Instant::now();
        assert!(!f.unlock().unwrap(), "not locked");
        f.queue.push(1, "{\"@ticks\":1}", 0).unwrap();
        assert_eq!(f.poll(now).unwrap(), ["{\"@ticks\":1,\"@emitCount\":1}"]);
        assert!(f.locked());
        assert!(!f.expire(now + Duration::from_secs(9), Some(0)));
        assert!(f.expire(now + Duration::from_secs(10), Some(0)), "lapsed");
        assert!(!f.locked());
        assert_eq!(f.poll(now).unwrap(), ["{\"@ticks\":1,\"@emitCount\":2}"], "kept after a timeout");
        assert!(f.expire(now, Some(MAX_HELD_BYTES + 1)), "too much held");
        f.lock(now);
        assert!(f.unlock().unwrap());
        assert!(f.poll(now).unwrap().is_empty(), "cleared by unlock");
    }

    #[test]
    fn collect_renders_broadcasts_and_queues() {
        use crate::meld::term::{Literal, Term, Triple, XS_STRING};
        use crate::meld::{CloneConfig, Dataset};
        let (db, mut f, mut rx) = follow(Duration::from_secs(10));
        let now = Instant::now();
        let config = CloneConfig { id: "gw".into(), domain: "sd.acc.ex.org".into(), genesis: true };
        let mut clone = MeldClone::open(Dataset::open(&db, "clone/a/b").unwrap(), config).unwrap();
        clone.record_updates(true);
        let name = |n: &str| {
            let o = Term::Literal(Literal::new(n, XS_STRING));
            Triple::new(Term::iri("http://sd.acc.ex.org/fred"), "http://sd.acc.ex.org/#name", o)
        };
        clone.write(&[], &[name("Fred")], now).unwrap();
        f.collect(&mut clone, Queueing::Queue);
        let sent: serde_json::Value = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(sent["@insert"], serde_json::json!([{"@id": "fred", "name": "Fred"}]));
        assert_eq!(sent["@delete"], serde_json::json!([]));
        assert!(sent.get("@emitCount").is_none(), "broadcasts are plain MeldUpdates");
        // Not queued, but still broadcast
        clone.write(&[name("Fred")], &[name("Freddy")], now).unwrap();
        f.collect(&mut clone, Queueing::Skip);
        let sent: serde_json::Value = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(sent["@delete"], serde_json::json!([{"@id": "fred", "name": "Fred"}]));
        // An echo is queued as emitted once
        clone.write(&[], &[name("Fredrick")], now).unwrap();
        f.collect(&mut clone, Queueing::Echo);
        let polled: Vec<serde_json::Value> =
            f.poll(now).unwrap().iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let counts: Vec<_> = polled.iter().map(|u| u["@emitCount"].as_u64().unwrap()).collect();
        assert_eq!(counts, [1, 2]);
        assert_eq!(polled[1]["@ticks"].as_u64(), clone.state().time.ticks());
    }
}
