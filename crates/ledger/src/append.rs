//! Appending: how a batch of records becomes a committed, chained part of a stream.
//!
//! ```text
//!  Batch ─prepare─▶ PreparedCommit ─write_segments─▶ SegmentsWritten ─commit─▶ CommitSummary
//!  (records,        (rows chained,     (segment files     (manifest put-if-absent:
//!   cursor)          Parquet encoded,   stored, invisible) data and cursor become
//!                    manifest built)                       visible together)
//!    ▲                                                          │ ManifestExists
//!    └───────────── reload head, chain again, new file names ◀──┘
//! ```
//!
//! Nothing is visible before the manifest exists, so a crash at any point leaves the
//! ledger as it was (plus unreferenced segment files that no reader looks at), and the
//! cursor — inside the manifest — can never run ahead of the data it covers.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use rand_core::{OsRng, RngCore};

use crate::manifest::{FORMAT, Manifest, SegmentRef, manifest_path, sha256_hex};
use crate::merkle::{Frontier, leaf_hash};
use crate::record::{Record, RowView, Value, genesis_hash, row_hash};
use crate::records::{Records, split_values};
use crate::schema::StreamSchema;
use crate::segment;
use crate::{Hash, Ledger, LedgerError, Result};

/// How many times a writer re-chains and retries after losing the race for a manifest.
const MAX_ATTEMPTS: u32 = 32;

/// Records to append to one stream in one commit, with the records that could not be
/// parsed and the collector's position after them.
#[derive(Debug, Default)]
pub struct Batch {
    /// Parsed records.
    pub records: Records,
    /// Records that could not be parsed; kept in the `<stream>__rejected` stream.
    pub rejected: Vec<Rejected>,
    /// The resume point to commit with these records (opaque to the ledger).
    pub cursor: Option<serde_json::Value>,
    /// `Some(c)`: commit only while the stream's cursor is still `c`, the one this writer
    /// resumed from or last committed (`Some(None)`: the stream has none yet), so that two
    /// writers resuming from the same point cannot both commit what follows it
    /// ([`LedgerError::CursorMoved`]). `None` does not check.
    pub resumes_from: Option<Option<serde_json::Value>>,
}

impl Batch {
    /// A batch of parsed records with no cursor.
    pub fn new(records: impl Into<Records>) -> Self {
        Self { records: records.into(), ..Default::default() }
    }

    /// Takes the batch, leaving an empty one with room for as many records and bytes, so
    /// that the next of a run of similar batches fills without reallocating.
    pub fn take_keeping_room(&mut self) -> Batch {
        let next = Batch { records: self.records.sized_like(), ..Default::default() };
        std::mem::replace(self, next)
    }
}

/// A record that could not be parsed, kept byte for byte with why and where.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The input exactly as received (may be invalid UTF-8).
    pub raw: Vec<u8>,
    /// Why it was rejected.
    pub reason: String,
    /// Where it came from (`file:line`, a query window, …).
    pub origin: String,
    /// Its event time when one could be read; otherwise the ingest time is used.
    pub event_time: Option<i64>,
}

/// What one commit wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct CommitSummary {
    /// Stream name.
    pub stream: String,
    /// Manifest number.
    pub number: u64,
    /// Rows committed.
    pub rows: u64,
    /// Rows in the stream after the commit.
    pub tree_size: u64,
    /// Segment files written.
    pub segments: Vec<String>,
    /// Attempts it took (more than one when other writers committed first).
    pub attempts: u32,
}

/// What [`Ledger::append`] committed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendOutcome {
    /// The commit to the stream itself; `None` when there was nothing to commit.
    pub committed: Option<CommitSummary>,
    /// The commit to the stream's rejected stream, if any records were rejected.
    pub rejected: Option<CommitSummary>,
}

/// The head of a stream as an appender continues from it.
struct HeadState {
    number: u64,
    manifest_sha256: Option<String>,
    frontier: Frontier,
    last_row_hash: Hash,
    cursor: Option<serde_json::Value>,
}

