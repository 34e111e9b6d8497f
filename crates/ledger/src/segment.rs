//! Segment files: the Parquet encoding of a run of chained rows, and its decoding.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryBuilder, BooleanArray, BooleanBuilder, FixedSizeBinaryArray, FixedSizeBinaryBuilder, Float64Array, Float64Builder,
    Int64Array, Int64Builder, ListArray, ListBuilder, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray, TimestampMicrosecondBuilder,
    UInt64Array,
};
use datafusion::arrow::datatypes::{Field, SchemaRef};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::arrow_writer::{ArrowColumnWriter, compute_leaves};
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::errors::Result as ParquetResult;
use datafusion::parquet::file::metadata::{KeyValue, SortingColumn};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::file::writer::SerializedFileWriter;
use datafusion::parquet::schema::types::ColumnPath;

use crate::record::{FieldType, TAG_BOOL, TAG_FLOAT, TAG_INT, TAG_NULL, TAG_STR, TAG_STR_LIST, TAG_TIME, ValueRef};
use crate::records::Records;
use crate::schema::{RawKind, StreamSchema};
use crate::{Hash, LedgerError, Result};

/// Rows per Parquet row group: large enough for efficient scans and zstd, small enough
/// that a writer's buffered row group stays well under 100 MB for typical records.
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Rows per Arrow batch handed to the Parquet writer and read back by the verifier.
const BATCH_ROWS: usize = 16 * 1024;

fn writer_properties(schema: &StreamSchema) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid zstd level")))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_size_limit(256 * 1024)
        // Page-level statistics make the writer emit the column index next to the offset
        // index, so readers can prune pages by seq and event_time.
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_sorting_columns(Some(vec![SortingColumn { column_idx: 0, descending: false, nulls_first: false }]))
        .set_key_value_metadata(Some(vec![KeyValue::new("keytrail.stream".into(), schema.name().to_string())]));
    // Unique, incompressible-by-dictionary columns: dictionaries and min/max stats on them
    // only cost time and space.
    for col in ["raw", "prev_hash", "row_hash"] {
        props = props.set_column_dictionary_enabled(ColumnPath::from(col), false).set_column_statistics_enabled(ColumnPath::from(col), EnabledStatistics::None);
    }
    // SHA-256 output does not compress: zstd would only spend time finding that out.
    for col in ["prev_hash", "row_hash"] {
        props = props.set_column_compression(ColumnPath::from(col), Compression::UNCOMPRESSED);
    }
    props.set_column_dictionary_enabled(ColumnPath::from("seq"), false).build()
}

/// The two hash columns close every segment's schema.
const HASH_COLUMNS: usize = 2;

/// A segment file encoded in two steps, so that the rows' hash chain (sequential by nature)
/// can be computed on another thread while this one encodes everything else: first every
/// column but `prev_hash` and `row_hash` ([`start`](Self::start)), then those two
/// ([`finish`](Self::finish)). Each row group's column writers stay open in between,
/// holding their compressed pages.
pub(crate) struct SegmentEncoder {
    stream: String,
    arrow_schema: SchemaRef,
    file: SerializedFileWriter<Vec<u8>>,
    /// Per row group: its rows and its column writers, all but the hash columns fed.
    row_groups: Vec<(Range<usize>, Vec<ArrowColumnWriter>)>,
}

impl SegmentEncoder {
    /// Encodes every column but the hashes of the `rows` of `records` (checked against the
    /// schema already), which get seqs from `first_seq`.
    pub(crate) fn start(schema: &StreamSchema, records: &Records, rows: &[usize], first_seq: u64, ingest_time: i64) -> Result<Self> {
        let arrow_schema = schema.arrow_schema();
        let encode_err = |source| LedgerError::Encode { stream: schema.name().to_string(), source };
        let (file, factory) = ArrowWriter::try_new(Vec::new(), arrow_schema.clone(), Some(writer_properties(schema)))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(encode_err)?;
        let data_fields = &arrow_schema.fields()[..arrow_schema.fields().len() - HASH_COLUMNS];
        let mut row_groups = Vec::with_capacity(rows.len().div_ceil(ROW_GROUP_ROWS));
        for (index, group) in chunks(0..rows.len(), ROW_GROUP_ROWS).enumerate() {
            let mut writers = factory.create_column_writers(index).map_err(encode_err)?;
            for Range { start, end } in chunks(group.clone(), BATCH_ROWS) {
                let columns = data_columns(schema, records, &rows[start..end], first_seq + start as u64, ingest_time, start)?;
                for ((field, array), writer) in data_fields.iter().zip(&columns).zip(&mut writers) {
                    write_column(field, array, writer).map_err(encode_err)?;
                }
            }
            row_groups.push((group, writers));
        }
        Ok(Self { stream: schema.name().to_string(), arrow_schema, file, row_groups })
    }

