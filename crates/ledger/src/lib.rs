//! keytrail's evidence ledger: append-only, hash-chained, Merkle-committed Parquet streams
//! on any `object_store` backend (local folder, Azure Blob, S3).
//!
//! This crate owns the ledger format (specified in `docs/LEDGER.md`): how records become
//! rows, rows become segments, segments become visible through put-if-absent manifests,
//! and how all of it is verified, checkpointed and proven. It must never know where
//! records come from (no HTTP, no source formats) and never overwrite or delete an
//! object that a manifest has committed.
//!
//! ```no_run
//! # async fn demo() -> keytrail_ledger::Result<()> {
//! use keytrail_ledger::{Batch, Ledger, OpenMode, Record, StreamSchema};
//!
//! let ledger = Ledger::open("./evidence", OpenMode::ReadWrite).await?;
//! let schema = StreamSchema::new("app_events", vec![])?;
//! let record = Record::new(chrono::Utc::now(), br#"{"msg":"hello"}"#.to_vec());
//! let outcome = ledger.append(&schema, Batch::new(vec![record])).await?;
//! println!("committed manifest {:?}", outcome.committed.map(|c| c.number));
//! let report = ledger.verify(&Default::default()).await?;
//! assert!(report.is_valid());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod append;
mod error;
mod manifest;
pub mod merkle;
mod note;
mod proof;
pub mod record;
mod records;
mod schema;
mod segment;
mod storage;
mod verify;

pub use append::{AppendOutcome, Batch, CommitSummary, Rejected};
pub use error::{LedgerError, Result};
pub use manifest::{FORMAT, Manifest, ManifestSegments, SegmentRef};
pub use note::{Checkpoint, SignedNote, Signer, Verifier, open_checkpoints};
pub use proof::InclusionProof;
pub use record::{Column, FieldType, Record, Value, ValueRef, ValueSink};
pub use records::{Records, RowBuilder};
pub use schema::{REJECTED_SUFFIX, RawKind, StreamSchema};
pub use storage::{Ledger, OpenMode, redact};
pub use verify::{Finding, ObjectKind, StreamReport, VerifyOptions, VerifyReport};

/// A SHA-256 digest.
pub type Hash = [u8; 32];
