//! The journal, and atomicity of apply when an input is refused midway.

use super::*;

#[test]
fn entries_come_in_tick_order() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    assert_eq!(ds.state().unwrap(), None);
    assert_eq!(ds.last_entry().unwrap(), None);
    // Applied out of order, with ticks whose little-endian bytes would sort differently.
    for tick in [2u64, 1, 256, 3, 65_536, 300] {
        apply(&ds, tick, &format!("t{tick}"), &[], &[(triple("s", "p", string(&tick.to_string())), &["x"])]);
    }
    let ticks = |after| ds.entries_after(after).map(|e| e.unwrap().tick).collect::<Vec<_>>();
    assert_eq!(ticks(0), [1, 2, 3, 256, 300, 65_536]);
    assert_eq!(ticks(2), [3, 256, 300, 65_536]);
    assert_eq!(ticks(299), [300, 65_536]);
    assert!(ticks(65_536).is_empty());
    assert!(ticks(u64::MAX).is_empty());
    let last = ds.last_entry().unwrap().unwrap();
    assert_eq!(
        last,
        JournalEntry { tick: 65_536, prev: (65_535, "prev-of-t65536".into()), tid: "t65536".into(), attribution: None }
    );
    // The state is the one the last *applied* operation saved.
    assert_eq!(ds.state().unwrap().unwrap().time.ticks(), Some(300));
}

#[test]
fn entries_keep_operations_prevs_and_attribution() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    let mut op = append(5, "tid5");
    op.prev = (3, "tid3".into());
    op.op_bytes = vec![0x95, 0x05, 0xc0];
    op.attribution = Some(vec![0x82, 0xa3]);
    ds.apply(&TidPatch::default(), &Entailments::default(), &op).unwrap();
    let entry = ds.entries_after(4).next().unwrap().unwrap();
    assert_eq!(
        entry,
        JournalEntry { tick: 5, prev: (3, "tid3".into()), tid: "tid5".into(), attribution: op.attribution }
    );
    assert_eq!(ds.operation("tid5").unwrap(), Some(vec![0x95, 0x05, 0xc0]));
    assert_eq!(ds.prev("tid5").unwrap(), Some((3, "tid3".into())));
    assert_eq!(ds.operation("nope").unwrap(), None);
    assert_eq!(ds.prev("nope").unwrap(), None);
    assert_eq!(ds.state().unwrap(), Some(op.new_state));
}

#[test]
fn state_and_past_operations_stand_alone() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    ds.save_state(&JournalState::genesis()).unwrap();
    assert_eq!(ds.state().unwrap(), Some(JournalState::genesis()));
    ds.add_past_operations([("p1".to_string(), vec![1]), ("p2".to_string(), vec![2])]).unwrap();
    assert_eq!(ds.operation("p2").unwrap(), Some(vec![2]));
    // Past operations have no entry and no prev.
    assert_eq!(ds.last_entry().unwrap(), None);
    assert_eq!(ds.prev("p1").unwrap(), None);
}

#[test]
fn a_taken_tick_aborts_everything_already_written() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    let name = triple("fred", "name", string("Fred"));
    apply(&ds, 1, "a", &[], &[(name.clone(), &["a"])]);
    let before = dump(&ds);
    // Deletes, inserts and entailments are written to the transaction before
    // the tick is checked; the refusal must undo them all.
    let patch = patch(&[(name.clone(), &["a"])], &[(triple("wilma", "name", string("Wilma")), &["b"])]);
    let entail = Entailments { inserts: vec![triple("e", "p", string("e"))], deletes: vec![] };
    let mut op = append(1, "b");
    op.new_state.start = 99;
    let err = ds.apply(&patch, &entail, &op).unwrap_err();
    assert!(matches!(err, DatasetError::TickTaken(1)), "{err}");
    assert_eq!(dump(&ds), before);
    assert_eq!(ds.operation("b").unwrap(), None);
    assert_eq!(ds.state().unwrap().unwrap().start, 0);
    check_consistent(&ds);
}

#[test]
fn an_invalid_triple_changes_nothing() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    apply(&ds, 1, "a", &[], &[(triple("fred", "name", string("Fred")), &["a"])]);
    let before = dump(&ds);
    let literal_subject = Triple::new(string("x"), "p", iri("o"));
    let patch = patch(&[], &[(triple("wilma", "name", string("Wilma")), &["b"]), (literal_subject, &["b"])]);
    let err = ds.apply(&patch, &Entailments::default(), &append(2, "b")).unwrap_err();
    assert!(matches!(err, DatasetError::InvalidTriple(_)), "{err}");
    assert_eq!(dump(&ds), before);
}

#[test]
fn corrupt_stored_bytes_are_reported_not_panicked_on() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    let fred = triple("fred", "name", string("Fred"));
    let wilma = triple("wilma", "name", string("Wilma"));
    apply(&ds, 1, "a", &[], &[(fred.clone(), &["a"]), (wilma.clone(), &["a"])]);
    let key = super::super::keys::triple_key(super::super::keys::Order::Spo, &fred);
    ds.trees[SPO].insert(key, &[0x80, 0x01]).unwrap();
    assert!(matches!(ds.get(&fred), Err(DatasetError::Corruption(_))));
    assert!(matches!(ds.triples().next(), Some(Err(DatasetError::Corruption(_)))));
    // An apply that has already deleted `wilma` meets the corrupt `fred`: it
    // aborts with the corruption instead of guessing, and `wilma` stays.
    let before = dump(&ds);
    let patch = patch(&[(wilma.clone(), &["a"]), (fred, &["a"])], &[]);
    let err = ds.apply(&patch, &Entailments::default(), &append(2, "b")).unwrap_err();
    assert!(matches!(err, DatasetError::Corruption(_)), "{err}");
    assert_eq!(dump(&ds), before);
    assert!(ds.get(&wilma).unwrap().is_some());
    ds.trees[SPO].insert(b"\x09junk", &[0]).unwrap();
    assert!(ds.triples().any(|t| matches!(t, Err(DatasetError::Corruption(_)))));
}
