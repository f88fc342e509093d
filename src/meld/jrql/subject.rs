//! json-rql subjects → triple patterns, as the JS engine's `SubjectQuads`
//! reads them: nested subjects become their own patterns linked by a
//! reference, arrays and `@set` are flattened, `@type` values are vocabulary
//! IRIs, and strings of the form `?name` are variables. In *match* mode
//! (`@where`, `@delete`) a subject without `@id` is a hidden variable, a
//! top-level bare reference matches any property of the subject, and inline
//! constraints (`{"@gt": 40}`) become filters; in *load* mode (`@insert`,
//! plain writes) a subject without `@id` gets a fresh skolem IRI. `@list`
//! is the list's slots by index: matched through their entailed `@index`,
//! or inserted as new slots whose positions the write's resolution
//! allocates.

use crate::meld::jsonld::{Context, JRQL_INDEX, JRQL_ITEM, XS_INTEGER, json_to_triples};
use crate::meld::term::{Literal, RDF_TYPE, Term};
use crate::meld::value::{Object, Value};

use super::ast::{Expr, ListInsert, Node, Op, Pattern, Var};
use super::error::JrqlError;

/// Deepest nesting of subjects, arrays and expressions accepted, which keeps
/// recursion well inside the stack whatever the client sends.
pub(crate) const MAX_DEPTH: usize = 64;

/// How subjects are read (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Patterns to match existing data.
    Match,
    /// Data to insert, possibly with variables bound by a `@where`.
    Load,
}

/// Reads the parts of one request: its hidden-variable counter and skolem
/// generator are shared by every clause, so generated names never repeat.
pub(crate) struct Parser<'a> {
    pub(crate) ctx: &'a Context,
    hidden: usize,
    genid: &'a mut dyn FnMut() -> Term,
    /// The LSEQ site of this request's new list positions, once needed.
    site: Option<String>,
}

/// What a run of subjects produced.
#[derive(Debug, Default)]
pub(crate) struct Patterns {
    pub(crate) patterns: Vec<Pattern>,
    /// Inline constraints (match mode only).
    pub(crate) filters: Vec<Expr>,
    /// `@list` items to insert (load mode only).
    pub(crate) list_inserts: Vec<ListInsert>,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(ctx: &'a Context, genid: &'a mut dyn FnMut() -> Term) -> Self {
        Parser { ctx, hidden: 0, genid, site: None }
    }

    /// A fresh hidden variable.
    pub(crate) fn hidden_var(&mut self) -> Var {
        self.hidden += 1;
        format!("#{}", self.hidden)
    }

    /// The variable a string denotes, following JS `matchVar`: `?` is a
    /// fresh hidden variable, `?name` a named one; anything else is `None`
    /// (and so, where a value is allowed, a plain string).
    pub(crate) fn var(&mut self, text: &str) -> Option<Var> {
        match text.strip_prefix('?') {
            Some("") => Some(self.hidden_var()),
            Some(name) if is_var_name(name) => Some(name.to_owned()),
            _ => None,
        }
    }

    /// A named variable where the grammar demands one (`@select`,
    /// `@orderBy`, `@values` keys).
    pub(crate) fn named_var(&self, text: &str) -> Result<Var, JrqlError> {
        match text.strip_prefix('?') {
            Some(name) if is_var_name(name) => Ok(name.to_owned()),
            _ => Err(JrqlError::bad_variable(text)),
        }
    }

    /// Patterns for a subject, or an array of them (a `@graph`).
    pub(crate) fn subjects(&mut self, json: &Value, mode: Mode) -> Result<Patterns, JrqlError> {
        let mut out = Patterns::default();
        self.top_level(json, mode, &mut out, 0)?;
        Ok(out)
    }

