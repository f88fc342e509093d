//! Reads: describe, select, construct, filters, values, ordering, paging.

use serde_json::json;

use super::*;

#[test]
fn describe_all_returns_what_was_written() {
    let f = Fixture::new(flintstones());
    assert_eq!(f.describe_all(), sorted(flintstones().as_array().unwrap().clone()));
}

#[test]
fn describe_by_id_and_not_found() {
    let f = Fixture::new(flintstones());
    assert_eq!(f.read(json!({"@describe": "fred"})), vec![flintstones()[0].clone()]);
    assert_eq!(f.read(json!({"@describe": "wilma"})), vec![flintstones()[1].clone()]);
    assert_eq!(f.read(json!({"@describe": "nobody"})), Vec::<serde_json::Value>::new());
    // An array of ids, in query order, skipping ones with no triples.
    let both = f.read(json!({"@describe": ["pebbles", "nobody", "fred"]}));
    assert_eq!(both, vec![flintstones()[2].clone(), flintstones()[0].clone()]);
    // Absolute IRIs compact back to the base-relative id.
    let abs = f.read(json!({"@describe": format!("http://{DOMAIN}/fred")}));
    assert_eq!(abs, vec![flintstones()[0].clone()]);
}

#[test]
fn describe_variable_with_where() {
    let f = Fixture::new(flintstones());
    let got = f.read(json!({"@describe": "?s", "@where": {"@id": "?s", "@type": "Person", "name": "Pebbles"}}));
    assert_eq!(got, vec![flintstones()[2].clone()]);
    // Through a reference: who is wilma's spouse?
    let got = f.read(json!({"@describe": "?s", "@where": {"@id": "wilma", "spouse": {"@id": "?s"}}}));
    assert_eq!(got, vec![flintstones()[0].clone()]);
    // Distinct subjects, though many triples match each.
    let got = f.read(json!({"@describe": "?s", "@where": {"@id": "?s", "?p": "?o"}}));
    assert_eq!(got.len(), 3);
    // Without the fast path (a filter), describe-all agrees.
    let got = f.read(
        json!({"@describe": "?s", "@where": {"@graph": {"@id": "?s"}, "@filter": {"@ne": ["?s", {"@id": "x"}]}}}),
    );
    assert_eq!(sorted(got), f.describe_all());
}

