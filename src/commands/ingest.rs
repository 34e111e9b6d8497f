use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use keytrail_collectors::jsonl::{DEFAULT_TIME_FIELDS, JsonLinesOptions, JsonLinesReader};
use keytrail_ledger::{Batch, Ledger, StreamSchema};

use crate::cli::{IngestArgs, InputFormat};
use crate::exit::ExitCode;

/// Reading and parsing run on a blocking thread, one batch ahead of the appender, so the
/// two overlap on separate cores.
const BATCHES_IN_FLIGHT: usize = 1;

pub async fn run(ledger: &Ledger, args: IngestArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    if args.format == InputFormat::Akeyless {
        return akeyless(ledger, args, out).await;
    }
    let Some(stream) = args.stream.as_deref() else {
        anyhow::bail!("--stream is required with --format json (say which stream to append to)");
    };
    // A collector's stream holds typed columns that the views read: generic records under
    // its name would make every query of the ledger fail.
    if super::sql::known_streams()?.iter().any(|known| known.name() == stream) {
        anyhow::bail!(
            "{stream} is a stream keytrail's collectors write (typed columns the views read); generic records \
             cannot go there: choose another --stream name{}",
            if stream == keytrail_collectors::akeyless::STREAM { ", or ingest forwarded Akeyless files with --format akeyless" } else { "" }
        );
    }
    let schema = StreamSchema::new(stream, vec![])?;
    let time_fields = if args.time_fields.is_empty() { DEFAULT_TIME_FIELDS.iter().map(|s| s.to_string()).collect() } else { args.time_fields };
    let opts = JsonLinesOptions { time_fields, max_record_bytes: args.max_record_bytes, batch_lines: args.batch_records.max(1), ..Default::default() };
    let (mut all_appended, mut all_rejected) = (0u64, 0u64);
    // Names this run in every cursor: a later run of the same file is a new read, never
    // mistaken for a retry of this one.
    let run_id = super::run_id();
    for file in &args.files {
        let (mut appended, mut rejected, mut first_seq, mut tree_size) = (0u64, 0u64, None, 0);
        let mut batches = read_batches(file.clone(), opts.clone(), run_id.clone());
        while let Some(batch) = batches.recv().await {
            let batch = batch.with_context(|| format!("reading {}", input_name(file)))?;
            let outcome = ledger.append(&schema, batch).await.with_context(|| {
                format!("appending {} to stream {} ({appended} records of this file were committed before the failure)", file.display(), schema.name())
            })?;
            if let Some(c) = &outcome.rejected {
                tracing::info!(input = %input_name(file), stream = %c.stream, manifest = c.number, rows = c.rows, "committed rejected records");
            }
            if let Some(c) = outcome.committed {
                tracing::info!(input = %input_name(file), stream = %c.stream, manifest = c.number, rows = c.rows, tree_size = c.tree_size, attempts = c.attempts, "committed");
                first_seq.get_or_insert(c.tree_size - c.rows);
                tree_size = c.tree_size;
                appended += c.rows;
            }
            rejected += outcome.rejected.map_or(0, |r| r.rows);
        }
        let seqs = match first_seq {
            Some(first) if appended > 0 => format!(" (seq {first}..={})", tree_size - 1),
            _ => String::new(),
        };
        writeln!(out, "{}: {appended} records appended to {}{seqs}, {rejected} rejected", input_name(file), schema.name())?;
        all_appended += appended;
        all_rejected += rejected;
    }
    if args.files.len() > 1 {
        writeln!(out, "total: {all_appended} records appended, {all_rejected} rejected")?;
    }
    if all_rejected > 0 {
        writeln!(
            out,
            "{all_rejected} records were rejected and kept in {}__rejected; see why with: keytrail verify --stream {} and the rejected stream's reason column",
            schema.name(),
            schema.name()
        )?;
        return Ok(ExitCode::Rejected);
    }
    Ok(ExitCode::Success)
}

async fn akeyless(ledger: &Ledger, args: IngestArgs, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    if args.stream.as_deref().is_some_and(|s| s != keytrail_collectors::akeyless::STREAM) {
        anyhow::bail!("--format akeyless always appends to the {} stream; drop --stream", keytrail_collectors::akeyless::STREAM);
    }
    let mut options = keytrail_collectors::akeyless_files::FilesOptions {
        max_record_bytes: args.max_record_bytes,
        batch_records: args.batch_records.max(1),
        ..Default::default()
    };
    if !args.item_path_fields.is_empty() {
        options.item_path_fields = args.item_path_fields;
    }
    let inputs: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    let report = super::akeyless_logs::read(ledger, &inputs, &options, out).await?;
    Ok(if report.rejected > 0 { ExitCode::Rejected } else { ExitCode::Success })
}

fn read_batches(file: PathBuf, opts: JsonLinesOptions, run_id: String) -> tokio::sync::mpsc::Receiver<std::io::Result<Batch>> {
    let (tx, rx) = tokio::sync::mpsc::channel(BATCHES_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let name = input_name(&file);
        let input: Box<dyn BufRead> = if file == Path::new("-") {
            Box::new(BufReader::with_capacity(1 << 20, std::io::stdin()))
        } else {
            match std::fs::File::open(&file) {
                Ok(f) => Box::new(BufReader::with_capacity(1 << 20, f)),
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        };
        let mut reader = JsonLinesReader::new(input, name, opts);
        loop {
            let next = reader.next_batch().transpose().map(|batch| {
                batch.map(|mut b| {
                    if let Some(serde_json::Value::Object(c)) = b.cursor.as_mut() {
                        c.insert("run".into(), run_id.clone().into());
                    }
                    b
                })
            });
            let stop = !matches!(next, Some(Ok(_)));
            if let Some(item) = next
                && tx.blocking_send(item).is_err()
            {
                return;
            }
            if stop {
                return;
            }
        }
    });
    rx
}

/// How an input is named in output, rejections and cursors.
fn input_name(file: &Path) -> String {
    if file == Path::new("-") { "stdin".into() } else { file.display().to_string() }
}
