use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;

use anyhow::Context;
use keytrail_query::{LedgerSession, SessionOptions};

use crate::cli::{SqlArgs, SqlFormat};
use crate::config::Config;
use crate::exit::ExitCode;

pub async fn run(ledger_flag: Option<&str>, args: SqlArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let config = args.config.as_deref().map(Config::load).transpose()?.unwrap_or_default();
    let ledger = &super::open(config.ledger_url(ledger_flag), keytrail_ledger::OpenMode::ReadOnly).await?;
    let format = match (args.format, &args.out) {
        (Some(f), _) => f,
        (None, Some(path)) => format_of(path),
        (None, None) => SqlFormat::Table,
    };
    // Checked before anything runs: a result never replaces evidence, nor a file unasked.
    let mut file = args.out.as_deref().map(|path| create_output(path, args.force, ledger)).transpose()?;
    if format == SqlFormat::Parquet && file.is_none() {
        anyhow::bail!("--format parquet writes a file: add --out FILE");
    }
    let period = args.period.map(|p| {
        let (start, end) = p.bounds();
        (start.timestamp_micros(), end.timestamp_micros())
    });
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
    let statements = match query.trim() {
        meta if meta.starts_with('\\') => vec![meta_query(&session, meta)?],
        _ => statements(&query)?,
    };
    if statements.len() > 1 && format != SqlFormat::Table {
        anyhow::bail!(
            "{} statements given: --format {} writes one result; give one statement (several run in order with --format table)",
            statements.len(),
            format.name()
        );
    }
    let mut sink = match file.take() {
        Some(f) => Output::File(f),
        None => Output::Stdout(out),
    };
    for statement in &statements {
        let df = session.plan(statement).await?;
        write_result(df, format, &mut sink).await?;
    }
    Ok(ExitCode::Success)
}

/// The format an output file's extension names (`.csv`, `.json`, `.ndjson`/`.jsonl`,
/// `.parquet`), else a table.
fn format_of(path: &Path) -> SqlFormat {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => SqlFormat::Csv,
        Some("json") => SqlFormat::Json,
        Some("ndjson" | "jsonl") => SqlFormat::Ndjson,
        Some("parquet") => SqlFormat::Parquet,
        _ => SqlFormat::Table,
    }
}

/// The `--out` file, created only where it replaces nothing keytrail must keep: never inside
/// the ledger, and an existing file only with `--force`.
fn create_output(path: &Path, force: bool, ledger: &keytrail_ledger::Ledger) -> anyhow::Result<std::fs::File> {
    let root = ledger.shared_url().and_then(|u| url::Url::parse(u).ok()).and_then(|u| u.to_file_path().ok());
    if let Some(root) = root {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let inside = std::fs::canonicalize(parent).is_ok_and(|p| p.starts_with(&root));
        if inside {
            anyhow::bail!("--out {} is inside the ledger at {}: keytrail never writes there; choose a path outside it", path.display(), root.display());
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => anyhow::anyhow!("{} exists: give --force to replace it, or another --out", path.display()),
        _ => anyhow::Error::new(e).context(format!("creating {}", path.display())),
    })
}

/// The statements of a query text, in order (one for a single statement, with or without
/// its `;`).
fn statements(sql: &str) -> anyhow::Result<Vec<String>> {
    use datafusion::sql::parser::DFParser;
    let parsed = DFParser::parse_sql(sql).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(if parsed.len() <= 1 { vec![sql.to_string()] } else { parsed.iter().map(|s| s.to_string()).collect() })
}

/// Where a result goes.
enum Output<'a> {
    /// `--out`.
    File(std::fs::File),
    /// Standard output (or the prompt's).
    Stdout(&'a mut dyn Write),
}

impl Write for Output<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::File(f) => f.write(buf),
            Output::Stdout(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::File(f) => f.flush(),
            Output::Stdout(w) => w.flush(),
        }
    }
}

