//! A subject as a JS clone's `read({'@describe': id})` returns it under the
//! domain context (`@base`/`@vocab` only): `@id` base-relative, properties
//! and `@type` vocab-relative, single values unwrapped, several as arrays,
//! and literals as the JSON values apps see (wire doc §6.6, `jrqlValue`).
//! Lists and shared datatypes (TSeq text) are rendered by their owners.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::number::{XS_DOUBLE, XS_INTEGER, js_parse_float};
use super::{Context, JRQL_INDEX, JRQL_ITEM};
use crate::meld::term::{Literal, RDF_TYPE, Term, Triple, XS_BOOLEAN, XS_STRING};
use crate::meld::value::{Object, Value};

/// Triples grouped into subjects in order of first appearance, each
/// described as by [`describe`] (the shape of updates and signed-update logs).
pub fn describe_all<'t>(ctx: &Context, triples: impl IntoIterator<Item = &'t Triple>) -> Vec<Value> {
    let mut order: Vec<(&Term, Vec<&Triple>)> = Vec::new();
    let mut index: std::collections::HashMap<&Term, usize> = std::collections::HashMap::new();
    for t in triples {
        let i = *index.entry(&t.subject).or_insert_with(|| {
            order.push((&t.subject, Vec::new()));
            order.len() - 1
        });
        if let Some((_, group)) = order.get_mut(i) {
            group.push(t);
        }
    }
    order.into_iter().map(|(subject, group)| describe(ctx, subject, group)).collect()
}

/// The read JSON of `subject` from its triples (triples of other subjects
/// are skipped). `ctx` should be [`Context::domain`].
pub fn describe<'t>(ctx: &Context, subject: &Term, triples: impl IntoIterator<Item = &'t Triple>) -> Value {
    let mut props: Vec<(String, Vec<Value>)> = Vec::new();
    for t in triples.into_iter().filter(|t| &t.subject == subject) {
        let (key, value) = match (t.predicate.as_str(), &t.object) {
            (RDF_TYPE, Term::Iri(iri)) => ("@type".to_owned(), Value::from(ctx.compact_vocab(iri))),
            (JRQL_ITEM, o) => ("@item".to_owned(), value(ctx, o)),
            (JRQL_INDEX, o) => ("@index".to_owned(), value(ctx, o)),
            (p, o) => (ctx.compact_vocab(p), value(ctx, o)),
        };
        match props.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => props.push((key, vec![value])),
        }
    }
    let mut o = Object::new();
    o.insert("@id", Value::Str(id(ctx, subject)));
    for (key, mut values) in props {
        let v = if values.len() == 1 { values.pop().unwrap_or_default() } else { Value::Array(values) };
        o.insert(key, v);
    }
    Value::Map(o)
}

fn id(ctx: &Context, term: &Term) -> String {
    match term {
        Term::Iri(iri) => ctx.compact_id(iri),
        Term::Blank(label) => format!("_:{label}"),
        // Not a subject; its lexical form is the best identifier there is.
        Term::Literal(l) => l.lexical.clone(),
    }
}

fn value(ctx: &Context, term: &Term) -> Value {
    match term {
        Term::Literal(l) => literal(l),
        other => {
            let mut o = Object::new();
            o.insert("@id", Value::Str(id(ctx, other)));
            Value::Map(o)
        }
    }
}

/// JS `jrqlValue` for reads: strings, booleans and numbers as JSON; other
/// datatypes as `{"@value", "@type"}` with the absolute datatype (the domain
/// context has no prefixes); indirected binary data as its Base64.
fn literal(l: &Literal) -> Value {
    match (l.datatype.as_str(), &l.data) {
        (XS_STRING, _) => return Value::from(l.lexical.as_str()),
        (XS_BOOLEAN, _) => return Value::Bool(l.lexical == "true"),
        (XS_INTEGER | XS_DOUBLE, _) => {
            let n = js_parse_float(&l.lexical);
            if n.is_finite() {
                return Value::Number(n);
            }
        }
        _ => {}
    }
    let shown = match &l.data {
        Some(Value::Bin(bytes)) => Value::Str(STANDARD.encode(bytes)),
        Some(data) => data.clone(),
        None => Value::from(l.lexical.as_str()),
    };
    let mut o = Object::new();
    o.insert("@type", Value::from(l.datatype.as_str()));
    o.insert("@value", shown);
    Value::Map(o)
}
