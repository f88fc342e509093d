//! Control messages (wire doc §3.3–3.6): the `{enc, attr}` envelope of
//! `send`/`reply` payloads with snapshot/revup requests and responses, the
//! ACK (`c0`), `notify` payloads (`{next}`, `{complete}`, `{error}`) and the
//! items of snapshot data channels. Pure codecs: choosing answers belongs to
//! the clone; moving bytes to the relay.

use crate::meld::clock::TreeClock;
use crate::meld::error::Error;
use crate::meld::gwc::GlobalClock;
use crate::meld::jsonld::{self, Context};
use crate::meld::msgpack;
use crate::meld::op::{self, Attribution, MeldOperation};
use crate::meld::term::{TidSet, Triple};
use crate::meld::value::{Object, Value};

/// `@type` of a snapshot request.
pub const SNAPSHOT_REQUEST: &str = "http://control.m-ld.org/request/snapshot";
/// `@type` of a revup request.
pub const REVUP_REQUEST: &str = "http://control.m-ld.org/request/revup";
/// `@type` of a snapshot response.
pub const SNAPSHOT_RESPONSE: &str = "http://control.m-ld.org/response/snapshot";
/// `@type` of a revup response.
pub const REVUP_RESPONSE: &str = "http://control.m-ld.org/response/revup";
/// `@type` of a rejection.
pub const REJECTED_RESPONSE: &str = "http://control.m-ld.org/response/rejected";

/// The ACK payload: msgpack `nil`. JS compares whole payloads with it.
pub const ACK: [u8; 1] = [0xc0];

/// Whether a `reply` payload is an ACK.
pub fn is_ack(payload: &[u8]) -> bool {
    payload == ACK
}

/// The body of a control message.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Ask for a snapshot, with a newly forked clock if `new_clock`.
    SnapshotRequest {
        /// Whether the requester needs a clock (a new clone).
        new_clock: bool,
    },
    /// Ask for the operations since the requester's `time`.
    RevupRequest {
        /// The requester's current clock.
        time: TreeClock,
    },
    /// Snapshot answer; the data and updates follow on the two channels.
    SnapshotResponse {
        /// The forked clock. `None` is JS's `undefined`, which JS itself
        /// cannot read (wire doc §12.1): always send a clock.
        clock: Option<TreeClock>,
        /// The collaborator's GWC.
        gwc: GlobalClock,
        /// The collaborator's last agreement time.
        agreed: TreeClock,
        /// Channel of the snapshot data.
        data_address: String,
        /// Channel of the operations since the snapshot.
        updates_address: String,
    },
    /// Revup answer; `gwc: None` means "cannot rev you up".
    RevupResponse {
        /// The collaborator's GWC, if it can answer.
        gwc: Option<GlobalClock>,
        /// Channel of the operations (or the responder's id with no GWC).
        updates_address: String,
    },
    /// The request failed (a `MeldErrorStatus`, e.g. 5004 "Meld is offline").
    Rejected {
        /// The status code.
        status: u64,
    },
}

impl Control {
    /// Reads a `send`/`reply` payload `{enc, attr}`.
    pub fn decode(payload: &[u8]) -> Result<(Control, Option<Attribution>), Error> {
        let envelope = msgpack::decode(payload)?;
        let o = envelope.as_object().ok_or(Error::BadControl("not a map"))?;
        let enc = o.get("enc").and_then(Value::as_bin).ok_or(Error::BadControl("enc is not a buffer"))?;
        let attr = Attribution::from_value(o.get("attr")).map_err(|_| Error::BadControl("bad attr"))?;
        let body = msgpack::decode(enc)?;
        Ok((Self::from_json(&body)?, attr))
    }

