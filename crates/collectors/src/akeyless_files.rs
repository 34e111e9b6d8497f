//! Akeyless audit records forwarded by the Akeyless Gateway as JSON-lines files, on a local
//! folder, Azure Blob or S3, laid out as
//! `akeyless-log/YYYY/MM/DD/akeyless-audit_YYYY-MM-DDTHH:MM.log`.
//!
//! Incremental by file: the `akeyless_audit` stream's cursor records, per location, every
//! file read with the bytes consumed and the SHA-256 of those bytes. A file seen before is
//! skipped; a file that grew is read from where the last run stopped (after checking that
//! the bytes already read are unchanged); a file whose read bytes changed is kept whole in
//! the rejected stream, never re-ingested as new records. A last line without its newline
//! is left for the next run unless it is already a complete JSON object.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::TryStreamExt;
use keytrail_ledger::{Batch, Ledger, Records, Rejected, StreamSchema};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use crate::akeyless;
use crate::committer::Committer;

mod source;
pub use source::{AkeylessLogsConfig, read_input};

/// This source's key in the `akeyless_audit` cursor.
pub const SOURCE: &str = "akeyless_logs";

/// Bytes read from storage per request.
const CHUNK: u64 = 8 << 20;

/// How to read.
#[derive(Clone, Debug)]
pub struct FilesOptions {
    /// Fields tried for the item path.
    pub item_path_fields: Vec<String>,
    /// Longer lines are rejected.
    pub max_record_bytes: usize,
    /// Records per commit.
    pub batch_records: usize,
    /// Raw bytes per commit.
    pub batch_bytes: usize,
    /// Only the file with this name (a single file given on the command line).
    pub only: Option<String>,
}

impl Default for FilesOptions {
    fn default() -> Self {
        Self {
            item_path_fields: akeyless::DEFAULT_ITEM_PATH_FIELDS.iter().map(|s| s.to_string()).collect(),
            max_record_bytes: 1 << 20,
            batch_records: 256 * 1024,
            batch_bytes: 32 << 20,
            only: None,
        }
    }
}

/// What a run read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilesReport {
    /// Files matching the layout.
    pub files_seen: u64,
    /// Files read from the start or from where they grew.
    pub files_read: u64,
    /// Files whose already-read bytes changed (kept in the rejected stream).
    pub files_changed: u64,
    /// Records appended.
    pub appended: u64,
    /// Records rejected.
    pub rejected: u64,
}

/// Why reading failed.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// Listing or reading the storage failed.
    #[error("reading {location}: {source}")]
    Storage {
        /// The location (credentials redacted).
        location: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// An input that names no readable location.
    #[error("{input}: {message}")]
    Location {
        /// The input as given (credentials redacted).
        input: String,
        /// What is wrong.
        message: String,
    },
    /// Appending failed.
    #[error(transparent)]
    Ledger(#[from] keytrail_ledger::LedgerError),
}

/// Where a location's gaps and reads are on record.
fn gap_source(location: &str) -> crate::gaps::GapSource<'_> {
    crate::gaps::GapSource { source: SOURCE, workspace: location, table: SOURCE, stream: akeyless::STREAM }
}

/// Puts a location that could not be read on record in `collection_gaps`, at this instant:
/// the files stay where the Gateway wrote them, and the next read takes them all.
async fn record_unread(ledger: &Ledger, location: &str, reason: &str, run_id: &str) -> Result<(), keytrail_ledger::LedgerError> {
    crate::gaps::append_gap_since(ledger, &gap_source(location), None, reason, run_id, "akeyless_logs read").await
}

/// Puts a whole read of a location on record in `collected_ranges`: every file stored there
/// up to now was read, so any earlier gap of this location is filled.
async fn record_read(ledger: &Ledger, location: &str, run_id: &str) -> Result<(), keytrail_ledger::LedgerError> {
    let now = chrono::Utc::now().timestamp_micros();
    crate::gaps::append_collected(ledger, &[(gap_source(location), (0, now))], run_id, "akeyless_logs read").await
}

/// How far a file was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FileMark {
    bytes: u64,
    lines: u64,
    sha256: String,
}

