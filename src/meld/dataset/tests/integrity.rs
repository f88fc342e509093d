//! The integrity digest: kept by every write path equal to a recomputation,
//! and changed by any flipped byte in any record; the full verification's
//! structural checks.

use super::super::keys::{DATA, DIGEST_KEY, ENTRIES, META, OPS, PREVS, STATE_KEY, TREE_NAMES};
use super::*;
use crate::meld::value::Value;

/// The stored digest equals a recomputation.
fn assert_digest_kept(ds: &Dataset) {
    assert_eq!(ds.stored_digest().unwrap(), Some(ds.compute_digest().unwrap()));
    assert_eq!(ds.check_digest().unwrap(), DigestCheck::Matches);
}

/// A dataset with something in every tree: triples (one with literal
/// data, shared by two triples), an entailed triple, journal entries, past
/// operations and every meta record.
fn populated(db: &sled::Db) -> Dataset {
    let ds = Dataset::open(db, "d").unwrap();
    let data = Literal { data: Some(Value::Bin(vec![9, 8, 7])), ..Literal::new("bin", crate::meld::term::XS_BASE64) };
    let avatar = Term::Literal(data);
    apply(&ds, 1, "t1", &[], &[(triple("fred", "avatar", avatar.clone()), &["t1"])]);
    apply(&ds, 2, "t2", &[], &[(triple("wilma", "avatar", avatar), &["t2"])]);
    apply(&ds, 3, "t3", &[], &[(triple("fred", "name", string("Fred")), &["t3"])]);
    let entailed = Entailments { inserts: vec![triple("slot", "index", string("0"))], deletes: vec![] };
    ds.entail(&entailed).unwrap();
    ds.add_past_operations([("old".to_string(), vec![1, 2, 3])]).unwrap();
    ds.mark_unsupported("because").unwrap();
    ds
}

#[test]
fn every_write_path_keeps_the_digest() {
    let (_dir, db) = temp_db();
    let mut ds = populated(&db);
    check_consistent(&ds);
    for (tree, name) in ds.trees.iter().zip(TREE_NAMES) {
        assert!(!tree.is_empty(), "{name} is empty");
    }
    // Deletes (taking the data's last reference), overwrites, un-entailing
    apply(&ds, 4, "t4", &[(triple("fred", "avatar", avatar_id()), &["t1"])], &[]);
    assert_digest_kept(&ds);
    apply(&ds, 5, "t5", &[(triple("wilma", "avatar", avatar_id()), &["t2"])], &[]);
    assert!(ds.trees[DATA].is_empty());
    let entailed = Entailments { inserts: vec![], deletes: vec![triple("slot", "index", string("0"))] };
    ds.entail(&entailed).unwrap();
    let mut state = ds.state().unwrap().unwrap();
    state.start = 1;
    ds.save_state(&state).unwrap();
    check_consistent(&ds);
    // A refused apply changes nothing, the digest included
    assert!(ds.apply(&patch(&[], &[]), &Entailments::default(), &append(5, "again")).is_err());
    assert_digest_kept(&ds);
    // A snapshot's new generation has its own digest, kept from its first write
    ds.replace_all(super::lifecycle::snapshot_triples(), [("s1".to_string(), vec![0xaa])], &state).unwrap();
    check_consistent(&ds);
    apply(&ds, 8, "n8", &[(triple("fred", "name", string("Fred")), &["s1"])], &[]);
    check_consistent(&ds);
}

fn avatar_id() -> Term {
    Term::Literal(Literal::new("bin", crate::meld::term::XS_BASE64))
}

