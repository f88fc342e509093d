//! Client events: `present`, `operation`, `send`, `reply`, `notify`.
//!
//! Each event is handled by an extractor type whose extraction does the
//! routing. socketioxide runs extraction synchronously, in the socket's
//! receive order, and only then spawns the (empty) handler: routing there
//! keeps one sender's messages in order and saves a task hop per message.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide_core::Value;

use super::{Conn, Relay, Sink, UnicastKind};

/// Registers the relay's event handlers on a socket accepted by the handshake.
pub(super) fn register(socket: &SocketRef) {
    socket.on("present", async |_: Routed<Present>| {});
    socket.on("operation", async |_: Routed<Operation>| {});
    socket.on("send", async |_: Routed<Unicast<SendEv>>| {});
    socket.on("reply", async |_: Routed<Unicast<ReplyEv>>| {});
    socket.on("notify", async |_: Routed<Unicast<NotifyEv>>| {});
}

/// One incoming event and where it came from.
pub(super) struct Msg<'a> {
    relay: &'a Relay,
    conn: &'a Conn,
    s: &'a Arc<Socket<LocalAdapter>>,
    socket: &'a SocketRef,
    v: &'a mut Value,
    ack_id: &'a Option<i64>,
}

impl Msg<'_> {
    /// The event's arguments, decoded as `T`.
    fn args<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, socketioxide::ParserError> {
        let Ok(TryData(parsed)) = TryData::<T>::from_message_parts(self.s, self.v, self.ack_id);
        parsed
    }

    /// The domain's room, joined first if this event arrived before the
    /// connect handler ran.
    fn room(&self) -> Option<Arc<super::Room>> {
        room_of(self.relay, self.conn, self.socket)
    }

    fn malformed(&self, event: &str, why: &str) {
        malformed(self.relay, self.socket, self.conn, event, why);
    }
}

/// What one kind of event does.
pub(super) trait Route {
    fn route(msg: Msg<'_>);
}

/// Extractor that routes the event `E` while being extracted.
pub(super) struct Routed<E>(std::marker::PhantomData<E>);

impl<E: Route> FromMessageParts<LocalAdapter> for Routed<E> {
    type Error = Infallible;
    fn from_message_parts(
        s: &Arc<Socket<LocalAdapter>>,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let socket = SocketRef::from_message_parts(s, v, ack_id)?;
        let State(relay) = match State::<Arc<Relay>>::from_message_parts(s, v, ack_id) {
            Ok(state) => state,
            Err(_) => return Ok(Routed(Default::default())),
        };
        if let Some(conn) = socket.extensions.get::<Arc<Conn>>() {
            if conn.refused.load(Ordering::Relaxed) {
                return Ok(Routed(Default::default()));
            }
            let bytes = match &*v {
                Value::Str(text, bins) => text.len() + bins.as_ref().map_or(0, |b| b.iter().map(Bytes::len).sum()),
                Value::Bytes(b) => b.len(),
            };
            match relay.check_limits(&conn, bytes) {
                Ok(()) => E::route(Msg { relay: &relay, conn: &conn, s, socket: &socket, v, ack_id }),
                Err(exceeded) => relay.refuse(&socket, &conn, exceeded, bytes),
            }
        }
        Ok(Routed(Default::default()))
    }
}

fn room_of(relay: &Relay, conn: &Conn, socket: &SocketRef) -> Option<Arc<super::Room>> {
    conn.room.get().cloned().or_else(|| relay.join(conn, socket.id, Sink::Socket(socket.clone())).map(|(room, _)| room))
}

fn malformed(relay: &Relay, socket: &SocketRef, conn: &Conn, event: &str, why: &str) {
    relay.stats.malformed.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(sid = %socket.id, domain = %conn.domain, id = %conn.clone_id, event, why, "relay: malformed event ignored");
}

/// `present(bool)`: join or leave the domain's presence list.
pub(super) struct Present;
impl Route for Present {
    fn route(mut msg: Msg<'_>) {
        let Ok((present,)) = msg.args::<(bool,)>() else {
            return msg.malformed("present", "argument is not a boolean");
        };
        if let Some(room) = msg.room() {
            msg.relay.disconnect_slow(room.set_present(msg.socket.id, present, &msg.relay.stats));
        }
    }
}

/// `operation(Buffer)`: to every other socket of the domain.
pub(super) struct Operation;
impl Route for Operation {
    fn route(mut msg: Msg<'_>) {
        let Ok((payload,)) = msg.args::<(Bytes,)>() else {
            return msg.malformed("operation", "argument is not binary");
        };
        msg.relay.stats.operations.fetch_add(1, Ordering::Relaxed);
        msg.relay.stats.bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
        if let Some(room) = msg.room() {
            msg.relay.disconnect_slow(room.broadcast_operation(msg.socket.id, &payload, &msg.relay.stats));
        }
    }
}

/// The unicast events, as types (one handler type per event name).
pub(super) trait UnicastEvent {
    const KIND: UnicastKind;
}
pub(super) struct SendEv;
impl UnicastEvent for SendEv {
    const KIND: UnicastKind = UnicastKind::Send;
}
pub(super) struct ReplyEv;
impl UnicastEvent for ReplyEv {
    const KIND: UnicastKind = UnicastKind::Reply;
}
pub(super) struct NotifyEv;
impl UnicastEvent for NotifyEv {
    const KIND: UnicastKind = UnicastKind::Notify;
}

/// `send`/`reply`/`notify(params, Buffer)`: to the clone `params.toId`,
/// forwarded without an ack request; the sender is acked with `null` at once,
/// whether or not the recipient is connected (m-ld's requester times out and
/// tries the next clone by itself).
pub(super) struct Unicast<E>(std::marker::PhantomData<E>);
impl<E: UnicastEvent> Route for Unicast<E> {
    fn route(mut msg: Msg<'_>) {
        let name = E::KIND.name();
        let Ok(ack) = AckSender::from_message_parts(msg.s, msg.v, msg.ack_id);
        let parsed = msg.args::<(serde_json::Value, Bytes)>();
        let to = match &parsed {
            Ok((params, _)) => params.get("toId").and_then(serde_json::Value::as_str),
            Err(_) => None,
        };
        let (Ok((params, payload)), Some(to)) = (&parsed, to) else {
            msg.malformed(name, "expected (params with toId, binary payload)");
            let _ = ack.send(&("malformed message",));
            return;
        };
        let relay = msg.relay;
        relay.stats.unicasts.fetch_add(1, Ordering::Relaxed);
        relay.stats.bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
        if let Some(room) = msg.room() {
            let (n, slow) = room.unicast(name, to, params, payload, &relay.stats);
            if n == 0 {
                relay.stats.unicasts_unrouted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(domain = %msg.conn.domain, from = %msg.conn.clone_id, to, event = name, "relay: recipient not connected");
            }
            relay.disconnect_slow(slow);
        }
        let _ = ack.send(&None::<()>);
    }
}
