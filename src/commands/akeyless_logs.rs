//! Reading Akeyless Gateway forwarded files, for `ingest --format akeyless` and
//! `collect --source akeyless_logs`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use keytrail_collectors::akeyless_files::{self, FilesOptions, FilesReport};
use keytrail_ledger::{redact, Ledger};

/// Reads each input (a file, a folder or a URL) and prints a line per input.
pub async fn read(ledger: &Ledger, inputs: &[String], options: &FilesOptions, out: &mut impl Write) -> anyhow::Result<FilesReport> {
    let mut total = FilesReport::default();
    for input in inputs {
        let (location, only) = resolve(input)?;
        let store = Ledger::object_store_at(&location).await.with_context(|| format!("opening {}", redact(&location)))?;
        let options = FilesOptions { only, ..options.clone() };
        let shown = redact(&location);
        let report = akeyless_files::ingest(ledger, store, &shown, &options)
            .await
            .with_context(|| format!("reading forwarded Akeyless files from {shown}"))?;
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

/// A URL stays as is; a local folder becomes its absolute path; a local file becomes its
/// folder plus the file's name.
fn resolve(input: &str) -> anyhow::Result<(String, Option<String>)> {
    if input.contains("://") {
        return Ok((input.to_string(), None));
    }
    let path = Path::new(input);
    let absolute = std::fs::canonicalize(path).with_context(|| format!("{input}: no such file or folder"))?;
    if absolute.is_dir() {
        return Ok((absolute.display().to_string(), None));
    }
    let name = absolute.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    if !akeyless_files::is_forwarded_log(&name) {
        anyhow::bail!("{input}: not a forwarded Akeyless file name (akeyless-audit_YYYY-MM-DDTHH:MM.log)");
    }
    let folder = absolute.parent().map(|p| p.display().to_string()).unwrap_or_default();
    Ok((folder, Some(name)))
}
