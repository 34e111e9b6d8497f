//! `[akeyless_logs]`: where the Gateway forwards its audit files, as a [`Source`]: one part
//! per location.

use std::path::Path;

use keytrail_ledger::{Ledger, LedgerError, StreamSchema, redact};
use serde::Deserialize;

use super::{FilesError, FilesOptions, FilesReport, SOURCE, ingest, is_forwarded_log};
use crate::source::{Collected, Part, Run, Source, missing};

/// `[akeyless_logs]` in `keytrail.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AkeylessLogsConfig {
    /// Folders or URLs (`az://container/akeyless-log`, `s3://bucket/akeyless-log`) to read.
    pub locations: Vec<String>,
    /// Fields tried for the item path, in order.
    pub item_path_fields: Option<Vec<String>>,
}

/// Reads one input (a file, a folder or a URL) into `akeyless_audit`; returns where it was
/// read from (credentials redacted) and what was read.
pub async fn read_input(ledger: &Ledger, input: &str, options: &FilesOptions) -> Result<(String, FilesReport), FilesError> {
    let (location, only) = locate(input)?;
    let shown = redact(&location);
    let store = Ledger::object_store_at(&location).await.map_err(|e| FilesError::Location { input: shown.clone(), message: e.to_string() })?;
    let options = FilesOptions { only, ..options.clone() };
    let report = ingest(ledger, store, &shown, &options).await?;
    Ok((shown, report))
}

/// A URL stays as is; a local folder becomes its absolute path; a local file becomes its
/// folder plus the file's name.
fn locate(input: &str) -> Result<(String, Option<String>), FilesError> {
    let fail = |message: &str| FilesError::Location { input: input.to_string(), message: message.to_string() };
    if input.contains("://") {
        return Ok((input.to_string(), None));
    }
    let absolute = std::fs::canonicalize(input).map_err(|_| fail("no such file or folder"))?;
    if absolute.is_dir() {
        return Ok((absolute.display().to_string(), None));
    }
    let name = absolute.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    if !is_forwarded_log(&name) {
        return Err(fail("not a forwarded Akeyless file name (akeyless-audit_YYYY-MM-DDTHH:MM.log)"));
    }
    let folder = absolute.parent().map(|p| p.display().to_string()).unwrap_or_default();
    Ok((folder, Some(name)))
}

#[async_trait::async_trait]
impl Source for AkeylessLogsConfig {
    fn name(&self) -> &'static str {
        SOURCE
    }

    fn streams() -> Result<Vec<StreamSchema>, LedgerError> {
        Ok(vec![StreamSchema::new(crate::akeyless::STREAM, crate::akeyless::columns())?])
    }

    fn describe(&self) -> String {
        self.locations.iter().map(|l| redact(l)).collect::<Vec<_>>().join(", ")
    }

    fn prepare(&mut self, base: &Path) -> Result<(), String> {
        for location in self.locations.iter_mut().filter(|l| !l.contains("://") && Path::new(l.as_str()).is_relative()) {
            *location = base.join(&*location).display().to_string();
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        if self.locations.is_empty() {
            return Err("akeyless_logs.locations: name at least one folder or URL".into());
        }
        Ok(())
    }

    fn check_environment(&self) -> Vec<String> {
        let local: Vec<(&str, Option<&Path>)> =
            self.locations.iter().filter(|l| !l.contains("://")).map(|l| ("akeyless_logs.locations", Some(Path::new(l.as_str())))).collect();
        missing(&local, &[])
    }

    async fn collect(&self, run: &Run<'_>) -> Result<Collected, LedgerError> {
        let mut options = FilesOptions::default();
        if let Some(fields) = &self.item_path_fields {
            options.item_path_fields = fields.clone();
        }
        let mut parts = Vec::new();
        for input in &self.locations {
            let part = match read_input(run.ledger, input, &options).await {
                Ok((shown, r)) => {
                    // Every file stored there now has been read: a gap an earlier run left
                    // at this location is filled.
                    super::record_read(run.ledger, &shown, run.run_id).await?;
                    let details = serde_json::json!({"location": shown, "stream": crate::akeyless::STREAM, "files_seen": r.files_seen,
                        "files_read": r.files_read, "files_changed": r.files_changed});
                    Part {
                        line: format!(
                            "{shown}: {} forwarded files, {} read, {} changed since read; {} records appended to akeyless_audit, {} rejected",
                            r.files_seen, r.files_read, r.files_changed, r.appended, r.rejected
                        ),
                        name: shown,
                        appended: r.appended,
                        rejected: r.rejected,
                        not_collected: None,
                        details: details.as_object().cloned().unwrap_or_default(),
                    }
                }
                Err(FilesError::Ledger(e)) => return Err(e),
                Err(e) => {
                    let shown = redact(input);
                    tracing::error!(location = %shown, "forwarded Akeyless files not read: {e}");
                    super::record_unread(run.ledger, &shown, &e.to_string(), run.run_id).await?;
                    Part {
                        line: format!("{shown}: NOT COLLECTED: {e}"),
                        not_collected: Some(e.to_string()),
                        details: serde_json::json!({"location": shown}).as_object().cloned().unwrap_or_default(),
                        name: shown,
                        ..Part::default()
                    }
                }
            };
            parts.push(part);
        }
        Ok(Collected { header: None, parts })
    }
}
