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

/// Where a parser puts typed values, one call per column in column order: a `Vec<Value>`,
/// or a row of [`Records`](crate::Records) that encodes them as they come (no allocation
/// per value).
pub trait ValueSink {
    /// Adds one value.
    fn put(&mut self, value: ValueRef<'_>);
}

/// A typed value borrowed from wherever the parser holds it.
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    /// Absent or not applicable.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A double.
    Float(f64),
    /// A string.
    Str(&'a str),
    /// A time, microseconds since the Unix epoch, UTC.
    Time(i64),
    /// A list of strings.
    StrList(&'a [&'a str]),
}

impl ValueRef<'_> {
    /// The owned value.
    pub fn to_value(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(b) => Value::Bool(b),
            ValueRef::Int(i) => Value::Int(i),
            ValueRef::Float(f) => Value::Float(f),
            ValueRef::Str(s) => Value::Str(s.to_string()),
            ValueRef::Time(t) => Value::Time(t),
            ValueRef::StrList(items) => Value::StrList(items.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// Appends the value's canonical encoding (see `docs/LEDGER.md`) to `out`.
    pub fn encode(self, out: &mut Vec<u8>) {
        match self {
            ValueRef::Null => out.push(TAG_NULL),
            ValueRef::Bool(b) => out.extend_from_slice(&[TAG_BOOL, b as u8]),
            ValueRef::Int(i) => {
                out.push(TAG_INT);
                out.extend_from_slice(&i.to_be_bytes());
            }
            ValueRef::Float(f) => {
                out.push(TAG_FLOAT);
                out.extend_from_slice(&f.to_bits().to_be_bytes());
            }
            ValueRef::Str(s) => {
                out.push(TAG_STR);
                encode_bytes(s.as_bytes(), out);
            }
            ValueRef::Time(t) => {
                out.push(TAG_TIME);
                out.extend_from_slice(&t.to_be_bytes());
            }
            ValueRef::StrList(items) => encode_str_list(items.iter().copied(), out),
        }
    }
}

impl ValueSink for Vec<Value> {
    fn put(&mut self, value: ValueRef<'_>) {
        self.push(value.to_value());
    }
}

impl Value {
    /// Appends the value's canonical encoding (see `docs/LEDGER.md`) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => ValueRef::Null.encode(out),
            Value::Bool(b) => ValueRef::Bool(*b).encode(out),
            Value::Int(i) => ValueRef::Int(*i).encode(out),
            Value::Float(f) => ValueRef::Float(*f).encode(out),
            Value::Str(s) => ValueRef::Str(s).encode(out),
            Value::Time(t) => ValueRef::Time(*t).encode(out),
            Value::StrList(items) => encode_str_list(items.iter().map(String::as_str), out),
        }
    }
}

/// The canonical encodings of `values`, concatenated: what [`RowView::typed`] holds.
pub fn encode_values(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        v.encode(&mut out);
    }
    out
}

pub(crate) const TAG_NULL: u8 = 0x00;
pub(crate) const TAG_BOOL: u8 = 0x01;
pub(crate) const TAG_INT: u8 = 0x02;
pub(crate) const TAG_FLOAT: u8 = 0x03;
pub(crate) const TAG_STR: u8 = 0x04;
pub(crate) const TAG_TIME: u8 = 0x05;
pub(crate) const TAG_STR_LIST: u8 = 0x06;

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(b.len() as u64).to_be_bytes());
    out.extend_from_slice(b);
}

fn encode_str_list<'s>(items: impl ExactSizeIterator<Item = &'s str>, out: &mut Vec<u8>) {
    out.push(TAG_STR_LIST);
    out.extend_from_slice(&(items.len() as u32).to_be_bytes());
    for s in items {
        encode_bytes(s.as_bytes(), out);
    }
}

/// The length of the canonical value encoding that starts `bytes`, and its type (`None`
/// for null); `None` when `bytes` does not start with a whole, well-formed encoding.
pub(crate) fn encoded_value(bytes: &[u8]) -> Option<(usize, Option<FieldType>)> {
    let be_u64 = |at: usize| Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?) as usize);
    let (len, kind) = match *bytes.first()? {
        TAG_NULL => (1, None),
        TAG_BOOL => (2, Some(FieldType::Bool)),
        TAG_INT => (9, Some(FieldType::Int)),
        TAG_FLOAT => (9, Some(FieldType::Float)),
        TAG_TIME => (9, Some(FieldType::Time)),
        TAG_STR => (9usize.checked_add(be_u64(1)?)?, Some(FieldType::Str)),
        TAG_STR_LIST => {
            let count = u32::from_be_bytes(bytes.get(1..5)?.try_into().ok()?);
            let mut at = 5usize;
            for _ in 0..count {
                at = at.checked_add(8)?.checked_add(be_u64(at)?)?;
            }
            (at, Some(FieldType::StrList))
        }
        _ => return None,
    };
    (len <= bytes.len()).then_some((len, kind))
}

/// The fields of a stored row that its hash covers, borrowed from wherever they live
/// (a record being appended or a decoded Parquet row).
#[derive(Clone, Copy)]
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
    /// The typed values' canonical encodings ([`Value::encode`]), one per name,
    /// concatenated.
    pub typed: &'a [u8],
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

/// The end of the canonical form: the typed columns, each value after its name.
///
/// Panics if `row.typed` does not hold exactly one well-formed encoding per name: the
/// appender checks every row before chaining, and the verifier encodes from typed arrays.
fn encode_typed(row: &RowView<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&(row.names.len() as u32).to_be_bytes());
    let mut rest = row.typed;
    for name in row.names {
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        let (len, _) = encoded_value(rest).expect("one well-formed typed value per column");
        out.extend_from_slice(&rest[..len]);
        rest = &rest[len..];
    }
    assert!(rest.is_empty(), "more typed values than columns");
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
        let row = RowView { seq: 7, event_time: 1, ingest_time: 2, raw: b"{}", names: &["n", "tags"], typed: &encode_values(&values) };
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
        let row = RowView { seq: 3, event_time: -1, ingest_time: 9, raw: b"raw", names: &["a", "b"], typed: &encode_values(&values) };
        let mut canonical = Vec::new();
        encode_canonical(&row, &mut canonical);
        let prev = [5u8; 32];
        let want: Hash = Sha256::new().chain_update(prev).chain_update(&canonical).finalize().into();
        assert_eq!(row_hash(&prev, &row, &mut Vec::new()), want);
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base_values = encode_values(&[Value::Str("x".into())]);
        let base = RowView { seq: 1, event_time: 10, ingest_time: 20, raw: b"r", names: &["s"], typed: &base_values };
        let prev = genesis_hash("s");
        let mut scratch = Vec::new();
        let h = row_hash(&prev, &base, &mut scratch);
        let other_values = encode_values(&[Value::Str("y".into())]);
        let variants = [
            RowView { seq: 2, ..base },
            RowView { event_time: 11, ..base },
            RowView { ingest_time: 21, ..base },
            RowView { raw: b"R", ..base },
            RowView { typed: &other_values, ..base },
            RowView { names: &["t"], ..base },
            RowView { names: &[], typed: &[], ..base },
        ];
        for v in &variants {
            assert_ne!(row_hash(&prev, v, &mut scratch), h);
        }
        assert_ne!(row_hash(&genesis_hash("t"), &base, &mut scratch), h);
        assert_eq!(row_hash(&prev, &base, &mut scratch), h);
    }
}
