//! The collection loop: per table, windows from the committed cursor to the end of the
//! run, fetched one ahead of the ledger appends, committed whole.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use keytrail_ledger::{Batch, Ledger, LedgerError, StreamSchema};
use serde_json::{Map, Value as Json, json};

use super::client::QueryClient;
use super::config::LogAnalyticsConfig;
use super::tables::{ConvertContext, Converted, Outcome, TableSpec};
use super::{CollectError, auth};
use crate::akeyless::DEFAULT_ITEM_PATH_FIELDS;
use crate::committer::Committer;
use crate::gaps::{GapSource, append_collected, append_gap};
use crate::retry::RetryPolicy;

/// This source's key in stream cursors.
const SOURCE: &str = "log_analytics";

/// The shortest window a truncated one is split down to.
const MIN_WINDOW_MICROS: i64 = 1_000_000;

/// What a run covers.
#[derive(Clone, Debug)]
pub struct CollectOptions {
    /// Start here when later than a stream's cursor (or where a stream has none).
    pub since: Option<DateTime<Utc>>,
    /// Collect up to here (exclusive); default: now minus the settle time.
    pub until: Option<DateTime<Utc>>,
    /// Names this run in gap records.
    pub run_id: String,
    /// Rows gathered before a commit (whole windows only).
    pub commit_rows: usize,
    /// Bytes of raw rows gathered before a commit (whole windows only).
    pub commit_bytes: usize,
}

/// A range a run could not collect.
#[derive(Clone, Debug, PartialEq)]
pub struct Gap {
    /// First time not collected.
    pub from: DateTime<Utc>,
    /// End of the run's range.
    pub to: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// What a run did for one table.
#[derive(Clone, Debug, Default)]
pub struct TableReport {
    /// Log Analytics table.
    pub table: String,
    /// Ledger stream.
    pub stream: String,
    /// The range this run covered, if any.
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Windows fetched whole (after splits).
    pub windows: u64,
    /// Rows received.
    pub rows: u64,
    /// Rows appended to the stream.
    pub appended: u64,
    /// Rows kept in the rejected stream.
    pub rejected: u64,
    /// Retried requests.
    pub retries: u64,
    /// Windows split because the service cut them.
    pub splits: u64,
    /// What could not be collected.
    pub gap: Option<Gap>,
}

/// Collects every configured table into `ledger`. Per-table failures are recorded as gaps
/// and reported; configuration, authentication and ledger failures stop the run (after
/// committing the whole windows already fetched).
pub async fn collect(
    ledger: &Ledger,
    config: &LogAnalyticsConfig,
    http: reqwest::Client,
    options: &CollectOptions,
    mut on_table_done: impl FnMut(&TableReport),
) -> Result<Vec<TableReport>, CollectError> {
    config.validate().map_err(CollectError::Config)?;
    let specs = table_specs(config)?;
    let (start_default, until) = run_bounds(config, options);

    let credential = auth::credential(config, &http)?;
    let retry = RetryPolicy {
        max_attempts: config.max_attempts,
        initial_backoff: Duration::from_millis(config.initial_backoff_ms),
        max_backoff: Duration::from_secs(config.max_backoff_secs),
    };
    let client = Arc::new(QueryClient::new(http, &config.endpoint, &config.workspace_id, &config.authority_host, credential, retry));
    let ctx = Arc::new(ConvertContext {
        item_path_fields: config.akeyless_item_path_fields.clone().unwrap_or_else(|| DEFAULT_ITEM_PATH_FIELDS.iter().map(|s| s.to_string()).collect()),
    });

    let mut reports = Vec::new();
    for spec in specs {
        let report = collect_table(ledger, config, &client, &ctx, spec, options, start_default, until).await?;
        on_table_done(&report);
        reports.push(report);
    }
    // What each table collected whole, so that a gap an earlier run left is known filled.
    let collected: Vec<_> = reports
        .iter()
        .filter_map(|r| {
            let (from, until) = r.range?;
            let to = r.gap.as_ref().map_or(until, |g| g.from);
            let at = GapSource { source: SOURCE, workspace: &config.workspace_id, table: &r.table, stream: &r.stream };
            (to > from).then(|| (at, (from.timestamp_micros(), to.timestamp_micros())))
        })
        .collect();
    append_collected(ledger, &collected, &options.run_id, SOURCE).await?;
    Ok(reports)
}

/// The configured tables.
fn table_specs(config: &LogAnalyticsConfig) -> Result<Vec<&'static TableSpec>, CollectError> {
    config.tables.iter().map(|t| TableSpec::for_table(t)).collect::<Result<Vec<_>, _>>().map_err(CollectError::Config)
}

/// Where a table with no cursor starts, and where this run ends (whole seconds).
fn run_bounds(config: &LogAnalyticsConfig, options: &CollectOptions) -> (DateTime<Utc>, DateTime<Utc>) {
    let start_default = config.start.map_or_else(|| previous_month_start(Utc::now()), |s| s.0);
    let until = options.until.unwrap_or_else(|| Utc::now() - chrono::Duration::minutes(config.settle_minutes.into()));
    (start_default, DateTime::from_timestamp(until.timestamp(), 0).expect("whole seconds of a valid time"))
}

