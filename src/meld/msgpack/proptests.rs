//! Property tests of the msgpack codec: generated values round trip (up to
//! JS's own `-0` → `0`), encoding is a fixed point after one decode, no
//! strict prefix of an encoding decodes, and arbitrary bytes never panic.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use proptest::prelude::*;

use super::tests::{normalise_zero, same};
use super::*;
use crate::meld::value::Object;

/// Numbers at every msgpack form's edges, and anything at all (NaN,
/// infinities, subnormals).
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<i8>().prop_map(f64::from),
        any::<i32>().prop_map(f64::from),
        any::<i64>().prop_map(|n| n as f64),
        any::<u64>().prop_map(|n| n as f64),
        any::<f64>(),
        prop::sample::select(vec![
            0.0,
            -0.0,
            127.0,
            128.0,
            -32.0,
            -33.0,
            65535.0,
            65536.0,
            2f64.powi(64),
            -(2f64.powi(63))
        ]),
    ]
}

/// Keys that collide, look like array indexes, or are anything at all.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![(0u32..20).prop_map(|n| n.to_string()), "[ab]{0,2}", any::<String>()]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        Just(Value::Undefined),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        any::<String>().prop_map(Value::Str),
        // Around the fixstr/str8/str16 and bin8/bin16 boundaries too.
        "[a-é]{28,40}".prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bin),
    ];
    leaf.prop_recursive(4, 96, 20, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..20).prop_map(|e| Value::Map(Object::from_entries(e))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_values_round_trip(v in value()) {
        let bytes = encode(&v).expect("encodable");
        let back = decode(&bytes).expect("decodable");
        prop_assert!(same(&normalise_zero(&v), &back), "{:?} came back as {:?}", v, back);
        prop_assert_eq!(encode(&back).expect("encodable"), bytes);
    }

    #[test]
    fn no_strict_prefix_decodes(v in value()) {
        let bytes = encode(&v).expect("encodable");
        // Every cut for small encodings, about 64 spread cuts for big ones.
        let step = (bytes.len() / 64).max(1);
        for cut in (0..bytes.len()).step_by(step).chain([bytes.len() - 1]) {
            prop_assert!(decode(&bytes[..cut]).is_err(), "cut at {}", cut);
        }
    }

    #[test]
    fn any_bytes_decode_or_fail_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(v) = decode(&bytes) {
            // Whatever decodes re-encodes to bytes that decode to it again.
            let again = encode(&v).expect("encodable");
            let back = decode(&again).expect("own encoding decodes");
            prop_assert!(same(&v, &back), "{:?} came back as {:?}", v, back);
            prop_assert_eq!(encode(&back).expect("encodable"), again);
        }
    }

    #[test]
    fn corrupted_encodings_never_panic(v in value(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = encode(&v).expect("encodable");
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        // Only the absence of a panic matters.
        let _ = decode(&bytes);
    }
}
