//! Restoring a backup (`archive` format) as a subdomain that does not
//! exist yet. The body is read as a stream and its records are checked and
//! written into a *staged* generation of the new subdomain's dataset, which
//! nothing points at (`meld::Dataset::stage`). Only when the whole backup
//! has checked out (trailer, checksum, count, every record) does one sled
//! transaction both register the subdomain and point the dataset's root at
//! the staged generation. Any refusal drops the staged trees, so nothing of
//! a refused restore is visible, and a crash midway leaves only unreachable
//! trees (dropped when that prefix is next opened).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::archive::{ArchiveError, Header, Item, Reader};
use super::{BackupError, Backups};
use crate::accounts::{Registered, SubdomainId, SubdomainRecord};
use crate::auth::signature::{PublicKey, valid_keyid};
use crate::meld::dataset::Staged;
use crate::meld::{Dataset, DatasetError};
use crate::store::{StoreError, clone_tree_prefix};

/// Longest line accepted in a backup (a record holds one operation, whose
/// size the relay bounds well below this).
const MAX_LINE: usize = 64 * 1024 * 1024;
/// Bytes of records gathered before they are written.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// Why a restore was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The backup is damaged or not one (400; the message is public).
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The backup reads but cannot be restored here (400; public message).
    #[error("{0}")]
    Invalid(String),
    /// The subdomain exists.
    #[error("the subdomain exists")]
    Exists,
    /// The subdomain was removed; its name cannot be used again.
    #[error("the subdomain was removed and cannot be re-created")]
    Tombstoned,
    /// No such account.
    #[error("no such account")]
    NoAccount,
    /// The body is over the limit.
    #[error("backup larger than the limit")]
    TooLarge,
    /// The body could not be read (the client went away).
    #[error("request body unreadable: {0}")]
    Body(String),
    /// Storage failed.
    #[error(transparent)]
    Backup(#[from] BackupError),
}

impl From<StoreError> for RestoreError {
    fn from(e: StoreError) -> Self {
        RestoreError::Backup(BackupError::Store(e))
    }
}

impl From<DatasetError> for RestoreError {
    fn from(e: DatasetError) -> Self {
        match e {
            // Bytes in the backup that this engine would never have written
            DatasetError::Corruption(detail) => RestoreError::Invalid(format!("backup record not valid: {detail}")),
            other => RestoreError::Backup(BackupError::Dataset(other)),
        }
    }
}

/// What a restore created.
#[derive(Debug)]
pub struct Restored {
    /// The backup's header.
    pub header: Header,
    /// Records restored.
    pub records: u64,
}

impl Backups {
    /// Whether `sd` could be restored into now (checked again, atomically,
    /// when the restore finishes): cheap refusals before reading a body.
    pub fn restorable(&self, sd: &SubdomainId) -> Result<(), RestoreError> {
        let accounts = &self.inner.accounts;
        if accounts.get(&sd.account)?.is_none() {
            return Err(RestoreError::NoAccount);
        }
        if accounts.subdomain(&sd.account, &sd.name)?.is_some() {
            return Err(RestoreError::Exists);
        }
        if accounts.tombstoned(&sd.account, &sd.name)? {
            return Err(RestoreError::Tombstoned);
        }
        Ok(())
    }

    /// Restores the backup read from `body` (at most `limit` bytes) as the
    /// new subdomain `sd`; see the module docs.
    pub async fn restore<E: std::fmt::Display>(
        &self,
        sd: &SubdomainId,
        body: impl Stream<Item = Result<Bytes, E>> + Unpin,
        limit: u64,
        now_ms: u64,
    ) -> Result<Restored, RestoreError> {
        self.restorable(sd)?;
        let db = self.inner.store.db().clone();
        let prefix = clone_tree_prefix(&sd.account, &sd.name);
        let staged = blocking(move || Dataset::stage(&db, &prefix).map_err(RestoreError::from)).await?;
        let mut slot = Some(staged);
        let outcome = self.fill(sd, body, limit, now_ms, &mut slot).await;
        if outcome.is_err()
            && let Some(staged) = slot
        {
            // Refused: leave nothing of it behind
            if let Err(e) = blocking(move || staged.abandon().map_err(RestoreError::from)).await {
                tracing::warn!(error = %e, "cannot drop the trees of a refused restore");
            }
        }
        outcome
    }