/// Where this run starts a table: its cursor, or `--since` when later, or the default.
fn table_start(cursor: &Map<String, Json>, spec: &TableSpec, options: &CollectOptions, start_default: DateTime<Utc>) -> DateTime<Utc> {
    let collected_through = cursor.get(SOURCE).and_then(|c| c.pointer(&format!("/tables/{}", spec.table))).and_then(Json::as_str).and_then(parse_time);
    match (collected_through, options.since) {
        (Some(done), Some(since)) => done.max(since),
        (Some(done), None) => done,
        (None, since) => since.unwrap_or(start_default),
    }
}

/// Puts a run that could not collect at all (its credential refused, its configuration
/// unusable) on record: for each table, the range this run would have collected is a gap.
pub async fn record_failure(
    ledger: &Ledger,
    config: &LogAnalyticsConfig,
    options: &CollectOptions,
    error: &CollectError,
) -> Result<Vec<TableReport>, LedgerError> {
    let specs = table_specs(config).unwrap_or_default();
    let (start_default, until) = run_bounds(config, options);
    let mut reports = Vec::new();
    for spec in specs {
        let cursor = match ledger.cursor(spec.stream).await? {
            Some(Json::Object(c)) => c,
            _ => Map::new(),
        };
        let start = table_start(&cursor, spec, options, start_default);
        let mut report = TableReport { table: spec.table.into(), stream: spec.stream.into(), ..Default::default() };
        if start < until {
            let gap = Gap { from: start, to: until, reason: error.to_string() };
            record_gap(ledger, config, spec, &gap, &options.run_id, &format!("log_analytics:{}", spec.table)).await?;
            report.range = Some((start, until));
            report.gap = Some(gap);
        }
        reports.push(report);
    }
    Ok(reports)
}

enum Message {
    Window { to: i64, converted: Converted, retries: u32, splits: u64 },
    Failed { from: i64, error: CollectError, retries: u32, splits: u64 },
}

