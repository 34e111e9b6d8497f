//! `collection_gaps`: every time range a run could not collect, whatever the source (a
//! Log Analytics window that kept failing, a Kubernetes cluster that did not answer). The
//! `coverage` view, the `collection-coverage` control and the evidence pack read it, so a
//! hole in the evidence is itself on record.
//!
//! `collected_ranges`: every time range a run collected whole: a Log Analytics table's
//! windows, a forwarded-files location read whole (all of time up to the read), and a
//! Kubernetes cluster's Event lists (the event TTL before them, by the API server's clock:
//! every Event changed then was still listed). A later run can collect what an earlier one
//! could not; the `coverage_gaps` view names the run that did, and only ranges no run
//! collected count as holes. A cluster's gap is filled only by lists within the TTL of its
//! start; Akeyless snapshots missed while the API was down cannot be fetched later.

use chrono::SecondsFormat;
use keytrail_ledger::{Batch, Column, FieldType, Ledger, LedgerError, Record, StreamSchema, Value};
use serde_json::json;

/// The stream recording every range a run could not collect.
pub const GAPS_STREAM: &str = "collection_gaps";

/// The stream recording every range a run collected whole.
pub const RANGES_STREAM: &str = "collected_ranges";

/// The columns of the `collection_gaps` stream.
pub fn gap_columns() -> Vec<Column> {
    ["source", "workspace", "table_name", "stream", "window_start", "window_end", "reason", "run_id"]
        .into_iter()
        .map(|n| Column::new(n, if n.starts_with("window") { FieldType::Time } else { FieldType::Str }))
        .collect()
}

/// The columns of the `collected_ranges` stream: those of `collection_gaps` but the reason.
pub fn range_columns() -> Vec<Column> {
    gap_columns().into_iter().filter(|c| c.name != "reason").collect()
}

/// `collection_gaps` and `collected_ranges`.
pub fn stream_schemas() -> Result<Vec<StreamSchema>, LedgerError> {
    Ok(vec![StreamSchema::new(GAPS_STREAM, gap_columns())?, StreamSchema::new(RANGES_STREAM, range_columns())?])
}

/// Where a gap is: the source, its account (workspace, cluster), table and stream.
pub(crate) struct GapSource<'a> {
    pub source: &'a str,
    pub workspace: &'a str,
    pub table: &'a str,
    pub stream: &'a str,
}

/// Appends one uncollected range `[from, to)` (microseconds) to `collection_gaps`.
pub(crate) async fn append_gap(ledger: &Ledger, at: &GapSource<'_>, range: (i64, i64), reason: &str, run_id: &str, origin: &str) -> Result<(), LedgerError> {
    let schema = StreamSchema::new(GAPS_STREAM, gap_columns())?;
    ledger.append(&schema, Batch::new(vec![range_record(at, range, Some(reason), run_id, origin)])).await?;
    Ok(())
}

/// Appends the ranges `[from, to)` (microseconds) that a run collected whole, one per
/// source table, to `collected_ranges`.
pub(crate) async fn append_collected(ledger: &Ledger, ranges: &[(GapSource<'_>, (i64, i64))], run_id: &str, origin: &str) -> Result<(), LedgerError> {
    if ranges.is_empty() {
        return Ok(());
    }
    let schema = StreamSchema::new(RANGES_STREAM, range_columns())?;
    let records: Vec<Record> = ranges.iter().map(|(at, range)| range_record(at, *range, None, run_id, origin)).collect();
    ledger.append(&schema, Batch::new(records)).await?;
    Ok(())
}

/// One row of `collection_gaps` (with a reason) or `collected_ranges` (without).
fn range_record(at: &GapSource<'_>, (from, to): (i64, i64), reason: Option<&str>, run_id: &str, origin: &str) -> Record {
    let text = |micros: i64| chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default().to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let mut raw = json!({"source": at.source, "workspace": at.workspace, "table": at.table, "stream": at.stream,
        "window_start": text(from), "window_end": text(to), "run_id": run_id, "origin": origin});
    let mut values = vec![
        Value::Str(at.source.into()),
        Value::Str(at.workspace.into()),
        Value::Str(at.table.into()),
        Value::Str(at.stream.into()),
        Value::Time(from),
        Value::Time(to),
    ];
    if let Some(reason) = reason {
        raw["reason"] = json!(reason);
        values.push(Value::Str(reason.into()));
    }
    values.push(Value::Str(run_id.into()));
    Record { event_time: from, raw: raw.to_string().into_bytes(), values }
}

/// Appends the range from `last_collected` (when the source was last collected, if ever)
/// to now: what a source that could not be collected this run leaves unseen. Never empty:
/// a source never collected is a gap of its own at this instant.
pub(crate) async fn append_gap_since(
    ledger: &Ledger,
    at: &GapSource<'_>,
    last_collected: Option<i64>,
    reason: &str,
    run_id: &str,
    origin: &str,
) -> Result<(), LedgerError> {
    let now = chrono::Utc::now().timestamp_micros();
    let from = last_collected.unwrap_or(now).min(now);
    append_gap(ledger, at, (from, now.max(from + 1)), reason, run_id, origin).await
}
