//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Tamper-evident audit evidence for AKS, Akeyless and the External Secrets Operator.
#[derive(Debug, Parser)]
#[command(name = "keytrail", version, about, propagate_version = true)]
pub struct Cli {
    /// Where the evidence ledger lives: a folder, file://…, az://container/path (Azure Blob,
    /// credentials from AZURE_STORAGE_* variables) or s3://bucket/path (AWS_* variables).
    /// Default: the configuration's `ledger`, else ./evidence.
    #[arg(long, global = true, env = "KEYTRAIL_LEDGER")]
    pub ledger: Option<String>,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// More log detail (-v info, -vv debug); KEYTRAIL_LOG overrides with a filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The scheduled job: collect every configured source up to the period's end, verify
    /// and checkpoint the ledger, evaluate the controls and write the evidence pack.
    Run(RunArgs),
    /// Run the whole job against an in-process emulator serving a sample month, offline.
    Demo(DemoArgs),
    /// Collect audit data from the configured sources into the ledger, from where the
    /// last run stopped.
    Collect(CollectArgs),
    /// Work with the configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Append newline-delimited JSON records from files to a ledger stream.
    Ingest(IngestArgs),
    /// Re-check every row, segment, manifest and checkpoint of the ledger.
    Verify(VerifyArgs),
    /// Sign a checkpoint of every stream's head and store it in the ledger.
    Checkpoint(CheckpointArgs),
    /// Print an RFC 6962 inclusion proof for one record.
    Prove(ProveArgs),
    /// Check an inclusion proof against a signed checkpoint, without the ledger.
    VerifyProof(VerifyProofArgs),
    /// Run read-only SQL over the ledger: one table per stream.
    Sql(SqlArgs),
    /// List the compliance controls and the requirements they support.
    Controls(ControlsArgs),
    /// Evaluate every control over a period: per control a verdict and its findings.
    Evaluate(EvaluateArgs),
    /// Write the evidence pack of a period: HTML report, evidence data, OSCAL assessment
    /// results and a signed manifest, as a folder and a .tar.gz.
    Report(ReportArgs),
    /// Check an evidence pack (folder or .tar.gz) against its signed manifest.
    VerifyPack(VerifyPackArgs),
    /// Generate an Ed25519 signing key (PATH, mode 0600) and its public key (PATH.pub).
    Keygen(KeygenArgs),
    /// Serve emulated Entra ID and Log Analytics APIs on 127.0.0.1 (HTTPS) with a sample
    /// month of data, for trials and tests; runs until interrupted.
    Emulator(EmulatorArgs),
    /// Run a process of a Ballista cluster that `--engine ballista` queries run on.
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

/// Where queries run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// In this process.
    Local,
    /// On an Apache DataFusion Ballista cluster (needs --scheduler).
    Ballista,
}

/// `--engine` and `--scheduler`, for every command that runs queries.
#[derive(Debug, Default, Args)]
pub struct EngineArgs {
    /// Where queries run: local (this process) or ballista (a Ballista cluster, reading the
    /// ledger itself). Default: the configuration's `engine`, else local.
    #[arg(long, value_enum, env = "KEYTRAIL_ENGINE")]
    pub engine: Option<EngineKind>,
    /// The Ballista scheduler, df://HOST:PORT (or the configuration's `scheduler`).
    #[arg(long, env = "KEYTRAIL_SCHEDULER")]
    pub scheduler: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The scheduler: plans each query into stages and hands their tasks to executors.
    Scheduler(SchedulerArgs),
    /// An executor: runs tasks, reading the ledger's files with this process's own
    /// object-store credentials (AZURE_STORAGE_* / AWS_* / workload identity).
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on (gRPC, for clients and executors).
    #[arg(long, default_value = "0.0.0.0:50050")]
    pub bind: std::net::SocketAddr,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to register with, df://HOST:PORT.
    #[arg(long, env = "KEYTRAIL_SCHEDULER")]
    pub scheduler: String,
    /// Address to listen on for shuffle reads (Arrow Flight).
    #[arg(long, default_value = "0.0.0.0:50051")]
    pub bind: std::net::SocketAddr,
    /// Port for task launches from the scheduler (gRPC).
    #[arg(long, default_value_t = 50052)]
    pub grpc_port: u16,
    /// Host name the scheduler and other executors reach this one by (in Kubernetes, the
    /// pod IP). Default: the bind address.
    #[arg(long, env = "KEYTRAIL_EXECUTOR_HOST")]
    pub external_host: Option<String>,
    /// Tasks run at once; default: one per core.
    #[arg(long, default_value_t = 0)]
    pub concurrent_tasks: usize,
    /// MiB the executor's tasks may hold before sorts and aggregations spill; default: a
    /// share of the machine's (or container's) memory.
    #[arg(long)]
    pub memory_mb: Option<u64>,
    /// Folder for shuffle files and spills; default: a temporary folder.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

/// Output formats of `sql`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SqlFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header; cells that a spreadsheet would run as a formula are prefixed with '.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A Parquet file (needs --out).
    Parquet,
}

