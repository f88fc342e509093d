//! The dataset as raw records — `(tree, key, value)` of its current
//! generation, byte for byte — for copying a whole clone elsewhere (the
//! gateway's backup export and restore). Reading is a plain scan; the caller
//! makes it a point in time by not applying anything meanwhile (the backup
//! clone's thread). Writing goes into a *staged* generation that nothing
//! points at, every record checked as it arrives, and becomes the dataset
//! only when the caller writes [`Staged::publish_key`] into the root, in
//! whatever transaction also makes the dataset reachable.
//!
//! Staged generations are numbered at random (not `current + 1`): two
//! stagings for one prefix never share trees, and a clone that opens the
//! prefix meanwhile drops them (as any generation not current), which is
//! what a refused restore needs anyway.

use sled::IVec;

use super::digest::Digest;
use super::encoding::{Reader, decode_term, decode_tids};
use super::error::DatasetError;
use super::journal::{JournalEntry, JournalState, decode_prev};
use super::keys::{
    self, COUNT_KEY, DATA, DIGEST_KEY, ENTRIES, GEN_KEY, LISTS_KEY, META, OPS, OSP, Order, POS, PREVS, SPO, STATE_KEY,
    TREE_NAMES, UNSUPPORTED_KEY,
};
use super::{Dataset, Trees, drop_generations, open_generation};

/// Records per sled batch while staging.
const BATCH: usize = 1000;

/// One raw record: the tree's name within a generation (e.g. `spo`), key and value.
pub type RawRecord = (&'static str, IVec, IVec);

impl Dataset {
    /// Every record of the current generation, tree by tree in
    /// `TREE_NAMES` order, each tree in key order. Streams.
    pub fn raw_records(&self) -> impl Iterator<Item = Result<RawRecord, DatasetError>> + '_ {
        TREE_NAMES.iter().zip(self.trees.iter()).flat_map(|(name, tree)| {
            tree.iter().map(move |kv| kv.map(|(k, v)| (*name, k, v)).map_err(DatasetError::from))
        })
    }

    /// Starts staging a dataset under `prefix` from raw records. Nothing is
    /// visible until the root points at it (see the module docs).
    pub fn stage(db: &sled::Db, prefix: &str) -> Result<Staged, DatasetError> {
        // Above every generation a replacement could reach by counting up
        // from 0 in practice, and never 0 (a fresh dataset's)
        let generation = u64::from(rand::random::<u32>()) + (1 << 32);
        drop_generations(db, prefix, |g| g == generation)?;
        let trees = open_generation(db, prefix, generation)?;
        let root = db.open_tree(keys::root_tree_name(prefix))?;
        Ok(Staged {
            db: db.clone(),
            prefix: prefix.to_owned(),
            generation,
            trees,
            root,
            counts: [0; TREE_NAMES.len()],
            digest: Digest::default(),
            carried: None,
        })
    }
}

/// A dataset being written from raw records (see [`Dataset::stage`]).
pub struct Staged {
    db: sled::Db,
    prefix: String,
    generation: u64,
    trees: Trees,
    root: sled::Tree,
    /// Records written per tree.
    counts: [u64; TREE_NAMES.len()],
    /// The integrity digest of the records written, and the one the
    /// backup carried (backups of data from before digests carry none).
    digest: Digest,
    carried: Option<Digest>,
}

impl Staged {
    /// Checks and writes records. A record that is not one this engine
    /// could have written is refused (`Corruption`), writing none of the call's.
    pub fn insert(&mut self, records: &[(String, Vec<u8>, Vec<u8>)]) -> Result<(), DatasetError> {
        let mut batches: Vec<sled::Batch> = (0..TREE_NAMES.len()).map(|_| sled::Batch::default()).collect();
        let mut counts = self.counts;
        let (mut digest, mut carried) = (self.digest, self.carried);
        for (tree, key, value) in records {
            let index = TREE_NAMES
                .iter()
                .position(|n| n == tree)
                .ok_or_else(|| DatasetError::corrupt(format!("unknown tree {tree:?}")))?;
            check_record(index, key, value)?;
            if index == META && key.as_slice() == DIGEST_KEY {
                carried = Some(Digest::decode(value)?);
            }
            digest.toggle(index, key, value);
            if let (Some(batch), Some(count)) = (batches.get_mut(index), counts.get_mut(index)) {
                batch.insert(key.as_slice(), value.as_slice());
                *count += 1;
            }
        }
        for (tree, batch) in self.trees.iter().zip(batches) {
            tree.apply_batch(batch)?;
        }
        self.counts = counts;
        self.digest = digest;
        self.carried = carried;
        Ok(())
    }

