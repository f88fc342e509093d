//! JSON-LD → triples as the JS engine reads operations ("serial" mode, wire
//! doc §6.5–6.6), and un-reification of `{"@id", s, p, o, tid|op}` objects
//! (§6.3). Never panics: malformed input is an [`Error`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::number::{XS_DOUBLE, canonical_double, js_parse_float, number_literal};
use super::{Context, JRQL_INDEX, JRQL_ITEM};
use crate::meld::error::Error;
use crate::meld::term::{
    Literal, RDF_OBJECT, RDF_PREDICATE, RDF_SUBJECT, RDF_TYPE, Term, Triple, XS_BASE64, XS_BOOLEAN, XS_STRING,
};
use crate::meld::value::{Object, Value, js_number_to_string};

/// Deepest nesting of subjects and arrays accepted; msgpack input is already
/// bounded, this keeps recursion well inside the stack on any input.
const MAX_NESTING: usize = 256;

/// Prefix of the labels given to anonymous nested subjects. Labels are
/// scoped to one JSON document, as JS scopes its own (`df_14_0`).
const ANON_PREFIX: &str = "anon";

/// Decodes a JSON-LD document (`{}`, one subject, or an array of subjects)
/// to triples, in document order.
pub fn json_to_triples(ctx: &Context, json: &Value) -> Result<Vec<Triple>, Error> {
    let mut decoder = Decoder { ctx, triples: Vec::new(), anon: 0 };
    decoder.document(json, 0)?;
    Ok(decoder.triples)
}

struct Decoder<'a> {
    ctx: &'a Context,
    triples: Vec<Triple>,
    anon: u64,
}

impl Decoder<'_> {
    fn document(&mut self, json: &Value, depth: usize) -> Result<(), Error> {
        if depth > MAX_NESTING {
            return Err(Error::BadJsonLd("nested too deeply"));
        }
        match json {
            Value::Null | Value::Undefined => Ok(()),
            Value::Array(items) => items.iter().try_for_each(|item| self.document(item, depth + 1)),
            Value::Map(o) => match o.get("@set").or_else(|| o.get("@graph")) {
                Some(inner) => self.document(inner, depth + 1),
                None => self.subject(o, depth).map(|_| ()),
            },
            _ => Err(Error::BadJsonLd("a subject must be an object")),
        }
    }

    /// Emits a subject's triples and returns its node.
    fn subject(&mut self, o: &Object, depth: usize) -> Result<Term, Error> {
        if depth > MAX_NESTING {
            return Err(Error::BadJsonLd("nested too deeply"));
        }
        let node = match o.get("@id") {
            None | Some(Value::Null | Value::Undefined) => self.fresh_blank(),
            Some(id) => self.id_value(id)?,
        };
        if matches!(node, Term::Literal(_)) {
            return Err(Error::BadJsonLd("subject is a literal"));
        }
        for (key, value) in o.iter() {
            let predicate = match key {
                "@id" | "@context" => continue,
                "@type" => RDF_TYPE.to_owned(),
                "@item" => JRQL_ITEM.to_owned(),
                "@index" => JRQL_INDEX.to_owned(),
                "@list" => return Err(Error::BadJsonLd("@list is not used in operations")),
                // Other keywords carry no triples (JSON-LD drops them).
                k if k.starts_with('@') => continue,
                k => match self.ctx.expand_vocab(k) {
                    Term::Iri(iri) => iri,
                    // A blank-node property is not RDF; JSON-LD drops it.
                    _ => continue,
                },
            };
            let mut objects = Vec::new();
            if key == "@type" {
                let ctx = self.ctx;
                flatten(value, &mut |v| {
                    let Value::Str(t) = v else {
                        return Err(Error::BadJsonLd("@type value is not a string"));
                    };
                    objects.push(ctx.expand_vocab(t));
                    Ok(())
                })?;
            } else {
                let id_typed = self.ctx.is_id_term(key);
                let mut values = Vec::new();
                flatten(value, &mut |v| {
                    values.push(v);
                    Ok(())
                })?;
                for v in values {
                    if let Some(object) = self.object(v, id_typed, depth + 1)? {
                        objects.push(object);
                    }
                }
            }
            for object in objects {
                self.triples.push(Triple::new(node.clone(), predicate.clone(), object));
            }
        }
        Ok(node)
    }

    /// An `@id` value. Non-strings become IRIs of their JS string form, as
    /// JS's `expandIri` passes them through unexpanded.
    fn id_value(&self, id: &Value) -> Result<Term, Error> {
        match id {
            Value::Str(s) => Ok(self.ctx.expand_id(s)),
            Value::Number(n) => Ok(Term::iri(js_number_to_string(*n))),
            Value::Bool(b) => Ok(Term::iri(b.to_string())),
            _ => Err(Error::BadJsonLd("@id is not a string")),
        }
    }

    fn fresh_blank(&mut self) -> Term {
        self.anon += 1;
        Term::Blank(format!("{ANON_PREFIX}{}", self.anon))
    }

    /// The object term of one (already flattened) value; `None` for null.
    fn object(&mut self, v: &Value, id_typed: bool, depth: usize) -> Result<Option<Term>, Error> {
        Ok(Some(match v {
            Value::Null | Value::Undefined => return Ok(None),
            Value::Str(_) | Value::Number(_) | Value::Bool(_) if id_typed => self.id_value(v)?,
            Value::Map(o) if o.get("@value").is_some() => return value_object(self.ctx, o),
            Value::Map(o) if o.get("@vocab").is_some() => match o.get("@vocab") {
                Some(Value::Str(s)) => self.ctx.expand_vocab(s),
                _ => return Err(Error::BadJsonLd("@vocab is not a string")),
            },
            Value::Map(o) if o.get("@list").is_some() => {
                return Err(Error::BadJsonLd("@list is not used in operations"));
            }
            Value::Map(o) => self.subject(o, depth)?,
            atom => Term::Literal(atom_literal(atom)?),
        }))
    }
}