/// Rows chained and encoded, manifest built; nothing stored yet.
struct PreparedCommit {
    manifest: Manifest,
    files: Vec<(String, Vec<u8>)>,
}

/// Segment files stored (invisible to readers); the manifest is not.
struct SegmentsWritten {
    manifest: Manifest,
    paths: Vec<String>,
}

impl Ledger {
    /// Appends a batch: rejected records to `<stream>__rejected`, then the records and the
    /// cursor to the stream, each as one commit.
    ///
    /// A batch whose rejected records were committed by an earlier, interrupted call with
    /// the same cursor does not commit them again, so retrying a batch never duplicates.
    pub async fn append(&self, schema: &StreamSchema, batch: Batch) -> Result<AppendOutcome> {
        let Batch { records, rejected, cursor, resumes_from } = batch;
        let mut outcome = AppendOutcome::default();
        if !rejected.is_empty() {
            // Checked before the rejected records too, so a writer that lost its place commits none.
            if let Some(expected) = &resumes_from {
                check_resumes_from(schema, &self.head_state(schema).await?, expected)?;
            }
            let rejected_schema = schema.rejected();
            let head = self.head_state(&rejected_schema).await?;
            if cursor.is_none() || head.cursor != cursor {
                let now = Utc::now().timestamp_micros();
                let rows: Records = rejected
                    .into_iter()
                    .map(|r| Record { event_time: r.event_time.unwrap_or(now), raw: r.raw, values: vec![Value::Str(r.reason), Value::Str(r.origin)] })
                    .collect();
                outcome.rejected = Some(self.commit(&rejected_schema, rows, cursor.clone(), None).await?);
            }
        }
        if !records.is_empty() || (cursor.is_some() && self.head_state(schema).await?.cursor != cursor) {
            outcome.committed = Some(self.commit(schema, records, cursor, resumes_from.as_ref()).await?);
        }
        Ok(outcome)
    }

    /// The cursor committed with the newest manifest of a stream.
    pub async fn cursor(&self, stream: &str) -> Result<Option<serde_json::Value>> {
        Ok(self.head(stream).await?.and_then(|(m, _)| m.cursor))
    }

