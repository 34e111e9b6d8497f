//! Newline-delimited JSON files: one record per line, kept byte for byte.
//!
//! Every non-blank line becomes either a [`Record`] (a JSON object with a usable event
//! time) or a [`Rejected`] line with the reason, so nothing in the input is dropped.
//! Lines are read as bytes: invalid UTF-8, a missing final newline and very long lines are
//! all handled; memory is bounded by the batch size and the longest line, never by the
//! file size.

use std::borrow::Cow;
use std::fmt;
use std::io::BufRead;

use keytrail_ledger::{Batch, Records, Rejected};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::time::parse_json_time;

/// Time fields tried, in order, when none is configured.
pub const DEFAULT_TIME_FIELDS: &[&str] = &["timestamp", "time", "TimeGenerated", "@timestamp", "eventTime", "ts"];

/// How to read records from a JSON-lines input.
#[derive(Clone, Debug)]
pub struct JsonLinesOptions {
    /// Candidate time fields (dotted paths into nested objects), first match wins.
    pub time_fields: Vec<String>,
    /// Records longer than this are rejected (kept whole in the rejected stream).
    pub max_record_bytes: usize,
    /// A batch is closed after this many lines…
    pub batch_lines: usize,
    /// …or this many bytes of input, whichever comes first.
    pub batch_bytes: usize,
}

impl Default for JsonLinesOptions {
    fn default() -> Self {
        Self {
            time_fields: DEFAULT_TIME_FIELDS.iter().map(|s| s.to_string()).collect(),
            max_record_bytes: 1 << 20,
            batch_lines: 256 * 1024,
            // Up to three batches are alive at once (being read, queued, being committed),
            // so this bounds ingest memory to a few hundred MiB whatever the input size.
            batch_bytes: 32 << 20,
        }
    }
}

/// Reads batches of records from a JSON-lines input. Each batch's cursor records where
/// the input stands after it: `{"source": <name>, "line": <last line read>, "offset": <bytes read>}`.
pub struct JsonLinesReader<R> {
    input: R,
    source: String,
    opts: JsonLinesOptions,
    line_no: u64,
    offset: u64,
    done: bool,
}

impl<R: BufRead> JsonLinesReader<R> {
    /// Reads `input`, naming it `source` in rejections and cursors.
    pub fn new(input: R, source: impl Into<String>, opts: JsonLinesOptions) -> Self {
        Self { input, source: source.into(), opts, line_no: 0, offset: 0, done: false }
    }

    /// The next batch, or `None` at the end of the input.
    pub fn next_batch(&mut self) -> std::io::Result<Option<Batch>> {
        if self.done {
            return Ok(None);
        }
        // Room for the most a batch can hold, so its bytes are never copied as it grows.
        let most = self.opts.batch_bytes.saturating_add(self.opts.max_record_bytes);
        let mut batch = Batch { records: Records::with_capacity(0, most.min(1 << 30)), ..Default::default() };
        let (mut lines, mut bytes) = (0usize, 0usize);
        let mut buf = Vec::new();
        while lines < self.opts.batch_lines && bytes < self.opts.batch_bytes {
            buf.clear();
            let n = self.input.read_until(b'\n', &mut buf)?;
            if n == 0 {
                self.done = true;
                break;
            }
            self.line_no += 1;
            self.offset += n as u64;
            let line = trim_line_end(&buf);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            lines += 1;
            bytes += n;
            match event_time(line, &self.opts) {
                Ok(event_time) => batch.records.start_row().finish(event_time, line),
                Err(reason) => {
                    batch.rejected.push(Rejected { raw: line.to_vec(), reason, origin: format!("{}:{}", self.source, self.line_no), event_time: None })
                }
            }
        }
        if lines == 0 {
            return Ok(None);
        }
        batch.cursor = Some(serde_json::json!({"source": self.source, "line": self.line_no, "offset": self.offset}));
        Ok(Some(batch))
    }
}

fn trim_line_end(buf: &[u8]) -> &[u8] {
    let buf = buf.strip_suffix(b"\n").unwrap_or(buf);
    buf.strip_suffix(b"\r").unwrap_or(buf)
}

