use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::Context;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use keytrail_ledger::Ledger;
use keytrail_query::LedgerSession;

use crate::cli::{SqlArgs, SqlFormat};
use crate::exit::ExitCode;

pub async fn run(ledger: &Ledger, args: SqlArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let query = match args.query.as_deref() {
        Some(q) if q != "-" => q.to_string(),
        _ => {
            use std::io::IsTerminal;
            if std::io::stdin().is_terminal() {
                anyhow::bail!("give a query (keytrail sql \"SELECT …\") or pipe one in; SHOW TABLES lists the streams");
            }
            let mut q = String::new();
            std::io::stdin().read_to_string(&mut q).context("reading the query from standard input")?;
            q
        }
    };
    let session = LedgerSession::open(ledger, &known_streams()?).await.context("opening the ledger for SQL")?;
    // DataFusion's messages already carry their causes: print each once.
    let batches = session.query(&query).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut file;
    let sink: &mut dyn Write = match &args.out {
        Some(path) => {
            file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            &mut file
        }
        None if args.format == SqlFormat::Parquet => anyhow::bail!("--format parquet writes a file: add --out FILE"),
        None => out,
    };
    match args.format {
        SqlFormat::Table => writeln!(sink, "{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?)?,
        SqlFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(sink);
            for batch in &batches {
                writer.write(&defuse_formulas(batch)?)?;
            }
        }
        SqlFormat::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(sink);
            for batch in &batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        SqlFormat::Ndjson => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(sink);
            for batch in &batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        SqlFormat::Parquet => {
            let path = args.out.as_ref().expect("checked above");
            let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| Arc::new(Schema::empty()));
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut writer = datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
            for batch in &batches {
                writer.write(batch)?;
            }
            writer.close()?;
        }
    }
    Ok(ExitCode::Success)
}

/// The streams keytrail's collectors write, so that views over them work on a ledger that
/// does not have all of them (yet).
pub(crate) fn known_streams() -> anyhow::Result<Vec<keytrail_ledger::StreamSchema>> {
    use keytrail_collectors::{akeyless, log_analytics};
    let audit = log_analytics::tables::TableSpec::for_table("AKSAudit").map_err(anyhow::Error::msg)?;
    Ok(vec![
        keytrail_ledger::StreamSchema::new(akeyless::STREAM, akeyless::columns())?,
        keytrail_ledger::StreamSchema::new(audit.stream, audit.columns())?,
        keytrail_ledger::StreamSchema::new(log_analytics::GAPS_STREAM, log_analytics::gap_columns())?,
    ])
}

/// Text cells that a spreadsheet would evaluate (starting with =, +, -, @, tab or CR) get a
/// leading apostrophe, as OWASP recommends for CSV exports: log-derived values (item paths,
/// user agents) are attacker-controlled.
fn defuse_formulas(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            let text = cast(column, &DataType::Utf8)?;
            let text = text.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
            let defused: StringArray = text
                .iter()
                .map(|v| {
                    v.map(|s| if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() })
                })
                .collect();
            fields.push(Field::new(field.name(), DataType::Utf8, field.is_nullable()));
            columns.push(Arc::new(defused));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}
