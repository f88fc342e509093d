//! A m-ld clone as a sans-IO state machine (wire doc §4, §7–§9): feed it what
//! the remotes deliver ([`Input`]), and it answers with what to send
//! ([`Output`]). It keeps its data and journal in a [`Dataset`], applying each
//! operation atomically, and never blocks or waits: timeouts arrive as
//! [`Input::Tick`] at or after [`MeldClone::next_deadline`].
//!
//! What it does, as the gateway's backup clone needs:
//! - receive operations with causal delivery (an ordering buffer for early
//!   ones, duplicates ignored, fused ones cut against the journal);
//! - answer snapshot requests (forking its clock for new clones) and revup
//!   requests from its journal, holding incoming operations while it waits
//!   for the requester's ACK so that the view it promised stays exact;
//! - recover by revup when it starts (or reattaches) while others are present,
//!   re-broadcasting journal entries the collaborator has not seen;
//! - for apps following it: record each operation's visible [`Update`], and
//!   hold incoming operations while an app wants a stable state.
//!
//! Files: [`receive`] (delivery and apply, holding), [`collaborate`]
//! (answers), [`recover`] (requests), [`write`] (local writes), [`update`]
//! (visible changes), [`unsupported`] (domains this engine cannot serve),
//! [`ids`] (message ids).

mod collaborate;
mod ids;
mod receive;
mod recover;
mod unsupported;
mod update;
mod write;

use std::time::{Duration, Instant};

use super::dataset::{Dataset, DatasetError, JournalState};
use super::error::Error;
use super::jsonld::Context;

pub use collaborate::Collaboration;
pub use receive::Admit;
pub use unsupported::Unsupported;
pub use update::Update;

/// m-ld's network timeout: acks, responses, channel gaps (wire doc §1.5).
pub const NETWORK_TIMEOUT: Duration = Duration::from_secs(5);

/// Triples per snapshot data batch. JS sends 10, but a JS requester takes
/// any size, and fewer, larger batches cost it less: a new JS clone took
/// 0.63 s for 1k subjects with 10, 0.39 s with 100 (10k: 3.96 s → 3.70 s;
/// 1 000 per batch gained little more and makes single messages large).
pub const SNAPSHOT_BATCH: usize = 100;

/// Routing parameters of a unicast (`send`, `reply`, `notify`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params {
    /// Sender clone id.
    pub from_id: String,
    /// Recipient clone id.
    pub to_id: String,
    /// This message's id (`send`, `reply`).
    pub message_id: Option<String>,
    /// The id of the message this replies to (`reply`).
    pub sent_message_id: Option<String>,
    /// The channel (`notify`).
    pub channel_id: Option<String>,
}

/// Something the remotes delivered to this clone.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The ids of the present clones, in relay order.
    Presence(Vec<String>),
    /// An `operation` broadcast (an OperationMessage).
    Operation(Vec<u8>),
    /// A request addressed to us.
    Send(Params, Vec<u8>),
    /// A response or ACK addressed to us.
    Reply(Params, Vec<u8>),
    /// A channel notification addressed to us.
    Notify(Params, Vec<u8>),
    /// The connection to the domain was lost (we are no longer a member).
    Disconnected,
    /// Time passed: check deadlines.
    Tick,
}

/// Something to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Declare this clone present (or not).
    Present(bool),
    /// Broadcast an OperationMessage to the domain.
    Operation(Vec<u8>),
    /// Send a request.
    Send(Params, Vec<u8>),
    /// Send a response or ACK.
    Reply(Params, Vec<u8>),
    /// Send a channel notification.
    Notify(Params, Vec<u8>),
}

/// Clone failures that the caller must act on (the clone cannot go on).
#[derive(Debug, thiserror::Error)]
pub enum CloneError {
    /// The dataset failed or is corrupt.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// Stored engine data did not decode.
    #[error("engine: {0}")]
    Engine(#[from] Error),
    /// A new (non-genesis) clone with no data: the gateway only ever opens
    /// backup clones as genesis or from their stored journal.
    #[error("clone has no journal and is not genesis")]
    NoJournal,
}

/// How to open a clone.
#[derive(Debug, Clone)]
pub struct CloneConfig {
    /// The clone's `@id` (its presence id).
    pub id: String,
    /// The m-ld domain name.
    pub domain: String,
    /// Whether to start a new domain if the dataset has no journal.
    pub genesis: bool,
}

/// Where the clone stands with its domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Waiting for the first presence list.
    Unknown,
    /// Catching up from a collaborator.
    Recovering,
    /// Up to date and present.
    Live,
}

/// A m-ld clone over a dataset.
pub struct MeldClone {
    id: String,
    ctx: Context,
    dataset: Dataset,
    state: JournalState,
    liveness: Liveness,
    presence: Vec<String>,
    ids: ids::MessageIds,
    receiver: receive::Receiver,
    collaborations: collaborate::Collaborations,
    recovery: Option<recover::Recovery>,
    /// Operation broadcasts held for an app (see `hold_operations`).
    held: Option<receive::Held>,
    /// Updates not yet taken, if recording (see `record_updates`).
    updates: Option<Vec<Update>>,
    /// A feature of the domain this engine cannot apply, once seen.
    unsupported: Option<Unsupported>,
}