    /// Adds the hash columns and returns the file: row `i` has prev hash `row_hashes[i-1]`
    /// (or `chain_start`) and hash `row_hashes[i]`.
    pub(crate) fn finish(mut self, chain_start: &Hash, row_hashes: &[Hash]) -> Result<Vec<u8>> {
        let stream = self.stream;
        let encode_err = |source| LedgerError::Encode { stream: stream.clone(), source };
        let hash_fields = &self.arrow_schema.fields()[self.arrow_schema.fields().len() - HASH_COLUMNS..];
        for (group, mut writers) in self.row_groups {
            let data_writers = writers.len() - HASH_COLUMNS;
            for Range { start, end } in chunks(group, BATCH_ROWS) {
                let prev = (start..end).map(|i| if i == 0 { chain_start } else { &row_hashes[i - 1] });
                let hashes = [hash_array(prev), hash_array(row_hashes[start..end].iter())];
                for ((field, array), writer) in hash_fields.iter().zip(&hashes).zip(&mut writers[data_writers..]) {
                    write_column(field, array, writer).map_err(encode_err)?;
                }
            }
            let mut row_group = self.file.next_row_group().map_err(encode_err)?;
            for writer in writers {
                writer.close().and_then(|chunk| chunk.append_to_row_group(&mut row_group)).map_err(encode_err)?;
            }
            row_group.close().map_err(encode_err)?;
        }
        self.file.into_inner().map_err(encode_err)
    }
}

/// `range` cut into consecutive pieces of `size` (the last one shorter).
fn chunks(range: Range<usize>, size: usize) -> impl Iterator<Item = Range<usize>> {
    range.clone().step_by(size).map(move |start| start..(start + size).min(range.end))
}

fn write_column(field: &Field, array: &ArrayRef, writer: &mut ArrowColumnWriter) -> ParquetResult<()> {
    for leaf in compute_leaves(field, array)? {
        writer.write(&leaf)?;
    }
    Ok(())
}

fn hash_array<'a>(hashes: impl ExactSizeIterator<Item = &'a Hash>) -> ArrayRef {
    let mut b = FixedSizeBinaryBuilder::with_capacity(hashes.len(), 32);
    for h in hashes {
        b.append_value(h).expect("32-byte hash");
    }
    Arc::new(b.finish())
}

/// Every column but the hashes, for the `rows` of `records`; `index` is the first one's
/// position in the segment (for error messages).
fn data_columns(schema: &StreamSchema, records: &Records, rows: &[usize], first_seq: u64, ingest_time: i64, index: usize) -> Result<Vec<ArrayRef>> {
    let n = rows.len();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(4 + schema.columns().len());
    columns.push(Arc::new(UInt64Array::from_iter_values(first_seq..first_seq + n as u64)));
    columns.push(Arc::new(TimestampMicrosecondArray::from_iter_values(rows.iter().map(|&i| records.event_time(i))).with_timezone("UTC")));
    columns.push(Arc::new(TimestampMicrosecondArray::from_iter_values(std::iter::repeat_n(ingest_time, n)).with_timezone("UTC")));
    let raw_bytes: usize = rows.iter().map(|&i| records.raw(i).len()).sum();
    columns.push(match schema.raw_kind() {
        RawKind::Text => {
            let mut b = StringBuilder::with_capacity(n, raw_bytes);
            for (at, &i) in rows.iter().enumerate() {
                let text = std::str::from_utf8(records.raw(i)).map_err(|e| LedgerError::InvalidRecord {
                    stream: schema.name().to_string(),
                    index: index + at,
                    reason: format!("raw is not UTF-8 ({e}); send it to the rejected stream instead"),
                })?;
                b.append_value(text);
            }
            Arc::new(b.finish())
        }
        RawKind::Bytes => {
            let mut b = BinaryBuilder::with_capacity(n, raw_bytes);
            for &i in rows {
                b.append_value(records.raw(i));
            }
            Arc::new(b.finish())
        }
    });
    let mut builders: Vec<TypedBuilder> = schema.columns().iter().map(|c| TypedBuilder::new(c.kind, n)).collect();
    for &i in rows {
        let mut typed = records.typed(i);
        for b in &mut builders {
            typed = b.append_encoded(typed);
        }
    }
    columns.extend(builders.into_iter().map(TypedBuilder::finish));
    Ok(columns)
}

/// An Arrow builder for one typed column, fed with canonical value encodings.
enum TypedBuilder {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Str(StringBuilder),
    Time(TimestampMicrosecondBuilder),
    StrList(ListBuilder<StringBuilder>),
}

