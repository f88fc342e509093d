//! Answering other clones (wire doc §4.1–4.3): snapshot requests (with a
//! clock fork for new clones) and revup requests from the journal. After a
//! response the clone holds incoming operations until the requester's ACK,
//! so the data it then streams is exactly the view the response described;
//! the held operations follow on the `updates` channel, then are applied.

use std::time::Instant;

use super::receive::BLOCKED;
use super::{CloneError, Liveness, MeldClone, NETWORK_TIMEOUT, Output, Params, SNAPSHOT_BATCH};
use crate::meld::clock::{TickTree, TreeClock};
use crate::meld::control::{self, Control, Notification, SnapshotDatum};
use crate::meld::dataset::JournalState;
use crate::meld::msgpack;
use crate::meld::op::{self, Attribution, MeldOperation, OperationMessage};

/// "Meld is offline": we cannot answer yet.
const STATUS_OFFLINE: u64 = 5004;
/// "Request rejected": we cannot make sense of the request.
const STATUS_REJECTED: u64 = 5003;
/// The TID of the genesis time `[]`: no operation has it.
const GENESIS_TID: &str = "kA==";
/// Most operations fused into one process's past in a snapshot.
const MAX_FUSED_PAST: usize = 10_000;

/// A response sent, waiting for the requester's ACK.
#[derive(Debug)]
pub struct Collaboration {
    response_id: String,
    requester: String,
    deadline: Instant,
    answer: Answer,
}

#[derive(Debug)]
enum Answer {
    Snapshot { data: String, updates: String },
    Revup { updates: String, requester_time: TreeClock },
}

/// Responses awaiting ACKs, and the operations held meanwhile.
#[derive(Default)]
pub(super) struct Collaborations {
    awaiting: Vec<Collaboration>,
    held: Vec<Vec<u8>>,
}

impl Collaborations {
    pub(super) fn holding(&self) -> bool {
        !self.awaiting.is_empty()
    }

    pub(super) fn hold(&mut self, bytes: Vec<u8>) {
        self.held.push(bytes);
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.awaiting.iter().map(|c| c.deadline).min()
    }

    /// Drops collaborations whose ACK did not come; returns the held
    /// operations if nothing awaits any more.
    pub(super) fn expire(&mut self, now: Instant) -> Vec<Vec<u8>> {
        self.awaiting.retain(|c| c.deadline > now);
        self.release()
    }

    fn release(&mut self) -> Vec<Vec<u8>> {
        if self.awaiting.is_empty() { std::mem::take(&mut self.held) } else { Vec::new() }
    }

    pub(super) fn clear(&mut self) {
        self.awaiting.clear();
        self.held.clear();
    }
}

impl MeldClone {
    /// A `send` addressed to us: a snapshot or revup request.
    pub(super) fn on_request(
        &mut self,
        params: Params,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Output>,
    ) -> Result<(), CloneError> {
        let response_id = self.ids.next();
        let reply = Params::reply_to(&params, response_id.clone());
        let request = match Control::decode(payload) {
            Ok((request, _)) => request,
            Err(e) => {
                tracing::warn!(domain = %self.ctx.base(), from = %params.from_id, error = %e, "bad request");
                out.push(Output::Reply(reply, Control::Rejected { status: STATUS_REJECTED }.encode()?));
                return Ok(());
            }
        };
        if self.liveness != Liveness::Live {
            out.push(Output::Reply(reply, Control::Rejected { status: STATUS_OFFLINE }.encode()?));
            return Ok(());
        }
        if let Some(unsupported) = self.unsupported {
            let refuse = match &request {
                Control::SnapshotRequest { .. } => true,
                Control::RevupRequest { .. } => unsupported.spoils_revups(),
                _ => false,
            };
            if refuse {
                tracing::error!(
                    domain = %self.ctx.base(),
                    from = %params.from_id,
                    reason = unsupported.describe(),
                    "recovery request refused: this backup's state of the domain is not the domain's"
                );
                out.push(Output::Reply(reply, Control::Rejected { status: STATUS_REJECTED }.encode()?));
                return Ok(());
            }
        }
        let (response, answer) = match request {
            Control::SnapshotRequest { new_clock } => self.snapshot_response(new_clock)?,
            Control::RevupRequest { time } => match time.get_ticks(&self.state.time) {
                // The requester's view of us predates our journal
                Ok(tick) if tick < self.state.start => {
                    let response = Control::RevupResponse { gwc: None, updates_address: self.id.clone() };
                    out.push(Output::Reply(reply, response.encode()?));
                    return Ok(());
                }
                Ok(_) => {
                    let updates = self.ids.next();
                    let response =
                        Control::RevupResponse { gwc: Some(self.state.gwc.clone()), updates_address: updates.clone() };
                    (response, Answer::Revup { updates, requester_time: time })
                }
                Err(e) => {
                    tracing::warn!(domain = %self.ctx.base(), error = %e, "revup request with a foreign clock");
                    out.push(Output::Reply(reply, Control::Rejected { status: STATUS_REJECTED }.encode()?));
                    return Ok(());
                }
            },
            other => {
                tracing::warn!(domain = %self.ctx.base(), request = ?other, "a response sent as a request");
                out.push(Output::Reply(reply, Control::Rejected { status: STATUS_REJECTED }.encode()?));
                return Ok(());
            }
        };
        out.push(Output::Reply(reply, response.encode()?));
        self.collaborations.awaiting.push(Collaboration {
            response_id,
            requester: params.from_id,
            deadline: now + NETWORK_TIMEOUT,
            answer,
        });
        Ok(())
    }

