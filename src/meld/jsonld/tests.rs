//! Golden vectors (`jsonld.jsonl`) and round trips for the JSON-LD codec.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::meld::term::{Literal, Term, Triple};
use crate::meld::value::{Object, Value};
use crate::meld::vectors::{field, rows};

pub(crate) const DOMAIN: &str = "capture.example.org";

/// N-Triples-like form used by the vectors.
pub(crate) fn nt(t: &Triple) -> String {
    let term = |t: &Term| match t {
        Term::Iri(i) => format!("<{i}>"),
        Term::Blank(b) => format!("_:{b}"),
        Term::Literal(l) => format!("\"{}\"^^<{}>", l.lexical, l.datatype),
    };
    format!("{} <{}> {}", term(&t.subject), t.predicate, term(&t.object))
}

/// Parses the vectors' N-Triples-like form (no escapes occur in them).
/// Language-tagged literals become `xs:string`, as JS 0.10.0 reads them.
pub(crate) fn parse_nt(s: &str) -> Triple {
    let term = |t: &str| {
        if let Some(b) = t.strip_prefix("_:") {
            Term::Blank(b.to_owned())
        } else if let Some(i) = t.strip_prefix('<') {
            Term::iri(i.trim_end_matches('>'))
        } else if let Some(i) = t.rfind("\"^^<") {
            Term::Literal(Literal::new(&t[1..i], t[i + 4..].trim_end_matches('>')))
        } else {
            let i = t.rfind("\"@").expect("literal");
            Term::Literal(Literal::new(&t[1..i], crate::meld::term::XS_STRING))
        }
    };
    let (s_, rest) = s.split_once(' ').expect("subject");
    let (p, o) = rest.split_once(' ').expect("predicate");
    Triple::new(term(s_), p.trim_matches(['<', '>']), term(o))
}

/// Renames blank nodes in order of first appearance, so triples from two
/// decoders (with their own labels) compare.
pub(crate) fn canon_blanks(triples: &[Triple]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rename = |t: &Term| match t {
        Term::Blank(b) => {
            let i = names.iter().position(|n| n == b).unwrap_or_else(|| {
                names.push(b.clone());
                names.len() - 1
            });
            Term::Blank(format!("g{i}"))
        }
        other => other.clone(),
    };
    let mut out: Vec<String> = triples
        .iter()
        .map(|t| {
            let s = rename(&t.subject);
            let o = rename(&t.object);
            nt(&Triple::new(s, t.predicate.clone(), o))
        })
        .collect();
    out.sort();
    out
}

fn data_of(t: &Triple) -> Option<&Value> {
    match &t.object {
        Term::Literal(l) => l.data.as_ref(),
        _ => None,
    }
}

#[test]
fn every_json_to_triples_row() {
    let ctx = Context::operation(DOMAIN);
    let mut checked = 0;
    for row in rows("jsonld.jsonl") {
        if field(&row, "dir").as_str() != Some("json->triples") {
            continue;
        }
        let note = field(&row, "note").as_str().unwrap_or_default().to_owned();
        let want: Vec<Triple> = field(&row, "triples")
            .as_array()
            .expect("triples")
            .iter()
            .map(|t| {
                let mut triple = parse_nt(field(t, "triple").as_str().expect("triple"));
                if let (Term::Literal(l), Some(data)) = (&mut triple.object, t.as_object().and_then(|o| o.get("data")))
                {
                    l.data = Some(data.clone());
                }
                triple
            })
            .collect();
        let got = json_to_triples(&ctx, field(&row, "json")).unwrap_or_else(|e| panic!("{note}: {e}"));
        assert_eq!(canon_blanks(&got), canon_blanks(&want), "{note}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(data_of(g), data_of(w), "{note}");
        }
        checked += 1;
        // Our own encoding of those triples reads back the same, unless JS
        // made a relative IRI (`<1>`), which no JSON-LD can express.
        let relative = |t: &Term| t.as_iri().is_some_and(|i| !iri::is_absolute(i));
        if got.iter().any(|t| relative(&t.subject) || relative(&t.object)) {
            continue;
        }
        let json = subjects_json(&ctx, &got).expect("encode");
        let back = json_to_triples(&ctx, &json).expect("decode own");
        assert_eq!(canon_blanks(&back), canon_blanks(&got), "{note}: {json:?}");
    }
    assert_eq!(checked, 49);
}

/// Rows whose JS JSON loses information by JS bugs or quirks: `007` is
/// written as the number 7, language tags are dropped, and blank-node
/// objects lose their `_:` (wire doc §12.2, §12.3).
const LOSSY: [&str; 2] = ["other literal datatypes", "subjects/objects in foreign namespaces"];

