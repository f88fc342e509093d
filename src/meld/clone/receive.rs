//! Receiving operations (wire doc §7): causal readiness with an ordering
//! buffer, duplicate and gap detection, cutting of fused operations against
//! the journal, and the atomic apply with its journal entry.

use std::time::Instant;

use super::{CloneError, Liveness, MeldClone, NETWORK_TIMEOUT, Output, Unsupported};
use crate::meld::clock::{TickTree, TreeClock};
use crate::meld::dataset::{JournalAppend, JournalState};
use crate::meld::error::Error;
use crate::meld::list;
use crate::meld::msgpack;
use crate::meld::op::{self, Attribution, MeldOperation, OperationMessage};
use crate::meld::term::Triple;

/// Most ticks one fused operation may span. JS fuses journal entries up to
/// a small footprint, so real fusions are far shorter.
const MAX_FUSED_SPAN: u64 = 1_000_000;

/// `BufferEncoding` SECURE: encrypted by transport security (wire doc §2.2).
const SECURE: u64 = 3;

/// The GWC leaf TID that marks a blocked process (wire doc §8.5).
pub(super) const BLOCKED: &str = "!blocked!";

/// A decoded operation waiting for delivery.
pub(super) struct Pending {
    msg: OperationMessage,
    op: MeldOperation,
}

/// Decides whether a received operation may be applied: transport security
/// (signatures) that the engine itself knows nothing about. Asked once for
/// each operation about to be applied, after duplicates, gaps and blocked
/// processes are sorted out, so a refusal is about the operation itself.
pub trait Admit: Send {
    /// Whether `op` (decoded from `msg.enc`) may be applied. A refused
    /// operation is neither applied nor journaled, so it is never relayed;
    /// the clock counts it as seen, so that operations depending on it stay
    /// deliverable and no revup brings it back. The implementation logs why.
    fn admit(&mut self, msg: &OperationMessage, op: &MeldOperation) -> bool;
}

/// Operations not yet delivered.
#[derive(Default)]
pub(super) struct Receiver {
    /// Decides which operations may be applied; all, if none.
    admit: Option<Box<dyn Admit>>,
    /// Not causally ready yet, in arrival order.
    buffer: Vec<Pending>,
    /// Broadcasts that arrived while recovering: delivered once live, after
    /// the recovery stream (as JS does).
    waiting: Vec<Vec<u8>>,
    /// Since when the buffer has been non-empty.
    since: Option<Instant>,
}

impl Receiver {
    /// When a non-empty buffer becomes chronic (JS reconnects then).
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.since.map(|since| since + NETWORK_TIMEOUT)
    }

    pub(super) fn clear_deadline(&mut self) {
        self.since = None;
    }

    /// Forgets everything undelivered (recovery brings it again).
    pub(super) fn clear(&mut self) {
        self.buffer.clear();
        self.waiting.clear();
        self.since = None;
    }
}

/// Operation broadcasts held for an app (see `hold_operations`).
#[derive(Default)]
pub(super) struct Held {
    ops: Vec<Vec<u8>>,
    /// Their total size, kept as they come (asked after every input).
    bytes: usize,
}

impl Held {
    fn push(&mut self, bytes: Vec<u8>) {
        self.bytes += bytes.len();
        self.ops.push(bytes);
    }
}

/// What became of one delivery attempt.
enum Delivery {
    /// Applied; the list resolution it calls for (usually none).
    Applied(Vec<Triple>),
    Duplicate,
    /// The sender's previous operation has not reached us.
    Gap,
    /// Refused (blocked process, pre-agreement, or undecodable content).
    Ignored,
}