    /// The snapshot response; for a new clone, forks our clock first and
    /// persists our half (wire doc §5.2).
    fn snapshot_response(&mut self, new_clock: bool) -> Result<(Control, Answer), CloneError> {
        let clock = if new_clock {
            let last_public = self.state.gwc.get_ticks(&self.state.time)?;
            let (ours, theirs) = self.state.time.snapshot_fork(last_public)?;
            self.save_state(JournalState { time: ours, ..self.state.clone() })?;
            theirs
        } else {
            // JS cannot read a response without a clock (wire doc §12.1);
            // any valid clock does, and the requester keeps its own
            TreeClock::genesis()
        };
        let (data, updates) = (self.ids.next(), self.ids.next());
        let response = Control::SnapshotResponse {
            clock: Some(clock),
            gwc: self.state.gwc.clone(),
            agreed: self.state.agreed.clone(),
            data_address: data.clone(),
            updates_address: updates.clone(),
        };
        Ok((response, Answer::Snapshot { data, updates }))
    }

    /// An ACK for one of our responses: stream what we promised.
    pub(super) fn on_ack(&mut self, params: &Params, now: Instant, out: &mut Vec<Output>) -> Result<(), CloneError> {
        let Some(i) = self
            .collaborations
            .awaiting
            .iter()
            .position(|c| Some(&c.response_id) == params.sent_message_id.as_ref() && c.requester == params.from_id)
        else {
            return Ok(()); // JS also ACKs responses it did not use
        };
        let collaboration = self.collaborations.awaiting.remove(i);
        let (me, requester) = (self.id.clone(), collaboration.requester.clone());
        let notify = |channel: &str| Params {
            from_id: me.clone(),
            to_id: requester.clone(),
            channel_id: Some(channel.to_owned()),
            ..Params::default()
        };
        let updates = match &collaboration.answer {
            Answer::Snapshot { data, updates } => {
                let data = notify(data);
                self.stream_snapshot_data(&data, out)?;
                out.push(Output::Notify(data, Notification::Complete.encode()?));
                notify(updates)
            }
            Answer::Revup { updates, requester_time } => {
                let updates = notify(updates);
                for msg in self.operations_since(requester_time)? {
                    out.push(Output::Notify(updates.clone(), Notification::Next(msg).encode()?));
                }
                updates
            }
        };
        for held in &self.collaborations.held {
            out.push(Output::Notify(updates.clone(), Notification::Next(held.clone()).encode()?));
        }
        out.push(Output::Notify(updates, Notification::Complete.encode()?));
        let released = self.collaborations.release();
        self.receive_all(released, now, out)
    }