impl SqlFormat {
    /// Its name as `--format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            SqlFormat::Table => "table",
            SqlFormat::Csv => "csv",
            SqlFormat::Json => "json",
            SqlFormat::Ndjson => "ndjson",
            SqlFormat::Parquet => "parquet",
        }
    }
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The query; `-` reads it from standard input; nothing starts an interactive prompt
    /// (`\d` lists tables, `\d TABLE` its columns, `\q` quits).
    pub query: Option<String>,
    /// Only rows whose event time is in this month (YYYY-MM), in every table and view.
    #[arg(long)]
    pub period: Option<crate::period::Period>,
    /// Take the ledger, engine, query memory and environments from this configuration;
    /// flags given here win.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output format; default: the --out file's extension (.csv, .json, .ndjson, .parquet),
    /// else a table.
    #[arg(long, value_enum)]
    pub format: Option<SqlFormat>,
    /// Write the result to this new file instead of standard output (never inside the
    /// ledger).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace --out if it exists.
    #[arg(long, requires = "out")]
    pub force: bool,
    /// MiB the query may hold before sorts and aggregations spill to disk; default 512.
    #[arg(long)]
    pub query_memory_mb: Option<usize>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct ControlsArgs {
    /// Only controls mapped to this framework (soc2, hipaa, fedramp-moderate, iso27001-2022).
    #[arg(long)]
    pub framework: Option<String>,
    /// Take the controls folder and control parameters from this configuration.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// An organisation's own controls: a folder of <id>.toml + <id>.sql (the format of
    /// queries/controls/), added to the catalog or replacing a built-in one by id.
    /// Default: the configuration's controls_dir.
    #[arg(long = "controls")]
    pub controls_dir: Option<PathBuf>,
}

/// Output formats of `evaluate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EvaluateFormat {
    /// One line per control, then its alarms.
    Table,
    /// Every verdict with its counts and the findings that are not ok (up to 10,000 per
    /// control).
    Json,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The month to evaluate (YYYY-MM, UTC).
    #[arg(long)]
    pub period: crate::period::Period,
    /// Take the ledger, exceptions, control parameters, environments, engine and query
    /// memory from this configuration; flags given here win.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Only controls mapped to this framework (soc2, hipaa, fedramp-moderate,
    /// iso27001-2022), followed by the status of each of its requirements.
    #[arg(long)]
    pub framework: Option<String>,
    /// Accepted risks: a TOML file of [[exception]] tables (control, resource, owner,
    /// justification, expires).
    #[arg(long)]
    pub exceptions: Option<PathBuf>,
    /// An organisation's own controls: a folder of <id>.toml + <id>.sql (the format of
    /// queries/controls/), added to the catalog or replacing a built-in one by id.
    /// Default: the configuration's controls_dir.
    #[arg(long = "controls")]
    pub controls_dir: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EvaluateFormat::Table)]
    pub format: EvaluateFormat,
    /// MiB the queries may hold before sorts and aggregations spill to disk; default 512.
    #[arg(long)]
    pub query_memory_mb: Option<usize>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// The configuration file.
    #[arg(long, env = "KEYTRAIL_CONFIG")]
    pub config: PathBuf,
    /// Only this source (repeatable), by its section name: log_analytics (or
    /// log-analytics), akeyless_logs, akeyless_api, kubernetes. Default: every configured one.
    #[arg(long)]
    pub source: Vec<String>,
    /// Start here (RFC 3339 or YYYY-MM-DD, UTC) for streams with no cursor, or when later
    /// than the cursor.
    #[arg(long, value_parser = parse_time_arg)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Collect up to here, exclusive (RFC 3339 or YYYY-MM-DD); default: now minus the
    /// configured settle time.
    #[arg(long, value_parser = parse_time_arg)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Rows gathered (whole windows) before each commit.
    #[arg(long, default_value_t = 200_000)]
    pub commit_rows: usize,
}

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Folder of `<Table>.jsonl` files to serve; default: the built-in sample month (the
    /// same rows as sample-data/log-analytics).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Serve this many generated AKSAudit rows over the sample month instead (benchmarks).
    #[arg(long)]
    pub synthetic_audit_rows: Option<u64>,
    /// Serve as AkeylessAudit_CL the records `keytrail-bench gen --records N` writes, so the
    /// same month arrives through two sinks (benchmarks).
    #[arg(long)]
    pub synthetic_akeyless_rows: Option<u64>,
    /// Folder of `<cluster>/<resource>.json` Kubernetes objects to serve instead of the
    /// sample clusters (as `keytrail-bench gen-kubernetes` writes them).
    #[arg(long)]
    pub kubernetes: Option<PathBuf>,
    /// Minutes an Event is listed after its last change, as kube-apiserver's `--event-ttl`
    /// (AKS: 60). 0 keeps every Event forever, which no API server does: for benchmarks of
    /// the collector's paging over many events.
    #[arg(long, default_value_t = 60)]
    pub event_ttl_minutes: u32,
    /// Rows per query before the reply is cut with PartialError.
    #[arg(long, default_value_t = 500_000)]
    pub row_cap: usize,
    /// Folder to write the emulator's CA certificate and a ready keytrail.toml into.
    #[arg(long, default_value = "emulator")]
    pub out: PathBuf,
}

