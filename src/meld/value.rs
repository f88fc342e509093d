//! The JS value model that m-ld messages are made of: what `@ably/msgpack-js`
//! decodes to and encodes from. Numbers are `f64` because JS has nothing else;
//! the encoder turns integral ones back into msgpack ints, so keeping `f64` is
//! what makes re-encoding byte-exact. Objects keep JS `Object.keys` order.
//! Knows nothing of bytes (see `msgpack`) or of clocks.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JS value as carried by m-ld msgpack.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `undefined`; msgpack `d4 00 00`, kept as a map value.
    Undefined,
    /// `true` / `false`.
    Bool(bool),
    /// A JS number.
    Number(f64),
    /// A string.
    Str(String),
    /// A `Buffer` (msgpack `bin`).
    Bin(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// A plain object.
    Map(Object),
}

/// Largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

impl Value {
    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as an exact non-negative integer no larger than
    /// [`MAX_SAFE_INTEGER`] (ticks, counts, versions).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) if n.fract() == 0.0 && *n >= 0.0 && *n <= MAX_SAFE_INTEGER as f64 => {
                // In range and integral, so the conversion is exact.
                Some(*n as u64)
            }
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is a `Buffer`.
    pub fn as_bin(&self) -> Option<&[u8]> {
        match self {
            Value::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// `true` for `null` and `undefined` (JS `== null`).
    pub fn is_nullish(&self) -> bool {
        matches!(self, Value::Null | Value::Undefined)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        // Beyond 2^53 this rounds, exactly as the JS engine would hold it.
        Value::Number(n as f64)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Number(f64::from(n))
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(n as f64)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

impl From<Object> for Value {
    fn from(o: Object) -> Self {
        Value::Map(o)
    }
}

/// A JS plain object: string keys, no duplicates, in `Object.keys` order —
/// array-index keys ascending first, then the rest in insertion order. The
/// order is kept as an invariant so the encoder can simply iterate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    entries: Vec<(String, Value)>,
}

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` as JS assignment does: an existing key keeps its position.
    /// Returns the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) -> Option<Value> {
        let key = key.into();
        if let Some(slot) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            return Some(std::mem::replace(&mut slot.1, value));
        }
        let at = match array_index(&key) {
            // Index keys sit, sorted, before every other key.
            Some(index) => self
                .entries
                .iter()
                .position(|(k, _)| array_index(k).is_none_or(|i| i > index))
                .unwrap_or(self.entries.len()),
            None => self.entries.len(),
        };
        self.entries.insert(at, (key, value));
        None
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Entries in `Object.keys` order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Builds an object as successive JS assignments would, in O(n log n):
    /// a repeated key keeps its first position and its last value. Used by
    /// the decoder, where a hostile map may carry many keys.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, Value)>) -> Self {
        let mut out: Vec<(String, Value)> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (k, v) in entries {
            match seen.get(&k) {
                Some(&i) => {
                    if let Some(slot) = out.get_mut(i) {
                        slot.1 = v;
                    }
                }
                None => {
                    seen.insert(k.clone(), out.len());
                    out.push((k, v));
                }
            }
        }
        // Stable sort: index keys first by value, others keep their order.
        out.sort_by_key(|(k, _)| array_index(k).map_or(u64::MAX, u64::from));
        Object { entries: out }
    }
}

impl FromIterator<(String, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Object::from_entries(iter)
    }
}

/// The JS "array index" a property key denotes, if any: the canonical decimal
/// form of an integer in `0 ..= 2^32 - 2`. Such keys are enumerated first.
fn array_index(key: &str) -> Option<u32> {
    let canonical = !key.is_empty()
        && key.len() <= 10
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    if !canonical {
        return None;
    }
    key.parse::<u64>().ok().filter(|&n| n < u64::from(u32::MAX)).and_then(|n| u32::try_from(n).ok())
}

/// JS `String(n)` for a number: used where JS turns a number into a property
/// key (msgpack map keys) or a lexical form.
pub fn js_number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_owned();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if n == 0.0 {
        // Covers -0, which JS prints as "0".
        return "0".to_owned();
    }
    let abs = n.abs();
    if (1e-6..1e21).contains(&abs) {
        // Both languages print the shortest round-trip digits in plain
        // notation in this range.
        return format!("{n}");
    }
    // JS writes an explicit '+' on positive exponents; Rust does not.
    let s = format!("{n:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => s,
    }
}

/// Deserializing (e.g. from JSON text) gives what `JSON.parse` would: numbers
/// as `f64`, objects in `Object.keys` order (independent of serde_json's own
/// map ordering, since the visitor sees entries in document order).
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-like value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        Ok(Value::Number(n))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::from(s))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Bin(b.to_vec()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            entries.push((k, v));
        }
        Ok(Value::Map(Object::from_entries(entries)))
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_first_then_insertion_order() {
        let mut o = Object::new();
        o.insert("b", Value::from(1u32));
        o.insert("10", Value::Null);
        o.insert("a", Value::Null);
        o.insert("2", Value::Null);
        o.insert("02", Value::Null);
        o.insert("4294967295", Value::Null);
        o.insert("4294967294", Value::Null);
        assert_eq!(o.insert("b", Value::from(2u32)), Some(Value::from(1u32)));
        let keys: Vec<&str> = o.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["2", "10", "4294967294", "b", "a", "02", "4294967295"]);
        let rebuilt = Object::from_entries(
            [("b", 1u32), ("10", 0), ("a", 0), ("2", 0), ("b", 2)].map(|(k, v)| (k.to_owned(), Value::from(v))),
        );
        let keys: Vec<&str> = rebuilt.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["2", "10", "b", "a"]);
        assert_eq!(rebuilt.get("b"), Some(&Value::from(2u32)));
    }

    #[test]
    fn numbers_print_as_js_does() {
        for (n, s) in [
            (0.0, "0"),
            (-0.0, "0"),
            (3.0, "3"),
            (-1.5, "-1.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(js_number_to_string(n), s, "{n}");
        }
    }

    #[test]
    fn json_text_parses_like_json_parse() {
        let v: Value = serde_json::from_str(r#"{"z":1,"1":[true,null,"x",2.5],"a":{}}"#).expect("valid JSON");
        let o = v.as_object().expect("object");
        let keys: Vec<&str> = o.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["1", "z", "a"]);
        assert_eq!(o.get("z").and_then(Value::as_u64), Some(1));
    }
}

/// Serialises as `JSON.stringify` would: integral numbers without a decimal
/// point, non-finite numbers as `null`, `undefined` object members left out
/// (and `null` in arrays), Buffers as Node's `{"type":"Buffer","data":[…]}`.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null | Value::Undefined => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) if !n.is_finite() => s.serialize_unit(),
            Value::Number(n) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64 => s.serialize_i64(*n as i64),
            Value::Number(n) => s.serialize_f64(*n),
            Value::Str(text) => s.serialize_str(text),
            Value::Bin(bytes) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("type", "Buffer")?;
                map.serialize_entry("data", bytes)?;
                map.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(object) => {
                let present = object.iter().filter(|(_, v)| !matches!(v, Value::Undefined));
                let mut map = s.serialize_map(None)?;
                for (k, v) in present {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod json_text_tests {
    use super::*;

    #[test]
    fn serialises_like_json_stringify() {
        let mut o = Object::new();
        o.insert("b", Value::Number(40.0));
        o.insert("a", Value::Number(1.5));
        o.insert("gone", Value::Undefined);
        o.insert("list", Value::Array(vec![Value::Undefined, Value::Number(f64::NAN), Value::Bool(true)]));
        o.insert("bin", Value::Bin(vec![1, 2]));
        let text = serde_json::to_string(&Value::Map(o)).unwrap();
        assert_eq!(text, r#"{"b":40,"a":1.5,"list":[null,null,true],"bin":{"type":"Buffer","data":[1,2]}}"#);
    }
}
