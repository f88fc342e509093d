//! One m-ld domain's room: its members (connected sockets), who is present
//! (in join order), and the routing of `operation` broadcasts and unicasts.
//!
//! Every change of presence and every delivery happens under the room's lock,
//! so presence lists are made in the order presence changed, and messages
//! from one sender keep their order. The lock is a std mutex held only for
//! non-blocking emits (socketioxide queues; it never awaits here).
//!
//! A presence list is a whole state, not a change: a socket is sent only the
//! latest one not yet written to it (a Socket.io volatile emit, which
//! engineioxide keeps in a one-slot latest-wins channel beside the ordered
//! queue). When a domain's clones join together, a slow socket would
//! otherwise queue every intermediate list, and the WebSocket writer keeps
//! the capacity of the largest batch it ever wrote: this halved the memory
//! of idle sockets in the shared bench (50 clones a domain). The cost: a
//! presence list may reach a socket before or after events queued around
//! it, which m-ld clones do not rely on (presence only says whom to ask).
//!
//! Members are sockets or in-process peers (backup clones): both go through
//! the same routing here, so a peer sees exactly what a socket would.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};

use super::peer::{PeerEvent, PeerSink};
use super::stats::RelayStats;

/// Where a member's events go.
#[derive(Clone)]
pub(super) enum Sink {
    /// A Socket.io client.
    Socket(SocketRef),
    /// An in-process peer.
    Peer(PeerSink),
}

/// A member of a room: one connection and its m-ld clone id.
struct Member {
    sid: Sid,
    clone_id: Arc<str>,
    sink: Sink,
}

#[derive(Default)]
struct RoomState {
    members: Vec<Member>,
    /// Present members in the order they became present.
    present: Vec<Sid>,
}

/// The room of one domain.
pub(crate) struct Room {
    domain: Arc<str>,
    state: Mutex<RoomState>,
}

/// Members found too slow during a delivery; disconnected by the caller once
/// the room lock is released.
pub(super) type Slow = Vec<Sink>;

impl Room {
    pub(super) fn new(domain: Arc<str>) -> Self {
        Room { domain, state: Mutex::new(RoomState::default()) }
    }

    /// The domain name.
    pub(super) fn domain(&self) -> &str {
        &self.domain
    }

    fn lock(&self) -> MutexGuard<'_, RoomState> {
        // A panic while holding the lock leaves plain data behind; carry on
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a member (idempotent) and sends it the current presence list.
    pub(super) fn join(&self, sid: Sid, sink: Sink, clone_id: Arc<str>, stats: &RelayStats) -> Slow {
        let mut state = self.lock();
        if state.members.iter().any(|m| m.sid == sid) {
            return Vec::new();
        }
        let mut slow = Vec::new();
        deliver(&sink, Event::Presence(&state.present_ids()), stats, &mut slow);
        state.members.push(Member { sid, clone_id, sink });
        slow
    }

    /// Removes a member; returns whether the room is now empty.
    pub(super) fn leave(&self, sid: Sid, stats: &RelayStats) -> (bool, Slow) {
        let mut state = self.lock();
        state.members.retain(|m| m.sid != sid);
        let mut slow = Vec::new();
        if state.remove_present(sid) {
            state.broadcast_presence(stats, &mut slow);
        }
        (state.members.is_empty(), slow)
    }

    /// Every member's sink.
    pub(super) fn members(&self) -> Vec<Sink> {
        self.lock().members.iter().map(|m| m.sink.clone()).collect()
    }

    /// Sends the current presence list to one member.
    pub(super) fn send_presence(&self, sid: Sid, stats: &RelayStats) -> Slow {
        let state = self.lock();
        let mut slow = Vec::new();
        if let Some(m) = state.members.iter().find(|m| m.sid == sid) {
            deliver(&m.sink, Event::Presence(&state.present_ids()), stats, &mut slow);
        }
        slow
    }

    /// A member declares itself present or absent; on any change every
    /// member receives the new list.
    pub(super) fn set_present(&self, sid: Sid, present: bool, stats: &RelayStats) -> Slow {
        let mut state = self.lock();
        let mut slow = Vec::new();
        let member = state.members.iter().find(|m| m.sid == sid);
        let is_peer = matches!(member, Some(Member { sink: Sink::Peer(_), .. }));
        let changed = if present {
            let add = member.is_some() && !state.present.contains(&sid);
            if add && is_peer {
                // The gateway's own clones first: JS clones ask the first
                // present clone for recovery, and the backup always can answer
                let first_socket = state.present.iter().position(|p| !state.is_peer(*p)).unwrap_or(state.present.len());
                state.present.insert(first_socket, sid);
            } else if add {
                state.present.push(sid);
            }
            add
        } else {
            state.remove_present(sid)
        };
        if changed {
            state.broadcast_presence(stats, &mut slow);
        }
        slow
    }

    /// Sends an `operation` to every member but the sender.
    pub(super) fn broadcast_operation(&self, from: Sid, payload: &Bytes, stats: &RelayStats) -> Slow {
        let state = self.lock();
        let mut slow = Vec::new();
        for m in state.members.iter().filter(|m| m.sid != from) {
            deliver(&m.sink, Event::Operation(payload), stats, &mut slow);
        }
        slow
    }

