//! msgpack against the JS engine's bytes, round trips of generated values, and
//! the decoder's refusal (never a panic) of broken input.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::meld::value::Object;
use crate::meld::vectors::{field, rows};

/// Equality that treats NaN as equal to itself, for round-trip checks.
pub(super) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.to_bits() == y.to_bits() || x == y,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| a.0 == b.0 && same(a.1, b.1))
        }
        _ => a == b,
    }
}

#[test]
fn every_msgpack_vector_encodes_and_decodes() {
    let rows = rows("msgpack.jsonl");
    assert_eq!(rows.len(), 52);
    for row in &rows {
        let note = field(row, "note").as_str().unwrap_or("?");
        let value = field(row, "value");
        let hex_bytes = hex::decode(field(row, "hex").as_str().expect("hex")).expect("hex");
        let encoded = encode(value).expect("encodable");
        assert_eq!(hex::encode(&encoded), hex::encode(&hex_bytes), "encode: {note}");
        let decoded = decode(&hex_bytes).expect("decodable");
        assert!(same(&decoded, value), "decode: {note}: {decoded:?}");
    }
}

#[test]
fn integral_numbers_pick_the_smallest_int_form() {
    let cases: [(f64, &str); 10] = [
        (3.0, "03"),
        (-0.0, "00"),
        (70000.0, "ce00011170"),
        (-9_223_372_036_854_775_808.0, "d38000000000000000"),
        // Below -2^63 and at or above 2^64 JS falls back to float64.
        (-1e19, "cbc3e158e460913d00"),
        (18_446_744_073_709_551_616.0, "cb43f0000000000000"),
        (f64::INFINITY, "cb7ff0000000000000"),
        (f64::NEG_INFINITY, "cbfff0000000000000"),
        (1.5, "cb3ff8000000000000"),
        (-33.0, "d0df"),
    ];
    for (n, hex_str) in cases {
        assert_eq!(hex::encode(encode(&Value::Number(n)).expect("number")), hex_str, "{n}");
    }
}

#[test]
fn decoder_reads_the_forms_js_never_writes() {
    let cases: [(&str, Value); 8] = [
        ("ca3fc00000", Value::Number(1.5)),
        ("d40102", Value::Array(vec![Value::from(1u32), Value::from(2u32)])),
        ("d5070102", Value::Array(vec![Value::from(7u32), Value::Bin(vec![1, 2])])),
        ("c7010509", Value::Array(vec![Value::from(5u32), Value::Bin(vec![9])])),
        // 64-bit ints are assembled in float arithmetic, as JS does.
        ("cfffffffffffffffff", Value::Number(18_446_744_073_709_551_615.0)),
        ("d3ffffffffffffffff", Value::Number(-1.0)),
        // Invalid UTF-8 is replaced, as Buffer#toString does.
        ("a2ff61", Value::from("\u{fffd}a")),
        // Numeric and duplicate keys: String(key), first position, last value.
        (
            "83a162010102a16203",
            Value::Map(Object::from_entries([
                ("1".to_owned(), Value::from(2u32)),
                ("b".to_owned(), Value::from(3u32)),
            ])),
        ),
    ];
    for (hex_str, expected) in cases {
        let bytes = hex::decode(hex_str).expect("hex");
        assert_eq!(decode(&bytes), Ok(expected), "{hex_str}");
    }
}

#[test]
fn decoder_refuses_broken_input() {
    let cases: [(&str, Error); 8] = [
        ("", Error::Incomplete { offset: 0, needed: 1 }),
        ("c1", Error::UnknownType { byte: 0xc1, offset: 0 }),
        ("0000", Error::TrailingBytes(1)),
        ("cd01", Error::Incomplete { offset: 1, needed: 1 }),
        ("a3616263ff", Error::TrailingBytes(1)),
        // A claimed length far beyond the input fails before allocating.
        ("ddffffffff00", Error::Incomplete { offset: 0, needed: 0xffff_fffe }),
        ("dfffffffff", Error::Incomplete { offset: 0, needed: 0x1_ffff_fffe }),
        ("81c400c0", Error::UnsupportedMapKey(1)),
    ];
    for (hex_str, expected) in cases {
        let bytes = hex::decode(hex_str).expect("hex");
        assert_eq!(decode(&bytes), Err(expected), "{hex_str}");
    }
}

