//! The TreeClock's JSON form (`TreeClockJson`, §5.1) and its hash, the TID
//! (§5.3). The hash is taken over a "hash form" of the JSON in which a fork
//! whose halves are both untouched collapses, so both halves of a fresh fork
//! keep their parent's TID (a fork is not an event).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use super::{MAX_CLOCK_DEPTH, Part, TickTree, TreeClock};
use crate::meld::error::Error;
use crate::meld::msgpack;
use crate::meld::value::Value;

/// Hashed bytes longer than a SHA-1 digest are replaced by their SHA-1.
const SHA1_LEN: usize = 20;

impl TreeClock {
    /// The JSON form: non-ID leaf `t`; ID leaf `[]` or `[t]`; fork `[l, r]`
    /// or `[t, l, r]`.
    pub fn to_json(&self) -> Value {
        match &self.part {
            Part::Leaf(is_id) => leaf_json(*is_id, self.local),
            Part::Fork(f) => fork_json(self.local, f.0.to_json(), f.1.to_json()),
        }
    }

    /// Parses the JSON form. Stricter than JS, which would build nonsense
    /// from e.g. `[[1]]`: every tick count must be a safe non-negative integer.
    pub fn from_json(json: &Value) -> Result<TreeClock, Error> {
        from_json(json, 0)
    }

    /// The JSON form used for hashing: forks whose two halves are zero
    /// leaves (`[]` or `0`) collapse into a leaf with the fork's ticks.
    pub fn hash_form(&self) -> Value {
        match &self.part {
            Part::Leaf(is_id) => leaf_json(*is_id, self.local),
            Part::Fork(f) => match self.collapsed() {
                Some(is_id) => leaf_json(is_id, self.local),
                None => fork_json(self.local, f.0.hash_form(), f.1.hash_form()),
            },
        }
    }

    /// msgpack of the hash form, written directly (it is only small arrays
    /// and integers, so nothing can fail).
    pub fn hash_form_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_hash_form(&mut out);
        out
    }

    /// The TID of this time: Base64 of the hash-form bytes, or of their
    /// SHA-1 when longer than 20 bytes.
    pub fn hash(&self) -> String {
        let bytes = self.hash_form_bytes();
        if bytes.len() > SHA1_LEN { STANDARD.encode(Sha1::digest(&bytes)) } else { STANDARD.encode(&bytes) }
    }

    fn write_hash_form(&self, out: &mut Vec<u8>) {
        match &self.part {
            Part::Leaf(is_id) => write_leaf(out, *is_id, self.local),
            Part::Fork(f) => match self.collapsed() {
                Some(is_id) => write_leaf(out, is_id, self.local),
                None => {
                    if self.local == 0 {
                        msgpack::write_array_len(out, 2);
                    } else {
                        msgpack::write_array_len(out, 3);
                        msgpack::write_uint(out, self.local);
                    }
                    f.0.write_hash_form(out);
                    f.1.write_hash_form(out);
                }
            },
        }
    }

    /// For a fork whose halves' hash forms are both zero leaves: whether
    /// the collapsed leaf is the ID (either half was `[]`).
    fn collapsed(&self) -> Option<bool> {
        let (l, r) = self.branches()?;
        // Both must be zero; evaluate both before combining (no short-circuit).
        let (l, r) = (l.zero_hash_form()?, r.zero_hash_form()?);
        Some(l || r)
    }

    /// `Some(true)` if the hash form is `[]`, `Some(false)` if it is `0`.
    fn zero_hash_form(&self) -> Option<bool> {
        if self.local != 0 {
            // A leaf or collapsed fork with ticks is not zero; nor is a fork.
            return None;
        }
        match &self.part {
            Part::Leaf(is_id) => Some(*is_id),
            Part::Fork(_) => self.collapsed(),
        }
    }
}

fn leaf_json(is_id: bool, ticks: u64) -> Value {
    match (is_id, ticks) {
        (true, 0) => Value::Array(vec![]),
        (true, t) => Value::Array(vec![Value::from(t)]),
        (false, t) => Value::from(t),
    }
}

fn fork_json(local: u64, left: Value, right: Value) -> Value {
    if local == 0 { Value::Array(vec![left, right]) } else { Value::Array(vec![Value::from(local), left, right]) }
}

fn write_leaf(out: &mut Vec<u8>, is_id: bool, ticks: u64) {
    match (is_id, ticks) {
        (true, 0) => msgpack::write_array_len(out, 0),
        (true, t) => {
            msgpack::write_array_len(out, 1);
            msgpack::write_uint(out, t);
        }
        (false, t) => msgpack::write_uint(out, t),
    }
}

fn ticks_of(v: &Value) -> Result<u64, Error> {
    v.as_u64().ok_or(Error::BadClockJson("ticks must be a non-negative integer"))
}

fn from_json(json: &Value, depth: usize) -> Result<TreeClock, Error> {
    if depth > MAX_CLOCK_DEPTH {
        return Err(Error::BadClockJson("too deep"));
    }
    let fork = |local: u64, l: &Value, r: &Value| {
        Ok(TreeClock::fork(local, from_json(l, depth + 1)?, from_json(r, depth + 1)?))
    };
    match json {
        Value::Number(_) => Ok(TreeClock::leaf(false, ticks_of(json)?)),
        Value::Array(items) => match items.as_slice() {
            [] => Ok(TreeClock::genesis()),
            [t] => Ok(TreeClock::leaf(true, ticks_of(t)?)),
            [l, r] => fork(0, l, r),
            [t, l, r] => fork(ticks_of(t)?, l, r),
            _ => Err(Error::BadClockJson("array longer than 3")),
        },
        _ => Err(Error::BadClockJson("not a number or array")),
    }
}

/// Prints the JSON form, as JS `toString` does.
impl fmt::Display for TreeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.part {
            Part::Leaf(true) if self.local == 0 => f.write_str("[]"),
            Part::Leaf(true) => write!(f, "[{}]", self.local),
            Part::Leaf(false) => write!(f, "{}", self.local),
            Part::Fork(b) if self.local == 0 => write!(f, "[{},{}]", b.0, b.1),
            Part::Fork(b) => write!(f, "[{},{},{}]", self.local, b.0, b.1),
        }
    }
}