impl TypedBuilder {
    fn new(kind: FieldType, n: usize) -> Self {
        match kind {
            FieldType::Bool => Self::Bool(BooleanBuilder::with_capacity(n)),
            FieldType::Int => Self::Int(Int64Builder::with_capacity(n)),
            FieldType::Float => Self::Float(Float64Builder::with_capacity(n)),
            FieldType::Str => Self::Str(StringBuilder::with_capacity(n, 16 * n)),
            FieldType::Time => Self::Time(TimestampMicrosecondBuilder::with_capacity(n)),
            FieldType::StrList => Self::StrList(ListBuilder::with_capacity(StringBuilder::new(), n)),
        }
    }

    /// Appends the value whose encoding starts `typed`, returning the rest. The appender
    /// checked every record's encodings against the column types before chaining; a
    /// mismatch here is a bug, and storing it as null would silently differ from the
    /// hashed value, hence the panics.
    fn append_encoded<'t>(&mut self, typed: &'t [u8]) -> &'t [u8] {
        let (tag, rest) = typed.split_first().expect("one typed value per column");
        let fixed = |rest: &'t [u8]| -> ([u8; 8], &'t [u8]) {
            let (v, rest) = rest.split_at(8);
            (v.try_into().expect("8 bytes"), rest)
        };
        let bytes = |rest: &'t [u8]| -> (&'t str, &'t [u8]) {
            let (len, rest) = fixed(rest);
            let (s, rest) = rest.split_at(u64::from_be_bytes(len) as usize);
            (std::str::from_utf8(s).expect("encoded from a str"), rest)
        };
        match (self, *tag) {
            (Self::Bool(b), TAG_NULL) => b.append_null(),
            (Self::Int(b), TAG_NULL) => b.append_null(),
            (Self::Time(b), TAG_NULL) => b.append_null(),
            (Self::Float(b), TAG_NULL) => b.append_null(),
            (Self::Str(b), TAG_NULL) => b.append_null(),
            (Self::StrList(b), TAG_NULL) => b.append(false),
            (Self::Bool(b), TAG_BOOL) => {
                b.append_value(rest[0] != 0);
                return &rest[1..];
            }
            (Self::Int(b), TAG_INT) => {
                let (v, rest) = fixed(rest);
                b.append_value(i64::from_be_bytes(v));
                return rest;
            }
            (Self::Float(b), TAG_FLOAT) => {
                let (v, rest) = fixed(rest);
                b.append_value(f64::from_bits(u64::from_be_bytes(v)));
                return rest;
            }
            (Self::Time(b), TAG_TIME) => {
                let (v, rest) = fixed(rest);
                b.append_value(i64::from_be_bytes(v));
                return rest;
            }
            (Self::Str(b), TAG_STR) => {
                let (s, rest) = bytes(rest);
                b.append_value(s);
                return rest;
            }
            (Self::StrList(b), TAG_STR_LIST) => {
                let (count, mut rest) = rest.split_at(4);
                for _ in 0..u32::from_be_bytes(count.try_into().expect("4 bytes")) {
                    let (s, after) = bytes(rest);
                    b.values().append_value(s);
                    rest = after;
                }
                b.append(true);
                return rest;
            }
            (_, tag) => unreachable!("a value with tag {tag} in a column of another type"),
        }
        rest
    }

    fn finish(self) -> ArrayRef {
        match self {
            Self::Bool(mut b) => Arc::new(b.finish()),
            Self::Int(mut b) => Arc::new(b.finish()),
            Self::Float(mut b) => Arc::new(b.finish()),
            Self::Str(mut b) => Arc::new(b.finish()),
            Self::Time(mut b) => Arc::new(b.finish().with_timezone("UTC")),
            Self::StrList(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Decodes a segment file into Arrow batches, checking that its schema is the one the
/// manifest declares. Batches are decoded as they are consumed, so memory stays at one
/// batch beyond the file bytes.
pub(crate) fn decode(bytes: Bytes, schema: &StreamSchema) -> Result<impl Iterator<Item = Result<RecordBatch, String>> + use<>, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| format!("not a readable Parquet file ({e})"))?.with_batch_size(BATCH_ROWS);
    let expected = schema.arrow_schema();
    let found = builder.schema();
    let same = found.fields().len() == expected.fields().len()
        && found.fields().iter().zip(expected.fields()).all(|(a, b)| a.name() == b.name() && a.data_type().equals_datatype(b.data_type()));
    if !same {
        let names = |s: &SchemaRef| s.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(",");
        return Err(format!("columns [{}] differ from the manifest's [{}]", names(found), names(&expected)));
    }
    let reader = builder.build().map_err(|e| format!("not a readable Parquet file ({e})"))?;
    Ok(reader.map(|b| b.map_err(|e| format!("Parquet data is unreadable ({e})"))))
}

/// Typed access to the rows of a decoded segment batch.
pub(crate) struct BatchRows<'a> {
    seq: &'a UInt64Array,
    event_time: &'a TimestampMicrosecondArray,
    ingest_time: &'a TimestampMicrosecondArray,
    raw: RawArray<'a>,
    typed: Vec<TypedArray<'a>>,
    prev_hash: &'a FixedSizeBinaryArray,
    row_hash: &'a FixedSizeBinaryArray,
}

