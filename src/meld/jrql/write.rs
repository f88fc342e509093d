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
use crate::meld::term::{Term, Triple};

use super::ast::{Group, Node, Pattern, Write};
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
    Ok(Resolved { deletes: deletes.items, inserts: inserts.items })
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