#[test]
fn any_flipped_byte_in_any_record_is_found() {
    let (_dir, db) = temp_db();
    let ds = populated(&db);
    assert_digest_kept(&ds);
    let mut flips = 0;
    for tree in 0..TREE_NAMES.len() {
        let records = dump(&ds).swap_remove(tree);
        for (key, value) in records {
            if tree == META && key == DIGEST_KEY {
                continue;
            }
            // Every bit of every value byte (one bit at a time) …
            for i in 0..value.len() {
                for bit in 0..8 {
                    let mut bad = value.clone();
                    bad[i] ^= 1 << bit;
                    ds.trees[tree].insert(&key, bad).unwrap();
                    assert!(matches!(ds.check_digest().unwrap(), DigestCheck::Mismatch { .. }));
                    flips += 1;
                }
            }
            ds.trees[tree].insert(&key, value.clone()).unwrap();
            // … and every byte of the key (the record moves)
            for i in 0..key.len() {
                let mut bad = key.clone();
                bad[i] ^= 0x01;
                if ds.trees[tree].contains_key(&bad).unwrap() {
                    continue;
                }
                ds.trees[tree].remove(&key).unwrap();
                ds.trees[tree].insert(&bad, value.clone()).unwrap();
                assert!(matches!(ds.check_digest().unwrap(), DigestCheck::Mismatch { .. }));
                ds.trees[tree].remove(&bad).unwrap();
                ds.trees[tree].insert(&key, value.clone()).unwrap();
                flips += 1;
            }
            // A record gone is found too
            ds.trees[tree].remove(&key).unwrap();
            assert!(matches!(ds.check_digest().unwrap(), DigestCheck::Mismatch { .. }));
            ds.trees[tree].insert(&key, value).unwrap();
            assert_digest_kept(&ds);
        }
    }
    assert!(flips > 1000, "only {flips} flips tried");
    // A record added behind the dataset's back, too
    ds.trees[OPS].insert(b"stranger", &[1]).unwrap();
    assert!(matches!(ds.check_digest().unwrap(), DigestCheck::Mismatch { .. }));
    // And the full verification names the mismatch
    let problems = ds.verify().unwrap();
    assert!(problems.iter().any(|p| p.contains("digest mismatch")), "{problems:?}");
}

#[test]
fn data_without_a_digest_gets_one_on_open() {
    let (_dir, db) = temp_db();
    let ds = populated(&db);
    let digest = ds.stored_digest().unwrap();
    ds.trees[META].remove(DIGEST_KEY).unwrap();
    assert_eq!(ds.check_digest().unwrap(), DigestCheck::Missing);
    // Inspection writes nothing
    let inspected = Dataset::inspect(&db, "d").unwrap().unwrap();
    assert_eq!(inspected.stored_digest().unwrap(), None);
    drop((ds, inspected));
    let ds = Dataset::open(&db, "d").unwrap();
    assert_eq!(ds.stored_digest().unwrap(), digest);
    assert_digest_kept(&ds);
    assert!(Dataset::inspect(&db, "nothing").unwrap().is_none());
}

#[test]
fn verification_finds_structural_damage() {
    let (_dir, db) = temp_db();
    let ds = populated(&db);
    assert_eq!(ds.verify().unwrap(), Vec::<String>::new());
    // An index entry lost, a journal entry without its operation, a prev
    // that disagrees, a state that does not decode
    let fred = super::super::keys::triple_key(super::super::keys::Order::Pos, &triple("fred", "name", string("Fred")));
    ds.trees[super::super::keys::POS].remove(fred).unwrap();
    ds.trees[OPS].remove(b"t2").unwrap();
    ds.trees[PREVS].insert(b"t3", &[0, 0]).unwrap();
    ds.trees[META].insert(STATE_KEY, &[0xc1]).unwrap();
    ds.trees[ENTRIES].insert(b"short", &[0]).unwrap();
    let problems = ds.verify().unwrap().join("\n");
    for expected in [
        "digest mismatch",
        "pos index lacks",
        "tick 2 has no operation",
        "prev record of tick 3 differs",
        "meta: corrupt dataset: journal state",
        "journal tick key is not 8 bytes",
    ] {
        assert!(problems.contains(expected), "{expected:?} not in:\n{problems}");
    }
}

#[test]
fn a_root_pointing_away_from_the_data_is_corruption() {
    let (_dir, db) = temp_db();
    let ds = populated(&db);
    // A flipped bit in the root's generation number
    let root = db.open_tree("d/root").unwrap();
    root.insert(b"gen", &1u64.to_be_bytes()).unwrap();
    drop(ds);
    let names_before = db.tree_names();
    assert!(matches!(Dataset::inspect(&db, "d"), Err(DatasetError::Corruption(_))));
    assert_eq!(db.tree_names(), names_before, "inspection created no tree");
    // A root alone (nothing written yet) is no dataset
    db.open_tree("e/root").unwrap();
    assert!(Dataset::inspect(&db, "e").unwrap().is_none());
}