impl MeldClone {
    /// An `operation` broadcast.
    pub(super) fn on_operation(
        &mut self,
        bytes: Vec<u8>,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> Result<(), CloneError> {
        if self.collaborations.holding() {
            // A collaborator promised a view: keep it until the ACK
            self.collaborations.hold(bytes);
        } else if let Some(held) = self.held.as_mut() {
            held.push(bytes);
        } else if self.liveness != Liveness::Live {
            self.receiver.waiting.push(bytes);
        } else {
            self.receive(&bytes, now, out)?;
        }
        Ok(())
    }

    /// Sets what decides whether received operations may be applied.
    pub fn set_admit(&mut self, admit: Box<dyn Admit>) {
        self.receiver.admit = Some(admit);
    }

    /// Holds every `operation` broadcast from now on, unapplied, until
    /// [`Self::release_operations`]: an app reading the clone sees a stable
    /// state meanwhile. Local writes still apply; so does a recovery's
    /// catch-up, which only follows a reconnection.
    pub fn hold_operations(&mut self) {
        self.held.get_or_insert_with(Held::default);
    }

    /// Whether operations are being held, and how many bytes are.
    pub fn held_operations(&self) -> Option<usize> {
        self.held.as_ref().map(|held| held.bytes)
    }

    /// Stops holding, and receives what was held in arrival order.
    pub fn release_operations(&mut self, now: Instant) -> Result<Vec<Output>, CloneError> {
        let mut out = Vec::new();
        if let Some(held) = self.held.take() {
            self.receive_all(held.ops, now, &mut out)?;
            self.deliver_ready(now, &mut out)?;
        }
        Ok(out)
    }

    /// Receives operations released after a collaboration.
    pub(super) fn receive_all(
        &mut self,
        all: Vec<Vec<u8>>,
        now: Instant,
        out: &mut Vec<Output>,
    ) -> Result<(), CloneError> {
        for bytes in all {
            if let Some(held) = self.held.as_mut() {
                held.push(bytes);
            } else if self.liveness == Liveness::Live {
                self.receive(&bytes, now, out)?;
            } else {
                self.receiver.waiting.push(bytes);
            }
        }
        Ok(())
    }

    /// Decodes one OperationMessage and delivers it (and whatever it made
    /// ready), or buffers it until it is causally ready.
    pub(super) fn receive(&mut self, bytes: &[u8], now: Instant, out: &mut Vec<Output>) -> Result<(), CloneError> {
        let decoded = OperationMessage::decode(bytes).and_then(|msg| {
            let op = MeldOperation::decode(&self.ctx, &msg.enc)?;
            Ok(Pending { msg, op })
        });
        let pending = match decoded {
            Ok(pending) => pending,
            Err(Error::UnsupportedEncoding(SECURE)) => {
                // Transport security: we can neither apply nor journal it
                return self.flag_unsupported(Unsupported::Encryption);
            }
            Err(e) => {
                // JS closes a clone on an undecodable update; the gateway must
                // not, and the sender's next operation shows the gap
                tracing::warn!(domain = %self.ctx.base(), error = %e, "undecodable operation ignored");
                return Ok(());
            }
        };
        if self.is_ready(&pending.op) {
            self.deliver(pending, now, out)?;
            self.deliver_ready(now, out)?;
        } else {
            self.receiver.since.get_or_insert(now);
            self.receiver.buffer.push(pending);
        }
        Ok(())
    }

    /// Ready iff we have seen every third-party tick the sender had seen.
    fn is_ready(&self, op: &MeldOperation) -> bool {
        !self.state.time.any_non_id_lt(op.time())
    }

    /// Delivers waiting broadcasts (once live) and buffered operations that
    /// have become ready.
    pub(super) fn deliver_ready(&mut self, now: Instant, out: &mut Vec<Output>) -> Result<(), CloneError> {
        if self.liveness == Liveness::Live && self.held.is_none() && !self.receiver.waiting.is_empty() {
            for bytes in std::mem::take(&mut self.receiver.waiting) {
                self.receive(&bytes, now, out)?;
            }
        }
        while let Some(i) = self.receiver.buffer.iter().position(|p| self.is_ready(&p.op)) {
            let pending = self.receiver.buffer.remove(i);
            self.deliver(pending, now, out)?;
        }
        if self.receiver.buffer.is_empty() {
            self.receiver.since = None;
        }
        Ok(())
    }

    fn deliver(&mut self, pending: Pending, now: Instant, out: &mut Vec<Output>) -> Result<(), CloneError> {
        match self.try_deliver(&pending) {
            Ok(Delivery::Applied(resolution)) if !resolution.is_empty() => {
                // At the tick reserved for it when the operation applied.
                // Unlike a local write it goes out while we recover too: the
                // re-broadcast of our unseen entries was settled when that
                // began, and the operation it resolves is already out there
                let time = self.state.time.clone();
                let broadcast = self.liveness != Liveness::Unknown;
                self.resolve(time, &resolution, broadcast, out)
            }
            Ok(Delivery::Applied(_) | Delivery::Duplicate | Delivery::Ignored) => Ok(()),
            Ok(Delivery::Gap) => {
                tracing::debug!(domain = %self.ctx.base(), "operation out of order; revving up");
                if self.liveness == Liveness::Live && self.others_present() {
                    self.start_recovery(now, out);
                }
                Ok(())
            }
            Err(CloneError::Engine(e)) => {
                // Clock arithmetic refused the operation's time: a malformed
                // or foreign operation. Nothing was applied.
                tracing::warn!(domain = %self.ctx.base(), error = %e, "operation refused");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Delivery and apply (wire doc §7.2, §7.3).
    fn try_deliver(&mut self, pending: &Pending) -> Result<Delivery, CloneError> {
        let Pending { msg, op } = pending;
        let time = op.time();
        let seen = self.state.time.get_ticks(time)?;
        if op.ticks() <= seen {
            return Ok(Delivery::Duplicate);
        }
        if msg.prev > seen {
            return Ok(Delivery::Gap);
        }
        if op.ticks().saturating_sub(op.from()) > MAX_FUSED_SPAN {
            // Cutting hashes every tick of a fusion's range: a crafted range
            // of billions of ticks would stall this clone's thread
            tracing::warn!(domain = %self.ctx.base(), from = op.from(), ticks = op.ticks(), "fused operation spans too many ticks; ignored");
            return Ok(Delivery::Ignored);
        }
        let joined = self.state.time.update(time)?;
        let blocked = self.state.gwc.tid(time).is_ok_and(|tid| tid == BLOCKED);
        let pre_agreement = op.agreed().is_none() && time.any_lt(&self.state.agreed);
        if blocked || pre_agreement {
            // Ignored, but the clock must not claim the operation was seen
            let public = self.state.gwc.get_ticks(time)?;
            let rewound = joined.ticked_by(&time.ticked_to(public))?;
            self.save_state(JournalState { time: rewound, ..self.state.clone() })?;
            return Ok(Delivery::Ignored);
        }
        if let Some(admit) = self.receiver.admit.as_mut()
            && !admit.admit(msg, op)
        {
            self.save_state(JournalState { time: joined, ..self.state.clone() })?;
            return Ok(Delivery::Ignored);
        }
        let applied = match self.cut_if_fused(op) {
            Ok(cut) => cut,
            Err(CloneError::Engine(e)) => {
                tracing::warn!(domain = %self.ctx.base(), error = %e, "cannot cut fused operation; applying it whole");
                op.clone()
            }
            Err(e) => return Err(e),
        };
        if applied.updates().is_some() {
            // Journaled whole (revups stay right), but its data goes stale
            self.flag_unsupported(Unsupported::SharedDatatypes)?;
        }
        if op.agreed().is_some() && time.any_lt(&self.state.gwc) {
            // JS voids the concurrent operations it applied; we cannot
            self.flag_unsupported(Unsupported::AgreementVoiding)?;
        }
        // The signature is over the received bytes: a cut operation has other
        // bytes, and goes unattributed rather than with a signature that fails
        let attr = msg.attr.as_ref().filter(|_| applied.enc() == msg.enc.as_slice());
        let attribution = attr.map(|a| msgpack::encode(&Attribution::to_value(Some(a)))).transpose()?;
        let resolution = self.journal_and_apply(&applied, joined, attribution)?;
        Ok(Delivery::Applied(resolution))
    }

    /// Applies an operation with its journal entry: the local clock ticks
    /// twice (as JS: one tick for the entry, one reserved for a constraint
    /// resolution), the entry goes at the first new tick. List index
    /// entailments apply with it; the list resolution it calls for, if
    /// any, is returned for publishing at the second tick.
    pub(super) fn journal_and_apply(
        &mut self,
        op: &MeldOperation,
        joined: TreeClock,
        attribution: Option<Vec<u8>>,
    ) -> Result<Vec<Triple>, CloneError> {
        let time = op.time();
        let entry_time = joined.ticked();
        let local_tick = entry_time.ticks().ok_or(Error::NoId)?;
        let prev = (self.state.gwc.get_ticks(time)?, self.state.gwc.tid(time)?.to_owned());
        let agreed = match op.agreed() {
            Some(agreed) => time.ticked_to(agreed.tick),
            None => self.state.agreed.clone(),
        };
        let new_state =
            JournalState { start: self.state.start, time: entry_time.ticked(), gwc: self.state.gwc.set(time)?, agreed };
        let append = JournalAppend {
            local_tick,
            prev,
            tid: op.tid().to_owned(),
            op_bytes: op.enc().to_vec(),
            attribution,
            new_state: new_state.clone(),
        };
        let before = self.before(op.patch())?;
        let effects = list::effects(&self.dataset, op.patch())?;
        self.dataset.apply(op.patch(), &effects.entailments, &append)?;
        self.state = new_state;
        self.applied(before, op.patch());
        Ok(effects.resolution)
    }

    /// Cuts from a fused operation what the journal shows we have already
    /// applied (wire doc §6.7); operations we cannot cut go whole.
    fn cut_if_fused(&self, op: &MeldOperation) -> Result<MeldOperation, CloneError> {
        if !op.is_fused() {
            return Ok(op.clone());
        }
        let seen = self.state.gwc.get_ticks(op.time())?;
        if seen < op.from() {
            return Ok(op.clone());
        }
        let mut tid = op.time().ticked_to(seen).hash();
        let Some(bytes) = self.dataset.operation(&tid)? else {
            return Ok(op.clone());
        };
        let mut prevs = vec![MeldOperation::decode(&self.ctx, &bytes)?];
        while let Some((prev_tick, prev_tid)) = self.dataset.prev(&tid)? {
            if prev_tick < op.from() {
                break;
            }
            let Some(bytes) = self.dataset.operation(&prev_tid)? else { break };
            prevs.push(MeldOperation::decode(&self.ctx, &bytes)?);
            tid = prev_tid;
        }
        prevs.reverse();
        Ok(op::cut(&self.ctx, op, &prevs)?)
    }
}
