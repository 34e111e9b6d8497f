//! The ledger on S3, through the same code path, against a real S3 endpoint (moto's server).

mod common;

use std::path::Path;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn ingest_verify_tamper_verify_on_s3() {
    let s3 = keytrail_test_support::S3Server::start();
    s3.create_bucket("evidence");
    let env = s3.env();
    let url = Path::new("s3://evidence/ledgers/prod");
    let ws = Workspace::new();
    let file = ws.write_lines("a.jsonl", audit_records(0, 300));

    let run = keytrail_env(url, &["ingest", "--stream", "app_audit", "--batch-records", "100", file.to_str().unwrap()], &env).expect(0);
    assert!(run.stdout.contains("300 records appended"), "{}", run.stdout);
    let run = keytrail_env(url, &["verify"], &env).expect(0);
    assert!(run.stdout.contains("3/3 segments valid"), "{}", run.stdout);

    let store = s3.store("evidence");
    let manifests = list_objects(&store, "ledgers/prod/_manifests/app_audit").await;
    assert_eq!(manifests.len(), 3, "{manifests:?}");

    // Put-if-absent holds on S3 (If-None-Match): a second manifest 1 cannot be written.
    assert_create_refused(&store, &manifests[0]).await;

    // A segment changed in the bucket is found, and the secret key never reaches output.
    let segments = list_objects(&store, "ledgers/prod/streams/app_audit").await;
    let victim = &segments[2];
    flip_middle_byte(&store, victim).await;
    let run = keytrail_env(url, &["-vv", "verify"], &env).expect(1);
    let relative = victim.strip_prefix("ledgers/prod/").unwrap();
    let line = run.stdout.lines().find(|l| l.starts_with(relative)).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(line.contains("INVALID: SHA-256 of the file differs"), "{line}");
    assert!(run.stderr.contains("DEBUG"), "debug logging is on: {}", run.stderr);
    let secret = keytrail_test_support::S3_SECRET_ACCESS_KEY;
    assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "the secret key leaked");

    let run = keytrail_env(url, &["sql", "--format", "csv", "SELECT count(*) AS n FROM app_audit"], &env).expect(0);
    assert_eq!(run.stdout.trim(), "n\n300");
}
