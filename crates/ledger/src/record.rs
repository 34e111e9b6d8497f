//! Records, their typed values and the canonical byte form that row hashes cover.
//!
//! The canonical form is specified in `docs/LEDGER.md` ("Row hash"); the functions here are
//! its reference implementation and must change only together with that document and a new
//! format version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Hash;

/// Version byte that opens every canonical row encoding.
pub const CANONICAL_VERSION: u8 = 1;

/// Type of a typed (parsed) column. The set is deliberately small: each type has one
/// canonical encoding (see `docs/LEDGER.md`) and one Arrow type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Boolean.
    Bool,
    /// Signed 64-bit integer.
    Int,
    /// IEEE 754 double.
    Float,
    /// UTF-8 text (JSON documents of `dynamic` values are stored as text too).
    Str,
    /// UTC timestamp with microsecond precision.
    Time,
    /// List of UTF-8 strings.
    StrList,
}

/// A typed column of a stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Column name as it appears in SQL.
    pub name: String,
    /// Column type.
    #[serde(rename = "type")]
    pub kind: FieldType,
}

impl Column {
    /// A column named `name` of type `kind`.
    pub fn new(name: impl Into<String>, kind: FieldType) -> Self {
        Self { name: name.into(), kind }
    }
}

/// One typed value. `Null` is allowed in every column.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Absent or not applicable.
    Null,
    /// A [`FieldType::Bool`] value.
    Bool(bool),
    /// A [`FieldType::Int`] value.
    Int(i64),
    /// A [`FieldType::Float`] value.
    Float(f64),
    /// A [`FieldType::Str`] value.
    Str(String),
    /// A [`FieldType::Time`] value, microseconds since the Unix epoch, UTC.
    Time(i64),
    /// A [`FieldType::StrList`] value.
    StrList(Vec<String>),
}

impl Value {
    /// Whether this value may be stored in a column of type `kind`.
    pub fn fits(&self, kind: FieldType) -> bool {
        matches!(
            (self, kind),
            (Value::Null, _)
                | (Value::Bool(_), FieldType::Bool)
                | (Value::Int(_), FieldType::Int)
                | (Value::Float(_), FieldType::Float)
                | (Value::Str(_), FieldType::Str)
                | (Value::Time(_), FieldType::Time)
                | (Value::StrList(_), FieldType::StrList)
        )
    }
}

/// A record ready to be appended: the original bytes, the event time and the typed values
/// parsed from it (in the order of the stream's [`Column`]s).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Event time, microseconds since the Unix epoch, UTC.
    pub event_time: i64,
    /// The record exactly as received.
    pub raw: Vec<u8>,
    /// Typed values, one per typed column of the stream.
    pub values: Vec<Value>,
}

impl Record {
    /// A record with no typed values.
    pub fn new(event_time: DateTime<Utc>, raw: Vec<u8>) -> Self {
        Self { event_time: event_time.timestamp_micros(), raw, values: Vec::new() }
    }
}

/// The fields of a stored row that its hash covers, borrowed from wherever they live
/// (a record being appended or a decoded Parquet row).
pub struct RowView<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Event time in microseconds.
    pub event_time: i64,
    /// Ingest time in microseconds.
    pub ingest_time: i64,
    /// Original bytes.
    pub raw: &'a [u8],
    /// Names of the typed columns, in schema order.
    pub names: &'a [&'a str],
    /// Typed values, one per name.
    pub values: &'a [Value],
}

/// Appends the canonical encoding of a row to `out` (see `docs/LEDGER.md`).
pub fn encode_canonical(row: &RowView<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&canonical_head(row));
    out.extend_from_slice(row.raw);
    encode_typed(row, out);
}

/// The fixed-size start of the canonical form: version, seq, times and `raw`'s length.
fn canonical_head(row: &RowView<'_>) -> [u8; 33] {
    let mut head = [0u8; 33];
    head[0] = CANONICAL_VERSION;
    head[1..9].copy_from_slice(&row.seq.to_be_bytes());
    head[9..17].copy_from_slice(&row.event_time.to_be_bytes());
    head[17..25].copy_from_slice(&row.ingest_time.to_be_bytes());
    head[25..33].copy_from_slice(&(row.raw.len() as u64).to_be_bytes());
    head
}

/// The end of the canonical form: the typed columns.
fn encode_typed(row: &RowView<'_>, out: &mut Vec<u8>) {
    debug_assert_eq!(row.names.len(), row.values.len());
    out.extend_from_slice(&(row.values.len() as u32).to_be_bytes());
    for (name, value) in row.names.iter().zip(row.values) {
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        encode_value(value, out);
    }
}

