//! Reading the dataset and journal: streaming triple scans by pattern (for
//! snapshots, describe and queries), counts, the journal state and entries
//! (for revup answers), operations and prevs by TID.

use std::marker::PhantomData;

use crate::meld::term::{Term, Tid, TidSet, Triple};

use super::apply::decode_data;
use super::encoding::{Reader, decode_tids, encode_literal};
use super::error::DatasetError;
use super::journal::{JournalEntry, JournalState, decode_prev};
use super::keys::{self, COUNT_KEY, DATA, ENTRIES, META, OPS, Order, PREVS, SPO, STATE_KEY};
use super::{Dataset, Trees};

/// A present triple with its TIDs; literal objects carry their stored data.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTriple {
    /// The triple.
    pub triple: Triple,
    /// The TIDs of the insertions not yet deleted (empty only if entailed).
    pub tids: TidSet,
    /// Whether the triple is entailed locally (wire doc §11.3).
    pub entailed: bool,
}

impl Dataset {
    /// Every triple, in key order; streams (nothing is collected).
    pub fn triples(&self) -> Triples<'_> {
        self.matching(None, None, None)
    }

    /// The triples of one subject (for describe).
    pub fn describe(&self, subject: &Term) -> Triples<'_> {
        self.matching(Some(subject), None, None)
    }

    /// The triples matching a pattern; `None` matches anything. Every
    /// pattern is a prefix scan of one of the three triple trees.
    pub fn matching(&self, subject: Option<&Term>, predicate: Option<&str>, object: Option<&Term>) -> Triples<'_> {
        let (order, prefix) = keys::pattern_prefix(subject, predicate, object);
        Triples { trees: &self.trees, order, iter: self.trees[order.tree()].scan_prefix(prefix) }
    }

    /// One triple, if present.
    pub fn get(&self, triple: &Triple) -> Result<Option<StoredTriple>, DatasetError> {
        let key = keys::triple_key(Order::Spo, triple);
        match self.trees[SPO].get(&key)? {
            None => Ok(None),
            Some(value) => Ok(Some(load(&self.trees, triple.clone(), &value)?)),
        }
    }

    /// How many triples are present (entailed ones included).
    pub fn len(&self) -> Result<u64, DatasetError> {
        match self.trees[META].get(COUNT_KEY)? {
            None => Ok(0),
            Some(bytes) => Reader::new(&bytes).u64_be(),
        }
    }

    /// Whether no triple is present.
    pub fn is_empty(&self) -> Result<bool, DatasetError> {
        Ok(self.len()? == 0)
    }

    /// The journal state; `None` until genesis or a snapshot saved one.
    pub fn state(&self) -> Result<Option<JournalState>, DatasetError> {
        self.trees[META].get(STATE_KEY)?.map(|bytes| JournalState::decode(&bytes)).transpose()
    }

    /// Journal entries made after local tick `tick`, in tick order (a
    /// revup answer's candidates, wire doc §8.3).
    pub fn entries_after(&self, tick: u64) -> Entries<'_> {
        let iter = match tick.checked_add(1) {
            Some(first) => self.trees[ENTRIES].range(keys::tick_key(first)..),
            // Nothing comes after the last possible tick: an empty range.
            None => self.trees[ENTRIES].range(keys::tick_key(0)..keys::tick_key(0)),
        };
        Entries { iter, _dataset: PhantomData }
    }

    /// The latest journal entry.
    pub fn last_entry(&self) -> Result<Option<JournalEntry>, DatasetError> {
        self.trees[ENTRIES]
            .last()?
            .map(|(key, value)| JournalEntry::decode(keys::decode_tick_key(&key)?, &value))
            .transpose()
    }

    /// The EncodedOperation bytes stored for a TID (entries' operations and
    /// snapshot past operations alike).
    pub fn operation(&self, tid: &str) -> Result<Option<Vec<u8>>, DatasetError> {
        Ok(self.trees[OPS].get(tid.as_bytes())?.map(|bytes| bytes.to_vec()))
    }

    /// The previous public tick and TID of the entry with this TID.
    pub fn prev(&self, tid: &str) -> Result<Option<(u64, Tid)>, DatasetError> {
        self.trees[PREVS].get(tid.as_bytes())?.map(|bytes| decode_prev(&bytes)).transpose()
    }
}

/// Builds a stored triple from its SPO value, fetching literal data.
fn load(trees: &Trees, mut triple: Triple, spo_value: &[u8]) -> Result<StoredTriple, DatasetError> {
    let (entailed, tids) = decode_tids(spo_value)?;
    if let Term::Literal(literal) = &mut triple.object
        && let Some(bytes) = trees[DATA].get(encode_literal(literal))?
    {
        literal.data = Some(decode_data(&bytes)?.1);
    }
    Ok(StoredTriple { triple, tids, entailed })
}

/// A streaming scan of triples (see [`Dataset::matching`]).
pub struct Triples<'a> {
    trees: &'a Trees,
    order: Order,
    iter: sled::Iter,
}

impl Triples<'_> {
    fn load(&self, key: &[u8], value: &[u8]) -> Result<Option<StoredTriple>, DatasetError> {
        let triple = keys::decode_triple_key(self.order, key)?;
        if self.order == Order::Spo {
            return load(self.trees, triple, value).map(Some);
        }
        // An index entry: the TIDs are in SPO. Missing there means an apply
        // removed the triple while we scanned, so it is skipped, not corrupt.
        match self.trees[SPO].get(keys::triple_key(Order::Spo, &triple))? {
            None => Ok(None),
            Some(value) => load(self.trees, triple, &value).map(Some),
        }
    }
}

impl Iterator for Triples<'_> {
    type Item = Result<StoredTriple, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let loaded = match self.iter.next()? {
                Ok((key, value)) => self.load(&key, &value),
                Err(err) => Err(err.into()),
            };
            match loaded {
                Ok(None) => continue,
                Ok(Some(triple)) => return Some(Ok(triple)),
                Err(err) => return Some(Err(err)),
            }
        }
    }
}

/// Journal entries in tick order (see [`Dataset::entries_after`]).
pub struct Entries<'a> {
    iter: sled::Iter,
    /// Borrows the dataset so it cannot be replaced or deleted mid-scan.
    _dataset: PhantomData<&'a Dataset>,
}

impl Iterator for Entries<'_> {
    type Item = Result<JournalEntry, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.iter.next()? {
            Ok((key, value)) => keys::decode_tick_key(&key).and_then(|tick| JournalEntry::decode(tick, &value)),
            Err(err) => Err(err.into()),
        })
    }
}