    fn top_level(&mut self, json: &Value, mode: Mode, out: &mut Patterns, depth: usize) -> Result<(), JrqlError> {
        if depth > MAX_DEPTH {
            return Err(JrqlError::TooDeep);
        }
        match json {
            Value::Null | Value::Undefined => Ok(()),
            Value::Array(items) => items.iter().try_for_each(|item| self.top_level(item, mode, out, depth + 1)),
            Value::Map(o) if o.get("@set").is_some() => {
                self.top_level(o.get("@set").unwrap_or(&Value::Null), mode, out, depth + 1)
            }
            Value::Map(o) if !is_atom_object(o) => {
                let id = self.subject(o, mode, out, depth)?;
                if mode == Mode::Match && is_reference(o) {
                    // A bare reference at top level matches any of its properties.
                    let (p, v) = (self.hidden_var(), self.hidden_var());
                    out.patterns.push(Pattern { subject: id, predicate: Node::Var(p), object: Node::Var(v) });
                }
                Ok(())
            }
            _ => Err(JrqlError::Invalid("a pattern must be a subject object")),
        }
    }

    /// Emits a subject's patterns and returns its node.
    fn subject(&mut self, o: &Object, mode: Mode, out: &mut Patterns, depth: usize) -> Result<Node, JrqlError> {
        let id = self.subject_id(o, mode)?;
        self.properties(o, &id, mode, out, depth)?;
        Ok(id)
    }

    /// Emits the patterns of a subject's properties.
    fn properties(
        &mut self,
        o: &Object,
        id: &Node,
        mode: Mode,
        out: &mut Patterns,
        depth: usize,
    ) -> Result<(), JrqlError> {
        if depth > MAX_DEPTH {
            return Err(JrqlError::TooDeep);
        }
        for (key, value) in o.iter() {
            if key == "@id" || value.is_nullish() {
                continue;
            }
            if key == "@list" {
                match mode {
                    Mode::Match => self.list(id, value, out, depth + 1)?,
                    Mode::Load => self.list_insert(id, value, out, depth + 1)?,
                }
                continue;
            }
            let predicate = self.predicate(key)?;
            self.values(id, &predicate, key == "@type", value, mode, out, depth + 1)?;
        }
        Ok(())
    }

    /// `@list` in load mode, as JS `listItems` reads it for an insert: an
    /// array is items at 0, 1…; an object maps indexes to items, an array
    /// there being several items at one index; any other value is the item
    /// at 0. Each item gets a slot (the item object itself if it has
    /// `@item`), whose position the write's resolution allocates.
    fn list_insert(&mut self, list: &Node, value: &Value, out: &mut Patterns, depth: usize) -> Result<(), JrqlError> {
        if depth > MAX_DEPTH {
            return Err(JrqlError::TooDeep);
        }
        let mut entries: Vec<(u64, u64, &Value)> = Vec::new();
        match value {
            Value::Array(items) => entries.extend(items.iter().enumerate().map(|(i, item)| (i as u64, 0, item))),
            Value::Map(o) => {
                for (key, item) in o.iter() {
                    if self.var(key).is_some() {
                        return Err(JrqlError::Unsupported("a variable list index in an insert"));
                    }
                    let index = list_index(key)?;
                    match item {
                        Value::Array(items) => {
                            entries.extend(items.iter().enumerate().map(|(j, item)| (index, j as u64, item)));
                        }
                        item => entries.push((index, 0, item)),
                    }
                }
            }
            single => entries.push((0, 0, single)),
        }
        let site = match &self.site {
            Some(site) => site.clone(),
            None => {
                let site = site_of(&(self.genid)());
                self.site = Some(site.clone());
                site
            }
        };
        for (index, sub, item) in entries {
            let slot = match item {
                Value::Map(o) if o.get("@item").is_some() => {
                    let slot = self.subject_id(o, Mode::Load)?;
                    self.properties(o, &slot, Mode::Load, out, depth + 1)?;
                    slot
                }
                Value::Array(_) => return Err(JrqlError::Unsupported("a nested @list")),
                item => {
                    let slot = Node::Term((self.genid)());
                    let predicate = Node::Term(Term::iri(JRQL_ITEM));
                    self.values(&slot, &predicate, false, item, Mode::Load, out, depth + 1)?;
                    slot
                }
            };
            out.list_inserts.push(ListInsert { list: list.clone(), index, sub, slot, site: site.clone() });
        }
        Ok(())
    }

