//! One m-ld domain's room: its members (connected sockets), who is present
//! (in join order), and the routing of `operation` broadcasts and unicasts.
//!
//! Every change of presence and every delivery happens under the room's lock,
//! so presence lists reach members in the order they changed, and messages
//! from one sender keep their order. The lock is a std mutex held only for
//! non-blocking emits (socketioxide queues; it never awaits here).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::{SendError, SocketError};

use super::stats::RelayStats;

/// A member of a room: one connected socket and its m-ld clone id.
struct Member {
    sid: Sid,
    clone_id: Arc<str>,
    socket: SocketRef,
}

#[derive(Default)]
struct RoomState {
    members: Vec<Member>,
    /// Present members in the order they became present.
    present: Vec<Sid>,
}

/// The room of one domain.
pub struct Room {
    domain: Arc<str>,
    state: Mutex<RoomState>,
}

/// Sockets found too slow during a delivery; disconnected by the caller once
/// the room lock is released.
pub type Slow = Vec<SocketRef>;

impl Room {
    pub(super) fn new(domain: Arc<str>) -> Self {
        Room {
            domain,
            state: Mutex::new(RoomState::default()),
        }
    }

    /// The domain name.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    fn lock(&self) -> MutexGuard<'_, RoomState> {
        // A panic while holding the lock leaves plain data behind; carry on
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a member (idempotent) and sends it the current presence list.
    pub fn join(&self, socket: &SocketRef, clone_id: Arc<str>, stats: &RelayStats) -> Slow {
        let mut state = self.lock();
        if state.members.iter().any(|m| m.sid == socket.id) {
            return Vec::new();
        }
        state.members.push(Member {
            sid: socket.id,
            clone_id,
            socket: socket.clone(),
        });
        let list = state.present_ids();
        let mut slow = Vec::new();
        deliver(socket, "presence", &list, stats, &mut slow);
        slow
    }

    /// Removes a member; returns whether the room is now empty.
    pub fn leave(&self, sid: Sid, stats: &RelayStats) -> (bool, Slow) {
        let mut state = self.lock();
        state.members.retain(|m| m.sid != sid);
        let mut slow = Vec::new();
        if state.remove_present(sid) {
            state.broadcast_presence(stats, &mut slow);
        }
        (state.members.is_empty(), slow)
    }

    /// Whether the room has no members.
    pub fn is_empty(&self) -> bool {
        self.lock().members.is_empty()
    }

    /// A member declares itself present or absent; on any change every
    /// member receives the new list.
    pub fn set_present(&self, sid: Sid, present: bool, stats: &RelayStats) -> Slow {
        let mut state = self.lock();
        let mut slow = Vec::new();
        let is_member = state.members.iter().any(|m| m.sid == sid);
        let changed = if present {
            let add = is_member && !state.present.contains(&sid);
            if add {
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
    pub fn broadcast_operation(&self, from: Sid, payload: &Bytes, stats: &RelayStats) -> Slow {
        let state = self.lock();
        let mut slow = Vec::new();
        for m in state.members.iter().filter(|m| m.sid != from) {
            deliver(&m.socket, "operation", payload, stats, &mut slow);
        }
        slow
    }

    /// Sends `event(params, payload)` to the members whose clone id is
    /// `to`; returns how many there were.
    pub fn unicast(
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
            deliver(&m.socket, event, &(params, payload), stats, &mut slow);
            n += 1;
        }
        (n, slow)
    }
}

impl RoomState {
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
            deliver(&m.socket, "presence", &list, stats, slow);
        }
    }
}

/// Queues one event for one socket. A full queue means the client cannot keep
/// up: it is disconnected (its clone reconnects and revs up) rather than
/// silently missing a message. A closed socket is about to leave the room.
fn deliver<T: serde::Serialize + ?Sized>(
    socket: &SocketRef,
    event: &str,
    data: &T,
    stats: &RelayStats,
    slow: &mut Slow,
) {
    match socket.emit(event, data) {
        Ok(()) => {
            stats.delivered.fetch_add(1, Ordering::Relaxed);
        }
        Err(SendError::Socket(SocketError::InternalChannelFull)) => {
            stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
            slow.push(socket.clone());
        }
        Err(SendError::Socket(SocketError::Closed)) => {
            stats.undeliverable.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            stats.undeliverable.fetch_add(1, Ordering::Relaxed);
            tracing::error!(sid = %socket.id, event, error = %e, "cannot encode relay event");
        }
    }
}