/// Calls `f` on every value of a property, flattening nested arrays and
/// unwrapping `{"@set": …}`.
fn flatten<'v>(v: &'v Value, f: &mut dyn FnMut(&'v Value) -> Result<(), Error>) -> Result<(), Error> {
    flatten_at(v, f, 0)
}

fn flatten_at<'v>(v: &'v Value, f: &mut dyn FnMut(&'v Value) -> Result<(), Error>, depth: usize) -> Result<(), Error> {
    if depth > MAX_NESTING {
        return Err(Error::BadJsonLd("nested too deeply"));
    }
    match v {
        Value::Array(items) => items.iter().try_for_each(|i| flatten_at(i, f, depth + 1)),
        Value::Map(o) if o.len() == 1 && o.get("@set").is_some() => match o.get("@set") {
            Some(inner) => flatten_at(inner, f, depth + 1),
            None => Ok(()),
        },
        Value::Null | Value::Undefined => Ok(()),
        other => f(other),
    }
}

/// A plain JSON atom's literal (wire doc §6.6).
fn atom_literal(v: &Value) -> Result<Literal, Error> {
    Ok(match v {
        Value::Str(s) => Literal::new(s.clone(), XS_STRING),
        Value::Bool(b) => Literal::new(b.to_string(), XS_BOOLEAN),
        Value::Number(n) => {
            let (lexical, datatype) = number_literal(*n);
            Literal::new(lexical, datatype)
        }
        Value::Bin(bytes) => Literal::new(STANDARD.encode(bytes), XS_BASE64),
        _ => return Err(Error::BadJsonLd("value is not an atom")),
    })
}

