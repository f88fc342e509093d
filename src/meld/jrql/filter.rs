//! Evaluating filter expressions on a solution, and ordering terms for
//! `@orderBy`, after SPARQL 1.1 §17 for the operators supported: numbers
//! compare by value whatever their numeric datatype, strings by code point,
//! booleans false before true; other terms are only equal or not. An error
//! (unbound variable, incomparable operands) makes a filter false, and
//! `@and`/`@or` treat errors as SPARQL's three-valued logic does.

use std::cmp::Ordering;

use crate::meld::jsonld::{XS_DOUBLE, XS_INTEGER, XS_NS, js_parse_float};
use crate::meld::term::{Literal, Term, XS_BOOLEAN, XS_STRING};

use super::ast::{Expr, Op};
use super::solve::Binding;

/// Evaluation failed (SPARQL's type error); the filter does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TypeError;

type Eval<T> = Result<T, TypeError>;

/// Whether a filter holds for a solution.
pub fn holds(expr: &Expr, solution: &Binding) -> bool {
    boolean(expr, solution) == Ok(true)
}

/// An expression's effective boolean value.
fn boolean(expr: &Expr, solution: &Binding) -> Eval<bool> {
    match expr {
        Expr::Op(op, args) => operation(*op, args, solution),
        other => {
            let t = term(other, solution)?;
            effective_boolean(&t)
        }
    }
}

/// A term-valued expression's value.
fn term<'a>(expr: &'a Expr, solution: &'a Binding) -> Eval<std::borrow::Cow<'a, Term>> {
    use std::borrow::Cow;
    match expr {
        Expr::Var(v) => solution.get(v).map(Cow::Borrowed).ok_or(TypeError),
        Expr::Term(t) => Ok(Cow::Borrowed(t)),
        // A nested comparison as an operand of a comparison: its boolean.
        Expr::Op(op, args) => {
            let b = operation(*op, args, solution)?;
            Ok(Cow::Owned(Term::Literal(Literal::new(b.to_string(), XS_BOOLEAN))))
        }
    }
}

fn operation(op: Op, args: &[Expr], solution: &Binding) -> Eval<bool> {
    match op {
        Op::And => {
            let mut error = false;
            for arg in args {
                match boolean(arg, solution) {
                    Ok(false) => return Ok(false),
                    Ok(true) => {}
                    Err(_) => error = true,
                }
            }
            if error { Err(TypeError) } else { Ok(true) }
        }
        Op::Or => {
            let mut error = false;
            for arg in args {
                match boolean(arg, solution) {
                    Ok(true) => return Ok(true),
                    Ok(false) => {}
                    Err(_) => error = true,
                }
            }
            if error { Err(TypeError) } else { Ok(false) }
        }
        Op::Not => boolean(args.first().ok_or(TypeError)?, solution).map(|b| !b),
        Op::In => {
            let (first, rest) = args.split_first().ok_or(TypeError)?;
            let needle = term(first, solution)?;
            let mut error = false;
            for candidate in rest {
                match term(candidate, solution) {
                    Ok(c) if equal(&needle, &c) => return Ok(true),
                    Ok(_) => {}
                    Err(_) => error = true,
                }
            }
            if error { Err(TypeError) } else { Ok(false) }
        }
        Op::Eq | Op::Ne | Op::Lt | Op::Lte | Op::Gt | Op::Gte => {
            let [left, right] = args else { return Err(TypeError) };
            let (l, r) = (term(left, solution)?, term(right, solution)?);
            match op {
                Op::Eq => Ok(equal(&l, &r)),
                Op::Ne => Ok(!equal(&l, &r)),
                Op::Lt => compare(&l, &r).map(Ordering::is_lt),
                Op::Lte => compare(&l, &r).map(Ordering::is_le),
                Op::Gt => compare(&l, &r).map(Ordering::is_gt),
                _ => compare(&l, &r).map(Ordering::is_ge),
            }
        }
    }
}

/// A literal's value, for the datatypes with an order.
#[derive(Debug, PartialEq, PartialOrd)]
enum Comparable<'a> {
    Number(f64),
    Str(&'a str),
    Bool(bool),
}

