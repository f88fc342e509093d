//! Running a [`Read`] against a [`Dataset`], with results in the JSON the JS
//! engine's `read` gives: described subjects as [`jsonld::describe`]
//! renders them, select rows as `{"?var": value}` objects whose values are
//! rendered as subject property values, and constructed subjects.
//!
//! [`jsonld::describe`]: crate::meld::jsonld::describe

use std::collections::{BTreeMap, HashSet};

use crate::meld::dataset::Dataset;
use crate::meld::jsonld::{Context, JRQL_ITEM, describe};
use crate::meld::term::{Term, Triple};
use crate::meld::value::{Object, Value};

use super::ast::{DescribeTarget, Group, Modifiers, Node, Read, Var, is_hidden};
use super::construct::construct;
use super::error::JrqlError;
use super::filter::order;
use super::solve::{Binding, solve};

/// Runs a read query; results in order (query order for described ids,
/// then solution order, which is the dataset's index order unless
/// `@orderBy` says otherwise).
pub fn read(ds: &Dataset, ctx: &Context, query: &Read) -> Result<Vec<Value>, JrqlError> {
    match query {
        Read::Describe { targets, where_, modifiers } => describe_all(ds, ctx, targets, where_, modifiers),
        Read::Select { vars, where_, modifiers } => {
            let mut solutions = solve(ds, where_)?;
            sort(&mut solutions, modifiers);
            Ok(page(solutions.iter(), modifiers).map(|s| select_row(ctx, vars.as_deref(), s)).collect())
        }
        Read::Construct { templates, where_, modifiers } => {
            let solutions = solve(ds, where_)?;
            let results = construct(ctx, templates, &solutions);
            Ok(page(results.into_iter(), modifiers).collect())
        }
    }
}

/// `@offset` and `@limit` over any results.
fn page<T>(items: impl Iterator<Item = T>, modifiers: &Modifiers) -> impl Iterator<Item = T> {
    items.skip(modifiers.offset).take(modifiers.limit.unwrap_or(usize::MAX))
}

