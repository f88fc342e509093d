//! The Socket.io remotes relay that `@m-ld/m-ld`'s `IoRemotes` expects (see
//! `shared/protocol/m-ld-wire.md` §1): handshake authorisation, one room per
//! domain, presence, `operation` broadcast and `send`/`reply`/`notify`
//! unicast. It routes bytes and never decodes m-ld payloads.
//!
//! socketioxide spawns one task per incoming event, which would let two
//! events of one socket overtake each other. The relay does its routing in
//! the synchronous extraction step instead (see `events`), which runs in the
//! socket's receive order, and leaves the spawned handler empty.

mod budget;
mod events;
mod handshake;
mod peer;
mod recheck;
mod room;
mod stats;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use socketioxide::extract::SocketRef;
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::Sid;
use socketioxide::{SocketIo, TransportType};

use crate::accounts::SubdomainId;
use crate::auth::Authority;
pub use peer::{PEER_QUEUE, Peer, PeerEvent, PeerEvents};
use std::future::Future;
use std::pin::Pin;

pub use budget::MessageLimits;
pub use handshake::HandshakeQuery;
pub use recheck::spawn_rechecks;
pub use room::Unicast;
use room::{Room, Sink};
pub use stats::RelayStats;

/// Relay limits from configuration.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Packets queued per socket before it is disconnected as too slow.
    pub max_buffered_packets: usize,
    /// Per-socket message rate and size.
    pub messages: MessageLimits,
}

impl RelayConfig {
    /// The transport's own cap on a message: above the relay's, so that a
    /// message over the relay's limit still arrives whole and the relay can
    /// tell its sender (the transport would close the connection without a
    /// word). Half again covers base64 over long-polling; only messages
    /// past it are cut by the transport alone.
    pub fn transport_max_bytes(&self) -> u64 {
        let max = self.messages.max_bytes;
        max.saturating_add(max / 2).saturating_add(64 * 1024)
    }
}

/// How long a socket over its limit stays open after being told, before
/// it is disconnected; its messages meanwhile are ignored.
const REFUSAL_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Opens a registered subdomain's backup clone and resolves once it is
/// present, so that sockets are only admitted to a domain someone can serve.
pub trait DomainOpener: Send + Sync {
    /// Ensures the backup clone of `sd` is open and present; `Ok(false)` if
    /// `sd` is not a registered subdomain (a UUID subdomain has no backup).
    fn open(&self, sd: SubdomainId) -> Pin<Box<dyn Future<Output = Result<bool, OpenError>> + Send + '_>>;
}

/// Why a registered subdomain's backup clone could not be made present.
#[derive(Debug)]
pub enum OpenError {
    /// Its stored data failed an integrity check: refused until repaired.
    Quarantined,
    /// Anything else (logged; the client may try again later).
    Unavailable(String),
}

/// The relay's shared state: rooms by domain, and counters.
pub struct Relay {
    rooms: Mutex<HashMap<Arc<str>, Arc<Room>>>,
    authority: Authority,
    opener: OnceLock<Arc<dyn DomainOpener>>,
    /// Wakes the admission re-check (credentials changed).
    recheck: Arc<tokio::sync::Notify>,
    /// Each socket's message rate and size.
    limits: MessageLimits,
    /// What the relay has done.
    pub stats: RelayStats,
}

/// A connected socket's place in the relay, kept in its extensions.
pub(crate) struct Conn {
    domain: Arc<str>,
    clone_id: Arc<str>,
    /// Set once the socket has joined its room.
    room: OnceLock<Arc<Room>>,
    /// Set once the socket has disconnected: it must not join any more.
    closed: AtomicBool,
    /// What it was admitted with, checked again when credentials change.
    admission: crate::auth::Admission,
    /// The client's IP (for the log when it is refused).
    ip: Option<IpAddr>,
    /// Its message budget.
    budget: budget::Budget,
    /// Set once it broke a limit: the rest of its messages are ignored.
    refused: AtomicBool,
}

/// The per-socket limit a message broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// Messages per second (after the burst).
    Rate,
    /// Bytes in one message.
    Size,
}

impl Exceeded {
    /// The metric label and the word the socket is told.
    pub fn label(self) -> &'static str {
        match self {
            Exceeded::Rate => "rate",
            Exceeded::Size => "size",
        }
    }
}

