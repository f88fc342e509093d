//! The key layout: which sled trees a dataset has and what their keys and
//! values are. This is the one place that says so; `encoding` says how a
//! term becomes bytes and `journal` how journal records do.
//!
//! Trees are named from a caller-given `<prefix>` (e.g. the domain) and a
//! *generation* number `<g>` (decimal), which changes only when a snapshot
//! replaces the whole dataset (see the module docs of `dataset`):
//!
//! | tree                   | key                                | value                                        |
//! |------------------------|------------------------------------|----------------------------------------------|
//! | `<prefix>/root`        | `gen`                              | current generation, u64 big-endian           |
//! | `<prefix>/g<g>/spo`    | term(s) term(p) term(o)            | flags (bit 0: entailed), varint n, n × TID   |
//! | `<prefix>/g<g>/pos`    | term(p) term(o) term(s)            | empty                                        |
//! | `<prefix>/g<g>/osp`    | term(o) term(s) term(p)            | empty                                        |
//! | `<prefix>/g<g>/data`   | term(literal)                      | varint refs, msgpack(data)                   |
//! | `<prefix>/g<g>/entries`| local tick, u64 big-endian         | varint prev tick, prev TID, TID, attribution |
//! | `<prefix>/g<g>/ops`    | TID (UTF-8)                        | EncodedOperation bytes, opaque               |
//! | `<prefix>/g<g>/prevs`  | TID (UTF-8)                        | varint prev tick, prev TID                   |
//! | `<prefix>/g<g>/meta`   | `state`                            | msgpack `{start, time, gwc, agreed}`         |
//! |                        | `count`                            | number of present triples, u64 big-endian    |
//! |                        | `lists`                            | `01` once list indexes are entailed          |
//! |                        | `unsupported`                      | why the state is untrustworthy (UTF-8)       |
//! |                        | `digest`                           | integrity digest of the generation (32 bytes, see `digest`) |
//!
//! `term(..)` is the prefix-free term encoding, so every pattern with some of
//! s/p/o bound is a key prefix of one of the three triple trees. Ticks are
//! big-endian so sled's byte order is tick order. `data.refs` counts the
//! present triples whose object is that literal, so the data goes with the
//! last of them. Strings inside values are length-prefixed.

use crate::meld::term::{Term, Triple};

use super::encoding::{Reader, write_iri, write_term};
use super::error::DatasetError;

/// The trees of one generation, in the order `Trees` holds them.
pub(super) const TREE_NAMES: [&str; 8] = ["spo", "pos", "osp", "data", "entries", "ops", "prevs", "meta"];

/// Indices into `TREE_NAMES` (and into a transaction's view).
pub(super) const SPO: usize = 0;
pub(super) const POS: usize = 1;
pub(super) const OSP: usize = 2;
pub(super) const DATA: usize = 3;
pub(super) const ENTRIES: usize = 4;
pub(super) const OPS: usize = 5;
pub(super) const PREVS: usize = 6;
pub(super) const META: usize = 7;

/// Key of the current generation in the root tree.
pub(super) const GEN_KEY: &[u8] = b"gen";
/// Key of the journal state in `meta`.
pub(super) const STATE_KEY: &[u8] = b"state";
/// Key of the list-index marker in `meta` (see `Dataset::lists_indexed`).
pub(super) const LISTS_KEY: &[u8] = b"lists";
/// Key of the unsupported-feature marker in `meta`.
pub(super) const UNSUPPORTED_KEY: &[u8] = b"unsupported";
/// Key of the triple count in `meta`.
pub(super) const COUNT_KEY: &[u8] = b"count";
/// Key of the generation's integrity digest in `meta` (see `digest`).
pub(super) const DIGEST_KEY: &[u8] = b"digest";

/// Name of the root tree, which survives generations.
pub(super) fn root_tree_name(prefix: &str) -> String {
    format!("{prefix}/root")
}

/// Name of one tree of a generation.
pub(super) fn tree_name(prefix: &str, generation: u64, name: &str) -> String {
    format!("{prefix}/g{generation}/{name}")
}

/// The generation of a tree name belonging to this prefix, if it is one.
/// Parsed strictly, so another prefix that happens to extend this one
/// (e.g. `<prefix>/g1`) is never mistaken for ours.
pub(super) fn generation_of(prefix: &str, tree_name: &[u8]) -> Option<u64> {
    let name = std::str::from_utf8(tree_name).ok()?;
    let rest = name.strip_prefix(prefix)?.strip_prefix("/g")?;
    let (digits, tree) = rest.split_once('/')?;
    let canonical = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    (canonical && TREE_NAMES.contains(&tree)).then(|| digits.parse().ok())?
}

/// Which triple tree a key belongs to, i.e. the order of its terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    Spo,
    Pos,
    Osp,
}

impl Order {
    /// Index of this order's tree.
    pub(super) fn tree(self) -> usize {
        match self {
            Order::Spo => SPO,
            Order::Pos => POS,
            Order::Osp => OSP,
        }
    }
}

