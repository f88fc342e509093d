//! The typed form of json-rql requests, after parsing and IRI expansion
//! against the domain context: triple patterns with variables, groups,
//! filter expressions, reads and writes. Knows nothing of JSON or storage.

use crate::meld::term::Term;
use crate::meld::value::Value;

/// A variable name without its `?`. Names from the query follow json-rql's
/// `VARNAME`; hidden ones (for `?` and missing subject ids) are generated
/// with a leading `#`, which no query name can have, so they never clash
/// with the client's and are never selected.
pub type Var = String;

/// Whether a variable was generated rather than named by the client.
pub fn is_hidden(var: &str) -> bool {
    var.starts_with('#')
}

/// One position of a triple pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Matches anything, binding the variable.
    Var(Var),
    /// Matches exactly this term.
    Term(Term),
}

impl Node {
    /// The variable, if this is one.
    pub fn var(&self) -> Option<&str> {
        match self {
            Node::Var(v) => Some(v),
            Node::Term(_) => None,
        }
    }
}

/// A triple pattern. A predicate term is always an IRI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// Subject.
    pub subject: Node,
    /// Predicate.
    pub predicate: Node,
    /// Object.
    pub object: Node,
}

impl Pattern {
    /// The pattern's positions in subject, predicate, object order.
    pub fn nodes(&self) -> [&Node; 3] {
        [&self.subject, &self.predicate, &self.object]
    }

    /// Whether any position is a variable.
    pub fn has_var(&self) -> bool {
        self.nodes().iter().any(|n| n.var().is_some())
    }
}

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `@eq`.
    Eq,
    /// `@ne`.
    Ne,
    /// `@lt`.
    Lt,
    /// `@lte`.
    Lte,
    /// `@gt`.
    Gt,
    /// `@gte`.
    Gte,
    /// `@in`: the first argument equals one of the others.
    In,
    /// `@and`.
    And,
    /// `@or`.
    Or,
    /// `@not`.
    Not,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A variable's value (an error, so false, when unbound).
    Var(Var),
    /// A constant term.
    Term(Term),
    /// An operator applied to arguments.
    Op(Op, Vec<Expr>),
}

/// One row of `@values`: variables with their terms.
pub type ValuesRow = Vec<(Var, Term)>;

/// A group graph pattern (`@where`): the join of its patterns, its unions
/// and its values, filtered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    /// Basic graph pattern.
    pub patterns: Vec<Pattern>,
    /// Alternatives; solutions of any of them join with the patterns.
    pub unions: Vec<Group>,
    /// Every filter must hold (explicit `@filter` and inline constraints).
    pub filters: Vec<Expr>,
    /// Inline data joined with the solutions; none means no restriction.
    pub values: Vec<ValuesRow>,
}

/// One `@orderBy` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    /// The variable ordered by.
    pub var: Var,
    /// `@desc` rather than `@asc` (the default).
    pub descending: bool,
}

/// `@orderBy`, `@limit` and `@offset`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Modifiers {
    /// Sort keys, most significant first.
    pub order_by: Vec<OrderKey>,
    /// Most results returned.
    pub limit: Option<usize>,
    /// Results skipped first.
    pub offset: usize,
}

/// One `@describe` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescribeTarget {
    /// A subject by id.
    Id(Term),
    /// Every subject the variable takes in the `@where` solutions.
    Var(Var),
}

/// A read query.
#[derive(Debug, Clone, PartialEq)]
pub enum Read {
    /// `@describe`: whole subjects, as a clone's read renders them.
    Describe {
        /// Ids and variables, in query order.
        targets: Vec<DescribeTarget>,
        /// Where the variables get their values (an empty group if absent).
        where_: Group,
        /// Ordering and paging.
        modifiers: Modifiers,
    },
    /// `@select`: variable bindings.
    Select {
        /// The selected variables; `None` for `*` (every named variable).
        vars: Option<Vec<Var>>,
        /// The pattern.
        where_: Group,
        /// Ordering and paging.
        modifiers: Modifiers,
    },
    /// `@construct`: subjects built from a template.
    Construct {
        /// One template per constructed subject shape.
        templates: Vec<Template>,
        /// `@where`, or the templates' own patterns if absent.
        where_: Group,
        /// Paging (`@orderBy` is refused for constructs).
        modifiers: Modifiers,
    },
}

/// A subject template of a `@construct`.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The template's `@id`.
    pub id: TemplateId,
    /// Properties in template order.
    pub properties: Vec<(TemplateKey, TemplateValue)>,
}

/// A template subject's identity.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateId {
    /// A fixed id, as written.
    Fixed(String),
    /// One result subject per value of the variable.
    Var(Var),
    /// No `@id`: one result, with a generated blank id.
    None,
}

/// A template property key.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateKey {
    /// A fixed key, as written.
    Fixed(String),
    /// A variable key: replaced by each matched predicate.
    Var(Var),
}

/// A template property value.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateValue {
    /// A fixed value, copied as written.
    Fixed(Value),
    /// A variable's value, rendered as a subject property value.
    Var(Var),
    /// A nested subject template.
    Nested(Template),
}

/// A write, resolved against the dataset by [`super::resolve_write`].
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// `@delete` patterns (match mode: missing ids are variables).
    pub delete: Vec<Pattern>,
    /// Filters from inline constraints in `@delete`.
    pub delete_filters: Vec<Expr>,
    /// `@insert` patterns (load mode: missing ids are fresh skolem IRIs).
    pub insert: Vec<Pattern>,
    /// `@where`, if given.
    pub where_: Option<Group>,
    /// Items inserted into lists by index (`@list` in load mode); their
    /// slots' own triples are in `insert`.
    pub list_inserts: Vec<ListInsert>,
}

/// One item inserted into a list: its slot goes at a new position before
/// the item now at `index` (or at the end), `sub` ordering several items
/// inserted at one index.
#[derive(Debug, Clone, PartialEq)]
pub struct ListInsert {
    /// The list subject.
    pub list: Node,
    /// The index the item is inserted at, in the list as it is.
    pub index: u64,
    /// Order among items inserted at the same index.
    pub sub: u64,
    /// The slot (a fresh skolem unless given).
    pub slot: Node,
    /// The LSEQ site for new positions (unique to the request).
    pub site: String,
}