#[test]
fn describe_ordered_and_paged() {
    let f = Fixture::new(flintstones());
    let q = |m: serde_json::Value| {
        let mut q = json!({"@describe": "?s", "@where": {"@id": "?s", "name": "?n"}, "@orderBy": "?n"});
        for (k, v) in m.as_object().unwrap() {
            q[k] = v.clone();
        }
        f.read(q).iter().map(|s| s["@id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(q(json!({})), ["fred", "pebbles", "wilma"]);
    assert_eq!(q(json!({"@orderBy": {"@desc": "?n"}})), ["wilma", "pebbles", "fred"]);
    assert_eq!(q(json!({"@limit": 2})), ["fred", "pebbles"]);
    assert_eq!(q(json!({"@offset": 1, "@limit": 1})), ["pebbles"]);
    assert_eq!(q(json!({"@offset": 5})), Vec::<String>::new());
    // Paging describe-all (the streaming path).
    let page = f.read(json!({"@describe": "?id", "@where": {"@id": "?id"}, "@limit": 2, "@offset": 1}));
    assert_eq!(page.len(), 2);
}

#[test]
fn select_bindings() {
    let f = Fixture::new(flintstones());
    let got = f.read(json!({"@select": "?n", "@where": {"@id": "pebbles", "nick": "?n"}}));
    assert_eq!(sorted(got), vec![json!({"?n": "Pebbly"}), json!({"?n": "Pebs"})]);
    // References render as {"@id"} compacted; numbers as numbers.
    let got = f.read(json!({"@select": ["?s", "?a"], "@where": {"@id": "?s", "age": "?a"}}));
    assert_eq!(got, vec![json!({"?s": {"@id": "fred"}, "?a": 40})]);
    // A variable property.
    let got = f.read(json!({"@select": "?p", "@where": {"@id": "wilma", "?p": {"@id": "fred"}}}));
    assert_eq!(got, vec![json!({"?p": {"@id": "#spouse"}})]);
    // `@type` bound to a variable is a reference too.
    let got = f.read(json!({"@select": "?t", "@where": {"@id": "fred", "@type": "?t"}}));
    assert_eq!(got, vec![json!({"?t": {"@id": "#Person"}})]);
    // A subject without @id is anonymous; `*` selects every named variable.
    let got = f.read(json!({"@select": "*", "@where": {"spouse": {"@id": "?x", "name": "?n"}}}));
    assert_eq!(got, vec![json!({"?n": "Fred Flintstone", "?x": {"@id": "fred"}})]);
    // Not found, and unselected variables left out.
    assert!(f.read(json!({"@select": "?w", "@where": {"@id": "?w", "name": "Dino"}})).is_empty());
    let got = f.read(json!({"@select": ["?zz"], "@where": {"@id": "fred", "age": "?a"}}));
    assert_eq!(got, vec![json!({})]);
}

#[test]
fn select_is_not_distinct() {
    // As JS: one row per solution (the pattern has hidden variables), so
    // one per triple here.
    let f = Fixture::new(flintstones());
    let got = f.read(json!({"@select": "?id", "@where": {"@id": "?id"}}));
    assert_eq!(got.len(), 10);
}

#[test]
fn select_joins_across_subjects() {
    let f = Fixture::new(flintstones());
    let got = f.read(json!({
        "@select": ["?w", "?a"],
        "@where": [{"@id": "?w", "spouse": {"@id": "?h"}}, {"@id": "?h", "age": "?a"}]
    }));
    assert_eq!(got, vec![json!({"?w": {"@id": "wilma"}, "?a": 40})]);
    // The same variable twice in one pattern must agree.
    let g = Fixture::new(
        json!([{"@id": "narcissus", "loves": {"@id": "narcissus"}}, {"@id": "echo", "loves": {"@id": "narcissus"}}]),
    );
    let got = g.read(json!({"@select": "?x", "@where": {"@id": "?x", "loves": {"@id": "?x"}}}));
    assert_eq!(got, vec![json!({"?x": {"@id": "narcissus"}})]);
}

fn people() -> Fixture {
    Fixture::new(json!([
        {"@id": "fred", "name": "Fred", "age": 42, "height": 6},
        {"@id": "barney", "name": "Barney", "age": 41, "height": 5},
        {"@id": "wilma", "name": "Wilma", "age": 39, "height": 5.5}
    ]))
}

fn ids(rows: Vec<serde_json::Value>, var: &str) -> Vec<String> {
    let mut out: Vec<String> = rows.iter().map(|r| r[var]["@id"].as_str().unwrap().to_owned()).collect();
    out.sort();
    out
}

#[test]
fn filters_compare() {
    let f = people();
    let sel = |filter: serde_json::Value| {
        ids(f.read(json!({"@select": "?f", "@where": {"@graph": {"@id": "?f", "name": "?n", "age": "?a", "height": "?h"}, "@filter": filter}})), "?f")
    };
    assert_eq!(sel(json!({"@eq": ["?n", "Fred"]})), ["fred"]);
    assert_eq!(sel(json!({"@ne": ["?n", "Fred"]})), ["barney", "wilma"]);
    assert_eq!(sel(json!({"@neq": ["?n", "Fred"]})), ["barney", "wilma"], "JS's name for it");
    assert_eq!(sel(json!({"@gte": ["?n", "Fred"]})), ["fred", "wilma"]);
    assert_eq!(sel(json!({"@lt": ["?a", 41]})), ["wilma"]);
    assert_eq!(sel(json!({"@lte": ["?a", 41]})), ["barney", "wilma"]);
    assert_eq!(sel(json!({"@gt": ["?a", 40]})), ["barney", "fred"]);
    // Integers and doubles compare by value.
    assert_eq!(sel(json!({"@gt": ["?h", 5.2]})), ["fred", "wilma"]);
    assert_eq!(sel(json!({"@eq": ["?h", 6.0]})), ["fred"]);
    assert_eq!(sel(json!({"@in": ["?n", "Fred", "Wilma"]})), ["fred", "wilma"]);
    assert_eq!(sel(json!({"@in": ["?f", {"@id": "barney"}]})), ["barney"]);
    assert_eq!(sel(json!({"@or": [{"@eq": ["?n", "Fred"]}, {"@eq": ["?n", "Wilma"]}]})), ["fred", "wilma"]);
    assert_eq!(sel(json!({"@not": {"@eq": ["?n", "Fred"]}})), ["barney", "wilma"]);
    // Several filters, and several operators in one, are ANDed.
    assert_eq!(sel(json!([{"@gt": ["?a", 40]}, {"@lt": ["?h", 6]}])), ["barney"]);
    assert_eq!(sel(json!({"@gt": ["?a", 40], "@lt": ["?h", 6]})), ["barney"]);
    // A string never compares with a number; an unbound variable fails.
    assert!(sel(json!({"@lt": ["?n", 5]})).is_empty());
    assert!(sel(json!({"@eq": ["?nope", 5]})).is_empty());
}

#[test]
fn inline_filters() {
    let f = people();
    let got = f.read(json!({"@select": "?f", "@where": {"@id": "?f", "age": {"@gt": 40}}}));
    assert_eq!(ids(got, "?f"), ["barney", "fred"]);
    let got = f.read(json!({"@select": ["?f", "?a"], "@where": {"@id": "?f", "age": {"@value": "?a", "@lt": 40}}}));
    assert_eq!(got, vec![json!({"?f": {"@id": "wilma"}, "?a": 39})]);
    let got = f.read(json!({
        "@select": "?f",
        "@where": {"@graph": {"@id": "?f", "age": {"@gt": 40}, "height": "?h"}, "@filter": {"@gt": ["?h", 5]}}
    }));
    assert_eq!(ids(got, "?f"), ["fred"]);
}

#[test]
fn values_restrict_solutions() {
    let f = people();
    let got = f.read(json!({
        "@select": "?n",
        "@where": {"@graph": {"@id": "?f", "name": "?n"}, "@values": [{"?f": {"@id": "fred"}}, {"?f": {"@id": "wilma"}}]}
    }));
    assert_eq!(sorted(got), vec![json!({"?n": "Fred"}), json!({"?n": "Wilma"})]);
    // @vocab resolves against the vocabulary, @id against the base.
    let got = f.read(json!({
        "@select": "?v",
        "@where": {"@graph": {"@id": "fred", "?p": "?v"}, "@values": [{"?p": {"@vocab": "name"}}, {"?p": {"@id": "age"}}]}
    }));
    assert_eq!(got, vec![json!({"?v": "Fred"})]);
    // Values joined with a literal.
    let got = f.read(json!({"@select": "?f", "@where": {"@graph": {"@id": "?f", "age": "?a"}, "@values": {"?a": 41}}}));
    assert_eq!(ids(got, "?f"), ["barney"]);
}

#[test]
fn union_of_alternatives() {
    let f = people();
    let got = f.read(json!({
        "@select": "?s",
        "@where": {"@union": [{"@id": "?s", "name": "Wilma"}, {"@id": "?s", "name": "Fred"}]}
    }));
    assert_eq!(ids(got, "?s"), ["fred", "wilma"]);
}

#[test]
fn select_ordered_and_paged() {
    let f = people();
    let base = json!({"@select": ["?n", "?a"], "@where": {"@id": "?f", "name": "?n", "age": "?a"}});
    let names = |extra: serde_json::Value| {
        let mut q = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            q[k] = v.clone();
        }
        f.read(q).iter().map(|r| r["?n"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(names(json!({"@orderBy": "?a"})), ["Wilma", "Barney", "Fred"]);
    assert_eq!(names(json!({"@orderBy": [{"@desc": "?a"}]})), ["Fred", "Barney", "Wilma"]);
    assert_eq!(names(json!({"@orderBy": {"@asc": "?n"}, "@limit": 2})), ["Barney", "Fred"]);
    assert_eq!(names(json!({"@orderBy": "?n", "@offset": 2})), ["Wilma"]);
    assert_eq!(names(json!({"@orderBy": "?n", "@limit": 0})), Vec::<String>::new());
}

#[test]
fn construct_with_where() {
    let f = Fixture::new(flintstones());
    let got = f.read(json!({
        "@construct": {"@id": "?s", "label": "?n"},
        "@where": {"@id": "?s", "@type": "Person", "name": "?n"}
    }));
    assert_eq!(
        sorted(got),
        vec![
            json!({"@id": "fred", "label": "Fred Flintstone"}),
            json!({"@id": "pebbles", "label": "Pebbles"}),
            json!({"@id": "wilma", "label": "Wilma Flintstone"})
        ]
    );
}

#[test]
fn construct_without_where_uses_template() {
    let f = Fixture::new(flintstones());
    // Each property matches on its own; values gather into arrays.
    let got = f.read(json!({"@construct": {"@id": "pebbles", "name": "?n", "nick": "?k", "age": "?a"}}));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["@id"], "pebbles");
    assert_eq!(got[0]["name"], "Pebbles");
    let mut nicks: Vec<_> = got[0]["nick"].as_array().unwrap().clone();
    nicks.sort_by_key(|v| v.to_string());
    assert_eq!(nicks, vec![json!("Pebbly"), json!("Pebs")]);
    assert!(got[0].get("age").is_none());
    // Inline filter in a template, and '?' as an anonymous id.
    let g = people();
    let got = g.read(json!({"@construct": {"@id": "?", "age": {"@gt": 41}}}));
    assert_eq!(got, vec![json!({"@id": "fred", "age": 42})]);
    // A fixed value is copied as written once per result. With a `@where`,
    // a template constraint's own (hidden) variable is never bound, so it
    // contributes nothing, exactly as in JS.
    let got = g.read(json!({"@construct": {"@id": "?s", "age": {"@lt": 40}, "kind": "young"}, "@where": {"@id": "?s", "age": {"@lt": 40}}}));
    assert_eq!(got, vec![json!({"@id": "wilma", "kind": "young"})]);
    let got = g.read(json!({"@construct": {"@id": "?s", "age": "?a", "kind": "young"}, "@where": {"@id": "?s", "age": {"@value": "?a", "@lt": 40}}}));
    assert_eq!(got, vec![json!({"@id": "wilma", "kind": "young", "age": 39})]);
}

#[test]
fn construct_nested_and_variable_keys() {
    let f = Fixture::new(flintstones());
    let got = f.read(json!({
        "@construct": {"@id": "wilma", "spouse": {"@id": "?h", "name": "?n"}},
        "@where": {"@id": "wilma", "spouse": {"@id": "?h", "name": "?n"}}
    }));
    assert_eq!(got, vec![json!({"@id": "wilma", "spouse": {"@id": "fred", "name": "Fred Flintstone"}})]);
    let got = f.read(json!({"@construct": {"@id": "fred", "?p": "?o"}, "@where": {"@id": "fred", "?p": "?o"}}));
    let mut want = flintstones()[0].clone();
    want["@type"] = json!("Person");
    assert_eq!(got, vec![want]);
    // Paging counts constructed subjects.
    let got =
        f.read(json!({"@construct": {"@id": "?s", "name": "?n"}, "@where": {"@id": "?s", "name": "?n"}, "@limit": 1}));
    assert_eq!(got.len(), 1);
}

#[test]
fn literal_kinds_render_as_js_does() {
    let f = Fixture::new(json!({
        "@id": "thing",
        "flag": true,
        "ratio": 0.5,
        "big": 12345678901_i64,
        "when": {"@value": "2024-01-01", "@type": "http://www.w3.org/2001/XMLSchema#date"},
        "kind": {"@vocab": "Gadget"}
    }));
    let got = f.read(json!({"@describe": "thing"}));
    assert_eq!(
        got,
        vec![json!({
            "@id": "thing",
            "big": 12345678901_i64,
            "flag": true,
            "kind": {"@id": "#Gadget"},
            "ratio": 0.5,
            "when": {"@type": "http://www.w3.org/2001/XMLSchema#date", "@value": "2024-01-01"}
        })]
    );
    // Matching typed values and booleans exactly.
    let got = f.read(json!({"@select": "?s", "@where": {"@id": "?s", "flag": true, "when": {"@value": "2024-01-01", "@type": "http://www.w3.org/2001/XMLSchema#date"}}}));
    assert_eq!(got, vec![json!({"?s": {"@id": "thing"}})]);
    // Typed values of one datatype order lexically.
    let got = f.read(json!({"@select": "?s", "@where": {"@graph": {"@id": "?s", "when": "?w"}, "@filter": {"@gt": ["?w", {"@value": "2023-12-31", "@type": "http://www.w3.org/2001/XMLSchema#date"}]}}}));
    assert_eq!(got.len(), 1);
}
