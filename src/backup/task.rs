//! One backup clone's thread: it owns the [`MeldClone`] and feeds it the
//! relay's events, commands and timer ticks one at a time, and sends what the
//! clone outputs through its in-process relay peer.
//!
//! A plain thread rather than a task: the engine's sled calls are
//! synchronous, and a snapshot streams the whole dataset; on a thread of its
//! own neither stalls the async workers, and the clone needs no locking.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{oneshot, watch};

use super::follow::{Follow, Queueing};
use super::wire;
use crate::meld::{Input, MeldClone, Output, Params};
use crate::relay::{Peer, PeerEvent, Relay, Unicast, UnicastKind};

/// Longest wait for a timer when the clone has no deadline.
const IDLE_WAIT: Duration = Duration::from_secs(60);
/// How long a unicast waits for room in a slow recipient's queue (JS gives
/// up on a channel after 5 s without an item).
const PATIENCE: Duration = Duration::from_secs(10);

/// A closure run on the clone's thread; it returns outputs to send.
pub(crate) type Job = Box<dyn FnOnce(&mut MeldClone, &mut Follow, Instant) -> Vec<Output> + Send>;

/// Work for the clone thread.
pub(crate) enum Cmd {
    /// Something the relay delivered, and when (for the apply-lag metric).
    Event(PeerEvent, Instant),
    /// The relay dropped our peer (too slow): reattach and catch up.
    Dropped,
    /// Run a closure on the clone (reads and writes from the HTTP APIs).
    Run(Job),
    /// Leave the domain, flush and stop.
    Close(oneshot::Sender<()>),
}

/// A running clone thread.
pub(crate) struct Spawned {
    pub cmd: mpsc::Sender<Cmd>,
    /// Every update, rendered, as it happens (for event streams).
    pub events: tokio::sync::broadcast::Sender<Arc<str>>,
    pub present: watch::Receiver<bool>,
    pub thread: JoinHandle<()>,
}

struct Runner {
    clone: MeldClone,
    follow: Follow,
    peer: Peer,
    relay: Arc<Relay>,
    domain: String,
    cmd: mpsc::Sender<Cmd>,
    present: watch::Sender<bool>,
    rt: tokio::runtime::Handle,
    db: sled::Db,
}

/// Starts the thread of `clone`, attached to `domain` on the relay.
pub(crate) fn spawn(
    mut clone: MeldClone,
    follow: Follow,
    relay: Arc<Relay>,
    domain: String,
    db: sled::Db,
    rt: tokio::runtime::Handle,
) -> std::io::Result<Spawned> {
    let (cmd, rx) = mpsc::channel();
    let (present, present_rx) = watch::channel(false);
    let peer = attach(&relay, &domain, clone.id(), &cmd, &rt);
    let name = format!("backup {}", domain.chars().take(40).collect::<String>());
    clone.record_updates(true);
    let events = follow.events();
    let runner = Runner { clone, follow, peer, relay, domain, cmd: cmd.clone(), present, rt, db };
    let thread = std::thread::Builder::new().name(name).spawn(move || runner.run(&rx))?;
    Ok(Spawned { cmd, events, present: present_rx, thread })
}

/// Joins the domain as a relay peer, forwarding what it receives to `cmd`.
fn attach(relay: &Arc<Relay>, domain: &str, id: &str, cmd: &mpsc::Sender<Cmd>, rt: &tokio::runtime::Handle) -> Peer {
    let (peer, mut events) = relay.attach_peer(domain, id);
    let cmd = cmd.clone();
    rt.spawn(async move {
        while let Some(event) = events.recv().await {
            if cmd.send(Cmd::Event(event, Instant::now())).is_err() {
                return; // the clone has stopped
            }
        }
        let _ = cmd.send(Cmd::Dropped);
    });
    peer
}

