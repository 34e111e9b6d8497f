//! The ledger on S3, through the same code path, against a real S3 endpoint (moto's server).

mod common;

use common::*;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn ingest_verify_tamper_verify_on_s3() {
    let s3 = keytrail_test_support::S3Server::start();
    s3.create_bucket("evidence");
    let env = s3.env();
    let url = "s3://evidence/ledgers/prod";
    let ws = Workspace::new();
    let file = ws.write_lines("a.jsonl", audit_records(0, 300));
    let run_with = |args: &[&str]| {
        let mut cmd = command(url, args);
        cmd.envs(env.iter().map(|(k, v)| (*k, v)));
        let out = cmd.output().unwrap();
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (code, stdout, stderr) = run_with(&["ingest", "--stream", "app_audit", "--batch-records", "100", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("300 records appended"), "{stdout}");
    let (code, stdout, _) = run_with(&["verify"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("3/3 segments valid"), "{stdout}");

    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(s3.url())
        .with_allow_http(true)
        .with_access_key_id("keytrail-test")
        .with_secret_access_key("keytrail-test-secret")
        .with_region(keytrail_test_support::S3_REGION)
        .with_bucket_name("evidence")
        .build()
        .unwrap();
    let manifests = list(&store, "ledgers/prod/_manifests/app_audit").await;
    assert_eq!(manifests.len(), 3, "{manifests:?}");

    // Put-if-absent holds on S3 (If-None-Match): a second manifest 1 cannot be written.
    let err = store
        .put_opts(
            &Path::from(manifests[0].as_str()),
            PutPayload::from_static(b"{}"),
            object_store::PutOptions { mode: object_store::PutMode::Create, ..Default::default() },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, object_store::Error::AlreadyExists { .. }), "{err}");

    // A segment changed in the bucket is found, and the secret key never reaches output.
    let segments = list(&store, "ledgers/prod/streams/app_audit").await;
    let victim = &segments[2];
    let mut bytes = store.get(&Path::from(victim.as_str())).await.unwrap().bytes().await.unwrap().to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    store.put(&Path::from(victim.as_str()), PutPayload::from(bytes)).await.unwrap();
    let (code, stdout, stderr) = run_with(&["-vv", "verify"]);
    assert_eq!(code, 1, "{stdout}");
    let relative = victim.strip_prefix("ledgers/prod/").unwrap();
    let line = stdout.lines().find(|l| l.starts_with(relative)).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("INVALID: SHA-256 of the file differs"), "{line}");
    assert!(stderr.contains("DEBUG"), "debug logging is on: {stderr}");
    assert!(!stdout.contains("keytrail-test-secret") && !stderr.contains("keytrail-test-secret"), "the secret key leaked");

    let (code, stdout, stderr) = run_with(&["sql", "--format", "csv", "SELECT count(*) AS n FROM app_audit"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "n\n300");
}

async fn list(store: &impl ObjectStore, prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let mut names: Vec<String> = store.list(Some(&Path::from(prefix))).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
    names.sort();
    names
}
