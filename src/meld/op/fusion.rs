//! Fusion and cutting of contiguous operations of one process (wire doc
//! §6.7, transcribed from JS `ops.ts` and checked on `op-encoding.jsonl`).
//! Both work on flattened (triple, TID) pairs, in first-appearance order so
//! re-encodings are stable.

use std::collections::{BTreeSet, HashSet};

use super::{Agreed, MeldOperation, merge};
use crate::meld::clock::TickTree;
use crate::meld::error::Error;
use crate::meld::jsonld::Context;
use crate::meld::term::{Tid, TidPatch, TidSet, Triple};

/// An insertion-ordered set of (triple, TID) pairs.
#[derive(Default)]
struct Pairs {
    items: Vec<(Triple, Tid)>,
    index: HashSet<(Triple, Tid)>,
}

impl Pairs {
    fn of(entries: &[(Triple, TidSet)]) -> Self {
        let mut pairs = Pairs::default();
        for (t, tids) in entries {
            for tid in tids {
                pairs.add(t.clone(), tid.clone());
            }
        }
        pairs
    }

    fn add(&mut self, triple: Triple, tid: Tid) {
        if self.index.insert((triple.clone(), tid.clone())) {
            self.items.push((triple, tid));
        }
    }

    fn contains(&self, triple: &Triple, tid: &str) -> bool {
        // HashSet<(Triple, Tid)> needs an owned key; pairs are small.
        self.index.contains(&(triple.clone(), tid.to_owned()))
    }

    fn remove_where(&mut self, mut drop: impl FnMut(&Triple, &Tid) -> bool) {
        let index = &mut self.index;
        self.items.retain(|(t, tid)| {
            let gone = drop(t, tid);
            if gone {
                index.remove(&(t.clone(), tid.clone()));
            }
            !gone
        });
    }

    fn into_entries(self) -> Vec<(Triple, TidSet)> {
        merge(self.items.into_iter().map(|(t, tid)| (t, BTreeSet::from([tid]))))
    }
}

/// Fuses contiguous operations of one process, oldest first
/// (`first.fusion().next(op2)…commit()`). The principal is the first's, as
/// in JS; keeping one principal per fusion is the journal's choice.
pub fn fuse(ctx: &Context, ops: &[MeldOperation]) -> Result<MeldOperation, Error> {
    let (first, rest) = ops.split_first().ok_or(Error::NotContiguous("nothing to fuse"))?;
    let mut deletes = Pairs::of(&first.patch.deletes);
    let mut inserts = Pairs::of(&first.patch.inserts);
    let mut updates = first.updates.clone();
    let mut agreed = first.agreed.clone();
    let mut last = first;
    for next in rest {
        if next.from != last.ticks() + 1 {
            return Err(Error::NotContiguous("ticks are not contiguous"));
        }
        // The earlier time's process must still be a leaf at the same place.
        if next.time.get_ticks(&last.time).ok() != Some(next.ticks()) {
            return Err(Error::NotContiguous("a fork lies between the operations"));
        }
        if next.updates.is_some() {
            if updates.is_some() {
                return Err(Error::SharedDatatypeUpdates);
            }
            updates = next.updates.clone();
        }
        let next_deletes = Pairs::of(&next.patch.deletes);
        for (t, tid) in &next_deletes.items {
            deletes.add(t.clone(), tid.clone());
        }
        // Inserted inside the range and deleted again: neither is sent.
        let redundant: HashSet<(Triple, Tid)> =
            inserts.items.iter().filter(|(t, tid)| next_deletes.contains(t, tid)).cloned().collect();
        inserts.remove_where(|t, tid| redundant.contains(&(t.clone(), tid.clone())));
        deletes.remove_where(|t, tid| redundant.contains(&(t.clone(), tid.clone())));
        for (t, tids) in &next.patch.inserts {
            for tid in tids {
                inserts.add(t.clone(), tid.clone());
            }
        }
        if next.agreed.is_some() {
            agreed = next.agreed.clone();
        }
        last = next;
    }
    let patch = TidPatch { deletes: deletes.into_entries(), inserts: inserts.into_entries() };
    MeldOperation::new(ctx, first.from, last.time.clone(), patch, updates, first.principal_id.clone(), agreed)
}

/// Cuts from a received fusion `op` the already-seen journaled operations
/// `prevs`, oldest first (`op.cutting().next(p1).next(p2)…`). The result has
/// the same time (and TID) and starts after the last of `prevs`.
pub fn cut(ctx: &Context, op: &MeldOperation, prevs: &[MeldOperation]) -> Result<MeldOperation, Error> {
    let mut deletes = Pairs::of(&op.patch.deletes);
    let mut inserts = Pairs::of(&op.patch.inserts);
    let mut cut_from = op.from;
    let mut agreed: Option<Agreed> = op.agreed.clone();
    let tid_at = |tick: u64| op.time.ticked_to(tick).hash();
    for p in prevs {
        let p_ticks = p.ticks();
        if p.from > cut_from || p_ticks < cut_from {
            return Err(Error::BadCut("previous operation does not meet the cut"));
        }
        if p_ticks >= op.ticks() {
            return Err(Error::BadCut("previous operation covers the whole fusion"));
        }
        if p.updates.is_some() && op.updates.is_some() {
            return Err(Error::SharedDatatypeUpdates);
        }
        let p_deletes = Pairs::of(&p.patch.deletes);
        let p_inserts = Pairs::of(&p.patch.inserts);
        deletes.remove_where(|t, tid| p_deletes.contains(t, tid));
        // Ticks before the cut start: deletes of their TIDs were already seen,
        // unless p inserted the pair itself.
        let before: HashSet<Tid> = (p.from..cut_from).map(tid_at).collect();
        deletes.remove_where(|t, tid| before.contains(tid) && !p_inserts.contains(t, tid));
        // The already-seen overlap: what p inserted is either still in the
        // fusion (so not news) or was deleted later in the range.
        for tick in cut_from..=p_ticks {
            let tid = tid_at(tick);
            for (t, ptid) in p_inserts.items.iter().filter(|(_, ptid)| *ptid == tid) {
                if inserts.contains(t, ptid) {
                    inserts.remove_where(|it, itid| it == t && itid == ptid);
                } else {
                    deletes.add(t.clone(), ptid.clone());
                }
            }
        }
        cut_from = p_ticks + 1;
        if agreed.as_ref().is_some_and(|a| p_ticks >= a.tick) {
            agreed = None;
        }
    }
    let patch = TidPatch { deletes: deletes.into_entries(), inserts: inserts.into_entries() };
    MeldOperation::new(ctx, cut_from, op.time.clone(), patch, op.updates.clone(), op.principal_id.clone(), agreed)
}
