//! Test-only access to the golden vectors captured from the JS engine
//! (`shared/protocol/vectors/`), with their JSON stand-ins for non-JSON JS
//! values (`$base64`, `$undefined`, `$number`) turned into real [`Value`]s.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::value::{Object, Value};

/// Directory of the vector files, beside the crate in the shared checkout.
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/protocol/vectors/");

/// Every row of a `.jsonl` vector file, decoded.
pub fn rows(file: &str) -> Vec<Value> {
    let path = format!("{DIR}{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}: {e}"));
            revive(v)
        })
        .collect()
}

/// Replaces the vector files' JSON stand-ins by the JS values they denote.
pub fn revive(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.into_iter().map(revive).collect()),
        Value::Map(o) => {
            if o.len() == 1 {
                if let Some(b64) = o.get("$base64").and_then(Value::as_str) {
                    let bytes = STANDARD.decode(b64).expect("vector base64");
                    return Value::Bin(bytes);
                }
                if o.get("$undefined").is_some() {
                    return Value::Undefined;
                }
                if let Some(n) = o.get("$number").and_then(Value::as_str) {
                    return Value::Number(n.parse().expect("vector $number"));
                }
            }
            let entries: Vec<(String, Value)> = o.iter().map(|(k, v)| (k.to_owned(), revive(v.clone()))).collect();
            Value::Map(Object::from_entries(entries))
        }
        other => other,
    }
}

/// A field of a row, which must be present.
pub fn field<'a>(row: &'a Value, key: &str) -> &'a Value {
    row.as_object().and_then(|o| o.get(key)).unwrap_or_else(|| panic!("row lacks {key}: {row:?}"))
}

/// A whole `.json` vector file (e.g. `scenario.json`), as plain JSON.
pub fn json_file(file: &str) -> serde_json::Value {
    let path = format!("{DIR}{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}
