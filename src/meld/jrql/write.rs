//! Resolving a [`Write`] against a [`Dataset`] into the triples to delete
//! and insert, as the JS engine's `JrqlGraph.Update.toPatch` does:
//!
//! - With `@where`, each solution fills the `@delete` and `@insert`
//!   templates; a template triple left with an unbound variable (or a value
//!   that cannot stand in its position) is dropped, and a triple both
//!   deleted and inserted is dropped from both (it is known to exist).
//! - Without `@where`, a `@delete` with variables is matched as a pattern
//!   itself (`{"@id": "wilma", "?p": "?o"}` deletes all of wilma), and its
//!   solutions fill the `@insert` too.
//! - Triples with no variables are deleted or inserted as they stand when
//!   there is no `@where`; an insert is kept even if the delete matched
//!   nothing.
//!
//! The caller deletes every TID of each delete triple, so deleting a triple
//! that is not there changes nothing.

use std::collections::HashSet;

use crate::meld::dataset::Dataset;
use crate::meld::list::lseq::PosId;
use crate::meld::list::{POS_ID_PREFIX, RDF_LSEQ, pos_id};
use crate::meld::term::{RDF_TYPE, Term, Triple};

use super::ast::{Group, ListInsert, Node, Pattern, Write};
use super::error::JrqlError;
use super::solve::{Binding, solve};

/// A write's effect: triples to delete (every TID) and to insert, each
/// without duplicates, in template order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    /// Triples to delete.
    pub deletes: Vec<Triple>,
    /// Triples to insert.
    pub inserts: Vec<Triple>,
}

impl Resolved {
    /// Whether the write changes nothing.
    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.inserts.is_empty()
    }
}

/// Resolves a write against the dataset's current state.
pub fn resolve_write(ds: &Dataset, write: &Write) -> Result<Resolved, JrqlError> {
    let delete_has_var = write.delete.iter().any(Pattern::has_var);
    let insert_has_var = write.insert.iter().any(Pattern::has_var);
    let mut deletes = TripleSet::default();
    let mut inserts = TripleSet::default();
    let solutions = match &write.where_ {
        Some(where_) => {
            let mut group = where_.clone();
            group.filters.extend(write.delete_filters.iter().cloned());
            Some(solve(ds, &group)?)
        }
        None if delete_has_var => {
            let group =
                Group { patterns: write.delete.clone(), filters: write.delete_filters.clone(), ..Group::default() };
            Some(solve(ds, &group)?)
        }
        None => None,
    };
    match solutions {
        Some(solutions) => {
            for solution in &solutions {
                fill(&write.delete, solution, &mut deletes);
                fill(&write.insert, solution, &mut inserts);
            }
            // Matched against the data, so a triple both deleted and
            // inserted already exists: neither change is needed.
            let both: HashSet<Triple> = deletes.items.iter().filter(|t| inserts.contains(t)).cloned().collect();
            deletes.remove(&both);
            inserts.remove(&both);
        }
        None => fill(&write.delete, &Binding::new(), &mut deletes),
    }
    if write.where_.is_none() && !insert_has_var {
        fill(&write.insert, &Binding::new(), &mut inserts);
        // Deleting and re-inserting a triple is just inserting it.
        let both: HashSet<Triple> = deletes.items.iter().filter(|t| inserts.contains(t)).cloned().collect();
        deletes.remove(&both);
    }
    if write.where_.is_some() && !write.list_inserts.is_empty() {
        return Err(JrqlError::Unsupported("@list in an insert with @where"));
    }
    for triple in list_positions(ds, &write.list_inserts)? {
        inserts.push(triple);
    }
    Ok(Resolved { deletes: deletes.items, inserts: inserts.items })
}

