//! m-ld operations on the wire (wire doc §3.1–3.2, §6.2): the
//! `OperationMessage` envelope `{prev, enc, attr}` and the `EncodedOperation`
//! array `[5, from, time, update, encoding, principalId, agreed]`, decoded
//! into a [`MeldOperation`] whose deletes and inserts are a [`TidPatch`].
//! Fusion and cutting (§6.7) are in `fusion`; `buffer` holds the update's
//! byte encodings. Knows nothing of journals, datasets or sockets.
//!
//! A decoded operation keeps its original `enc` bytes, so relaying it (revups,
//! snapshots) reproduces the sender's bytes exactly, as attribution requires.

mod buffer;
mod fusion;
#[cfg(test)]
mod tests;

pub use buffer::{buffer_from_json, encoding_of, encoding_value, json_from_buffer};
pub use fusion::{cut, fuse};

use std::collections::HashMap;

use super::clock::TreeClock;
use super::error::Error;
use super::jsonld::{self, Context};
use super::msgpack;
use super::term::{MELD_TID, Tid, TidPatch, TidSet, Triple};
use super::value::{Object, Value};

/// Largest update (after decompression) accepted or produced.
pub const MAX_UPDATE_BYTES: usize = 64 << 20;

/// The `EncodedOperation` version this engine writes.
const VERSION: u64 = 5;

/// `attr` of a signed message (transport security); `nil` otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// Principal IRI.
    pub pid: String,
    /// Signature over `enc`.
    pub sig: Vec<u8>,
}

impl Attribution {
    /// Reads `attr`: `nil` → `None`; JS rejects anything but nil or a map.
    pub(crate) fn from_value(v: Option<&Value>) -> Result<Option<Self>, Error> {
        match v {
            Some(Value::Null) => Ok(None),
            Some(Value::Map(o)) => {
                let pid = o.get("pid").and_then(Value::as_str);
                let sig = o.get("sig").and_then(Value::as_bin);
                match (pid, sig) {
                    (Some(pid), Some(sig)) => Ok(Some(Attribution { pid: pid.to_owned(), sig: sig.to_vec() })),
                    _ => Err(Error::BadOperation("attr lacks pid or sig")),
                }
            }
            _ => Err(Error::BadOperation("attr is neither nil nor a map")),
        }
    }

    pub(crate) fn to_value(attr: Option<&Self>) -> Value {
        match attr {
            None => Value::Null,
            Some(a) => {
                let mut o = Object::new();
                o.insert("pid", Value::from(a.pid.as_str()));
                o.insert("sig", Value::Bin(a.sig.clone()));
                Value::Map(o)
            }
        }
    }
}

/// The `operation` payload and the items of `updates` channels.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationMessage {
    /// The sender's previous public tick of the operation's process.
    pub prev: u64,
    /// The `EncodedOperation` msgpack bytes.
    pub enc: Vec<u8>,
    /// Signature, if any. Always `nil` without transport security.
    pub attr: Option<Attribution>,
}

impl OperationMessage {
    /// Reads the msgpack map `{prev, enc, attr}`.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let value = msgpack::decode(bytes)?;
        let o = value.as_object().ok_or(Error::BadOperation("message is not a map"))?;
        let prev = o.get("prev").and_then(Value::as_u64).ok_or(Error::BadOperation("prev is not a tick"))?;
        let enc = o.get("enc").and_then(Value::as_bin).ok_or(Error::BadOperation("enc is not a buffer"))?;
        Ok(OperationMessage { prev, enc: enc.to_vec(), attr: Attribution::from_value(o.get("attr"))? })
    }

    /// Writes the msgpack map, keys in JS's order, `attr` always present.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut o = Object::new();
        o.insert("prev", Value::from(self.prev));
        o.insert("enc", Value::Bin(self.enc.clone()));
        o.insert("attr", Attribution::to_value(self.attr.as_ref()));
        msgpack::encode(&Value::Map(o))
    }
}

/// `agreed`: the last agreement tick in an operation's range, and its proof.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreed {
    /// Tick of the agreement.
    pub tick: u64,
    /// Proof (opaque; `true` without an agreement extension).
    pub proof: Value,
}

/// A decoded operation: what it does to the SU-Set and where it sits in time.
#[derive(Debug, Clone, PartialEq)]
pub struct MeldOperation {
    from: u64,
    time: TreeClock,
    tid: Tid,
    patch: TidPatch,
    updates: Option<Value>,
    principal_id: Option<String>,
    agreed: Option<Agreed>,
    enc: Vec<u8>,
}

