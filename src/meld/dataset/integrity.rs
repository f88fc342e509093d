//! Checking a stored dataset: its integrity digest against a recomputation
//! (any changed byte), and its structure (every record decodes, indexes
//! agree, the journal agrees with itself and with the clock). Read-only,
//! except that [`Dataset::open`] stores a first digest for data written
//! before digests existed (`ensure_digest`).
//!
//! Two depths: [`Dataset::check_digest`] is what a server does before it
//! serves a domain (one scan, hashing); [`Dataset::verify`] is the offline
//! `meld-gateway verify`, which also decodes and cross-checks everything.

use std::collections::HashMap;

use crate::meld::term::{Term, Triple};

use super::Dataset;
use super::apply::decode_data;
use super::digest::Digest;
use super::encoding::{Reader, decode_tids, encode_literal};
use super::error::DatasetError;
use super::journal::{JournalEntry, JournalState, decode_prev};
use super::keys::{self, COUNT_KEY, DATA, DIGEST_KEY, ENTRIES, META, OPS, Order, PREVS, SPO, STATE_KEY};

/// Problems reported per dataset before the rest are summarised.
const MAX_PROBLEMS: usize = 20;

/// What checking the digest found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestCheck {
    /// The stored digest equals a recomputation.
    Matches,
    /// No digest is stored (data from before digests; nothing to compare).
    Missing,
    /// The stored data differs from what was written.
    Mismatch {
        /// The stored digest (short hex).
        stored: String,
        /// The digest of what is stored now (short hex).
        computed: String,
    },
}

impl Dataset {
    /// Recomputes the digest of the current generation from every record.
    pub fn compute_digest(&self) -> Result<Digest, DatasetError> {
        let mut digest = Digest::default();
        for (index, tree) in self.trees.iter().enumerate() {
            for record in tree.iter() {
                let (key, value) = record?;
                digest.toggle(index, &key, &value);
            }
        }
        Ok(digest)
    }

    /// The stored digest, if any.
    pub fn stored_digest(&self) -> Result<Option<Digest>, DatasetError> {
        self.trees[META].get(DIGEST_KEY)?.map(|bytes| Digest::decode(&bytes)).transpose()
    }

    /// Compares the stored digest with a recomputation (one full scan).
    pub fn check_digest(&self) -> Result<DigestCheck, DatasetError> {
        let Some(stored) = self.stored_digest()? else { return Ok(DigestCheck::Missing) };
        let computed = self.compute_digest()?;
        Ok(if stored == computed {
            DigestCheck::Matches
        } else {
            DigestCheck::Mismatch { stored: stored.short(), computed: computed.short() }
        })
    }

    /// Stores a first digest if there is none (data written before
    /// digests): from then on, that data is what is trusted.
    pub(super) fn ensure_digest(&self) -> Result<(), DatasetError> {
        if self.trees[META].get(DIGEST_KEY)?.is_none() {
            let digest = self.compute_digest()?;
            // Written only on open, before anything else writes this generation.
            self.trees[META].insert(DIGEST_KEY, &digest.0[..])?;
        }
        Ok(())
    }

    /// Every check there is: the digest, then every record decoded and
    /// cross-checked. Returns one line per problem found (empty: clean);
    /// an `Err` only if storage itself failed.
    pub fn verify(&self) -> Result<Vec<String>, DatasetError> {
        let mut problems = Problems::default();
        match self.check_digest()? {
            DigestCheck::Matches | DigestCheck::Missing => {}
            DigestCheck::Mismatch { stored, computed } => {
                problems.push(format!("integrity digest mismatch (stored {stored}…, computed {computed}…)"))
            }
        }
        let state = self.verify_meta(&mut problems)?;
        self.verify_triples(&mut problems)?;
        self.verify_journal(state.as_ref(), &mut problems)?;
        Ok(problems.finish())
    }

    fn verify_meta(&self, problems: &mut Problems) -> Result<Option<JournalState>, DatasetError> {
        let state = match self.trees[META].get(STATE_KEY)? {
            None => None,
            Some(bytes) => JournalState::decode(&bytes).map_err(|e| problems.push(format!("meta: {e}"))).ok(),
        };
        if let Some(bytes) = self.trees[META].get(COUNT_KEY)? {
            let count = Reader::new(&bytes).u64_be();
            match count {
                Ok(count) if count as usize != self.trees[SPO].len() => {
                    problems.push(format!("meta: triple count {count} but {} triples stored", self.trees[SPO].len()))
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("meta/count: {e}")),
            }
        }
        Ok(state)
    }