    /// Sends `event(params, payload)` to the members whose clone id is
    /// `to`; returns how many there were.
    pub(super) fn unicast(
        &self,
        event: &'static str,
        to: &str,
        params: &serde_json::Value,
        payload: &Bytes,
        stats: &RelayStats,
    ) -> (usize, Slow) {
        let state = self.lock();
        let mut slow = Vec::new();
        let mut n = 0;
        for m in state.members.iter().filter(|m| &*m.clone_id == to) {
            deliver(&m.sink, Event::Unicast(event, params, payload), stats, &mut slow);
            n += 1;
        }
        (n, slow)
    }

    /// Sends `event(params, payload)` to the members whose clone id is `to`
    /// without judging them slow: a full queue is reported so the sender
    /// (an in-process peer streaming a snapshot) can wait and retry. Nothing
    /// was queued for a member that reported full.
    pub(super) fn unicast_patient(
        &self,
        event: &'static str,
        to: &str,
        params: &serde_json::Value,
        payload: &Bytes,
        stats: &RelayStats,
    ) -> Unicast {
        let state = self.lock();
        let mut outcome = Unicast::NoRecipient;
        for m in state.members.iter().filter(|m| &*m.clone_id == to) {
            match try_deliver(&m.sink, &Event::Unicast(event, params, payload)) {
                Delivery::Done => {
                    stats.delivered.fetch_add(1, Ordering::Relaxed);
                    outcome = Unicast::Delivered;
                }
                Delivery::Full => return Unicast::Full,
                Delivery::Closed => {
                    stats.undeliverable.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        outcome
    }
}

/// The outcome of a patient unicast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unicast {
    /// Queued for the recipient.
    Delivered,
    /// No connected member has that clone id.
    NoRecipient,
    /// The recipient's queue is full: try again shortly.
    Full,
}

impl RoomState {
    fn is_peer(&self, sid: Sid) -> bool {
        self.members.iter().any(|m| m.sid == sid && matches!(m.sink, Sink::Peer(_)))
    }

    fn present_ids(&self) -> Vec<&str> {
        self.present
            .iter()
            .filter_map(|sid| self.members.iter().find(|m| m.sid == *sid))
            .map(|m| &*m.clone_id)
            .collect()
    }

    fn remove_present(&mut self, sid: Sid) -> bool {
        let before = self.present.len();
        self.present.retain(|s| *s != sid);
        self.present.len() != before
    }

    fn broadcast_presence(&self, stats: &RelayStats, slow: &mut Slow) {
        let list = self.present_ids();
        for m in &self.members {
            deliver(&m.sink, Event::Presence(&list), stats, slow);
        }
    }
}

/// One outgoing event, borrowed for delivery.
enum Event<'a> {
    Presence(&'a [&'a str]),
    Operation(&'a Bytes),
    Unicast(&'static str, &'a serde_json::Value, &'a Bytes),
}

/// Queues one event for one member. A full queue means the member cannot
/// keep up: it is disconnected (its clone reconnects and revs up) rather than
/// silently missing a message. A closed socket is about to leave the room.
fn deliver(sink: &Sink, event: Event<'_>, stats: &RelayStats, slow: &mut Slow) {
    let outcome = try_deliver(sink, &event);
    match outcome {
        Delivery::Done => {
            stats.delivered.fetch_add(1, Ordering::Relaxed);
        }
        Delivery::Full => {
            stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
            slow.push(sink.clone());
        }
        Delivery::Closed => {
            stats.undeliverable.fetch_add(1, Ordering::Relaxed);
            if let Sink::Socket(socket) = sink {
                tracing::debug!(sid = %socket.id, connected = socket.connected(), "relay: event for a closed socket dropped");
            }
        }
    }
}

/// Queues one event for one member, if its queue has room.
fn try_deliver(sink: &Sink, event: &Event<'_>) -> Delivery {
    match sink {
        Sink::Socket(socket) => {
            let sent = match event {
                Event::Presence(list) => socket.volatile().emit("presence", list),
                Event::Operation(payload) => socket.emit("operation", payload),
                Event::Unicast(name, params, payload) => socket.emit(*name, &(params, payload)),
            };
            match sent {
                Ok(()) => Delivery::Done,
                Err(SendError::Socket(SocketError::InternalChannelFull)) => Delivery::Full,
                Err(SendError::Socket(SocketError::Closed)) => Delivery::Closed,
                Err(e) => {
                    tracing::error!(sid = %socket.id, error = %e, "cannot encode relay event");
                    Delivery::Closed
                }
            }
        }
        Sink::Peer(peer) => peer.deliver(match event {
            Event::Presence(list) => PeerEvent::Presence(list.iter().map(|s| (*s).to_owned()).collect()),
            Event::Operation(payload) => PeerEvent::Operation((*payload).clone()),
            Event::Unicast(name, params, payload) => {
                PeerEvent::Unicast { event: name, params: (*params).clone(), payload: (*payload).clone() }
            }
        }),
    }
}

/// What became of one delivery.
pub(super) enum Delivery {
    Done,
    Full,
    Closed,
}
