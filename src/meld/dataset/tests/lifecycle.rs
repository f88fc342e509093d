//! Reopening, crashes, snapshot replacement and deletion.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::super::keys;
use super::*;
use crate::meld::value::Value;

fn names(db: &sled::Db) -> Vec<String> {
    let mut names: Vec<_> = db.tree_names().iter().map(|n| String::from_utf8_lossy(n).into_owned()).collect();
    names.retain(|n| n != "__sled__default");
    names.sort();
    names
}

#[test]
fn reopens_after_drop_without_flush() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let ds = Dataset::open(&db, "d").unwrap();
        for i in 1..=50 {
            workload_op(&ds, i);
        }
        assert_eq!(check_workload(&ds), 50);
    }
    let db = reopen(dir.path());
    let ds = Dataset::open(&db, "d").unwrap();
    // Anything from none to all of the operations may have reached the disk.
    let n = check_workload(&ds);
    // The dataset carries on from where it is.
    workload_op(&ds, n + 1);
    assert_eq!(check_workload(&ds), n + 1);
}

/// Env var that turns the crash test's re-run of itself into the child.
const CRASH_CHILD: &str = "MELD_DATASET_CRASH_CHILD";

#[test]
fn a_killed_process_leaves_no_partial_operation() {
    if let Ok(path) = std::env::var(CRASH_CHILD) {
        // Child: apply operations until killed. One flush early on makes the
        // first operations durable, so the parent has something to check.
        let db = sled::Config::new().path(path).flush_every_ms(Some(5)).open().unwrap();
        let ds = Dataset::open(&db, "d").unwrap();
        for i in 1..=1_000_000 {
            workload_op(&ds, i);
            if i == 20 {
                db.flush().unwrap();
                println!("crash-child-ready");
            }
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["a_killed_process_leaves_no_partial_operation", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = BufReader::new(stdout).lines().any(|line| line.unwrap().contains("crash-child-ready"));
    assert!(ready, "the child process stopped before it was ready");
    std::thread::sleep(Duration::from_millis(150));
    // SIGKILL: no destructors, no final flush.
    child.kill().unwrap();
    child.wait().unwrap();
    let db = reopen(dir.path());
    let ds = Dataset::open(&db, "d").unwrap();
    let n = check_workload(&ds);
    assert!(n >= 20, "only {n} operations survived a flush of 20");
}

pub(super) fn snapshot_triples() -> Vec<StoredTriple> {
    let data =
        Literal { data: Some(Value::Bin(vec![1, 2, 3])), ..Literal::new("bin-id", crate::meld::term::XS_BASE64) };
    vec![
        StoredTriple { triple: triple("fred", "name", string("Fred")), tids: tids(&["s1", "s2"]), entailed: false },
        StoredTriple { triple: triple("slot", "index", string("0")), tids: TidSet::new(), entailed: true },
        StoredTriple { triple: triple("fred", "avatar", Term::Literal(data)), tids: tids(&["s1"]), entailed: false },
        // The same triple twice merges; a triple with no TIDs is not present.
        StoredTriple { triple: triple("fred", "name", string("Fred")), tids: tids(&["s3"]), entailed: false },
        StoredTriple { triple: triple("nobody", "name", string("No")), tids: TidSet::new(), entailed: false },
    ]
}

#[test]
fn replace_all_swaps_everything_and_survives_reopen() {
    let (dir, db) = temp_db();
    let mut ds = Dataset::open(&db, "d").unwrap();
    for i in 1..=5 {
        workload_op(&ds, i);
    }
    let mut state = JournalState::genesis();
    state.start = 7;
    state.time = TreeClock::genesis().ticked_to(7);
    let past = [("s1".to_string(), vec![0xaa]), ("s3".to_string(), vec![0xbb])];
    ds.replace_all(snapshot_triples(), past, &state).unwrap();
    let check = |ds: &Dataset| {
        assert_eq!(ds.len().unwrap(), 3);
        let fred = ds.get(&triple("fred", "name", string("Fred"))).unwrap().unwrap();
        assert_eq!(fred.tids, tids(&["s1", "s2", "s3"]));
        assert!(ds.get(&triple("slot", "index", string("0"))).unwrap().unwrap().entailed);
        let avatar = ds.matching(None, Some("avatar"), None).next().unwrap().unwrap();
        let Term::Literal(literal) = avatar.triple.object else { unreachable!() };
        assert_eq!(literal.data, Some(Value::Bin(vec![1, 2, 3])));
        // The old journal is gone; the new one starts empty at the snapshot.
        assert_eq!(ds.last_entry().unwrap(), None);
        assert_eq!(ds.operation("t1").unwrap(), None);
        assert_eq!(ds.operation("s3").unwrap(), Some(vec![0xbb]));
        assert_eq!(ds.state().unwrap(), Some(state.clone()));
        check_consistent(ds);
    };
    check(&ds);
    assert!(names(&db).iter().all(|n| n == "d/root" || n.starts_with("d/g1/")), "{:?}", names(&db));
    // Operations carry on in the new generation.
    apply(&ds, 8, "n8", &[(triple("fred", "name", string("Fred")), &["s1", "s2", "s3"])], &[]);
    assert_eq!(ds.len().unwrap(), 2);
    drop(ds);
    drop(db);
    let db = reopen(dir.path());
    let ds = Dataset::open(&db, "d").unwrap();
    assert_eq!(ds.len().unwrap(), 2);
    assert_eq!(ds.last_entry().unwrap().unwrap().tid, "n8");
}

#[test]
fn an_interrupted_replacement_is_discarded_on_open() {
    let (dir, db) = temp_db();
    let mut ds = Dataset::open(&db, "d").unwrap();
    workload_op(&ds, 1);
    let mut replacement = ds.begin_replacement().unwrap();
    replacement.add_triples(snapshot_triples()).unwrap();
    // A crash before the switch: the half-built generation is on disk.
    drop(replacement);
    drop(ds);
    db.flush().unwrap();
    assert!(names(&db).iter().any(|n| n.starts_with("d/g1/")));
    drop(db);
    let db = reopen(dir.path());
    let ds = Dataset::open(&db, "d").unwrap();
    assert_eq!(check_workload(&ds), 1);
    assert!(names(&db).iter().all(|n| !n.starts_with("d/g1/")), "{:?}", names(&db));
}

#[test]
fn only_the_latest_replacement_can_finish() {
    let (_dir, db) = temp_db();
    let mut ds = Dataset::open(&db, "d").unwrap();
    let mut other = Dataset::open(&db, "e").unwrap();
    let first = ds.begin_replacement().unwrap();
    let second = ds.begin_replacement().unwrap();
    let state = JournalState::genesis();
    assert!(matches!(ds.finish_replacement(first, &state), Err(DatasetError::StaleReplacement)));
    let foreign = other.begin_replacement().unwrap();
    assert!(matches!(ds.finish_replacement(foreign, &state), Err(DatasetError::StaleReplacement)));
    ds.finish_replacement(second, &state).unwrap();
    assert_eq!(ds.state().unwrap(), Some(state));
}

#[test]
fn delete_all_drops_only_its_own_trees() {
    let (_dir, db) = temp_db();
    // A prefix that extends the other's must not be confused with it.
    let mut ds = Dataset::open(&db, "d").unwrap();
    let neighbour = Dataset::open(&db, "d/g1").unwrap();
    workload_op(&neighbour, 1);
    workload_op(&ds, 1);
    ds.replace_all(snapshot_triples(), [], &JournalState::genesis()).unwrap();
    workload_op(&ds, 1);
    ds.delete_all().unwrap();
    let neighbours = |n: &String| n == "d/g1/root" || n.starts_with("d/g1/g0/");
    assert!(names(&db).iter().all(neighbours), "{:?}", names(&db));
    assert_eq!(check_workload(&neighbour), 1);
    let ds = Dataset::open(&db, "d").unwrap();
    assert!(ds.is_empty().unwrap());
    assert_eq!(ds.state().unwrap(), None);
}

#[test]
fn an_interrupted_deletion_leaves_an_empty_dataset() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    workload_op(&ds, 1);
    // What delete_all makes durable first; then a crash.
    let empty = keys::tick_key(ds.generation + 1);
    ds.root.insert(keys::GEN_KEY, &empty).unwrap();
    drop(ds);
    let ds = Dataset::open(&db, "d").unwrap();
    assert!(ds.is_empty().unwrap());
    assert_eq!(ds.state().unwrap(), None);
    assert_eq!(ds.last_entry().unwrap(), None);
    assert!(names(&db).iter().all(|n| n == "d/root" || n.starts_with("d/g1/")), "{:?}", names(&db));
    ds.delete_all().unwrap();
    assert!(names(&db).is_empty(), "{:?}", names(&db));
}