    /// Writes the `{enc, attr: nil}` payload.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut o = Object::new();
        o.insert("enc", Value::Bin(msgpack::encode(&self.to_json())?));
        o.insert("attr", Value::Null);
        msgpack::encode(&Value::Map(o))
    }

    fn from_json(body: &Value) -> Result<Self, Error> {
        let o = body.as_object().ok_or(Error::BadControl("body is not a map"))?;
        let get = |k: &str| o.get(k).unwrap_or(&Value::Undefined);
        let string =
            |k: &'static str| get(k).as_str().map(str::to_owned).ok_or(Error::BadControl("address is not a string"));
        Ok(match get("@type").as_str() {
            Some(SNAPSHOT_REQUEST) => match get("newClock") {
                Value::Bool(new_clock) => Control::SnapshotRequest { new_clock: *new_clock },
                _ => return Err(Error::BadControl("newClock is not a boolean")),
            },
            Some(REVUP_REQUEST) => Control::RevupRequest { time: TreeClock::from_json(get("time"))? },
            Some(SNAPSHOT_RESPONSE) => Control::SnapshotResponse {
                clock: match get("clock") {
                    Value::Undefined | Value::Null => None,
                    clock => Some(TreeClock::from_json(clock)?),
                },
                gwc: GlobalClock::from_json(get("gwc"))?,
                agreed: TreeClock::from_json(get("agreed"))?,
                data_address: string("dataAddress")?,
                updates_address: string("updatesAddress")?,
            },
            Some(REVUP_RESPONSE) => Control::RevupResponse {
                gwc: match get("gwc") {
                    Value::Undefined | Value::Null => None,
                    gwc => Some(GlobalClock::from_json(gwc)?),
                },
                updates_address: string("updatesAddress")?,
            },
            Some(REJECTED_RESPONSE) => {
                Control::Rejected { status: get("status").as_u64().ok_or(Error::BadControl("status is not a number"))? }
            }
            _ => return Err(Error::BadControl("unknown @type")),
        })
    }

    /// The control JSON, keys in JS's order.
    fn to_json(&self) -> Value {
        let mut o = Object::new();
        match self {
            Control::SnapshotRequest { new_clock } => {
                o.insert("@type", Value::from(SNAPSHOT_REQUEST));
                o.insert("newClock", Value::Bool(*new_clock));
            }
            Control::RevupRequest { time } => {
                o.insert("@type", Value::from(REVUP_REQUEST));
                o.insert("time", time.to_json());
            }
            Control::SnapshotResponse { clock, gwc, agreed, data_address, updates_address } => {
                o.insert("@type", Value::from(SNAPSHOT_RESPONSE));
                o.insert("clock", clock.as_ref().map_or(Value::Undefined, TreeClock::to_json));
                o.insert("gwc", gwc.to_json());
                o.insert("agreed", agreed.to_json());
                o.insert("dataAddress", Value::from(data_address.as_str()));
                o.insert("updatesAddress", Value::from(updates_address.as_str()));
            }
            Control::RevupResponse { gwc, updates_address } => {
                o.insert("@type", Value::from(REVUP_RESPONSE));
                o.insert("gwc", gwc.as_ref().map_or(Value::Null, GlobalClock::to_json));
                o.insert("updatesAddress", Value::from(updates_address.as_str()));
            }
            Control::Rejected { status } => {
                o.insert("@type", Value::from(REJECTED_RESPONSE));
                o.insert("status", Value::from(*status));
            }
        }
        Value::Map(o)
    }
}

/// A `notify` payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// One channel item: its own msgpack bytes.
    Next(Vec<u8>),
    /// End of the channel.
    Complete,
    /// Failure: JS's error fields (`status`, `message`…).
    Error(Object),
}