impl MeldClone {
    /// Opens the clone on its dataset, starting a new domain if `genesis` and
    /// the dataset is empty.
    pub fn open(dataset: Dataset, config: CloneConfig) -> Result<Self, CloneError> {
        let state = match dataset.state()? {
            Some(state) => state,
            None if config.genesis => {
                let state = JournalState::genesis();
                dataset.save_state(&state)?;
                state
            }
            None => return Err(CloneError::NoJournal),
        };
        if !dataset.lists_indexed()? {
            // Data stored before this engine entailed list indexes: entail
            // them now, once, so snapshots carry them (wire doc §11.3)
            let fix = super::list::reindex_all(&dataset)?;
            if fix != Default::default() {
                tracing::info!(
                    domain = %config.domain,
                    inserts = fix.inserts.len(),
                    deletes = fix.deletes.len(),
                    "list indexes repaired"
                );
            }
            dataset.entail(&fix)?;
        }
        let unsupported = Self::load_unsupported(&dataset)?;
        Ok(MeldClone {
            unsupported,
            ids: ids::MessageIds::new(&config.id),
            id: config.id,
            ctx: Context::operation(&config.domain),
            dataset,
            state,
            liveness: Liveness::Unknown,
            presence: Vec::new(),
            receiver: receive::Receiver::default(),
            collaborations: collaborate::Collaborations::default(),
            recovery: None,
            held: None,
            updates: None,
        })
    }

    /// The clone's `@id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The dataset, for reads.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    /// The operation JSON-LD context of the domain.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// The journal state (clock, GWC, agreement).
    pub fn state(&self) -> &JournalState {
        &self.state
    }

    /// Where the clone stands.
    pub fn liveness(&self) -> Liveness {
        self.liveness
    }

    /// Handles one input. Problems with what peers sent are logged and
    /// answered as m-ld would; only local failures (storage) are errors.
    pub fn handle(&mut self, input: Input, now: Instant) -> Result<Vec<Output>, CloneError> {
        let mut out = Vec::new();
        match input {
            Input::Presence(ids) => self.on_presence(ids, now, &mut out)?,
            Input::Operation(bytes) => self.on_operation(bytes, now, &mut out)?,
            Input::Send(params, payload) => self.on_request(params, &payload, now, &mut out)?,
            Input::Reply(params, payload) => self.on_reply(params, &payload, now, &mut out)?,
            Input::Notify(params, payload) => self.on_notify(params, &payload, now, &mut out)?,
            Input::Disconnected => self.on_disconnected(),
            Input::Tick => self.on_tick(now, &mut out)?,
        }
        Ok(out)
    }

    /// When the clone next needs an [`Input::Tick`].
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.collaborations.next_deadline(),
            self.recovery.as_ref().map(recover::Recovery::deadline),
            self.receiver.deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn others_present(&self) -> bool {
        self.presence.iter().any(|id| *id != self.id)
    }

    /// Decides liveness on every presence list (wire doc §9.4).
    fn on_presence(&mut self, ids: Vec<String>, now: Instant, out: &mut Vec<Output>) -> Result<(), CloneError> {
        self.presence = ids;
        match self.liveness {
            Liveness::Unknown if self.others_present() => self.start_recovery(now, out),
            Liveness::Unknown => {
                // Nobody else: we are the silo, and hold all there is
                self.go_live(now, out)?;
            }
            Liveness::Recovering | Liveness::Live => {}
        }
        Ok(())
    }

    fn go_live(&mut self, now: Instant, out: &mut Vec<Output>) -> Result<(), CloneError> {
        self.liveness = Liveness::Live;
        self.recovery = None;
        out.push(Output::Present(true));
        // Operations that arrived while recovering can go in now
        self.deliver_ready(now, out)
    }

    fn on_disconnected(&mut self) {
        // Everything in flight is void; on the next presence list we decide
        // again, and recover if others are there
        self.liveness = Liveness::Unknown;
        self.presence.clear();
        self.recovery = None;
        self.collaborations.clear();
        self.receiver.clear();
    }

    fn on_tick(&mut self, now: Instant, out: &mut Vec<Output>) -> Result<(), CloneError> {
        let before = self.collaborations.next_deadline();
        let released = self.collaborations.expire(now);
        if before.is_some_and(|d| d <= now) {
            tracing::debug!(domain = %self.ctx.base(), "collaboration abandoned: no ACK in time");
        }
        self.receive_all(released, now, out)?;
        if self.recovery.as_ref().is_some_and(|r| r.deadline() <= now) {
            self.recovery_timed_out(now, out)?;
        }
        if self.receiver.deadline().is_some_and(|d| d <= now) && self.liveness == Liveness::Live {
            // Chronically buffered operations: something is missing; catch up
            tracing::debug!(domain = %self.ctx.base(), "operations buffered too long; revving up");
            self.receiver.clear_deadline();
            if self.others_present() {
                self.start_recovery(now, out);
            }
        }
        Ok(())
    }

    /// Persists a state change that has no journal entry (e.g. a clock fork).
    fn save_state(&mut self, state: JournalState) -> Result<(), CloneError> {
        self.dataset.save_state(&state)?;
        self.state = state;
        Ok(())
    }
}

impl Params {
    /// Reply parameters answering `request` from this clone.
    fn reply_to(request: &Params, message_id: String) -> Params {
        Params {
            from_id: request.to_id.clone(),
            to_id: request.from_id.clone(),
            message_id: Some(message_id),
            sent_message_id: request.message_id.clone(),
            channel_id: None,
        }
    }
}

#[cfg(test)]
mod tests;
