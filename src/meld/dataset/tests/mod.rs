//! Dataset tests on real sled databases in temporary directories, and the
//! helpers they share: a tiny operation builder, a workload whose expected
//! state is known at every operation, and a whole-dataset consistency check.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use super::keys::{OSP, POS, SPO};
use super::*;
use crate::meld::clock::TreeClock;
use crate::meld::term::{Literal, Term, TidPatch, TidSet, Triple, XS_STRING};

mod integrity;
mod journal;
mod lifecycle;
mod raw;
mod su_set;

fn temp_db() -> (tempfile::TempDir, sled::Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).open().unwrap();
    (dir, db)
}

/// Opens a database again after dropping it. sled's I/O threads may hold
/// the file (and its lock) for a moment after the last handle goes.
fn reopen(path: &std::path::Path) -> sled::Db {
    for _ in 0..100 {
        match sled::Config::new().path(path).open() {
            Ok(db) => return db,
            Err(sled::Error::Io(_)) => std::thread::sleep(std::time::Duration::from_millis(50)),
            Err(err) => panic!("reopening: {err}"),
        }
    }
    panic!("database still locked")
}

fn iri(s: &str) -> Term {
    Term::iri(s)
}

fn string(s: &str) -> Term {
    Term::Literal(Literal::new(s, XS_STRING))
}

fn triple(s: &str, p: &str, o: Term) -> Triple {
    Triple::new(iri(s), p, o)
}

fn tids(tids: &[&str]) -> TidSet {
    tids.iter().map(|t| t.to_string()).collect()
}

/// A journal append at `tick` for an operation with TID `tid`; the clock is
/// simply ticked to `tick`, which is all the dataset stores.
fn append(tick: u64, tid: &str) -> JournalAppend {
    let mut new_state = JournalState::genesis();
    new_state.time = TreeClock::genesis().ticked_to(tick);
    JournalAppend {
        local_tick: tick,
        prev: (tick.saturating_sub(1), format!("prev-of-{tid}")),
        tid: tid.into(),
        op_bytes: format!("op {tid}").into_bytes(),
        attribution: None,
        new_state,
    }
}

/// Applies a patch with no entailments, journalled at `tick` as TID `tid`.
fn apply(ds: &Dataset, tick: u64, tid: &str, deletes: &[(Triple, &[&str])], inserts: &[(Triple, &[&str])]) -> Removed {
    let patch = patch(deletes, inserts);
    ds.apply(&patch, &Entailments::default(), &append(tick, tid)).unwrap()
}

fn patch(deletes: &[(Triple, &[&str])], inserts: &[(Triple, &[&str])]) -> TidPatch {
    let conv = |items: &[(Triple, &[&str])]| items.iter().map(|(t, ids)| (t.clone(), tids(ids))).collect();
    TidPatch { deletes: conv(deletes), inserts: conv(inserts) }
}

fn all(ds: &Dataset) -> Vec<StoredTriple> {
    ds.triples().collect::<Result<_, _>>().unwrap()
}

/// Every tree's contents, to compare before and after a refused apply.
fn dump(ds: &Dataset) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
    ds.trees
        .iter()
        .map(|tree| tree.iter().map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect())
        .collect()
}

/// Invariants that hold between any two operations: the count and the
/// indexes agree with SPO, every entry has its operation and prev, and the
/// state's clock is at or past the last entry.
fn check_consistent(ds: &Dataset) {
    let triples = all(ds);
    assert_eq!(ds.len().unwrap(), triples.len() as u64);
    assert_eq!(ds.trees[SPO].len(), triples.len());
    assert_eq!(ds.trees[POS].len(), triples.len());
    assert_eq!(ds.trees[OSP].len(), triples.len());
    for stored in &triples {
        assert!(stored.entailed || !stored.tids.is_empty(), "{stored:?}");
        let t = &stored.triple;
        let by_object: Vec<_> = ds.matching(None, None, Some(&t.object)).map(Result::unwrap).collect();
        assert!(by_object.contains(stored));
        let by_predicate: Vec<_> = ds.matching(None, Some(&t.predicate), None).map(Result::unwrap).collect();
        assert!(by_predicate.contains(stored));
    }
    let entries: Vec<_> = ds.entries_after(0).map(Result::unwrap).collect();
    for entry in &entries {
        assert!(ds.operation(&entry.tid).unwrap().is_some(), "{entry:?}");
        assert_eq!(ds.prev(&entry.tid).unwrap().as_ref(), Some(&entry.prev));
    }
    if let Some(last) = entries.last() {
        let state = ds.state().unwrap().unwrap();
        assert!(state.time.ticks().unwrap() >= last.tick);
    }
    // The incrementally kept digest is what a recomputation gives, and the
    // full verification finds nothing
    assert_eq!(ds.stored_digest().unwrap(), Some(ds.compute_digest().unwrap()));
    assert_eq!(ds.verify().unwrap(), Vec::<String>::new());
}

/// Workload operation `i` (from 1): sets `<s> <v>` to `"i"` (deleting
/// `"i-1"` by its TID) and adds a reference `<x_i> <q> <s>`.
fn workload_op(ds: &Dataset, i: u64) {
    let tid = format!("t{i}");
    let prev_tid = format!("t{}", i - 1);
    let value = |n: u64| triple("s", "v", string(&n.to_string()));
    let prev_tids = [prev_tid.as_str()];
    let tids = [tid.as_str()];
    let deletes = if i > 1 { vec![(value(i - 1), &prev_tids[..])] } else { vec![] };
    let inserts = [(value(i), &tids[..]), (triple(&format!("x{i}"), "q", iri("s")), &tids[..])];
    apply(ds, i, &tid, &deletes, &inserts);
}

/// Checks that the dataset holds exactly the effect of workload operations
/// 1..=n for some n (no partial operation), and returns n.
fn check_workload(ds: &Dataset) -> u64 {
    check_consistent(ds);
    let n = ds.last_entry().unwrap().map_or(0, |e| e.tick);
    let ticks: Vec<_> = ds.entries_after(0).map(|e| e.unwrap().tick).collect();
    assert_eq!(ticks, (1..=n).collect::<Vec<_>>());
    if n == 0 {
        assert!(ds.is_empty().unwrap());
        return 0;
    }
    assert_eq!(ds.state().unwrap().unwrap().time.ticks(), Some(n));
    let values: Vec<_> = ds.matching(Some(&iri("s")), Some("v"), None).map(|t| t.unwrap()).collect();
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].triple.object, string(&n.to_string()));
    assert_eq!(values[0].tids, tids(&[&format!("t{n}")]));
    assert_eq!(ds.matching(None, Some("q"), Some(&iri("s"))).count() as u64, n);
    assert_eq!(ds.len().unwrap(), n + 1);
    n
}
