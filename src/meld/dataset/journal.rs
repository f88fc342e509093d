//! The journal's records (wire doc §8.1): its state, its entries and what an
//! applied operation appends, with their stored encodings. Operations
//! themselves are opaque bytes here; the engine encodes and decodes them.

use crate::meld::clock::TreeClock;
use crate::meld::gwc::GlobalClock;
use crate::meld::msgpack;
use crate::meld::term::Tid;
use crate::meld::value::{Object, Value};

use super::encoding::{Reader, write_bytes, write_str, write_varint};
use super::error::DatasetError;

/// The journal state: where the journal starts and the clone's clocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalState {
    /// Local ticks when the journal was (re)set: revup requests from before
    /// it cannot be answered.
    pub start: u64,
    /// The clone's current clock, internal ticks included.
    pub time: TreeClock,
    /// The latest public tick and TID of every process.
    pub gwc: GlobalClock,
    /// The last agreement's time (genesis `[]`).
    pub agreed: TreeClock,
}

impl JournalState {
    /// A brand-new domain's state.
    pub fn genesis() -> Self {
        JournalState { start: 0, time: TreeClock::genesis(), gwc: GlobalClock::genesis(), agreed: TreeClock::genesis() }
    }

    /// Stored as msgpack of `{start, time, gwc, agreed}` with the clocks in
    /// their JSON forms: the engine's own byte-exact encoder, so the bytes are
    /// stable and readable by any msgpack tool.
    pub(super) fn encode(&self) -> Result<Vec<u8>, DatasetError> {
        let mut map = Object::new();
        map.insert("start", Value::from(self.start));
        map.insert("time", self.time.to_json());
        map.insert("gwc", self.gwc.to_json());
        map.insert("agreed", self.agreed.to_json());
        Ok(msgpack::encode(&Value::Map(map))?)
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Self, DatasetError> {
        let bad = |what: &str| DatasetError::corrupt(format!("journal state: {what}"));
        let value = msgpack::decode(bytes).map_err(|e| bad(&e.to_string()))?;
        let map = value.as_object().ok_or_else(|| bad("not a map"))?;
        let field = |name: &str| map.get(name).ok_or_else(|| bad(&format!("no {name}")));
        let clock = |name: &str| TreeClock::from_json(field(name)?).map_err(|e| bad(&format!("{name}: {e}")));
        Ok(JournalState {
            start: field("start")?.as_u64().ok_or_else(|| bad("start is not a tick count"))?,
            time: clock("time")?,
            gwc: GlobalClock::from_json(field("gwc")?).map_err(|e| bad(&format!("gwc: {e}")))?,
            agreed: clock("agreed")?,
        })
    }
}

/// One journal entry: an operation applied (or made) at a local tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// The local tick the entry was made at (its key).
    pub tick: u64,
    /// The previous public tick and TID of the operation's process.
    pub prev: (u64, Tid),
    /// The operation's TID; its bytes are in the operations tree.
    pub tid: Tid,
    /// The message's attribution (`attr`), as received.
    pub attribution: Option<Vec<u8>>,
}

impl JournalEntry {
    /// Value bytes: varint prev tick, prev TID, TID, then 0 (no attribution)
    /// or 1 and the length-prefixed attribution.
    pub(super) fn encode_value(prev: &(u64, Tid), tid: &str, attribution: Option<&[u8]>) -> Vec<u8> {
        let mut out = encode_prev(prev);
        write_str(&mut out, tid);
        match attribution {
            None => out.push(0),
            Some(attr) => {
                out.push(1);
                write_bytes(&mut out, attr);
            }
        }
        out
    }

    pub(super) fn decode(tick: u64, bytes: &[u8]) -> Result<Self, DatasetError> {
        let mut reader = Reader::new(bytes);
        let prev = read_prev(&mut reader)?;
        let tid = reader.string()?;
        let attribution = match reader.u8()? {
            0 => None,
            1 => Some(reader.bytes()?.to_vec()),
            other => return Err(DatasetError::corrupt(format!("journal entry: attribution flag {other}"))),
        };
        reader.finish()?;
        Ok(JournalEntry { tick, prev, tid, attribution })
    }
}

/// What applying one operation adds to the journal, stored in the same
/// transaction as its triples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalAppend {
    /// The local tick of the new entry; must not have an entry yet.
    pub local_tick: u64,
    /// The previous public tick and TID of the operation's process.
    pub prev: (u64, Tid),
    /// The operation's TID.
    pub tid: Tid,
    /// The (applied, possibly cut) EncodedOperation, opaque to the dataset.
    pub op_bytes: Vec<u8>,
    /// The message's attribution, if any.
    pub attribution: Option<Vec<u8>>,
    /// The journal state after the operation (ticked clock, updated GWC…).
    pub new_state: JournalState,
}

/// A prev record: varint tick, then the TID.
pub(super) fn encode_prev(prev: &(u64, Tid)) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    write_varint(&mut out, prev.0);
    write_str(&mut out, &prev.1);
    out
}

pub(super) fn read_prev(reader: &mut Reader<'_>) -> Result<(u64, Tid), DatasetError> {
    Ok((reader.varint()?, reader.string()?))
}

pub(super) fn decode_prev(bytes: &[u8]) -> Result<(u64, Tid), DatasetError> {
    let mut reader = Reader::new(bytes);
    let prev = read_prev(&mut reader)?;
    reader.finish()?;
    Ok(prev)
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let (left, right) = TreeClock::genesis().forked().unwrap();
        let time = left.ticked().ticked();
        let gwc = GlobalClock::genesis().set(&time).unwrap().set(&right.ticked()).unwrap();
        let state = JournalState { start: 3, time, gwc, agreed: right.ticked() };
        assert_eq!(JournalState::decode(&state.encode().unwrap()).unwrap(), state);
        let genesis = JournalState::genesis();
        assert_eq!(JournalState::decode(&genesis.encode().unwrap()).unwrap(), genesis);
    }

    #[test]
    fn bad_state_is_corruption() {
        for bytes in [&[0xc0][..], &[0x80], &[0xff, 0x00]] {
            assert!(matches!(JournalState::decode(bytes), Err(DatasetError::Corruption(_))));
        }
    }

    #[test]
    fn entries_round_trip() {
        for attribution in [None, Some(vec![]), Some(vec![0x92, 0x01, 0xc0])] {
            let bytes = JournalEntry::encode_value(&(7, "prev=".into()), "tid=", attribution.as_deref());
            let entry = JournalEntry::decode(9, &bytes).unwrap();
            assert_eq!(entry, JournalEntry { tick: 9, prev: (7, "prev=".into()), tid: "tid=".into(), attribution });
        }
        assert!(matches!(JournalEntry::decode(1, &[0, 0, 0, 2]), Err(DatasetError::Corruption(_))));
        assert_eq!(decode_prev(&encode_prev(&(300, "x".into()))).unwrap(), (300, "x".into()));
    }
}