    /// Every triple with its TIDs (entailed ones without), 10 per datum, then
    /// each process's fused past.
    fn stream_snapshot_data(&self, channel: &Params, out: &mut Vec<Output>) -> Result<(), CloneError> {
        let mut batch = Vec::with_capacity(SNAPSHOT_BATCH);
        let mut send = |batch: &mut Vec<crate::meld::dataset::StoredTriple>| -> Result<(), CloneError> {
            let datum = SnapshotDatum::inserts_batch(&self.ctx, batch.iter().map(|s| (&s.triple, &s.tids)))?;
            out.push(Output::Notify(channel.clone(), Notification::Next(datum.encode()?).encode()?));
            batch.clear();
            Ok(())
        };
        for stored in self.dataset.triples() {
            batch.push(stored?);
            if batch.len() == SNAPSHOT_BATCH {
                send(&mut batch)?;
            }
        }
        if !batch.is_empty() {
            send(&mut batch)?;
        }
        for tid in self.state.gwc.tids() {
            if tid == GENESIS_TID || tid == BLOCKED {
                continue;
            }
            if let Some(past) = self.fused_past(tid)? {
                let datum = SnapshotDatum::operation(&past)?;
                out.push(Output::Notify(channel.clone(), Notification::Next(datum.encode()?).encode()?));
            }
        }
        Ok(())
    }

    /// The fusion of the contiguous journaled operations of one process that
    /// end with the operation `tid` (wire doc §3.6), so a new clone can cut
    /// later fusions that overlap it.
    fn fused_past(&self, tid: &str) -> Result<Option<MeldOperation>, CloneError> {
        let Some(bytes) = self.dataset.operation(tid)? else {
            tracing::warn!(domain = %self.ctx.base(), tid, "GWC operation missing from the journal");
            return Ok(None);
        };
        let mut chain = vec![MeldOperation::decode(&self.ctx, &bytes)?];
        let mut cursor = tid.to_owned();
        while chain.len() < MAX_FUSED_PAST {
            let Some((prev_tick, prev_tid)) = self.dataset.prev(&cursor)? else { break };
            let oldest = &chain[chain.len() - 1];
            if prev_tick + 1 != oldest.from() {
                break;
            }
            let Some(bytes) = self.dataset.operation(&prev_tid)? else { break };
            let op = MeldOperation::decode(&self.ctx, &bytes)?;
            if op.principal_id() != oldest.principal_id() {
                break;
            }
            chain.push(op);
            cursor = prev_tid;
        }
        chain.reverse();
        if chain.len() == 1 {
            return Ok(chain.pop());
        }
        match op::fuse(&self.ctx, &chain) {
            Ok(fused) => Ok(Some(fused)),
            Err(e) => {
                // e.g. shared-datatype updates that only their datatype can fuse
                tracing::debug!(domain = %self.ctx.base(), error = %e, "cannot fuse a process's past; sending its last operation");
                Ok(chain.pop())
            }
        }
    }

    /// Journal entries the holder of `time` has not seen, as OperationMessage
    /// bytes in journal order (wire doc §8.3). Empty if `time`'s view of us
    /// predates our journal.
    pub(super) fn operations_since<T: TickTree>(&self, time: &T) -> Result<Vec<Vec<u8>>, CloneError> {
        let tick = time.get_ticks(&self.state.time)?;
        let mut messages = Vec::new();
        if tick < self.state.start {
            return Ok(messages);
        }
        for entry in self.dataset.entries_after(tick) {
            let entry = entry?;
            let Some(enc) = self.dataset.operation(&entry.tid)? else {
                tracing::warn!(domain = %self.ctx.base(), tid = %entry.tid, "journal entry without its operation");
                continue;
            };
            let op = MeldOperation::decode(&self.ctx, &enc)?;
            if !time.any_lt(op.time()) {
                continue; // known to the requester by causality
            }
            let attr = match &entry.attribution {
                Some(bytes) => Attribution::from_value(Some(&msgpack::decode(bytes)?))?,
                None => None,
            };
            messages.push(OperationMessage { prev: entry.prev.0, enc, attr }.encode()?);
        }
        Ok(messages)
    }
}

/// Whether a reply payload is an ACK.
pub(super) fn is_ack(payload: &[u8]) -> bool {
    control::is_ack(payload)
}