    async fn commit(
        &self,
        schema: &StreamSchema,
        records: Records,
        cursor: Option<serde_json::Value>,
        resumes_from: Option<&Option<serde_json::Value>>,
    ) -> Result<CommitSummary> {
        check_records(schema, &records)?;
        let records = Arc::new(records);
        for attempt in 1..=MAX_ATTEMPTS {
            let head = self.head_state(schema).await?;
            if let Some(expected) = resumes_from {
                // The writer that won the race may have committed these very records.
                check_resumes_from(schema, &head, expected)?;
            }
            let (schema2, records2, cursor2) = (schema.clone(), records.clone(), cursor.clone());
            let prepared =
                tokio::task::spawn_blocking(move || prepare(&schema2, &head, &records2, cursor2, Utc::now())).await.expect("prepare does not panic")?;
            let written = prepared.write_segments(self).await?;
            failpoint("before-manifest-commit");
            match written.commit(self).await {
                Ok(mut summary) => {
                    summary.attempts = attempt;
                    return Ok(summary);
                }
                Err(LedgerError::ManifestExists { number, .. }) => {
                    tracing::debug!(stream = schema.name(), number, attempt, "another writer committed first; retrying");
                    // Jittered back-off so racing writers spread out.
                    let jitter = u64::from(OsRng.next_u32() % 20);
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt.min(10)) + jitter)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(LedgerError::Contention { stream: schema.name().to_string(), attempts: MAX_ATTEMPTS })
    }

    async fn head_state(&self, schema: &StreamSchema) -> Result<HeadState> {
        let Some((manifest, sha)) = self.head(schema.name()).await? else {
            return Ok(HeadState { number: 0, manifest_sha256: None, frontier: Frontier::new(), last_row_hash: genesis_hash(schema.name()), cursor: None });
        };
        // A stream's columns may change from one commit to the next (a source types a field
        // it did not before, or stops typing one), but a column never changes type and the
        // raw kind never changes: readers take the newest columns and read a column an
        // older segment lacks as null (LEDGER.md).
        let retyped = manifest.columns.iter().any(|old| schema.columns().iter().any(|new| new.name == old.name && new.kind != old.kind));
        if retyped || manifest.raw_kind != schema.raw_kind() {
            let names = |cols: &[crate::Column]| cols.iter().map(|c| format!("{}:{:?}", c.name, c.kind)).collect::<Vec<_>>().join(", ");
            return Err(LedgerError::SchemaMismatch {
                stream: schema.name().to_string(),
                existing: names(&manifest.columns),
                requested: names(schema.columns()),
            });
        }
        Ok(HeadState {
            number: manifest.number,
            manifest_sha256: Some(sha),
            frontier: manifest.frontier()?,
            last_row_hash: manifest.last_row_hash()?,
            cursor: manifest.cursor,
        })
    }
}

fn check_records(schema: &StreamSchema, records: &Records) -> Result<()> {
    let columns = schema.columns();
    for index in 0..records.len() {
        let invalid = |reason: String| LedgerError::InvalidRecord { stream: schema.name().to_string(), index, reason };
        let mut count = 0;
        for value in split_values(records.typed(index)) {
            let Some((_, kind)) = value else {
                return Err(invalid(format!("typed value {count} is not a well-formed encoding")));
            };
            let Some(column) = columns.get(count) else {
                return Err(invalid(format!("more typed values than the {} columns", columns.len())));
            };
            if let Some(kind) = kind.filter(|k| *k != column.kind) {
                return Err(invalid(format!("a value of type {kind:?} does not fit column {} of type {:?}", column.name, column.kind)));
            }
            count += 1;
        }
        if count != columns.len() {
            return Err(invalid(format!("{count} typed values for {} columns", columns.len())));
        }
        if DateTime::from_timestamp_micros(records.event_time(index)).is_none() {
            return Err(invalid(format!("event time {}µs is out of range", records.event_time(index))));
        }
    }
    Ok(())
}

/// Chains and encodes the records after `head`. Records are grouped by the month of
/// their event time (months ascending, input order within a month) so that each segment
/// file lies in one `month=YYYY-MM` partition; seq follows that order.
fn prepare(
    schema: &StreamSchema,
    head: &HeadState,
    records: &Records,
    cursor: Option<serde_json::Value>,
    committed_at: DateTime<Utc>,
) -> Result<PreparedCommit> {
    let number = head.number + 1;
    let ingest_time = committed_at.timestamp_micros();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name.as_str()).collect();

    let mut by_month: std::collections::BTreeMap<(i32, u32), Vec<usize>> = Default::default();
    for (i, &event_time) in records.event_times().iter().enumerate() {
        let t = DateTime::from_timestamp_micros(event_time).expect("checked by check_records");
        by_month.entry((t.year(), t.month())).or_default().push(i);
    }

    let mut frontier = head.frontier.clone();
    let mut commit_tree = Frontier::new();
    let mut prev = head.last_row_hash;
    let mut seq = frontier.size();
    let mut files = Vec::new();
    let mut segments = Vec::new();
    let nonce = format!("{:08x}", OsRng.next_u32());
    for (part, ((year, month), group)) in by_month.into_iter().enumerate() {
        let chain_start = prev;
        let first_seq = seq;
        // The chain is sequential, so it runs beside the encoding of everything else.
        let (encoder, row_hashes) = std::thread::scope(|scope| {
            let chain = scope.spawn(|| {
                let mut scratch = Vec::new();
                let mut row_hashes = Vec::with_capacity(group.len());
                for &i in &group {
                    let view = RowView { seq, event_time: records.event_time(i), ingest_time, raw: records.raw(i), names: &names, typed: records.typed(i) };
                    let h = row_hash(&prev, &view, &mut scratch);
                    let leaf = leaf_hash(&h);
                    frontier.push_leaf(leaf);
                    commit_tree.push_leaf(leaf);
                    row_hashes.push(h);
                    prev = h;
                    seq += 1;
                }
                row_hashes
            });
            let encoder = segment::SegmentEncoder::start(schema, records, &group, first_seq, ingest_time);
            (encoder, chain.join().expect("hashing does not panic"))
        });
        let bytes = encoder?.finish(&chain_start, &row_hashes)?;
        let path = format!("streams/{}/month={year:04}-{month:02}/{number:020}-{part:03}-{nonce}.parquet", schema.name());
        let (min, max) = group.iter().map(|&i| records.event_time(i)).fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
        segments.push(SegmentRef {
            path: path.clone(),
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            rows: group.len() as u64,
            first_seq,
            last_seq: seq - 1,
            event_time_min: micros(min),
            event_time_max: micros(max),
        });
        files.push((path, bytes));
    }

