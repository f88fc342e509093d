//! List entailment against the JS engine's snapshots (`frames.jsonl`: every
//! snapshot a JS collaborator sent carries its entailed index triples) and
//! against hand-made edits: middle inserts, deletes, concurrent inserts,
//! duplicate slots and SU-Set deletes that leave a position present.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::entail::index_triple;
use super::*;
use crate::meld::control::{Notification, SnapshotDatum};
use crate::meld::dataset::{Dataset, Entailments, JournalAppend, JournalState};
use crate::meld::jsonld::tests::DOMAIN;
use crate::meld::jsonld::{Context, JRQL_INDEX, JRQL_ITEM};
use crate::meld::term::{Literal, Term, TidPatch, TidSet, Triple, XS_STRING};
use crate::meld::vectors::{field, rows};

fn dataset() -> Dataset {
    Dataset::open(&sled::Config::new().temporary(true).open().unwrap(), "t").unwrap()
}

/// Applies a patch with its list effects, as a clone does; returns them.
fn apply(ds: &Dataset, tick: u64, patch: &TidPatch) -> Effects {
    let effects = effects(ds, patch).unwrap();
    let mut new_state = JournalState::genesis();
    new_state.time = crate::meld::TreeClock::genesis().ticked_to(tick);
    let append = JournalAppend {
        local_tick: tick,
        prev: (0, "kA==".into()),
        tid: format!("t{tick}"),
        op_bytes: Vec::new(),
        attribution: None,
        new_state,
    };
    ds.apply(patch, &effects.entailments, &append).unwrap();
    effects
}

fn entailed(ds: &Dataset) -> BTreeSet<Triple> {
    ds.triples().map(Result::unwrap).filter(|s| s.entailed).map(|s| s.triple).collect()
}

/// A snapshot's triples with TIDs, and those without (entailed).
pub(crate) type Snapshot = (Vec<(Triple, TidSet)>, BTreeSet<Triple>);

/// Every snapshot's data in the capture, by step (the JS collaborator's
/// state when it answered): (triples with TIDs,
/// triples without — the entailed ones).
pub(crate) fn captured_snapshots() -> BTreeMap<String, Snapshot> {
    let ctx = Context::operation(DOMAIN);
    let mut out: BTreeMap<String, Snapshot> = BTreeMap::new();
    for row in rows("frames.jsonl") {
        let Some(o) = row.as_object() else { continue };
        if o.get("channel").and_then(|c| c.as_str()) != Some("snapshot-data") {
            continue;
        }
        let payload = STANDARD.decode(field(&row, "payload").as_str().unwrap()).unwrap();
        let Notification::Next(bytes) = Notification::decode(&payload).unwrap() else { continue };
        let datum = SnapshotDatum::decode(&bytes).unwrap();
        if matches!(datum, SnapshotDatum::Operation(_)) {
            continue;
        }
        let step = field(&row, "step").as_str().unwrap().to_owned();
        let (with, without) = out.entry(step).or_default();
        for (triple, tids) in datum.triples(&ctx).unwrap() {
            if tids.is_empty() {
                without.insert(triple);
            } else {
                with.push((triple, tids));
            }
        }
    }
    out
}

#[test]
fn entails_the_indexes_js_snapshots_carry() {
    let snapshots = captured_snapshots();
    let with_lists = snapshots.values().filter(|(_, e)| !e.is_empty()).count();
    assert!(with_lists >= 3, "the capture's snapshots with lists: {with_lists}");
    for (step, (triples, expected)) in snapshots {
        assert!(expected.iter().all(|t| t.predicate == JRQL_INDEX), "{step}: only indexes are entailed");
        let ds = dataset();
        let effects = apply(&ds, 1, &TidPatch { deletes: vec![], inserts: triples });
        assert!(effects.resolution.is_empty(), "{step}");
        assert_eq!(entailed(&ds), expected, "{step}");
    }
}

const LIST: &str = "http://ex.org/shopping";

fn slot(name: &str) -> Term {
    Term::iri(format!("http://ex.org/.well-known/genid/{name}"))
}

fn position(pos: &str, slot_name: &str) -> Triple {
    Triple::new(Term::iri(LIST), format!("{POS_ID_PREFIX}{pos}"), slot(slot_name))
}

fn item(slot_name: &str, value: &str) -> Triple {
    Triple::new(slot(slot_name), JRQL_ITEM, Term::Literal(Literal::new(value, XS_STRING)))
}

fn tids(t: &[&str]) -> TidSet {
    t.iter().map(|s| s.to_string()).collect()
}

fn inserts(tid: &str, triples: &[Triple]) -> TidPatch {
    TidPatch { deletes: vec![], inserts: triples.iter().map(|t| (t.clone(), tids(&[tid]))).collect() }
}

/// slot name → index, from the entailed triples.
fn indexes(ds: &Dataset) -> BTreeMap<String, String> {
    entailed(ds)
        .into_iter()
        .map(|t| {
            let name = t.subject.as_iri().unwrap().rsplit('/').next().unwrap().to_owned();
            let Term::Literal(l) = t.object else { panic!() };
            (name, l.lexical)
        })
        .collect()
}