/// Stable sort by the `@orderBy` keys.
fn sort(solutions: &mut [Binding], modifiers: &Modifiers) {
    if modifiers.order_by.is_empty() {
        return;
    }
    solutions.sort_by(|a, b| {
        modifiers
            .order_by
            .iter()
            .map(|key| {
                let o = order(a.get(&key.var), b.get(&key.var));
                if key.descending { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

fn describe_all(
    ds: &Dataset,
    ctx: &Context,
    targets: &[DescribeTarget],
    where_: &Group,
    modifiers: &Modifiers,
) -> Result<Vec<Value>, JrqlError> {
    let mut subjects: Vec<Term> = Vec::new();
    // One `@where` serves every variable target, so it is solved once.
    let mut solutions: Option<Vec<Binding>> = None;
    for target in targets {
        match target {
            DescribeTarget::Id(id) => subjects.push(id.clone()),
            DescribeTarget::Var(var) if modifiers.order_by.is_empty() && is_any_subject(where_, var) => {
                subjects.extend(all_subjects(ds)?);
            }
            DescribeTarget::Var(var) => {
                if solutions.is_none() {
                    let mut solved = solve(ds, where_)?;
                    sort(&mut solved, modifiers);
                    solutions = Some(solved);
                }
                let mut seen = HashSet::new();
                for term in solutions.iter().flatten().filter_map(|s| s.get(var)) {
                    if seen.insert(term) {
                        subjects.push(term.clone());
                    }
                }
            }
        }
    }
    // Paging counts described subjects, so ids with no triples are skipped
    // before it applies.
    let mut described = Vec::new();
    for subject in &subjects {
        if let Some(json) = describe_one(ds, ctx, subject)? {
            described.push(json);
        }
        if modifiers.limit.is_some_and(|limit| described.len() >= limit.saturating_add(modifiers.offset)) {
            break;
        }
    }
    Ok(page(described.into_iter(), modifiers).collect())
}

/// One subject as the JS engine's `describe` renders it, `None` if it has
/// no triples (or cannot be a subject).
///
/// As JS (`JrqlGraph.describe1`): a property whose object is an IRI with
/// `@item`s is a list position, and the subject gets an `@list` (last) of
/// those items, in the order of the position properties' IRIs — posIds
/// sort as LSEQ orders them. A slot with several items shows them as an
/// array in its place. A subject with only list items has no `@id`, as
/// JS spreads an empty subject then.
pub(crate) fn describe_one(ds: &Dataset, ctx: &Context, subject: &Term) -> Result<Option<Value>, JrqlError> {
    if matches!(subject, Term::Literal(_)) {
        return Ok(None);
    }
    let mut properties: Vec<Triple> = Vec::new();
    // Position property IRI → items (re-hung on the subject)
    let mut items: BTreeMap<String, Vec<Triple>> = BTreeMap::new();
    for stored in ds.describe(subject) {
        let triple = stored?.triple;
        if let Term::Iri(_) = &triple.object {
            let mut slot_items = ds.matching(Some(&triple.object), Some(JRQL_ITEM), None).peekable();
            if slot_items.peek().is_some() {
                let list = items.entry(triple.predicate.clone()).or_default();
                for item in slot_items {
                    list.push(Triple::new(subject.clone(), triple.predicate.clone(), item?.triple.object));
                }
                continue;
            }
        }
        properties.push(triple);
    }
    if properties.is_empty() && items.is_empty() {
        return Ok(None);
    }
    let mut json = match describe(ctx, subject, &properties) {
        Value::Map(o) if !properties.is_empty() => o,
        _ => Object::new(),
    };
    if !items.is_empty() {
        let rendered = describe(ctx, subject, items.values().flatten());
        let mut keys: Vec<String> = Vec::new();
        for predicate in items.keys() {
            let key = ctx.compact_vocab(predicate);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let values = keys.iter().filter_map(|k| rendered.as_object().and_then(|o| o.get(k)).cloned()).collect();
        json.insert("@list", Value::Array(values));
    }
    Ok(Some(Value::Map(json)))
}

/// Whether `where_` is just `{"@id": var}`: a pattern of three distinct
/// variables with the subject `var` and nothing else, i.e. every subject.
fn is_any_subject(where_: &Group, var: &Var) -> bool {
    let [p] = where_.patterns.as_slice() else { return false };
    let vars = p.nodes().map(Node::var);
    let [Some(s), Some(pr), Some(o)] = vars else { return false };
    where_.unions.is_empty()
        && where_.filters.is_empty()
        && where_.values.is_empty()
        && s == var
        && s != pr
        && s != o
        && pr != o
}

/// Every subject of the dataset, in index order, streaming the triples
/// rather than collecting solutions (describe-all is the common query).
fn all_subjects(ds: &Dataset) -> Result<Vec<Term>, JrqlError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for stored in ds.triples() {
        let subject = stored?.triple.subject;
        // Triples are in subject order, so comparing with the last is the
        // cheap check; the set guards against any interleaving.
        if out.last() != Some(&subject) && seen.insert(subject.clone()) {
            out.push(subject);
        }
    }
    Ok(out)
}

/// A select row: each selected, bound variable with its rendered value.
fn select_row(ctx: &Context, vars: Option<&[Var]>, solution: &Binding) -> Value {
    let mut row = Object::new();
    match vars {
        Some(vars) => {
            for var in vars {
                if let Some(term) = solution.get(var) {
                    row.insert(format!("?{var}"), render(ctx, term));
                }
            }
        }
        None => {
            for (var, term) in solution.iter().filter(|(v, _)| !is_hidden(v)) {
                row.insert(format!("?{var}"), render(ctx, term));
            }
        }
    }
    Value::Map(row)
}

/// A term rendered as a subject property value: references as
/// `{"@id": …}` compacted against the context, literals as JSON values.
/// Goes through [`describe`] so it can never differ from described subjects.
pub(crate) fn render(ctx: &Context, term: &Term) -> Value {
    let holder = Term::Blank("v".to_owned());
    let triple = Triple::new(holder.clone(), RENDER_KEY, term.clone());
    match describe(ctx, &holder, [&triple]) {
        Value::Map(o) => o.iter().find(|(k, _)| *k != "@id").map(|(_, v)| v.clone()).unwrap_or_default(),
        _ => Value::Null,
    }
}

/// The property `render` describes a term under; absolute, so it cannot be
/// mistaken for `@type` or a list key.
const RENDER_KEY: &str = "http://json-rql.org/#value";
