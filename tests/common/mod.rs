//! Helpers for the end-to-end tests: run the real `keytrail` binary and poke at the
//! files it leaves, as an attacker or an auditor would.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub use keytrail_test_support::{Workspace, audit_records};

/// The outcome of one `keytrail` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Panics with the output unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    /// The verdict `verify` printed for an object path (the text after the path).
    #[track_caller]
    pub fn verdict(&self, path: &str) -> &str {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(path).and_then(|rest| rest.strip_prefix("  ")))
            .unwrap_or_else(|| panic!("no line for {path} in:\n{}", self.stdout))
    }

    /// Lines whose verdict is INVALID.
    pub fn invalid_lines(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.contains("  INVALID")).collect()
    }
}

/// `keytrail --ledger <ledger> <args>`.
pub fn keytrail(ledger: &Path, args: &[&str]) -> Run {
    keytrail_env(ledger, args, &[])
}

/// Like [`keytrail`] with extra environment variables.
pub fn keytrail_env(ledger: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let mut cmd = command(ledger.to_str().unwrap(), args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Run::from(cmd.output().expect("run keytrail"))
}

/// The command for `keytrail --ledger <url> <args>`, to spawn or adjust.
pub fn command(ledger_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keytrail"));
    cmd.arg("--ledger").arg(ledger_url).args(args);
    for var in ["KEYTRAIL_LEDGER", "KEYTRAIL_FAILPOINT", "KEYTRAIL_SIGNING_KEY", "KEYTRAIL_CONFIG"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Ingests `records` from a file named `name` into `stream`, in commits of `batch` records.
pub fn ingest(ws: &Workspace, stream: &str, name: &str, records: &[String], batch: usize) -> Run {
    let file = ws.write_lines(name, records);
    keytrail(&ws.ledger(), &["ingest", "--stream", stream, "--batch-records", &batch.to_string(), file.to_str().unwrap()])
}

/// Segment paths (relative to the ledger) of a stream, in manifest order.
pub fn segments(ledger: &Path, stream: &str) -> Vec<String> {
    manifests(ledger, stream).iter().flat_map(|m| m["segments"].as_array().unwrap().iter().map(|s| s["path"].as_str().unwrap().to_string())).collect()
}

/// Parsed manifests of a stream, in number order.
pub fn manifests(ledger: &Path, stream: &str) -> Vec<serde_json::Value> {
    manifest_paths(ledger, stream).iter().map(|p| serde_json::from_slice(&std::fs::read(ledger.join(p)).unwrap()).unwrap()).collect()
}

/// Manifest paths (relative to the ledger) of a stream, sorted; none before its first
/// commit (a test may poll while a collector runs).
pub fn manifest_paths(ledger: &Path, stream: &str) -> Vec<String> {
    let dir = ledger.join("_manifests").join(stream);
    let entries = match std::fs::read_dir(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        entries => entries.unwrap(),
    };
    let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names.into_iter().map(|n| format!("_manifests/{stream}/{n}")).collect()
}

/// Reads every batch of a Parquet file.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap().map(|b| b.unwrap()).collect()
}

/// Overwrites a Parquet file with `batches` (a valid file, as a careful attacker writes).
pub fn write_parquet(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batches[0].schema(), None).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

/// Generates a key pair in the workspace; returns (private, public) paths.
pub fn keygen(ws: &Workspace) -> (PathBuf, PathBuf) {
    let key = ws.path().join("signing.key");
    keytrail(&ws.ledger(), &["keygen", "--out", key.to_str().unwrap(), "--name", "test.keytrail"]).expect(0);
    let public = ws.path().join("signing.key.pub");
    (key, public)
}

/// The non-null values of a string column of a stream, in seq order, read from its segments.
pub fn string_column(ledger: &Path, stream: &str, name: &str) -> Vec<String> {
    use datafusion::arrow::array::{Array, AsArray};
    let mut out = Vec::new();
    for segment in segments(ledger, stream) {
        for batch in read_parquet(&ledger.join(&segment)) {
            let col = batch.column_by_name(name).unwrap_or_else(|| panic!("{stream} has no column {name}")).as_string::<i32>().clone();
            out.extend((0..col.len()).filter(|i| !col.is_null(*i)).map(|i| col.value(i).to_string()));
        }
    }
    out
}

/// The values of a time column of a stream (microseconds, null as `None`), in seq order.
pub fn time_column(ledger: &Path, stream: &str, name: &str) -> Vec<Option<i64>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::TimestampMicrosecondType;
    let mut out = Vec::new();
    for segment in segments(ledger, stream) {
        for batch in read_parquet(&ledger.join(&segment)) {
            let col = batch.column_by_name(name).unwrap_or_else(|| panic!("{stream} has no column {name}")).as_primitive::<TimestampMicrosecondType>().clone();
            out.extend((0..col.len()).map(|i| (!col.is_null(i)).then(|| col.value(i))));
        }
    }
    out
}

/// Collects `tables` of the sample month from an in-process emulator into the workspace's
/// ledger, in day windows over November 2026 and the day after (TimeGenerated lags), with
/// `extra_args` added to `collect` (e.g. `--source log-analytics`).
pub fn collect_sample(ws: &Workspace, tables: &[&str], extra_args: &[&str]) {
    collect_sample_with_faults(ws, tables, extra_args, &[]).expect(0);
}

/// Like [`collect_sample`], with `faults` queued on the emulator first and at most two
/// attempts per window, so that two failures in a row leave a recorded gap.
pub fn collect_sample_with_faults(ws: &Workspace, tables: &[&str], extra_args: &[&str], faults: &[keytrail_emulator::faults::Fault]) -> Run {
    use keytrail_emulator::{Emulator, EmulatorConfig, dataset::Dataset};
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let emulator = runtime.block_on(Emulator::start(EmulatorConfig::new(Dataset::sample_month()))).unwrap();
    emulator.faults().extend(faults.iter().cloned());
    let config = emulator.write_client_files(&ws.path().join("client"), tables, "window_minutes = 1440\nmax_attempts = 2\n").unwrap();
    let mut args = vec!["collect", "--config", config.to_str().unwrap(), "--since", "2026-11-01", "--until", "2026-12-02"];
    args.extend_from_slice(extra_args);
    keytrail(&ws.ledger(), &args)
}

/// Writes the sample month's forwarded Akeyless files under `dir`; returns how many records.
pub fn write_forwarded_sample(dir: &Path) -> usize {
    use keytrail_emulator::sample_month;
    let mut records = 0;
    for (path, text) in sample_month::forwarded_files(&sample_month::generate(sample_month::SEED)) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        records += text.lines().count();
        std::fs::write(path, text).unwrap();
    }
    records
}

/// Every object under `prefix` in a cloud store, sorted.
pub async fn list_objects(store: &impl object_store::ObjectStore, prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let mut names: Vec<String> = store.list(Some(&object_store::path::Path::from(prefix))).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
    names.sort();
    names
}

/// Asserts that the store refuses to create `path` again (put-if-absent), as a second
/// writer of the same manifest would try.
pub async fn assert_create_refused(store: &impl object_store::ObjectStore, path: &str) {
    use object_store::ObjectStoreExt;
    let err = store
        .put_opts(
            &object_store::path::Path::from(path),
            object_store::PutPayload::from_static(b"{}"),
            object_store::PutOptions { mode: object_store::PutMode::Create, ..Default::default() },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, object_store::Error::AlreadyExists { .. }), "{err}");
}

/// Flips the middle byte of an object, as an attacker with write access to the bucket could.
pub async fn flip_middle_byte(store: &impl object_store::ObjectStore, path: &str) {
    use object_store::ObjectStoreExt;
    let path = object_store::path::Path::from(path);
    let mut bytes = store.get(&path).await.unwrap().bytes().await.unwrap().to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    store.put(&path, object_store::PutPayload::from(bytes)).await.unwrap();
}
