//! keytrail's evidence packs: for one period, the HTML report, the evidence rows of every
//! control (CSV and Parquet), the catalog as evaluated, the SQL that ran, OSCAL
//! assessment results and a signed manifest of every file — and the check of such a pack.
//!
//! The pack format is specified in `docs/PACK.md`. This crate must never change the
//! ledger beyond storing the signed checkpoint the pack refers to, never put a value from
//! a log into HTML unescaped or into CSV unguarded, and never make two runs over the same
//! ledger and period differ in anything but the generation time.

mod charts;
mod evidence;
mod gather;
mod html;
mod oscal;
mod outcome;
mod pack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use keytrail_ledger::{Ledger, Signer, StreamSchema};
use keytrail_query::SessionOptions;
use keytrail_query::controls::{Control, Exception, Framework};

pub use evidence::defuse_formulas;
pub use pack::{PackCheck, verify_pack};

/// Why a pack could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The ledger could not be read or checkpointed.
    #[error(transparent)]
    Ledger(#[from] keytrail_ledger::LedgerError),
    /// A query over the ledger failed.
    #[error(transparent)]
    Query(#[from] keytrail_query::QueryError),
    /// Writing evidence data failed.
    #[error("writing evidence data: {0}")]
    Data(#[from] datafusion::arrow::error::ArrowError),
    /// Writing Parquet evidence failed.
    #[error("writing Parquet evidence: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    /// Rendering the HTML report failed.
    #[error("rendering the report: {0}")]
    Render(#[from] askama::Error),
    /// A file of the pack could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// `--replace` was asked for a folder it must not empty.
    #[error("{dir} is not replaced: {reason}")]
    ReplaceRefused {
        /// The folder.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// The output folder holds every numbered pack name of the period already.
    #[error("{out} holds 9,999 packs named {name}: clear some out")]
    NoFreeName {
        /// The output folder.
        out: PathBuf,
        /// The pack's name.
        name: String,
    },
    /// The pack is not a keytrail evidence pack (no or unreadable manifest).
    #[error("{path}: {reason}")]
    NotAPack {
        /// Where it was read from.
        path: PathBuf,
        /// Why it cannot be checked.
        reason: String,
    },
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

/// What a pack covers and how it is written.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The period's name (`2026-11`): the pack is `keytrail-evidence-<label>`.
    pub label: String,
    /// `[start, end)` in UTC.
    pub period: (DateTime<Utc>, DateTime<Utc>),
    /// Frameworks to report on (every one by default).
    pub frameworks: Vec<Framework>,
    /// Controls to evaluate: those mapped to the frameworks.
    pub controls: Vec<Control>,
    /// Accepted risks.
    pub exceptions: Vec<Exception>,
    /// Streams every source can write, so views work on a ledger that has only some.
    pub known_streams: Vec<StreamSchema>,
    /// Shown on the cover.
    pub organisation: String,
    /// Shown on the cover.
    pub clusters: Vec<String>,
    /// Evidence rows shown per control in the HTML report.
    pub sample_rows: usize,
    /// How the queries run: memory limit and engine (the period is `period`).
    pub query: SessionOptions,
    /// Origin prefix of the signed checkpoint (`<origin>/<stream>`).
    pub origin: String,
    /// keytrail's version, shown on the cover and in the manifest.
    pub version: String,
    /// When the pack is written (the only thing that differs between two runs).
    pub generated_at: DateTime<Utc>,
    /// Replace a pack of the same period in the output folder (its own files only);
    /// otherwise the pack goes to the next free `keytrail-evidence-<label>.<n>`.
    pub replace: bool,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct PackSummary {
    /// The pack folder.
    pub dir: PathBuf,
    /// The `.tar.gz` of the folder.
    pub archive: PathBuf,
    /// SHA-256 over the evidence files (see `docs/PACK.md`): the same for the same
    /// ledger, period and catalog.
    pub fingerprint: String,
    /// Files in the manifest.
    pub files: usize,
    /// Controls per verdict.
    pub controls: BTreeMap<String, usize>,
    /// Per framework, requirements per status.
    pub requirements: BTreeMap<String, BTreeMap<String, usize>>,
    /// Whether the ledger verified.
    pub ledger_valid: bool,
    /// Controls whose verdict is an error because the evidence they read is damaged.
    pub damaged_verdicts: Vec<String>,
}

/// The controls whose verdict is an error because the evidence they read is damaged.
pub(crate) fn damaged_verdicts(evaluations: &[keytrail_query::controls::Evaluation]) -> Vec<String> {
    evaluations.iter().filter(|e| !e.verdict.damaged_streams.is_empty()).map(|e| e.control.id.clone()).collect()
}

/// Evaluates the period over `ledger` and writes `out/keytrail-evidence-<label>/` and
/// `out/keytrail-evidence-<label>.tar.gz`, replacing a pack of the same period. The
/// ledger's heads are checkpointed with `signer`, which also signs the manifest.
pub async fn write_pack(ledger: &Ledger, signer: &Signer, options: &ReportOptions, out: &Path) -> Result<PackSummary, ReportError> {
    let (session, facts) = gather::gather(ledger, signer, options).await?;
    pack::write(&session, facts, signer, options, out).await
}
