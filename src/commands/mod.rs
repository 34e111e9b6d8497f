//! One module per subcommand. Each returns the exit code for its outcome; errors (exit 2)
//! carry context for the user.

mod akeyless_logs;
mod checkpoint;
mod cluster;
mod collect;
mod config;
mod controls;
mod demo;
mod emulator;
mod ingest;
mod keygen;
mod proof;
mod report;
mod run;
mod sql;
mod verify;

use anyhow::Context;
use keytrail_ledger::{Ledger, OpenMode};

use crate::cli::{Cli, Command};
use crate::exit::ExitCode;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let out = &mut std::io::stdout().lock();
    let ledger = cli.ledger.as_deref().unwrap_or(DEFAULT_LEDGER);
    match cli.command {
        Command::Run(args) => run::run(cli.ledger.as_deref(), args, out).await,
        Command::Demo(args) => demo::run(args, out).await,
        Command::Config(crate::cli::ConfigCommand::Check(args)) => config::check(args, out),
        Command::Collect(args) => collect::run(cli.ledger.as_deref(), args, out).await,
        Command::Ingest(args) => ingest::run(&open(ledger, OpenMode::ReadWrite).await?, args, out).await,
        Command::Verify(args) => verify::run(&open(ledger, OpenMode::ReadOnly).await?, args, out).await,
        Command::Checkpoint(args) => checkpoint::run(&open(ledger, OpenMode::ReadOnly).await?, args, out).await,
        Command::Prove(args) => proof::prove(&open(ledger, OpenMode::ReadOnly).await?, args, out).await,
        Command::VerifyProof(args) => proof::verify(args, out),
        Command::Sql(args) => sql::run(cli.ledger.as_deref(), args, out).await,
        Command::Controls(args) => controls::list(args, out),
        Command::Evaluate(args) => controls::evaluate(cli.ledger.as_deref(), args, out).await,
        Command::Report(args) => report::write(cli.ledger.as_deref(), args, out).await,
        Command::VerifyPack(args) => report::verify(args, out),
        Command::Keygen(args) => keygen::run(args, out),
        Command::Emulator(args) => emulator::run(args, out).await,
        Command::Cluster(command) => cluster::run(command).await,
    }
}

/// Names one run in cursors and gap records: start time and process id, so a later run
/// is never mistaken for a retry of this one.
pub(crate) fn run_id() -> String {
    format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"), std::process::id())
}

/// The ledger used when neither `--ledger`, `KEYTRAIL_LEDGER` nor the configuration names one.
pub const DEFAULT_LEDGER: &str = "./evidence";

/// Writes a file that must not exist yet: keytrail's outputs never replace a file unasked.
pub(crate) fn write_new(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow::anyhow!("{} exists: keytrail never replaces it; remove it or choose another path", path.display()),
        _ => anyhow::Error::new(e).context(format!("creating {}", path.display())),
    })?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))
}

async fn open(url: &str, mode: OpenMode) -> anyhow::Result<Ledger> {
    Ledger::open(url, mode).await.with_context(|| format!("opening the ledger at {}", keytrail_ledger::redact(url)))
}
