//! TreeClock against every clock vector from the JS engine, plus the
//! algebraic laws the engine relies on.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::meld::value::{Object, Value};
use crate::meld::vectors::{field, rows};

fn clock(v: &Value) -> TreeClock {
    TreeClock::from_json(v).unwrap_or_else(|e| panic!("{v:?}: {e}"))
}

fn opt_u64(v: Option<u64>) -> Value {
    v.map_or(Value::Null, Value::from)
}

#[test]
fn every_clock_vector() {
    let rows = rows("clocks.jsonl");
    assert_eq!(rows.len(), 88);
    for row in &rows {
        let json = field(row, "json");
        let c = clock(json);
        let what = format!("{}: {c}", field(row, "note").as_str().unwrap_or("?"));
        assert_eq!(&c.to_json(), json, "{what}");
        assert_eq!(c.to_string(), serde_json_text(json), "{what}");
        assert_eq!(&opt_u64(c.ticks()), field(row, "ticks"), "{what}");
        assert_eq!(&Value::Bool(c.is_id()), field(row, "isId"), "{what}");
        assert_eq!(&Value::Bool(c.has_id()), field(row, "hasId"), "{what}");
        assert_eq!(&opt_u64(c.non_id_ticks()), field(row, "nonIdTicks"), "{what}");
        assert_eq!(&Value::Bool(c.is_zero_id()), field(row, "isZeroId"), "{what}");
        assert_eq!(&c.hash_form(), field(row, "forHash"), "{what}");
        let bytes = c.hash_form_bytes();
        assert_eq!(Some(hex::encode(&bytes).as_str()), field(row, "forHashMsgpackHex").as_str(), "{what}");
        // The direct writer agrees with the general encoder.
        assert_eq!(msgpack::encode(&c.hash_form()).ok(), Some(bytes.clone()), "{what}");
        let method = if bytes.len() > 20 { "sha1(msgpack)" } else { "msgpack" };
        assert_eq!(Some(method), field(row, "hashMethod").as_str(), "{what}");
        assert_eq!(Some(c.hash().as_str()), field(row, "hash").as_str(), "{what}");
    }
}

/// The compact JSON text of a vector value (numbers here are all integers).
fn serde_json_text(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(serde_json_text).collect();
            format!("[{}]", inner.join(","))
        }
        Value::Number(_) => v.as_u64().map(|n| n.to_string()).unwrap_or_default(),
        other => format!("{other:?}"),
    }
}

fn object(pairs: [(&str, Value); 2]) -> Value {
    Value::Map(Object::from_entries(pairs.map(|(k, v)| (k.to_owned(), v))))
}

fn outcome(result: Result<Value, Error>) -> Value {
    result.unwrap_or_else(|e| {
        let mut o = Object::new();
        o.insert("error", Value::from(e.to_string()));
        Value::Map(o)
    })
}

#[test]
fn every_clock_op_vector() {
    let rows = rows("clock-ops.jsonl");
    assert_eq!(rows.len(), 674);
    let mut errors = 0;
    for row in &rows {
        let op = field(row, "op").as_str().expect("op");
        let args = field(row, "args").as_array().expect("args");
        let a = clock(&args[0]);
        let b = || clock(&args[1]);
        let got = if op.starts_with("snapshot newClock fork") {
            let last_public = args[1].as_u64().expect("lastPublic");
            outcome(
                a.snapshot_fork(last_public)
                    .map(|(ours, theirs)| object([("theirClock", theirs.to_json()), ("ourNewClock", ours.to_json())])),
            )
        } else if op == "ticked()" {
            a.ticked().to_json()
        } else if op.starts_with("ticked(clock)") {
            outcome(a.ticked_by(&b()).map(|c| c.to_json()))
        } else if let Some(n) = op.strip_prefix("ticked(").and_then(|s| s.strip_suffix(')')) {
            a.ticked_to(n.parse().expect("ticks")).to_json()
        } else if op == "forked()" {
            outcome(a.forked().map(|(l, r)| object([("left", l.to_json()), ("right", r.to_json())])))
        } else if op.starts_with("update") {
            outcome(a.update(&b()).map(|c| c.to_json()))
        } else if op == "anyLt" {
            Value::Bool(a.any_lt(&b()))
        } else if op == "anyNonIdLt" {
            Value::Bool(a.any_non_id_lt(&b()))
        } else if op.starts_with("getTicks") {
            outcome(a.get_ticks(&b()).map(Value::from))
        } else {
            panic!("unknown op {op}")
        };
        let expected = field(row, "result");
        if expected.as_object().is_some_and(|o| o.get("error").is_some()) {
            errors += 1;
        }
        assert_eq!(&got, expected, "{op} {args:?}");
    }
    assert_eq!(errors, 28);
}

