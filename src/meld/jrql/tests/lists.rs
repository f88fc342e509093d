//! Lists as a JS clone's `describe` shows them: `@list` of the slots'
//! items, in posId order, instead of the position properties.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
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
         "http://m-ld.org/RdfLseq/?=3a": {"@id": "s2"}},
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
    let position =
        json_to_triples(&f.ctx, &super::json(json!({"@id": "todo", "http://m-ld.org/RdfLseq/?=3a": {"@id": "s2"}})))
            .unwrap();
    f.apply(&position, &[]);
    assert_eq!(f.read(json!({"@describe": "todo"}))[0]["@list"], json!(["first", 3]));
    assert_eq!(f.read(json!({"@describe": "s3"})), vec![json!({"@id": "s3", "@item": 3, "@index": 1})]);
}
