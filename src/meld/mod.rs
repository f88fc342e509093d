//! The m-ld clone engine: clocks, msgpack, operations. Knows nothing of HTTP,
//! Socket.io or accounts (sans-IO: feed it bytes, get bytes back).
//!
//! Map:
//! - [`value`]: the JS value model m-ld messages are made of ([`Value`]).
//! - [`msgpack`]: byte-exact `@ably/msgpack-js` encoding and a hardened decoder.
//! - [`clock`]: [`TreeClock`] (causal time, one process's identity) and the
//!   TID hash; [`gwc`]: [`GlobalClock`], the latest public tick and TID of
//!   every process.
//! - [`jrql`]: json-rql reads and writes over a [`Dataset`] (the Clone API).
//! - [`jsonld`]: operation JSON-LD ⇄ triples under a domain's [`Context`],
//!   and subjects rendered for reads.
//! - [`list`]: m-ld's default list: slot index entailment and the
//!   resolutions JS clones apply (`DefaultList`).
//! - [`op`]: `OperationMessage`/`EncodedOperation` ⇄ [`MeldOperation`],
//!   fusion and cutting; [`control`]: control messages, notifications, snapshot data.
//! - [`term`]: RDF terms, literals (identity without indirected data), triples, TIDs.
//! - [`dataset`]: a clone's SU-Set triples and journal on sled ([`Dataset`]).
//! - [`integrity`]: replaying a stored journal against its dataset and clocks (offline verification).
//! - [`error`]: the engine's one error type.
//!
//! Wire reference: `shared/protocol/m-ld-wire.md`; golden vectors from the
//! JS engine in `shared/protocol/vectors/` drive the tests.

pub mod clock;
pub mod clone;
pub mod control;
pub mod dataset;
pub mod error;
pub mod gwc;
pub mod integrity;
pub mod jrql;
pub mod jsonld;
pub mod list;
pub mod msgpack;
pub mod op;
pub mod term;
pub mod value;

#[cfg(test)]
mod vectors;

pub use clock::{TickTree, TreeClock};
pub use clone::{Admit, CloneConfig, CloneError, Input, Liveness, MeldClone, Output, Params, Unsupported, Update};
pub use dataset::{Dataset, DatasetError};
pub use error::Error;
pub use gwc::GlobalClock;
pub use jrql::JrqlError;
pub use jsonld::Context;
pub use op::{Agreed, Attribution, MeldOperation, OperationMessage};
pub use term::{Literal, Term, Tid, TidPatch, TidSet, Triple};
pub use value::{Object, Value};