    /// Reads, checks and stages the body, then publishes it. On error the
    /// staged dataset is left in `slot` for the caller to drop.
    async fn fill<E: std::fmt::Display>(
        &self,
        sd: &SubdomainId,
        mut body: impl Stream<Item = Result<Bytes, E>> + Unpin,
        limit: u64,
        now_ms: u64,
        slot: &mut Option<Staged>,
    ) -> Result<Restored, RestoreError> {
        let domain = sd.to_domain(&self.inner.gateway_domain);
        let mut reader = Reader::new(MAX_LINE);
        let mut header = None;
        let mut read = 0u64;
        let mut items = Vec::new();
        let mut pending = Vec::new();
        let mut pending_bytes = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| RestoreError::Body(e.to_string()))?;
            read += chunk.len() as u64;
            if read > limit {
                return Err(RestoreError::TooLarge);
            }
            reader.feed(&chunk, &mut items)?;
            for item in items.drain(..) {
                match item {
                    Item::Header(h) => {
                        check_header(&h, &domain)?;
                        header = Some(h);
                    }
                    Item::Record(r) => {
                        pending_bytes += r.key.len() + r.value.len();
                        pending.push((r.tree, r.key, r.value));
                    }
                }
            }
            if pending.len() >= Staged::batch_size() || pending_bytes >= BATCH_BYTES {
                stage(slot, std::mem::take(&mut pending)).await?;
                pending_bytes = 0;
            }
        }
        let records = reader.finish()?;
        stage(slot, pending).await?;
        let header = header.ok_or(ArchiveError::Truncated)?;
        let staged = slot.take().ok_or(BackupError::Unavailable)?;
        let record = SubdomainRecord {
            use_signatures: header.use_signatures,
            signers: header.signers.clone(),
            created: now_ms,
            clone_id: header.clone_id.clone(),
        };
        let accounts = self.inner.accounts.clone();
        let (account, name) = (sd.account.clone(), sd.name.clone());
        let db = self.inner.store.db().clone();
        let (staged, outcome) = blocking(move || {
            let published = (|| {
                staged.finish()?;
                let (root, key, value) = staged.publish_key();
                let registered = accounts.create_subdomain(&account, &name, &record, (root, key, &value))?;
                db.flush().map_err(StoreError::from)?;
                Ok::<_, RestoreError>(registered)
            })();
            Ok::<_, RestoreError>((staged, published))
        })
        .await?;
        let refused = match outcome {
            Ok(Registered::Created(_)) => return Ok(Restored { header, records }),
            Ok(Registered::Tombstoned) => RestoreError::Tombstoned,
            Ok(Registered::NoAccount) => RestoreError::NoAccount,
            Ok(_) => RestoreError::Exists,
            Err(e) => e,
        };
        *slot = Some(staged);
        Err(refused)
    }
}

/// Writes a batch of records into the staged dataset (off the async workers).
async fn stage(slot: &mut Option<Staged>, batch: Vec<(String, Vec<u8>, Vec<u8>)>) -> Result<(), RestoreError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut staged = slot.take().ok_or(BackupError::Unavailable)?;
    let (staged, result) = blocking(move || {
        let result = staged.insert(&batch).map_err(RestoreError::from);
        Ok((staged, result))
    })
    .await?;
    *slot = Some(staged);
    result
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RestoreError> + Send + 'static,
) -> Result<T, RestoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|_| RestoreError::Backup(BackupError::Unavailable))?
}

/// The header must be of this very domain (a restore recreates the same
/// m-ld domain, see the HTTP API docs), with settings a `PUT` could have made.
fn check_header(header: &Header, domain: &str) -> Result<(), RestoreError> {
    if header.domain != domain {
        return Err(RestoreError::Invalid(format!(
            "this backup is of domain {}; it can only be restored as that domain",
            header.domain.chars().take(200).collect::<String>()
        )));
    }
    let id_ok = (1..=128).contains(&header.clone_id.len())
        && header.clone_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !id_ok {
        return Err(RestoreError::Invalid("backup header: cloneId is not a clone id".into()));
    }
    for signer in &header.signers {
        if !valid_keyid(&signer.keyid) || PublicKey::from_base64_spki(&signer.public).is_err() {
            return Err(RestoreError::Invalid("backup header: a signer's key is not valid".into()));
        }
    }
    Ok(())
}