impl Relay {
    /// A relay that authorises handshakes with `authority` and holds each
    /// socket to `limits`.
    pub fn new(authority: Authority, limits: MessageLimits) -> Arc<Self> {
        Arc::new(Relay {
            rooms: Mutex::new(HashMap::new()),
            authority,
            opener: OnceLock::new(),
            recheck: Arc::new(tokio::sync::Notify::new()),
            limits,
            stats: RelayStats::default(),
        })
    }

    /// Installs what opens backup clones (the layer above sets it once).
    pub fn set_opener(&self, opener: Arc<dyn DomainOpener>) {
        if self.opener.set(opener).is_err() {
            tracing::error!("relay: domain opener set twice; keeping the first");
        }
    }

    /// The socketioxide layer and handle serving this relay.
    pub fn layer(self: &Arc<Self>, config: &RelayConfig) -> (socketioxide::layer::SocketIoLayer, SocketIo) {
        let transport_max = config.transport_max_bytes();
        let parser = socketioxide::ParserConfig::common()
            // m-ld events carry exactly one binary payload
            .max_incoming_binaries(2)
            .max_incoming_binary_buf_size(usize::try_from(transport_max).unwrap_or(usize::MAX))
            .packet_completion_timeout(std::time::Duration::from_secs(10));
        let (layer, io) = SocketIo::builder()
            .with_parser(parser)
            .max_buffer_size(config.max_buffered_packets)
            .max_payload(transport_max)
            .ws_max_message_size(usize::try_from(transport_max).unwrap_or(usize::MAX))
            .transports([TransportType::Polling, TransportType::Websocket])
            .with_state(self.clone())
            .build_layer();
        io.ns("/", on_connect.with(handshake::authorise));
        (layer, io)
    }

    fn rooms(&self) -> MutexGuard<'_, HashMap<Arc<str>, Arc<Room>>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins a connection to its domain's room (once), creating the room
    /// if needed, and returns the room and whether this call joined it. Joining and leaving both hold the
    /// rooms map, so a room is never dropped while someone is joining it.
    fn join(&self, conn: &Conn, sid: Sid, sink: Sink) -> Option<(Arc<Room>, bool)> {
        let slow;
        let room = {
            let mut rooms = self.rooms();
            if conn.closed.load(Ordering::Acquire) {
                return None;
            }
            if let Some(room) = conn.room.get() {
                return Some((room.clone(), false));
            }
            let room =
                rooms.entry(conn.domain.clone()).or_insert_with(|| Arc::new(Room::new(conn.domain.clone()))).clone();
            slow = room.join(sid, sink, conn.clone_id.clone(), &self.stats);
            let _ = conn.room.set(room.clone());
            room
        };
        self.disconnect_slow(slow);
        Some((room, true))
    }

    /// Drops members that could not keep up, outside any room lock. They
    /// leave their room at once (so nothing more is queued for them and the
    /// others see them go), then sockets are closed so that their clones
    /// reconnect and revup; a socket's close waits for room in its full
    /// queue, so it is retried from a task.
    fn disconnect_slow(&self, slow: room::Slow) {
        for sink in slow {
            match sink {
                Sink::Socket(socket) => {
                    if let Some(conn) = socket.extensions.get::<Arc<Conn>>() {
                        self.leave(&conn, socket.id);
                    }
                    tracing::warn!(sid = %socket.id, "relay: socket send queue full; disconnecting it so its clone revs up");
                    tokio::spawn(close_when_possible(socket));
                }
                Sink::Peer(peer) => {
                    tracing::warn!("relay: in-process peer queue full; dropping it so it catches up");
                    peer.drop_from(self);
                }
            }
        }
    }

    /// Whether a socket's message keeps to its limits: one atomic
    /// load and store, and a length sum on the way through.
    #[inline]
    fn check_limits(&self, conn: &Conn, bytes: usize) -> Result<(), Exceeded> {
        if bytes as u64 > self.limits.max_bytes {
            return Err(Exceeded::Size);
        }
        if !conn.budget.take(&self.limits) {
            return Err(Exceeded::Rate);
        }
        Ok(())
    }