    /// How many records to pass to one [`Staged::insert`] at most.
    pub const fn batch_size() -> usize {
        BATCH
    }

    /// Checks the staged dataset is whole enough to open: a journal state,
    /// and the three triple indexes of equal size. Then flushes it, so it is
    /// on disk before anything points at it.
    pub fn finish(&self) -> Result<(), DatasetError> {
        let state = self.trees[META].get(STATE_KEY)?.ok_or_else(|| DatasetError::corrupt("no journal state"))?;
        JournalState::decode(&state)?;
        if self.counts[SPO] != self.counts[POS] || self.counts[SPO] != self.counts[OSP] {
            return Err(DatasetError::corrupt("the triple indexes differ in size"));
        }
        // The digest the backup's data carried must be that of its records
        // (a backup of data from before digests gets one now)
        match self.carried {
            Some(carried) if carried != self.digest => {
                return Err(DatasetError::corrupt("the integrity digest does not match the records"));
            }
            Some(_) => {}
            None => {
                self.trees[META].insert(DIGEST_KEY, &self.digest.0[..])?;
            }
        }
        self.db.flush()?;
        Ok(())
    }

    /// The root tree, and the key and value that make this generation the
    /// dataset when written into it.
    pub fn publish_key(&self) -> (&sled::Tree, &'static [u8], [u8; 8]) {
        (&self.root, GEN_KEY, keys::tick_key(self.generation))
    }

    /// Drops the staged trees (a refused or failed restore). Not needed
    /// for correctness (opening the prefix drops them too), only for space.
    /// The root tree stays, empty if nothing else wrote it: a dataset opened
    /// meanwhile on this prefix (another restore's, a new subdomain's) holds
    /// it, and writes to a dropped tree would be lost.
    pub fn abandon(self) -> Result<(), DatasetError> {
        let generation = self.generation;
        drop_generations(&self.db, &self.prefix, |g| g == generation)?;
        Ok(())
    }
}

/// Whether `key` and `value` are a record this engine writes in tree `index`.
fn check_record(index: usize, key: &[u8], value: &[u8]) -> Result<(), DatasetError> {
    match index {
        SPO => {
            keys::decode_triple_key(Order::Spo, key)?;
            decode_tids(value)?;
        }
        POS | OSP => {
            let order = if index == POS { Order::Pos } else { Order::Osp };
            keys::decode_triple_key(order, key)?;
            if !value.is_empty() {
                return Err(DatasetError::corrupt("index value not empty"));
            }
        }
        DATA => {
            decode_term(key)?;
            super::apply::decode_data(value)?;
        }
        ENTRIES => {
            JournalEntry::decode(keys::decode_tick_key(key)?, value)?;
        }
        OPS => {
            std::str::from_utf8(key).map_err(|_| DatasetError::corrupt("operation TID not UTF-8"))?;
        }
        PREVS => {
            std::str::from_utf8(key).map_err(|_| DatasetError::corrupt("prev TID not UTF-8"))?;
            decode_prev(value)?;
        }
        META => match key {
            STATE_KEY => {
                JournalState::decode(value)?;
            }
            COUNT_KEY => {
                Reader::new(value).u64_be()?;
            }
            LISTS_KEY => {}
            UNSUPPORTED_KEY => {
                std::str::from_utf8(value).map_err(|_| DatasetError::corrupt("meta/unsupported not UTF-8"))?;
            }
            DIGEST_KEY => {
                Digest::decode(value)?;
            }
            _ => return Err(DatasetError::corrupt("unknown meta key")),
        },
        _ => return Err(DatasetError::corrupt("unknown tree")),
    }
    Ok(())
}
