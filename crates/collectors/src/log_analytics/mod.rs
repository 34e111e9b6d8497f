//! Azure Monitor Log Analytics: Container Insights (`KubeEvents`, `KubePodInventory`,
//! `ContainerLogV2`), the AKS audit log (`AKSAudit`, `AKSAuditAdmin`, or `AzureDiagnostics`
//! `kube-audit`) and forwarded Akeyless audit records (`AkeylessAudit_CL`).
//!
//! The query API has no paging, so a table is read in half-open time windows
//! `[t0, t1)`; a window the service cuts (its row cap, or a `PartialError` in a `200 OK`)
//! is split in two and both halves fetched, and only whole windows are ever committed.
//! Each stream's cursor (how far each table was collected) is committed with its
//! manifest, so a re-run resumes there and never duplicates. A window that cannot be
//! collected is recorded in the `collection_gaps` stream and stops that table, so the next
//! run retries it; what each run collected whole goes to `collected_ranges`, which tells
//! which gaps a later run filled.

mod auth;
mod client;
mod collect;
pub mod config;
mod source;
pub mod tables;

pub use crate::gaps::{GAPS_STREAM, RANGES_STREAM, gap_columns, range_columns};
pub use crate::retry::RetryPolicy;
pub use auth::{SCOPE, credential};
pub use client::{Fetched, QueryClient};
pub use collect::{CollectOptions, TableReport, collect, record_failure};
pub use config::{AuthMode, LogAnalyticsConfig};

/// Why collection failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The configuration is incomplete or wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// Microsoft Entra ID or the API refused the identity.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The API refused the request for a reason retrying cannot fix.
    #[error("the query API answered {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The service's error code and message.
        message: String,
    },
    /// An endpoint could not be reached (no connection, or no reply in time) on any attempt.
    #[error(
        "{endpoint} could not be reached ({attempts} attempts): {last}. Check the endpoint in the configuration, DNS, proxies and firewalls; the next run retries"
    )]
    Unreachable {
        /// The URL that could not be reached.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// Every attempt failed.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The service kept cutting a window too short to split further.
    #[error("the window {from}..{to} is still truncated at the shortest window: {reason}")]
    Unsplittable {
        /// Window start.
        from: String,
        /// Window end.
        to: String,
        /// What the service said.
        reason: String,
    },
    /// Writing to the ledger failed.
    #[error(transparent)]
    Ledger(#[from] keytrail_ledger::LedgerError),
}

impl CollectError {
    /// Whether the whole run must stop (every table would fail the same way).
    pub fn is_fatal(&self) -> bool {
        matches!(self, CollectError::Config(_) | CollectError::Auth(_) | CollectError::Ledger(_))
    }
}

/// The streams the tables are collected into (each once: `AKSAudit` and `AzureDiagnostics`
/// share `aks_audit`).
pub fn stream_schemas() -> Result<Vec<keytrail_ledger::StreamSchema>, keytrail_ledger::LedgerError> {
    let mut schemas: Vec<keytrail_ledger::StreamSchema> = Vec::new();
    for spec in tables::TABLES {
        if !schemas.iter().any(|s| s.name() == spec.stream) {
            schemas.push(keytrail_ledger::StreamSchema::new(spec.stream, spec.columns())?);
        }
    }
    Ok(schemas)
}
