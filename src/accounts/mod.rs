//! Accounts: the model (name, emails, key ids, subdomain naming, remotes
//! auth), its storage, and the account-details patch language of the
//! Administration API. Knows nothing of HTTP.

mod model;
pub mod naming;
mod store;

pub use model::{
    Account, AccountPatch, KeyRecord, KeyidTaken, Naming, PatchError, RemotesAuth, SignerKey, SubdomainRecord,
};
pub use naming::SubdomainId;
pub use store::AccountStore;
pub use store::{Registered, SubdomainPut};
