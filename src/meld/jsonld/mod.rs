//! The JSON-LD subset m-ld puts in operations (wire doc §6.3–6.6), under the
//! fixed operation context of a domain, and the compacted subject JSON a JS
//! clone's `read({'@describe': id})` returns under the domain context.
//!
//! - [`Context`]: IRI expansion and compaction (`@base`, `@vocab`, and in
//!   operations the prefixes `rdf`/`xs` and terms `s p o tid op`).
//! - `decode`: JSON → triples ("serial" mode), and un-reification.
//! - `encode`: triples → JSON the JS engine decodes to the same triples.
//! - `describe`: triples of a subject → read JSON (backs the Clone API).
//! - `number`: JSON numbers ⇄ literals (`canonicalDouble`).
//!
//! Knows nothing of operations, clocks or bytes: callers hand in [`Value`]s.

mod decode;
mod describe;
mod encode;
mod iri;
mod number;
#[cfg(test)]
pub(crate) mod tests;

pub use decode::{Reified, json_to_triples, unreify};
pub use describe::{describe, describe_all};
pub use encode::{literal_json, reified_json, subjects_json};
pub use number::{XS_DOUBLE, XS_INTEGER, canonical_double, js_parse_float, number_literal};

use super::term::{MELD_OP, MELD_TID, RDF_OBJECT, RDF_PREDICATE, RDF_SUBJECT, Term};
use iri::{is_absolute, resolve};

/// The RDF namespace (`rdf:` prefix).
pub const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// The XML Schema namespace (`xs:` prefix).
pub const XS_NS: &str = "http://www.w3.org/2001/XMLSchema#";
/// `@item` (json-rql list slot item).
pub const JRQL_ITEM: &str = "http://json-rql.org/#item";
/// `@index` (json-rql list slot index, entailed).
pub const JRQL_INDEX: &str = "http://json-rql.org/#index";

/// The operation context's terms, each with its IRI and whether its values
/// are coerced to IRIs (`@type: @id`).
const TERMS: [(&str, &str, bool); 7] = [
    ("s", RDF_SUBJECT, true),
    ("p", RDF_PREDICATE, true),
    ("o", RDF_OBJECT, false),
    ("tid", MELD_TID, false),
    ("op", MELD_OP, false),
    ("rdf", RDF_NS, false),
    ("xs", XS_NS, false),
];

/// Prefixes usable in compact IRIs (`rdf:type`, `xs:date`).
const PREFIXES: [(&str, &str); 2] = [("rdf", RDF_NS), ("xs", XS_NS)];

/// A JSON-LD context for one domain: either the operation context (terms and
/// prefixes) or the plain domain context apps read with (base and vocab only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    base: String,
    vocab: String,
    /// Whether the operation context's terms and prefixes apply.
    operation: bool,
}

impl Context {
    /// The context operations are compacted against (wire doc §6.4).
    pub fn operation(domain: &str) -> Self {
        Context { base: format!("http://{domain}/"), vocab: format!("http://{domain}/#"), operation: true }
    }

    /// The context a JS app reads with by default: `@base` and `@vocab` only.
    pub fn domain(domain: &str) -> Self {
        Context { operation: false, ..Self::operation(domain) }
    }

    /// `@base`, e.g. `http://example.org/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `@vocab`, e.g. `http://example.org/#`.
    pub fn vocab(&self) -> &str {
        &self.vocab
    }

    /// Whether `key` is one of the operation context's `@type: @id` terms
    /// (`s`, `p`), whose string values are IRIs.
    pub(crate) fn is_id_term(&self, key: &str) -> bool {
        self.operation && TERMS.iter().any(|(t, _, id)| *t == key && *id)
    }

