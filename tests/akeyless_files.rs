//! `keytrail ingest --format akeyless` and `collect --source akeyless_logs`: forwarded Akeyless
//! Gateway files from a folder, from Azure Blob (Azurite) and from S3 (moto), incremental by
//! file.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{Workspace, keytrail, keytrail_env, manifests, string_column};
use datafusion::arrow::array::{Array, AsArray};
use keytrail_emulator::sample_month;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn record(i: u64) -> String {
    format!(
        r#"{{"timestamp":"2026-11-03T10:{:02}:{:02}Z","account_id":"acc-1","access_id":"p-{i}","action":"get_secret_value","item_name":"/prod/db/{i}","status":200,"remote_addr":"20.1.2.3, 10.0.0.{}"}}"#,
        (i / 60) % 60,
        i % 60,
        i % 250
    )
}

fn lines(range: std::ops::Range<u64>) -> String {
    range.map(|i| record(i) + "\n").collect()
}

fn rows(ledger: &Path, stream: &str) -> u64 {
    manifests(ledger, stream).iter().map(|m| m["rows"].as_u64().unwrap()).sum()
}

#[test]
fn a_folder_is_read_once_and_grown_or_new_files_add_only_their_new_lines() {
    let ws = Workspace::new();
    let root = ws.path().join("akeyless-log");
    let day3 = root.join("2026/11/03/akeyless-audit_2026-11-03T10:00.log");
    write(&day3, &lines(0..100));
    write(&root.join("2026/11/03/notes.txt"), "not a forwarded file\n");
    let root_arg = root.to_str().unwrap();

    let run = keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", root_arg]).expect(0);
    assert!(run.stdout.contains("1 forwarded files, 1 read, 0 changed since read; 100 records appended"), "{}", run.stdout);
    let again = keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", root_arg]).expect(0);
    assert!(again.stdout.contains("1 forwarded files, 0 read, 0 changed since read; 0 records appended"), "{}", again.stdout);
    assert_eq!(manifests(&ws.ledger(), "akeyless_audit").len(), 1, "a run with nothing new commits nothing");

    // The Gateway appends to the current file and starts the next one.
    let mut grown = std::fs::read_to_string(&day3).unwrap();
    grown.push_str(&lines(100..130));
    std::fs::write(&day3, grown).unwrap();
    write(&root.join("2026/11/03/akeyless-audit_2026-11-03T11:00.log"), &lines(130..150));
    let run = keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", root_arg]).expect(0);
    assert!(run.stdout.contains("2 forwarded files, 2 read, 0 changed since read; 50 records appended"), "{}", run.stdout);
    assert_eq!(rows(&ws.ledger(), "akeyless_audit"), 150);
    let ids: BTreeSet<String> = string_column(&ws.ledger(), "akeyless_audit", "access_id").into_iter().collect();
    assert_eq!(ids.len(), 150, "every record exactly once");
    assert_eq!(string_column(&ws.ledger(), "akeyless_audit", "source").iter().filter(|s| *s == "akeyless_logs").count(), 150);
    keytrail(&ws.ledger(), &["verify"]).expect(0);
}

#[test]
fn a_half_written_last_line_waits_and_a_rewritten_file_is_kept_whole_as_rejected() {
    let ws = Workspace::new();
    let file = ws.path().join("akeyless-log/2026/11/04/akeyless-audit_2026-11-04T00:00.log");
    let full = lines(0..10);
    let cut = full.len() - 25;
    write(&file, &full[..cut]);
    let arg = file.to_str().unwrap();
    let run = keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", arg]).expect(0);
    assert!(run.stdout.contains("9 records appended"), "{}", run.stdout);
    write(&file, &full);
    let run = keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", arg]).expect(0);
    assert!(run.stdout.contains("1 records appended"), "{}", run.stdout);

    // Rewriting bytes that were already ingested is tampering or a misconfigured sink.
    let rewritten = full.replacen("p-0", "p-X", 1) + &lines(10..12);
    write(&file, &rewritten);
    let run = keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", arg]).expect(5);
    assert!(run.stdout.contains("1 changed since read; 0 records appended to akeyless_audit, 1 rejected"), "{}", run.stdout);
    let reasons = string_column(&ws.ledger(), "akeyless_audit__rejected", "reason");
    assert!(reasons[0].contains("changed after"), "{reasons:?}");
    assert_eq!(rows(&ws.ledger(), "akeyless_audit"), 10);
    keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", arg]).expect(0);
}