#[allow(clippy::too_many_arguments)]
async fn collect_table(
    ledger: &Ledger,
    config: &LogAnalyticsConfig,
    client: &Arc<QueryClient>,
    ctx: &Arc<ConvertContext>,
    spec: &'static TableSpec,
    options: &CollectOptions,
    start_default: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<TableReport, CollectError> {
    let mut report = TableReport { table: spec.table.into(), stream: spec.stream.into(), ..Default::default() };
    let schema = StreamSchema::new(spec.stream, spec.columns())?;
    let resumes_from = ledger.cursor(spec.stream).await?;
    let mut cursor = match &resumes_from {
        Some(Json::Object(c)) => c.clone(),
        _ => Map::new(),
    };
    let start = table_start(&cursor, spec, options, start_default);
    if start >= until {
        return Ok(report);
    }
    report.range = Some((start, until));
    let (from, to) = (start.timestamp_micros(), until.timestamp_micros());
    let window = i64::from(config.window_minutes) * 60_000_000;

    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let producer = {
        let (client, ctx, config) = (client.clone(), ctx.clone(), config.clone());
        tokio::spawn(async move { fetch_windows(&client, &ctx, &config, spec, from, to, window, tx).await })
    };

    let committer = Committer::spawn(ledger.clone(), schema, resumes_from);

    let origin = format!("log_analytics:{}", spec.table);
    let mut pending = Pending::default();
    let mut failure = None;
    while let Some(message) = rx.recv().await {
        match message {
            Message::Window { to: window_end, converted, retries, splits } => {
                report.windows += 1;
                report.rows += converted.rows;
                report.retries += u64::from(retries);
                report.splits += splits;
                pending.add(converted, window_end);
                if (pending.rows() >= options.commit_rows || pending.bytes >= options.commit_bytes)
                    && !pending.send(&committer, spec, config, &mut cursor).await
                {
                    break; // the committer failed: stop fetching; its error is returned below
                }
            }
            Message::Failed { from: failed_from, error, retries, splits } => {
                report.retries += u64::from(retries);
                report.splits += splits;
                failure = Some((failed_from, error));
            }
        }
    }
    producer.abort();
    pending.send(&committer, spec, config, &mut cursor).await;
    let committed = committer.finish().await?;
    report.appended = committed.appended;
    report.rejected = committed.rejected;
    if let Some((failed_from, error)) = failure {
        if error.is_fatal() {
            return Err(error);
        }
        let gap = Gap { from: micros_to_time(failed_from), to: until, reason: error.to_string() };
        record_gap(ledger, config, spec, &gap, &options.run_id, &origin).await?;
        report.gap = Some(gap);
    }
    Ok(report)
}

/// Whole windows gathered for the next commit.
#[derive(Default)]
struct Pending {
    batch: Batch,
    bytes: usize,
    through: Option<i64>,
}

impl Pending {
    fn add(&mut self, converted: Converted, window_end: i64) {
        self.bytes += converted.records.iter().map(|r| r.raw.len()).sum::<usize>();
        self.bytes += converted.rejected.iter().map(|r| r.raw.len()).sum::<usize>();
        self.batch.records.extend(converted.records);
        self.batch.rejected.extend(converted.rejected);
        self.through = Some(window_end);
    }

    fn rows(&self) -> usize {
        self.batch.records.len() + self.batch.rejected.len()
    }

    /// Hands the gathered windows to the committer with the cursor after them; false once
    /// the committer has failed.
    async fn send(&mut self, committer: &Committer, spec: &TableSpec, config: &LogAnalyticsConfig, cursor: &mut Map<String, Json>) -> bool {
        let Some(through) = self.through.take() else { return true };
        // Other sources writing to the same stream (forwarded Akeyless files) keep their
        // own key in the cursor; only this source's key changes.
        let mine = cursor.entry(SOURCE).or_insert_with(|| json!({}));
        mine["workspace"] = json!(config.workspace_id.as_str());
        if !mine["tables"].is_object() {
            mine["tables"] = json!({});
        }
        mine["tables"][spec.table] = json!(format_time(through));
        let mut batch = self.batch.take_keeping_room();
        self.bytes = 0;
        batch.cursor = Some(Json::Object(cursor.clone()));
        committer.send(batch).await
    }
}

/// Fetches `[from, to)` window by window, splitting cut windows, and sends each whole
/// window in time order; stops at the first window that cannot be collected.
#[allow(clippy::too_many_arguments)]
async fn fetch_windows(
    client: &QueryClient,
    ctx: &ConvertContext,
    config: &LogAnalyticsConfig,
    spec: &'static TableSpec,
    from: i64,
    to: i64,
    window: i64,
    tx: tokio::sync::mpsc::Sender<Message>,
) {
    let mut t = from;
    while t < to {
        // Windows end on multiples of the window length, so runs line up with each other.
        let end = ((t / window) + 1).saturating_mul(window).min(to);
        let mut stack = vec![(t, end)];
        let (mut retries, mut splits) = (0u32, 0u64);
        while let Some((a, b)) = stack.pop() {
            let (ta, tb) = (format_time(a), format_time(b));
            let query = spec.query(config, &ta, &tb);
            let origin = format!("log_analytics:{} [{ta}, {tb})", spec.table);
            let fetched = client.fetch(&query, &format!("{ta}/{tb}"), |body| spec.convert(body, config.row_cap, &origin, ctx)).await;
            let message = match fetched {
                Ok(f) => {
                    retries += f.retries;
                    match f.value {
                        Outcome::Complete(converted) => {
                            let m = Message::Window { to: b, converted, retries, splits };
                            (retries, splits) = (0, 0);
                            m
                        }
                        Outcome::Truncated(reason) if b - a > MIN_WINDOW_MICROS => {
                            tracing::info!(table = spec.table, from = %ta, to = %tb, "window cut by the service, splitting: {reason}");
                            let mid = a + (b - a) / 2;
                            stack.push((mid, b));
                            stack.push((a, mid));
                            splits += 1;
                            continue;
                        }
                        Outcome::Truncated(reason) => {
                            Message::Failed { from: a, error: CollectError::Unsplittable { from: ta, to: tb, reason }, retries, splits }
                        }
                    }
                }
                Err(error) => Message::Failed { from: a, error, retries, splits },
            };
            let failed = matches!(message, Message::Failed { .. });
            if tx.send(message).await.is_err() || failed {
                return;
            }
        }
        t = end;
    }
}

async fn record_gap(ledger: &Ledger, config: &LogAnalyticsConfig, spec: &TableSpec, gap: &Gap, run_id: &str, origin: &str) -> Result<(), LedgerError> {
    tracing::warn!(table = spec.table, from = %gap.from, to = %gap.to, "window not collected: {}", gap.reason);
    let where_ = GapSource { source: SOURCE, workspace: &config.workspace_id, table: spec.table, stream: spec.stream };
    append_gap(ledger, &where_, (gap.from.timestamp_micros(), gap.to.timestamp_micros()), &gap.reason, run_id, origin).await
}

fn format_time(micros: i64) -> String {
    micros_to_time(micros).to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn micros_to_time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// 00:00 UTC on the first day of the month before `now`'s.
fn previous_month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{Datelike, TimeZone};
    let (y, m) = if now.month() == 1 { (now.year() - 1, 12) } else { (now.year(), now.month() - 1) };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().expect("valid month start")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_month_wraps_the_year() {
        let t = |s: &str| parse_time(s).unwrap();
        assert_eq!(previous_month_start(t("2026-01-15T10:00:00Z")), t("2025-12-01T00:00:00Z"));
        assert_eq!(previous_month_start(t("2026-11-30T23:59:59Z")), t("2026-10-01T00:00:00Z"));
    }
}
