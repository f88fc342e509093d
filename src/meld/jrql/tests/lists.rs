//! Lists as a JS clone's `describe` shows them: `@list` of the slots'
//! items, in posId order, instead of the position properties.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::meld::jsonld::JRQL_ITEM;
use crate::meld::jsonld::tests::DOMAIN as CAPTURE_DOMAIN;
use crate::meld::list::tests::captured_snapshots;
use crate::meld::vectors::json_file;

/// A described subject in the capture's `scenario.json` form: every value
/// as canonical JSON text, sorted.
fn canonical(subject: &serde_json::Value) -> BTreeMap<String, Vec<String>> {
    let o = subject.as_object().unwrap();
    o.iter()
        .map(|(k, v)| {
            let mut values: Vec<String> = match v {
                serde_json::Value::Array(items) => items.iter().map(|x| x.to_string()).collect(),
                other => vec![other.to_string()],
            };
            values.sort();
            (k.clone(), values)
        })
        .collect()
}

fn is_list_part(subject: &BTreeMap<String, Vec<String>>) -> bool {
    subject.contains_key("@list") || subject.contains_key("@item")
}

#[test]
fn describes_the_captured_lists_as_js_did() {
    let scenario = json_file("scenario.json");
    let scenario = scenario.as_array().unwrap();
    let mut compared = 0;
    for (step, (triples, _)) in captured_snapshots() {
        let Some(result) = scenario.iter().find(|s| s["step"] == step.as_str()).map(|s| &s["result"]) else {
            continue;
        };
        let mut f = Fixture::empty(CAPTURE_DOMAIN);
        let inserts: Vec<Triple> = triples.into_iter().map(|(t, _)| t).collect();
        f.apply(&[], &inserts);
        let ours: Vec<_> = f
            .read(json!({"@describe": "?id", "@where": {"@id": "?id"}}))
            .iter()
            .map(canonical)
            .filter(is_list_part)
            .collect();
        let mut theirs: Vec<BTreeMap<String, Vec<String>>> = result
            .as_array()
            .unwrap()
            .iter()
            .map(|s| serde_json::from_value(s.clone()).unwrap())
            .filter(is_list_part)
            .collect();
        let mut ours = ours;
        ours.sort_by(|a, b| a.get("@id").cmp(&b.get("@id")));
        theirs.sort_by(|a, b| a.get("@id").cmp(&b.get("@id")));
        assert!(!theirs.is_empty(), "{step}");
        assert_eq!(ours, theirs, "{step}");
        compared += 1;
    }
    assert!(compared >= 2, "{compared}");
}

#[test]
fn list_items_come_in_position_order() {
    let mut f = Fixture::empty(DOMAIN);
    let data = json!([
        {"@id": "todo", "@type": "http://m-ld.org/RdfLseq",
         "http://m-ld.org/RdfLseq/?=7b": {"@id": "s3"},
         "http://m-ld.org/RdfLseq/?=1a": {"@id": "s1"},
         "http://m-ld.org/RdfLseq/?=3cloneA__________": {"@id": "s2"}},
        {"@id": "s1", "@item": "first"},
        {"@id": "s2", "@item": {"@id": "fred"}},
        {"@id": "s3", "@item": 3}
    ]);
    let triples = json_to_triples(&f.ctx, &super::json(data)).unwrap();
    f.apply(&[], &triples);
    assert_eq!(
        f.read(json!({"@describe": "todo"})),
        vec![json!({"@id": "todo", "@type": "http://m-ld.org/RdfLseq", "@list": ["first", {"@id": "fred"}, 3]})]
    );
    // Slots are subjects too, with their entailed index
    assert_eq!(f.read(json!({"@describe": "s2"})), vec![json!({"@id": "s2", "@item": {"@id": "fred"}, "@index": 1})]);
    // Deleting a position takes its item out of the list
    let position = json_to_triples(
        &f.ctx,
        &super::json(json!({"@id": "todo", "http://m-ld.org/RdfLseq/?=3cloneA__________": {"@id": "s2"}})),
    )
    .unwrap();
    f.apply(&position, &[]);
    assert_eq!(f.read(json!({"@describe": "todo"}))[0]["@list"], json!(["first", 3]));
    assert_eq!(f.read(json!({"@describe": "s3"})), vec![json!({"@id": "s3", "@item": 3, "@index": 1})]);
}

/// A shopping list as a JS clone writes it: Bread, Milk, Eggs.
fn shopping() -> Fixture {
    let mut f = Fixture::empty(DOMAIN);
    let data = json!([
        {"@id": "shopping", "@type": "http://m-ld.org/RdfLseq",
         "http://m-ld.org/RdfLseq/?=3cloneA__________": {"@id": "s1"},
         "http://m-ld.org/RdfLseq/?=5cloneA__________": {"@id": "s2"},
         "http://m-ld.org/RdfLseq/?=7cloneA__________": {"@id": "s3"}},
        {"@id": "s1", "@item": "Bread"},
        {"@id": "s2", "@item": "Milk"},
        {"@id": "s3", "@item": "Eggs"}
    ]);
    let triples = json_to_triples(&f.ctx, &super::json(data)).unwrap();
    f.apply(&[], &triples);
    f
}

