//! Whole-dataset changes: replacing everything with a received snapshot
//! (wire doc §9.3), storing past operations and journal state on their own,
//! and deleting the dataset (domain removal). See the module docs of
//! `dataset` for why a replacement is crash-safe.

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use crate::meld::term::{Tid, TidSet};

use super::apply::{Entailments, Tx};
use super::error::DatasetError;
use super::journal::JournalState;
use super::keys::{self, GEN_KEY, LISTS_KEY, META, OPS, STATE_KEY, UNSUPPORTED_KEY};
use super::read::StoredTriple;
use super::{Dataset, Trees, drop_generations, open_generation};

/// Triples per transaction while filling a replacement. The generation is
/// invisible until switched to, so chunks need not be atomic together; this
/// only bounds the memory a transaction holds.
const CHUNK: usize = 1000;

/// A replacement dataset being filled from a snapshot. Nothing of it is
/// visible until [`Dataset::finish_replacement`]; dropping it abandons it
/// (its trees are removed by the next replacement or the next open).
pub struct Replacement {
    /// Which [`Dataset::begin_replacement`] call made this one.
    serial: u64,
    prefix: String,
    generation: u64,
    trees: Trees,
}

impl Replacement {
    /// Adds snapshot triples: TIDs are merged if a triple comes twice;
    /// entailed triples come with no TIDs; literal data is stored.
    pub fn add_triples(&mut self, triples: impl IntoIterator<Item = StoredTriple>) -> Result<(), DatasetError> {
        let mut chunk = Vec::with_capacity(CHUNK);
        for triple in triples {
            super::apply::validate(&triple.triple)?;
            chunk.push(triple);
            if chunk.len() == CHUNK {
                self.insert_chunk(&chunk)?;
                chunk.clear();
            }
        }
        self.insert_chunk(&chunk)
    }

    /// Adds operations by TID with no journal entry ("past operations").
    pub fn add_past_operations(&mut self, ops: impl IntoIterator<Item = (Tid, Vec<u8>)>) -> Result<(), DatasetError> {
        put_operations(&self.trees, ops)
    }

    fn insert_chunk(&self, chunk: &[StoredTriple]) -> Result<(), DatasetError> {
        if chunk.is_empty() {
            return Ok(());
        }
        transact(&self.trees, |tx| {
            let mut count = tx.count()?;
            for stored in chunk {
                tx.insert(&stored.triple, &stored.tids, stored.entailed, &mut count)?;
            }
            tx.set_count(count)
        })
    }
}

/// `meta/lists` once list indexes are maintained in this generation.
const LISTS_VERSION: &[u8] = &[1];

impl Dataset {
    /// Whether this dataset's list indexes are known to be entailed (false
    /// for data stored by an engine without list support).
    pub fn lists_indexed(&self) -> Result<bool, DatasetError> {
        Ok(self.trees[META].get(LISTS_KEY)?.is_some_and(|v| v.as_ref() == LISTS_VERSION))
    }

    /// Applies entailment changes with no operation (a repair of list
    /// indexes), and records that list indexes are now maintained.
    pub fn entail(&self, entailed: &Entailments) -> Result<(), DatasetError> {
        for triple in entailed.inserts.iter().chain(&entailed.deletes) {
            super::apply::validate(triple)?;
        }
        transact(&self.trees, |tx| {
            let mut count = tx.count()?;
            for triple in &entailed.deletes {
                tx.unentail(triple, &mut count)?;
            }
            for triple in &entailed.inserts {
                tx.insert(triple, &TidSet::new(), true, &mut count)?;
            }
            tx.set_count(count)?;
            tx.put(META, LISTS_KEY, LISTS_VERSION)
        })
    }

