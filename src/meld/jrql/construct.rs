//! Filling `@construct` templates from solutions, as the JS engine's
//! `ConstructTemplate` does: one result subject per value of a variable
//! `@id` (one in all for a fixed or missing id), fixed values copied as
//! written into each new result, variable values rendered as subject
//! property values, variable keys replaced by the matched property, values
//! gathered without duplicates, one value unwrapped and several an array.
//! A nested template's results are shared by every outer result that
//! refers to them, so they are rendered only once all solutions are in.

use crate::meld::jsonld::Context;
use crate::meld::term::{RDF_TYPE, Term};
use crate::meld::value::{Object, Value};

use super::ast::{Template, TemplateId, TemplateKey, TemplateValue};
use super::read::render;
use super::solve::Binding;

/// The subjects the templates build from the solutions, template by template.
pub fn construct(ctx: &Context, templates: &[Template], solutions: &[Binding]) -> Vec<Value> {
    let mut blanks = 0;
    let mut states: Vec<State> = templates.iter().map(State::new).collect();
    for solution in solutions {
        for state in &mut states {
            state.add(ctx, solution, &mut blanks);
        }
    }
    states.iter().flat_map(|s| (0..s.results.len()).map(|i| s.render(i))).collect()
}

/// A value in a result: JSON, or a nested template's result by index.
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Json(Value),
    Nested { property: usize, result: usize },
}

/// A result subject being built: its id, and keys with their values.
#[derive(Debug)]
struct Result {
    id: String,
    properties: Vec<(String, Vec<Item>)>,
}

impl Result {
    fn add(&mut self, key: &str, item: Item) {
        match self.properties.iter_mut().find(|(k, _)| k == key) {
            Some((_, items)) if items.contains(&item) => {}
            Some((_, items)) => items.push(item),
            None => self.properties.push((key.to_owned(), vec![item])),
        }
    }
}

/// One template's results so far; `nested` holds, per property index, the
/// state of a nested template there.
struct State<'t> {
    template: &'t Template,
    /// Results keyed by the bound id (`None`: fixed, missing or unbound id).
    results: Vec<(Option<String>, Result)>,
    nested: Vec<Option<State<'t>>>,
}

impl<'t> State<'t> {
    fn new(template: &'t Template) -> Self {
        let nested = template
            .properties
            .iter()
            .map(|(_, v)| match v {
                TemplateValue::Nested(t) => Some(State::new(t)),
                _ => None,
            })
            .collect();
        State { template, results: Vec::new(), nested }
    }

    /// Adds a solution; returns the index of the result it went into, if
    /// that result is worth referring to (JS ignores an empty anonymous one).
    fn add(&mut self, ctx: &Context, solution: &Binding, blanks: &mut usize) -> Option<usize> {
        let sid = match &self.template.id {
            TemplateId::Var(v) => solution.get(v).map(|t| compact_id(ctx, t)),
            _ => None,
        };
        let found = self.results.iter().position(|(k, _)| *k == sid);
        let is_new = found.is_none();
        let index = found.unwrap_or_else(|| {
            let id = match (&sid, &self.template.id) {
                (Some(id), _) => id.clone(),
                (None, TemplateId::Fixed(id)) => id.clone(),
                _ => {
                    *blanks += 1;
                    format!("_:b{blanks}")
                }
            };
            self.results.push((sid.clone(), Result { id, properties: Vec::new() }));
            self.results.len() - 1
        });
        // Keys as the solution substitutes them, else as written.
        let keys: Vec<(Option<String>, String)> = self
            .template
            .properties
            .iter()
            .map(|(key, _)| match key {
                TemplateKey::Fixed(k) => (None, k.clone()),
                TemplateKey::Var(v) => (solution.get(v).map(|t| property_key(ctx, t)), format!("?{v}")),
            })
            .collect();
        let mut additions: Vec<(String, Item)> = Vec::new();
        // JS adds fixed values, then variable values, then nested subjects.
        for ((_, value), (substitute, written)) in self.template.properties.iter().zip(&keys) {
            if let TemplateValue::Fixed(json) = value
                && (substitute.is_some() || is_new)
            {
                additions.push((substitute.clone().unwrap_or_else(|| written.clone()), Item::Json(json.clone())));
            }
        }
        for ((_, value), (substitute, written)) in self.template.properties.iter().zip(&keys) {
            if let TemplateValue::Var(var) = value
                && let Some(term) = solution.get(var)
            {
                let key = substitute.clone().unwrap_or_else(|| written.clone());
                let json = match term {
                    Term::Iri(iri) if key == "@type" => Value::from(ctx.compact_vocab(iri)),
                    other => render(ctx, other),
                };
                additions.push((key, Item::Json(json)));
            }
        }
        for (property, (substitute, written)) in keys.iter().enumerate() {
            if let Some(Some(nested)) = self.nested.get_mut(property)
                && let Some(result) = nested.add(ctx, solution, blanks)
            {
                additions
                    .push((substitute.clone().unwrap_or_else(|| written.clone()), Item::Nested { property, result }));
            }
        }
        let fixed_id = matches!(self.template.id, TemplateId::Fixed(_));
        let (_, result) = self.results.get_mut(index)?;
        for (key, item) in additions {
            result.add(&key, item);
        }
        (sid.is_some() || fixed_id || !result.properties.is_empty()).then_some(index)
    }

    /// Result `index` as JSON.
    fn render(&self, index: usize) -> Value {
        let Some((_, result)) = self.results.get(index) else { return Value::Null };
        let mut o = Object::new();
        o.insert("@id", Value::from(result.id.as_str()));
        for (key, items) in &result.properties {
            let mut values: Vec<Value> = items
                .iter()
                .map(|item| match item {
                    Item::Json(v) => v.clone(),
                    Item::Nested { property, result } => match self.nested.get(*property) {
                        Some(Some(nested)) => nested.render(*result),
                        _ => Value::Null,
                    },
                })
                .collect();
            let value = if values.len() == 1 { values.pop().unwrap_or_default() } else { Value::Array(values) };
            o.insert(key.clone(), value);
        }
        Value::Map(o)
    }
}

/// A bound id compacted as JS compacts a subject id.
fn compact_id(ctx: &Context, term: &Term) -> String {
    match term {
        Term::Iri(iri) => ctx.compact_id(iri),
        Term::Blank(label) => format!("_:{label}"),
        Term::Literal(l) => l.lexical.clone(),
    }
}

/// A matched predicate as a property key (JS `jrqlProperty`).
fn property_key(ctx: &Context, term: &Term) -> String {
    match term {
        Term::Iri(iri) if iri == RDF_TYPE => "@type".to_owned(),
        Term::Iri(iri) => ctx.compact_vocab(iri),
        other => compact_id(ctx, other),
    }
}
