use std::path::PathBuf;

/// Errors of the ledger crate. Verification *findings* (a changed byte, a missing file)
/// are not errors: they are reported in a [`crate::VerifyReport`]. These are the failures
/// that stop an operation.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A stream name that cannot be a path segment and SQL table name.
    #[error("invalid stream name {0:?}: use lower-case ASCII letters, digits and '_', starting with a letter, and not ending in \"__rejected\"")]
    InvalidStreamName(String),

    /// A schema whose typed columns collide with the ledger's own columns.
    #[error("invalid schema for stream {stream}: {reason}")]
    InvalidSchema {
        /// Stream name.
        stream: String,
        /// What is wrong.
        reason: String,
    },

    /// The writer's schema differs from the one the stream was committed with.
    #[error(
        "stream {stream} holds columns [{existing}] but this writer produces [{requested}]: a column may be added or dropped, never change type (nor the raw kind); write to a new stream name or use the keytrail version that created it"
    )]
    SchemaMismatch {
        /// Stream name.
        stream: String,
        /// Columns in the stream's head manifest (one of them, or the raw kind, differs in
        /// type from the writer's).
        existing: String,
        /// Columns of the writer.
        requested: String,
    },

    /// A record that does not fit its stream's schema (a bug in the caller).
    #[error("record {index} for stream {stream} does not fit the stream: {reason}")]
    InvalidRecord {
        /// Stream name.
        stream: String,
        /// Position in the batch.
        index: usize,
        /// What is wrong.
        reason: String,
    },

    /// Another writer committed this manifest number first. The appender retries on this;
    /// it surfaces only from the low-level commit.
    #[error("manifest {number} of stream {stream} already exists: another writer committed it first")]
    ManifestExists {
        /// Stream name.
        stream: String,
        /// Manifest number that was taken.
        number: u64,
    },

    /// Other writers kept winning the race for the next manifest.
    #[error(
        "gave up committing to stream {stream} after {attempts} attempts because other writers kept committing first; nothing of this batch was committed, run again"
    )]
    Contention {
        /// Stream name.
        stream: String,
        /// Attempts made.
        attempts: u32,
    },

    /// Another writer committed to the stream after this one read where to resume.
    #[error(
        "stream {stream}: another writer committed since this run read where to resume (are two collections running on this ledger?); \
         nothing was committed twice: run one at a time, and run this one again to go on"
    )]
    CursorMoved {
        /// Stream name.
        stream: String,
    },

    /// A ledger URL that cannot be opened.
    #[error("invalid ledger location {url:?}: {reason}")]
    InvalidLocation {
        /// The URL given.
        url: String,
        /// What is wrong.
        reason: String,
    },

    /// A read-only open of a ledger that does not exist.
    #[error("no ledger at {0}: check --ledger (nothing has been ingested there yet?)")]
    NotFound(String),

    /// The object store failed.
    #[error("storage error at {path}: {source}")]
    Store {
        /// Object path, relative to the ledger root.
        path: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },

    /// A ledger object that cannot be read as what it should be. Stops an append or a
    /// proof; `verify` reports the same condition as a finding instead.
    #[error("{what} {path} is unreadable: {reason}; run `keytrail verify` for a full report")]
    Corrupt {
        /// Kind of object (manifest, segment, checkpoint).
        what: &'static str,
        /// Object path.
        path: String,
        /// What is wrong.
        reason: String,
    },

    /// Parquet encoding failed.
    #[error("could not encode segment for stream {stream}: {source}")]
    Encode {
        /// Stream name.
        stream: String,
        /// The Parquet error.
        #[source]
        source: datafusion::parquet::errors::ParquetError,
    },

    /// A key or key file that cannot be used.
    #[error("key {path}: {reason}")]
    Key {
        /// Where the key came from.
        path: String,
        /// What is wrong.
        reason: String,
    },

    /// A signed note or checkpoint that cannot be parsed or verified.
    #[error("checkpoint {origin}: {reason}")]
    Checkpoint {
        /// Origin line or file name.
        origin: String,
        /// What is wrong.
        reason: String,
    },

    /// A proof that cannot be parsed.
    #[error("proof: {0}")]
    Proof(String),

    /// A `seq` beyond the end of a stream.
    #[error("stream {stream} has {size} rows, so no seq {seq} (seqs count from 0)")]
    NoSuchRecord {
        /// Stream name.
        stream: String,
        /// Requested seq.
        seq: u64,
        /// Current number of rows.
        size: u64,
    },

    /// A stream with no committed manifest.
    #[error("stream {0} does not exist in this ledger; `keytrail verify` without --stream lists every stream")]
    NoSuchStream(String),

    /// Local file I/O (keys, checkpoint files).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result type of the ledger crate.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

impl LedgerError {
    pub(crate) fn store(path: impl ToString, source: object_store::Error) -> Self {
        LedgerError::Store { path: path.to_string(), source }
    }

    pub(crate) fn corrupt(what: &'static str, path: impl ToString, reason: impl ToString) -> Self {
        LedgerError::Corrupt { what, path: path.to_string(), reason: reason.to_string() }
    }
}