/// XML Schema numeric datatypes (by local name) compared by value.
const NUMERIC: &[&str] = &[
    "integer",
    "double",
    "decimal",
    "float",
    "long",
    "int",
    "short",
    "byte",
    "nonNegativeInteger",
    "nonPositiveInteger",
    "negativeInteger",
    "positiveInteger",
    "unsignedLong",
    "unsignedInt",
    "unsignedShort",
    "unsignedByte",
];

fn comparable(l: &Literal) -> Option<Comparable<'_>> {
    match l.datatype.as_str() {
        XS_STRING => Some(Comparable::Str(&l.lexical)),
        XS_BOOLEAN => Some(Comparable::Bool(l.lexical == "true" || l.lexical == "1")),
        XS_INTEGER | XS_DOUBLE => Some(Comparable::Number(js_parse_float(&l.lexical))),
        dt => dt
            .strip_prefix(XS_NS)
            .filter(|local| NUMERIC.contains(local))
            .map(|_| Comparable::Number(js_parse_float(&l.lexical))),
    }
}

/// SPARQL `=`: numbers by value, otherwise the same term. Values of
/// different kinds (a string and a number) are simply unequal.
fn equal(a: &Term, b: &Term) -> bool {
    if let (Term::Literal(x), Term::Literal(y)) = (a, b)
        && let (Some(cx), Some(cy)) = (comparable(x), comparable(y))
    {
        return cx == cy;
    }
    a == b
}

/// SPARQL `<` and friends: only between values of one ordered kind.
fn compare(a: &Term, b: &Term) -> Eval<Ordering> {
    let (Term::Literal(x), Term::Literal(y)) = (a, b) else { return Err(TypeError) };
    match (comparable(x), comparable(y)) {
        (Some(Comparable::Number(m)), Some(Comparable::Number(n))) => m.partial_cmp(&n).ok_or(TypeError),
        (Some(Comparable::Str(m)), Some(Comparable::Str(n))) => Ok(m.cmp(n)),
        (Some(Comparable::Bool(m)), Some(Comparable::Bool(n))) => Ok(m.cmp(&n)),
        // Same datatype without a known order (dates, say): ISO lexical forms
        // sort as their values when written alike, which is the common case.
        _ if x.datatype == y.datatype => Ok(x.lexical.cmp(&y.lexical)),
        _ => Err(TypeError),
    }
}

/// SPARQL effective boolean value of a term.
fn effective_boolean(t: &Term) -> Eval<bool> {
    let Term::Literal(l) = t else { return Err(TypeError) };
    match comparable(l) {
        Some(Comparable::Bool(b)) => Ok(b),
        Some(Comparable::Number(n)) => Ok(n != 0.0 && !n.is_nan()),
        Some(Comparable::Str(s)) => Ok(!s.is_empty()),
        None => Err(TypeError),
    }
}

/// SPARQL `ORDER BY` order: unbound, then blank nodes, IRIs, literals;
/// literals by value where comparable, else by datatype and lexical form.
pub fn order(a: Option<&Term>, b: Option<&Term>) -> Ordering {
    let rank = |t: Option<&Term>| match t {
        None => 0,
        Some(Term::Blank(_)) => 1,
        Some(Term::Iri(_)) => 2,
        Some(Term::Literal(_)) => 3,
    };
    match (a, b) {
        (Some(Term::Literal(x)), Some(Term::Literal(y))) => match (comparable(x), comparable(y)) {
            (Some(Comparable::Number(m)), Some(Comparable::Number(n))) => m.total_cmp(&n),
            (Some(Comparable::Str(m)), Some(Comparable::Str(n))) => m.cmp(n),
            (Some(Comparable::Bool(m)), Some(Comparable::Bool(n))) => m.cmp(&n),
            _ => x.cmp(y),
        },
        (Some(Term::Iri(x)), Some(Term::Iri(y))) | (Some(Term::Blank(x)), Some(Term::Blank(y))) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}