impl Notification {
    /// Reads a map with exactly one of `next`, `complete`, `error`.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        let value = msgpack::decode(payload)?;
        let o = value.as_object().ok_or(Error::BadControl("notification is not a map"))?;
        if o.len() != 1 {
            return Err(Error::BadControl("notification needs exactly one key"));
        }
        match o.iter().next() {
            Some(("next", Value::Bin(b))) => Ok(Notification::Next(b.clone())),
            Some(("complete", _)) => Ok(Notification::Complete),
            Some(("error", Value::Map(e))) => Ok(Notification::Error(e.clone())),
            _ => Err(Error::BadControl("unknown notification")),
        }
    }

    /// Writes the payload.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut o = Object::new();
        match self {
            Notification::Next(b) => o.insert("next", Value::Bin(b.clone())),
            Notification::Complete => o.insert("complete", Value::Bool(true)),
            Notification::Error(e) => o.insert("error", Value::Map(e.clone())),
        };
        msgpack::encode(&Value::Map(o))
    }
}

/// An item of a snapshot's data channel.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotDatum {
    /// A batch of reified triples with their TIDs, encoded per `encoding`.
    Inserts {
        /// The encoded JSON-LD.
        inserts: Vec<u8>,
        /// `BufferEncoding` codes.
        encoding: Vec<u8>,
    },
    /// A process's fused past: the `EncodedOperation` array itself.
    Operation(Value),
}

impl SnapshotDatum {
    /// Reads a datum from a `next` item's bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let value = msgpack::decode(bytes)?;
        let o = value.as_object().ok_or(Error::BadControl("datum is not a map"))?;
        if let Some(operation) = o.get("operation") {
            return Ok(SnapshotDatum::Operation(operation.clone()));
        }
        let inserts = o.get("inserts").and_then(Value::as_bin).ok_or(Error::BadControl("inserts is not a buffer"))?;
        let encoding = op::encoding_of(o.get("encoding").unwrap_or(&Value::Undefined))
            .map_err(|_| Error::BadControl("bad encoding"))?;
        Ok(SnapshotDatum::Inserts { inserts: inserts.to_vec(), encoding })
    }

    /// Writes the datum as a `next` item.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut o = Object::new();
        match self {
            SnapshotDatum::Inserts { inserts, encoding } => {
                o.insert("inserts", Value::Bin(inserts.clone()));
                o.insert("encoding", op::encoding_value(encoding));
            }
            SnapshotDatum::Operation(array) => {
                o.insert("operation", array.clone());
            }
        }
        msgpack::encode(&Value::Map(o))
    }

    /// A batch of triples with their TIDs (JS sends 10 per batch); triples
    /// with no TIDs are entailed and go without a `tid`.
    pub fn inserts_batch<'t>(
        ctx: &Context,
        entries: impl IntoIterator<Item = (&'t Triple, &'t TidSet)>,
    ) -> Result<Self, Error> {
        let json = jsonld::reified_json(ctx, entries, "s")?;
        let (inserts, encoding) = op::buffer_from_json(&json)?;
        Ok(SnapshotDatum::Inserts { inserts, encoding })
    }

    /// The fused past of `op` as a datum.
    pub fn operation(op: &MeldOperation) -> Result<Self, Error> {
        op.to_value().map(SnapshotDatum::Operation)
    }

    /// The triples and TIDs of an `Inserts` datum.
    pub fn triples(&self, ctx: &Context) -> Result<Vec<(Triple, TidSet)>, Error> {
        match self {
            SnapshotDatum::Inserts { inserts, encoding } => {
                op::reified_patch(ctx, &op::json_from_buffer(inserts, encoding)?)
            }
            SnapshotDatum::Operation(_) => Err(Error::BadControl("datum is an operation")),
        }
    }

    /// The operation of an `Operation` datum (its `enc` is the array's
    /// msgpack, the bytes JS encoded it from).
    pub fn to_operation(&self, ctx: &Context) -> Result<MeldOperation, Error> {
        match self {
            SnapshotDatum::Operation(array) => MeldOperation::decode(ctx, &msgpack::encode(array)?),
            SnapshotDatum::Inserts { .. } => Err(Error::BadControl("datum is not an operation")),
        }
    }
}

#[cfg(test)]
#[path = "control_tests.rs"]
mod tests;
