//! `collection_gaps`: every time range a run could not collect, whatever the source (a
//! Log Analytics window that kept failing, a Kubernetes cluster that did not answer). The
//! `coverage` view, the `collection-coverage` control and the evidence pack read it, so a
//! hole in the evidence is itself on record.

use chrono::SecondsFormat;
use keytrail_ledger::{Batch, Column, FieldType, Ledger, LedgerError, Record, StreamSchema, Value};
use serde_json::json;

/// The stream recording every range a run could not collect.
pub const GAPS_STREAM: &str = "collection_gaps";

/// The columns of the `collection_gaps` stream.
pub fn gap_columns() -> Vec<Column> {
    ["source", "workspace", "table_name", "stream", "window_start", "window_end", "reason", "run_id"]
        .into_iter()
        .map(|n| Column::new(n, if n.starts_with("window") { FieldType::Time } else { FieldType::Str }))
        .collect()
}

/// Where a gap is: the source, its account (workspace, cluster), table and stream.
pub(crate) struct GapSource<'a> {
    pub source: &'a str,
    pub workspace: &'a str,
    pub table: &'a str,
    pub stream: &'a str,
}

/// Appends one uncollected range `[from, to)` (microseconds) to `collection_gaps`.
pub(crate) async fn append_gap(ledger: &Ledger, at: &GapSource<'_>, (from, to): (i64, i64), reason: &str, run_id: &str, origin: &str) -> Result<(), LedgerError> {
    let schema = StreamSchema::new(GAPS_STREAM, gap_columns())?;
    let text = |micros: i64| chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default().to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let raw = json!({"source": at.source, "workspace": at.workspace, "table": at.table, "stream": at.stream,
        "window_start": text(from), "window_end": text(to), "reason": reason, "run_id": run_id, "origin": origin});
    let record = Record {
        event_time: from,
        raw: raw.to_string().into_bytes(),
        values: vec![
            Value::Str(at.source.into()),
            Value::Str(at.workspace.into()),
            Value::Str(at.table.into()),
            Value::Str(at.stream.into()),
            Value::Time(from),
            Value::Time(to),
            Value::Str(reason.into()),
            Value::Str(run_id.into()),
        ],
    };
    ledger.append(&schema, Batch::new(vec![record])).await?;
    Ok(())
}

/// Appends the range from `last_collected` (when the source was last collected, if ever)
/// to now: what a source that could not be collected this run leaves unseen. Never empty:
/// a source never collected is a gap of its own at this instant.
pub(crate) async fn append_gap_since(ledger: &Ledger, at: &GapSource<'_>, last_collected: Option<i64>, reason: &str, run_id: &str, origin: &str) -> Result<(), LedgerError> {
    let now = chrono::Utc::now().timestamp_micros();
    let from = last_collected.unwrap_or(now).min(now);
    append_gap(ledger, at, (from, now.max(from + 1)), reason, run_id, origin).await
}
