//! Applying one operation (wire doc §7.3 step 5 and §8.1): the SU-Set patch,
//! entailment changes and the journal append, in one sled transaction.
//!
//! SU-Set: a delete names the TIDs it removes, so only `ours ∩ theirs` goes
//! and a concurrent insert of the same triple (another TID) survives. Adding
//! a TID already there, or removing one that is not, changes nothing, so a
//! re-delivered patch is harmless. A triple is gone when its TID set is empty
//! unless it is entailed.

use std::cell::Cell;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use crate::meld::msgpack;
use crate::meld::term::{Literal, Term, TidPatch, TidSet, Triple};
use crate::meld::value::Value;

use super::Dataset;
use super::digest::Digest;
use super::encoding::{Reader, decode_tids, encode_literal, encode_tids, write_varint};
use super::error::DatasetError;
use super::journal::{JournalAppend, JournalEntry, encode_prev};
use super::keys::{
    self, COUNT_KEY, DATA, DIGEST_KEY, ENTRIES, META, OPS, OSP, Order, POS, PREVS, SPO, STATE_KEY, TREE_NAMES,
};

/// Entailed triples (wire doc §11.3, list indexes) that change with an
/// operation. They are present with no TIDs and never sent in operations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entailments {
    /// Triples to mark entailed (added if absent).
    pub inserts: Vec<Triple>,
    /// Triples no longer entailed (removed unless they also have TIDs).
    pub deletes: Vec<Triple>,
}

/// What an apply actually removed, for reverting it later: per triple (with
/// its literal's data, if stored), the TIDs taken from it.
pub type Removed = Vec<(Triple, TidSet)>;

type TxResult<T> = Result<T, ConflictableTransactionError<DatasetError>>;

impl Dataset {
    /// Applies an operation's patch, entailment changes and journal append
    /// atomically; returns what the deletes actually removed.
    ///
    /// Fails, changing nothing, if a triple is not valid RDF or the journal
    /// already has an entry at `append.local_tick`.
    pub fn apply(
        &self,
        patch: &TidPatch,
        entailed: &Entailments,
        append: &JournalAppend,
    ) -> Result<Removed, DatasetError> {
        let all = patch.deletes.iter().chain(&patch.inserts).map(|(t, _)| t);
        for triple in all.chain(&entailed.inserts).chain(&entailed.deletes) {
            validate(triple)?;
        }
        // Encoded once, outside the closure, which sled may run more than once.
        let entry = JournalEntry::encode_value(&append.prev, &append.tid, append.attribution.as_deref());
        let prev = encode_prev(&append.prev);
        let state = append.new_state.encode()?;
        let tick = keys::tick_key(append.local_tick);
        let removed = self.trees[..].transaction(|view| {
            let tx = Tx::new(view)?;
            let mut count = tx.count()?;
            let mut removed = Removed::new();
            for (triple, theirs) in &patch.deletes {
                tx.delete(triple, theirs, &mut count, &mut removed)?;
            }
            for triple in &entailed.deletes {
                tx.unentail(triple, &mut count)?;
            }
            for (triple, tids) in &patch.inserts {
                tx.insert(triple, tids, false, &mut count)?;
            }
            for triple in &entailed.inserts {
                tx.insert(triple, &TidSet::new(), true, &mut count)?;
            }
            // Overwriting an entry would lose an operation. Aborting here also
            // discards the triple writes above: sled applies nothing of an
            // aborted transaction.
            if tx.trees[ENTRIES].get(tick)?.is_some() {
                return Err(DatasetError::TickTaken(append.local_tick).into());
            }
            tx.put(ENTRIES, &tick, &entry)?;
            tx.put(OPS, append.tid.as_bytes(), &append.op_bytes)?;
            tx.put(PREVS, append.tid.as_bytes(), &prev)?;
            tx.put(META, STATE_KEY, &state)?;
            tx.set_count(count)?;
            tx.seal()?;
            Ok(removed)
        })?;
        Ok(removed)
    }
}