    /// A compact IRI (`rdf:type`) expanded, if `value` is one.
    fn expand_prefixed(&self, value: &str) -> Option<Term> {
        let (prefix, suffix) = value.split_once(':')?;
        if prefix == "_" {
            return Some(Term::Blank(suffix.to_owned()));
        }
        if suffix.starts_with("//") {
            return Some(Term::iri(value));
        }
        if self.operation
            && let Some((_, ns)) = PREFIXES.iter().find(|(p, _)| *p == prefix)
        {
            return Some(Term::iri(format!("{ns}{suffix}")));
        }
        is_absolute(value).then(|| Term::iri(value))
    }

    /// Expands an `@id` value (subjects, references, `s`/`p`): blank nodes,
    /// compact IRIs, absolute IRIs, else relative to `@base`.
    pub fn expand_id(&self, value: &str) -> Term {
        self.expand_prefixed(value).unwrap_or_else(|| Term::iri(resolve(&self.base, value)))
    }

    /// Expands a property key or `@type` value: terms, compact and absolute
    /// IRIs, else relative to `@vocab`.
    pub fn expand_vocab(&self, value: &str) -> Term {
        if self.operation
            && let Some((_, iri, _)) = TERMS.iter().find(|(t, _, _)| *t == value)
        {
            return Term::iri(*iri);
        }
        self.expand_prefixed(value).unwrap_or_else(|| Term::iri(format!("{}{value}", self.vocab)))
    }

    /// Expands a value object's `@type` (a datatype): `@json`, compact and
    /// absolute IRIs, else relative to `@base` (as the JS engine does).
    pub fn expand_datatype(&self, value: &str) -> Term {
        if value == "@json" {
            return Term::iri(super::term::RDF_JSON);
        }
        self.expand_id(value)
    }

    /// Compacts an IRI for an `@id` position: a compact IRI, else relative to
    /// `@base`, else absolute. Every candidate is checked to expand back to
    /// `iri`, so an odd IRI (`http://d/rdf:x`, `http://d/_:b`) stays absolute.
    pub fn compact_id(&self, iri: &str) -> String {
        let back = |c: &str| self.expand_id(c).as_iri() == Some(iri);
        if let Some(curie) = self.curie(iri).filter(|c| back(c)) {
            return curie;
        }
        if let Some(rest) = iri.strip_prefix(self.base.as_str()) {
            let relative = if rest.is_empty() { "./" } else { rest };
            if back(relative) {
                return relative.to_owned();
            }
        }
        iri.to_owned()
    }

    /// Compacts an IRI for a property key or `@type` value: relative to
    /// `@vocab` unless that would read as a term or keyword, else a compact
    /// IRI, else absolute; checked to expand back, as for [`Self::compact_id`].
    pub fn compact_vocab(&self, iri: &str) -> String {
        let back = |c: &str| self.expand_vocab(c).as_iri() == Some(iri);
        if let Some(rest) = iri.strip_prefix(self.vocab.as_str())
            && !rest.is_empty()
            && !rest.starts_with('@')
            && back(rest)
        {
            return rest.to_owned();
        }
        if let Some(curie) = self.curie(iri).filter(|c| back(c)) {
            return curie;
        }
        iri.to_owned()
    }

    /// Compacts a datatype IRI for a value object's `@type`: `@json`, a
    /// compact IRI, else absolute (never base-relative, which would depend
    /// on how a peer resolves datatypes).
    pub fn compact_datatype(&self, iri: &str) -> String {
        if iri == super::term::RDF_JSON {
            return "@json".to_owned();
        }
        self.curie(iri).filter(|c| self.expand_datatype(c).as_iri() == Some(iri)).unwrap_or_else(|| iri.to_owned())
    }

    fn curie(&self, iri: &str) -> Option<String> {
        if !self.operation {
            return None;
        }
        PREFIXES.iter().find_map(|(p, ns)| {
            let suffix = iri.strip_prefix(ns)?;
            // "rdf:" alone, or "xs://x", would not read back as the IRI.
            (!suffix.is_empty() && !suffix.starts_with("//")).then(|| format!("{p}:{suffix}"))
        })
    }
}
