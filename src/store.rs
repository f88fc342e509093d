//! The one sled database under the data path, and where each kind of data
//! lives in it. Typed wrappers over these trees live beside their models
//! (`accounts::AccountStore`); no other code names trees or builds keys.
//!
//! Key layout:
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `accounts` | account name (UTF-8) | JSON [`crate::accounts::Account`] |
//! | `keys` | key id (UTF-8) | JSON [`crate::accounts::KeyRecord`] |
//! | `subdomains` | `<account>/<name>` | JSON [`crate::accounts::SubdomainRecord`] |
//! | `tombstones` | `<account>/<name>` | removal time, ms since the epoch (8 bytes BE) |
//! | `activations` | SHA-256 of the activation token | JSON [`crate::accounts::Activation`] |
//! | `clone/<account>/<name>/…` | see `meld::dataset` | one backup clone's data and journal |
//! | `updates/<account>/<name>` | `@ticks`, u64 BE | `@emitCount` (u32 BE), then the `MeldUpdate` JSON (Clone API poll queue) |

use std::path::Path;

/// Tree holding account records.
pub const ACCOUNTS_TREE: &str = "accounts";
/// Tree holding key records by key id.
pub const KEYS_TREE: &str = "keys";
/// Tree holding named subdomain records.
pub const SUBDOMAINS_TREE: &str = "subdomains";
/// Tree holding the names of removed subdomains, which cannot be re-used.
pub const TOMBSTONES_TREE: &str = "tombstones";
/// Pending email activations: `sha256(token)` → JSON activation record.
pub const ACTIVATIONS_TREE: &str = "activations";

/// Prefix of the trees of one backup clone.
pub fn clone_tree_prefix(account: &str, name: &str) -> String {
    format!("clone/{account}/{name}")
}

/// Name of the tree queueing one subdomain's updates for Clone API polls.
pub fn update_queue_tree_name(account: &str, name: &str) -> String {
    format!("updates/{account}/{name}")
}

/// Storage failures. `Corruption` means stored bytes we cannot read back.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled itself failed (I/O, or a conflict it could not resolve).
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record did not decode.
    #[error("corrupt record in {tree}: {detail}")]
    Corruption {
        /// Tree name.
        tree: &'static str,
        /// What failed.
        detail: String,
    },
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        }
    }
}

/// The gateway's database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
}

impl Store {
    /// Opens (creating if needed) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            // Bounded page cache: idle memory matters more than scan speed here
            .cache_capacity(16 * 1024 * 1024)
            .flush_every_ms(Some(500))
            .open()?;
        Ok(Store { db })
    }

    /// A temporary database, deleted on drop (tests).
    pub fn temporary() -> Result<Self, StoreError> {
        Ok(Store { db: sled::Config::new().temporary(true).open()? })
    }

    /// Opens a tree by its documented name.
    pub fn tree(&self, name: &'static str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name)?)
    }

    /// The underlying database, for modules that manage their own trees
    /// (the engine's datasets, under [`clone_tree_prefix`]).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// Flushes everything to disk. Blocking: call from a blocking task.
    pub fn flush(&self) -> Result<usize, StoreError> {
        Ok(self.db.flush()?)
    }
}