/// Refuses what RDF does not allow; the predicate is an IRI by type.
pub(super) fn validate(triple: &Triple) -> Result<(), DatasetError> {
    match triple.subject {
        Term::Literal(_) => Err(DatasetError::InvalidTriple("literal subject")),
        _ => Ok(()),
    }
}

/// The generation's trees inside one transaction. Every write goes through
/// [`Tx::put`] or [`Tx::del`], which keep the change to the integrity digest;
/// [`Tx::seal`] stores it before the transaction ends.
pub(super) struct Tx<'a> {
    pub(super) trees: &'a [TransactionalTree; TREE_NAMES.len()],
    /// What this transaction's writes did to the digest so far. Made anew
    /// with each `Tx`, so a transaction sled re-runs starts from nothing.
    delta: Cell<Digest>,
}

impl<'a> Tx<'a> {
    pub(super) fn new(view: &'a [TransactionalTree]) -> TxResult<Self> {
        let trees = view.try_into().map_err(|_| DatasetError::corrupt("transaction is missing trees"))?;
        Ok(Tx { trees, delta: Cell::new(Digest::default()) })
    }

    /// Writes a record, keeping the digest: the old record out, the new in.
    pub(super) fn put(&self, tree: usize, key: &[u8], value: &[u8]) -> TxResult<()> {
        let old = self.trees[tree].insert(key, value)?;
        let mut delta = self.delta.get();
        if let Some(old) = old {
            delta.toggle(tree, key, &old);
        }
        delta.toggle(tree, key, value);
        self.delta.set(delta);
        Ok(())
    }

    /// Removes a record (if there), keeping the digest.
    pub(super) fn del(&self, tree: usize, key: &[u8]) -> TxResult<()> {
        if let Some(old) = self.trees[tree].remove(key)? {
            let mut delta = self.delta.get();
            delta.toggle(tree, key, &old);
            self.delta.set(delta);
        }
        Ok(())
    }

    /// Folds this transaction's changes into the stored digest. Last in
    /// every transaction that wrote through `put`/`del`.
    pub(super) fn seal(&self) -> TxResult<()> {
        let delta = self.delta.replace(Digest::default());
        if delta.is_zero() {
            return Ok(());
        }
        let mut digest = match self.trees[META].get(DIGEST_KEY)? {
            Some(bytes) => Digest::decode(&bytes)?,
            None => Digest::default(),
        };
        digest.xor(&delta);
        self.trees[META].insert(DIGEST_KEY, &digest.0[..])?;
        Ok(())
    }

    pub(super) fn count(&self) -> TxResult<u64> {
        match self.trees[META].get(COUNT_KEY)? {
            None => Ok(0),
            Some(bytes) => Ok(Reader::new(&bytes).u64_be()?),
        }
    }

    pub(super) fn set_count(&self, count: u64) -> TxResult<()> {
        self.put(META, COUNT_KEY, &count.to_be_bytes())
    }

