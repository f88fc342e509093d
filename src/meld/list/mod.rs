//! m-ld's default list, as every JS clone runs it on every apply (JS
//! `DefaultList` with its `SingleValued('@item')`, wire doc §11.3).
//!
//! A list (`@list` in the API) is a subject with one property per item,
//! `http://m-ld.org/RdfLseq/?=<posId>` → a slot, and each slot has
//! `http://json-rql.org/#item` → the item. PosIds are LSEQ strings, ordered
//! by plain string comparison. Operations carry only those triples; each
//! clone *entails* `<slot> json-rql:#index <rank>` (an `xs:integer`, the
//! 0-based rank of the slot's posId in its list), keeps it with no TIDs,
//! never sends it in operations, and includes it (without `tid`) in
//! snapshots. A JS clone reads and edits lists by those indexes, so a
//! snapshot without them leaves it with lists it cannot use.
//!
//! [`effects`] works out, for one SU-Set patch about to apply, the index
//! triples that change ([`Entailments`]) and the *resolution* a clone
//! publishes as a new operation (JS does so in "apply" mode):
//! - a slot at two posIds of one list keeps the lowest; the other position
//!   is deleted;
//! - a slot with several `@item` values keeps the greatest by JS `>`; the
//!   others are deleted (`item`).
//!
//! Every JS clone publishes its own resolution, and deleting with the TIDs
//! one has is idempotent across clones, so publishing the same resolution
//! as they do is harmless and publishing none would only delay
//! convergence. A resolution that might differ from theirs (values JS
//! compares in an order-dependent way) is skipped and logged instead.
//!
//! Knows the dataset (to read the list as stored) but nothing of clocks,
//! operations or the network. Unlike JS's incremental rewriter, this ranks
//! a touched list's positions as they stand after the patch, and writes the
//! index of every slot from the first position the patch touches on (the
//! ones before keep theirs): equal for any state JS itself produces. Data
//! stored before this module is reindexed whole once ([`reindex_all`]).

mod entail;
mod item;
pub mod lseq;
#[cfg(test)]
pub(crate) mod tests;

pub use entail::{Effects, effects, reindex_all};

use crate::meld::term::{Term, Triple};

/// Class of m-ld's default list (`@type` of a list subject).
pub const RDF_LSEQ: &str = "http://m-ld.org/RdfLseq";
/// Property IRI prefix of a list position; the posId follows it.
pub const POS_ID_PREFIX: &str = "http://m-ld.org/RdfLseq/?=";

/// The posId of a list position property, if `predicate` is one.
pub fn pos_id(predicate: &str) -> Option<&str> {
    predicate.strip_prefix(POS_ID_PREFIX).filter(|id| !id.is_empty())
}

/// What a local write deleting list positions also deletes, as JS does in
/// "check" mode: the slot of each position it deletes (all its triples),
/// unless the write puts the slot at another position (a move).
pub fn cascade(
    ds: &crate::meld::Dataset,
    deletes: &[Triple],
    inserts: &[Triple],
) -> Result<Vec<Triple>, crate::meld::DatasetError> {
    let placed = |slot: &Term| inserts.iter().any(|t| &t.object == slot && pos_id(&t.predicate).is_some());
    let mut out: Vec<Triple> = Vec::new();
    let mut slots: Vec<&Term> = Vec::new();
    for triple in deletes {
        let slot = &triple.object;
        if pos_id(&triple.predicate).is_some()
            && matches!(slot, Term::Iri(_) | Term::Blank(_))
            && !placed(slot)
            && !slots.contains(&slot)
        {
            slots.push(slot);
            for stored in ds.describe(slot) {
                let stored = stored?;
                if !stored.tids.is_empty() && !deletes.contains(&stored.triple) {
                    out.push(stored.triple);
                }
            }
        }
    }
    Ok(out)
}
