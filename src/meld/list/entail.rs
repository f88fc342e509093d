//! List index entailment and the duplicate-slot resolution for one patch.
//!
//! For each list a patch touches (a position property deleted or inserted),
//! the list's positions after the patch are read — the stored ones, less
//! those the patch leaves with no TIDs, plus those it inserts — and sorted
//! by posId. A slot seen again at a higher posId is a duplicate: it is not
//! counted, and if this patch inserted either position it is resolved by
//! deleting the higher one (JS only meets duplicates among the positions an
//! operation inserts). Each remaining slot's index is its rank (written
//! from the first position the patch touches; earlier ranks cannot have
//! changed); slots that left the list lose theirs.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::meld::dataset::{Dataset, DatasetError, Entailments};
use crate::meld::jsonld::{JRQL_INDEX, XS_INTEGER};
use crate::meld::term::{Literal, Term, TidPatch, TidSet, Triple};

use super::{item, pos_id};

/// What the default list makes of one patch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// Index triples to entail and to drop, applied with the patch.
    pub entailments: Entailments,
    /// Triples to delete (with every TID they have after the patch) in a
    /// resolution operation of our own.
    pub resolution: Vec<Triple>,
}

/// The list effects of `patch` on the dataset as it stands before it.
pub fn effects(ds: &Dataset, patch: &TidPatch) -> Result<Effects, DatasetError> {
    let after = After::new(ds, patch);
    let mut lists: Vec<&Term> = Vec::new();
    for (triple, _) in patch.deletes.iter().chain(&patch.inserts) {
        if is_position(triple) && !lists.contains(&&triple.subject) {
            lists.push(&triple.subject);
        }
    }
    let mut indexes = Indexes::default();
    let mut resolution = Vec::new();
    for list in lists {
        reindex(ds, &after, list, false, &mut indexes, &mut resolution)?;
    }
    resolution.extend(item::resolution(ds, &after, patch)?);
    Ok(Effects { entailments: indexes.entailments(ds)?, resolution })
}

/// Recomputes every list's indexes from the stored positions: the
/// entailments that bring the dataset's index triples in line (for data
/// stored before this engine entailed them).
pub fn reindex_all(ds: &Dataset) -> Result<Entailments, DatasetError> {
    let empty = TidPatch::default();
    let after = After::new(ds, &empty);
    let mut lists: Vec<Term> = Vec::new();
    let mut seen = HashSet::new();
    for stored in ds.triples() {
        let triple = stored?.triple;
        if is_position(&triple) && seen.insert(triple.subject.clone()) {
            lists.push(triple.subject);
        }
    }
    let mut indexes = Indexes::default();
    let mut ignored = Vec::new();
    for list in &lists {
        reindex(ds, &after, list, true, &mut indexes, &mut ignored)?;
    }
    // Index triples of slots in no list at all
    for stored in ds.matching(None, Some(JRQL_INDEX), None) {
        let stored = stored?;
        if stored.entailed {
            indexes.leave(stored.triple.subject);
        }
    }
    indexes.entailments(ds)
}

/// A list position triple: a posId property whose object is a node.
fn is_position(triple: &Triple) -> bool {
    pos_id(&triple.predicate).is_some() && matches!(triple.object, Term::Iri(_) | Term::Blank(_))
}

/// One list's positions after the patch, re-ranked into `indexes`: the
/// `whole` list, or from the first position the patch touches.
fn reindex(
    ds: &Dataset,
    after: &After<'_>,
    list: &Term,
    whole: bool,
    indexes: &mut Indexes,
    resolution: &mut Vec<Triple>,
) -> Result<(), DatasetError> {
    // (posId, slot) → inserted by this patch; ordered as JS orders posIds
    let mut positions: BTreeMap<(String, Term), bool> = BTreeMap::new();
    let mut before: Vec<Term> = Vec::new();
    for stored in ds.describe(list) {
        let stored = stored?;
        if !is_position(&stored.triple) {
            continue;
        }
        before.push(stored.triple.object.clone());
        if after.present(&stored.triple, Some((&stored.tids, stored.entailed))) {
            positions.insert(key(&stored.triple), false);
        }
    }
    for (triple, _) in after.patch.inserts.iter().filter(|(t, _)| &t.subject == list && is_position(t)) {
        // An insert with no TIDs makes nothing present
        if after.inserted(triple) {
            positions.insert(key(triple), true);
        }
    }
    // Positions before the first the patch touches keep their rank, so
    // their stored indexes need no look-up (an append touches one slot)
    let from = if whole {
        None
    } else {
        after
            .patch
            .deletes
            .iter()
            .chain(&after.patch.inserts)
            .filter(|(t, _)| &t.subject == list)
            .filter_map(|(t, _)| pos_id(&t.predicate))
            .min()
    };
    let mut first: HashMap<&Term, bool> = HashMap::new();
    let mut rank: u64 = 0;
    for ((pos, slot), inserted) in &positions {
        match first.get(slot) {
            None => {
                first.insert(slot, *inserted);
                if from.is_none_or(|from| pos.as_str() >= from) {
                    indexes.set(slot.clone(), rank);
                }
                rank += 1;
            }
            Some(first_inserted) => {
                if *inserted || *first_inserted {
                    resolution.push(Triple::new(list.clone(), format!("{}{pos}", super::POS_ID_PREFIX), slot.clone()));
                }
            }
        }
    }
    for slot in before.into_iter().filter(|slot| !first.contains_key(slot)) {
        indexes.leave(slot);
    }
    Ok(())
}

