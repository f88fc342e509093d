//! Raw copies: a dataset staged from another's raw records and published
//! is the same dataset; an unpublished staging is invisible and dropped by
//! the next open.

use super::*;

fn records(ds: &Dataset) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    ds.raw_records().map(|r| r.map(|(t, k, v)| (t.to_owned(), k.to_vec(), v.to_vec())).unwrap()).collect()
}

fn source(db: &sled::Db) -> Dataset {
    let ds = Dataset::open(db, "from").unwrap();
    ds.save_state(&JournalState::genesis()).unwrap();
    for i in 1..=20 {
        workload_op(&ds, i);
    }
    ds
}

#[test]
fn a_published_staging_is_the_same_dataset() {
    let (_dir, db) = temp_db();
    let from = source(&db);
    let mut staged = Dataset::stage(&db, "to").unwrap();
    for chunk in records(&from).chunks(7) {
        staged.insert(chunk).unwrap();
    }
    staged.finish().unwrap();
    let (root, key, value) = staged.publish_key();
    root.insert(key, &value).unwrap();
    let to = Dataset::open(&db, "to").unwrap();
    assert_eq!(check_workload(&to), 20);
    assert_eq!(dump(&to), dump(&from));
    assert_eq!(to.state().unwrap(), from.state().unwrap());
}

#[test]
fn an_unpublished_staging_is_invisible_and_dropped_on_open() {
    let (_dir, db) = temp_db();
    let from = source(&db);
    let mut staged = Dataset::stage(&db, "to").unwrap();
    staged.insert(&records(&from)).unwrap();
    staged.finish().unwrap();
    let to = Dataset::open(&db, "to").unwrap();
    assert!(to.state().unwrap().is_none() && to.is_empty().unwrap());
    let left = db.tree_names().iter().filter(|n| n.starts_with(b"to/g") && !n.starts_with(b"to/g0/")).count();
    assert_eq!(left, 0, "the staged generation is dropped by opening");
}

#[test]
fn abandoning_leaves_no_tree() {
    let (_dir, db) = temp_db();
    let from = source(&db);
    let mut staged = Dataset::stage(&db, "to").unwrap();
    staged.insert(&records(&from)).unwrap();
    staged.abandon().unwrap();
    // Only the (empty) root stays, which a dataset opened meanwhile may hold
    let left: Vec<_> = db.tree_names().into_iter().filter(|n| n.starts_with(b"to/")).collect();
    assert_eq!(left, [sled::IVec::from("to/root")]);
    assert!(db.open_tree("to/root").unwrap().is_empty());
}

#[test]
fn abandoning_keeps_what_another_dataset_on_the_prefix_wrote() {
    let (_dir, db) = temp_db();
    let from = source(&db);
    let staged = Dataset::stage(&db, "to").unwrap();
    // A subdomain created meanwhile under that name, which then gets a snapshot
    let mut other = Dataset::open(&db, "to").unwrap();
    staged.abandon().unwrap();
    other.replace_all(all(&from), Vec::new(), &from.state().unwrap().unwrap()).unwrap();
    drop(other);
    let reopened = Dataset::open(&db, "to").unwrap();
    assert_eq!(all(&reopened), all(&from), "the replacement survives the abandoned restore");
}

#[test]
fn records_the_engine_never_writes_are_refused_whole() {
    let (_dir, db) = temp_db();
    let from = source(&db);
    let good = records(&from);
    let bad: [(&str, Vec<u8>, Vec<u8>); 6] = [
        ("nope", vec![1], vec![]),
        ("spo", vec![0xff], vec![]),
        ("pos", good.iter().find(|r| r.0 == "pos").unwrap().1.clone(), vec![1]),
        ("entries", vec![1, 2], vec![]),
        ("prevs", b"t1".to_vec(), vec![0xff]),
        ("meta", b"state".to_vec(), vec![0x90]),
    ];
    for (tree, key, value) in bad {
        let mut staged = Dataset::stage(&db, "to").unwrap();
        let mut batch = good[..3].to_vec();
        batch.push((tree.to_owned(), key, value));
        assert!(matches!(staged.insert(&batch), Err(DatasetError::Corruption(_))), "{tree}");
        // Nothing of the refused call was written
        assert_eq!(records_of(&db, &staged), 0, "{tree}");
        staged.abandon().unwrap();
    }
    // A staging without a journal state, or with an index missing, does not finish
    let mut staged = Dataset::stage(&db, "to").unwrap();
    staged.insert(&good.iter().filter(|r| r.0 != "meta").cloned().collect::<Vec<_>>()).unwrap();
    assert!(staged.finish().is_err());
    let mut staged = Dataset::stage(&db, "to").unwrap();
    staged.insert(&good.iter().filter(|r| r.0 != "osp").cloned().collect::<Vec<_>>()).unwrap();
    assert!(staged.finish().is_err());
}

/// Records in a staging's trees.
fn records_of(db: &sled::Db, staged: &Staged) -> usize {
    let (_, _, generation) = staged.publish_key();
    let prefix = format!("to/g{}/", u64::from_be_bytes(generation));
    db.tree_names().iter().filter(|n| n.starts_with(prefix.as_bytes())).map(|n| db.open_tree(n).unwrap().len()).sum()
}

#[test]
fn a_staging_whose_records_do_not_match_their_digest_is_refused_and_one_without_gets_one() {
    let (_dir, db) = temp_db();
    let from = source(&db);
    let all = records(&from);
    assert!(all.iter().any(|(t, k, _)| t == "meta" && k.as_slice() == keys::DIGEST_KEY), "exports carry the digest");
    // A record changed in a way that still decodes (a triple dropped from
    // all three indexes keeps them equal in size): only the digest sees it
    let mut changed = all.clone();
    let gone = changed.iter().find(|(t, _, _)| t == "spo").map(|(_, k, _)| k.clone()).unwrap();
    let triple = keys::decode_triple_key(keys::Order::Spo, &gone).unwrap();
    let (pos, osp) = (keys::triple_key(keys::Order::Pos, &triple), keys::triple_key(keys::Order::Osp, &triple));
    changed.retain(|(t, k, _)| !(t == "spo" && *k == gone || t == "pos" && *k == pos || t == "osp" && *k == osp));
    let mut staged = Dataset::stage(&db, "to").unwrap();
    staged.insert(&changed).unwrap();
    let e = staged.finish().unwrap_err();
    assert!(e.to_string().contains("integrity digest"), "{e}");
    staged.abandon().unwrap();
    // Data from before digests: the staging computes one, equal to the source's
    let without: Vec<_> =
        all.into_iter().filter(|(t, k, _)| !(t == "meta" && k.as_slice() == keys::DIGEST_KEY)).collect();
    let mut staged = Dataset::stage(&db, "to2").unwrap();
    staged.insert(&without).unwrap();
    staged.finish().unwrap();
    let (root, key, value) = staged.publish_key();
    root.insert(key, &value).unwrap();
    let to = Dataset::open(&db, "to2").unwrap();
    assert_eq!(to.stored_digest().unwrap(), from.stored_digest().unwrap());
    assert!(matches!(to.check_digest().unwrap(), DigestCheck::Matches));
}
