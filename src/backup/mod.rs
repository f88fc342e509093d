//! Backup clones: for every named subdomain the gateway is itself a m-ld
//! clone of the domain, persisted in the store, so any clone can recover the
//! domain's data from the gateway even when no other clone is online.
//!
//! Clones are opened on demand (the first socket or API call for the
//! subdomain) and kept in a bounded least-recently-used set; each runs on a
//! thread of its own (see `task`) and joins the relay as an in-process peer.
//! Each also feeds the Clone API's update following (`follow`, `queue`).
//! Each can be exported and restored whole (`archive`, `export`, `restore`).
//! Knows accounts (which subdomains exist) and the engine; nothing of HTTP.

pub mod archive;
mod export;
mod follow;
mod integrity;
mod queue;
mod restore;
mod signed;
mod task;
mod wire;

pub use export::{Export, ExportFailed};
pub use follow::{Follow, FollowSettings, Queueing};
pub use restore::{RestoreError, Restored};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, oneshot};

use crate::accounts::{AccountStore, SubdomainId};
use crate::meld::{CloneConfig, CloneError, Dataset, DatasetError, MeldClone, Output};
use crate::relay::{DomainOpener, OpenError, Relay};
use crate::store::{Store, StoreError, clone_tree_prefix, update_queue_tree_name};
use task::{Cmd, Spawned};

/// How long opening a backup clone may take until it is present.
const PRESENT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a clone gets to close at shutdown or eviction.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Backup clone failures.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The subdomain is not registered.
    #[error("no such subdomain")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The clone's dataset failed.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// The clone could not open.
    #[error(transparent)]
    Clone(#[from] CloneError),
    /// The clone did not become present in time, or stopped.
    #[error("backup clone unavailable")]
    Unavailable,
    /// The clone thread could not start.
    #[error("cannot start the backup clone: {0}")]
    Thread(#[from] std::io::Error),
    /// The domain's stored data failed its integrity check (see `integrity`).
    #[error("domain quarantined: {0}")]
    Quarantined(Arc<str>),
}

/// What a quarantined domain's clients are told (HTTP and handshakes).
pub const QUARANTINED: &str =
    "domain quarantined: its stored data failed an integrity check; the operator has been told";

/// An open backup clone.
pub struct Backup {
    spawned: Spawned,
    /// The keys its clone verifies with (`useSignatures` subdomains only).
    signers: Option<signed::Signers>,
}

impl Backup {
    fn is_running(&self) -> bool {
        !self.spawned.thread.is_finished()
    }

    /// Runs `f` on the clone's thread (between inputs) and returns its
    /// result; outputs it returns are sent like the clone's own.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut MeldClone, Instant) -> (R, Vec<Output>) + Send + 'static,
    ) -> Result<R, BackupError> {
        self.run_following(move |clone, _, now| f(clone, now)).await
    }

    /// As [`Backup::run`], with the clone's update following (lock, queue).
    pub async fn run_following<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut MeldClone, &mut Follow, Instant) -> (R, Vec<Output>) + Send + 'static,
    ) -> Result<R, BackupError> {
        let (tx, rx) = oneshot::channel();
        let job = Box::new(move |clone: &mut MeldClone, follow: &mut Follow, now: Instant| {
            let (result, out) = f(clone, follow, now);
            let _ = tx.send(result);
            out
        });
        self.spawned.cmd.send(Cmd::Run(job)).map_err(|_| BackupError::Unavailable)?;
        rx.await.map_err(|_| BackupError::Unavailable)
    }

    /// Every update from now on, as `MeldUpdate` JSON. Ends when the clone
    /// closes (e.g. evicted); a slow receiver lags (misses updates).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.spawned.events.subscribe()
    }

    async fn wait_present(&self) -> Result<(), BackupError> {
        let mut present = self.spawned.present.clone();
        match tokio::time::timeout(PRESENT_TIMEOUT, present.wait_for(|p| *p)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(BackupError::Unavailable),
        }
    }

    /// Asks the clone to close; resolves when it has flushed.
    async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.spawned.cmd.send(Cmd::Close(tx)).is_ok() && tokio::time::timeout(CLOSE_TIMEOUT, rx).await.is_err() {
            tracing::warn!("backup clone did not close in time");
        }
    }
}

/// The open backup clones, least recently used first.
#[derive(Default)]
struct Open {
    clones: HashMap<SubdomainId, Arc<Backup>>,
    order: Vec<SubdomainId>,
}

impl Open {
    fn touch(&mut self, sd: &SubdomainId) {
        self.order.retain(|s| s != sd);
        self.order.push(sd.clone());
    }

    fn take(&mut self, sd: &SubdomainId) -> Option<Arc<Backup>> {
        self.order.retain(|s| s != sd);
        self.clones.remove(sd)
    }
}

/// The gateway's backup clones.
#[derive(Clone)]
pub struct Backups {
    inner: Arc<Inner>,
}

struct Inner {
    relay: Arc<Relay>,
    store: Store,
    accounts: AccountStore,
    gateway_domain: String,
    capacity: usize,
    follow: FollowSettings,
    open: Mutex<Open>,
    quarantine: integrity::Quarantine,
}

impl Backups {
    /// Backup clones over `store`, at most `capacity` open at once, their
    /// updates followed within `follow`'s limits.
    pub fn new(
        relay: Arc<Relay>,
        store: Store,
        accounts: AccountStore,
        gateway_domain: String,
        capacity: usize,
        follow: FollowSettings,
    ) -> Self {
        let capacity = capacity.max(1);
        let inner = Inner {
            relay,
            store,
            accounts,
            gateway_domain,
            capacity,
            follow,
            open: Mutex::default(),
            quarantine: integrity::Quarantine::default(),
        };
        Backups { inner: Arc::new(inner) }
    }