    /// A socket broke a limit: log it, count it, tell it (an `error` event
    /// with `{code, message, limit}`), then take it out of its room and
    /// disconnect it (its client sees "io server disconnect"; `@m-ld/m-ld`
    /// logs that and does not reconnect). The rest of its messages are
    /// ignored. Only the first breach does this.
    fn refuse(&self, socket: &SocketRef, conn: &Conn, exceeded: Exceeded, bytes: usize) {
        if conn.refused.swap(true, Ordering::Relaxed) {
            return;
        }
        let limits = self.limits;
        match exceeded {
            Exceeded::Rate => self.stats.refused_rate.fetch_add(1, Ordering::Relaxed),
            Exceeded::Size => self.stats.refused_size.fetch_add(1, Ordering::Relaxed),
        };
        let ip = conn.ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string());
        tracing::warn!(
            sid = %socket.id, domain = %conn.domain, id = %conn.clone_id, %ip, exceeded = exceeded.label(), bytes,
            max_bytes = limits.max_bytes, per_sec = limits.per_sec, burst = limits.burst,
            "relay: socket over its limit; told and disconnected"
        );
        let message = match exceeded {
            Exceeded::Rate => {
                format!("too many messages: at most {} per second, {} at once", limits.per_sec, limits.burst)
            }
            Exceeded::Size => format!("message too large: {bytes} bytes, at most {}", limits.max_bytes),
        };
        let told = serde_json::json!({ "code": "LimitExceeded", "limit": exceeded.label(), "message": message });
        if let Err(e) = socket.emit("error", &told) {
            tracing::debug!(sid = %socket.id, error = %e, "relay: could not tell the socket why it is cut off");
        }
        self.leave(conn, socket.id);
        // A moment before the close: the `error` event gets flushed, and
        // what the socket already sent is read (and ignored) rather than
        // left unread, which would make the close a TCP reset that can
        // drop the event and the disconnect packet on the client's side
        let socket = socket.clone();
        tokio::spawn(async move {
            tokio::time::sleep(REFUSAL_GRACE).await;
            close_when_possible(socket).await;
        });
    }

    /// Removes a socket from its room, dropping the room once empty.
    fn leave(&self, conn: &Conn, sid: Sid) {
        let slow = {
            let mut rooms = self.rooms();
            conn.closed.store(true, Ordering::Release);
            let Some(room) = conn.room.get() else { return };
            let (empty, slow) = room.leave(sid, &self.stats);
            if empty {
                rooms.remove(room.domain());
            }
            slow
        };
        self.disconnect_slow(slow);
    }

    /// Disconnects every member of a domain (its subdomain was removed).
    pub fn close_domain(&self, domain: &str) {
        let room = self.rooms().get(domain).cloned();
        if let Some(room) = room {
            for sink in room.members() {
                match sink {
                    Sink::Socket(socket) => {
                        tokio::spawn(close_when_possible(socket));
                    }
                    Sink::Peer(peer) => peer.drop_from(self),
                }
            }
        }
    }

    /// Number of domains with connected sockets.
    pub fn room_count(&self) -> usize {
        self.rooms().len()
    }
}

/// Closes a socket whose queue was full: socketioxide queues the disconnect
/// packet like any other, so retry until it fits or the socket is gone.
async fn close_when_possible(socket: SocketRef) {
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match socket.clone().disconnect() {
            Err(socketioxide::SocketError::InternalChannelFull) if tokio::time::Instant::now() < give_up => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(socketioxide::SocketError::InternalChannelFull) => {
                tracing::error!(sid = %socket.id, "relay: could not close a stalled socket in 60 s");
                return;
            }
            Ok(()) | Err(_) => return,
        }
    }
}

/// The unicast events of the m-ld remotes protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnicastKind {
    /// A request (`send`).
    Send,
    /// A response or ACK (`reply`).
    Reply,
    /// A channel notification (`notify`).
    Notify,
}

impl UnicastKind {
    /// The Socket.io event name.
    pub fn name(self) -> &'static str {
        match self {
            UnicastKind::Send => "send",
            UnicastKind::Reply => "reply",
            UnicastKind::Notify => "notify",
        }
    }
}

/// Runs after a handshake is accepted: joins the room (which sends the
/// first presence list) and arranges to leave it on disconnect.
async fn on_connect(socket: SocketRef, socketioxide::extract::State(relay): socketioxide::extract::State<Arc<Relay>>) {
    let Some(conn) = socket.extensions.get::<Arc<Conn>>() else {
        tracing::error!(sid = %socket.id, "relay: accepted socket has no connection state");
        let _ = socket.disconnect();
        return;
    };
    if !socket.connected() {
        return; // gone already
    }
    if let Some((room, false)) = relay.join(&conn, socket.id, Sink::Socket(socket.clone())) {
        // An early event joined the room before the socket counted as
        // connected, when the first presence list could not be sent yet
        relay.disconnect_slow(room.send_presence(socket.id, &relay.stats));
    }
}