#[test]
fn list_patterns_match_items_by_index() {
    let f = shopping();
    let select = |w: serde_json::Value| f.read(json!({"@select": ["?x", "?i"], "@where": w}));
    assert_eq!(select(json!({"@id": "shopping", "@list": {"1": "?x"}})), vec![json!({"?x": "Milk"})]);
    assert_eq!(select(json!({"@id": "shopping", "@list": {"?i": "Eggs"}})), vec![json!({"?i": 2})]);
    let mut all = select(json!({"@id": "shopping", "@list": {"?i": "?x"}}));
    all.sort_by_key(|r| r["?i"].as_u64());
    assert_eq!(
        all,
        vec![json!({"?x": "Bread", "?i": 0}), json!({"?x": "Milk", "?i": 1}), json!({"?x": "Eggs", "?i": 2})]
    );
    // An array is items at 0, 1…; a slot object is matched as the slot
    assert_eq!(select(json!({"@id": "shopping", "@list": ["?x"]})), vec![json!({"?x": "Bread"})]);
    assert_eq!(
        select(json!({"@id": "shopping", "@list": {"2": {"@id": "?x", "@item": "Eggs"}}})),
        vec![json!({"?x": {"@id": "s3"}})]
    );
    // Which lists hold Milk
    assert_eq!(
        f.read(json!({"@describe": "?l", "@where": {"@id": "?l", "@list": {"?": "Milk"}}}))[0]["@list"],
        json!(["Bread", "Milk", "Eggs"])
    );
    assert_eq!(select(json!({"@id": "shopping", "@list": {"3": "?x"}})), Vec::<serde_json::Value>::new());
}

#[test]
fn list_items_are_deleted_by_index_but_not_inserted() {
    let mut f = shopping();
    let r = f.resolve(json!({"@delete": {"@id": "shopping", "@list": {"1": "?x"}}}));
    let position = f.iri("shopping");
    assert!(r.deletes.iter().any(|t| t.subject == position), "the position: {:?}", r.deletes);
    assert!(r.deletes.iter().any(|t| t.predicate == JRQL_ITEM), "the item: {:?}", r.deletes);
    f.apply(&r.deletes, &[]);
    assert_eq!(f.read(json!({"@describe": "shopping"}))[0]["@list"], json!(["Bread", "Eggs"]));
    assert_eq!(f.read(json!({"@describe": "s3"}))[0]["@index"], json!(1));
}

#[test]
fn list_items_are_inserted_at_new_positions_by_index() {
    let mut f = shopping();
    let list = |f: &Fixture| f.read(json!({"@describe": "shopping"}))[0]["@list"].clone();
    f.write(json!({"@id": "shopping", "@list": {"1": "Cheese"}}));
    assert_eq!(list(&f), json!(["Bread", "Cheese", "Milk", "Eggs"]));
    // Several at one index, in order; past the end is the end
    // (explicit slots: the fixture's skolems repeat from write to write)
    let slot = |id: &str, item: &str| json!({"@id": id, "@item": item});
    f.write(
        json!({"@id": "shopping", "@list": {"0": [slot("a", "Apples"), slot("b", "Bananas")], "9": slot("f", "Figs")}}),
    );
    assert_eq!(list(&f), json!(["Apples", "Bananas", "Bread", "Cheese", "Milk", "Eggs", "Figs"]));
    // Indexes follow
    let rows = f.read(json!({"@select": "?x", "@where": {"@id": "shopping", "@list": {"3": "?x"}}}));
    assert_eq!(rows, vec![json!({"?x": "Cheese"})]);
    // A new list gets the default type and JS's first positions
    let r = f.write(json!({"@id": "todo", "@list": [slot("t1", "a"), slot("t2", "b")]}));
    let predicates: Vec<&str> = r.inserts.iter().map(|t| t.predicate.as_str()).collect();
    assert!(predicates.iter().any(|p| p.starts_with("http://m-ld.org/RdfLseq/?=3")), "{predicates:?}");
    assert!(predicates.iter().any(|p| p.starts_with("http://m-ld.org/RdfLseq/?=7")), "{predicates:?}");
    assert_eq!(
        f.read(json!({"@describe": "todo"})),
        vec![json!({"@id": "todo", "@type": "http://m-ld.org/RdfLseq", "@list": ["a", "b"]})]
    );
    assert_eq!(f.read(json!({"@describe": "t2"})), vec![json!({"@id": "t2", "@item": "b", "@index": 1})]);
    // Not for other kinds of list, variable indexes or with @where
    f.write(json!({"@id": "other", "@type": "Other"}));
    let err = |w: serde_json::Value| {
        let w = parse_write(&f.ctx, &super::json(w)).and_then(|w| resolve_write(&f.ds, &w));
        w.unwrap_err().to_string()
    };
    assert_eq!(
        err(json!({"@id": "other", "@list": ["x"]})),
        "@list of a subject that is not an m-ld list is not supported"
    );
    assert_eq!(
        err(json!({"@id": "shopping", "@list": {"?i": "x"}})),
        "a variable list index in an insert is not supported"
    );
    assert_eq!(
        err(json!({"@insert": {"@id": "shopping", "@list": {"0": "x"}}, "@where": {"@id": "shopping"}})),
        "@list in an insert with @where is not supported"
    );
}
