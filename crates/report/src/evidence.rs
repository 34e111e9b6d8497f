//! Evidence rows as files (CSV guarded against formula injection, Parquet) and as text
//! cells for the HTML report.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use sha2::{Digest, Sha256};

use crate::ReportError;

/// Text cells that a spreadsheet would evaluate (starting with `=`, `+`, `-`, `@`, tab or
/// CR) get a leading apostrophe, as OWASP recommends for CSV exports: log-derived values
/// (item paths, user agents) are attacker-controlled. Nested values (lists, maps,
/// structs), which CSV cannot hold, become their text form first.
pub fn defuse_formulas(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let text = match field.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => cast(column, &DataType::Utf8)?,
            t if t.is_nested() => Arc::new(as_text(column)?) as ArrayRef,
            _ => {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
                continue;
            }
        };
        let text = text.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        let defused: StringArray =
            text.iter().map(|v| v.map(|s| if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() })).collect();
        fields.push(Field::new(field.name(), DataType::Utf8, field.is_nullable()));
        columns.push(Arc::new(defused));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

fn as_text(column: &ArrayRef) -> Result<StringArray, ArrowError> {
    let formatter = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())?;
    Ok((0..column.len()).map(|i| (!column.is_null(i)).then(|| formatter.value(i).to_string())).collect())
}

/// Writes `batches` as CSV with a header, every text cell guarded by [`defuse_formulas`].
pub(crate) fn write_csv(batches: &[RecordBatch], sink: impl Write) -> Result<(), ArrowError> {
    let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(sink);
    for batch in batches {
        writer.write(&defuse_formulas(batch)?)?;
    }
    Ok(())
}

/// A file being written whose size and SHA-256 are known when it is finished.
/// A written file's size in bytes and hex SHA-256.
pub(crate) type Written = (u64, String);

pub(crate) struct HashingFile {
    file: std::io::BufWriter<std::fs::File>,
    hasher: Sha256,
    bytes: u64,
}

impl HashingFile {
    pub fn create(path: &Path) -> Result<Self, ReportError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(ReportError::io(parent))?;
        }
        let file = std::fs::File::create(path).map_err(ReportError::io(path))?;
        Ok(Self { file: std::io::BufWriter::with_capacity(1 << 20, file), hasher: Sha256::new(), bytes: 0 })
    }

    /// Flushes and returns (size, SHA-256 hex).
    pub fn finish(mut self) -> std::io::Result<Written> {
        self.file.flush()?;
        Ok((self.bytes, hex::encode(self.hasher.finalize())))
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The first rows of a control's evidence as text, for the HTML report.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sample {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub total_rows: u64,
}

/// A control's evidence streamed into `evidence/<id>.csv` and `.parquet`, keeping only a
/// sample in memory.
pub(crate) struct EvidenceFiles {
    csv_path: std::path::PathBuf,
    parquet_path: std::path::PathBuf,
    csv: datafusion::arrow::csv::Writer<HashingFile>,
    parquet: Option<ArrowWriter<HashingFile>>,
    sample: Sample,
    sample_rows: usize,
    max_chars: usize,
}

impl EvidenceFiles {
    pub fn create(csv_path: &Path, parquet_path: &Path, sample_rows: usize, max_chars: usize) -> Result<Self, ReportError> {
        Ok(Self {
            csv: datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(HashingFile::create(csv_path)?),
            csv_path: csv_path.to_path_buf(),
            parquet_path: parquet_path.to_path_buf(),
            parquet: None,
            sample: Sample::default(),
            sample_rows,
            max_chars,
        })
    }

    /// Closes both files; a control that sent no rows gets files with the findings
    /// columns. Returns ((csv size, sha256), (parquet size, sha256), sample).
    pub fn finish(mut self) -> Result<(Written, Written, Sample), ReportError> {
        if self.parquet.is_none() {
            self.write(&keytrail_query::controls::findings_batch(&[])).map_err(ReportError::io(&self.parquet_path))?;
        }
        let csv = self.csv.into_inner().finish().map_err(ReportError::io(&self.csv_path))?;
        let parquet = self.parquet.expect("created above").into_inner()?.finish().map_err(ReportError::io(&self.parquet_path))?;
        Ok((csv, parquet, self.sample))
    }

