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

/// What one kind of event does, given the message parts.
pub(super) trait Route {
    fn route(
        relay: &Relay,
        conn: &Conn,
        s: &Arc<Socket<LocalAdapter>>,
        socket: &SocketRef,
        v: &mut Value,
        ack_id: &Option<i64>,
    );
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
            E::route(&relay, &conn, s, &socket, v, ack_id);
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
    fn route(
        relay: &Relay,
        conn: &Conn,
        s: &Arc<Socket<LocalAdapter>>,
        socket: &SocketRef,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) {
        let Ok(TryData(parsed)) = TryData::<(bool,)>::from_message_parts(s, v, ack_id);
        let Ok((present,)) = parsed else {
            return malformed(relay, socket, conn, "present", "argument is not a boolean");
        };
        if let Some(room) = room_of(relay, conn, socket) {
            relay.disconnect_slow(room.set_present(socket.id, present, &relay.stats));
        }
    }
}

/// `operation(Buffer)`: to every other socket of the domain.
pub(super) struct Operation;
impl Route for Operation {
    fn route(
        relay: &Relay,
        conn: &Conn,
        s: &Arc<Socket<LocalAdapter>>,
        socket: &SocketRef,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) {
        let Ok(TryData(parsed)) = TryData::<(Bytes,)>::from_message_parts(s, v, ack_id);
        let Ok((payload,)) = parsed else {
            return malformed(relay, socket, conn, "operation", "argument is not binary");
        };
        relay.stats.operations.fetch_add(1, Ordering::Relaxed);
        if let Some(room) = room_of(relay, conn, socket) {
            relay.disconnect_slow(room.broadcast_operation(socket.id, &payload, &relay.stats));
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
    fn route(
        relay: &Relay,
        conn: &Conn,
        s: &Arc<Socket<LocalAdapter>>,
        socket: &SocketRef,
        v: &mut Value,
        ack_id: &Option<i64>,
    ) {
        let Ok(ack) = AckSender::from_message_parts(s, v, ack_id);
        let Ok(TryData(parsed)) = TryData::<(serde_json::Value, Bytes)>::from_message_parts(s, v, ack_id);
        let to = match &parsed {
            Ok((params, _)) => params.get("toId").and_then(serde_json::Value::as_str),
            Err(_) => None,
        };
        let (Ok((params, payload)), Some(to)) = (&parsed, to) else {
            malformed(relay, socket, conn, E::KIND.name(), "expected (params with toId, binary payload)");
            let _ = ack.send(&("malformed message",));
            return;
        };
        relay.stats.unicasts.fetch_add(1, Ordering::Relaxed);
        if let Some(room) = room_of(relay, conn, socket) {
            let (n, slow) = room.unicast(E::KIND.name(), to, params, payload, &relay.stats);
            if n == 0 {
                relay.stats.unicasts_unrouted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(domain = %conn.domain, from = %conn.clone_id, to, event = E::KIND.name(), "relay: recipient not connected");
            }
            relay.disconnect_slow(slow);
        }
        let _ = ack.send(&None::<()>);
    }
}
