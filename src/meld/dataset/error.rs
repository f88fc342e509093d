//! The dataset's one error type. Storage failures, bytes on disk that do not
//! decode (`Corruption`), and inputs the dataset refuses; a refused input
//! aborts its whole transaction, so nothing of it is stored.

/// Everything that can go wrong in the SU-Set dataset and journal.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// sled failed (I/O, or a tree that was dropped underneath us).
    #[error("storage error: {0}")]
    Storage(#[from] sled::Error),
    /// Stored bytes that do not decode: a bug, a foreign tree or a damaged disk.
    #[error("corrupt dataset: {0}")]
    Corruption(String),
    /// A triple that RDF (and m-ld) does not allow, e.g. a literal subject.
    #[error("invalid triple: {0}")]
    InvalidTriple(&'static str),
    /// A journal entry for a local tick that already has one. Entries are
    /// keyed by tick, so overwriting would silently lose an operation.
    #[error("journal already has an entry at local tick {0}")]
    TickTaken(u64),
    /// A replacement finished on a dataset other than the one that began it,
    /// or after a newer replacement began.
    #[error("snapshot replacement is stale")]
    StaleReplacement,
    /// An engine value that cannot be encoded (e.g. literal data too long for msgpack).
    #[error(transparent)]
    Engine(#[from] crate::meld::Error),
}

impl DatasetError {
    /// A [`DatasetError::Corruption`] saying what failed to decode.
    pub(super) fn corrupt(what: impl Into<String>) -> Self {
        DatasetError::Corruption(what.into())
    }
}

/// Lets `?` abort a sled transaction with our error.
impl From<DatasetError> for sled::transaction::ConflictableTransactionError<DatasetError> {
    fn from(err: DatasetError) -> Self {
        sled::transaction::ConflictableTransactionError::Abort(err)
    }
}

/// Unwraps a finished transaction's error into ours.
impl From<sled::transaction::TransactionError<DatasetError>> for DatasetError {
    fn from(err: sled::transaction::TransactionError<DatasetError>) -> Self {
        match err {
            sled::transaction::TransactionError::Abort(err) => err,
            sled::transaction::TransactionError::Storage(err) => DatasetError::Storage(err),
        }
    }
}
