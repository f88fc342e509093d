//! Authentication and authorisation: who is asking (root, an account, or
//! nobody) and whether they may do what they ask. Every HTTP route and every
//! socket handshake passes through [`Authority`]; nothing else decides access.
//!
//! Knows accounts (to check keys and settings) but nothing of HTTP or
//! Socket.io framing: the transports hand it parsed credentials.

mod credentials;
pub mod jwt;
mod key;
pub mod lockout;
mod policy;
pub mod rsa_pair;
pub mod signature;

pub use credentials::{Credentials, HandshakeAuth};
pub use key::{AuthKey, KEYID_LEN, SecretHash};
pub use policy::{Admission, Authority, Caller, Principal};

/// Why authentication or authorisation failed. The `Display` text is safe to
/// show to the client; it never contains secrets.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials where some are required.
    #[error("credentials required")]
    Missing,
    /// Credentials in a form we do not understand.
    #[error("unrecognised credentials")]
    Unrecognised,
    /// A key not of the form `app.keyid:secret`.
    #[error("malformed key")]
    MalformedKey,
    /// Wrong key, unknown key id, unknown user, or a key of another account.
    /// One case for all of them so that a caller learns nothing from which.
    #[error("invalid credentials")]
    BadCredentials,
    /// Authenticated, but not allowed to act on this account or domain.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The OS random source failed.
    #[error("{0}")]
    BadToken(&'static str),
    #[error("key expired")]
    Expired,
    #[error("key revoked")]
    Revoked,
    #[error("cryptography failed: {0}")]
    Crypto(String),
    #[error("random source unavailable: {0}")]
    Random(String),
    /// The store failed while checking.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
