//! The ledger on Azure Blob Storage, through the same code path, against a real Azurite.

mod common;

use common::*;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use object_store::path::Path;

#[tokio::test]
async fn ingest_verify_tamper_verify_on_azurite() {
    let azurite = keytrail_test_support::Azurite::start();
    azurite.create_container("evidence");
    let env = azurite.env();
    let url = "az://evidence/ledgers/prod";
    let ws = Workspace::new();
    let file = ws.write_lines("a.jsonl", audit_records(0, 300));

    let run_with = |args: &[&str]| {
        let mut cmd = command(url, args);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (code, stdout, stderr) = run_with(&["ingest", "--stream", "app_audit", "--batch-records", "100", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("300 records appended"), "{stdout}");

    let (code, stdout, _) = run_with(&["verify"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("3/3 segments valid"), "{stdout}");

    // The objects are where the ledger URL says, under the container's path prefix. The
    // builder reads the emulator URL from the environment, so set it for this process too.
    for (k, v) in &env {
        // SAFETY: the only test in this binary, on a current-thread runtime: no other
        // thread reads the environment meanwhile.
        unsafe { std::env::set_var(k, v) };
    }
    let store = object_store::azure::MicrosoftAzureBuilder::from_env()
        .with_use_emulator(true)
        .with_container_name("evidence")
        .build()
        .unwrap();
    let manifests: Vec<_> = futures_list(&store, "ledgers/prod/_manifests/app_audit").await;
    assert_eq!(manifests.len(), 3, "{manifests:?}");

    // Put-if-absent holds on Azure: a second manifest 1 cannot be written.
    let err = store
        .put_opts(
            &Path::from(manifests[0].as_str()),
            PutPayload::from_static(b"{}"),
            object_store::PutOptions { mode: object_store::PutMode::Create, ..Default::default() },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, object_store::Error::AlreadyExists { .. }), "{err}");

    // Tamper with a segment the way an attacker with write access to the container could.
    let segments = futures_list(&store, "ledgers/prod/streams/app_audit").await;
    let victim = &segments[1];
    let mut bytes = store.get(&Path::from(victim.as_str())).await.unwrap().bytes().await.unwrap().to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    store.put(&Path::from(victim.as_str()), PutPayload::from(bytes)).await.unwrap();

    let (code, stdout, _) = run_with(&["verify"]);
    assert_eq!(code, 1, "{stdout}");
    let relative = victim.strip_prefix("ledgers/prod/").unwrap();
    let line = stdout.lines().find(|l| l.starts_with(relative)).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("INVALID: SHA-256 of the file differs"), "{line}");
    assert!(stdout.contains("2/3 segments valid, 1/3 segments INVALID"), "{stdout}");

    // The account key, given explicitly, never reaches output, even at debug level.
    let key = keytrail_test_support::AZURITE_ACCOUNT_KEY;
    let out = {
        let mut cmd = command(url, &["-vv", "verify"]);
        for (k, v) in &env {
            cmd.env(k, v);
        }
        cmd.env("AZURE_STORAGE_ACCOUNT_KEY", key).output().unwrap()
    };
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(stderr.contains("DEBUG"), "debug logging is on: {stderr}");
    for half in [&key[..44], &key[44..]] {
        assert!(!stdout.contains(half) && !stderr.contains(half), "the account key leaked");
    }

    // SQL sees every committed row of a ledger under a path prefix in its container.
    let (code, stdout, stderr) = run_with(&["ingest", "--stream", "app_events", "--batch-records", "100", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = run_with(&["sql", "--format", "csv", "SELECT count(*) AS n, count(DISTINCT raw) AS d FROM app_events"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "n,d\n300,300");
}

async fn futures_list(store: &impl ObjectStore, prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let mut names: Vec<String> =
        store.list(Some(&Path::from(prefix))).map_ok(|m| m.location.to_string()).try_collect().await.unwrap();
    names.sort();
    names
}