fn expect(pairs: &[(&str, u64)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(s, i)| (s.to_string(), i.to_string())).collect()
}

#[test]
fn indexes_follow_inserts_in_the_middle_deletes_and_concurrent_inserts() {
    let ds = dataset();
    let type_triple = Triple::new(Term::iri(LIST), crate::meld::term::RDF_TYPE, Term::iri(RDF_LSEQ));
    apply(
        &ds,
        1,
        &inserts("t1", &[type_triple, position("3a", "a"), item("a", "A"), position("7a", "b"), item("b", "B")]),
    );
    assert_eq!(indexes(&ds), expect(&[("a", 0), ("b", 1)]));
    // Into the middle
    apply(&ds, 2, &inserts("t2", &[position("5a", "m"), item("m", "M")]));
    assert_eq!(indexes(&ds), expect(&[("a", 0), ("m", 1), ("b", 2)]));
    // Two clones insert concurrently at the head: posIds from two sites
    apply(&ds, 3, &inserts("t3", &[position("1x", "x"), item("x", "X")]));
    apply(&ds, 4, &inserts("t4", &[position("1w", "w"), item("w", "W")]));
    assert_eq!(indexes(&ds), expect(&[("w", 0), ("x", 1), ("a", 2), ("m", 3), ("b", 4)]));
    // Deleting a position and its slot: the slot's index goes, later ones move
    let delete = TidPatch {
        deletes: vec![(position("5a", "m"), tids(&["t2"])), (item("m", "M"), tids(&["t2"]))],
        inserts: vec![],
    };
    apply(&ds, 5, &delete);
    assert_eq!(indexes(&ds), expect(&[("w", 0), ("x", 1), ("a", 2), ("b", 3)]));
    // Moving a slot (delete one position, insert another) re-ranks it
    let mut patch = inserts("t6", &[position("8a", "w")]);
    patch.deletes.push((position("1w", "w"), tids(&["t4"])));
    apply(&ds, 6, &patch);
    assert_eq!(indexes(&ds), expect(&[("x", 0), ("a", 1), ("b", 2), ("w", 3)]));
    // Entailed triples never carry TIDs
    assert!(ds.triples().map(Result::unwrap).filter(|s| s.entailed).all(|s| s.tids.is_empty()));
}

#[test]
fn a_position_with_tids_left_stays_in_the_list() {
    let ds = dataset();
    apply(&ds, 1, &inserts("t1", &[position("3a", "a"), position("7a", "b")]));
    // The same position inserted again by another operation
    apply(&ds, 2, &inserts("t2", &[position("3a", "a")]));
    let delete = TidPatch { deletes: vec![(position("3a", "a"), tids(&["t1"]))], inserts: vec![] };
    apply(&ds, 3, &delete);
    assert_eq!(indexes(&ds), expect(&[("a", 0), ("b", 1)]));
}

#[test]
fn a_slot_at_two_positions_keeps_the_lowest() {
    let ds = dataset();
    apply(&ds, 1, &inserts("t1", &[position("3a", "a"), position("7a", "b")]));
    // Concurrently, a clone moved slot a to the end
    let effects = apply(&ds, 2, &inserts("t2", &[position("9b", "a")]));
    assert_eq!(effects.resolution, vec![position("9b", "a")]);
    assert_eq!(indexes(&ds), expect(&[("a", 0), ("b", 1)]));
    // Deleting the duplicate (the resolution) changes no index
    let effects = apply(&ds, 3, &TidPatch { deletes: vec![(position("9b", "a"), tids(&["t2"]))], inserts: vec![] });
    assert_eq!(effects.entailments, Entailments::default());
    assert!(effects.resolution.is_empty());
}

#[test]
fn a_slot_with_two_items_keeps_the_greatest() {
    let ds = dataset();
    apply(&ds, 1, &inserts("t1", &[position("3a", "a"), item("a", "Bread")]));
    let effects = apply(&ds, 2, &inserts("t2", &[item("a", "Milk")]));
    assert_eq!(effects.resolution, vec![item("a", "Bread")]);
    let effects = apply(&ds, 3, &inserts("t3", &[item("a", "Apples")]));
    assert_eq!(effects.resolution.len(), 2, "both others go: {:?}", effects.resolution);
    assert!(!effects.resolution.contains(&item("a", "Milk")));
}

#[test]
fn reindexing_repairs_lists_stored_without_indexes() {
    let ds = dataset();
    let patch = inserts("t1", &[position("3a", "a"), position("7a", "b")]);
    // As an engine without list support would have stored it
    let append = JournalAppend {
        local_tick: 1,
        prev: (0, "kA==".into()),
        tid: "t1".into(),
        op_bytes: Vec::new(),
        attribution: None,
        new_state: JournalState::genesis(),
    };
    let stale = Entailments { inserts: vec![index_triple(&slot("gone"), 4)], deletes: vec![] };
    ds.apply(&patch, &stale, &append).unwrap();
    let fix = reindex_all(&ds).unwrap();
    assert_eq!(fix.inserts, vec![index_triple(&slot("a"), 0), index_triple(&slot("b"), 1)]);
    assert_eq!(fix.deletes, vec![index_triple(&slot("gone"), 4)]);
}