    /// The stored (entailed, TIDs) of a triple, by its SPO key.
    fn tids(&self, key: &[u8]) -> TxResult<Option<(bool, TidSet)>> {
        match self.trees[SPO].get(key)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(decode_tids(&bytes)?)),
        }
    }

    fn delete(&self, triple: &Triple, theirs: &TidSet, count: &mut u64, removed: &mut Removed) -> TxResult<()> {
        let key = keys::triple_key(Order::Spo, triple);
        let Some((entailed, mut ours)) = self.tids(&key)? else {
            return Ok(());
        };
        let gone: TidSet = ours.intersection(theirs).cloned().collect();
        if gone.is_empty() {
            return Ok(());
        }
        ours.retain(|tid| !gone.contains(tid));
        removed.push((self.with_data(triple)?, gone));
        if ours.is_empty() && !entailed {
            self.remove(triple, &key, count)
        } else {
            self.put(SPO, &key, &encode_tids(entailed, &ours))
        }
    }

    pub(super) fn unentail(&self, triple: &Triple, count: &mut u64) -> TxResult<()> {
        let key = keys::triple_key(Order::Spo, triple);
        match self.tids(&key)? {
            Some((true, tids)) if tids.is_empty() => self.remove(triple, &key, count),
            Some((true, tids)) => self.put(SPO, &key, &encode_tids(false, &tids)),
            _ => Ok(()),
        }
    }

    /// Adds TIDs (and/or the entailed flag) to a triple, creating it if new.
    pub(super) fn insert(&self, triple: &Triple, tids: &TidSet, entail: bool, count: &mut u64) -> TxResult<()> {
        let key = keys::triple_key(Order::Spo, triple);
        match self.tids(&key)? {
            Some((entailed, mut ours)) => {
                let before = (entailed, ours.len());
                ours.extend(tids.iter().cloned());
                if (entailed || entail, ours.len()) != before {
                    self.put(SPO, &key, &encode_tids(entailed || entail, &ours))?;
                }
            }
            // Inserting no TIDs makes nothing present (an empty fused insert).
            None if tids.is_empty() && !entail => {}
            None => {
                self.put(SPO, &key, &encode_tids(entail, tids))?;
                self.put(POS, &keys::triple_key(Order::Pos, triple), &[])?;
                self.put(OSP, &keys::triple_key(Order::Osp, triple), &[])?;
                if let Term::Literal(literal) = &triple.object {
                    self.data_ref(literal)?;
                }
                *count = count.saturating_add(1);
            }
        }
        Ok(())
    }

    /// Removes a triple that is no longer present, with its index entries.
    fn remove(&self, triple: &Triple, key: &[u8], count: &mut u64) -> TxResult<()> {
        self.del(SPO, key)?;
        self.del(POS, &keys::triple_key(Order::Pos, triple))?;
        self.del(OSP, &keys::triple_key(Order::Osp, triple))?;
        if let Term::Literal(literal) = &triple.object {
            self.data_unref(literal)?;
        }
        *count = count.saturating_sub(1);
        Ok(())
    }

    /// The triple with its object literal's stored data, so a reversion can
    /// put the data back too.
    fn with_data(&self, triple: &Triple) -> TxResult<Triple> {
        let mut triple = triple.clone();
        if let Term::Literal(literal) = &mut triple.object
            && let Some(bytes) = self.trees[DATA].get(encode_literal(literal))?
        {
            literal.data = Some(decode_data(&bytes)?.1);
        }
        Ok(triple)
    }

    /// One more present triple refers to `literal`: count it, storing the
    /// data if this is the first and it has some.
    fn data_ref(&self, literal: &Literal) -> TxResult<()> {
        let key = encode_literal(literal);
        let value = match self.trees[DATA].get(&key)? {
            // The stored data stays: for hashed datatypes it is the same
            // bytes, and shared datatypes update it through their own path.
            Some(bytes) => {
                let (refs, data) = decode_data(&bytes)?;
                encode_data(refs.saturating_add(1), &data)?
            }
            None => match &literal.data {
                Some(data) => encode_data(1, data)?,
                None => return Ok(()),
            },
        };
        self.put(DATA, &key, &value)
    }

    /// One fewer present triple refers to `literal`; the last takes the data.
    fn data_unref(&self, literal: &Literal) -> TxResult<()> {
        let key = encode_literal(literal);
        if let Some(bytes) = self.trees[DATA].get(&key)? {
            let (refs, data) = decode_data(&bytes)?;
            if refs <= 1 {
                self.del(DATA, &key)?;
            } else {
                self.put(DATA, &key, &encode_data(refs - 1, &data)?)?;
            }
        }
        Ok(())
    }
}

/// A data value: varint reference count, then msgpack of the data.
pub(super) fn encode_data(refs: u64, data: &Value) -> Result<Vec<u8>, DatasetError> {
    let mut out = Vec::new();
    write_varint(&mut out, refs);
    msgpack::encode_into(data, &mut out)?;
    Ok(out)
}

pub(super) fn decode_data(bytes: &[u8]) -> Result<(u64, Value), DatasetError> {
    let mut reader = Reader::new(bytes);
    let refs = reader.varint()?;
    let rest = bytes.get(reader.position()..).unwrap_or_default();
    let data = msgpack::decode(rest).map_err(|e| DatasetError::corrupt(format!("literal data: {e}")))?;
    Ok((refs, data))
}
