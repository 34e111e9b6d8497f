//! Everything a pack shows, read from the ledger once: verification, checkpoints, the
//! controls' evaluations and the aggregates behind the charts.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use keytrail_ledger::{Ledger, SignedNote, Signer, VerifyOptions, VerifyReport};
use keytrail_query::{LedgerSession, QueryError};
use std::collections::BTreeMap;

use keytrail_query::controls::Evaluation;

use crate::evidence::{Sample, cells};
use crate::{ReportError, ReportOptions};

/// One count per day and series, for a chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DailyCount {
    pub day: String,
    pub series: String,
    pub count: i64,
}

pub(crate) struct Facts {
    /// Filled while the evidence files are written.
    pub evaluations: Vec<Evaluation>,
    /// Per control id, the first rows of its evidence.
    pub samples: BTreeMap<String, Sample>,
    pub integrity: Result<VerifyReport, String>,
    pub checkpoints: Vec<SignedNote>,
    /// `coverage` view rows in the period: stream, day, rows, gaps.
    pub coverage: Vec<RecordBatch>,
    /// `coverage_gaps` rows overlapping the period.
    pub gaps: Vec<RecordBatch>,
    pub secret_reads: Vec<DailyCount>,
    pub auth_failures: Vec<DailyCount>,
    /// Rotations in the period per rotation-to-sync latency bucket (`rotation_syncs`).
    pub sync_latencies: Vec<(String, i64)>,
    /// Failed syncs in the period per ExternalSecret, most first (`eso_syncs`).
    pub sync_failures: Vec<(String, i64)>,
    /// Streams the ledger has (not the empty tables of sources never collected).
    pub streams: Vec<String>,
    /// Streams whose committed files are damaged (verification or a missing file): every
    /// query that reads one is refused, so the sections built on it are not shown.
    pub damaged: keytrail_query::Damage,
}

