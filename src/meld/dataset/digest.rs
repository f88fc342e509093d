//! The integrity digest of one generation: an order-independent set hash
//! over every record of its trees, so that any changed, added or removed
//! byte in any key or value shows as a mismatch when recomputed.
//!
//! The digest is the XOR of SHA-256(tree name, key length, key, value) over
//! every record, except the digest's own record in `meta`. XOR makes it
//! incremental: a write XORs out the old record's hash and XORs in the new
//! one, in the same sled transaction as the write (`apply::Tx::put`), so the
//! stored digest always equals a recomputation over what is stored. A record
//! appears once per (tree, key), so no two equal hashes cancel. The tree
//! name is the generation-independent one (`spo`, not `g3/spo`), so a
//! digest does not depend on the generation number.
//!
//! sled checks its own pages with CRCs; this detects what those cannot: a
//! record changed logically (a bug, a tool writing into the database, a
//! restored copy of one tree), per domain, so one damaged domain can be
//! quarantined while the others are served.

use sha2::{Digest as _, Sha256};

use super::error::DatasetError;
use super::keys::{DIGEST_KEY, META, TREE_NAMES};

/// Bytes of a digest.
pub const DIGEST_LEN: usize = 32;

/// An order-independent hash of a set of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Digest(pub [u8; DIGEST_LEN]);

impl Digest {
    /// Adds (or, the same operation, removes) one record.
    pub(super) fn toggle(&mut self, tree: usize, key: &[u8], value: &[u8]) {
        if tree == META && key == DIGEST_KEY {
            return;
        }
        let hash = record_hash(tree, key, value);
        self.xor(&Digest(hash));
    }

    /// Combines with another digest (a delta).
    pub(super) fn xor(&mut self, other: &Digest) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a ^= b;
        }
    }

    /// True for the digest of no records.
    pub(super) fn is_zero(&self) -> bool {
        self.0 == [0; DIGEST_LEN]
    }

    /// Reads a stored digest.
    pub(super) fn decode(bytes: &[u8]) -> Result<Self, DatasetError> {
        let bytes: [u8; DIGEST_LEN] =
            bytes.try_into().map_err(|_| DatasetError::corrupt("meta/digest is not 32 bytes"))?;
        Ok(Digest(bytes))
    }

    /// Short hex form for logs and reports.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..8])
    }
}

/// The hash of one record: the tree name and key length first, so that
/// moving bytes between key and value, or a record between trees, changes it.
fn record_hash(tree: usize, key: &[u8], value: &[u8]) -> [u8; DIGEST_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(TREE_NAMES.get(tree).copied().unwrap_or("?").as_bytes());
    hasher.update([0]);
    hasher.update((key.len() as u64).to_be_bytes());
    hasher.update(key);
    hasher.update(value);
    hasher.finalize().into()
}
