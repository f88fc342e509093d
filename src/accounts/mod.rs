//! Accounts: the model (name, emails, key ids, subdomain naming, remotes
//! auth), its storage, and the account-details patch language of the
//! Administration API. Knows nothing of HTTP.

pub mod activation;
mod model;
pub mod naming;
mod store;

pub use model::{looks_like_email, Account, AccountPatch, KeyRecord, Naming, PatchError, RemotesAuth, SubdomainRecord};
pub use naming::SubdomainId;
pub use activation::{Activation, ActivationError, Activations};
pub use store::{AccountStore, MintOptions, Minted};
pub use store::Registered;