/// Everything but the controls' evaluations, which stream into the pack's files; returns
/// the session to evaluate them with.
pub(crate) async fn gather(ledger: &Ledger, signer: &Signer, options: &ReportOptions) -> Result<(LedgerSession, Facts), ReportError> {
    // The ledger's newest checkpoints from before this one hold it against the removal of
    // data they saw (read unchecked: a rotated key must not fail the ledger; `keytrail
    // verify --public-key` checks their signatures).
    let (earlier, unreadable) = keytrail_ledger::open_checkpoints(&ledger.stored_checkpoints().await?, None);
    let checkpoints = ledger.checkpoint(signer, &options.origin).await?;
    let verify_options = VerifyOptions { checkpoints: checkpoints.iter().map(|n| n.checkpoint.clone()).chain(earlier).collect(), ..Default::default() };
    let integrity = ledger.verify(&verify_options).await.map(|mut report| {
        report.other.extend(unreadable);
        report
    });
    let integrity = integrity.map_err(|e| e.to_string());
    let mut query = options.query.clone();
    if let Ok(report) = &integrity {
        for (stream, objects) in keytrail_query::damage_of(report) {
            query.damaged.entry(stream).or_default().extend(objects);
        }
    }
    let session = LedgerSession::open_with(ledger, &options.known_streams, &query).await?;

    let (start, end) = (options.period.0.format("%Y-%m-%dT%H:%M:%SZ"), options.period.1.format("%Y-%m-%dT%H:%M:%SZ"));
    let within = |column: &str| format!("{column} >= TIMESTAMP '{start}' AND {column} < TIMESTAMP '{end}'");
    let coverage = rows(
        &session,
        &format!(
            "SELECT stream, CAST(CAST(day AS DATE) AS VARCHAR) AS day, CAST(rows AS BIGINT) AS rows, CAST(gaps AS BIGINT) AS gaps \
             FROM coverage WHERE {} ORDER BY stream, day",
            within("day")
        ),
    )
    .await?;
    let gaps = rows(
        &session,
        &format!(
            "SELECT stream, table_name, window_start, window_end, reason, run_id, collected_by FROM coverage_gaps \
             WHERE window_end > TIMESTAMP '{start}' AND window_start < TIMESTAMP '{end}' \
             ORDER BY stream, window_start, window_end, table_name, reason, run_id"
        ),
    )
    .await?;
    let daily = |view: &str| {
        format!(
            "SELECT CAST(CAST(date_trunc('day', time) AS DATE) AS VARCHAR) AS day, source, count(*) AS n FROM {view} \
             WHERE {} GROUP BY 1, 2 ORDER BY 1, 2",
            within("time")
        )
    };
    let secret_reads = daily_counts(rows(&session, &daily("secret_access")).await?);
    let auth_failures = daily_counts(rows(&session, &daily("auth_failures")).await?);
    let latencies = pairs(
        &session,
        &format!(
            "SELECT CASE WHEN latency_secs IS NULL THEN 'never' WHEN latency_secs < 900 THEN '< 15 min' WHEN latency_secs < 3600 THEN '15-60 min' \
                    WHEN latency_secs < 7200 THEN '1-2 h' WHEN latency_secs < 14400 THEN '2-4 h' WHEN latency_secs < 28800 THEN '4-8 h' \
                    WHEN latency_secs < 86400 THEN '8-24 h' ELSE '> 24 h' END AS bucket, count(*) AS n \
             FROM rotation_syncs WHERE {} GROUP BY 1",
            within("rotated_at")
        ),
    )
    .await?;
    let sync_latencies = LATENCY_BUCKETS.iter().map(|b| ((*b).to_string(), latencies.iter().find(|(l, _)| l == b).map_or(0, |(_, n)| *n))).collect();
    let sync_failures = pairs(
        &session,
        &format!(
            "SELECT cluster_name || '/' || namespace || '/' || external_secret AS external_secret, CAST(sum(count) AS BIGINT) AS n \
             FROM eso_syncs WHERE reason = 'UpdateFailed' AND {} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {MAX_CHART_BARS}",
            within("time")
        ),
    )
    .await?;
    let streams = ledger.streams().await?;
    let facts = Facts {
        evaluations: Vec::new(),
        samples: BTreeMap::new(),
        integrity,
        checkpoints,
        coverage,
        gaps,
        secret_reads,
        auth_failures,
        sync_latencies,
        sync_failures,
        streams,
        damaged: session.damaged().clone(),
    };
    Ok((session, facts))
}

/// The latency buckets of the rotation-to-sync chart, in order.
const LATENCY_BUCKETS: [&str; 8] = ["< 15 min", "15-60 min", "1-2 h", "2-4 h", "4-8 h", "8-24 h", "> 24 h", "never"];

/// Bars at most in a per-object chart (the evidence files hold the rest).
const MAX_CHART_BARS: usize = 20;

/// (label, count) rows of a two-column query.
async fn pairs(session: &LedgerSession, sql: &str) -> Result<Vec<(String, i64)>, ReportError> {
    let (_, rows) = cells(&rows(session, sql).await?, usize::MAX, usize::MAX);
    Ok(rows.into_iter().map(|r| (r[0].clone(), r[1].parse().unwrap_or(0))).collect())
}

/// The rows of keytrail's own SQL; an empty result is one empty batch that keeps the
/// columns (so its CSV still has a header). A query refused for reading damaged streams
/// has no rows: the pack shows what is damaged instead ([`Facts::damaged`]).
async fn rows(session: &LedgerSession, sql: &str) -> Result<Vec<RecordBatch>, ReportError> {
    let df = match session.plan(sql).await {
        Err(QueryError::DamagedEvidence(_)) => return Ok(Vec::new()),
        planned => planned?,
    };
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await.map_err(QueryError::from)?;
    Ok(if batches.is_empty() { vec![RecordBatch::new_empty(schema)] } else { batches })
}

fn daily_counts(batches: Vec<RecordBatch>) -> Vec<DailyCount> {
    let (_, rows) = cells(&batches, usize::MAX, usize::MAX);
    rows.into_iter().map(|r| DailyCount { day: r[0].clone(), series: r[1].clone(), count: r[2].parse().unwrap_or(0) }).collect()
}
