//! The json-rql layer's one error type. Every case but [`JrqlError::Store`]
//! is the client's fault, and its message is short, stable and safe to show
//! the client: it names the offending key or form but never echoes more than
//! a few characters of the input.

use crate::meld::dataset::DatasetError;

/// Longest piece of client input quoted back in a message.
const MAX_QUOTED: usize = 40;

/// Everything that can go wrong parsing or running a json-rql request.
#[derive(Debug, thiserror::Error)]
pub enum JrqlError {
    /// The request body or parameter is not JSON at all.
    #[error("query is not valid JSON")]
    NotJson,
    /// JSON of the wrong shape, e.g. "@where must be an object or array".
    #[error("{0}")]
    Invalid(&'static str),
    /// A key the form does not allow (or json-rql does not define).
    #[error("unknown key {key:?} in {place}")]
    UnknownKey {
        /// The key, shortened.
        key: String,
        /// Where it was found ("query", "group", "subject", "write").
        place: &'static str,
    },
    /// A json-rql feature this engine does not implement.
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    /// A string used where a variable (`?name`) is required that is not one.
    #[error("bad variable {0:?}")]
    BadVariable(String),
    /// A filter operator json-rql defines that this engine does not evaluate,
    /// or one it does not define.
    #[error("unsupported operator {0:?}")]
    UnsupportedOperator(String),
    /// The query nests subjects, arrays or expressions too deeply.
    #[error("query is nested too deeply")]
    TooDeep,
    /// Matching produced more solutions than one request may hold.
    #[error("query matches more than {0} solutions")]
    TooManySolutions(usize),
    /// The dataset failed; not the client's fault, and its detail is for logs.
    #[error("store error")]
    Store(#[from] DatasetError),
}

impl JrqlError {
    /// Whether the request itself is at fault (a 4xx), rather than the store.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, JrqlError::Store(_))
    }

    /// An [`JrqlError::UnknownKey`], quoting at most a few characters of `key`.
    pub(crate) fn unknown_key(key: &str, place: &'static str) -> Self {
        JrqlError::UnknownKey { key: quote(key), place }
    }

    /// An [`JrqlError::UnsupportedOperator`], quoting at most a few characters.
    pub(crate) fn unsupported_operator(op: &str) -> Self {
        JrqlError::UnsupportedOperator(quote(op))
    }

    /// A [`JrqlError::BadVariable`], quoting at most a few characters.
    pub(crate) fn bad_variable(text: &str) -> Self {
        JrqlError::BadVariable(quote(text))
    }
}

/// Client text shortened (on a character boundary) for a message.
fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
