use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use keytrail_ledger::{Ledger, Verifier, VerifyOptions, VerifyReport};

use crate::cli::{ReportFormat, VerifyArgs};
use crate::exit::ExitCode;

pub async fn run(ledger: &Ledger, args: VerifyArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let verifier = args.public_key.as_deref().map(|key| Verifier::from_file(key).context("reading the public key")).transpose()?;
    // Held against the checkpoints given, else the newest the ledger holds of each stream.
    let given = !args.checkpoint.is_empty();
    let notes: Vec<(String, String)> = if given {
        note_files(&args.checkpoint)?
            .into_iter()
            .map(|file| Ok((file.display().to_string(), std::fs::read_to_string(&file).with_context(|| format!("reading checkpoint {}", file.display()))?)))
            .collect::<anyhow::Result<_>>()?
    } else {
        ledger.stored_checkpoints().await.context("reading the ledger's checkpoints")?
    };
    let (checkpoints, bad_checkpoints) = keytrail_ledger::open_checkpoints(&notes, verifier.as_ref());
    let opts = VerifyOptions { streams: (!args.stream.is_empty()).then_some(args.stream), checkpoints, parallelism: None };
    let mut report = ledger.verify(&opts).await?;
    if report.streams.is_empty() && notes.is_empty() {
        anyhow::bail!(
            "no ledger at {}: it holds no manifests, segments or checkpoints (check --ledger, KEYTRAIL_LEDGER or the configuration's ledger)",
            ledger.location()
        );
    }
    // Checkpoints given that hold none of the verified streams (and none that failed to
    // open, which are findings of their own) hold nothing: never a pass.
    if given && bad_checkpoints.is_empty() && !report.streams.iter().any(|s| opts.checkpoints.iter().any(|c| c.stream == s.stream)) {
        anyhow::bail!(
            "--checkpoint {} holds no checkpoint of the streams verified ({}): nothing holds their newest data; give the checkpoints of this ledger (a file, or a folder of .note files such as its _checkpoints/)",
            args.checkpoint.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            report.streams.iter().map(|s| s.stream.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    report.other.extend(bad_checkpoints);
    let against = match (given, verifier.is_some(), notes.is_empty()) {
        (_, _, true) => {
            "no checkpoint in the ledger or given: removal of the newest data cannot be detected (run keytrail checkpoint, and keep a copy elsewhere)"
                .to_string()
        }
        (true, _, false) => format!("held against {} given checkpoints, signatures checked", notes.len()),
        (false, true, false) => format!("held against the ledger's newest checkpoint of {} streams, signatures checked", notes.len()),
        (false, false, false) => format!(
            "held against the ledger's newest checkpoint of {} streams, signatures not checked (give --public-key KEY.pub; a copy kept outside the ledger, --checkpoint, also catches checkpoints removed with the data)",
            notes.len()
        ),
    };
    match args.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        ReportFormat::Text => write_text(&report, ledger.location(), &against, out)?,
    }
    Ok(if report.is_valid() { ExitCode::Success } else { ExitCode::Invalid })
}

/// Checkpoint arguments may name files or folders of `.note` files, in any layout (the
/// ledger's `_checkpoints/<stream>/`, or the flat copy `keytrail checkpoint --out` writes).
fn note_files(args: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in args {
        if p.is_dir() {
            let mut in_dir = Vec::new();
            let mut pending = vec![p.clone()];
            while let Some(dir) = pending.pop() {
                for entry in std::fs::read_dir(&dir).with_context(|| format!("reading checkpoint folder {}", dir.display()))? {
                    let path = entry.with_context(|| format!("reading checkpoint folder {}", dir.display()))?.path();
                    if path.is_dir() {
                        pending.push(path);
                    } else if path.extension().is_some_and(|x| x == "note") {
                        in_dir.push(path);
                    }
                }
            }
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

fn write_text(report: &VerifyReport, location: &str, against: &str, out: &mut impl Write) -> std::io::Result<()> {
    use keytrail_ledger::ObjectKind::*;
    for f in report.findings() {
        let verdict = match (f.kind, f.is_valid()) {
            (Unreferenced, _) => "unreferenced (no manifest commits it; ignored by readers)".to_string(),
            (_, true) => "valid".to_string(),
            (_, false) => format!("INVALID: {}", f.problems.join("; ")),
        };
        writeln!(out, "{}  {verdict}", f.path)?;
    }
    writeln!(out)?;
    writeln!(out, "Results for {location}:")?;
    for (kind, label) in [(Segment, "segments"), (Manifest, "manifests"), (Checkpoint, "checkpoints")] {
        let (ok, all) = report.count(kind);
        if kind == Checkpoint {
            writeln!(out, "  checkpoints: {against}")?;
        }
        if all == 0 && kind == Checkpoint {
            continue;
        }
        if ok == all {
            writeln!(out, "  {ok}/{all} {label} valid")?;
        } else {
            writeln!(out, "  {ok}/{all} {label} valid, {}/{all} {label} INVALID", all - ok)?;
        }
    }
    let (_, unreferenced) = report.count(Unreferenced);
    if unreferenced > 0 {
        writeln!(out, "  {unreferenced} unreferenced files (left by interrupted or lost commits; not part of the ledger)")?;
    }
    let rows: u64 = report.streams.iter().map(|s| s.rows).sum();
    writeln!(out, "  {} streams, {rows} rows", report.streams.len())?;
    writeln!(out, "{}", if report.is_valid() { "Ledger is valid." } else { "Ledger is INVALID." })?;
    Ok(())
}