    let rows = records.len() as u64;
    let manifest = Manifest {
        format: FORMAT.to_string(),
        stream: schema.name().to_string(),
        number,
        prev_manifest_sha256: head.manifest_sha256.clone(),
        committed_at: micros(ingest_time),
        rows,
        first_seq: (rows > 0).then_some(head.frontier.size()),
        last_seq: (rows > 0).then(|| seq - 1),
        event_time_min: segments.iter().map(|s| s.event_time_min).min(),
        event_time_max: segments.iter().map(|s| s.event_time_max).max(),
        prev_row_hash: hex::encode(head.last_row_hash),
        last_row_hash: hex::encode(prev),
        merkle_root: hex::encode(commit_tree.root()),
        tree_size: frontier.size(),
        tree_root: hex::encode(frontier.root()),
        tree_frontier: frontier.nodes().iter().map(hex::encode).collect(),
        raw_kind: schema.raw_kind(),
        columns: schema.columns().to_vec(),
        segments,
        cursor,
        writer: concat!("keytrail ", env!("CARGO_PKG_VERSION")).to_string(),
    };
    Ok(PreparedCommit { manifest, files })
}

fn micros(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t).expect("checked by check_records")
}

impl PreparedCommit {
    async fn write_segments(self, ledger: &Ledger) -> Result<SegmentsWritten> {
        let mut paths = Vec::with_capacity(self.files.len());
        for (path, bytes) in self.files {
            if !ledger.put_new(&path, bytes).await? {
                // The name carries a random nonce: a collision means something else wrote
                // there, which the ledger must not overwrite.
                return Err(LedgerError::corrupt("segment", &path, "an object already exists at this new segment's path"));
            }
            paths.push(path);
        }
        Ok(SegmentsWritten { manifest: self.manifest, paths })
    }
}

impl SegmentsWritten {
    async fn commit(&self, ledger: &Ledger) -> Result<CommitSummary> {
        let m = &self.manifest;
        let path = manifest_path(&m.stream, m.number);
        if !ledger.put_new(&path, m.to_bytes()).await? {
            for p in &self.paths {
                ledger.delete_uncommitted(p).await;
            }
            return Err(LedgerError::ManifestExists { stream: m.stream.clone(), number: m.number });
        }
        tracing::debug!(stream = %m.stream, number = m.number, rows = m.rows, "committed");
        Ok(CommitSummary { stream: m.stream.clone(), number: m.number, rows: m.rows, tree_size: m.tree_size, segments: self.paths.clone(), attempts: 1 })
    }
}

/// Crash-test hook: `KEYTRAIL_FAILPOINT=<name>` makes the process exit at that point, as a
/// kill would, so tests can check what a crash there leaves behind.
fn failpoint(name: &str) {
    if std::env::var("KEYTRAIL_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("keytrail: failpoint {name} reached, exiting");
        std::process::exit(86);
    }
}