    /// `@list` in match mode, as JS `SubjectQuads.listQuads` reads it: each
    /// item is in a slot at a position of the list — `list ?position ?slot`,
    /// `?slot @index i`, `?slot @item item`. An array gives items at 0, 1…;
    /// an object maps indexes (`"1"`) or variables (`"?i"`, `"?"`) to items;
    /// any other value is the item at 0. An item object with `@item` is the
    /// slot itself.
    fn list(&mut self, list: &Node, value: &Value, out: &mut Patterns, depth: usize) -> Result<(), JrqlError> {
        if depth > MAX_DEPTH {
            return Err(JrqlError::TooDeep);
        }
        let entries: Vec<(Node, &Value)> = match value {
            Value::Array(items) => items.iter().enumerate().map(|(i, item)| (index_node(i as u64), item)).collect(),
            Value::Map(o) => o
                .iter()
                .map(|(key, item)| {
                    let index = match self.var(key) {
                        Some(var) => Node::Var(var),
                        None => index_node(list_index(key)?),
                    };
                    Ok((index, item))
                })
                .collect::<Result<_, JrqlError>>()?,
            single => vec![(index_node(0), single)],
        };
        for (index, item) in entries {
            let slot = match item {
                Value::Map(o) if o.get("@item").is_some() => self.subject_id(o, Mode::Match)?,
                _ => Node::Var(self.hidden_var()),
            };
            let position = Node::Var(self.hidden_var());
            out.patterns.push(Pattern { subject: list.clone(), predicate: position, object: slot.clone() });
            out.patterns.push(Pattern {
                subject: slot.clone(),
                predicate: Node::Term(Term::iri(JRQL_INDEX)),
                object: index,
            });
            match item {
                Value::Map(o) if o.get("@item").is_some() => self.properties(o, &slot, Mode::Match, out, depth + 1)?,
                Value::Array(_) => return Err(JrqlError::Unsupported("a nested @list")),
                _ => {
                    let predicate = Node::Term(Term::iri(JRQL_ITEM));
                    self.values(&slot, &predicate, false, item, Mode::Match, out, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// The predicate node for a subject key.
    pub(crate) fn predicate(&mut self, key: &str) -> Result<Node, JrqlError> {
        Ok(match key {
            "@type" => Node::Term(Term::iri(RDF_TYPE)),
            "@item" => Node::Term(Term::iri(JRQL_ITEM)),
            "@index" => Node::Term(Term::iri(JRQL_INDEX)),
            "@list" => return Err(JrqlError::Unsupported("@list")),
            "@context" => return Err(JrqlError::Unsupported("@context")),
            k if k.starts_with('@') => return Err(JrqlError::unknown_key(k, "subject")),
            k => match self.var(k) {
                Some(v) => Node::Var(v),
                None => match self.ctx.expand_vocab(k) {
                    iri @ Term::Iri(_) => Node::Term(iri),
                    _ => return Err(JrqlError::Invalid("a property must be an IRI")),
                },
            },
        })
    }

    /// Emits one pattern per value of a property.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn values(
        &mut self,
        subject: &Node,
        predicate: &Node,
        is_type: bool,
        value: &Value,
        mode: Mode,
        out: &mut Patterns,
        depth: usize,
    ) -> Result<(), JrqlError> {
        if depth > MAX_DEPTH {
            return Err(JrqlError::TooDeep);
        }
        let object = match value {
            Value::Null | Value::Undefined => return Ok(()),
            Value::Array(items) => {
                return items
                    .iter()
                    .try_for_each(|v| self.values(subject, predicate, is_type, v, mode, out, depth + 1));
            }
            Value::Map(o) if o.get("@set").is_some() => {
                let inner = o.get("@set").unwrap_or(&Value::Null);
                return self.values(subject, predicate, is_type, inner, mode, out, depth + 1);
            }
            Value::Str(s) => match self.var(s) {
                Some(v) => Node::Var(v),
                None if is_type => Node::Term(self.ctx.expand_vocab(s)),
                None => Node::Term(self.literal(value)?),
            },
            _ if is_type => return Err(JrqlError::Invalid("@type values must be strings")),
            Value::Map(o) if is_inline_constraint(o) => match mode {
                Mode::Match => Node::Var(self.inline_constraint(o, out, depth)?),
                Mode::Load => return Err(JrqlError::Unsupported("an expression in @insert")),
            },
            Value::Map(o) if is_reference(o) || !is_atom_object(o) => {
                // The reference is emitted before the nested subject's own
                // patterns, as JS does; the id must be known first.
                let id = self.subject_id(o, mode)?;
                out.patterns.push(Pattern {
                    subject: subject.clone(),
                    predicate: predicate.clone(),
                    object: id.clone(),
                });
                return self.properties(o, &id, mode, out, depth + 1);
            }
            Value::Map(o) if o.get("@vocab").is_some() => match o.get("@vocab") {
                Some(Value::Str(s)) => Node::Term(self.ctx.expand_vocab(s)),
                _ => return Err(JrqlError::Invalid("@vocab must be a string")),
            },
            _ => match self.object_term(value)? {
                Some(term) => Node::Term(term),
                None => return Ok(()),
            },
        };
        out.patterns.push(Pattern { subject: subject.clone(), predicate: predicate.clone(), object });
        Ok(())
    }

    /// A subject's id node: its `@id`, or for none a hidden variable (match)
    /// or a fresh skolem IRI (load).
    pub(crate) fn subject_id(&mut self, o: &Object, mode: Mode) -> Result<Node, JrqlError> {
        Ok(match o.get("@id") {
            None | Some(Value::Null | Value::Undefined) => match mode {
                Mode::Match => Node::Var(self.hidden_var()),
                Mode::Load => Node::Term((self.genid)()),
            },
            Some(Value::Str(s)) => match self.var(s) {
                Some(v) => Node::Var(v),
                None => Node::Term(self.ctx.expand_id(s)),
            },
            Some(_) => return Err(JrqlError::Invalid("@id must be a string")),
        })
    }

    /// `{"@gt": 40}` or `{"@value": "?x", "@gt": 40}`: the constrained
    /// variable, with the constraint (variable first) added as a filter.
    fn inline_constraint(&mut self, o: &Object, out: &mut Patterns, depth: usize) -> Result<Var, JrqlError> {
        let var = self.constrained_var(o)?;
        self.constrain(&var, o, out, depth)?;
        Ok(var)
    }

    /// The variable an inline constraint constrains: its `@value`, or a
    /// fresh hidden one.
    pub(crate) fn constrained_var(&mut self, o: &Object) -> Result<Var, JrqlError> {
        match o.get("@value") {
            None => Ok(self.hidden_var()),
            Some(Value::Str(s)) => self.var(s).ok_or_else(|| JrqlError::bad_variable(s)),
            Some(_) => Err(JrqlError::Invalid("@value of a constraint must be a variable")),
        }
    }

    /// Adds an inline constraint's operations on `var` as filters.
    pub(crate) fn constrain(
        &mut self,
        var: &str,
        o: &Object,
        out: &mut Patterns,
        depth: usize,
    ) -> Result<(), JrqlError> {
        if depth > MAX_DEPTH {
            return Err(JrqlError::TooDeep);
        }
        for (op, args) in o.iter().filter(|(k, _)| *k != "@value") {
            let mut exprs = vec![Expr::Var(var.to_owned())];
            for arg in as_array(args) {
                exprs.push(self.expr(arg, depth + 1)?);
            }
            out.filters.push(self.operation(op, exprs)?);
        }
        Ok(())
    }

    /// The literal (or IRI) a plain JSON value denotes, read exactly as the
    /// JSON-LD decoder reads operation values, so it matches stored terms.
    pub(crate) fn object_term(&self, value: &Value) -> Result<Option<Term>, JrqlError> {
        if let Value::Map(o) = value {
            if let Some(id) = o.get("@id").filter(|_| is_reference(o)) {
                return match id {
                    Value::Str(s) => Ok(Some(self.ctx.expand_id(s))),
                    _ => Err(JrqlError::Invalid("@id must be a string")),
                };
            }
            if let Some(vocab) = o.get("@vocab").filter(|_| o.len() == 1) {
                return match vocab {
                    Value::Str(s) => Ok(Some(self.ctx.expand_vocab(s))),
                    _ => Err(JrqlError::Invalid("@vocab must be a string")),
                };
            }
            if o.get("@value").is_none() {
                return Err(JrqlError::Invalid("a value must be an atom, value object or reference"));
            }
        }
        let mut holder = Object::new();
        holder.insert("@id", Value::from("_:v"));
        holder.insert(VALUE_KEY, value.clone());
        let triples = json_to_triples(self.ctx, &Value::Map(holder)).map_err(|_| JrqlError::Invalid("bad value"))?;
        Ok(triples.into_iter().next().map(|t| t.object))
    }

    fn literal(&self, value: &Value) -> Result<Term, JrqlError> {
        self.object_term(value)?.ok_or(JrqlError::Invalid("bad value"))
    }

    /// An operator applied to arguments, checked for arity.
    pub(crate) fn operation(&self, op: &str, args: Vec<Expr>) -> Result<Expr, JrqlError> {
        let op = super::expr::operator(op)?;
        let ok = match op {
            Op::Eq | Op::Ne | Op::Lt | Op::Lte | Op::Gt | Op::Gte => args.len() == 2,
            Op::Not => args.len() == 1,
            Op::In | Op::And | Op::Or => !args.is_empty(),
        };
        if !ok {
            return Err(JrqlError::Invalid("wrong number of operator arguments"));
        }
        Ok(Expr::Op(op, args))
    }
}

/// An LSEQ site from a fresh skolem IRI: its last 16 letters and digits
/// (JS uses the clone's id; any site unique to the writer will do).
fn site_of(skolem: &Term) -> String {
    let iri = skolem.as_iri().unwrap_or_default();
    let chars: Vec<char> = iri.chars().filter(char::is_ascii_alphanumeric).collect();
    chars[chars.len().saturating_sub(16)..].iter().collect()
}

/// A list index key: a natural number in decimal (JS `toIndexNumber`).
fn list_index(key: &str) -> Result<u64, JrqlError> {
    let canonical = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) && (key == "0" || !key.starts_with('0'));
    match key.parse() {
        Ok(n) if canonical => Ok(n),
        _ => Err(JrqlError::Invalid("a list index must be a number or a variable")),
    }
}

/// The `@index` literal of a list index.
fn index_node(index: u64) -> Node {
    Node::Term(Term::Literal(Literal::new(index.to_string(), XS_INTEGER)))
}

/// The property the value decoder is given: any absolute IRI will do.
const VALUE_KEY: &str = "http://json-rql.org/#value";

/// One value, or each item of an array (operator arguments).
pub(crate) fn as_array(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    }
}

/// JS `isReference`: `@id` and nothing that makes a graph edge.
pub(crate) fn is_reference(o: &Object) -> bool {
    o.get("@id").is_some()
        && o.iter().all(|(k, v)| k == "@id" || v.is_nullish() || v.as_array().is_some_and(<[Value]>::is_empty))
}

/// Objects that stand for one term rather than a subject: value objects,
/// `@vocab` references and inline constraints.
pub(crate) fn is_atom_object(o: &Object) -> bool {
    (o.get("@value").is_some() && o.iter().all(|(k, _)| matches!(k, "@value" | "@type" | "@language" | "@id")))
        || (o.get("@vocab").is_some() && o.len() == 1)
        || is_inline_constraint(o)
}

/// JS `isInlineConstraint`: only operators, optionally with `@value`.
pub(crate) fn is_inline_constraint(o: &Object) -> bool {
    !o.is_empty()
        && o.iter().any(|(k, _)| k != "@value")
        && o.iter().all(|(k, _)| k == "@value" || super::expr::is_operator(k))
}

/// json-rql's `VARNAME` (SPARQL's): letters, digits and `_`, with a few
/// joining characters allowed after the first.
fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else { return false };
    (is_pn_chars_u(first) || first.is_ascii_digit())
        && chars.all(|c| {
            is_pn_chars_u(c)
                || c.is_ascii_digit()
                || c == '\u{B7}'
                || ('\u{300}'..='\u{36F}').contains(&c)
                || ('\u{203F}'..='\u{2040}').contains(&c)
        })
}

fn is_pn_chars_u(c: char) -> bool {
    c == '_'
        || c.is_ascii_alphabetic()
        || matches!(c,
            '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}'
            | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}'
            | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}'
            | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}
