use std::io::Write;

use anyhow::Context;
use keytrail_ledger::{Ledger, Signer};

use crate::cli::CheckpointArgs;
use crate::exit::ExitCode;

pub async fn run(ledger: &Ledger, args: CheckpointArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let signer = Signer::from_file(&args.key).context("reading the signing key")?;
    let notes = ledger.checkpoint(&signer, &args.origin).await?;
    if notes.is_empty() {
        anyhow::bail!("the ledger at {} has no streams to checkpoint", ledger.location());
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for note in &notes {
        let cp = &note.checkpoint;
        writeln!(out, "{}: {} rows, stored at {}", cp.stream, cp.size, note.path)?;
        if let Some(dir) = &args.out {
            let file = dir.join(format!("{}.{}.note", cp.stream, cp.size));
            // The same note again is no change; another note under its name is never replaced.
            if std::fs::read(&file).ok().as_deref() != Some(note.text.as_bytes()) {
                super::write_new(&file, note.text.as_bytes())?;
            }
            writeln!(out, "  copy: {}", file.display())?;
        }
    }
    Ok(ExitCode::Success)
}