/// The event time of one line, or why it cannot be a record.
pub fn event_time(line: &[u8], opts: &JsonLinesOptions) -> Result<i64, String> {
    if line.len() > opts.max_record_bytes {
        return Err(format!("record is {} bytes, over the {}-byte limit", line.len(), opts.max_record_bytes));
    }
    let text = std::str::from_utf8(line).map_err(|e| format!("not valid UTF-8 (at byte {})", e.valid_up_to()))?;
    let mut missing = Vec::new();
    for field in &opts.time_fields {
        match find_path(text, field).map_err(|e| format!("not a JSON object: {e}"))? {
            Some(raw) => {
                let value: serde_json::Value = serde_json::from_str(raw.get()).expect("validated by find_path");
                return parse_json_time(&value).map_err(|e| format!("field {field}: {e}"));
            }
            None => missing.push(field.as_str()),
        }
    }
    Err(format!("no time field (looked for {})", missing.join(", ")))
}

/// Finds a dotted path in a JSON object text, validating the whole text as JSON.
fn find_path<'a>(text: &'a str, path: &str) -> Result<Option<&'a RawValue>, serde_json::Error> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let found = de.deserialize_map(FieldFinder { name: head })?;
    de.end()?;
    match (found, rest) {
        (Some(v), Some(rest)) => find_path(v.get(), rest).or(Ok(None)),
        (found, _) => Ok(found),
    }
}

/// Visits a JSON object keeping only the value of one key (and validating the rest).
struct FieldFinder<'n> {
    name: &'n str,
}

impl<'de, 'n> Visitor<'de> for FieldFinder<'n> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if found.is_none() && key.0 == self.name {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// An object key, borrowed unless it holds escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], opts: JsonLinesOptions) -> Vec<Batch> {
        let mut r = JsonLinesReader::new(input, "in.jsonl", opts);
        let mut out = Vec::new();
        while let Some(b) = r.next_batch().unwrap() {
            out.push(b);
        }
        out
    }

    #[test]
    fn every_line_is_a_record_or_a_rejection() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"timestamp\":\"2026-11-03T10:00:00Z\",\"a\":1}\n");
        input.extend_from_slice(b"\n   \n");
        input.extend_from_slice(b"{\"timestamp\": \"2026-11-03T10:00:01Z\"\r\n"); // truncated JSON
        input.extend_from_slice(b"{\"a\":\"\xff\xfe\",\"timestamp\":\"2026-11-03T10:00:00Z\"}\n"); // bad UTF-8
        input.extend_from_slice(b"{\"a\":1}\n"); // no time
        input.extend_from_slice(b"[1,2]\n"); // not an object
        input.extend_from_slice(b"{\"timestamp\":\"soon\"}\n"); // bad time
        input.extend_from_slice(b"{\"meta\":{\"t\":1793786400},\"k\\u0065y\":1,\"time\":1}"); // no final newline
        let opts = JsonLinesOptions { time_fields: vec!["timestamp".into(), "meta.t".into()], ..Default::default() };
        let batches = read_all(&input, opts);
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(b.records.len(), 2);
        assert_eq!(b.records.event_time(1), 1_793_786_400_000_000);
        assert_eq!(b.records.raw(1), br#"{"meta":{"t":1793786400},"k\u0065y":1,"time":1}"#);
        let reasons: Vec<(&str, &str)> = b.rejected.iter().map(|r| (r.origin.as_str(), r.reason.as_str())).collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert_eq!(reasons[0].0, "in.jsonl:4");
        assert!(reasons[0].1.starts_with("not a JSON object"), "{reasons:?}");
        assert!(reasons[1].1.starts_with("not valid UTF-8 (at byte 6)"), "{reasons:?}");
        assert!(reasons[2].1.starts_with("no time field"), "{reasons:?}");
        assert!(reasons[3].1.starts_with("not a JSON object"), "{reasons:?}");
        assert!(reasons[4].1.starts_with("field timestamp"), "{reasons:?}");
        // The rejected bytes are the line exactly, without its line ending.
        assert_eq!(b.rejected[1].raw, b"{\"a\":\"\xff\xfe\",\"timestamp\":\"2026-11-03T10:00:00Z\"}");
        assert_eq!(b.cursor, Some(serde_json::json!({"source": "in.jsonl", "line": 9, "offset": input.len()})));
    }

    #[test]
    fn batches_close_at_the_line_limit_and_long_lines_are_rejected_whole() {
        let big = format!("{{\"time\":1793786400,\"pad\":\"{}\"}}\n", "x".repeat(2000));
        let input = format!("{big}{big}{big}");
        let opts = JsonLinesOptions { batch_lines: 2, max_record_bytes: 1000, ..Default::default() };
        let batches = read_all(input.as_bytes(), opts);
        assert_eq!(batches.iter().map(|b| b.rejected.len()).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(batches[1].rejected[0].raw.len(), big.len() - 1);
        assert!(batches[0].rejected[0].reason.contains("over the 1000-byte limit"));
    }
}
