use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use keytrail_ledger::{Checkpoint, Finding, Ledger, VerifyOptions, VerifyReport, Verifier};

use crate::cli::{ReportFormat, VerifyArgs};
use crate::exit::ExitCode;

pub async fn run(ledger: &Ledger, args: VerifyArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let mut checkpoints = Vec::new();
    let mut bad_checkpoints = Vec::new();
    if let Some(key) = &args.public_key {
        let verifier = Verifier::from_file(key).context("reading the public key")?;
        for file in note_files(&args.checkpoint)? {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading checkpoint {}", file.display()))?;
            // A checkpoint whose signature fails is itself an INVALID finding, not an error:
            // the report must still show everything else.
            match Checkpoint::open(&text, &verifier, &file.display().to_string()) {
                Ok(cp) => checkpoints.push(cp),
                Err(e) => bad_checkpoints.push(Finding {
                    kind: keytrail_ledger::ObjectKind::Checkpoint,
                    path: file.display().to_string(),
                    problems: vec![e.to_string()],
                }),
            }
        }
    }
    let opts = VerifyOptions {
        streams: (!args.stream.is_empty()).then_some(args.stream),
        checkpoints,
        parallelism: None,
    };
    let mut report = ledger.verify(&opts).await?;
    report.other.extend(bad_checkpoints);
    match args.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        ReportFormat::Text => write_text(&report, ledger.location(), out)?,
    }
    Ok(if report.is_valid() { ExitCode::Success } else { ExitCode::Invalid })
}

/// Checkpoint arguments may name files or folders of `.note` files.
fn note_files(args: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in args {
        if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading checkpoint folder {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "note"))
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

fn write_text(report: &VerifyReport, location: &str, out: &mut impl Write) -> std::io::Result<()> {
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
        if all == 0 && kind == Checkpoint {
            writeln!(out, "  no checkpoint given: removal of the newest data cannot be detected (use --checkpoint)")?;
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

