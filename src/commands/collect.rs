use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use keytrail_collectors::akeyless_api::ApiError;
use keytrail_collectors::log_analytics::{self, CollectOptions, TableReport};
use keytrail_ledger::OpenMode;

use crate::cli::{CollectArgs, Source};
use crate::config::Config;
use crate::exit::ExitCode;

/// Raw bytes gathered before a commit: bounds memory (with the window size) whatever the
/// row width, as `ingest`'s batch size does.
const COMMIT_BYTES: usize = 16 << 20;

pub async fn run(ledger_flag: Option<&str>, args: CollectArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    Ok(collect(ledger_flag, args, out).await?.0)
}

/// Collects every configured source; returns the outcome and, per source (per table for
/// Log Analytics), what was collected, for `run`'s summary.
pub(crate) async fn collect(ledger_flag: Option<&str>, args: CollectArgs, out: &mut impl Write) -> anyhow::Result<(ExitCode, Vec<serde_json::Value>)> {
    let mut sources = Vec::new();
    let config = Config::load(&args.config)?;
    let ledger = super::open(config.ledger_url(ledger_flag), OpenMode::ReadWrite).await?;
    let wanted = |s: Source| args.source.is_empty() || args.source.contains(&s);
    let logs = config.akeyless_logs.as_ref().filter(|_| wanted(Source::AkeylessLogs));
    let la = config.log_analytics.as_ref().filter(|_| wanted(Source::LogAnalytics));
    let api = config.akeyless_api.as_ref().filter(|_| wanted(Source::AkeylessApi));
    let kubernetes = config.kubernetes.as_ref().filter(|_| wanted(Source::Kubernetes));
    if logs.is_none() && la.is_none() && api.is_none() && kubernetes.is_none() {
        anyhow::bail!(
            "{} configures none of the sources asked for: add a [log_analytics], [akeyless_logs], [akeyless_api] or [kubernetes] section (see docs/SOURCES.md)",
            args.config.display()
        );
    }
    let run_id = super::run_id();
    let mut sources_failed = 0;
    if let Some(api) = api {
        let http = keytrail_collectors::http::client(config.ca_file.as_deref(), Duration::from_secs(api.timeout_secs))?;
        match keytrail_collectors::akeyless_api::snapshot(&ledger, api, http, &run_id).await {
            Ok(report) => {
                writeln!(
                    out,
                    "akeyless api: snapshot of {} items, {} roles, {} auth methods ({} retries)",
                    report.items, report.roles, report.auth_methods, report.retries
                )?;
                sources.push(serde_json::json!({"source": "akeyless_api", "items": report.items, "roles": report.roles, "auth_methods": report.auth_methods}));
            }
            // A refused identity or an API that does not answer is a hole in the evidence, on
            // record like any other; the other sources are still collected.
            Err(e @ (ApiError::Auth { .. } | ApiError::Call { .. })) => {
                tracing::error!("Akeyless API snapshot failed: {e}");
                keytrail_collectors::akeyless_api::record_failure(&ledger, api, &e, &run_id).await?;
                writeln!(out, "akeyless api: NOT COLLECTED: {e}")?;
                sources.push(serde_json::json!({"source": "akeyless_api", "error": e.to_string()}));
                sources_failed += 1;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("taking the Akeyless configuration snapshot from {}", api.endpoint))),
        }
    }
    let mut files_rejected = 0;
    if let Some(kubernetes) = kubernetes {
        let outcomes = keytrail_collectors::kubernetes::collect(&ledger, kubernetes, &run_id).await.context("collecting from Kubernetes")?;
        for (cluster, outcome) in outcomes {
            let r = match outcome {
                Ok(r) => r,
                Err(e) => {
                    // One cluster down must not cost the others' evidence: report it, go on.
                    tracing::error!(cluster = %cluster, "Kubernetes collection failed: {e}");
                    writeln!(out, "kubernetes {cluster}: NOT COLLECTED: {e}")?;
                    sources.push(serde_json::json!({"source": "kubernetes", "cluster": cluster, "error": e.to_string()}));
                    sources_failed += 1;
                    continue;
                }
            };
            let snapshot: Vec<String> = r.snapshots.iter().map(|(stream, n)| format!("{n} {stream}")).collect();
            let written = if r.snapshot_written { "" } else { " (unchanged today: not written again)" };
            writeln!(
                out,
                "kubernetes {} ({}): {} events listed, {} new observations, {} rejected, {} expired continue tokens; snapshot of {}{written}",
                r.cluster,
                r.server_version,
                r.events_listed,
                r.events_appended,
                r.events_rejected,
                r.expired_continue_tokens,
                snapshot.join(", ")
            )?;
            files_rejected += r.events_rejected;
            let snapshots: serde_json::Map<String, serde_json::Value> = r.snapshots.iter().map(|(s, n)| (s.clone(), (*n).into())).collect();
            sources.push(serde_json::json!({"source": "kubernetes", "cluster": r.cluster, "server_version": r.server_version,
                "events_listed": r.events_listed, "appended": r.events_appended, "rejected": r.events_rejected, "expired_continue_tokens": r.expired_continue_tokens,
                "snapshot": snapshots, "snapshot_written": r.snapshot_written}));
        }
    }
    if sources_failed > 0 {
        writeln!(out, "{sources_failed} source(s) or cluster(s) not collected (above); recorded in the collection_gaps stream. The next run tries again.")?;
    }
    if let Some(logs) = logs {
        let mut options = keytrail_collectors::akeyless_files::FilesOptions::default();
        if let Some(fields) = &logs.item_path_fields {
            options.item_path_fields = fields.clone();
        }
        let report = super::akeyless_logs::read(&ledger, &logs.locations, &options, out).await?;
        files_rejected = report.rejected;
        sources.push(serde_json::json!({"source": "akeyless_logs", "stream": "akeyless_audit", "files_read": report.files_read, "appended": report.appended, "rejected": report.rejected}));
    }
    let Some(la) = la else {
        let code = match (sources_failed, files_rejected) {
            (0, 0) => ExitCode::Success,
            (0, _) => ExitCode::Rejected,
            _ => ExitCode::Incomplete,
        };
        return Ok((code, sources));
    };
    let http = keytrail_collectors::http::client(config.ca_file.as_deref(), Duration::from_secs(la.timeout_secs))?;
    let options = CollectOptions {
        since: args.since,
        until: args.until,
        run_id,
        commit_rows: args.commit_rows.max(1),
        commit_bytes: COMMIT_BYTES,
    };
    let reports = log_analytics::collect(&ledger, la, http, &options, |r| {
        tracing::info!(table = %r.table, stream = %r.stream, windows = r.windows, rows = r.rows, retries = r.retries, splits = r.splits, "table done");
    })
    .await
    .with_context(|| format!("collecting from Log Analytics workspace {}", la.workspace_id))?;
    print_summary(&reports, out)?;
    for r in &reports {
        let gap = r.gap.as_ref().map(|g| format!("not collected from {} to {}: {}", g.from.to_rfc3339(), g.to.to_rfc3339(), g.reason));
        sources.push(serde_json::json!({"source": "log_analytics", "table": r.table, "stream": r.stream, "rows": r.rows, "appended": r.appended, "rejected": r.rejected, "gap": gap}));
    }
    let gaps = reports.iter().filter(|r| r.gap.is_some()).count();
    let rejected: u64 = reports.iter().map(|r| r.rejected).sum::<u64>() + files_rejected;
    if gaps > 0 {
        writeln!(out, "{gaps} table(s) not fully collected; recorded in the collection_gaps stream. The next run retries from where each stopped.")?;
    }
    if gaps > 0 || sources_failed > 0 {
        return Ok((ExitCode::Incomplete, sources));
    }
    if rejected > 0 {
        writeln!(out, "{rejected} rows were rejected and kept in the <stream>__rejected streams with the reason")?;
        return Ok((ExitCode::Rejected, sources));
    }
    Ok((ExitCode::Success, sources))
}

fn print_summary(reports: &[TableReport], out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "{:<18} {:<20} {:>8} {:>9} {:>9} {:>8} {:>7} {:>6}  status", "table", "stream", "windows", "rows", "appended", "rejected", "retries", "splits")?;
    for r in reports {
        let status = match (&r.gap, r.range) {
            (Some(gap), _) => format!("NOT COLLECTED from {} to {}: {}", gap.from.to_rfc3339(), gap.to.to_rfc3339(), gap.reason),
            (None, Some((_, to))) => format!("complete to {}", to.to_rfc3339()),
            (None, None) => "up to date".to_string(),
        };
        writeln!(
            out,
            "{:<18} {:<20} {:>8} {:>9} {:>9} {:>8} {:>7} {:>6}  {status}",
            r.table, r.stream, r.windows, r.rows, r.appended, r.rejected, r.retries, r.splits
        )?;
    }
    Ok(())
}
