//! The seam every source plugs into. A source is its configuration section: it takes its
//! paths from the configuration file's folder, checks its values, says what `config check`
//! can check without calling out, and collects into the ledger, reporting in one shape.
//!
//! One rule for failures: whatever stops a part of a source (a refused credential, an
//! unreachable endpoint, a cluster down, an unreadable location) is that part not
//! collected, put on record in `collection_gaps`, and the other parts and sources are
//! still collected. Only a failing ledger stops the collection.
//!
//! Adding a source: its module, with an implementation of [`Source`] for its
//! configuration, and one line in [`with_sources!`](crate::with_sources), which gives it
//! its section in the binary's `Config`, its place in a run and its streams in
//! [`STREAMS`].

use std::path::Path;

use chrono::{DateTime, Utc};
use keytrail_ledger::{Ledger, LedgerError, StreamSchema};

/// What every collection run gives each source.
pub struct Run<'a> {
    /// The ledger to append to.
    pub ledger: &'a Ledger,
    /// Names this run in cursors and gap records.
    pub run_id: &'a str,
    /// Extra CA certificates for outbound HTTPS.
    pub ca_file: Option<&'a Path>,
    /// Start here for streams with no cursor, or when later than the cursor.
    pub since: Option<DateTime<Utc>>,
    /// Collect up to here (exclusive); default: the source's own settle rule.
    pub until: Option<DateTime<Utc>>,
    /// Rows gathered before each commit, for sources that page through time.
    pub commit_rows: usize,
}

/// One part of a source's run: a Log Analytics table, a cluster, a snapshot, a location.
#[derive(Clone, Debug, Default)]
pub struct Part {
    /// What it is, as people know it (`KubeEvents`, `aks-prod`, `snapshot`, a location).
    pub name: String,
    /// Rows appended to the ledger.
    pub appended: u64,
    /// Records rejected (kept, with the reason, in `<stream>__rejected`).
    pub rejected: u64,
    /// The line `collect` prints for it.
    pub line: String,
    /// Why it was not (wholly) collected; on record in `collection_gaps`.
    pub not_collected: Option<String>,
    /// The source's own figures, for `run --json`.
    pub details: serde_json::Map<String, serde_json::Value>,
}

/// What a source's run did.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    /// Printed before the parts' lines (a table header).
    pub header: Option<String>,
    /// Each part, in order.
    pub parts: Vec<Part>,
}

/// A configured source.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// Its configuration section and `--source` name (`log_analytics`).
    fn name(&self) -> &'static str;

    /// The streams it writes, whether or not it is configured.
    fn streams() -> Result<Vec<StreamSchema>, LedgerError>
    where
        Self: Sized;

    /// One line saying what it collects from, for `config check` (`workspace …`).
    fn describe(&self) -> String;

    /// Resolves secret references and takes relative paths from `base`, the configuration
    /// file's folder.
    fn prepare(&mut self, base: &Path) -> Result<(), String>;

    /// What its values cannot say alone (limits, combinations); every job checks it.
    fn validate(&self) -> Result<(), String>;

    /// What only the machine can say: referenced files that do not exist, environment
    /// variables that are not set. Values are never printed.
    fn check_environment(&self) -> Vec<String>;

    /// Collects into the ledger. Failures of the source are parts not collected (and on
    /// record); an error is only a ledger that cannot be written.
    async fn collect(&self, run: &Run<'_>) -> Result<Collected, LedgerError>;
}

/// Lists the schemas of the streams one source writes.
pub type StreamsOf = fn() -> Result<Vec<StreamSchema>, LedgerError>;

/// Every source keytrail has: its configuration section (also its `--source` name) and
/// its configuration type, in the order a run collects them (the Akeyless snapshot first:
/// it is quick and the others' evidence is read against it). The one registration of a
/// source: it hands the list to `$then`, a macro of the caller's, so the binary's
/// `Config` and [`STREAMS`] are both made from it.
#[macro_export]
macro_rules! with_sources {
    ($then:ident) => {
        $then! {
            akeyless_api: $crate::akeyless_api::AkeylessApiConfig,
            kubernetes: $crate::kubernetes::KubernetesConfig,
            akeyless_logs: $crate::akeyless_files::AkeylessLogsConfig,
            log_analytics: $crate::log_analytics::LogAnalyticsConfig,
        }
    };
}

macro_rules! streams_by_source {
    ($($section:ident: $config:ty,)*) => {
        /// Every stream a source of keytrail's writes, by the source that writes it (and
        /// `collection_gaps`, which every source writes): the tables `keytrail sql` knows
        /// even before the first collection, and the names `ingest` keeps for them.
        pub const STREAMS: &[(&str, StreamsOf)] =
            &[$((stringify!($section), <$config as Source>::streams),)* ("collection_gaps", crate::gaps::stream_schemas)];
    };
}
with_sources!(streams_by_source);

/// The streams of [`STREAMS`], once each.
pub fn known_streams() -> Result<Vec<StreamSchema>, LedgerError> {
    let mut known: Vec<StreamSchema> = Vec::new();
    for (_, streams) in STREAMS {
        for schema in streams()? {
            if !known.iter().any(|k| k.name() == schema.name()) {
                known.push(schema);
            }
        }
    }
    Ok(known)
}

/// The environment checks most sources make: each `(key, path)` must exist, each
/// `(key, variable)` must be set.
pub fn missing(files: &[(&str, Option<&Path>)], variables: &[(&str, Option<&str>)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (key, path) in files {
        if let Some(p) = path.filter(|p| !p.exists()) {
            problems.push(format!("{key}: {} does not exist", p.display()));
        }
    }
    for (key, name) in variables {
        if let Some(name) = name.filter(|n| std::env::var_os(n).is_none()) {
            problems.push(format!("{key}: the environment variable {name} is not set"));
        }
    }
    problems
}

/// Takes a relative `path` from `base`.
pub fn resolve(base: &Path, path: &mut Option<std::path::PathBuf>) {
    if let Some(p) = path.as_mut().filter(|p| p.is_relative()) {
        *p = base.join(&*p);
    }
}