enum RawArray<'a> {
    Text(&'a StringArray),
    Bytes(&'a BinaryArray),
}

enum TypedArray<'a> {
    Bool(&'a BooleanArray),
    Int(&'a Int64Array),
    Float(&'a Float64Array),
    Str(&'a StringArray),
    Time(&'a TimestampMicrosecondArray),
    StrList(&'a ListArray),
}

impl<'a> BatchRows<'a> {
    /// Wraps a batch whose schema [`decode`] already checked.
    pub fn new(batch: &'a RecordBatch, schema: &'a StreamSchema) -> Self {
        fn col<T: 'static>(batch: &RecordBatch, i: usize) -> &T {
            batch.column(i).as_any().downcast_ref::<T>().expect("schema checked by decode")
        }
        let raw = match schema.raw_kind() {
            RawKind::Text => RawArray::Text(col(batch, 3)),
            RawKind::Bytes => RawArray::Bytes(col(batch, 3)),
        };
        let typed = schema
            .columns()
            .iter()
            .enumerate()
            .map(|(ci, c)| {
                let i = 4 + ci;

                match c.kind {
                    FieldType::Bool => TypedArray::Bool(col(batch, i)),
                    FieldType::Int => TypedArray::Int(col(batch, i)),
                    FieldType::Float => TypedArray::Float(col(batch, i)),
                    FieldType::Str => TypedArray::Str(col(batch, i)),
                    FieldType::Time => TypedArray::Time(col(batch, i)),
                    FieldType::StrList => TypedArray::StrList(col(batch, i)),
                }
            })
            .collect();
        let n = batch.num_columns();
        Self {
            seq: col(batch, 0),
            event_time: col(batch, 1),
            ingest_time: col(batch, 2),
            raw,
            typed,
            prev_hash: col(batch, n - 2),
            row_hash: col(batch, n - 1),
        }
    }

    pub fn len(&self) -> usize {
        self.seq.len()
    }
    pub fn seq(&self, i: usize) -> u64 {
        self.seq.value(i)
    }
    pub fn event_time(&self, i: usize) -> i64 {
        self.event_time.value(i)
    }
    pub fn ingest_time(&self, i: usize) -> i64 {
        self.ingest_time.value(i)
    }
    pub fn raw(&self, i: usize) -> &'a [u8] {
        match &self.raw {
            RawArray::Text(a) => a.value(i).as_bytes(),
            RawArray::Bytes(a) => a.value(i),
        }
    }
    pub fn prev_hash(&self, i: usize) -> Hash {
        self.prev_hash.value(i).try_into().expect("32-byte column")
    }
    pub fn row_hash(&self, i: usize) -> Hash {
        self.row_hash.value(i).try_into().expect("32-byte column")
    }
    pub fn has_typed(&self) -> bool {
        !self.typed.is_empty()
    }

    /// The canonical encodings of row `i`'s typed values, concatenated, into `out`
    /// (cleared first): what [`RowView::typed`](crate::record::RowView) holds.
    pub fn typed_encoded(&self, i: usize, out: &mut Vec<u8>) {
        out.clear();
        for arr in &self.typed {
            let value = match arr {
                TypedArray::Bool(a) => a.is_valid(i).then(|| ValueRef::Bool(a.value(i))),
                TypedArray::Int(a) => a.is_valid(i).then(|| ValueRef::Int(a.value(i))),
                TypedArray::Float(a) => a.is_valid(i).then(|| ValueRef::Float(a.value(i))),
                TypedArray::Str(a) => a.is_valid(i).then(|| ValueRef::Str(a.value(i))),
                TypedArray::Time(a) => a.is_valid(i).then(|| ValueRef::Time(a.value(i))),
                TypedArray::StrList(a) => {
                    if a.is_valid(i) {
                        let items = a.value(i);
                        let items = items.as_any().downcast_ref::<StringArray>().expect("list of utf8");
                        let items: Vec<&str> = (0..items.len()).map(|j| items.value(j)).collect();
                        ValueRef::StrList(&items).encode(out);
                        continue;
                    }
                    None
                }
            };
            value.unwrap_or(ValueRef::Null).encode(out);
        }
    }
}