impl MeldOperation {
    /// Builds and encodes an operation (local writes, fusions, cuts). With
    /// `from == time.ticks` every insert must carry exactly the TID of `time`
    /// (the unfused form cannot say anything else); `principal_id` is an
    /// absolute IRI; `updates` is the third update element, if non-empty.
    pub fn new(
        ctx: &Context,
        from: u64,
        time: TreeClock,
        patch: TidPatch,
        updates: Option<Value>,
        principal_id: Option<String>,
        agreed: Option<Agreed>,
    ) -> Result<Self, Error> {
        let ticks = time.ticks().ok_or(Error::NoId)?;
        if from > ticks || from == 0 {
            return Err(Error::BadOperation("from is not within the time's ticks"));
        }
        let tid = time.hash();
        let fused = from < ticks;
        let deletes = jsonld::reified_json(ctx, patch.deletes.iter().map(|(t, s)| (t, s)), "d")?;
        let inserts = if fused {
            jsonld::reified_json(ctx, patch.inserts.iter().map(|(t, s)| (t, s)), "i")?
        } else {
            if patch.inserts.iter().any(|(_, tids)| tids.len() != 1 || !tids.contains(&tid)) {
                return Err(Error::BadOperation("unfused inserts must carry the operation's TID"));
            }
            jsonld::subjects_json(ctx, patch.inserts.iter().map(|(t, _)| t))?
        };
        let mut update = vec![deletes, inserts];
        if let Some(u) = &updates {
            update.push(u.clone());
        }
        let (bytes, encoding) = buffer_from_json(&Value::Array(update))?;
        if bytes.len() > MAX_UPDATE_BYTES {
            return Err(Error::UpdateTooLarge(MAX_UPDATE_BYTES));
        }
        let array = Value::Array(vec![
            Value::from(VERSION),
            Value::from(from),
            time.to_json(),
            Value::Bin(bytes),
            encoding_value(&encoding),
            principal_id.as_deref().map_or(Value::Null, |p| Value::Str(ctx.compact_id(p))),
            agreed.as_ref().map_or(Value::Null, |a| Value::Array(vec![Value::from(a.tick), a.proof.clone()])),
        ]);
        let enc = msgpack::encode(&array)?;
        Ok(MeldOperation { from, time, tid, patch, updates, principal_id, agreed, enc })
    }

    /// Decodes `EncodedOperation` msgpack bytes (an `OperationMessage`'s `enc`).
    pub fn decode(ctx: &Context, enc: &[u8]) -> Result<Self, Error> {
        let array = msgpack::decode(enc)?;
        Self::from_value(ctx, &array, enc.to_vec())
    }

    /// Decodes an `EncodedOperation` already read as a value (snapshot
    /// `{operation}` data embed the array); `enc` is its msgpack.
    pub(crate) fn from_value(ctx: &Context, array: &Value, enc: Vec<u8>) -> Result<Self, Error> {
        let items = array.as_array().ok_or(Error::BadOperation("not an array"))?;
        let item = |i: usize| items.get(i).unwrap_or(&Value::Undefined);
        match item(0).as_u64() {
            Some(v) if v >= 3 => {}
            _ => return Err(Error::BadOperation("unsupported version")),
        }
        let from = item(1).as_u64().ok_or(Error::BadOperation("from is not a tick"))?;
        let time = TreeClock::from_json(item(2))?;
        let ticks = time.ticks().ok_or(Error::NoId)?;
        if from > ticks {
            return Err(Error::BadOperation("from is after the time"));
        }
        let bytes = item(3).as_bin().ok_or(Error::BadOperation("update is not a buffer"))?;
        let encoding = encoding_of(item(4))?;
        let principal_id = match item(5) {
            Value::Null | Value::Undefined => None,
            Value::Str(p) => match ctx.expand_id(p) {
                super::term::Term::Iri(iri) => Some(iri),
                _ => return Err(Error::BadOperation("principal is not an IRI")),
            },
            _ => return Err(Error::BadOperation("principal is not a string")),
        };
        let agreed = match item(6) {
            Value::Null | Value::Undefined => None,
            Value::Array(a) => match (a.first().and_then(Value::as_u64), a.get(1)) {
                (Some(tick), proof) => Some(Agreed { tick, proof: proof.cloned().unwrap_or(Value::Undefined) }),
                _ => return Err(Error::BadOperation("agreed tick is not a tick")),
            },
            _ => return Err(Error::BadOperation("agreed is not an array")),
        };
        let update = json_from_buffer(bytes, &encoding)?;
        let parts = update.as_array().ok_or(Error::BadOperation("update is not an array"))?;
        if !(2..=3).contains(&parts.len()) {
            return Err(Error::BadOperation("update needs 2 or 3 elements"));
        }
        let tid = time.hash();
        let part = |i: usize| parts.get(i).unwrap_or(&Value::Null);
        let deletes = reified_patch(ctx, part(0))?;
        let inserts = if from < ticks {
            reified_patch(ctx, part(1))?
        } else {
            let one: TidSet = [tid.clone()].into_iter().collect();
            merge(jsonld::json_to_triples(ctx, part(1))?.into_iter().map(|t| (t, one.clone())))
        };
        let updates = parts.get(2).filter(|u| !is_empty_element(u)).cloned();
        Ok(MeldOperation { from, time, tid, patch: TidPatch { deletes, inserts }, updates, principal_id, agreed, enc })
    }