/// A `{"@value", …}` object. `@language` is dropped, as JS 0.10.0 does; with
/// `@id` and `@type` the value is indirected data under the id.
fn value_object(ctx: &Context, o: &Object) -> Result<Option<Term>, Error> {
    let value = o.get("@value").unwrap_or(&Value::Null);
    if value.is_nullish() {
        return Ok(None);
    }
    let datatype = match o.get("@type") {
        None | Some(Value::Null | Value::Undefined) => None,
        Some(Value::Str(t)) => match ctx.expand_datatype(t) {
            Term::Iri(iri) => Some(iri),
            _ => return Err(Error::BadJsonLd("datatype is not an IRI")),
        },
        Some(_) => return Err(Error::BadJsonLd("@type of a value is not a string")),
    };
    let Some(datatype) = datatype else {
        return atom_literal(value).map(|l| Some(Term::Literal(l)));
    };
    if let Some(Value::Str(id)) = o.get("@id") {
        return Ok(Some(Term::Literal(Literal { lexical: id.clone(), datatype, data: Some(value.clone()) })));
    }
    let lexical = match value {
        Value::Str(s) if datatype == XS_DOUBLE => canonical_double(js_parse_float(s)),
        Value::Str(s) => s.clone(),
        Value::Number(n) if datatype == XS_DOUBLE => canonical_double(*n),
        Value::Number(n) => number_literal(*n).0,
        Value::Bool(b) => b.to_string(),
        Value::Bin(bytes) => STANDARD.encode(bytes),
        _ => return Err(Error::BadJsonLd("typed value without @id is not an atom")),
    };
    Ok(Some(Term::Literal(Literal::new(lexical, datatype))))
}

/// One reified statement: the triple and the values of its `tid` (or `op`)
/// key, in document order.
#[derive(Debug, Clone, PartialEq)]
pub struct Reified {
    /// The statement.
    pub triple: Triple,
    /// Objects of the reification's `key` predicate (TID literals, or
    /// shared-datatype operations).
    pub values: Vec<Term>,
}

/// Groups reification triples by their node (wire doc §6.3) into the
/// statements they describe, with the objects of `key` (`m-ld:tid` or
/// `m-ld:op`). Triples of nodes that are not reifications are ignored, as
/// JS ignores them; a node with only part of `s`/`p`/`o`, or with two
/// values for one of them, is an error.
pub fn unreify(triples: &[Triple], key: &str) -> Result<Vec<Reified>, Error> {
    #[derive(Default)]
    struct Parts<'t> {
        s: Vec<&'t Term>,
        p: Vec<&'t Term>,
        o: Vec<&'t Term>,
        values: Vec<Term>,
    }
    // Nodes in order of first appearance, found through a map by term.
    let mut index: std::collections::HashMap<&Term, usize> = std::collections::HashMap::new();
    let mut nodes: Vec<Parts> = Vec::new();
    for t in triples {
        let i = *index.entry(&t.subject).or_insert_with(|| {
            nodes.push(Parts::default());
            nodes.len() - 1
        });
        let Some(parts) = nodes.get_mut(i) else { continue };
        match t.predicate.as_str() {
            RDF_SUBJECT => parts.s.push(&t.object),
            RDF_PREDICATE => parts.p.push(&t.object),
            RDF_OBJECT => parts.o.push(&t.object),
            k if k == key => parts.values.push(t.object.clone()),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for parts in nodes {
        match (parts.s.as_slice(), parts.p.as_slice(), parts.o.as_slice()) {
            ([], [], []) => continue,
            ([s], [Term::Iri(p)], [o]) => {
                if matches!(s, Term::Literal(_)) {
                    return Err(Error::BadReification("subject is a literal"));
                }
                out.push(Reified { triple: Triple::new((*s).clone(), p.clone(), (*o).clone()), values: parts.values });
            }
            ([_], [_], [_]) => return Err(Error::BadReification("predicate is not an IRI")),
            _ => return Err(Error::BadReification("needs exactly one s, p and o")),
        }
    }
    Ok(out)
}