#[test]
fn every_triples_to_json_row() {
    let ctx = Context::operation(DOMAIN);
    let mut checked = 0;
    let mut identical = 0;
    for row in rows("jsonld.jsonl") {
        if field(&row, "dir").as_str() != Some("triples->json") {
            continue;
        }
        let note = field(&row, "note").as_str().unwrap_or_default().to_owned();
        let triples: Vec<Triple> = field(&row, "triples")
            .as_array()
            .expect("triples")
            .iter()
            .map(|t| parse_nt(t.as_str().expect("triple")))
            .collect();
        let js_json = field(&row, "json");
        // JS's JSON decodes to the triples (except where JS itself is lossy).
        let from_js = json_to_triples(&ctx, js_json).expect("decode JS JSON");
        if !LOSSY.iter().any(|l| note.starts_with(l)) {
            assert_eq!(canon_blanks(&from_js), canon_blanks(&triples), "{note}");
        }
        // Ours always does, exactly.
        let ours = subjects_json(&ctx, &triples).expect("encode");
        let back = json_to_triples(&ctx, &ours).expect("decode own");
        assert_eq!(canon_blanks(&back), canon_blanks(&triples), "{note}: {ours:?}");
        if &ours == js_json {
            identical += 1;
        }
        checked += 1;
    }
    assert_eq!(checked, 7);
    // Same compaction as JS where the subjects come in JS's order.
    assert!(identical >= 3, "{identical}");
}

#[test]
fn reified_round_trip_keeps_tids_and_data() {
    let ctx = Context::operation(DOMAIN);
    let mut bin = Literal::new("eBh6PGFDRRhkAm07SCqt5CvXwn8=", crate::meld::term::XS_BASE64);
    bin.data = Some(Value::Bin(vec![0, 1, 2, 254, 255]));
    let entries = [
        (
            Triple::new(Term::iri("http://capture.example.org/fred"), "http://capture.example.org/#age", {
                Term::Literal(Literal::new("007", XS_INTEGER))
            }),
            ["kQE=".to_owned(), "kQI=".to_owned()].into_iter().collect(),
        ),
        (Triple::new(Term::Blank("x".into()), RDF_NS.to_owned() + "type", Term::Literal(bin)), Default::default()),
    ];
    let json = reified_json(&ctx, entries.iter().map(|(t, s)| (t, s)), "b").expect("encode");
    let triples = json_to_triples(&ctx, &json).expect("decode");
    let reified = unreify(&triples, crate::meld::term::MELD_TID).expect("unreify");
    assert_eq!(reified.len(), 2);
    assert_eq!(reified[0].triple, entries[0].0);
    assert_eq!(reified[0].values.len(), 2);
    assert_eq!(reified[1].triple, entries[1].0);
    assert_eq!(data_of(&reified[1].triple).and_then(Value::as_bin), Some(&[0u8, 1, 2, 254, 255][..]));
    assert!(reified[1].values.is_empty());
}

#[test]
fn compaction_expands_back() {
    let ctx = Context::operation(DOMAIN);
    for (iri, id, vocab) in [
        ("http://capture.example.org/fred", "fred", "http://capture.example.org/fred"),
        ("http://capture.example.org/", "./", "http://capture.example.org/"),
        ("http://capture.example.org/#age", "#age", "age"),
        ("http://capture.example.org/#s", "#s", "http://capture.example.org/#s"),
        ("http://www.w3.org/1999/02/22-rdf-syntax-ns#type", "rdf:type", "rdf:type"),
        ("http://capture.example.org/rdf:x", "http://capture.example.org/rdf:x", "http://capture.example.org/rdf:x"),
        ("http://capture.example.org/_:b", "http://capture.example.org/_:b", "http://capture.example.org/_:b"),
        ("http://capture.example.org/#_:b", "#_:b", "http://capture.example.org/#_:b"),
        ("http://capture.example.org/#@x", "#@x", "http://capture.example.org/#@x"),
    ] {
        assert_eq!(ctx.compact_id(iri), id, "{iri}");
        assert_eq!(ctx.compact_vocab(iri), vocab, "{iri}");
    }
    let plain = Context::domain(DOMAIN);
    assert_eq!(plain.compact_vocab("http://capture.example.org/#s"), "s");
    assert_eq!(plain.compact_id("http://www.w3.org/2001/XMLSchema#date"), "http://www.w3.org/2001/XMLSchema#date");
}

#[test]
fn hostile_json_is_an_error_not_a_panic() {
    let ctx = Context::operation(DOMAIN);
    let mut deep = Value::Map(Object::new());
    for _ in 0..1_000 {
        let mut o = Object::new();
        o.insert("x", deep);
        deep = Value::Map(o);
    }
    assert!(json_to_triples(&ctx, &deep).is_err());
    for bad in [
        r#"{"@id": {"x": 1}}"#,
        r#"{"@type": 5}"#,
        r#"{"x": {"@list": [1]}}"#,
        r#"{"x": {"@value": [1]}}"#,
        r#"{"x": {"@value": "a", "@type": "_:b"}}"#,
        r#"5"#,
    ] {
        let v: Value = serde_json::from_str(bad).expect("json");
        assert!(json_to_triples(&ctx, &v).is_err(), "{bad}");
    }
}
