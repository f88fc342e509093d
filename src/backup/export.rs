//! Exporting a backup clone (`archive` format): the whole dataset of its
//! current generation, read on the clone's own thread so that no operation
//! is applied meanwhile — the export is the clone's state at one instant.
//! The clone thread streams through a bounded channel; while the client
//! reads slowly the clone waits (up to [`PATIENCE`] per chunk, then the
//! export is abandoned and the body ends without its trailer).

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::archive::{FORMAT, Header, VERSION, Writer};
use super::{BackupError, Backups};
use crate::accounts::SubdomainId;

/// Bytes gathered before a chunk goes to the client.
const CHUNK: usize = 64 * 1024;
/// Chunks buffered between the clone thread and the response.
const CHANNEL: usize = 16;
/// Longest wait for the client to take one chunk.
const PATIENCE: Duration = Duration::from_secs(30);

/// An export that could not finish (the body ends early).
#[derive(Debug, thiserror::Error)]
#[error("backup export failed")]
pub struct ExportFailed;

/// A backup being streamed: the first chunk (the header line), then the rest.
pub struct Export {
    /// The header, as written.
    pub header: Header,
    /// The header line and the first records.
    pub first: Bytes,
    /// The remaining chunks; an `Err` ends the body early.
    pub rest: mpsc::Receiver<Result<Bytes, ExportFailed>>,
}

impl Backups {
    /// Starts exporting a registered subdomain's backup clone.
    pub async fn export(&self, sd: &SubdomainId, now_ms: u64) -> Result<Export, BackupError> {
        let record = self.inner.accounts.subdomain(&sd.account, &sd.name)?.ok_or(BackupError::NotFound)?;
        let backup = self.ensure(sd).await?;
        let header = Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            domain: sd.to_domain(&self.inner.gateway_domain),
            account: sd.account.clone(),
            name: sd.name.clone(),
            clone_id: record.clone_id,
            use_signatures: record.use_signatures,
            signers: record.signers,
            exported: now_ms,
        };
        let (tx, mut rx) = mpsc::channel(CHANNEL);
        let rt = tokio::runtime::Handle::current();
        let job_header = header.clone();
        // Not awaited here: the job runs until the client has read it all
        tokio::spawn(async move {
            let run = backup.run(move |clone, _| (stream(clone.dataset(), &job_header, &tx, &rt), Vec::new()));
            match run.await {
                Ok(Some(records)) => tracing::info!(records, "backup exported"),
                Ok(None) => tracing::warn!("backup export abandoned"),
                Err(e) => tracing::warn!(error = %e, "backup export failed"),
            }
        });
        match rx.recv().await {
            Some(Ok(first)) => Ok(Export { header, first, rest: rx }),
            _ => Err(BackupError::Unavailable),
        }
    }
}

/// Writes the backup to `tx` from the clone's thread; the record count, or
/// `None` if it stopped early (the client left or stalled, storage failed).
fn stream(
    dataset: &crate::meld::Dataset,
    header: &Header,
    tx: &mpsc::Sender<Result<Bytes, ExportFailed>>,
    rt: &tokio::runtime::Handle,
) -> Option<u64> {
    let send = |chunk: Result<Bytes, ExportFailed>| {
        // The clone thread is not a runtime worker, so it may block on one;
        // the timer is made inside, where the runtime is entered
        matches!(rt.block_on(async { tokio::time::timeout(PATIENCE, tx.send(chunk)).await }), Ok(Ok(())))
    };
    let (mut writer, mut buf) = Writer::start(header);
    let mut records = 0u64;
    for record in dataset.raw_records() {
        match record {
            Ok((tree, key, value)) => writer.record(tree, &key, &value, &mut buf),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the dataset for a backup export");
                send(Err(ExportFailed));
                return None;
            }
        }
        records += 1;
        if buf.len() >= CHUNK && !send(Ok(Bytes::from(std::mem::take(&mut buf)))) {
            return None;
        }
    }
    buf.extend(writer.finish());
    send(Ok(Bytes::from(buf))).then_some(records)
}