    /// Triples decode, their index entries exist, literal data decodes and
    /// its reference counts equal the triples referring to it.
    fn verify_triples(&self, problems: &mut Problems) -> Result<(), DatasetError> {
        let mut refs: HashMap<Vec<u8>, u64> = HashMap::new();
        for record in self.trees[SPO].iter() {
            let (key, value) = record?;
            let triple = match keys::decode_triple_key(Order::Spo, &key) {
                Ok(triple) => triple,
                Err(e) => {
                    problems.push(format!("spo: undecodable key: {e}"));
                    continue;
                }
            };
            match decode_tids(&value) {
                Ok((false, tids)) if tids.is_empty() => {
                    problems.push(format!("spo: triple with no TIDs: {}", show(&triple)))
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("spo: {}: {e}", show(&triple))),
            }
            for order in [Order::Pos, Order::Osp] {
                if !self.trees[order.tree()].contains_key(keys::triple_key(order, &triple))? {
                    problems.push(format!("{} index lacks {}", name(order), show(&triple)));
                }
            }
            if let Term::Literal(literal) = &triple.object {
                *refs.entry(encode_literal(literal)).or_default() += 1;
            }
        }
        for order in [Order::Pos, Order::Osp] {
            for record in self.trees[order.tree()].iter() {
                let (key, value) = record?;
                match keys::decode_triple_key(order, &key) {
                    Err(e) => problems.push(format!("{}: undecodable key: {e}", name(order))),
                    Ok(triple) if !self.trees[SPO].contains_key(keys::triple_key(Order::Spo, &triple))? => {
                        problems.push(format!("{} index has {}, absent from spo", name(order), show(&triple)))
                    }
                    Ok(_) if !value.is_empty() => problems.push(format!("{}: non-empty value", name(order))),
                    Ok(_) => {}
                }
            }
        }
        for record in self.trees[DATA].iter() {
            let (key, value) = record?;
            match decode_data(&value) {
                Ok((stored, _)) => {
                    let counted = refs.get(key.as_ref()).copied().unwrap_or(0);
                    if stored != counted {
                        problems.push(format!("data: {stored} references stored, {counted} triples refer to it"));
                    }
                }
                Err(e) => problems.push(format!("data: {e}")),
            }
        }
        Ok(())
    }

    /// Entries decode; each has its operation and prev record, the prev as
    /// the entry says; no entry is later than the clock.
    fn verify_journal(&self, state: Option<&JournalState>, problems: &mut Problems) -> Result<(), DatasetError> {
        let clock_ticks = state.and_then(|s| s.time.ticks());
        let mut last = None;
        for record in self.trees[ENTRIES].iter() {
            let (key, value) = record?;
            let entry = match keys::decode_tick_key(&key).and_then(|tick| JournalEntry::decode(tick, &value)) {
                Ok(entry) => entry,
                Err(e) => {
                    problems.push(format!("journal: {e}"));
                    continue;
                }
            };
            if self.trees[OPS].get(entry.tid.as_bytes())?.is_none_or(|op| op.is_empty()) {
                problems.push(format!("journal: entry at tick {} has no operation", entry.tick));
            }
            match self.trees[PREVS].get(entry.tid.as_bytes())?.map(|bytes| decode_prev(&bytes)) {
                None => problems.push(format!("journal: entry at tick {} has no prev record", entry.tick)),
                Some(Err(e)) => problems.push(format!("journal: prev of tick {}: {e}", entry.tick)),
                Some(Ok(prev)) if prev != entry.prev => {
                    problems.push(format!("journal: prev record of tick {} differs from its entry", entry.tick))
                }
                Some(Ok(_)) => {}
            }
            last = Some(entry.tick);
        }
        match (last, clock_ticks, state) {
            (Some(_), _, None) => problems.push("journal: entries but no journal state".into()),
            (Some(last), Some(ticks), _) if last > ticks => {
                problems.push(format!("journal: latest entry at tick {last} is after the clock ({ticks} ticks)"))
            }
            _ => {}
        }
        for record in self.trees[PREVS].iter() {
            let (key, value) = record?;
            if let Err(e) = decode_prev(&value) {
                problems.push(format!("prevs: {}: {e}", String::from_utf8_lossy(&key)));
            }
        }
        Ok(())
    }
}

/// A triple's subject and predicate, enough to find it.
fn show(triple: &Triple) -> String {
    format!("<{:?} {}>", triple.subject, triple.predicate)
}

fn name(order: Order) -> &'static str {
    match order {
        Order::Spo => "spo",
        Order::Pos => "pos",
        Order::Osp => "osp",
    }
}

/// Problem lines, capped so a badly damaged dataset stays readable.
#[derive(Default)]
struct Problems {
    lines: Vec<String>,
    more: usize,
}

impl Problems {
    fn push(&mut self, line: String) {
        if self.lines.len() < MAX_PROBLEMS {
            self.lines.push(line);
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.lines.push(format!("… and {} more problems", self.more));
        }
        self.lines
    }
}
