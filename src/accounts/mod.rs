//! Accounts: the model (name, emails, key ids, subdomain naming, remotes
//! auth), its storage, and the account-details patch language of the
//! Administration API. Knows nothing of HTTP.

pub mod activation;
mod model;
pub mod naming;
mod store;

pub use activation::{Activation, ActivationError, Activations};
pub use model::{
    Account, AccountPatch, KeyRecord, KeyidTaken, Naming, PatchError, RemotesAuth, SignerKey, SubdomainRecord,
    looks_like_email,
};
pub use naming::SubdomainId;
pub use store::{AccountStore, MintOptions, Minted, Registered, SubdomainPut};
