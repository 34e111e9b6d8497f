//! Stream schemas and their Arrow form.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::record::{Column, FieldType};
use crate::{LedgerError, Result};

/// Suffix of the stream that keeps a stream's unparseable records.
pub const REJECTED_SUFFIX: &str = "__rejected";

/// How the `raw` column stores the original record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawKind {
    /// Valid UTF-8 text (every accepted record is JSON, hence UTF-8): Arrow `Utf8`.
    Text,
    /// Arbitrary bytes (rejected records may not be UTF-8): Arrow `Binary`.
    Bytes,
}

/// What a stream stores: its name, how `raw` is typed and its typed columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSchema {
    name: String,
    raw_kind: RawKind,
    columns: Vec<Column>,
}

/// Columns every segment has before the typed ones, in order.
pub const LEAD_COLUMNS: [&str; 4] = ["seq", "event_time", "ingest_time", "raw"];
/// Columns every segment has after the typed ones, in order.
pub const TRAIL_COLUMNS: [&str; 2] = ["prev_hash", "row_hash"];

impl StreamSchema {
    /// A stream of accepted records with the given typed columns.
    pub fn new(name: impl Into<String>, columns: Vec<Column>) -> Result<Self> {
        let name = name.into();
        validate_stream_name(&name)?;
        if name.ends_with(REJECTED_SUFFIX) {
            return Err(LedgerError::InvalidStreamName(name));
        }
        let schema = Self { name, raw_kind: RawKind::Text, columns };
        schema.validate_columns()?;
        Ok(schema)
    }

    /// Rebuilds a schema recorded in a manifest.
    pub fn from_parts(name: &str, raw_kind: RawKind, columns: Vec<Column>) -> Result<Self> {
        validate_stream_name(name)?;
        let schema = Self { name: name.to_string(), raw_kind, columns };
        schema.validate_columns()?;
        Ok(schema)
    }

    /// The stream that keeps this stream's rejected records: `raw` as bytes, plus the
    /// `reason` it was rejected and the `origin` it came from (file and line, window, …).
    pub fn rejected(&self) -> Self {
        Self {
            name: format!("{}{REJECTED_SUFFIX}", self.name),
            raw_kind: RawKind::Bytes,
            columns: vec![Column::new("reason", FieldType::Str), Column::new("origin", FieldType::Str)],
        }
    }

    /// Stream name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How `raw` is stored.
    pub fn raw_kind(&self) -> RawKind {
        self.raw_kind
    }

    /// Typed columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The Arrow schema of this stream's segment files.
    pub fn arrow_schema(&self) -> SchemaRef {
        let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let raw = match self.raw_kind {
            RawKind::Text => DataType::Utf8,
            RawKind::Bytes => DataType::Binary,
        };
        let mut fields = vec![
            Field::new("seq", DataType::UInt64, false),
            Field::new("event_time", ts.clone(), false),
            Field::new("ingest_time", ts, false),
            Field::new("raw", raw, false),
        ];
        fields.extend(self.columns.iter().map(|c| Field::new(&c.name, arrow_type(c.kind), true)));
        fields.push(Field::new("prev_hash", DataType::FixedSizeBinary(32), false));
        fields.push(Field::new("row_hash", DataType::FixedSizeBinary(32), false));
        Arc::new(Schema::new(fields))
    }

    fn validate_columns(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for c in &self.columns {
            let reserved = LEAD_COLUMNS.contains(&c.name.as_str()) || TRAIL_COLUMNS.contains(&c.name.as_str()) || c.name == "month";
            if reserved || c.name.is_empty() || !seen.insert(c.name.as_str()) {
                return Err(LedgerError::InvalidSchema {
                    stream: self.name.clone(),
                    reason: format!("column name {:?} is empty, reserved or repeated", c.name),
                });
            }
        }
        Ok(())
    }
}

/// The Arrow type that stores a typed column.
pub fn arrow_type(kind: FieldType) -> DataType {
    match kind {
        FieldType::Bool => DataType::Boolean,
        FieldType::Int => DataType::Int64,
        FieldType::Float => DataType::Float64,
        FieldType::Str => DataType::Utf8,
        FieldType::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        FieldType::StrList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
    }
}

/// Stream names become path segments and SQL table names, so they are restricted to
/// lower-case ASCII letters, digits and `_`, starting with a letter.
pub fn validate_stream_name(name: &str) -> Result<()> {
    let ok = name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok { Ok(()) } else { Err(LedgerError::InvalidStreamName(name.to_string())) }
}
