//! json-rql over a clone's [`Dataset`]: the queries and writes of the Clone
//! API, evaluated as the JS engine (`@m-ld/m-ld` 0.10) evaluates them, with
//! results in the JSON its `read` returns. Self-contained: knows nothing of
//! HTTP, clocks or operations — a write resolves to triples, which the
//! caller applies as a local operation.
//!
//! Map:
//! - [`ast`]: the typed request — patterns, groups, filters, reads, writes.
//! - `parse`: JSON → [`Read`]/[`Write`] ([`parse_read`], [`parse_write`]),
//!   refusing anything not understood with a [`JrqlError`]; `subject`
//!   (subjects → triple patterns), `expr` (`@filter`, `@values`) and
//!   `template` (`@construct`) are its parts.
//! - `solve`: solutions of a group by index lookups; `filter`: operators
//!   and `@orderBy` order.
//! - `read` ([`read`]): describe, select and construct (`construct`).
//! - `write` ([`resolve_write`]): a write → triples to delete and insert;
//!   `skolem`: fresh ids for inserted subjects without `@id`.
//!
//! All IRIs are expanded and compacted against [`Context::domain`].
//!
//! [`Dataset`]: crate::meld::Dataset
//! [`Context::domain`]: crate::meld::Context::domain

pub mod ast;
mod construct;
mod error;
mod expr;
mod filter;
mod parse;
mod read;
mod skolem;
mod solve;
mod subject;
mod template;
mod write;

#[cfg(test)]
mod tests;

pub use ast::{Read, Write};
pub use error::JrqlError;
pub use parse::{parse_read, parse_read_json, parse_write, parse_write_json, parse_write_with};
pub use read::read;
pub use skolem::generator as skolem_generator;
pub use solve::MAX_SOLUTIONS;
pub use write::{Resolved, resolve_write};
