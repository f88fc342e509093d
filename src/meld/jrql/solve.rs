//! Solutions of a group pattern over a [`Dataset`]: basic graph patterns
//! by index-nested-loop join (each pattern looked up with the values bound
//! so far, the most constrained pattern first), unions, `@values` and
//! filters. Solutions are collected, bounded by [`MAX_SOLUTIONS`], since
//! filters, ordering and distinct need them all.

use std::collections::BTreeMap;

use crate::meld::dataset::Dataset;
use crate::meld::term::Term;

use super::ast::{Group, Node, Pattern, ValuesRow, Var};
use super::error::JrqlError;
use super::filter::holds;

/// Most solutions one evaluation may hold at any stage; a query that would
/// exceed it is refused rather than exhausting memory.
pub const MAX_SOLUTIONS: usize = 1_000_000;

/// Variable values of one solution.
pub type Binding = BTreeMap<Var, Term>;

/// The solutions of a group, in a deterministic order (index order of the
/// lookups, patterns before unions).
pub fn solve(ds: &Dataset, group: &Group) -> Result<Vec<Binding>, JrqlError> {
    // `@values` rows seed the join, so their variables are looked up bound.
    let seeds = if group.values.is_empty() { vec![Binding::new()] } else { seeds(&group.values) };
    let mut solutions = bgp(ds, &group.patterns, seeds)?;
    if !group.unions.is_empty() {
        let mut unioned = Vec::new();
        for branch in &group.unions {
            unioned.extend(solve(ds, branch)?);
            check_size(unioned.len())?;
        }
        solutions = join(&solutions, &unioned)?;
    }
    solutions.retain(|b| group.filters.iter().all(|f| holds(f, b)));
    Ok(solutions)
}

fn seeds(rows: &[ValuesRow]) -> Vec<Binding> {
    rows.iter().map(|row| row.iter().cloned().collect()).collect()
}

fn check_size(n: usize) -> Result<(), JrqlError> {
    if n > MAX_SOLUTIONS { Err(JrqlError::TooManySolutions(MAX_SOLUTIONS)) } else { Ok(()) }
}

/// Joins two solution sequences on their shared variables.
fn join(left: &[Binding], right: &[Binding]) -> Result<Vec<Binding>, JrqlError> {
    let mut out = Vec::new();
    for l in left {
        for r in right {
            if r.iter().all(|(k, v)| l.get(k).is_none_or(|lv| lv == v)) {
                let mut merged = l.clone();
                merged.extend(r.iter().map(|(k, v)| (k.clone(), v.clone())));
                out.push(merged);
                check_size(out.len())?;
            }
        }
    }
    Ok(out)
}

/// Extends every seed with matches of all the patterns.
fn bgp(ds: &Dataset, patterns: &[Pattern], seeds: Vec<Binding>) -> Result<Vec<Binding>, JrqlError> {
    let mut solutions = seeds;
    // Variables bound in every solution so far: the seeds' common ones,
    // then every variable of each pattern joined.
    let mut bound: Vec<Var> = match solutions.first() {
        Some(first) => first.keys().filter(|k| solutions.iter().all(|s| s.contains_key(*k))).cloned().collect(),
        None => Vec::new(),
    };
    let mut remaining: Vec<&Pattern> = patterns.iter().collect();
    while !remaining.is_empty() && !solutions.is_empty() {
        let best = (0..remaining.len()).max_by_key(|&i| remaining.get(i).map_or(0, |p| score(p, &bound)));
        let Some(pattern) = best.map(|i| remaining.remove(i)) else { break };
        let mut next = Vec::new();
        for solution in &solutions {
            extend(ds, pattern, solution, &mut next)?;
            check_size(next.len())?;
        }
        solutions = next;
        bound.extend(pattern.nodes().iter().filter_map(|n| n.var()).map(str::to_owned));
    }
    Ok(solutions)
}

/// How constrained a pattern is with `bound` variables known: a bound
/// subject is worth most (a subject's triples are few), then object, then
/// predicate (a predicate alone may match most of the dataset). Ties keep
/// query order, since `max_by_key` takes the last maximum and callers
/// rarely care.
fn score(p: &Pattern, bound: &[Var]) -> u32 {
    let known = |n: &Node| match n {
        Node::Term(_) => true,
        Node::Var(v) => bound.contains(v),
    };
    u32::from(known(&p.subject)) * 4 + u32::from(known(&p.object)) * 2 + u32::from(known(&p.predicate))
}

/// The value of a pattern position under a solution.
fn resolve<'a>(node: &'a Node, solution: &'a Binding) -> Option<&'a Term> {
    match node {
        Node::Term(t) => Some(t),
        Node::Var(v) => solution.get(v),
    }
}

/// Pushes `solution` extended by each triple matching `pattern`.
fn extend(ds: &Dataset, pattern: &Pattern, solution: &Binding, out: &mut Vec<Binding>) -> Result<(), JrqlError> {
    let s = resolve(&pattern.subject, solution);
    let p = resolve(&pattern.predicate, solution);
    let o = resolve(&pattern.object, solution);
    // Literal subjects and non-IRI predicates match nothing.
    if matches!(s, Some(Term::Literal(_))) {
        return Ok(());
    }
    let p_iri = match p {
        None => None,
        Some(Term::Iri(iri)) => Some(iri.as_str()),
        Some(_) => return Ok(()),
    };
    for stored in ds.matching(s, p_iri, o) {
        let triple = stored?.triple;
        let mut next = solution.clone();
        let predicate = Term::Iri(triple.predicate);
        let matched = bind(&mut next, &pattern.subject, triple.subject)
            && bind(&mut next, &pattern.predicate, predicate)
            && bind(&mut next, &pattern.object, triple.object);
        if matched {
            out.push(next);
        }
    }
    Ok(())
}

/// Binds a variable position (or checks a constant one) to a matched term;
/// false if it conflicts, e.g. `?x` twice in one pattern with two values.
fn bind(solution: &mut Binding, node: &Node, term: Term) -> bool {
    match node {
        Node::Term(t) => *t == term,
        Node::Var(v) => match solution.get(v) {
            Some(existing) => *existing == term,
            None => {
                solution.insert(v.clone(), term);
                true
            }
        },
    }
}
