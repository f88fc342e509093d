//! Quarantine: before a backup clone is first opened in this process, its
//! stored data is checked (the dataset's integrity digest against a
//! recomputation, and that its journal state and latest entry decode). A
//! domain that fails is quarantined for the life of the process: logged
//! once, its clients refused with one clear message, never opened (so
//! never served wrong, never a crash), while every other domain is served.
//!
//! The verdict is kept in memory, not stored: every start checks again, so
//! a restored or repaired store is served without any flag to clear.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::accounts::SubdomainId;
use crate::meld::dataset::DigestCheck;
use crate::meld::{Dataset, DatasetError};
use crate::store::clone_tree_prefix;

/// What checking a domain found; `Err` is why it is quarantined.
type Verdict = Result<(), Arc<str>>;

/// Per-domain verdicts, each computed once (concurrent openers wait for it).
#[derive(Default)]
pub(super) struct Quarantine {
    verdicts: Mutex<HashMap<SubdomainId, Arc<OnceCell<Verdict>>>>,
}

impl Quarantine {
    fn cell(&self, sd: &SubdomainId) -> Arc<OnceCell<Verdict>> {
        let mut verdicts = self.verdicts.lock().unwrap_or_else(|p| p.into_inner());
        verdicts.entry(sd.clone()).or_default().clone()
    }

    /// Checks `sd`'s stored data unless done already; `Err(reason)` if it is
    /// quarantined. A storage failure while checking decides nothing (the
    /// next opener checks again).
    pub(super) async fn check(&self, db: &sled::Db, sd: &SubdomainId) -> Result<Verdict, DatasetError> {
        let cell = self.cell(sd);
        let verdict = cell
            .get_or_try_init(|| async {
                let (db, prefix) = (db.clone(), clone_tree_prefix(&sd.account, &sd.name));
                let span = tracing::Span::current();
                let found = tokio::task::spawn_blocking(move || span.in_scope(|| check_stored(&db, &prefix)))
                    .await
                    .map_err(|_| DatasetError::Corruption("integrity check did not finish".into()))??;
                if let Err(reason) = &found {
                    tracing::error!(
                        account = %sd.account, name = %sd.name, reason = %reason,
                        "domain quarantined: its stored data failed an integrity check; its clients are refused \
                         until the store is restored or the subdomain removed (run `meld-gateway verify` offline)"
                    );
                }
                Ok::<_, DatasetError>(found)
            })
            .await?;
        Ok(verdict.clone())
    }

    /// Forgets a domain's verdict (it was removed).
    pub(super) fn forget(&self, sd: &SubdomainId) {
        self.verdicts.lock().unwrap_or_else(|p| p.into_inner()).remove(sd);
    }

    /// How many domains are quarantined now.
    pub(super) fn count(&self) -> usize {
        let verdicts = self.verdicts.lock().unwrap_or_else(|p| p.into_inner());
        verdicts.values().filter(|v| matches!(v.get(), Some(Err(_)))).count()
    }
}

/// The check itself (blocking: one scan of the domain's records). Writes
/// nothing. A domain never opened has nothing to check.
fn check_stored(db: &sled::Db, prefix: &str) -> Result<Verdict, DatasetError> {
    let started = std::time::Instant::now();
    let found = Dataset::inspect(db, prefix).and_then(|dataset| match dataset {
        Some(dataset) => verdict_of(&dataset),
        None => Ok(Ok(())),
    });
    // Bytes that do not decode are a verdict too (storage failures are not)
    let verdict = match found {
        Err(DatasetError::Corruption(detail)) => Err(detail.into()),
        other => other?,
    };
    tracing::debug!(prefix, ms = started.elapsed().as_millis() as u64, ok = verdict.is_ok(), "integrity checked");
    Ok(verdict)
}

fn verdict_of(dataset: &Dataset) -> Result<Verdict, DatasetError> {
    if let DigestCheck::Mismatch { stored, computed } = dataset.check_digest()? {
        return Ok(Err(format!("integrity digest mismatch (stored {stored}…, computed {computed}…)").into()));
    }
    // Cheap structure: what opening reads first must decode
    dataset.state()?;
    dataset.last_entry()?;
    Ok(Ok(()))
}