    /// First tick of the range (`== time.ticks` unless fused).
    pub fn from(&self) -> u64 {
        self.from
    }

    /// Time of the (last) operation in the range.
    pub fn time(&self) -> &TreeClock {
        &self.time
    }

    /// The TID: the hash of [`Self::time`].
    pub fn tid(&self) -> &str {
        &self.tid
    }

    /// Ticks of `time` (the end of the range).
    pub fn ticks(&self) -> u64 {
        // `new` and `decode` both refuse a time without an ID.
        self.time.ticks().unwrap_or(self.from)
    }

    /// Whether this is a fusion of several operations.
    pub fn is_fused(&self) -> bool {
        self.from < self.ticks()
    }

    /// The TIDs to remove and add.
    pub fn patch(&self) -> &TidPatch {
        &self.patch
    }

    /// The shared-datatype updates element, opaque (wire doc §6.9).
    pub fn updates(&self) -> Option<&Value> {
        self.updates.as_ref()
    }

    /// The responsible principal's IRI.
    pub fn principal_id(&self) -> Option<&str> {
        self.principal_id.as_deref()
    }

    /// The last agreement in the range.
    pub fn agreed(&self) -> Option<&Agreed> {
        self.agreed.as_ref()
    }

    /// The `EncodedOperation` msgpack bytes (the decoded original, if decoded).
    pub fn enc(&self) -> &[u8] {
        &self.enc
    }

    /// The `EncodedOperation` as a value, for embedding in a snapshot datum.
    pub fn to_value(&self) -> Result<Value, Error> {
        msgpack::decode(&self.enc)
    }
}

/// `{}` and `[]` stand for "nothing" in an update element.
fn is_empty_element(v: &Value) -> bool {
    match v {
        Value::Map(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        other => other.is_nullish(),
    }
}

/// Reified (triple, TIDs) pairs of a deletes or fused-inserts element.
pub(crate) fn reified_patch(ctx: &Context, element: &Value) -> Result<Vec<(Triple, TidSet)>, Error> {
    let triples = jsonld::json_to_triples(ctx, element)?;
    let mut pairs = Vec::new();
    for r in jsonld::unreify(&triples, MELD_TID)? {
        let tids = r.values.iter().map(tid_of).collect::<Result<TidSet, Error>>()?;
        pairs.push((r.triple, tids));
    }
    Ok(merge(pairs))
}

fn tid_of(term: &super::term::Term) -> Result<Tid, Error> {
    match term {
        super::term::Term::Literal(l) => Ok(l.lexical.clone()),
        _ => Err(Error::BadReification("tid is not a literal")),
    }
}

/// Merges repeated triples' TID sets, keeping first-appearance order.
pub(crate) fn merge(pairs: impl IntoIterator<Item = (Triple, TidSet)>) -> Vec<(Triple, TidSet)> {
    let mut out: Vec<(Triple, TidSet)> = Vec::new();
    let mut at: HashMap<Triple, usize> = HashMap::new();
    for (triple, tids) in pairs {
        match at.get(&triple).and_then(|&i| out.get_mut(i)) {
            Some((_, existing)) => existing.extend(tids),
            None => {
                at.insert(triple.clone(), out.len());
                out.push((triple, tids));
            }
        }
    }
    out
}