/// Streams a result to `sink`, batch by batch (a table is aligned over the whole result,
/// so it is collected first): only the query's own memory limit bounds a large result.
async fn write_result(df: datafusion::dataframe::DataFrame, format: SqlFormat, sink: &mut Output<'_>) -> anyhow::Result<()> {
    use futures::StreamExt;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut stream = df.execute_stream().await?;
    let empty = RecordBatch::new_empty(schema.clone());
    match format {
        SqlFormat::Table => {
            let mut batches = Vec::new();
            while let Some(batch) = stream.next().await {
                batches.push(batch?);
            }
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            if rows == 0 {
                batches = vec![empty];
            }
            writeln!(sink, "{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?)?;
            if rows == 0 {
                writeln!(sink, "0 rows")?;
            }
        }
        SqlFormat::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(sink);
            // The header, even for no rows.
            writer.write(&keytrail_report::defuse_formulas(&empty)?)?;
            while let Some(batch) = stream.next().await {
                writer.write(&keytrail_report::defuse_formulas(&batch?)?)?;
            }
        }
        SqlFormat::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(sink);
            while let Some(batch) = stream.next().await {
                writer.write(&batch?)?;
            }
            writer.finish()?;
        }
        SqlFormat::Ndjson => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(sink);
            while let Some(batch) = stream.next().await {
                writer.write(&batch?)?;
            }
            writer.finish()?;
        }
        SqlFormat::Parquet => {
            let Output::File(file) = sink else { anyhow::bail!("--format parquet writes a file: add --out FILE") };
            let mut writer = datafusion::parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
            while let Some(batch) = stream.next().await {
                writer.write(&batch?)?;
            }
            writer.close()?;
        }
    }
    Ok(())
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
            if meta_command(trimmed) == MetaCommand::Quit {
                break;
            }
            match meta_query(session, trimmed) {
                Ok(sql) => print_result(session, &sql, out).await?,
                Err(e) => writeln!(out, "error: {e}")?,
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
    match session.plan(sql).await {
        Ok(df) => write_result(df, SqlFormat::Table, &mut Output::Stdout(out)).await?,
        Err(e) => writeln!(out, "error: {e}")?,
    }
    Ok(())
}

/// What a backslash command of the prompt does.
#[derive(Debug, PartialEq, Eq)]
enum MetaCommand {
    Quit,
    /// `\d`: every table and view.
    Tables,
    /// `\d TABLE`: its columns.
    Describe(String),
    Unknown,
}

const TABLES_SQL: &str = "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'ledger' ORDER BY table_name";

fn columns_sql(table: &str) -> String {
    format!("SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = '{table}' ORDER BY ordinal_position")
}

/// The query a backslash command stands for.
fn meta_query(session: &LedgerSession, line: &str) -> anyhow::Result<String> {
    match meta_command(line) {
        MetaCommand::Tables => Ok(TABLES_SQL.to_string()),
        MetaCommand::Describe(table) if session.context().table_exist(table.as_str()).unwrap_or(false) => Ok(columns_sql(&table)),
        MetaCommand::Describe(table) => anyhow::bail!("no table or view named {table} (\\d lists them)"),
        MetaCommand::Quit | MetaCommand::Unknown => anyhow::bail!("unknown command {line}: \\d, \\d TABLE, and \\q at the prompt"),
    }
}

fn meta_command(line: &str) -> MetaCommand {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("\\q"), None, None) => MetaCommand::Quit,
        (Some("\\d"), None, None) => MetaCommand::Tables,
        (Some("\\d"), Some(table), None) if table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => MetaCommand::Describe(table.to_string()),
        _ => MetaCommand::Unknown,
    }
}

/// The streams keytrail's sources write, so that views over them work on a ledger that
/// does not have all of them (yet).
pub(crate) fn known_streams() -> anyhow::Result<Vec<keytrail_ledger::StreamSchema>> {
    Ok(keytrail_collectors::source::known_streams()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backslash_commands() {
        assert_eq!(meta_command("\\q"), MetaCommand::Quit);
        assert_eq!(meta_command("\\d"), MetaCommand::Tables);
        assert_eq!(meta_command("\\d aks_audit"), MetaCommand::Describe("aks_audit".into()));
        assert_eq!(meta_command("\\d x'; DROP"), MetaCommand::Unknown);
        assert_eq!(meta_command("\\x"), MetaCommand::Unknown);
    }
}
