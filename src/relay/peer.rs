//! In-process peers: clones inside the gateway (backup clones) attached to a
//! domain's room through the same routing code as sockets. A peer receives
//! what a socket would (presence lists, operations from others, unicasts
//! addressed to its clone id) on a bounded queue, and emits the same events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use bytes::Bytes;
use socketioxide::socket::Sid;
use tokio::sync::mpsc;

use super::room::{Delivery, Sink, Unicast};
use super::{Conn, Relay, UnicastKind};

/// Events queued for a peer before it counts as too slow.
pub const PEER_QUEUE: usize = 16 * 1024;

/// An event delivered to a peer.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerEvent {
    /// The ids of the present clones, in relay order.
    Presence(Vec<String>),
    /// An `operation` payload from another clone.
    Operation(Bytes),
    /// A `send`, `reply` or `notify` addressed to this peer.
    Unicast {
        /// Event name.
        event: &'static str,
        /// The sender's params object, unchanged.
        params: serde_json::Value,
        /// The payload, unchanged.
        payload: Bytes,
    },
}

/// The relay's end of a peer: its queue.
#[derive(Clone)]
pub(crate) struct PeerSink {
    tx: mpsc::Sender<PeerEvent>,
    conn: Weak<Conn>,
    sid: Sid,
}

impl PeerSink {
    pub(super) fn deliver(&self, event: PeerEvent) -> Delivery {
        match self.tx.try_send(event) {
            Ok(()) => Delivery::Done,
            Err(mpsc::error::TrySendError::Full(_)) => Delivery::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => Delivery::Closed,
        }
    }

    /// Removes a peer that could not keep up from its room. Its queue closes
    /// once drained, which tells the peer to attach again and catch up.
    pub(super) fn drop_from(&self, relay: &Relay) {
        if let Some(conn) = self.conn.upgrade() {
            relay.leave(&conn, self.sid);
        }
    }
}

/// The sending half of a clone attached to the relay in-process. Dropping
/// it leaves the room.
pub struct Peer {
    relay: Arc<Relay>,
    conn: Arc<Conn>,
    sid: Sid,
}

/// The receiving half: what the relay delivers to the peer.
pub struct PeerEvents {
    rx: mpsc::Receiver<PeerEvent>,
}

impl Relay {
    /// Attaches an in-process clone with id `clone_id` to `domain`. It gets
    /// the current presence list at once, like a socket.
    pub fn attach_peer(self: &Arc<Self>, domain: &str, clone_id: &str) -> (Peer, PeerEvents) {
        let (tx, rx) = mpsc::channel(PEER_QUEUE);
        let sid = Sid::new();
        let conn = Arc::new(Conn {
            domain: domain.into(),
            clone_id: clone_id.into(),
            room: OnceLock::new(),
            closed: AtomicBool::new(false),
            // The gateway's own backup clone
            admission: crate::auth::Admission::Root,
            // In-process: trusted, its messages are not checked against limits
            ip: None,
            budget: super::budget::Budget::new(&self.limits),
            refused: AtomicBool::new(false),
        });
        let sink = Sink::Peer(PeerSink { tx, conn: Arc::downgrade(&conn), sid });
        let _ = self.join(&conn, sid, sink);
        (Peer { relay: self.clone(), conn, sid }, PeerEvents { rx })
    }
}

impl PeerEvents {
    /// The next event; `None` once the relay has dropped this peer (too slow,
    /// or its sending half is gone) and its queue is drained.
    pub async fn recv(&mut self) -> Option<PeerEvent> {
        self.rx.recv().await
    }

    /// The next event if one is queued.
    pub fn try_recv(&mut self) -> Option<PeerEvent> {
        self.rx.try_recv().ok()
    }
}

impl Peer {
    /// The domain this peer is attached to.
    pub fn domain(&self) -> &str {
        &self.conn.domain
    }

    /// Declares this clone present (or not) in the domain.
    pub fn set_present(&self, present: bool) {
        if let Some(room) = self.conn.room.get() {
            self.relay.disconnect_slow(room.set_present(self.sid, present, &self.relay.stats));
        }
    }

    /// Broadcasts an `operation` to the other clones of the domain.
    pub fn operation(&self, payload: Bytes) {
        self.relay.stats.operations.fetch_add(1, Ordering::Relaxed);
        if let Some(room) = self.conn.room.get() {
            self.relay.disconnect_slow(room.broadcast_operation(self.sid, &payload, &self.relay.stats));
        }
    }