#[test]
fn odd_records_are_parsed_leniently_or_rejected_byte_exact() {
    let ws = Workspace::new();
    let file = ws.path().join("akeyless-log/2026/11/05/akeyless-audit_2026-11-05T00:00.log");
    let mut text: Vec<u8> = Vec::new();
    text.extend_from_slice(br#"{"timestamp":1793750400,"status":"403","duration":"17","remote_addr":"1.1.1.1,2.2.2.2","request_parameters":{"name":"/a/b"},"extra":{"kept":true}}"#);
    text.push(b'\n');
    text.extend_from_slice(b"{\"timestamp\":\"2026-11-05T00:00:01Z\",\"item\":\"caf\xe9\"}\n");
    text.extend_from_slice(b"not json at all\n");
    text.extend_from_slice(br#"{"action":"list_items"}"#);
    text.push(b'\n');
    text.extend_from_slice(format!("{{\"timestamp\":\"2026-11-05T00:00:02Z\",\"pad\":\"{}\"}}\n", "x".repeat(3000)).as_bytes());
    write(&file, "");
    std::fs::write(&file, &text).unwrap();
    let run = keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", "--max-record-bytes", "2048", file.to_str().unwrap()]).expect(5);
    assert!(run.stdout.contains("1 records appended to akeyless_audit, 4 rejected"), "{}", run.stdout);
    assert_eq!(string_column(&ws.ledger(), "akeyless_audit", "item_path"), vec!["/a/b"]);
    let reasons = string_column(&ws.ledger(), "akeyless_audit__rejected", "reason");
    assert!(reasons.iter().any(|r| r.contains("UTF-8")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("not valid JSON")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("no timestamp")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("limit")), "{reasons:?}");
    // Rejected raw bytes are the line exactly as it was, invalid UTF-8 included.
    let raw: Vec<Vec<u8>> = common::segments(&ws.ledger(), "akeyless_audit__rejected")
        .iter()
        .flat_map(|s| common::read_parquet(&ws.ledger().join(s)))
        .flat_map(|b| {
            let col = b.column_by_name("raw").unwrap().as_binary::<i32>().clone();
            (0..col.len()).map(move |i| col.value(i).to_vec()).collect::<Vec<_>>()
        })
        .collect();
    assert!(raw.contains(&b"{\"timestamp\":\"2026-11-05T00:00:01Z\",\"item\":\"caf\xe9\"}".to_vec()));
}

#[test]
fn the_same_record_from_log_analytics_and_from_a_file_has_the_same_identity() {
    let ws = Workspace::new();
    let month = sample_month::generate(sample_month::SEED);
    let folder = ws.path().join("forwarded");
    common::write_forwarded_sample(&folder);
    keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", folder.to_str().unwrap()]).expect(0);

    // TimeGenerated lags the record's own time: the helper collects a day past the month.
    common::collect_sample(&ws, &["AkeylessAudit_CL"], &["--source", "log-analytics"]);

    let ids = string_column(&ws.ledger(), "akeyless_audit", "record_id");
    let sources = string_column(&ws.ledger(), "akeyless_audit", "source");
    let from = |source: &str| -> BTreeSet<&String> { ids.iter().zip(&sources).filter(|(_, s)| *s == source).map(|(id, _)| id).collect() };
    let (files, la) = (from("akeyless_logs"), from("log_analytics"));
    assert_eq!(files.len(), month["AkeylessAudit_CL"].len());
    assert_eq!(files, la, "every record has one identity, whichever sink it came through");

    // Both sources keep their place in the shared stream's cursor.
    let last = manifests(&ws.ledger(), "akeyless_audit").pop().unwrap();
    assert!(last["cursor"]["akeyless_logs"].is_object() && last["cursor"]["log_analytics"].is_object(), "{}", last["cursor"]);
    keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", folder.to_str().unwrap()]).expect(0);
    assert_eq!(string_column(&ws.ledger(), "akeyless_audit", "record_id").len(), ids.len(), "a re-read after collect adds nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn forwarded_files_on_azure_blob_are_read_through_the_same_path() {
    let azurite = keytrail_test_support::Azurite::start();
    azurite.create_container("audit");
    forwarded_files_are_read_once(&azurite.store("audit"), "az://audit/gateway/akeyless-log", azurite.env()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn forwarded_files_on_s3_are_read_through_the_same_path() {
    let s3 = keytrail_test_support::S3Server::start();
    s3.create_bucket("audit");
    forwarded_files_are_read_once(&s3.store("audit"), "s3://audit/gateway/akeyless-log", s3.env()).await;
}

/// Puts two Gateway files under `gateway/akeyless-log/` in `store`, ingests `url` twice
/// and checks the second run adds nothing.
async fn forwarded_files_are_read_once(store: &impl object_store::ObjectStore, url: &'static str, env: Vec<(&'static str, String)>) {
    use object_store::{ObjectStoreExt, PutPayload};
    for (day, range) in [("06", 0..40), ("07", 40..100)] {
        let path = format!("gateway/akeyless-log/2026/11/{day}/akeyless-audit_2026-11-{day}T00:00.log");
        store.put(&object_store::path::Path::from(path), PutPayload::from(lines(range))).await.unwrap();
    }
    let ws = Workspace::new();
    let ledger = ws.ledger();
    let run = tokio::task::spawn_blocking(move || {
        let first = keytrail_env(&ledger, &["ingest", "--format", "akeyless", url], &env).expect(0);
        let second = keytrail_env(&ledger, &["ingest", "--format", "akeyless", url], &env).expect(0);
        (first, second)
    })
    .await
    .unwrap();
    assert!(run.0.stdout.contains("2 forwarded files, 2 read, 0 changed since read; 100 records appended"), "{}", run.0.stdout);
    assert!(run.1.stdout.contains("0 records appended"), "{}", run.1.stdout);
    assert_eq!(rows(&ws.ledger(), "akeyless_audit"), 100);
}

#[test]
fn collect_reads_the_configured_locations_relative_to_the_config_file() {
    let ws = Workspace::new();
    write(&ws.path().join("etc/forwarded/akeyless-log/2026/11/08/akeyless-audit_2026-11-08T00:00.log"), &lines(0..25));
    let config = ws.path().join("etc/keytrail.toml");
    write(&config, "[akeyless_logs]\nlocations = [\"forwarded\"]\n");
    let args = ["collect", "--config", config.to_str().unwrap(), "--source", "akeyless-logs"];
    let run = keytrail(&ws.ledger(), &args).expect(0);
    assert!(run.stdout.contains("25 records appended"), "{}", run.stdout);
    keytrail(&ws.ledger(), &args).expect(0);
    assert_eq!(rows(&ws.ledger(), "akeyless_audit"), 25);
    let err = keytrail(&ws.ledger(), &["collect", "--config", config.to_str().unwrap(), "--source", "log-analytics"]).expect(2);
    assert!(err.stderr.contains("configures no such source (it configures: akeyless_logs)"), "{}", err.stderr);
}