#[test]
fn documented_examples() {
    let parse = |s: &str| clock(&serde_json::from_str::<Value>(s).expect("json"));
    let c = parse("[3, [14, 0, [1]], 9]");
    assert_eq!(c.ticks(), Some(18));
    assert_eq!(parse("[3,[14,[],0],9]").hash(), "kwORDgk=");
    assert_eq!(parse("[3,[14,0,[]],9]").hash(), "kwORDgk=");
    assert_eq!(parse("[1000,[2000,[70000],300],[4000,5,[6,7,[8]]]]").hash(), "UkOIJLB2MYmYJkeyMbF7i4CBVJ0=");
    // Structural equality tells a fresh fork from its parent; the hash not.
    assert_ne!(parse("[3,[],0]"), parse("[3]"));
    assert_eq!(parse("[3,[],0]").hash(), parse("[3]").hash());
    // Ticking into a fork of ours with more ticks than it holds is ambiguous.
    assert_eq!(parse("[1,[],0]").ticked_by(&parse("[5]")), Err(Error::AmbiguousTicks));
    assert_eq!(parse("3").forked(), Err(Error::NoId));
    assert_eq!(parse("[2,1]").get_ticks(&parse("[2,1]")), Err(Error::NoId));
}

#[test]
fn bad_json_is_refused() {
    for bad in ["[[1]]", "[1,2,3,4]", "-1", "1.5", "\"x\"", "[null,[],0]", "{}", "9007199254740992"] {
        let v: Value = serde_json::from_str(bad).expect("json");
        assert!(TreeClock::from_json(&v).is_err(), "{bad}");
    }
    let mut deep = Value::Array(vec![]);
    for _ in 0..=MAX_CLOCK_DEPTH {
        deep = Value::Array(vec![deep, Value::from(0u32)]);
    }
    assert_eq!(TreeClock::from_json(&deep), Err(Error::BadClockJson("too deep")));
}

/// Every valid clock (exactly one ID leaf) in the vectors, for the law
/// checks below. The vectors also hold a synthetic two-ID clock.
fn vector_clocks() -> Vec<TreeClock> {
    fn id_leaves(c: &TreeClock) -> usize {
        match c.branches() {
            Some((l, r)) => id_leaves(l) + id_leaves(r),
            None => usize::from(c.is_id()),
        }
    }
    rows("clocks.jsonl").iter().map(|r| clock(field(r, "json"))).filter(|c| id_leaves(c) == 1).collect()
}

#[test]
fn laws_of_ticking_forking_and_joining() {
    let clocks = vector_clocks();
    assert_eq!(clocks.len(), 86);
    for c in &clocks {
        let t = c.ticks().expect("vector clocks have IDs");
        // JSON and ticks round trip; ticking advances only our process.
        assert_eq!(&clock(&c.to_json()), c);
        assert_eq!(c.ticked().ticks(), Some(t + 1));
        assert_eq!(c.ticked().non_id_ticks(), c.non_id_ticks(), "{c} -> {}", c.ticked());
        assert_eq!(c.ticked_to(t + 5).ticks(), Some(t + 5));
        assert!(c.any_lt(&c.ticked()));
        assert!(!c.ticked().any_lt(c));
        // Both halves of a fork keep our ticks and our hash until ticked.
        let (l, r) = c.forked().expect("fork");
        for half in [&l, &r] {
            assert_eq!(half.ticks(), Some(t));
            assert_eq!(half.hash(), c.hash());
            assert!(half.is_zero_id());
            assert_ne!(half.ticked().hash(), c.hash());
        }
        // Joining is idempotent and learns the other half's ticks.
        assert_eq!(c.update(c).as_ref(), Ok(c));
        let r2 = r.ticked().ticked();
        let joined = l.update(&r2).expect("join");
        assert_eq!(joined.ticks(), Some(t));
        assert_eq!(joined.get_ticks(&r2), Ok(t + 2));
        assert!(l.any_non_id_lt(&joined));
        assert!(!joined.any_lt(&r2));
    }
}

#[test]
fn deepest_accepted_clock_survives_every_operation() {
    // Each snapshot fork issued by one process deepens its own ID path by
    // one level, so long-lived collaborators hold deep clocks.
    let mut c = TreeClock::genesis();
    for _ in 0..MAX_CLOCK_DEPTH - 1 {
        let (ours, _) = c.ticked().forked().expect("fork");
        c = ours;
    }
    let bytes = msgpack::encode(&c.to_json()).expect("encode");
    let back = clock(&msgpack::decode(&bytes).expect("decode"));
    assert_eq!(back, c);
    let t = (MAX_CLOCK_DEPTH - 1) as u64;
    assert_eq!(c.ticks(), Some(t));
    assert_eq!(c.ticked().ticks(), Some(t + 1));
    assert_eq!(c.update(&c.ticked()).map(|u| u.ticks()), Ok(Some(t + 1)));
    assert_eq!(c.get_ticks(&c), Ok(t));
    assert!(c.any_lt(&c.ticked()));
    assert!(!c.any_non_id_lt(&c));
    assert_eq!(c.ticked_by(&c.ticked()).map(|u| u.ticks()), Ok(Some(t + 1)));
    assert_eq!(c.hash().len(), 28);
    assert!(c.to_string().starts_with("[1,[1,"));
}