/// RFC 3339, or a date (midnight UTC).
pub fn parse_time_arg(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        .map_err(|_| format!("'{s}' is neither an RFC 3339 time (2026-11-01T00:00:00Z) nor a date (2026-11-01)"))
}

/// Input formats of `ingest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Any newline-delimited JSON, into `--stream`, untyped.
    Json,
    /// Akeyless Gateway forwarded audit files into `akeyless_audit`, typed; each input is a
    /// file, a folder or a URL (az://, s3://) holding `akeyless-log/YYYY/MM/DD/…` files.
    Akeyless,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Stream to append to (lower-case letters, digits and '_'); required for json.
    #[arg(long)]
    pub stream: Option<String>,
    /// What the inputs are.
    #[arg(long, value_enum, default_value_t = InputFormat::Json)]
    pub format: InputFormat,
    /// Akeyless field holding the item path (dotted for nested); repeat to try several.
    /// Default: item_name, item, path, request_parameters.name.
    #[arg(long = "item-path-field")]
    pub item_path_fields: Vec<String>,
    /// JSON field holding the event time (dotted path for nested fields); repeat to try
    /// several. Default: timestamp, time, TimeGenerated, @timestamp, eventTime, ts.
    /// RFC 3339, an epoch number, or a date-time without offset, which is read as UTC.
    #[arg(long = "time-field")]
    pub time_fields: Vec<String>,
    /// Records longer than this many bytes are rejected (and kept in the rejected stream).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_record_bytes: usize,
    /// Records per commit (each commit is one manifest).
    #[arg(long, default_value_t = 256 * 1024)]
    pub batch_records: usize,
    /// Files to read; `-` reads standard input. With `--format akeyless`: files, folders
    /// or URLs.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Report formats of `verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One line per object, then a summary.
    Text,
    /// The full report as JSON.
    Json,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only this stream (and its rejected stream); repeatable.
    #[arg(long)]
    pub stream: Vec<String>,
    /// Signed checkpoint file, or a folder of `.note` files, to hold the ledger against;
    /// repeatable. Detects removal of the newest data.
    #[arg(long, requires = "public_key")]
    pub checkpoint: Vec<PathBuf>,
    /// Public key (`.pub` from keygen) that signed the checkpoints.
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Read a configuration as the jobs do and report every problem: unknown keys, wrong
    /// types, missing files and variables, an unreadable signing key or exceptions file.
    Check(ConfigCheckArgs),
}

