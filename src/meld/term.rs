//! RDF terms and triples as m-ld stores and exchanges them.
//!
//! Identity follows the JS engine: a literal is its lexical form and datatype
//! (language tags are dropped, as JS 0.10.0 does); indirected data (binary,
//! JSON, shared-datatype state) travels with a literal but is not part of its
//! identity, so deletes match by the literal's id alone.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use super::Value;

/// `xs:string`.
pub const XS_STRING: &str = "http://www.w3.org/2001/XMLSchema#string";
/// `xs:boolean`.
pub const XS_BOOLEAN: &str = "http://www.w3.org/2001/XMLSchema#boolean";
/// `xs:base64Binary`.
pub const XS_BASE64: &str = "http://www.w3.org/2001/XMLSchema#base64Binary";
/// `rdf:JSON`.
pub const RDF_JSON: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON";
/// `rdf:type`.
pub const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
/// `rdf:subject` (reification).
pub const RDF_SUBJECT: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#subject";
/// `rdf:predicate` (reification).
pub const RDF_PREDICATE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#predicate";
/// `rdf:object` (reification).
pub const RDF_OBJECT: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#object";
/// `m-ld:tid` (reification).
pub const MELD_TID: &str = "http://m-ld.org/#tid";
/// `m-ld:op` (shared-datatype updates).
pub const MELD_OP: &str = "http://m-ld.org/#op";

/// A transaction id: Base64 of a clock hash (see [`super::TreeClock::hash`]).
pub type Tid = String;

/// A set of TIDs, ordered for stable encodings.
pub type TidSet = BTreeSet<Tid>;

/// A literal: lexical form and datatype IRI, with optional indirected data.
#[derive(Debug, Clone)]
pub struct Literal {
    /// Lexical form (for indirected data, the data's id).
    pub lexical: String,
    /// Absolute datatype IRI.
    pub datatype: String,
    /// Indirected data, if the datatype keeps its value outside the lexical form.
    pub data: Option<Value>,
}

impl Literal {
    /// A plain literal of the given datatype.
    pub fn new(lexical: impl Into<String>, datatype: impl Into<String>) -> Self {
        Literal { lexical: lexical.into(), datatype: datatype.into(), data: None }
    }
}

impl PartialEq for Literal {
    fn eq(&self, other: &Self) -> bool {
        self.lexical == other.lexical && self.datatype == other.datatype
    }
}
impl Eq for Literal {}
impl Hash for Literal {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.lexical.hash(state);
        self.datatype.hash(state);
    }
}
impl PartialOrd for Literal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Literal {
    fn cmp(&self, other: &Self) -> Ordering {
        (&self.datatype, &self.lexical).cmp(&(&other.datatype, &other.lexical))
    }
}

/// An RDF term.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Term {
    /// An absolute IRI.
    Iri(String),
    /// A blank node, by label (without `_:`), scoped to its dataset.
    Blank(String),
    /// A literal.
    Literal(Literal),
}

impl Term {
    /// An IRI term.
    pub fn iri(iri: impl Into<String>) -> Self {
        Term::Iri(iri.into())
    }

    /// The IRI, if this is one.
    pub fn as_iri(&self) -> Option<&str> {
        match self {
            Term::Iri(iri) => Some(iri),
            _ => None,
        }
    }
}

/// A triple in the default graph. Predicates are always IRIs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Triple {
    /// Subject: an IRI or a blank node.
    pub subject: Term,
    /// Predicate IRI.
    pub predicate: String,
    /// Object.
    pub object: Term,
}

impl Triple {
    /// A triple from its parts.
    pub fn new(subject: Term, predicate: impl Into<String>, object: Term) -> Self {
        Triple { subject, predicate: predicate.into(), object }
    }
}

/// The SU-Set effect of one operation: exactly which TIDs to remove from which
/// triples, and which to add. Produced by decoding (or cutting) an operation
/// or by a local write; consumed by the dataset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TidPatch {
    /// Triples with the TIDs to remove from them.
    pub deletes: Vec<(Triple, TidSet)>,
    /// Triples with the TIDs to add to them.
    pub inserts: Vec<(Triple, TidSet)>,
}

impl TidPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty() && self.inserts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_identity_ignores_data() {
        let a = Literal { lexical: "id".into(), datatype: XS_BASE64.into(), data: Some(Value::Bin(vec![1])) };
        let b = Literal { lexical: "id".into(), datatype: XS_BASE64.into(), data: None };
        assert_eq!(Term::Literal(a), Term::Literal(b));
        assert_ne!(Literal::new("1", XS_STRING), Literal::new("1", XS_BOOLEAN));
    }
}