/// The key of a triple in one of the triple trees.
pub(super) fn triple_key(order: Order, triple: &Triple) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    match order {
        Order::Spo => {
            write_term(&mut out, &triple.subject);
            write_iri(&mut out, &triple.predicate);
            write_term(&mut out, &triple.object);
        }
        Order::Pos => {
            write_iri(&mut out, &triple.predicate);
            write_term(&mut out, &triple.object);
            write_term(&mut out, &triple.subject);
        }
        Order::Osp => {
            write_term(&mut out, &triple.object);
            write_term(&mut out, &triple.subject);
            write_iri(&mut out, &triple.predicate);
        }
    }
    out
}

/// Reads a triple back from its key in one of the triple trees.
pub(super) fn decode_triple_key(order: Order, key: &[u8]) -> Result<Triple, DatasetError> {
    let mut reader = Reader::new(key);
    let triple = match order {
        Order::Spo => {
            let subject = reader.term()?;
            let predicate = reader.iri()?;
            Triple::new(subject, predicate, reader.term()?)
        }
        Order::Pos => {
            let predicate = reader.iri()?;
            let object = reader.term()?;
            Triple::new(reader.term()?, predicate, object)
        }
        Order::Osp => {
            let object = reader.term()?;
            let subject = reader.term()?;
            Triple::new(subject, reader.iri()?, object)
        }
    };
    reader.finish()?;
    Ok(triple)
}

/// The tree and key prefix that find every triple matching a pattern: each
/// of the eight bound/unbound combinations is a prefix of exactly one order.
pub(super) fn pattern_prefix(
    subject: Option<&Term>,
    predicate: Option<&str>,
    object: Option<&Term>,
) -> (Order, Vec<u8>) {
    let mut out = Vec::new();
    let order = match (subject, predicate, object) {
        (Some(s), p, o @ None) | (Some(s), p @ Some(_), o) => {
            write_term(&mut out, s);
            if let Some(p) = p {
                write_iri(&mut out, p);
                if let Some(o) = o {
                    write_term(&mut out, o);
                }
            }
            Order::Spo
        }
        (s, None, Some(o)) => {
            write_term(&mut out, o);
            if let Some(s) = s {
                write_term(&mut out, s);
            }
            Order::Osp
        }
        (None, Some(p), o) => {
            write_iri(&mut out, p);
            if let Some(o) = o {
                write_term(&mut out, o);
            }
            Order::Pos
        }
        (None, None, None) => Order::Spo,
    };
    (order, out)
}

/// A journal tick as a key (big-endian, so byte order is tick order).
pub(super) fn tick_key(tick: u64) -> [u8; 8] {
    tick.to_be_bytes()
}

/// Reads a tick key.
pub(super) fn decode_tick_key(key: &[u8]) -> Result<u64, DatasetError> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| DatasetError::corrupt("journal tick key is not 8 bytes"))?;
    Ok(u64::from_be_bytes(bytes))
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::meld::term::{Literal, XS_STRING};

    fn triple() -> Triple {
        Triple::new(Term::iri("fred"), "name", Term::Literal(Literal::new("Fred", XS_STRING)))
    }

    #[test]
    fn triple_keys_round_trip_in_every_order() {
        for order in [Order::Spo, Order::Pos, Order::Osp] {
            let key = triple_key(order, &triple());
            assert_eq!(decode_triple_key(order, &key).unwrap(), triple());
        }
    }

    #[test]
    fn every_pattern_is_a_key_prefix() {
        let t = triple();
        for mask in 0..8u8 {
            let s = (mask & 1 != 0).then_some(&t.subject);
            let p = (mask & 2 != 0).then_some(t.predicate.as_str());
            let o = (mask & 4 != 0).then_some(&t.object);
            let (order, prefix) = pattern_prefix(s, p, o);
            assert!(triple_key(order, &t).starts_with(&prefix), "mask {mask}");
        }
    }

    #[test]
    fn generation_names_are_parsed_strictly() {
        assert_eq!(generation_of("d", tree_name("d", 7, "spo").as_bytes()), Some(7));
        assert_eq!(generation_of("d", b"d/g7/other"), None);
        assert_eq!(generation_of("d", b"d/g/spo"), None);
        assert_eq!(generation_of("d", b"d/g+7/spo"), None);
        assert_eq!(generation_of("d", b"d/root"), None);
        // Another dataset whose prefix extends ours.
        assert_eq!(generation_of("d", tree_name("d/g1", 0, "spo").as_bytes()), None);
        assert_eq!(generation_of("d", tree_name("dx", 0, "spo").as_bytes()), None);
    }

    #[test]
    fn tick_keys_sort_by_tick() {
        let mut keys: Vec<_> = [300u64, 2, 256, 1, u64::MAX].iter().map(|&t| tick_key(t)).collect();
        keys.sort();
        let ticks: Vec<_> = keys.iter().map(|k| decode_tick_key(k).unwrap()).collect();
        assert_eq!(ticks, [1, 2, 256, 300, u64::MAX]);
    }
}