/// Whether a file name is one the Gateway writes (`akeyless-audit_YYYY-MM-DDTHH:MM.log`).
pub fn is_forwarded_log(name: &str) -> bool {
    let Some(stamp) = name.strip_prefix("akeyless-audit_").and_then(|r| r.strip_suffix(".log")) else { return false };
    let b = stamp.as_bytes();
    b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// Reads every new forwarded file under `store` into the `akeyless_audit` stream.
/// `location` names the store in the cursor and in rejected records' origins.
pub async fn ingest(ledger: &Ledger, store: Arc<dyn ObjectStore>, location: &str, options: &FilesOptions) -> Result<FilesReport, FilesError> {
    let storage = |source| FilesError::Storage { location: location.to_string(), source };
    let schema = StreamSchema::new(akeyless::STREAM, akeyless::columns())?;
    let resumes_from = ledger.cursor(akeyless::STREAM).await?;
    let mut cursor = match &resumes_from {
        Some(Json::Object(c)) => c.clone(),
        _ => serde_json::Map::new(),
    };
    let mut marks: BTreeMap<String, FileMark> =
        cursor.get(SOURCE).and_then(|s| s.get(location)).and_then(|l| serde_json::from_value(l.clone()).ok()).unwrap_or_default();

    let mut files: Vec<_> = store
        .list(None)
        .try_filter(|meta| {
            let name = meta.location.filename().unwrap_or_default();
            std::future::ready(is_forwarded_log(name) && options.only.as_deref().is_none_or(|only| only == name))
        })
        .try_collect()
        .await
        .map_err(storage)?;
    files.sort_by(|a, b| a.location.cmp(&b.location));

    let mut report = FilesReport { files_seen: files.len() as u64, ..Default::default() };
    let committer = Committer::spawn(ledger.clone(), schema, resumes_from);
    let mut pending = Batch::default();
    let mut pending_bytes = 0usize;
    for meta in files {
        let key = meta.location.to_string();
        let size = meta.size;
        let mark = marks.get(&key).cloned();
        if mark.as_ref().is_some_and(|m| m.bytes == size) {
            continue;
        }
        report.files_read += 1;
        // Check the bytes read before, and carry their hash forward.
        let mut hasher = Sha256::new();
        let (mut offset, mut line_no) = (0u64, 0u64);
        if let Some(m) = &mark {
            let unchanged = m.bytes < size && {
                hash_range(&*store, &meta.location, m.bytes, &mut hasher).await.map_err(storage)?;
                hex::encode(hasher.clone().finalize()) == m.sha256
            };
            if !unchanged {
                report.files_changed += 1;
                let all = store.get(&meta.location).await.map_err(storage)?.bytes().await.map_err(storage)?;
                pending.rejected.push(Rejected {
                    raw: all.to_vec(),
                    reason: format!("forwarded file changed after {} of its bytes were ingested (now {size} bytes); kept whole here, not re-ingested", m.bytes),
                    origin: format!("{location}/{key}"),
                    event_time: None,
                });
                marks.insert(key, FileMark { bytes: size, lines: 0, sha256: hex::encode(Sha256::digest(&all)) });
                continue;
            }
            (offset, line_no) = (m.bytes, m.lines);
        }

        let mut carry: Vec<u8> = Vec::new();
        let mut read_to = offset;
        while read_to < size {
            let end = (read_to + CHUNK).min(size);
            let chunk = store.get_range(&meta.location, read_to..end).await.map_err(storage)?;
            read_to = end;
            carry.extend_from_slice(&chunk);
            let Some(last_newline) = carry.iter().rposition(|b| *b == b'\n') else { continue };
            let complete = &carry[..=last_newline];
            for line in complete.split_inclusive(|b| *b == b'\n') {
                line_no += 1;
                pending_bytes += line.len();
                take_line(line, || format!("{location}/{key}:{line_no}"), options, &mut pending);
            }
            hasher.update(complete);
            offset += complete.len() as u64;
            carry.drain(..=last_newline);
            marks.insert(key.clone(), FileMark { bytes: offset, lines: line_no, sha256: hex::encode(hasher.clone().finalize()) });
            if pending.records.len() + pending.rejected.len() >= options.batch_records || pending_bytes >= options.batch_bytes {
                pending_bytes = 0;
                if !send(&committer, &mut cursor, location, &marks, &mut pending).await {
                    break; // the committer failed; its error is returned below
                }
            }
        }
        // A last line without a newline: take it if it is whole, else wait for the rest.
        if !carry.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(&carry).is_ok() {
            line_no += 1;
            take_line(&carry, || format!("{location}/{key}:{line_no}"), options, &mut pending);
            hasher.update(&carry);
            offset += carry.len() as u64;
        }
        marks.insert(key, FileMark { bytes: offset, lines: line_no, sha256: hex::encode(hasher.finalize()) });
    }
    send(&committer, &mut cursor, location, &marks, &mut pending).await;
    let committed = committer.finish().await?;
    report.appended = committed.appended;
    report.rejected = committed.rejected;
    Ok(report)
}

fn take_line(line: &[u8], origin: impl FnOnce() -> String, options: &FilesOptions, pending: &mut Batch) {
    let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    if trimmed.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    if let Err(reason) = parse_line(trimmed, options, &mut pending.records) {
        pending.rejected.push(Rejected { raw: trimmed.to_vec(), reason, origin: origin(), event_time: None })
    }
}

/// One forwarded line into a record of `records`, or why not (and nothing added).
pub fn parse_line(line: &[u8], options: &FilesOptions, records: &mut Records) -> Result<(), String> {
    if line.len() > options.max_record_bytes {
        return Err(format!("record is {} bytes, over the {}-byte limit", line.len(), options.max_record_bytes));
    }
    let text = std::str::from_utf8(line).map_err(|e| format!("not valid UTF-8 (at byte {})", e.valid_up_to()))?;
    let mut row = records.start_row();
    let timestamp = akeyless::parse(text, &options.item_path_fields, None, SOURCE, &mut row)?;
    let event_time = timestamp.ok_or("no timestamp: an Akeyless audit record needs its time")?;
    row.finish(event_time, line);
    Ok(())
}

async fn hash_range(store: &dyn ObjectStore, path: &Path, len: u64, hasher: &mut Sha256) -> object_store::Result<()> {
    let mut at = 0;
    while at < len {
        let end = (at + CHUNK).min(len);
        hasher.update(store.get_range(path, at..end).await?);
        at = end;
    }
    Ok(())
}

/// Hands the pending records to the committer with the cursor after them, unless there is
/// nothing new at all; false once the committer has failed.
async fn send(
    committer: &Committer,
    cursor: &mut serde_json::Map<String, Json>,
    location: &str,
    marks: &BTreeMap<String, FileMark>,
    pending: &mut Batch,
) -> bool {
    let mine = cursor.entry(SOURCE).or_insert_with(|| json!({}));
    let marks = serde_json::to_value(marks).expect("marks serialize");
    if mine.get(location) == Some(&marks) && pending.records.is_empty() && pending.rejected.is_empty() {
        return true;
    }
    mine[location] = marks;
    let mut batch = pending.take_keeping_room();
    batch.cursor = Some(Json::Object(cursor.clone()));
    committer.send(batch).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_gateway_s_file_names() {
        assert!(is_forwarded_log("akeyless-audit_2026-11-03T10:00.log"));
        assert!(!is_forwarded_log("akeyless-audit_2026-11-03T10-00.log"));
        assert!(!is_forwarded_log("akeyless-audit_2026-11-03T10:00.log.gz"));
        assert!(!is_forwarded_log("other_2026-11-03T10:00.log"));
    }

    #[test]
    fn odd_lines_are_rejected_with_a_reason() {
        let o = FilesOptions { max_record_bytes: 200, ..Default::default() };
        let mut records = Records::default();
        let mut parse = |line: &[u8]| parse_line(line, &o, &mut records);
        assert!(parse(b"{\"action\":\"x\"}").unwrap_err().contains("no timestamp"));
        assert!(parse(b"\xff\xfe{}").unwrap_err().contains("UTF-8"));
        assert!(parse(&[b'x'; 300]).unwrap_err().contains("limit"));
        assert!(parse(b"not json").unwrap_err().contains("not valid JSON"));
        let line = br#"{"timestamp":1793700000,"status":"200","remote_addr":"1.2.3.4,5.6.7.8"}"#;
        parse(line).unwrap();
        assert_eq!(records.len(), 1, "rejected lines leave no record behind");
        assert_eq!((records.event_time(0), records.raw(0)), (1_793_700_000_000_000, &line[..]));
        let mut values = Vec::new();
        akeyless::parse(std::str::from_utf8(line).unwrap(), &o.item_path_fields, None, SOURCE, &mut values).unwrap();
        assert_eq!(records.typed(0), keytrail_ledger::record::encode_values(&values));
    }
}
