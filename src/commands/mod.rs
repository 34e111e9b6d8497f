//! One module per subcommand. Each returns the exit code for its outcome; errors (exit 2)
//! carry context for the user.

mod checkpoint;
mod ingest;
mod keygen;
mod proof;
mod verify;

use anyhow::Context;
use keytrail_ledger::{Ledger, OpenMode};

use crate::cli::{Cli, Command};
use crate::exit::ExitCode;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let out = &mut std::io::stdout().lock();
    match cli.command {
        Command::Ingest(args) => ingest::run(&open(&cli.ledger, OpenMode::ReadWrite).await?, args, out).await,
        Command::Verify(args) => verify::run(&open(&cli.ledger, OpenMode::ReadOnly).await?, args, out).await,
        Command::Checkpoint(args) => checkpoint::run(&open(&cli.ledger, OpenMode::ReadOnly).await?, args, out).await,
        Command::Prove(args) => proof::prove(&open(&cli.ledger, OpenMode::ReadOnly).await?, args, out).await,
        Command::VerifyProof(args) => proof::verify(args, out),
        Command::Keygen(args) => keygen::run(args, out),
    }
}

async fn open(url: &str, mode: OpenMode) -> anyhow::Result<Ledger> {
    Ledger::open(url, mode).await.with_context(|| format!("opening the ledger at {}", keytrail_ledger::redact(url)))
}
