//! Parsing: accepted shapes, and every rejection with its client message.

use serde_json::json;

use super::*;
use crate::meld::jrql::ast::{DescribeTarget, Node, Pattern};

fn ctx() -> Context {
    Context::domain(DOMAIN)
}

fn read_error(q: serde_json::Value) -> String {
    parse_read(&ctx(), &json(q)).expect_err("should be refused").to_string()
}

fn write_error(w: serde_json::Value) -> String {
    parse_write(&ctx(), &json(w)).expect_err("should be refused").to_string()
}

#[test]
fn reads_parse_to_typed_queries() {
    let c = ctx();
    let q = parse_read(&c, &json(json!({"@describe": ["fred", "?x"], "@where": {"@id": "?x"}}))).unwrap();
    let Read::Describe { targets, where_, .. } = q else { panic!("{q:?}") };
    assert_eq!(targets, vec![DescribeTarget::Id(c.expand_id("fred")), DescribeTarget::Var("x".into())]);
    // A top-level reference is a wildcard over its properties.
    assert_eq!(where_.patterns.len(), 1);
    assert_eq!(where_.patterns[0].subject, Node::Var("x".into()));
    // JSON text, and `@type` values expanded against the vocabulary.
    let q = parse_read_json(&c, r#"{"@select": "?s", "@where": {"@id": "?s", "@type": "Person"}}"#).unwrap();
    let Read::Select { where_, .. } = q else { panic!("{q:?}") };
    assert_eq!(
        where_.patterns,
        vec![Pattern {
            subject: Node::Var("s".into()),
            predicate: Node::Term(Term::iri(crate::meld::term::RDF_TYPE)),
            object: Node::Term(Term::iri(format!("http://{DOMAIN}/#Person"))),
        }]
    );
}

#[test]
fn strings_that_are_not_variables_are_values() {
    // As JS: "?not a var" fails VARNAME, so it is a plain string.
    let w = parse_write_with(&ctx(), &json(json!({"@id": "x", "q": "?not a var"})), &mut || Term::iri("x")).unwrap();
    assert!(!w.insert[0].has_var());
}

#[test]
fn malformed_json_is_refused() {
    let err = parse_read_json(&ctx(), "{\"@describe\": ").unwrap_err();
    assert!(matches!(err, JrqlError::NotJson));
    assert!(err.is_client_error());
    assert!(matches!(parse_write_json(&ctx(), "nope").unwrap_err(), JrqlError::NotJson));
}

#[test]
fn read_rejections() {
    assert_eq!(read_error(json!([])), "a query must be a JSON object");
    assert_eq!(read_error(json!("fred")), "a query must be a JSON object");
    assert_eq!(read_error(json!({})), "a query needs exactly one of @describe, @select or @construct");
    assert_eq!(
        read_error(json!({"@describe": "fred", "@select": "?x"})),
        "a query needs exactly one of @describe, @select or @construct"
    );
    assert_eq!(read_error(json!({"@describe": "fred", "@wher": {}})), "unknown key \"@wher\" in query");
    assert_eq!(read_error(json!({"@describe": 5})), "@describe must be a subject id, a variable, or an array of them");
    assert_eq!(read_error(json!({"@describe": "?x", "@where": 5})), "@where must be an object or array");
    assert_eq!(read_error(json!({"@describe": "?x", "@where": "fred"})), "@where must be an object or array");
    assert_eq!(read_error(json!({"@describe": "?x", "@where": ["fred"]})), "a pattern must be a subject object");
    assert_eq!(read_error(json!({"@select": "x", "@where": {}})), "bad variable \"x\"");
    assert_eq!(read_error(json!({"@select": "?a b", "@where": {}})), "bad variable \"?a b\"");
    assert_eq!(read_error(json!({"@select": ["?a", 1], "@where": {}})), "@select must hold variables");
    assert_eq!(read_error(json!({"@select": 1, "@where": {}})), "@select must be a variable or an array of variables");
    assert_eq!(read_error(json!({"@select": "?a"})), "@select needs @where");
    assert_eq!(read_error(json!({"@select": "?a", "@where": {"@id": 5}})), "@id must be a string");
    assert_eq!(
        read_error(json!({"@select": "?a", "@where": {"@id": "?a", "@foo": 1}})),
        "unknown key \"@foo\" in subject"
    );
    assert_eq!(
        read_error(json!({"@select": "?a", "@where": {"@graph": {}, "@bogus": 1}})),
        "unknown key \"@bogus\" in group"
    );
    assert_eq!(
        read_error(json!({"@select": "?a", "@where": {"@id": "?a", "@type": 5}})),
        "@type values must be strings"
    );
    assert_eq!(
        read_error(json!({"@select": "?a", "@where": {"@id": "?a", "@list": {"one": 1}}})),
        "a list index must be a number or a variable"
    );
    assert_eq!(read_error(json!({"@select": "?a", "@where": {"@graph": {}, "@bind": {}}})), "@bind is not supported");
    assert_eq!(read_error(json!({"@describe": "x", "@context": {}})), "@context is not supported");
    assert_eq!(read_error(json!({"@describe": "x", "@groupBy": "?x"})), "@groupBy and @having is not supported");
}

#[test]
fn filter_and_values_rejections() {
    let sel = |w: serde_json::Value| read_error(json!({"@select": "?a", "@where": w}));
    assert_eq!(sel(json!({"@graph": {}, "@filter": 5})), "@filter must be a constraint object");
    assert_eq!(sel(json!({"@graph": {}, "@filter": {"name": 1}})), "@filter must be a constraint object");
    assert_eq!(sel(json!({"@graph": {}, "@filter": {"@regex": ["?a", "x"]}})), "unsupported operator \"@regex\"");
    assert_eq!(sel(json!({"@graph": {}, "@filter": {"@eq": ["?a"]}})), "wrong number of operator arguments");
    assert_eq!(sel(json!({"@graph": {}, "@filter": {"@eq": ["?a", [1]]}})), "an operator argument cannot be an array");
    assert_eq!(sel(json!({"@id": "?a", "age": {"@plus": 1}})), "unsupported operator \"@plus\"");
    assert_eq!(sel(json!({"@id": "?a", "age": {"@value": 3, "@gt": 1}})), "@value of a constraint must be a variable");
    assert_eq!(sel(json!({"@graph": {}, "@values": [5]})), "@values must hold objects of variables");
    assert_eq!(sel(json!({"@graph": {}, "@values": {"a": 1}})), "bad variable \"a\"");
    assert_eq!(sel(json!({"@graph": {}, "@values": {"?a": "?b"}})), "@values cannot hold a variable");
    assert_eq!(sel(json!({"@graph": {}, "@values": {"?a": {"@gt": 1}}})), "@values cannot hold a constraint");
    assert_eq!(
        sel(json!({"@graph": {}, "@values": {"?a": {"x": 1}}})),
        "a value must be an atom, value object or reference"
    );
}

#[test]
fn modifier_rejections() {
    let base = || json!({"@select": "?a", "@where": {"@id": "?a"}});
    let with = |k: &str, v: serde_json::Value| {
        let mut q = base();
        q[k] = v;
        read_error(q)
    };
    assert_eq!(with("@limit", json!(-1)), "@limit must be a non-negative integer");
    assert_eq!(with("@limit", json!(1.5)), "@limit must be a non-negative integer");
    assert_eq!(with("@offset", json!("1")), "@offset must be a non-negative integer");
    let order_msg = "@orderBy must be a variable or {\"@asc\"|\"@desc\": variable}";
    assert_eq!(with("@orderBy", json!(1)), order_msg);
    assert_eq!(with("@orderBy", json!({"@up": "?a"})), order_msg);
    assert_eq!(with("@orderBy", json!("a")), "bad variable \"a\"");
    assert_eq!(
        read_error(json!({"@construct": {"@id": "?s", "n": "?n"}, "@orderBy": "?n"})),
        "@orderBy in @construct is not supported"
    );
    assert_eq!(read_error(json!({"@construct": 5})), "@construct must be a subject or array of subjects");
}

#[test]
fn write_rejections() {
    assert_eq!(write_error(json!("fred")), "a write must be a JSON object or array");
    assert_eq!(write_error(json!({"@describe": "fred"})), "a read query is not a write");
    assert_eq!(write_error(json!({"@delete": {"@id": "x"}, "@insrt": {}})), "unknown key \"@insrt\" in write");
    assert_eq!(write_error(json!({"@graph": [], "@filter": {"@eq": [1, 1]}})), "unknown key \"@filter\" in write");
    assert_eq!(write_error(json!({"@update": {"@id": "x"}})), "@update is not supported");
    assert_eq!(
        write_error(json!({"@insert": {"@id": "x", "age": {"@plus": 1}}})),
        "an expression in @insert is not supported"
    );
    assert_eq!(write_error(json!({"@insert": {"@id": "x", "@where": 1}})), "unknown key \"@where\" in subject");
    assert_eq!(write_error(json!({"@insert": [1]})), "a pattern must be a subject object");
    assert_eq!(write_error(json!({"@id": "x", "@type": {"@id": "y"}})), "@type values must be strings");
    assert_eq!(write_error(json!({"@delete": {"@id": "x"}, "@where": 3})), "@where must be an object or array");
    assert_eq!(write_error(json!({"@id": "x", "@context": {}})), "@context is not supported");
}

#[test]
fn long_keys_are_shortened_in_messages() {
    let key = format!("@{}", "k".repeat(500));
    let msg = read_error(json!({ key: 1, "@describe": "x" }));
    assert!(msg.len() < 100, "{msg}");
}

#[test]
fn deep_nesting_is_refused() {
    let mut deep = json!({"name": "?n"});
    for _ in 0..200 {
        deep = json!({"knows": deep});
    }
    assert!(matches!(
        parse_read(&ctx(), &json(json!({"@select": "?n", "@where": deep}))).unwrap_err(),
        JrqlError::TooDeep
    ));
    let mut arr = json!(1);
    for _ in 0..200 {
        arr = json!([arr]);
    }
    assert!(matches!(parse_write(&ctx(), &json(arr)).unwrap_err(), JrqlError::TooDeep));
    let mut expr = json!({"@eq": ["?a", 1]});
    for _ in 0..200 {
        expr = json!({"@not": expr});
    }
    let q = json!({"@select": "?a", "@where": {"@graph": {"@id": "?a"}, "@filter": expr}});
    assert!(matches!(parse_read(&ctx(), &json(q)).unwrap_err(), JrqlError::TooDeep));
}

#[test]
fn evaluation_errors_are_client_errors_too() {
    let f = Fixture::new(flintstones());
    // An unbound @describe variable with no @where describes nothing.
    assert!(f.read(json!({"@describe": "?x"})).is_empty());
    let err = f.read_err(json!({"@select": "?x"}));
    assert!(err.is_client_error());
}
