//! SU-Set semantics, entailed triples, literal data and pattern reads.

use super::*;
use crate::meld::term::XS_BASE64;
use crate::meld::value::Value;

#[test]
fn concurrent_insert_survives_a_delete_of_another_tid() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    let name = triple("fred", "name", string("Fred"));
    apply(&ds, 1, "a", &[], &[(name.clone(), &["a"])]);
    apply(&ds, 2, "b", &[], &[(name.clone(), &["b"])]);
    // A delete that only saw insert `a` (and names a TID we never had).
    let removed = apply(&ds, 3, "c", &[(name.clone(), &["a", "zz"])], &[]);
    assert_eq!(removed, vec![(name.clone(), tids(&["a"]))]);
    let stored = ds.get(&name).unwrap().unwrap();
    assert_eq!(stored.tids, tids(&["b"]));
    assert!(!stored.entailed);
    // Deleting the survivor's TID removes the triple and its index entries.
    let removed = apply(&ds, 4, "d", &[(name.clone(), &["b"])], &[]);
    assert_eq!(removed, vec![(name.clone(), tids(&["b"]))]);
    assert_eq!(ds.get(&name).unwrap(), None);
    assert!(ds.is_empty().unwrap());
    assert_eq!(ds.matching(None, None, Some(&string("Fred"))).count(), 0);
    check_consistent(&ds);
}

#[test]
fn redelivery_is_idempotent() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    let name = triple("fred", "name", string("Fred"));
    apply(&ds, 1, "a", &[], &[(name.clone(), &["a"])]);
    let before = all(&ds);
    apply(&ds, 2, "a2", &[], &[(name.clone(), &["a"])]);
    assert_eq!(all(&ds), before);
    assert_eq!(ds.len().unwrap(), 1);
    // Removing absent TIDs, or from absent triples, is a no-op.
    let removed = apply(&ds, 3, "x", &[(name.clone(), &["zz"]), (triple("wilma", "name", string("W")), &["a"])], &[]);
    assert!(removed.is_empty());
    assert_eq!(all(&ds), before);
    assert_eq!(apply(&ds, 4, "y", &[(name.clone(), &["a"])], &[]).len(), 1);
    assert!(apply(&ds, 5, "z", &[(name.clone(), &["a"])], &[]).is_empty());
    assert!(ds.is_empty().unwrap());
    check_consistent(&ds);
}

#[test]
fn delete_and_insert_in_one_patch() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    let name = triple("fred", "name", string("Fred"));
    apply(&ds, 1, "a", &[], &[(name.clone(), &["a"])]);
    // Deletes go first, so re-inserting the same triple in the op keeps it.
    let removed = apply(&ds, 2, "b", &[(name.clone(), &["a"])], &[(name.clone(), &["b"])]);
    assert_eq!(removed, vec![(name.clone(), tids(&["a"]))]);
    assert_eq!(ds.get(&name).unwrap().unwrap().tids, tids(&["b"]));
    check_consistent(&ds);
}

#[test]
fn entailed_triples_stay_without_tids() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    let index = Triple::new(
        iri("slot"),
        "http://json-rql.org/#index",
        Term::Literal(Literal::new("0", "http://www.w3.org/2001/XMLSchema#integer")),
    );
    let entail = Entailments { inserts: vec![index.clone()], deletes: vec![] };
    ds.apply(&TidPatch::default(), &entail, &append(1, "e1")).unwrap();
    let stored = ds.get(&index).unwrap().unwrap();
    assert!(stored.entailed && stored.tids.is_empty());
    assert_eq!(ds.len().unwrap(), 1);
    // Entailing again changes nothing; an operation may also assert it.
    ds.apply(&TidPatch::default(), &entail, &append(2, "e2")).unwrap();
    apply(&ds, 3, "a", &[], &[(index.clone(), &["a"])]);
    assert_eq!(
        ds.get(&index).unwrap().unwrap(),
        StoredTriple { triple: index.clone(), tids: tids(&["a"]), entailed: true }
    );
    // Its TIDs going does not remove an entailed triple...
    apply(&ds, 4, "b", &[(index.clone(), &["a"])], &[]);
    assert!(ds.get(&index).unwrap().unwrap().entailed);
    assert_eq!(ds.len().unwrap(), 1);
    // ...the entailment going does.
    let unentail = Entailments { inserts: vec![], deletes: vec![index.clone()] };
    ds.apply(&TidPatch::default(), &unentail, &append(5, "e3")).unwrap();
    assert_eq!(ds.get(&index).unwrap(), None);
    // Un-entailing an asserted triple keeps it, as asserted only.
    apply(&ds, 6, "c", &[], &[(index.clone(), &["c"])]);
    ds.apply(&TidPatch::default(), &entail, &append(7, "e4")).unwrap();
    ds.apply(&TidPatch::default(), &unentail, &append(8, "e5")).unwrap();
    assert_eq!(ds.get(&index).unwrap().unwrap(), StoredTriple { triple: index, tids: tids(&["c"]), entailed: false });
    check_consistent(&ds);
}