#[test]
fn nesting_is_limited() {
    // MAX_DEPTH arrays in all: 999 one-item arrays around an empty one.
    let ok = [vec![0x91; MAX_DEPTH - 1], vec![0x90]].concat();
    assert!(decode(&ok).is_ok());
    let too_deep = [vec![0x91; MAX_DEPTH], vec![0x90]].concat();
    assert_eq!(decode(&too_deep), Err(Error::TooDeep(MAX_DEPTH)));
}

#[test]
fn every_truncation_of_every_vector_is_an_error() {
    for row in rows("msgpack.jsonl") {
        let bytes = hex::decode(field(&row, "hex").as_str().expect("hex")).expect("hex");
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "{row:?} cut at {cut}");
        }
    }
}

/// A small deterministic generator, so the tests need no extra crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn gen_number(rng: &mut Rng) -> f64 {
    match rng.below(6) {
        0 => rng.below(300) as f64 - 150.0,
        1 => (rng.next() >> rng.below(64)) as f64,
        2 => -((rng.next() >> rng.below(64)) as f64),
        3 => f64::from_bits(rng.next()),
        4 => rng.below(1 << 40) as f64 / 1024.0,
        _ => [0.0, -0.0, f64::INFINITY, 1e300, 2f64.powi(64), -(2f64.powi(63))][rng.below(6) as usize],
    }
}

fn gen_string(rng: &mut Rng) -> String {
    let len = match rng.below(4) {
        0 => rng.below(40),
        1 => 250 + rng.below(10),
        _ => rng.below(5),
    };
    (0..len).map(|_| ['a', '0', 'é', '€', '😀', '\0'][rng.below(6) as usize]).collect()
}

fn gen_value(rng: &mut Rng, depth: u32) -> Value {
    let leaf_only = depth > 4;
    match rng.below(if leaf_only { 7 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Undefined,
        2 => Value::Bool(rng.below(2) == 1),
        3 | 4 => Value::Number(gen_number(rng)),
        5 => Value::Str(gen_string(rng)),
        6 => {
            let len = [0, 3, 255, 256, 70000][rng.below(5) as usize];
            Value::Bin((0..len).map(|i| i as u8).collect())
        }
        7 => {
            let len = [0, 1, 15, 16, 20][rng.below(5) as usize];
            Value::Array((0..len).map(|_| gen_value(rng, depth + 1)).collect())
        }
        _ => {
            let len = [0, 2, 15, 16][rng.below(4) as usize];
            let entries: Vec<(String, Value)> = (0..len)
                .map(|_| {
                    let key = if rng.below(3) == 0 { rng.below(20).to_string() } else { gen_string(rng) };
                    (key, gen_value(rng, depth + 1))
                })
                .collect();
            Value::Map(Object::from_entries(entries))
        }
    }
}

#[test]
fn generated_values_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let value = gen_value(&mut rng, 0);
        let bytes = encode(&value).expect("encodable");
        let back = decode(&bytes).expect("decodable");
        // JS holds -0 as 0 after a round trip through an int.
        let bytes_again = encode(&back).expect("encodable");
        assert_eq!(bytes, bytes_again);
        assert!(same(&normalise_zero(&value), &back), "{value:?}");
    }
}

pub(super) fn normalise_zero(v: &Value) -> Value {
    match v {
        Value::Number(n) if *n == 0.0 => Value::Number(0.0),
        Value::Array(items) => Value::Array(items.iter().map(normalise_zero).collect()),
        Value::Map(o) => Value::Map(Object::from_entries(o.iter().map(|(k, v)| (k.to_owned(), normalise_zero(v))))),
        other => other.clone(),
    }
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut rng = Rng(42);
    let seeds: Vec<Vec<u8>> = (0..200).filter_map(|_| encode(&gen_value(&mut rng, 2)).ok()).collect();
    for seed in &seeds {
        for _ in 0..20 {
            let mut bytes = seed.clone();
            for _ in 0..=rng.below(4) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.below(bytes.len() as u64) as usize;
                bytes[at] = rng.next() as u8;
            }
            // Only the absence of a panic matters here.
            let _ = decode(&bytes);
        }
    }
    for _ in 0..20000 {
        let len = rng.below(24) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = decode(&bytes);
    }
}
