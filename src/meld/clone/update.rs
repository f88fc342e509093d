//! What each applied operation did to the graph, as an app following the
//! clone sees it (JS `MeldUpdate`): the triples that left the graph (their
//! last TID removed), the triples that joined it, and the local clock ticks
//! after the operation. Recorded only when asked for
//! ([`MeldClone::record_updates`]), since it costs a lookup per triple.
//!
//! The SU-Set decides presence, so the change is worked out from the stored
//! TIDs before the apply: a delete whose TIDs are not all of a triple's
//! leaves it present, and an insert of a triple already present (another
//! TID) adds nothing the app could see.

use std::collections::{HashMap, HashSet};

use super::{CloneError, MeldClone};
use crate::meld::dataset::Dataset;
use crate::meld::jsonld::{self, Context};
use crate::meld::term::{TidPatch, TidSet, Triple};
use crate::meld::value::{Object, Value};

/// One operation's visible effect.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// Triples no longer in the graph, with their literal data.
    pub deletes: Vec<Triple>,
    /// Triples newly in the graph.
    pub inserts: Vec<Triple>,
    /// The clone's local ticks once the operation was applied (`@ticks`).
    pub ticks: u64,
}

impl Update {
    /// Whether the graph did not change (JS emits no update then).
    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.inserts.is_empty()
    }

    /// The JS `MeldUpdate` as JSON (`trace` and absent members left out, as
    /// `JSON.stringify` does): `{"@delete": [subjects], "@insert":
    /// [subjects], "@update": [], "@ticks": n}`, subjects as a describe under
    /// `ctx` (the domain context) returns them.
    pub fn to_json(&self, ctx: &Context) -> Value {
        let mut o = Object::new();
        o.insert("@delete", Value::Array(jsonld::describe_all(ctx, &self.deletes)));
        o.insert("@insert", Value::Array(jsonld::describe_all(ctx, &self.inserts)));
        // Shared datatypes (`@update`) are not supported by this engine
        o.insert("@update", Value::Array(Vec::new()));
        o.insert("@ticks", Value::from(self.ticks));
        Value::Map(o)
    }
}

/// The stored state of the triples a patch touches, taken before it applies.
pub(super) struct Before {
    /// Per touched triple: its TIDs and whether entailed, if present; and
    /// the stored triple (carrying literal data).
    stored: HashMap<Triple, Option<(Triple, TidSet, bool)>>,
}

impl Before {
    /// Looks up every triple `patch` touches.
    pub(super) fn of(dataset: &Dataset, patch: &TidPatch) -> Result<Self, CloneError> {
        let mut stored = HashMap::new();
        for (triple, _) in patch.deletes.iter().chain(&patch.inserts) {
            if !stored.contains_key(triple) {
                let found = dataset.get(triple)?.map(|s| (s.triple, s.tids, s.entailed));
                stored.insert(triple.clone(), found);
            }
        }
        Ok(Before { stored })
    }

    /// The visible change once `patch` has applied: presence before versus
    /// after, the latter being the stored TIDs less the deleted ones plus
    /// the inserted ones (or entailed, which a patch does not change).
    pub(super) fn update(&self, patch: &TidPatch, ticks: u64) -> Update {
        let mut after: HashMap<&Triple, TidSet> = HashMap::new();
        for (triple, found) in &self.stored {
            after.insert(triple, found.as_ref().map(|(_, tids, _)| tids.clone()).unwrap_or_default());
        }
        for (triple, tids) in &patch.deletes {
            if let Some(left) = after.get_mut(triple) {
                left.retain(|tid| !tids.contains(tid));
            }
        }
        for (triple, tids) in &patch.inserts {
            if let Some(left) = after.get_mut(triple) {
                left.extend(tids.iter().cloned());
            }
        }
        let present_after = |triple: &Triple| {
            let entailed = matches!(self.stored.get(triple), Some(Some((_, _, true))));
            entailed || after.get(triple).is_some_and(|tids| !tids.is_empty())
        };
        let mut seen = HashSet::new();
        let mut deletes = Vec::new();
        for (triple, _) in &patch.deletes {
            if let Some(Some((stored, _, _))) = self.stored.get(triple)
                && !present_after(triple)
                && seen.insert(triple)
            {
                deletes.push(stored.clone());
            }
        }
        let mut inserts = Vec::new();
        for (triple, _) in &patch.inserts {
            if matches!(self.stored.get(triple), Some(None)) && present_after(triple) && seen.insert(triple) {
                inserts.push(triple.clone());
            }
        }
        Update { deletes, inserts, ticks }
    }
}

impl MeldClone {
    /// Starts (or stops) recording an [`Update`] per applied operation,
    /// local or remote; the caller must [take](Self::take_updates) them.
    pub fn record_updates(&mut self, on: bool) {
        self.updates = on.then(Vec::new);
    }