fn encode_value(value: &Value, out: &mut Vec<u8>) {
    fn bytes(b: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&(b.len() as u64).to_be_bytes());
        out.extend_from_slice(b);
    }
    match value {
        Value::Null => out.push(0x00),
        Value::Bool(b) => out.extend_from_slice(&[0x01, *b as u8]),
        Value::Int(i) => {
            out.push(0x02);
            out.extend_from_slice(&i.to_be_bytes());
        }
        Value::Float(f) => {
            out.push(0x03);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Str(s) => {
            out.push(0x04);
            bytes(s.as_bytes(), out);
        }
        Value::Time(t) => {
            out.push(0x05);
            out.extend_from_slice(&t.to_be_bytes());
        }
        Value::StrList(items) => {
            out.push(0x06);
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for s in items {
                bytes(s.as_bytes(), out);
            }
        }
    }
}

/// `row_hash = SHA-256(prev_hash || canonical)`. `scratch` is reused between calls so
/// hashing a stream allocates once.
pub fn row_hash(prev_hash: &Hash, row: &RowView<'_>, scratch: &mut Vec<u8>) -> Hash {
    // Hashed piece by piece so `raw`, the bulk of every row, is never copied.
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(canonical_head(row));
    h.update(row.raw);
    scratch.clear();
    encode_typed(row, scratch);
    h.update(&scratch[..]);
    h.finalize().into()
}

/// The `prev_hash` of a stream's first row: `SHA-256("keytrail-ledger/1 genesis\n" || stream)`.
/// Binding the chain to the stream name means rows cannot be moved between streams.
pub fn genesis_hash(stream: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(b"keytrail-ledger/1 genesis\n");
    h.update(stream.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_match_the_documented_layout() {
        let values = [Value::Int(-2), Value::StrList(vec!["a".into()])];
        let row = RowView { seq: 7, event_time: 1, ingest_time: 2, raw: b"{}", names: &["n", "tags"], values: &values };
        let mut out = Vec::new();
        encode_canonical(&row, &mut out);
        let mut want = vec![1u8];
        want.extend(7u64.to_be_bytes());
        want.extend(1i64.to_be_bytes());
        want.extend(2i64.to_be_bytes());
        want.extend(2u64.to_be_bytes());
        want.extend(b"{}");
        want.extend(2u32.to_be_bytes());
        want.extend(1u32.to_be_bytes());
        want.extend(b"n");
        want.push(2);
        want.extend((-2i64).to_be_bytes());
        want.extend(4u32.to_be_bytes());
        want.extend(b"tags");
        want.push(6);
        want.extend(1u32.to_be_bytes());
        want.extend(1u64.to_be_bytes());
        want.extend(b"a");
        assert_eq!(out, want);
    }

    #[test]
    fn row_hash_is_sha256_of_prev_and_canonical() {
        let values = [Value::Bool(true), Value::Null];
        let row = RowView { seq: 3, event_time: -1, ingest_time: 9, raw: b"raw", names: &["a", "b"], values: &values };
        let mut canonical = Vec::new();
        encode_canonical(&row, &mut canonical);
        let prev = [5u8; 32];
        let want: Hash = Sha256::new().chain_update(prev).chain_update(&canonical).finalize().into();
        assert_eq!(row_hash(&prev, &row, &mut Vec::new()), want);
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base_values = [Value::Str("x".into())];
        let base = RowView { seq: 1, event_time: 10, ingest_time: 20, raw: b"r", names: &["s"], values: &base_values };
        let prev = genesis_hash("s");
        let mut scratch = Vec::new();
        let h = row_hash(&prev, &base, &mut scratch);
        let other_values = [Value::Str("y".into())];
        let variants = [
            RowView { seq: 2, ..base },
            RowView { event_time: 11, ..base },
            RowView { ingest_time: 21, ..base },
            RowView { raw: b"R", ..base },
            RowView { values: &other_values, ..base },
            RowView { names: &["t"], ..base },
            RowView { names: &[], values: &[], ..base },
        ];
        for v in &variants {
            assert_ne!(row_hash(&prev, v, &mut scratch), h);
        }
        assert_ne!(row_hash(&genesis_hash("t"), &base, &mut scratch), h);
        assert_eq!(row_hash(&prev, &base, &mut scratch), h);
    }
}
