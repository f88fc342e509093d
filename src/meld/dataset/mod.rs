//! The SU-Set dataset and journal of one clone, on sled (wire doc §6.1, §7.3,
//! §8). Owns the triples with their TID sets, entailed triples, indirected
//! literal data, the journal (entries, operations and prevs by TID) and the
//! journal state. Knows nothing of operation encoding (operations are opaque
//! bytes), of clocks beyond storing them, of networking or of async: calls
//! are synchronous and some (scans, snapshots) are long, so async callers run
//! them with `spawn_blocking`.
//!
//! Split as oxigraph splits its storage: [`encoding`] (term → bytes),
//! `keys` (the key layout, documented there in one table), `journal`
//! (journal records), `apply` (the transaction), `read` (queries),
//! `snapshot` (whole-dataset replacement and removal) and `raw` (a
//! byte-exact copy of the trees, for the gateway's backup export/restore);
//! `digest` and `integrity` keep and check a per-generation integrity
//! digest, so a changed byte in any record is found (and the domain
//! quarantined) rather than served.
//!
//! # Crash safety
//!
//! Nothing is flushed per operation: a crash may lose the last operations
//! applied, but never leaves part of one visible.
//!
//! - [`Dataset::apply`] writes an operation's triples, indexes, data refcounts,
//!   journal entry, operation bytes, prev record, triple count and the new
//!   journal state in **one sled transaction over all the generation's trees**.
//!   sled seals a transaction's writes into one log batch and recovers a batch
//!   whole or not at all, so after a crash either all of it is there or none.
//!   The transaction also makes a failure midway (a refused input, an I/O
//!   error) leave nothing behind.
//! - [`Dataset::replace_all`] (snapshot receipt) is too big for one
//!   transaction, so the dataset lives in *generations*: every tree except
//!   `<prefix>/root` is named `<prefix>/g<n>/…`, and `root` says which
//!   generation is current. A replacement fills generation `n + 1`, flushes,
//!   then switches `root` with a single write (flushed too), then drops
//!   generation `n`. A crash before the switch leaves generation `n` current
//!   and `n + 1` half-built; after it, `n + 1` is current and complete. On
//!   [`Dataset::open`], trees of any generation but the current one are
//!   dropped, which finishes either case.
//! - [`Dataset::delete_all`] first points `root` at a generation with no
//!   trees (flushed), then drops the trees, the root last: a crash midway
//!   leaves an empty dataset that a second deletion finishes.
//!
//! Reads are not snapshot-isolated: a scan running beside `apply` sees each
//! triple either before or after an operation, not a single point in time.

mod digest;
pub mod encoding;
mod error;
mod integrity;
mod journal;
mod keys;

mod apply;
mod raw;
mod read;
mod snapshot;

#[cfg(test)]
mod tests;

pub use apply::{Entailments, Removed};
pub use digest::Digest;
pub use encoding::{decode_term, encode_term};
pub use error::DatasetError;
pub use integrity::DigestCheck;
pub use journal::{JournalAppend, JournalEntry, JournalState};
pub use raw::{RawRecord, Staged};
pub use read::{Entries, StoredTriple, Triples};
pub use snapshot::Replacement;

use keys::{GEN_KEY, TREE_NAMES};

/// One clone's SU-Set dataset and journal, in trees of a shared sled database.
pub struct Dataset {
    db: sled::Db,
    prefix: String,
    root: sled::Tree,
    generation: u64,
    /// The current generation's trees, in [`TREE_NAMES`] order (indexed by
    /// the constants in `keys`), as one slice so a transaction can span them.
    trees: Trees,
    /// Counts replacements begun, so only the latest can be finished.
    replacements: u64,
}

impl Dataset {
    /// Opens (or creates, empty) the dataset whose trees are named from
    /// `prefix`, finishing any snapshot replacement a crash interrupted.
    ///
    /// A fresh dataset has no [state](Dataset::state) until the caller saves
    /// one (genesis or snapshot).
    pub fn open(db: &sled::Db, prefix: &str) -> Result<Self, DatasetError> {
        let root = db.open_tree(keys::root_tree_name(prefix))?;
        let generation = match root.get(GEN_KEY)? {
            None => 0,
            Some(bytes) => {
                keys::decode_tick_key(&bytes).map_err(|_| DatasetError::corrupt("root: generation is not 8 bytes"))?
            }
        };
        drop_generations(db, prefix, |g| g != generation)?;
        let trees = open_generation(db, prefix, generation)?;
        let dataset = Dataset { db: db.clone(), prefix: prefix.to_owned(), root, generation, trees, replacements: 0 };
        dataset.ensure_digest()?;
        Ok(dataset)
    }

    /// Opens an existing dataset to check it, writing nothing: no
    /// interrupted replacement is finished and no digest is stored.
    /// `None` if there is no dataset under `prefix` (or only an empty root).
    pub fn inspect(db: &sled::Db, prefix: &str) -> Result<Option<Self>, DatasetError> {
        let root_name = keys::root_tree_name(prefix);
        if !db.tree_names().iter().any(|n| n.as_ref() == root_name.as_bytes()) {
            return Ok(None);
        }
        let root = db.open_tree(root_name)?;
        let generation = match root.get(GEN_KEY)? {
            None => 0,
            Some(bytes) => {
                keys::decode_tick_key(&bytes).map_err(|_| DatasetError::corrupt("root: generation is not 8 bytes"))?
            }
        };
        // A root pointing at a generation with no trees, while another
        // generation has some, is a damaged root: opening would drop the
        // data. (An interrupted deletion looks the same, but its subdomain
        // is no longer registered; callers that know tell the two apart.)
        let names = db.tree_names();
        let mut generations = names.iter().filter_map(|n| keys::generation_of(prefix, n));
        if !generations.clone().any(|g| g == generation) {
            return match generations.next() {
                Some(other) => Err(DatasetError::corrupt(format!(
                    "root points at generation {generation}, which has no trees, while generation {other} has"
                ))),
                None => Ok(None),
            };
        }
        let trees = open_generation(db, prefix, generation)?;
        Ok(Some(Dataset { db: db.clone(), prefix: prefix.to_owned(), root, generation, trees, replacements: 0 }))
    }

    /// The prefix this dataset's trees are named from.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Writes everything applied so far to disk (blocking; an fsync).
    pub fn flush(&self) -> Result<(), DatasetError> {
        self.db.flush()?;
        Ok(())
    }
}

/// One generation's trees. An array, so indexing by the `keys` constants is
/// checked when compiling.
type Trees = [sled::Tree; TREE_NAMES.len()];

/// Opens (creating) every tree of one generation.
fn open_generation(db: &sled::Db, prefix: &str, generation: u64) -> Result<Trees, DatasetError> {
    let trees = TREE_NAMES
        .iter()
        .map(|name| db.open_tree(keys::tree_name(prefix, generation, name)))
        .collect::<Result<Vec<_>, _>>()?;
    trees.try_into().map_err(|_| DatasetError::corrupt("generation has a missing tree"))
}

/// Drops this prefix's generation trees whose generation matches `which`.
fn drop_generations(db: &sled::Db, prefix: &str, which: impl Fn(u64) -> bool) -> Result<(), DatasetError> {
    for name in db.tree_names() {
        if keys::generation_of(prefix, &name).is_some_and(&which) {
            db.drop_tree(&name)?;
        }
    }
    Ok(())
}