fn key(triple: &Triple) -> (String, Term) {
    (pos_id(&triple.predicate).unwrap_or_default().to_owned(), triple.object.clone())
}

/// The presence of triples once a patch has applied, from their stored TIDs
/// (deletes go first, then inserts, as `Dataset::apply` does them).
pub(super) struct After<'a> {
    pub(super) patch: &'a TidPatch,
    deleted: HashMap<&'a Triple, TidSet>,
    inserted: HashMap<&'a Triple, TidSet>,
    ds: &'a Dataset,
}

impl<'a> After<'a> {
    pub(super) fn new(ds: &'a Dataset, patch: &'a TidPatch) -> Self {
        let mut deleted: HashMap<&Triple, TidSet> = HashMap::new();
        for (t, tids) in &patch.deletes {
            deleted.entry(t).or_default().extend(tids.iter().cloned());
        }
        let mut inserted: HashMap<&Triple, TidSet> = HashMap::new();
        for (t, tids) in &patch.inserts {
            inserted.entry(t).or_default().extend(tids.iter().cloned());
        }
        After { patch, deleted, inserted, ds }
    }

    /// Whether the patch inserts the triple with some TID.
    pub(super) fn inserted(&self, triple: &Triple) -> bool {
        self.inserted.get(triple).is_some_and(|tids| !tids.is_empty())
    }

    /// The triple's TIDs after the patch, given what is stored (`None` if
    /// absent); `None` if it will not be present.
    pub(super) fn tids(&self, triple: &Triple, stored: Option<(&TidSet, bool)>) -> Option<TidSet> {
        let mut tids = stored.map(|(t, _)| t.clone()).unwrap_or_default();
        if let Some(gone) = self.deleted.get(triple) {
            tids.retain(|t| !gone.contains(t));
        }
        if let Some(added) = self.inserted.get(triple) {
            tids.extend(added.iter().cloned());
        }
        let entailed = stored.is_some_and(|(_, e)| e);
        (entailed || !tids.is_empty()).then_some(tids)
    }

    /// Whether the triple is present after the patch.
    pub(super) fn present(&self, triple: &Triple, stored: Option<(&TidSet, bool)>) -> bool {
        self.tids(triple, stored).is_some()
    }

    /// As [`After::tids`], looking the triple up.
    pub(super) fn lookup(&self, triple: &Triple) -> Result<Option<TidSet>, DatasetError> {
        let stored = self.ds.get(triple)?;
        Ok(self.tids(triple, stored.as_ref().map(|s| (&s.tids, s.entailed))))
    }
}

/// The index each touched slot should end with: `Some(rank)`, or `None` for
/// a slot no longer in any touched list.
#[derive(Default)]
struct Indexes {
    slots: Vec<Term>,
    wanted: HashMap<Term, Option<u64>>,
}

impl Indexes {
    fn set(&mut self, slot: Term, rank: u64) {
        if !self.wanted.contains_key(&slot) {
            self.slots.push(slot.clone());
        }
        self.wanted.insert(slot, Some(rank));
    }

    /// The slot left a list; it keeps an index given by another.
    fn leave(&mut self, slot: Term) {
        if !self.wanted.contains_key(&slot) {
            self.slots.push(slot.clone());
            self.wanted.insert(slot, None);
        }
    }

    /// The changes from the stored entailed index triples to the wanted ones.
    fn entailments(&self, ds: &Dataset) -> Result<Entailments, DatasetError> {
        let mut out = Entailments::default();
        for slot in &self.slots {
            let wanted = self.wanted.get(slot).copied().flatten().map(|rank| index_triple(slot, rank));
            let mut have = false;
            for stored in ds.matching(Some(slot), Some(JRQL_INDEX), None) {
                let stored = stored?;
                if Some(&stored.triple) == wanted.as_ref() && stored.entailed {
                    have = true;
                } else if stored.entailed {
                    out.deletes.push(stored.triple);
                }
            }
            if let (Some(wanted), false) = (wanted, have) {
                out.inserts.push(wanted);
            }
        }
        Ok(out)
    }
}

/// `<slot> json-rql:#index rank`.
pub(crate) fn index_triple(slot: &Term, rank: u64) -> Triple {
    Triple::new(slot.clone(), JRQL_INDEX, Term::Literal(Literal::new(rank.to_string(), XS_INTEGER)))
}
