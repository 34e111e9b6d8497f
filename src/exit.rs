//! Exit codes, documented in README.md ("Exit codes"). Scripts and CronJobs depend on
//! them: never renumber.

/// What a `keytrail` process reports to its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything worked and everything checked is valid.
    Success = 0,
    /// A verification found something INVALID (`verify`, `verify-proof`, `verify-pack`).
    Invalid = 1,
    /// Usage, configuration, storage or I/O error: the command could not do its job.
    Error = 2,
    /// `run` wrote the pack, but some source windows, clusters or snapshots could not be
    /// collected (the pack's coverage section lists them; the next run retries them).
    SourcesIncomplete = 3,
    /// `run`, `report` or `evaluate` finished, but the ledger failed verification: the
    /// verdicts of controls that read damaged streams are errors.
    IntegrityFailure = 4,
    /// `ingest` or `collect` finished, but some records were rejected (kept in
    /// `<stream>__rejected`).
    Rejected = 5,
    /// `collect` finished, but some windows, Kubernetes clusters or the Akeyless API snapshot
    /// could not be collected (recorded in the `collection_gaps` stream; the next run
    /// retries them).
    Incomplete = 6,
    /// The reader of standard output closed it early (`keytrail sql … | head`): nothing is
    /// printed, and the code is the shell's for a process ended by SIGPIPE, so a pipeline
    /// under `set -o pipefail` never reads a cut-off result as success.
    ClosedPipe = 141,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}
