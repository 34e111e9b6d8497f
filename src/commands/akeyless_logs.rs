//! `ingest --format akeyless`: Akeyless Gateway forwarded files named on the command line.

use std::io::Write;

use anyhow::Context;
use keytrail_collectors::akeyless_files::{FilesOptions, FilesReport, read_input};
use keytrail_ledger::Ledger;

/// Reads each input (a file, a folder or a URL) and prints a line per input; the first
/// that cannot be read stops the command (what was read before it stays committed).
pub async fn read(ledger: &Ledger, inputs: &[String], options: &FilesOptions, out: &mut impl Write) -> anyhow::Result<FilesReport> {
    let mut total = FilesReport::default();
    for input in inputs {
        let (shown, report) = read_input(ledger, input, options).await.with_context(|| format!("reading forwarded Akeyless files from {input}"))?;
        writeln!(
            out,
            "{shown}: {} forwarded files, {} read, {} changed since read; {} records appended to akeyless_audit, {} rejected",
            report.files_seen, report.files_read, report.files_changed, report.appended, report.rejected
        )?;
        total.files_seen += report.files_seen;
        total.files_read += report.files_read;
        total.files_changed += report.files_changed;
        total.appended += report.appended;
        total.rejected += report.rejected;
    }
    Ok(total)
}
