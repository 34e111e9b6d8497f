use std::io::{Read, Write};
use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;

use anyhow::Context;
use keytrail_query::{LedgerSession, SessionOptions};

use crate::cli::{SqlArgs, SqlFormat};
use crate::config::Config;
use crate::exit::ExitCode;

pub async fn run(ledger_flag: Option<&str>, args: SqlArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let config = args.config.as_deref().map(Config::load).transpose()?.unwrap_or_default();
    let ledger = &super::open(config.ledger_url(ledger_flag), keytrail_ledger::OpenMode::ReadOnly).await?;
    let period = match &args.period {
        Some(p) => {
            let (start, end) = super::controls::month(p)?;
            Some((start.timestamp_micros(), end.timestamp_micros()))
        }
        None => None,
    };
    let options = SessionOptions { period, ..config.session_options(&args.engine, args.query_memory_mb)? };
    let session = LedgerSession::open_with(ledger, &known_streams()?, &options).await.context("opening the ledger for SQL")?;
    let query = match args.query.as_deref() {
        Some(q) if q != "-" => q.to_string(),
        _ => {
            use std::io::IsTerminal;
            if args.query.is_none() && std::io::stdin().is_terminal() {
                return interactive(&session, out).await;
            }
            let mut q = String::new();
            std::io::stdin().read_to_string(&mut q).context("reading the query from standard input")?;
            q
        }
    };
    // DataFusion's messages already carry their causes: print each once.
    let batches = session.query(&query).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut file = match &args.out {
        Some(path) => Some(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?),
        None if args.format == SqlFormat::Parquet => anyhow::bail!("--format parquet writes a file: add --out FILE"),
        None => None,
    };
    if args.format == SqlFormat::Parquet {
        let file = file.take().expect("checked above");
        let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| Arc::new(Schema::empty()));
        let mut writer = datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
        for batch in &batches {
            writer.write(batch)?;
        }
        writer.close()?;
        return Ok(ExitCode::Success);
    }
    let sink: &mut dyn Write = match file.as_mut() {
        Some(f) => f,
        None => out,
    };
    match args.format {
        SqlFormat::Table => writeln!(sink, "{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?)?,
        SqlFormat::Csv => keytrail_report::write_csv(&batches, sink)?,
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
        SqlFormat::Parquet => unreachable!("written above"),
    }
    Ok(ExitCode::Success)
}

/// The prompt: statements end with `;`, history is kept in ~/.keytrail_history.
async fn interactive(session: &LedgerSession, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let mut editor = rustyline::DefaultEditor::new().context("starting the prompt")?;
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".keytrail_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    writeln!(out, "keytrail sql (read-only). \\d lists tables, \\d TABLE its columns, \\q quits; end statements with ';'.")?;
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "keytrail> " } else { "      ..> " };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(_) => break,
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match meta_command(trimmed) {
                MetaCommand::Quit => break,
                MetaCommand::Sql(sql) => print_result(session, &sql, out).await?,
                MetaCommand::Unknown => writeln!(out, "unknown command {trimmed}: \\d, \\d TABLE, \\q")?,
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if trimmed.ends_with(';') {
            let _ = editor.add_history_entry(buffer.trim());
            let sql = std::mem::take(&mut buffer);
            print_result(session, &sql, out).await?;
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(ExitCode::Success)
}

async fn print_result(session: &LedgerSession, sql: &str, out: &mut impl Write) -> anyhow::Result<()> {
    match session.query(sql).await {
        Ok(batches) => writeln!(out, "{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?)?,
        Err(e) => writeln!(out, "error: {e}")?,
    }
    Ok(())
}

/// What a backslash command of the prompt does.
#[derive(Debug, PartialEq, Eq)]
enum MetaCommand {
    Quit,
    Sql(String),
    Unknown,
}

fn meta_command(line: &str) -> MetaCommand {
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("\\q"), None) => MetaCommand::Quit,
        (Some("\\d"), None) => MetaCommand::Sql(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'ledger' ORDER BY table_name".into(),
        ),
        (Some("\\d"), Some(table)) if table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => MetaCommand::Sql(format!(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = '{table}' ORDER BY ordinal_position"
        )),
        _ => MetaCommand::Unknown,
    }
}

/// The streams keytrail's collectors write, so that views over them work on a ledger that
/// does not have all of them (yet).
pub(crate) fn known_streams() -> anyhow::Result<Vec<keytrail_ledger::StreamSchema>> {
    use keytrail_collectors::{akeyless, akeyless_api, log_analytics};
    let mut known = vec![
        keytrail_ledger::StreamSchema::new(akeyless::STREAM, akeyless::columns())?,
        keytrail_ledger::StreamSchema::new(log_analytics::GAPS_STREAM, log_analytics::gap_columns())?,
        keytrail_ledger::StreamSchema::new(log_analytics::RANGES_STREAM, log_analytics::range_columns())?,
    ];
    known.extend(akeyless_api::stream_schemas()?);
    known.extend(keytrail_collectors::kubernetes::stream_schemas()?);
    for table in ["KubeEvents", "KubePodInventory", "ContainerLogV2", "AKSAudit", "AKSAuditAdmin"] {
        let spec = log_analytics::tables::TableSpec::for_table(table).map_err(anyhow::Error::msg)?;
        known.push(keytrail_ledger::StreamSchema::new(spec.stream, spec.columns())?);
    }
    Ok(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backslash_commands() {
        assert_eq!(meta_command("\\q"), MetaCommand::Quit);
        assert!(matches!(meta_command("\\d"), MetaCommand::Sql(s) if s.contains("information_schema.tables")));
        assert!(matches!(meta_command("\\d aks_audit"), MetaCommand::Sql(s) if s.contains("table_name = 'aks_audit'")));
        assert_eq!(meta_command("\\d x'; DROP"), MetaCommand::Unknown);
        assert_eq!(meta_command("\\x"), MetaCommand::Unknown);
    }
}
