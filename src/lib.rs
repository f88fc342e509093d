//! meld-gateway: a Socket.io relay, backup clones and HTTP APIs for m-ld apps.
//!
//! Layers, each knowing only those below it (see `ARCHITECTURE.md`):
//!
//! | module | owns |
//! | --- | --- |
//! | [`config`] | settings from file, `M_LD_GATEWAY_*` environment and flags |
//! | [`server`] | wiring of HTTP and Socket.io on one port, graceful shutdown |
//! | [`http`] | the Administration and Clone APIs (axum): parsing, status codes |
//! | [`relay`] | the Socket.io remotes relay: handshake, rooms, presence, routing |
//! | [`backup`] | backup clones of named subdomains: open on demand, LRU, one thread each; their update queue, lock and broadcast; export and restore (`archive` format) |
//! | [`auth`] | keys, credentials, every access decision |
//! | [`limits`] | rate limits per key, open connections per IP and in total |
//! | [`accounts`] | account model, names, storage |
//! | [`mail`] | activation emails: SMTP, or `.eml` files in an outbox folder |
//! | [`store`] | the sled database and its key layout |
//! | [`meld`] | the m-ld engine (no HTTP, no Socket.io) |
//! | [`verify`] | offline integrity checks of a whole store (`meld-gateway verify`) |

// Tests may unwrap: a panic there is a failed assertion
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod accounts;
pub mod auth;
pub mod backup;
pub mod config;
pub mod devcert;
pub mod error;
pub mod http;
pub mod limits;
pub mod listen;
pub mod mail;
pub mod meld;
pub mod metrics;
pub mod relay;
pub mod rootkey;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod verify;

/// Wall-clock time in ms since the Unix epoch (0 if the clock is before it):
/// record timestamps and expiries.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