#[test]
fn literal_data_follows_its_triples() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    let data = Value::Bin(vec![0, 1, 2, 0xfe, 0xff]);
    let bare = Literal::new("eBh6PGFDRRhkAm07SCqt5CvXwn8=", XS_BASE64);
    let with_data = Term::Literal(Literal { data: Some(data.clone()), ..bare.clone() });
    let fred = triple("fred", "avatar", with_data.clone());
    let wilma = triple("wilma", "avatar", with_data.clone());
    apply(&ds, 1, "a", &[], &[(fred.clone(), &["a"]), (wilma.clone(), &["a"])]);
    for stored in all(&ds) {
        assert_eq!(stored.triple.object, with_data);
        let Term::Literal(literal) = stored.triple.object else { unreachable!() };
        assert_eq!(literal.data, Some(data.clone()));
    }
    // Deletes name the literal by id alone; what was removed carries the data.
    let fred_by_id = triple("fred", "avatar", Term::Literal(bare.clone()));
    let removed = apply(&ds, 2, "b", &[(fred_by_id, &["a"])], &[]);
    let Term::Literal(literal) = &removed[0].0.object else { unreachable!() };
    assert_eq!(literal.data, Some(data.clone()));
    let Term::Literal(kept) = ds.get(&wilma).unwrap().unwrap().triple.object else { unreachable!() };
    assert_eq!(kept.data, Some(data.clone()));
    // The last reference takes the data with it.
    apply(&ds, 3, "c", &[(wilma.clone(), &["a"])], &[]);
    assert_eq!(ds.trees[super::super::keys::DATA].len(), 0);
    apply(&ds, 4, "d", &[], &[(triple("barney", "avatar", Term::Literal(bare)), &["d"])]);
    let Term::Literal(none) = all(&ds)[0].triple.object.clone() else { unreachable!() };
    assert_eq!(none.data, None);
    check_consistent(&ds);
}

#[test]
fn terms_of_every_kind_are_stored() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    let objects = [
        string(""),
        string("ünïcødé ☃ 𝄞"),
        Term::Blank("b0".into()),
        Term::Literal(Literal::new("", "")),
        iri("http://例え.テスト/"),
        Term::Literal(Literal {
            data: Some(Value::Str("{\"a\":1}".into())),
            ..Literal::new("id", crate::meld::term::RDF_JSON)
        }),
    ];
    let inserts: Vec<_> =
        objects.iter().map(|o| (Triple::new(Term::Blank("s".into()), "", o.clone()), &["a"][..])).collect();
    apply(&ds, 1, "a", &[], &inserts);
    let mut stored: Vec<_> = all(&ds).into_iter().map(|s| s.triple).collect();
    let mut expected: Vec<_> = inserts.into_iter().map(|(t, _)| t).collect();
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected);
    // Data too, which `==` on literals ignores.
    let json = ds.matching(None, None, Some(&objects[5])).next().unwrap().unwrap();
    let Term::Literal(literal) = json.triple.object else { unreachable!() };
    assert_eq!(literal.data, Some(Value::Str("{\"a\":1}".into())));
    check_consistent(&ds);
}

#[test]
fn every_pattern_finds_exactly_its_triples() {
    let (_dir, db) = temp_db();
    let ds = Dataset::open(&db, "d").unwrap();
    let subjects = ["a", "ab", "b"];
    let predicates = ["p", "pq"];
    let objects = [iri("a"), string("a"), Term::Blank("a".into())];
    let mut inserts = Vec::new();
    for s in subjects {
        for p in predicates {
            for o in &objects {
                inserts.push((triple(s, p, o.clone()), &["t"][..]));
            }
        }
    }
    apply(&ds, 1, "t", &[], &inserts);
    let everything = all(&ds);
    assert_eq!(everything.len(), 18);
    for s in [None, Some(iri("a")), Some(iri("ab")), Some(iri("zz"))] {
        for p in [None, Some("p"), Some("pq")] {
            for o in [None, Some(iri("a")), Some(string("a")), Some(Term::Blank("a".into()))] {
                let mut found: Vec<_> = ds.matching(s.as_ref(), p, o.as_ref()).map(|t| t.unwrap().triple).collect();
                let mut expected: Vec<_> = everything
                    .iter()
                    .map(|st| st.triple.clone())
                    .filter(|t| s.as_ref().is_none_or(|s| &t.subject == s))
                    .filter(|t| p.is_none_or(|p| t.predicate == p))
                    .filter(|t| o.as_ref().is_none_or(|o| &t.object == o))
                    .collect();
                found.sort();
                expected.sort();
                assert_eq!(found, expected, "{s:?} {p:?} {o:?}");
            }
        }
    }
    assert_eq!(ds.describe(&iri("a")).count(), 6);
}
