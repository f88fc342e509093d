//! Writes: resolution to deletes and inserts, then applied and read back.

use serde_json::json;

use super::*;

#[test]
fn plain_subject_insert_and_skolems() {
    let mut f = Fixture::new(flintstones());
    f.write(json!({"@id": "barney", "@type": "Person", "name": "Barney Rubble"}));
    assert_eq!(
        f.read(json!({"@describe": "barney"})),
        vec![json!({"@id": "barney", "@type": "Person", "name": "Barney Rubble"})]
    );
    // Nested subjects become subjects of their own; missing ids are skolems.
    let r = f.write(json!({"@id": "dino", "owner": {"@id": "fred"}, "stats": {"height": 5}}));
    assert_eq!(r.inserts.len(), 3);
    assert_eq!(
        f.read(json!({"@describe": "dino"})),
        vec![json!({"@id": "dino", "owner": {"@id": "fred"}, "stats": {"@id": ".well-known/genid/s1"}})]
    );
    assert_eq!(
        f.read(json!({"@describe": ".well-known/genid/s1"})),
        vec![json!({"@id": ".well-known/genid/s1", "height": 5})]
    );
    // A @graph group and an array are inserts of every subject.
    f.write(json!({"@graph": [{"@id": "a", "n": 1}, {"@id": "b", "n": 2}]}));
    f.write(json!([{"@id": "c", "n": 3}]));
    let got = f.read(json!({"@select": "?x", "@where": {"@id": "?x", "n": "?v"}}));
    assert_eq!(got.len(), 3);
}

#[test]
fn random_skolems_are_fresh_iris_under_the_base() {
    let f = Fixture::new(json!([]));
    let w = parse_write(&f.ctx, &json(json!([{"name": "x"}, {"name": "y"}]))).unwrap();
    let r = resolve_write(&f.ds, &w).unwrap();
    let subjects: Vec<&str> = r.inserts.iter().map(|t| t.subject.as_iri().unwrap()).collect();
    let prefix = format!("http://{DOMAIN}/.well-known/genid/c");
    assert!(subjects.iter().all(|s| s.starts_with(&prefix) && s.len() == prefix.len() + 24), "{subjects:?}");
    assert_ne!(subjects[0], subjects[1]);
}

#[test]
fn delete_and_insert_fixed_triples() {
    let mut f = Fixture::new(flintstones());
    // The acceptance suite's update.
    let r = f.write(json!({"@delete": {"@id": "fred", "age": 40}, "@insert": {"@id": "fred", "age": 41}}));
    assert_eq!(r.deletes.len(), 1);
    assert_eq!(r.inserts.len(), 1);
    let fred = &f.read(json!({"@describe": "fred"}))[0];
    assert_eq!(fred["age"], 41);
    // A fixed insert applies even when the fixed delete matches nothing.
    let r = f.write(json!({"@delete": {"@id": "fred", "age": 99}, "@insert": {"@id": "fred", "hair": "black"}}));
    assert_eq!(r.inserts.len(), 1);
    // Deleting and inserting one triple is just inserting it.
    let r = f.resolve(json!({"@delete": {"@id": "fred", "age": 41}, "@insert": {"@id": "fred", "age": 41}}));
    assert_eq!((r.deletes.len(), r.inserts.len()), (0, 1));
}

#[test]
fn delete_with_variables_matches_itself() {
    let mut f = Fixture::new(flintstones());
    // All of wilma's properties.
    let r = f.write(json!({"@delete": {"@id": "wilma", "?p": "?o"}}));
    assert_eq!(r.deletes.len(), 3);
    assert!(f.read(json!({"@describe": "wilma"})).is_empty());
    // A bare reference deletes the whole subject too.
    f.write(json!({"@delete": {"@id": "pebbles"}}));
    assert!(f.read(json!({"@describe": "pebbles"})).is_empty());
    assert_eq!(f.describe_all(), vec![flintstones()[0].clone()]);
    // An anonymous subject matches any subject with the property.
    let mut g = Fixture::new(json!([{"@id": "fred", "height": 5, "age": 40}, {"@id": "barney", "height": 5}]));
    let r = g.write(json!({"@delete": {"height": 5}}));
    assert_eq!(r.deletes.len(), 2);
    assert_eq!(g.describe_all(), vec![json!({"@id": "fred", "age": 40})]);
}