    /// Why this dataset's state is known to differ from the domain's (a
    /// feature the engine cannot apply was used), if it is.
    pub fn unsupported(&self) -> Result<Option<String>, DatasetError> {
        let Some(bytes) = self.trees[META].get(UNSUPPORTED_KEY)? else { return Ok(None) };
        String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| DatasetError::corrupt("meta/unsupported is not UTF-8"))
    }

    /// Records why this dataset's state can no longer be trusted; stays
    /// until a snapshot replaces the dataset.
    pub fn mark_unsupported(&self, reason: &str) -> Result<(), DatasetError> {
        transact(&self.trees, |tx| tx.put(META, UNSUPPORTED_KEY, reason.as_bytes()))
    }

    /// Saves the journal state alone: genesis, or a clock that moved without
    /// an entry (e.g. rewound past an ignored operation, wire doc §7.3).
    pub fn save_state(&self, state: &JournalState) -> Result<(), DatasetError> {
        let state = state.encode()?;
        transact(&self.trees, |tx| tx.put(META, STATE_KEY, &state))
    }

    /// Stores operations by TID with no journal entry, all or none.
    pub fn add_past_operations(&self, ops: impl IntoIterator<Item = (Tid, Vec<u8>)>) -> Result<(), DatasetError> {
        put_operations(&self.trees, ops)
    }

    /// Starts replacing the whole dataset and journal, e.g. with a received
    /// snapshot. One replacement at a time: starting another abandons this one.
    pub fn begin_replacement(&mut self) -> Result<Replacement, DatasetError> {
        self.replacements = self.replacements.wrapping_add(1);
        let generation = self.generation.saturating_add(1);
        // Leftovers of an abandoned replacement must not leak into this one.
        drop_generations(&self.db, &self.prefix, |g| g == generation)?;
        let trees = open_generation(&self.db, &self.prefix, generation)?;
        Ok(Replacement { serial: self.replacements, prefix: self.prefix.clone(), generation, trees })
    }

    /// Makes a filled replacement the dataset, with a fresh journal whose
    /// state is `state` (no entries; past operations as added). Durable when
    /// this returns; the old generation is then dropped.
    pub fn finish_replacement(&mut self, replacement: Replacement, state: &JournalState) -> Result<(), DatasetError> {
        let ours = replacement.prefix == self.prefix && replacement.serial == self.replacements;
        if !ours || replacement.generation != self.generation.saturating_add(1) {
            return Err(DatasetError::StaleReplacement);
        }
        let state = state.encode()?;
        transact(&replacement.trees, |tx| {
            tx.put(META, STATE_KEY, &state)?;
            // Snapshots carry their list indexes (JS and this engine entail them)
            tx.put(META, LISTS_KEY, LISTS_VERSION)
        })?;
        // The new generation must be on disk before anything points at it.
        self.db.flush()?;
        self.root.insert(GEN_KEY, &keys::tick_key(replacement.generation))?;
        self.db.flush()?;
        self.generation = replacement.generation;
        self.trees = replacement.trees;
        let current = self.generation;
        drop_generations(&self.db, &self.prefix, |g| g != current)
    }

    /// Replaces the whole dataset and journal in one call (see
    /// [`Dataset::begin_replacement`]).
    pub fn replace_all(
        &mut self,
        triples: impl IntoIterator<Item = StoredTriple>,
        past_ops: impl IntoIterator<Item = (Tid, Vec<u8>)>,
        state: &JournalState,
    ) -> Result<(), DatasetError> {
        let mut replacement = self.begin_replacement()?;
        replacement.add_triples(triples)?;
        replacement.add_past_operations(past_ops)?;
        self.finish_replacement(replacement, state)
    }

    /// Deletes every tree of the dataset (domain removal), durably. The root
    /// first moves to a generation that has no trees, so a crash midway
    /// leaves an empty dataset, never a partial one; deleting again (or
    /// opening, which drops the other generations) finishes the job.
    pub fn delete_all(self) -> Result<(), DatasetError> {
        let empty = self.generation.saturating_add(1);
        drop_generations(&self.db, &self.prefix, |g| g == empty)?;
        self.root.insert(GEN_KEY, &keys::tick_key(empty))?;
        self.db.flush()?;
        drop_generations(&self.db, &self.prefix, |_| true)?;
        self.db.drop_tree(keys::root_tree_name(&self.prefix))?;
        self.db.flush()?;
        Ok(())
    }
}

/// Writes operations by TID, all or none (one transaction).
fn put_operations(trees: &Trees, ops: impl IntoIterator<Item = (Tid, Vec<u8>)>) -> Result<(), DatasetError> {
    let ops: Vec<_> = ops.into_iter().collect();
    if ops.is_empty() {
        return Ok(());
    }
    transact(trees, |tx| ops.iter().try_for_each(|(tid, bytes)| tx.put(OPS, tid.as_bytes(), bytes)))
}

/// Runs `f` in one transaction over a generation's trees, then stores the
/// digest's change with it. `f` may run more than once (sled retries
/// conflicts), so it only writes through the `Tx`.
pub(super) fn transact(
    trees: &Trees,
    f: impl Fn(&Tx<'_>) -> Result<(), ConflictableTransactionError<DatasetError>>,
) -> Result<(), DatasetError> {
    trees[..].transaction(|view| {
        let tx = Tx::new(view)?;
        f(&tx)?;
        tx.seal()
    })?;
    Ok(())
}