#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// The configuration file.
    #[arg(long, env = "KEYTRAIL_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The configuration file.
    #[arg(long, env = "KEYTRAIL_CONFIG")]
    pub config: PathBuf,
    /// The month to report on: YYYY-MM or `last-month` (UTC).
    #[arg(long, default_value = "last-month")]
    pub period: crate::period::RunPeriod,
    /// Folder for the pack; default: the configuration's [report] out, else ./packs.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the period's pack in the output folder (only the files that pack wrote);
    /// otherwise a second pack goes to keytrail-evidence-<period>.<n>.
    #[arg(long)]
    pub replace: bool,
    /// Print the summary as JSON (collection details go to stderr).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo's ledger, keys, configuration and pack (kept between runs).
    #[arg(long, default_value = "keytrail-demo")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The month to report on (YYYY-MM, UTC).
    #[arg(long)]
    pub period: crate::period::Period,
    /// Take the ledger, signing key, organisation, clusters, exceptions, control parameters
    /// and report options from this configuration; flags given here win.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Report on this framework (soc2, hipaa, fedramp-moderate, iso27001-2022); repeat
    /// for several. Default: the configuration's, else all of them.
    #[arg(long = "framework")]
    pub frameworks: Vec<String>,
    /// Folder that receives keytrail-evidence-<period>/ and keytrail-evidence-<period>.tar.gz
    /// (when a pack of the period is there already, the next free
    /// keytrail-evidence-<period>.<n>). Default: the configuration's [report] out, else
    /// ./packs.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the period's pack in the output folder (only the files that pack wrote).
    #[arg(long)]
    pub replace: bool,
    /// Private key from `keytrail keygen`: signs the ledger checkpoint and the pack manifest
    /// (or the configuration's signing_key).
    #[arg(long, env = "KEYTRAIL_SIGNING_KEY")]
    pub key: Option<PathBuf>,
    /// Accepted risks: a TOML file of [[exception]] tables.
    #[arg(long)]
    pub exceptions: Option<PathBuf>,
    /// An organisation's own controls: a folder of <id>.toml + <id>.sql (the format of
    /// queries/controls/), added to the catalog or replacing a built-in one by id.
    /// Default: the configuration's controls_dir.
    #[arg(long = "controls")]
    pub controls_dir: Option<PathBuf>,
    /// Evidence rows shown per control in index.html (the files hold every row); default 20.
    #[arg(long)]
    pub sample_rows: Option<usize>,
    /// Organisation named on the cover; default keytrail.
    #[arg(long)]
    pub organisation: Option<String>,
    /// Cluster named on the cover; repeat for several.
    #[arg(long = "cluster")]
    pub clusters: Vec<String>,
    /// Origin prefix of the signed checkpoints (`<prefix>/<stream>`); default keytrail.
    #[arg(long)]
    pub origin: Option<String>,
    /// MiB the queries may hold before sorts and aggregations spill to disk; default 512.
    #[arg(long)]
    pub query_memory_mb: Option<usize>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct VerifyPackArgs {
    /// The pack: its folder or its .tar.gz.
    pub pack: PathBuf,
    /// Public key (KEY.pub from `keytrail keygen`) that signed the manifest.
    #[arg(long)]
    pub public_key: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Private key file from `keytrail keygen`.
    #[arg(long)]
    pub key: PathBuf,
    /// Origin prefix; each stream's checkpoint origin is `<prefix>/<stream>`.
    #[arg(long, default_value = "keytrail")]
    pub origin: String,
    /// Also write each checkpoint to this folder (to keep outside the ledger).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProveArgs {
    /// Stream of the record.
    #[arg(long)]
    pub stream: String,
    /// Seq of the record.
    #[arg(long)]
    pub seq: u64,
    /// Prove against this signed checkpoint instead of the newest one in the ledger.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Check the checkpoint's signature with this public key first.
    #[arg(long)]
    pub public_key: Option<PathBuf>,
    /// Write the proof here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyProofArgs {
    /// Proof file from `keytrail prove`.
    pub proof: PathBuf,
    /// The signed checkpoint you trust (kept outside the ledger).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Public key that signed the checkpoint.
    #[arg(long)]
    pub public_key: PathBuf,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key; the public key goes to PATH.pub.
    #[arg(long)]
    pub out: PathBuf,
    /// Key name written into signatures (no spaces or '+'), e.g. your domain.
    #[arg(long, default_value = "keytrail")]
    pub name: String,
}