impl Runner {
    fn run(mut self, rx: &mpsc::Receiver<Cmd>) {
        let span = tracing::info_span!("backup", domain = %self.domain);
        let _entered = span.enter();
        tracing::debug!(id = %self.clone.id(), "backup clone started");
        loop {
            if !self.settle() {
                return;
            }
            let deadline = [self.clone.next_deadline(), self.follow.deadline()].into_iter().flatten().min();
            let wait = deadline.map_or(IDLE_WAIT, |d| d.saturating_duration_since(Instant::now()));
            let mut arrived = None;
            let input = match rx.recv_timeout(wait) {
                Ok(Cmd::Event(event, at)) => match wire::input_of(event) {
                    Some(input) => {
                        if matches!(input, Input::Operation(_)) {
                            arrived = Some(at);
                        }
                        input
                    }
                    None => {
                        tracing::debug!("malformed relay event for the backup clone ignored");
                        continue;
                    }
                },
                Ok(Cmd::Dropped) => {
                    tracing::warn!("backup clone fell behind the relay; reattaching");
                    self.present.send_replace(false);
                    if !self.handle(Input::Disconnected) {
                        return;
                    }
                    self.peer = attach(&self.relay, &self.domain, self.clone.id(), &self.cmd, &self.rt);
                    continue;
                }
                Ok(Cmd::Run(f)) => {
                    let out = f(&mut self.clone, &mut self.follow, Instant::now());
                    self.dispatch(out);
                    continue;
                }
                Ok(Cmd::Close(done)) => {
                    self.close();
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => Input::Tick,
                Err(RecvTimeoutError::Disconnected) => {
                    self.close();
                    return;
                }
            };
            if !self.handle(input) {
                return;
            }
            if let Some(at) = arrived {
                crate::metrics::backup_applied(at.elapsed());
            }
        }
    }

    /// After every input and job: passes the clone's updates on, releases a
    /// lapsed lock, and keeps the clone holding operations exactly while the
    /// state is locked. False if the clone cannot go on.
    fn settle(&mut self) -> bool {
        let now = Instant::now();
        self.follow.expire(now, self.clone.held_operations());
        self.follow.collect(&mut self.clone, Queueing::Queue);
        match (self.follow.locked(), self.clone.held_operations().is_some()) {
            (true, false) => self.clone.hold_operations(),
            (false, true) => match self.clone.release_operations(now) {
                Ok(out) => {
                    self.dispatch(out);
                    self.follow.collect(&mut self.clone, Queueing::Queue);
                }
                Err(e) => {
                    tracing::error!(error = %e, "backup clone failed applying released operations; closing it");
                    self.close();
                    return false;
                }
            },
            _ => {}
        }
        true
    }

    /// Feeds one input; false if the clone cannot go on.
    fn handle(&mut self, input: Input) -> bool {
        match self.clone.handle(input, Instant::now()) {
            Ok(out) => {
                self.dispatch(out);
                true
            }
            Err(e) => {
                // Storage failed: stop serving rather than diverge; the next
                // connection or API call reopens the clone from its journal
                tracing::error!(error = %e, "backup clone failed; closing it");
                self.close();
                false
            }
        }
    }

    fn close(&mut self) {
        // Operations held under a lock are applied, not lost: the clones
        // that sent them may be gone, and then only we have them
        if self.clone.held_operations().is_some() {
            match self.clone.release_operations(Instant::now()) {
                Ok(out) => {
                    self.dispatch(out);
                    self.follow.collect(&mut self.clone, Queueing::Queue);
                }
                Err(e) => tracing::error!(error = %e, "cannot apply the operations held under a lock"),
            }
        }
        self.peer.set_present(false);
        self.present.send_replace(false);
        if let Err(e) = self.db.flush() {
            tracing::error!(error = %e, "cannot flush the backup clone");
        }
        tracing::debug!("backup clone closed");
    }

    fn dispatch(&self, out: Vec<Output>) {
        for output in out {
            match output {
                Output::Present(present) => {
                    self.peer.set_present(present);
                    self.present.send_replace(present);
                }
                Output::Operation(payload) => self.peer.operation(wire::bytes(payload)),
                Output::Send(params, payload) => self.unicast(UnicastKind::Send, &params, payload),
                Output::Reply(params, payload) => self.unicast(UnicastKind::Reply, &params, payload),
                Output::Notify(params, payload) => self.unicast(UnicastKind::Notify, &params, payload),
            }
        }
    }

    /// Sends a unicast, waiting while the recipient's queue is full: this
    /// paces snapshot streams to what the requester can take.
    fn unicast(&self, kind: UnicastKind, params: &Params, payload: Vec<u8>) {
        let json = wire::json_of(kind, params);
        let payload: Bytes = wire::bytes(payload);
        let give_up = Instant::now() + PATIENCE;
        loop {
            match self.peer.unicast(kind, &json, &payload) {
                Unicast::Delivered | Unicast::NoRecipient => return,
                Unicast::Full if Instant::now() < give_up => std::thread::sleep(Duration::from_millis(2)),
                Unicast::Full => {
                    tracing::warn!(to = %params.to_id, event = kind.name(), "recipient stalled; message dropped");
                    return;
                }
            }
        }
    }
}