    /// Sends `send`/`reply`/`notify` to the clone `params.toId`. A recipient
    /// whose queue is full is not dropped: [`Unicast::Full`] asks the caller
    /// to wait and retry, which paces a snapshot to what the requester takes.
    pub fn unicast(&self, kind: UnicastKind, params: &serde_json::Value, payload: &Bytes) -> Unicast {
        let Some(to) = params.get("toId").and_then(serde_json::Value::as_str) else {
            return Unicast::NoRecipient;
        };
        let Some(room) = self.conn.room.get() else { return Unicast::NoRecipient };
        let outcome = room.unicast_patient(kind.name(), to, params, payload, &self.relay.stats);
        if outcome != Unicast::Full {
            self.relay.stats.unicasts.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.relay.leave(&self.conn, self.sid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::AccountStore;
    use crate::auth::{AuthKey, Authority};
    use crate::store::Store;
    use serde_json::json;

    fn relay() -> Arc<Relay> {
        let store = Store::temporary().unwrap();
        let root = AuthKey::generate("root").unwrap();
        let limits = crate::relay::MessageLimits { per_sec: 1000, burst: 1000, max_bytes: 1 << 20 };
        Relay::new(Authority::new(AccountStore::new(&store).unwrap(), root, "ex.org".into()), limits)
    }

    fn drain(peer: &mut PeerEvents) -> Vec<PeerEvent> {
        std::iter::from_fn(|| peer.try_recv()).collect()
    }

    fn presence(ids: &[&str]) -> PeerEvent {
        PeerEvent::Presence(ids.iter().map(|s| s.to_string()).collect())
    }

    #[tokio::test]
    async fn peers_get_presence_operations_and_unicasts_like_sockets() {
        let relay = relay();
        let (a, mut a_rx) = relay.attach_peer("d.acc.ex.org", "a");
        let (other, mut other_rx) = relay.attach_peer("e.acc.ex.org", "x");
        assert_eq!(drain(&mut a_rx), vec![presence(&[])]);
        a.set_present(true);
        assert_eq!(drain(&mut a_rx), vec![presence(&["a"])]);
        let (b, mut b_rx) = relay.attach_peer("d.acc.ex.org", "b");
        assert_eq!(drain(&mut b_rx), vec![presence(&["a"])]);
        b.set_present(true);
        assert_eq!(drain(&mut a_rx), vec![presence(&["a", "b"])]);
        assert_eq!(drain(&mut b_rx), vec![presence(&["a", "b"])]);

        a.operation(Bytes::from_static(b"op1"));
        assert_eq!(drain(&mut b_rx), vec![PeerEvent::Operation(Bytes::from_static(b"op1"))]);
        assert!(drain(&mut a_rx).is_empty(), "no echo to the sender");

        let params = json!({"fromId": "a", "toId": "b", "messageId": "m1"});
        assert_eq!(a.unicast(UnicastKind::Send, &params, &Bytes::from_static(b"req")), Unicast::Delivered);
        assert_eq!(
            drain(&mut b_rx),
            vec![PeerEvent::Unicast { event: "send", params, payload: Bytes::from_static(b"req") }]
        );
        assert_eq!(a.unicast(UnicastKind::Send, &json!({"toId": "nobody"}), &Bytes::new()), Unicast::NoRecipient);
        assert_eq!(a.unicast(UnicastKind::Send, &json!({"no": "toId"}), &Bytes::new()), Unicast::NoRecipient);

        drop(b);
        assert_eq!(drain(&mut a_rx), vec![presence(&["a"])]);
        assert_eq!(drain(&mut other_rx), vec![presence(&[])], "other domains see nothing");
        assert_eq!(relay.room_count(), 2);
        drop(other);
        assert_eq!(relay.room_count(), 1);
    }

    #[tokio::test]
    async fn a_peer_that_cannot_keep_up_is_dropped_not_silently_skipped() {
        let relay = relay();
        let (sender, _sender_rx) = relay.attach_peer("d.acc.ex.org", "s");
        let (slow, mut slow_rx) = relay.attach_peer("d.acc.ex.org", "slow");
        slow.set_present(true);
        for i in 0..PEER_QUEUE + 10 {
            sender.operation(Bytes::from(i.to_string()));
        }
        assert_eq!(relay.stats.slow_disconnects.load(Ordering::Relaxed), 1);
        // Everything queued before the drop is still delivered, in order; then
        // the queue ends, which tells the peer to reattach and catch up
        let mut ops = 0;
        while let Some(event) = slow_rx.recv().await {
            if let PeerEvent::Operation(p) = event {
                assert_eq!(p, Bytes::from(ops.to_string()));
                ops += 1;
            }
        }
        assert!(ops > 0 && ops < PEER_QUEUE + 10);
    }

    #[tokio::test]
    async fn unicasts_from_peers_wait_for_room_instead_of_dropping_the_recipient() {
        let relay = relay();
        let (sender, _sender_rx) = relay.attach_peer("d.acc.ex.org", "s");
        let (_receiver, mut receiver_rx) = relay.attach_peer("d.acc.ex.org", "r");
        let params = json!({"toId": "r", "fromId": "s", "channelId": "c"});
        let mut sent = 0;
        while sender.unicast(UnicastKind::Notify, &params, &Bytes::from_static(b"x")) == Unicast::Delivered {
            sent += 1;
        }
        assert_eq!(sender.unicast(UnicastKind::Notify, &params, &Bytes::new()), Unicast::Full);
        assert_eq!(relay.stats.slow_disconnects.load(Ordering::Relaxed), 0);
        // Once the receiver takes something, there is room again
        assert!(receiver_rx.recv().await.is_some());
        assert_eq!(sender.unicast(UnicastKind::Notify, &params, &Bytes::new()), Unicast::Delivered);
        assert!(sent > 1000);
    }
}