/// Fails unless the stream's newest cursor is the one the writer resumed from.
fn check_resumes_from(schema: &StreamSchema, head: &HeadState, expected: &Option<serde_json::Value>) -> Result<()> {
    if head.cursor == *expected {
        return Ok(());
    }
    Err(LedgerError::CursorMoved { stream: schema.name().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, FieldType, OpenMode};

    fn rec(t: &str, raw: &str) -> Record {
        Record::new(t.parse().unwrap(), raw.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn appends_chain_across_commits_and_months() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().to_str().unwrap(), OpenMode::ReadWrite).await.unwrap();
        let schema = StreamSchema::new("s", vec![]).unwrap();
        let first = ledger
            .append(&schema, Batch::new(vec![rec("2026-11-02T00:00:00Z", "{\"a\":1}"), rec("2026-10-31T23:59:59Z", "{}")]))
            .await
            .unwrap()
            .committed
            .unwrap();
        assert_eq!((first.number, first.rows, first.tree_size), (1, 2, 2));
        // October sorts before November, each in its own month partition.
        assert!(first.segments[0].contains("/month=2026-10/"), "{:?}", first.segments);
        assert!(first.segments[1].contains("/month=2026-11/"), "{:?}", first.segments);

        let second = ledger.append(&schema, Batch::new(vec![rec("2026-11-03T00:00:00Z", "{}")])).await.unwrap().committed.unwrap();
        assert_eq!((second.number, second.tree_size), (2, 3));
        let ms = ledger.manifests("s").await.unwrap();
        assert_eq!(ms[1].prev_row_hash, ms[0].last_row_hash);
        assert_eq!(ms[1].first_seq, Some(2));
        assert!(ledger.verify(&Default::default()).await.unwrap().is_valid());
    }

    #[tokio::test]
    async fn segment_lists_are_the_manifests_segments_without_their_cursors() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().to_str().unwrap(), OpenMode::ReadWrite).await.unwrap();
        let schema = StreamSchema::new("s", vec![Column::new("n", FieldType::Int)]).unwrap();
        for day in ["02", "03"] {
            let mut r = rec(&format!("2026-11-{day}T00:00:00Z"), "{}");
            r.values = vec![Value::Int(1)];
            let cursor = serde_json::json!({ "seen": { day: [1, 2, 3] } });
            ledger.append(&schema, Batch { cursor: Some(cursor), ..Batch::new(vec![r]) }).await.unwrap();
        }
        let manifests = ledger.manifests("s").await.unwrap();
        let lists = ledger.segment_lists("s").await.unwrap();
        assert_eq!(lists.len(), 2);
        for (m, l) in manifests.iter().zip(&lists) {
            assert!(m.cursor.is_some());
            assert_eq!((&l.segments, &l.columns, l.raw_kind), (&m.segments, &m.columns, m.raw_kind));
        }
        // A manifest of another format is refused here as by the full reader.
        let path = dir.path().join("_manifests/s/00000000000000000002.json");
        let text = std::fs::read_to_string(&path).unwrap().replace(crate::FORMAT, "keytrail-ledger/9");
        std::fs::write(&path, text).unwrap();
        let err = ledger.segment_lists("s").await.unwrap_err().to_string();
        assert!(err.contains("keytrail-ledger/9") && err.contains("00000000000000000002.json"), "{err}");
    }

    #[tokio::test]
    async fn typed_values_must_fit_their_columns() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().to_str().unwrap(), OpenMode::ReadWrite).await.unwrap();
        let schema = StreamSchema::new("s", vec![Column::new("n", FieldType::Int)]).unwrap();
        let mut r = rec("2026-11-02T00:00:00Z", "{}");
        r.values = vec![Value::Str("x".into())];
        let err = ledger.append(&schema, Batch::new(vec![r])).await.unwrap_err();
        assert!(matches!(err, LedgerError::InvalidRecord { index: 0, .. }), "{err}");
        assert!(err.to_string().contains("a value of type Str does not fit column n of type Int"), "{err}");
        let mut fine = rec("2026-11-02T00:00:00Z", "{}");
        fine.values = vec![Value::Int(1)];
        let short = rec("2026-11-02T00:00:01Z", "{}");
        let err = ledger.append(&schema, Batch::new(vec![fine, short])).await.unwrap_err();
        assert!(matches!(err, LedgerError::InvalidRecord { index: 1, .. }), "{err}");
        assert!(err.to_string().contains("0 typed values for 1 columns"), "{err}");
        assert!(ledger.streams().await.unwrap().is_empty());
    }

    /// A source that types a new field (and drops one) goes on in the same stream; a
    /// column that would change type is refused, and the chain verifies across both.
    #[tokio::test]
    async fn columns_may_be_added_or_dropped_but_never_retyped() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().to_str().unwrap(), OpenMode::ReadWrite).await.unwrap();
        let with = |columns: Vec<Column>, values: Vec<Value>| {
            let mut r = rec("2026-11-02T00:00:00Z", "{}");
            r.values = values;
            (StreamSchema::new("s", columns).unwrap(), Batch::new(vec![r]))
        };
        let (old, batch) = with(vec![Column::new("a", FieldType::Str), Column::new("gone", FieldType::Bool)], vec![Value::Str("x".into()), Value::Bool(true)]);
        ledger.append(&old, batch).await.unwrap();
        let (new, batch) = with(vec![Column::new("a", FieldType::Str), Column::new("added", FieldType::Time)], vec![Value::Null, Value::Time(1)]);
        ledger.append(&new, batch).await.unwrap();
        let (retyped, batch) = with(vec![Column::new("a", FieldType::Int)], vec![Value::Int(1)]);
        let err = ledger.append(&retyped, batch).await.unwrap_err();
        assert!(matches!(err, LedgerError::SchemaMismatch { .. }) && err.to_string().contains("never change type"), "{err}");
        assert_eq!(ledger.manifests("s").await.unwrap().len(), 2);
        assert!(ledger.verify(&crate::VerifyOptions::default()).await.unwrap().is_valid());
    }

    /// Two writers resume from the same cursor: the second to commit is refused, whole
    /// (rejected records included), instead of committing the same records again.
    #[tokio::test]
    async fn a_writer_whose_cursor_moved_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().to_str().unwrap(), OpenMode::ReadWrite).await.unwrap();
        let schema = StreamSchema::new("s", vec![]).unwrap();
        let day = |d: &str| Some(serde_json::json!({ "until": d }));
        let batch = |from: Option<serde_json::Value>, to: &str| Batch {
            cursor: day(to),
            resumes_from: Some(from),
            rejected: vec![crate::Rejected { raw: b"x".to_vec(), reason: "bad".into(), origin: "test".into(), event_time: None }],
            ..Batch::new(vec![rec("2026-11-02T00:00:00Z", "{}")])
        };
        ledger.append(&schema, batch(None, "2026-11-03")).await.unwrap();
        let err = ledger.append(&schema, batch(None, "2026-11-03")).await.unwrap_err();
        assert!(matches!(&err, LedgerError::CursorMoved { stream } if stream == "s"), "{err}");
        assert!(err.to_string().contains("run one at a time"), "{err}");
        assert_eq!(ledger.manifests("s").await.unwrap().len(), 1);
        assert_eq!(ledger.manifests("s__rejected").await.unwrap().len(), 1);
        // Resuming from the committed cursor goes on; not checking always commits.
        ledger.append(&schema, batch(day("2026-11-03"), "2026-11-04")).await.unwrap();
        ledger.append(&schema, Batch { resumes_from: None, ..batch(None, "2026-11-05") }).await.unwrap();
        assert_eq!(ledger.manifests("s").await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_cursor_only_batch_commits_once() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(dir.path().to_str().unwrap(), OpenMode::ReadWrite).await.unwrap();
        let schema = StreamSchema::new("s", vec![]).unwrap();
        let batch = || Batch { cursor: Some(serde_json::json!({"until": "2026-11-02"})), ..Default::default() };
        assert!(ledger.append(&schema, batch()).await.unwrap().committed.is_some());
        assert!(ledger.append(&schema, batch()).await.unwrap().committed.is_none());
        assert_eq!(ledger.cursor("s").await.unwrap(), Some(serde_json::json!({"until": "2026-11-02"})));
    }
}