    /// The updates recorded since the last call, oldest first.
    pub fn take_updates(&mut self) -> Vec<Update> {
        self.updates.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Looks up what `patch` touches, if updates are being recorded.
    pub(super) fn before(&self, patch: &TidPatch) -> Result<Option<Before>, CloneError> {
        if self.updates.is_none() {
            return Ok(None);
        }
        Before::of(&self.dataset, patch).map(Some)
    }

    /// Records the update of a patch that has just applied.
    pub(super) fn applied(&mut self, before: Option<Before>, patch: &TidPatch) {
        let ticks = self.state.time.ticks().unwrap_or(0);
        if let (Some(before), Some(updates)) = (before, self.updates.as_mut()) {
            let update = before.update(patch, ticks);
            if !update.is_empty() {
                updates.push(update);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meld::term::Term;
    use crate::meld::term::{Literal, XS_STRING};

    const DOMAIN: &str = "sd.acc.ex.org";

    fn iri(s: &str) -> Term {
        Term::iri(format!("http://{DOMAIN}/{s}"))
    }

    fn triple(s: &str, p: &str, o: Term) -> Triple {
        Triple::new(iri(s), format!("http://{DOMAIN}/#{p}"), o)
    }

    fn text(s: &str) -> Term {
        Term::Literal(Literal::new(s, XS_STRING))
    }

    fn tids(t: &[&str]) -> TidSet {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn renders_subjects_as_js_meld_update() {
        let ctx = Context::domain(DOMAIN);
        let update = Update {
            deletes: vec![triple("fred", "name", text("Fred"))],
            inserts: vec![
                triple("fred", "name", text("Freddy")),
                triple("wilma", "spouse", iri("fred")),
                triple("fred", "age", Term::Literal(Literal::new("40", crate::meld::jsonld::XS_INTEGER))),
                triple("wilma", "name", text("Wilma")),
                triple("wilma", "name", text("Wilmer")),
                Triple::new(iri("wilma"), crate::meld::term::RDF_TYPE, Term::iri(format!("http://{DOMAIN}/#Person"))),
            ],
            ticks: 7,
        };
        let json = serde_json::to_value(update.to_json(&ctx)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "@delete": [{"@id": "fred", "name": "Fred"}],
                "@insert": [
                    {"@id": "fred", "name": "Freddy", "age": 40},
                    {"@id": "wilma", "spouse": {"@id": "fred"}, "name": ["Wilma", "Wilmer"], "@type": "Person"}
                ],
                "@update": [],
                "@ticks": 7
            })
        );
        // Key order is JS's: the spread MeldUpdate
        let text = serde_json::to_string(&update.to_json(&ctx)).unwrap();
        assert!(text.starts_with("{\"@delete\":"), "{text}");
        assert!(text.ends_with("\"@ticks\":7}"), "{text}");
    }

    #[test]
    fn only_presence_changes_are_reported() {
        let ds = Dataset::open(&sled::Config::new().temporary(true).open().unwrap(), "t").unwrap();
        let (a, b, c) = (triple("s", "p", text("a")), triple("s", "p", text("b")), triple("s", "p", text("c")));
        // Before: a with TIDs {t1, t2}, b with {t3}, c absent
        let stored = HashMap::from([
            (a.clone(), Some((a.clone(), tids(&["t1", "t2"]), false))),
            (b.clone(), Some((b.clone(), tids(&["t3"]), false))),
            (c.clone(), None),
        ]);
        let before = Before { stored };
        let patch = TidPatch {
            // a loses one of two TIDs (stays); b loses its only TID (goes)
            deletes: vec![(a.clone(), tids(&["t1"])), (b.clone(), tids(&["t3"]))],
            // a gets another TID (was present); c arrives
            inserts: vec![(a.clone(), tids(&["t9"])), (c.clone(), tids(&["t9"]))],
        };
        let update = before.update(&patch, 3);
        assert_eq!(update, Update { deletes: vec![b.clone()], inserts: vec![c.clone()], ticks: 3 });
        // Deleted and re-inserted with a new TID in one operation: no change
        let before = Before { stored: HashMap::from([(b.clone(), Some((b.clone(), tids(&["t3"]), false)))]) };
        let patch = TidPatch { deletes: vec![(b.clone(), tids(&["t3"]))], inserts: vec![(b.clone(), tids(&["t4"]))] };
        assert!(before.update(&patch, 4).is_empty());
        // An entailed triple stays when its TIDs go
        let before = Before { stored: HashMap::from([(b.clone(), Some((b.clone(), tids(&["t3"]), true)))]) };
        let patch = TidPatch { deletes: vec![(b.clone(), tids(&["t3"]))], inserts: vec![] };
        assert!(before.update(&patch, 5).is_empty());
        // Looked up from a dataset: nothing there, so an insert is new
        let patch = TidPatch { deletes: vec![], inserts: vec![(a.clone(), tids(&["t1"]))] };
        let update = Before::of(&ds, &patch).unwrap().update(&patch, 1);
        assert_eq!(update.inserts, vec![a]);
    }
}