/// The position triples of the items a write inserts into lists, as JS's
/// DefaultList allocates them in check mode: new LSEQ posIds between the
/// positions now at `index - 1` and `index` (an index past the end is the
/// end); and the list's `@type` if it has none yet.
fn list_positions(ds: &Dataset, items: &[ListInsert]) -> Result<Vec<Triple>, JrqlError> {
    let mut out = Vec::new();
    let mut lists: Vec<&Term> = Vec::new();
    for item in items {
        let Node::Term(list) = &item.list else { return Err(JrqlError::Unsupported("a variable list in an insert")) };
        if !lists.contains(&list) {
            lists.push(list);
        }
    }
    for list in lists {
        let mut types = Vec::new();
        for stored in ds.matching(Some(list), Some(RDF_TYPE), None) {
            types.push(stored?.triple.object);
        }
        if types.is_empty() {
            out.push(Triple::new(list.clone(), RDF_TYPE, Term::iri(RDF_LSEQ)));
        } else if !types.contains(&Term::iri(RDF_LSEQ)) {
            return Err(JrqlError::Unsupported("@list of a subject that is not an m-ld list"));
        }
        let mut positions: Vec<String> = Vec::new();
        for stored in ds.describe(list) {
            let triple = stored?.triple;
            if let (Some(pos), Term::Iri(_) | Term::Blank(_)) = (pos_id(&triple.predicate), &triple.object) {
                positions.push(pos.to_owned());
            }
        }
        positions.sort();
        // Items go into the gap before the position now at their index;
        // indexes past the end share the last gap (JS batches them so)
        let gap = |item: &ListInsert| usize::try_from(item.index).unwrap_or(usize::MAX).min(positions.len());
        let mut mine: Vec<&ListInsert> =
            items.iter().filter(|i| matches!(&i.list, Node::Term(l) if l == list)).collect();
        mine.sort_by_key(|i| (gap(i), i.index, i.sub));
        for group in mine.chunk_by(|a, b| gap(a) == gap(b)) {
            let Some(first) = group.first() else { continue };
            let at = gap(first);
            let bound = |pos: Option<&String>, end: PosId| pos.map_or(Ok(end), |p| PosId::parse(p));
            let lower = bound(at.checked_sub(1).and_then(|i| positions.get(i)), PosId::min());
            let upper = bound(positions.get(at), PosId::max());
            let new = lower
                .and_then(|lower| lower.between(&upper?, &first.site, group.len()))
                .map_err(|_| JrqlError::Invalid("the list has a position this engine cannot allocate beside"))?;
            if new.len() < group.len() {
                return Err(JrqlError::Invalid("no room in the list for the items"));
            }
            for (item, pos) in group.iter().zip(new) {
                let Node::Term(slot) = &item.slot else { return Err(JrqlError::Unsupported("a variable list slot")) };
                out.push(Triple::new(list.clone(), format!("{POS_ID_PREFIX}{pos}"), slot.clone()));
            }
        }
    }
    Ok(out)
}

/// Triples in first-seen order without duplicates.
#[derive(Default)]
struct TripleSet {
    items: Vec<Triple>,
    seen: HashSet<Triple>,
}

impl TripleSet {
    fn push(&mut self, triple: Triple) {
        if self.seen.insert(triple.clone()) {
            self.items.push(triple);
        }
    }

    fn contains(&self, triple: &Triple) -> bool {
        self.seen.contains(triple)
    }

    fn remove(&mut self, triples: &HashSet<Triple>) {
        self.items.retain(|t| !triples.contains(t));
        self.seen.retain(|t| !triples.contains(t));
    }
}

/// Adds each template pattern that the solution makes a valid triple.
fn fill(templates: &[Pattern], solution: &Binding, out: &mut TripleSet) {
    for pattern in templates {
        let (Some(s), Some(p), Some(o)) =
            (value(&pattern.subject, solution), value(&pattern.predicate, solution), value(&pattern.object, solution))
        else {
            continue;
        };
        let (subject @ (Term::Iri(_) | Term::Blank(_)), Term::Iri(predicate)) = (s, p) else { continue };
        out.push(Triple::new(subject.clone(), predicate.clone(), o.clone()));
    }
}

fn value<'a>(node: &'a Node, solution: &'a Binding) -> Option<&'a Term> {
    match node {
        Node::Term(t) => Some(t),
        Node::Var(v) => solution.get(v),
    }
}
