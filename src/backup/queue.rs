//! The persistent queue of one subdomain's updates for Clone API polls (the
//! Node gateway's `_gw:tick:…` entries): each `MeldUpdate` JSON by its
//! `@ticks`, with how many times a poll has handed it out (`@emitCount`).
//! Bounded: past the limit the oldest updates are dropped, with a log line.
//! Lives in the tree [`crate::store::update_queue_tree_name`] names; all
//! calls are synchronous sled calls, made on the clone's thread.

use crate::store::StoreError;

/// The tree name in corruption reports.
const TREE: &str = "updates";

/// A subdomain's queued updates.
pub struct UpdateQueue {
    tree: sled::Tree,
    /// Entries in the tree (sled counts by scanning, so we keep our own).
    len: usize,
    limit: usize,
    /// Whether updates have been dropped since the queue was last cleared
    /// (the first drop is a warning, the rest are debug lines).
    dropping: bool,
}

impl UpdateQueue {
    /// The queue in `tree`, keeping at most `limit` updates.
    pub fn open(tree: sled::Tree, limit: usize) -> Self {
        let len = tree.len();
        UpdateQueue { tree, len, limit: limit.max(1), dropping: false }
    }

    /// Number of queued updates.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Queues an update (replacing one with the same ticks), dropping the
    /// oldest while over the limit.
    pub fn push(&mut self, ticks: u64, json: &str, emit_count: u32) -> Result<(), StoreError> {
        if self.tree.insert(ticks.to_be_bytes(), encode(emit_count, json))?.is_none() {
            self.len += 1;
        }
        while self.len > self.limit {
            let Some((key, _)) = self.tree.pop_min()? else {
                self.len = 0;
                break;
            };
            self.len -= 1;
            let ticks = <[u8; 8]>::try_from(&key[..]).map(u64::from_be_bytes).unwrap_or_default();
            if self.dropping {
                tracing::debug!(ticks, "update queue full; oldest update dropped");
            } else {
                self.dropping = true;
                tracing::warn!(
                    ticks,
                    limit = self.limit,
                    "update queue full (nobody polled and released it); dropping the oldest updates"
                );
            }
        }
        Ok(())
    }

    /// Every queued update, oldest first, as a JSON line with its emit count
    /// incremented (and stored so).
    pub fn poll(&mut self) -> Result<Vec<String>, StoreError> {
        let mut lines = Vec::with_capacity(self.len);
        let mut batch = sled::Batch::default();
        for entry in self.tree.iter() {
            let (key, value) = entry?;
            let (count, json) = decode(&value)?;
            let count = count.saturating_add(1);
            lines.push(with_emit_count(json, count)?);
            batch.insert(key, encode(count, json));
        }
        self.tree.apply_batch(batch)?;
        Ok(lines)
    }

    /// Empties the queue (the lock is released: everything was processed).
    pub fn clear(&mut self) -> Result<(), StoreError> {
        self.tree.clear()?;
        self.len = 0;
        self.dropping = false;
        Ok(())
    }
}

fn encode(emit_count: u32, json: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 + json.len());
    bytes.extend_from_slice(&emit_count.to_be_bytes());
    bytes.extend_from_slice(json.as_bytes());
    bytes
}

fn decode(bytes: &[u8]) -> Result<(u32, &str), StoreError> {
    let corrupt = |detail: &str| StoreError::Corruption { tree: TREE, detail: detail.to_owned() };
    let (count, json) = bytes.split_first_chunk::<4>().ok_or_else(|| corrupt("entry shorter than its count"))?;
    let json = std::str::from_utf8(json).map_err(|_| corrupt("update is not UTF-8"))?;
    Ok((u32::from_be_bytes(*count), json))
}

/// The update JSON object with `"@emitCount": n` as its last member (as the
/// Node gateway spreads it: `{...update, '@emitCount': n}`).
fn with_emit_count(json: &str, count: u32) -> Result<String, StoreError> {
    let body = json
        .strip_prefix('{')
        .and_then(|j| j.strip_suffix('}'))
        .ok_or_else(|| StoreError::Corruption { tree: TREE, detail: "update is not a JSON object".to_owned() })?;
    let sep = if body.trim().is_empty() { "" } else { "," };
    Ok(format!("{{{body}{sep}\"@emitCount\":{count}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(limit: usize) -> (sled::Db, UpdateQueue) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("updates/a/b").unwrap();
        (db, UpdateQueue::open(tree, limit))
    }

    fn update(ticks: u64) -> String {
        format!("{{\"@delete\":[],\"@insert\":[{{\"@id\":\"s{ticks}\"}}],\"@update\":[],\"@ticks\":{ticks}}}")
    }

    #[test]
    fn polls_count_emissions_until_cleared() {
        let (db, mut q) = queue(10);
        q.push(3, &update(3), 0).unwrap();
        q.push(1, &update(1), 0).unwrap();
        let lines = q.poll().unwrap();
        assert_eq!(lines.len(), 2);
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["@ticks"], 1, "oldest first");
        assert_eq!(first["@emitCount"], 1);
        assert!(lines[0].ends_with(",\"@emitCount\":1}"), "{}", lines[0]);
        // An echo arrives already emitted once
        q.push(5, &update(5), 1).unwrap();
        let counts: Vec<u64> = q
            .poll()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["@emitCount"].as_u64().unwrap())
            .collect();
        assert_eq!(counts, [2, 2, 2]);
        // Persistent: a reopened queue has the same entries and counts
        drop(q);
        let mut q = UpdateQueue::open(db.open_tree("updates/a/b").unwrap(), 10);
        assert_eq!(q.len(), 3);
        assert!(q.poll().unwrap()[0].ends_with(":3}"));
        q.clear().unwrap();
        assert_eq!(q.len(), 0);
        assert!(q.poll().unwrap().is_empty());
    }

    #[test]
    fn bounded_by_dropping_the_oldest() {
        let (_db, mut q) = queue(3);
        for ticks in 1..=5 {
            q.push(ticks, &update(ticks), 0).unwrap();
        }
        assert_eq!(q.len(), 3);
        let ticks: Vec<u64> = q
            .poll()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["@ticks"].as_u64().unwrap())
            .collect();
        assert_eq!(ticks, [3, 4, 5]);
        // Same ticks again replaces, not grows
        q.push(5, &update(5), 0).unwrap();
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn refuses_corrupt_entries() {
        assert!(decode(b"\x00\x00").is_err());
        assert!(with_emit_count("[1]", 1).is_err());
        assert_eq!(with_emit_count("{}", 2).unwrap(), "{\"@emitCount\":2}");
    }
}