#[test]
fn delete_with_variables_binds_insert() {
    let mut f = Fixture::new(flintstones());
    // Rename: the delete's solutions fill the insert.
    let r = f.write(
        json!({"@delete": {"@id": "?s", "name": "Pebbles"}, "@insert": {"@id": "?s", "name": "Pebbles Flintstone"}}),
    );
    assert_eq!((r.deletes.len(), r.inserts.len()), (1, 1));
    assert_eq!(f.read(json!({"@describe": "pebbles"}))[0]["name"], "Pebbles Flintstone");
    // No match: nothing inserted either (the insert has a variable).
    let r = f.resolve(json!({"@delete": {"@id": "?s", "name": "Dino"}, "@insert": {"@id": "?s", "name": "Dino"}}));
    assert!(r.is_empty());
}

#[test]
fn delete_insert_where() {
    let mut f = Fixture::new(json!([
        {"@id": "fred", "name": "Fred", "age": 42},
        {"@id": "barney", "name": "Barney", "age": 41},
        {"@id": "wilma", "name": "Wilma", "age": 39}
    ]));
    // Everyone over 40 becomes "senior", losing their age.
    let r = f.write(json!({
        "@delete": {"@id": "?p", "age": "?a"},
        "@insert": {"@id": "?p", "status": "senior"},
        "@where": {"@graph": {"@id": "?p", "age": "?a"}, "@filter": {"@gt": ["?a", 40]}}
    }));
    assert_eq!((r.deletes.len(), r.inserts.len()), (2, 2));
    assert_eq!(
        f.describe_all(),
        sorted(vec![
            json!({"@id": "fred", "name": "Fred", "status": "senior"}),
            json!({"@id": "barney", "name": "Barney", "status": "senior"}),
            json!({"@id": "wilma", "name": "Wilma", "age": 39})
        ])
    );
    // With a @where, even fixed triples need a solution.
    let r = f.resolve(json!({"@insert": {"@id": "wilma", "x": 1}, "@where": {"@id": "nobody", "name": "?n"}}));
    assert!(r.is_empty());
    // Inline constraint in the delete filters the where's solutions.
    let r = f.resolve(json!({"@delete": {"@id": "?p", "name": {"@value": "?n", "@eq": "Wilma"}}, "@where": {"@id": "?p", "name": "?n"}}));
    let name = Term::Literal(crate::meld::term::Literal::new("Wilma", crate::meld::term::XS_STRING));
    assert_eq!(r.deletes, vec![Triple::new(f.iri("wilma"), format!("http://{DOMAIN}/#name"), name)]);
    assert!(r.inserts.is_empty());
    // A variable bound to a literal cannot be a subject: the triple drops.
    let r = f.resolve(json!({"@insert": {"@id": "?n", "is": "name"}, "@where": {"@id": "wilma", "name": "?n"}}));
    assert!(r.is_empty());
    // Insert bound by the where, copying a value across subjects.
    let r = f.write(json!({"@insert": {"@id": "wilma", "likes": "?n"}, "@where": {"@id": "barney", "name": "?n"}}));
    assert_eq!(r.inserts.len(), 1);
    assert_eq!(f.read(json!({"@describe": "wilma"}))[0]["likes"], "Barney");
}

#[test]
fn insert_with_unbound_variable_and_no_where_does_nothing() {
    let f = Fixture::new(flintstones());
    assert!(f.resolve(json!({"@insert": {"@id": "?x", "name": "X"}})).is_empty());
}
