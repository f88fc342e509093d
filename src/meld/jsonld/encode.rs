//! Triples → operation JSON-LD that the JS engine decodes to exactly the
//! same triples (wire doc §6.6, "Encoding a literal"). IRIs are compacted
//! as JS compacts them where that provably expands back (see
//! [`Context::compact_id`]), so simple operations come out byte-identical to
//! JS's; anything unusual falls back to absolute forms, which JS accepts.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::number::{XS_DOUBLE, XS_INTEGER, number_literal};
use super::{Context, JRQL_INDEX, JRQL_ITEM};
use crate::meld::error::Error;
use crate::meld::term::{Literal, RDF_TYPE, Term, TidSet, Triple, XS_BASE64, XS_BOOLEAN, XS_STRING};
use crate::meld::value::{MAX_SAFE_INTEGER, Object, Value};

/// A literal as JSON: a plain JSON atom wherever JS reads that atom back as
/// the very same lexical form and datatype, else a value object.
pub fn literal_json(ctx: &Context, literal: &Literal) -> Value {
    let lexical = literal.lexical.as_str();
    let datatype = literal.datatype.as_str();
    if let Some(data) = &literal.data {
        // Indirected data travels with its id (wire doc §6.8).
        let mut o = Object::new();
        o.insert("@value", data.clone());
        o.insert("@type", Value::from(ctx.compact_datatype(datatype)));
        o.insert("@id", Value::from(lexical));
        return Value::Map(o);
    }
    match datatype {
        XS_STRING => return Value::from(lexical),
        XS_BOOLEAN if lexical == "true" || lexical == "false" => return Value::Bool(lexical == "true"),
        XS_INTEGER | XS_DOUBLE => {
            if let Some(n) = exact_number(lexical, datatype) {
                return Value::Number(n);
            }
        }
        XS_BASE64 => {
            if let Ok(bytes) = STANDARD.decode(lexical) {
                // Only canonical Base64 survives the trip through bytes.
                if STANDARD.encode(&bytes) == lexical {
                    return Value::Bin(bytes);
                }
            }
        }
        _ => {}
    }
    let mut o = Object::new();
    o.insert("@value", Value::from(lexical));
    o.insert("@type", Value::from(ctx.compact_datatype(datatype)));
    Value::Map(o)
}

/// The JSON number for a numeric literal, if JS turns that number back into
/// the same literal (so `007`, `-0`, `1.0E0` or huge integers stay typed).
fn exact_number(lexical: &str, datatype: &str) -> Option<f64> {
    let n: f64 = lexical.parse().ok()?;
    let exact = n.is_finite() && (datatype != XS_INTEGER || n.abs() <= MAX_SAFE_INTEGER as f64);
    let (back, back_type) = number_literal(n);
    (exact && back == lexical && back_type == datatype).then_some(n)
}

/// An object term as JSON: references as `{"@id"}`, literals as above.
pub fn object_json(ctx: &Context, term: &Term) -> Value {
    match term {
        Term::Iri(iri) => id_object(ctx.compact_id(iri)),
        Term::Blank(label) => id_object(format!("_:{label}")),
        Term::Literal(l) => literal_json(ctx, l),
    }
}

fn id_object(id: String) -> Value {
    let mut o = Object::new();
    o.insert("@id", Value::Str(id));
    Value::Map(o)
}

/// A subject's `@id` (or an `s`/`p` value).
fn id_string(ctx: &Context, term: &Term) -> Result<String, Error> {
    match term {
        Term::Iri(iri) => Ok(ctx.compact_id(iri)),
        Term::Blank(label) => Ok(format!("_:{label}")),
        Term::Literal(_) => Err(Error::BadJsonLd("subject is a literal")),
    }
}

/// `{}` for nothing, the object for one, an array for more (as JS writes
/// each element of an operation's update).
fn one_or_many(mut items: Vec<Value>) -> Value {
    match items.len() {
        0 => Value::Map(Object::new()),
        1 => items.pop().unwrap_or_default(),
        _ => Value::Array(items),
    }
}

/// A subject's keys, each with its values, in first-appearance order.
type Properties = Vec<(String, Vec<Value>)>;

/// Plain JSON-LD subjects for triples (unfused inserts): one object per
/// subject in order of first appearance, properties in order of first
/// appearance, one value unwrapped and several as an array.
pub fn subjects_json<'t>(ctx: &Context, triples: impl IntoIterator<Item = &'t Triple>) -> Result<Value, Error> {
    // Subjects and their keys in first-appearance order; subjects are also
    // indexed, as large writes have many.
    let mut subjects: Vec<(&Term, Properties)> = Vec::new();
    let mut index: HashMap<&Term, usize> = HashMap::new();
    for t in triples {
        let (key, value) = match (t.predicate.as_str(), &t.object) {
            (RDF_TYPE, Term::Iri(iri)) => ("@type".to_owned(), Value::from(ctx.compact_vocab(iri))),
            (JRQL_ITEM, o) => ("@item".to_owned(), object_json(ctx, o)),
            (JRQL_INDEX, o) => ("@index".to_owned(), object_json(ctx, o)),
            (p, o) => (ctx.compact_vocab(p), object_json(ctx, o)),
        };
        let at = *index.entry(&t.subject).or_insert_with(|| {
            subjects.push((&t.subject, Vec::new()));
            subjects.len() - 1
        });
        let Some((_, props)) = subjects.get_mut(at) else { continue };
        match props.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => props.push((key, vec![value])),
        }
    }
    let mut out = Vec::with_capacity(subjects.len());
    for (subject, props) in subjects {
        let mut o = Object::new();
        o.insert("@id", Value::Str(id_string(ctx, subject)?));
        for (key, mut values) in props {
            let value = if values.len() == 1 { values.pop().unwrap_or_default() } else { Value::Array(values) };
            o.insert(key, value);
        }
        out.push(Value::Map(o));
    }
    Ok(one_or_many(out))
}

/// Reified statements (deletes, fused inserts, snapshot batches):
/// `{"@id": "_:bN", "s", "p", "o", "tid"}` per triple, `tid` a string for
/// one TID, an array for several, and absent for none (entailed triples).
/// Labels are `_:<label_prefix><n>`; elements of one update get distinct
/// prefixes so no label is shared across them, whatever scope a peer uses.
pub fn reified_json<'t>(
    ctx: &Context,
    entries: impl IntoIterator<Item = (&'t Triple, &'t TidSet)>,
    label_prefix: &str,
) -> Result<Value, Error> {
    let mut out = Vec::new();
    for (n, (triple, tids)) in entries.into_iter().enumerate() {
        let mut o = Object::new();
        o.insert("@id", Value::Str(format!("_:{label_prefix}{n}")));
        o.insert("s", Value::Str(id_string(ctx, &triple.subject)?));
        o.insert("p", Value::Str(ctx.compact_id(&triple.predicate)));
        o.insert("o", object_json(ctx, &triple.object));
        let mut tids: Vec<Value> = tids.iter().map(|t| Value::from(t.as_str())).collect();
        match tids.len() {
            0 => {}
            1 => {
                o.insert("tid", tids.pop().unwrap_or_default());
            }
            _ => {
                o.insert("tid", Value::Array(tids));
            }
        }
        out.push(Value::Map(o));
    }
    Ok(one_or_many(out))
}