    fn write(&mut self, batch: &RecordBatch) -> std::io::Result<()> {
        fn other<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> std::io::Error {
            std::io::Error::other(e)
        }
        self.csv.write(&defuse_formulas(batch).map_err(other)?).map_err(other)?;
        if self.parquet.is_none() {
            let props = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(other)?)).build();
            self.parquet = Some(ArrowWriter::try_new(HashingFile::create(&self.parquet_path).map_err(other)?, batch.schema(), Some(props)).map_err(other)?);
        }
        self.parquet.as_mut().expect("created above").write(batch).map_err(other)?;
        if self.sample.columns.is_empty() {
            self.sample.columns = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        }
        let wanted = self.sample_rows.saturating_sub(self.sample.rows.len());
        if wanted > 0 {
            let (_, rows) = cells(std::slice::from_ref(batch), wanted, self.max_chars);
            self.sample.rows.extend(rows);
        }
        self.sample.total_rows += batch.num_rows() as u64;
        Ok(())
    }
}

impl keytrail_query::controls::EvidenceSink for EvidenceFiles {
    fn rows(&mut self, batch: &RecordBatch) -> std::io::Result<()> {
        self.write(batch)
    }
}

/// CSV bytes of `batches`.
pub(crate) fn csv_bytes(batches: &[RecordBatch]) -> Result<Vec<u8>, ReportError> {
    let mut out = Vec::new();
    write_csv(batches, &mut out)?;
    Ok(out)
}

/// Column names and up to `max_rows` rows as text, each cell cut to `max_chars`.
pub(crate) fn cells(batches: &[RecordBatch], max_rows: usize, max_chars: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let columns = batches.first().map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect()).unwrap_or_default();
    let options = FormatOptions::default().with_null("");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options)).collect();
        for i in 0..batch.num_rows() {
            if rows.len() == max_rows {
                return (columns, rows);
            }
            let row = formatters
                .iter()
                .map(|f| match f {
                    Ok(f) => cut(f.value(i).to_string(), max_chars),
                    Err(_) => "(not shown)".to_string(),
                })
                .collect();
            rows.push(row);
        }
    }
    (columns, rows)
}

fn cut(mut text: String, max_chars: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(max_chars) {
        text.truncate(at);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, ListArray};
    use datafusion::arrow::datatypes::Int32Type;

    #[test]
    fn formulas_are_defused_and_nested_values_become_text() {
        let text: ArrayRef = Arc::new(StringArray::from(vec![
            Some("=HYPERLINK(\"http://x\")"),
            Some("+1"),
            Some("-2"),
            Some("@a"),
            Some("\tb"),
            Some("\rc"),
            Some("plain"),
            None,
        ]));
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>((0..8).map(|i| Some(vec![Some(i)]))));
        let number: ArrayRef = Arc::new(Int64Array::from((0..8).map(|i| -i).collect::<Vec<_>>()));
        let batch = RecordBatch::try_from_iter(vec![("t", text), ("l", list), ("n", number)]).unwrap();
        let csv = String::from_utf8(csv_bytes(&[batch]).unwrap()).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "t,l,n");
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"http://x\"\")\",[0],0");
        assert!(lines[2].starts_with("'+1,") && lines[3].starts_with("'-2,") && lines[4].starts_with("'@a,"));
        assert!(csv.contains("'\tb") && csv.contains("'\rc"), "{csv:?}");
        assert!(csv.contains("plain,[6],-6"), "numbers are not text and keep their sign: {csv}");
    }

    #[test]
    fn cells_stop_at_the_limits() {
        let batch = RecordBatch::try_from_iter(vec![("t", Arc::new(StringArray::from(vec!["abcdef", "g", "h"])) as ArrayRef)]).unwrap();
        let (columns, rows) = cells(&[batch.clone(), batch], 4, 3);
        assert_eq!(columns, vec!["t"]);
        assert_eq!(rows, vec![vec!["abc…"], vec!["g"], vec!["h"], vec!["abc…"]]);
    }
}
