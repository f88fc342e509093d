//! The m-ld clone engine: clocks, msgpack, operations. Knows nothing of HTTP,
//! Socket.io or accounts (sans-IO: feed it bytes, get bytes back).
//!
//! Map:
//! - [`value`]: the JS value model m-ld messages are made of ([`Value`]).
//! - [`msgpack`]: byte-exact `@ably/msgpack-js` encoding and a hardened decoder.
//! - [`clock`]: [`TreeClock`] (causal time, one process's identity) and the
//!   TID hash; [`gwc`]: [`GlobalClock`], the latest public tick and TID of
//!   every process.
//! - [`jsonld`]: operation JSON-LD ⇄ RDF terms (so far: number literals).
//! - [`term`]: RDF terms, literals (identity without indirected data), triples, TIDs.
//! - [`error`]: the engine's one error type.
//!
//! Wire reference: `shared/protocol/m-ld-wire.md`; golden vectors from the
//! JS engine in `shared/protocol/vectors/` drive the tests.

pub mod clock;
pub mod error;
pub mod gwc;
pub mod jsonld;
pub mod msgpack;
pub mod term;
pub mod value;

#[cfg(test)]
mod vectors;

pub use clock::{TickTree, TreeClock};
pub use error::Error;
pub use gwc::GlobalClock;
pub use term::{Literal, Term, Tid, TidPatch, TidSet, Triple};
pub use value::{Object, Value};