    fn lock_open(&self) -> MutexGuard<'_, Open> {
        self.inner.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The backup clone of a registered subdomain, opened if needed; resolves
    /// once it is present in the relay, so that a clone connecting next
    /// always finds it.
    /// A quarantined domain is never opened: its stored data failed the
    /// integrity check made before its first open in this process.
    pub async fn ensure(&self, sd: &SubdomainId) -> Result<Arc<Backup>, BackupError> {
        // Registered first: a removed subdomain's leftovers are not corruption
        self.inner.accounts.subdomain(&sd.account, &sd.name)?.ok_or(BackupError::NotFound)?;
        self.inner.quarantine.check(self.inner.store.db(), sd).await?.map_err(BackupError::Quarantined)?;
        let (backup, evicted) = self.get_or_start(sd)?;
        for old in evicted {
            tokio::spawn(async move { old.close().await });
        }
        backup.wait_present().await?;
        Ok(backup)
    }

    fn get_or_start(&self, sd: &SubdomainId) -> Result<(Arc<Backup>, Vec<Arc<Backup>>), BackupError> {
        let mut open = self.lock_open();
        if let Some(backup) = open.clones.get(sd).filter(|b| b.is_running()).cloned() {
            open.touch(sd);
            return Ok((backup, Vec::new()));
        }
        let record = self.inner.accounts.subdomain(&sd.account, &sd.name)?.ok_or(BackupError::NotFound)?;
        let domain = sd.to_domain(&self.inner.gateway_domain);
        let dataset = Dataset::open(self.inner.store.db(), &clone_tree_prefix(&sd.account, &sd.name))?;
        let mut clone = MeldClone::open(
            dataset,
            CloneConfig { id: record.clone_id.clone(), domain: domain.clone(), genesis: true },
        )?;
        let signers = record.use_signatures.then(|| {
            let signers = signed::Signers::default();
            signers.load(&record);
            let label = format!("{}/{}", sd.account, sd.name);
            clone.set_admit(Box::new(signed::SignatureCheck::new(label, &domain, signers.clone())));
            signers
        });
        let queue_tree =
            self.inner.store.db().open_tree(update_queue_tree_name(&sd.account, &sd.name)).map_err(StoreError::from)?;
        let queue = queue::UpdateQueue::open(queue_tree, self.inner.follow.queue_limit);
        let (events, _) = broadcast::channel(follow::BROADCAST_CAPACITY);
        let follow = Follow::new(&domain, queue, self.inner.follow, events);
        let rt = tokio::runtime::Handle::current();
        let spawned = task::spawn(clone, follow, self.inner.relay.clone(), domain, self.inner.store.db().clone(), rt)?;
        let backup = Arc::new(Backup { spawned, signers });
        open.clones.insert(sd.clone(), backup.clone());
        open.touch(sd);
        let mut evicted = Vec::new();
        while open.clones.len() > self.inner.capacity {
            let Some(oldest) = open.order.first().cloned() else { break };
            evicted.extend(open.take(&oldest));
        }
        tracing::info!(account = %sd.account, name = %sd.name, open = open.clones.len(), "backup clone opened");
        Ok((backup, evicted))
    }

    /// Makes an open backup clone verify with the subdomain's signers as
    /// now stored (after a `PUT` added one); a clone opened later reads
    /// them when it opens.
    pub fn reload_signers(&self, sd: &SubdomainId) -> Result<(), BackupError> {
        // Under the lock that opening takes: no clone opens meanwhile with
        // the keys from before
        let open = self.lock_open();
        let Some(signers) = open.clones.get(sd).and_then(|b| b.signers.as_ref()) else { return Ok(()) };
        let record = self.inner.accounts.subdomain(&sd.account, &sd.name)?.ok_or(BackupError::NotFound)?;
        signers.load(&record);
        Ok(())
    }

    /// Closes a subdomain's clone (if open) and deletes all its data.
    pub async fn remove(&self, sd: &SubdomainId) -> Result<(), BackupError> {
        let taken = self.lock_open().take(sd);
        if let Some(backup) = taken {
            backup.close().await;
        }
        let db = self.inner.store.db().clone();
        let prefix = clone_tree_prefix(&sd.account, &sd.name);
        let queue = update_queue_tree_name(&sd.account, &sd.name);
        tokio::task::spawn_blocking(move || -> Result<(), BackupError> {
            Dataset::open(&db, &prefix)?.delete_all()?;
            db.drop_tree(queue).map_err(StoreError::from)?;
            Ok(())
        })
        .await
        .map_err(|_| BackupError::Unavailable)??;
        self.inner.quarantine.forget(sd);
        Ok(())
    }

    /// Closes every open clone (at shutdown).
    pub async fn close_all(&self) {
        let all: Vec<_> = {
            let mut open = self.lock_open();
            open.order.clear();
            open.clones.drain().map(|(_, b)| b).collect()
        };
        for backup in all {
            backup.close().await;
        }
    }

    /// Number of quarantined domains (found so far: domains are checked
    /// when first opened).
    pub fn quarantined_count(&self) -> usize {
        self.inner.quarantine.count()
    }

    /// Number of open clones.
    pub fn open_count(&self) -> usize {
        self.lock_open().clones.len()
    }
}

impl DomainOpener for Backups {
    fn open(&self, sd: SubdomainId) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, OpenError>> + Send + '_>> {
        Box::pin(async move {
            match self.ensure(&sd).await {
                Ok(_) => Ok(true),
                Err(BackupError::NotFound) => Ok(false),
                Err(BackupError::Quarantined(_)) => Err(OpenError::Quarantined),
                Err(e) => Err(OpenError::Unavailable(e.to_string())),
            }
        })
    }
}
