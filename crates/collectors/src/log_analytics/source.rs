//! `[log_analytics]` as a [`Source`]: one part per table.

use std::path::Path;
use std::time::Duration;

use keytrail_ledger::{Ledger, LedgerError, StreamSchema};

use super::collect::{CollectOptions, TableReport, collect, record_failure};
use super::{CollectError, LogAnalyticsConfig};
use crate::source::{Collected, Part, Run, Source, missing, resolve};

/// Raw bytes gathered before a commit: bounds memory (with the window size) whatever the
/// row width.
const COMMIT_BYTES: usize = 16 << 20;

#[async_trait::async_trait]
impl Source for LogAnalyticsConfig {
    fn name(&self) -> &'static str {
        "log_analytics"
    }

    fn streams() -> Result<Vec<StreamSchema>, LedgerError> {
        super::stream_schemas()
    }

    fn describe(&self) -> String {
        format!("workspace {}, tables {}", self.workspace_id, self.tables.join(", "))
    }

    fn prepare(&mut self, base: &Path) -> Result<(), String> {
        if let Some(r) = self.client_secret.take() {
            r.assign("log_analytics.client_secret", &mut self.client_secret_env, &mut self.client_secret_file)?;
        }
        resolve(base, &mut self.client_secret_file);
        resolve(base, &mut self.federated_token_file);
        Ok(())
    }

    fn validate(&self) -> Result<(), String> {
        LogAnalyticsConfig::validate(self)
    }

    fn check_environment(&self) -> Vec<String> {
        missing(
            &[
                ("log_analytics.client_secret_file", self.client_secret_file.as_deref()),
                ("log_analytics.federated_token_file", self.federated_token_file.as_deref()),
            ],
            &[("log_analytics.client_secret_env", self.client_secret_env.as_deref())],
        )
    }

    async fn collect(&self, run: &Run<'_>) -> Result<Collected, LedgerError> {
        let options = CollectOptions {
            since: run.since,
            until: run.until,
            run_id: run.run_id.to_string(),
            commit_rows: run.commit_rows.max(1),
            commit_bytes: COMMIT_BYTES,
        };
        let outcome = match crate::http::client(run.ca_file, Duration::from_secs(self.timeout_secs)) {
            Ok(http) => collect(run.ledger, self, http, &options, |r| {
                tracing::info!(table = %r.table, stream = %r.stream, windows = r.windows, rows = r.rows, retries = r.retries, splits = r.splits, "table done");
            })
            .await,
            Err(e) => Err(CollectError::Config(e.to_string())),
        };
        let reports = match outcome {
            Ok(reports) => reports,
            Err(CollectError::Ledger(e)) => return Err(e),
            // Nothing could be collected (a refused credential, a secret that cannot be
            // read): every table's range is a gap, the other sources go on.
            Err(error) => failed(run.ledger, self, &options, &error).await?,
        };
        Ok(Collected {
            header: Some(format!(
                "{:<18} {:<20} {:>8} {:>9} {:>9} {:>8} {:>7} {:>6}  status",
                "table", "stream", "windows", "rows", "appended", "rejected", "retries", "splits"
            )),
            parts: reports.iter().map(|r| part(self, r)).collect(),
        })
    }
}

async fn failed(ledger: &Ledger, config: &LogAnalyticsConfig, options: &CollectOptions, error: &CollectError) -> Result<Vec<TableReport>, LedgerError> {
    tracing::error!("Log Analytics workspace {}: nothing collected: {error}", config.workspace_id);
    record_failure(ledger, config, options, error).await
}

fn part(config: &LogAnalyticsConfig, r: &TableReport) -> Part {
    let status = match (&r.gap, r.range) {
        (Some(gap), _) => format!("NOT COLLECTED from {} to {}: {}", gap.from.to_rfc3339(), gap.to.to_rfc3339(), gap.reason),
        (None, Some((_, to))) => format!("complete to {}", to.to_rfc3339()),
        (None, None) => "up to date".to_string(),
    };
    let not_collected = r.gap.as_ref().map(|g| format!("not collected from {} to {}: {}", g.from.to_rfc3339(), g.to.to_rfc3339(), g.reason));
    let details = serde_json::json!({
        "workspace": config.workspace_id.as_str(), "table": r.table, "stream": r.stream,
        "rows": r.rows, "retries": r.retries, "splits": r.splits, "gap": not_collected,
    });
    Part {
        name: r.table.clone(),
        appended: r.appended,
        rejected: r.rejected,
        line: format!(
            "{:<18} {:<20} {:>8} {:>9} {:>9} {:>8} {:>7} {:>6}  {status}",
            r.table, r.stream, r.windows, r.rows, r.appended, r.rejected, r.retries, r.splits
        ),
        not_collected,
        details: details.as_object().cloned().unwrap_or_default(),
    }
}
