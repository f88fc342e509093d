//! A slot has one item (JS `SingleValued('@item')` in apply mode): when an
//! operation leaves a slot it inserted into with several `@item` values,
//! the greatest by JS `>` stays (JS `reduce` keeps the first of values none
//! is greater than) and the others are deleted.
//!
//! JS compares the values apps see: strings, numbers and booleans as such,
//! other datatypes by lexical form; references and binary data are objects
//! that JS compares as strings of their own. The order JS lists the values
//! in is not known here, so a winner is taken only when it is strictly
//! greater than every other value — then `reduce` finds it in any order.
//! Otherwise nothing is resolved and a warning says so: the JS clones
//! publish their resolutions, which this clone then applies.

use std::cmp::Ordering;

use crate::meld::dataset::{Dataset, DatasetError};
use crate::meld::jsonld::{JRQL_ITEM, XS_DOUBLE, XS_INTEGER, js_parse_float};
use crate::meld::term::{Term, TidPatch, Triple, XS_BOOLEAN, XS_STRING};

use super::entail::After;

/// The `@item` triples to delete so that each slot the patch gave an item
/// keeps one.
pub(super) fn resolution(ds: &Dataset, after: &After<'_>, patch: &TidPatch) -> Result<Vec<Triple>, DatasetError> {
    let mut slots: Vec<&Term> = Vec::new();
    for (triple, _) in &patch.inserts {
        if triple.predicate == JRQL_ITEM && after.inserted(triple) && !slots.contains(&&triple.subject) {
            slots.push(&triple.subject);
        }
    }
    let mut out = Vec::new();
    for slot in slots {
        let mut items: Vec<Triple> = Vec::new();
        for stored in ds.matching(Some(slot), Some(JRQL_ITEM), None) {
            let stored = stored?;
            if after.present(&stored.triple, Some((&stored.tids, stored.entailed))) {
                items.push(stored.triple);
            }
        }
        for (triple, _) in &patch.inserts {
            let candidate = &triple.subject == slot && triple.predicate == JRQL_ITEM && !items.contains(triple);
            if candidate && after.lookup(triple)?.is_some() {
                items.push(triple.clone());
            }
        }
        if items.len() < 2 {
            continue;
        }
        match winner(&items) {
            Some(keep) => out.extend(items.iter().enumerate().filter(|(i, _)| *i != keep).map(|(_, t)| t.clone())),
            None => tracing::warn!(
                slot = ?slot,
                values = items.len(),
                "list slot has several items that JS compares in an order-dependent way; \
                 not resolving (JS clones will)"
            ),
        }
    }
    Ok(out)
}

/// The index of the item strictly greater (JS `>`) than all the others.
fn winner(items: &[Triple]) -> Option<usize> {
    let values: Vec<Comparable> = items.iter().map(|t| Comparable::of(&t.object)).collect();
    (0..values.len())
        .find(|&i| values.iter().enumerate().all(|(j, other)| i == j || js_gt(&values[i], other) == Some(true)))
}

/// An item as JS's `comparable` sees it.
#[derive(Debug, Clone, PartialEq)]
enum Comparable {
    Str(String),
    Num(f64),
    /// References, binary and other indirected data: objects to JS.
    Object,
}

impl Comparable {
    fn of(term: &Term) -> Self {
        let Term::Literal(l) = term else { return Comparable::Object };
        match l.datatype.as_str() {
            XS_STRING => Comparable::Str(l.lexical.clone()),
            XS_BOOLEAN => Comparable::Num(if l.lexical == "true" { 1.0 } else { 0.0 }),
            XS_INTEGER | XS_DOUBLE => Comparable::Num(js_parse_float(&l.lexical)),
            // Value objects compare by `@value`, the lexical form, unless
            // the value is data (binary, JSON, shared datatypes)
            _ if l.data.is_none() => Comparable::Str(l.lexical.clone()),
            _ => Comparable::Object,
        }
    }

    /// JS `ToNumber`, where it is certain.
    fn number(&self) -> Option<f64> {
        match self {
            Comparable::Num(n) => Some(*n),
            Comparable::Str(s) => string_to_number(s),
            Comparable::Object => None,
        }
    }
}

/// JS `a > b`; `None` where this cannot be sure of JS's answer.
fn js_gt(a: &Comparable, b: &Comparable) -> Option<bool> {
    match (a, b) {
        (Comparable::Str(a), Comparable::Str(b)) => Some(a.encode_utf16().cmp(b.encode_utf16()) == Ordering::Greater),
        (Comparable::Object, _) | (_, Comparable::Object) => None,
        _ => Some(a.number()? > b.number()?),
    }
}

/// JS `Number(s)` for decimal strings (whitespace trimmed, empty is 0);
/// `None` for the forms this does not mirror (hex, binary, `Infinity`…),
/// NaN for the rest.
fn string_to_number(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return Some(0.0);
    }
    let decimal = t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !decimal {
        let plain = t.chars().all(|c| c.is_alphanumeric());
        // Letters that cannot spell a JS numeric literal give NaN
        let special = t.contains("Infinity") || t.starts_with("0x") || t.starts_with("0o") || t.starts_with("0b");
        return (!special && plain).then_some(f64::NAN);
    }
    Some(t.parse::<f64>().unwrap_or(f64::NAN))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::meld::term::Literal;

    fn lit(lexical: &str, datatype: &str) -> Triple {
        Triple::new(Term::iri("s"), JRQL_ITEM, Term::Literal(Literal::new(lexical, datatype)))
    }

    #[test]
    fn the_greatest_item_wins_when_js_order_cannot_matter() {
        let items = [lit("Bread", XS_STRING), lit("Milk", XS_STRING), lit("Eggs", XS_STRING)];
        assert_eq!(winner(&items), Some(1));
        let items = [lit("2", XS_INTEGER), lit("10", XS_INTEGER), lit("2.5E0", XS_DOUBLE)];
        assert_eq!(winner(&items), Some(1));
        // Strings compare by UTF-16 code units: U+FF5E sorts above U+1F600
        let items = [lit("\u{1F600}", XS_STRING), lit("\u{FF5E}", XS_STRING)];
        assert_eq!(winner(&items), Some(1));
        // "10" > 9 numerically
        let items = [lit("10", XS_STRING), lit("9", XS_INTEGER)];
        assert_eq!(winner(&items), Some(0));
    }

    #[test]
    fn no_winner_where_js_would_depend_on_order() {
        // Equal to JS (1 and "1"), incomparable ("a" vs 1 is NaN), objects
        assert_eq!(winner(&[lit("1", XS_INTEGER), lit("1", XS_STRING)]), None);
        assert_eq!(winner(&[lit("a", XS_STRING), lit("1", XS_INTEGER)]), None);
        let reference = Triple::new(Term::iri("s"), JRQL_ITEM, Term::iri("x"));
        assert_eq!(winner(&[reference, lit("a", XS_STRING)]), None);
        assert_eq!(string_to_number("0x10"), None);
        assert_eq!(string_to_number(" 12 "), Some(12.0));
        assert!(string_to_number("abc").unwrap().is_nan());
    }
}
