//! The ledger on Azure Blob Storage, through the same code path, against a real Azurite.

mod common;

use std::path::Path;

use common::*;

#[tokio::test]
async fn ingest_verify_tamper_verify_on_azurite() {
    let azurite = keytrail_test_support::Azurite::start();
    azurite.create_container("evidence");
    let env = azurite.env();
    let url = Path::new("az://evidence/ledgers/prod");
    let ws = Workspace::new();
    let file = ws.write_lines("a.jsonl", audit_records(0, 300));

    let run = keytrail_env(url, &["ingest", "--stream", "app_audit", "--batch-records", "100", file.to_str().unwrap()], &env).expect(0);
    assert!(run.stdout.contains("300 records appended"), "{}", run.stdout);

    let run = keytrail_env(url, &["verify"], &env).expect(0);
    assert!(run.stdout.contains("3/3 segments valid"), "{}", run.stdout);

    // The objects are where the ledger URL says, under the container's path prefix.
    let store = azurite.store("evidence");
    let manifests = list_objects(&store, "ledgers/prod/_manifests/app_audit").await;
    assert_eq!(manifests.len(), 3, "{manifests:?}");

    // Put-if-absent holds on Azure: a second manifest 1 cannot be written.
    assert_create_refused(&store, &manifests[0]).await;

    // Tamper with a segment the way an attacker with write access to the container could.
    let segments = list_objects(&store, "ledgers/prod/streams/app_audit").await;
    let victim = &segments[1];
    flip_middle_byte(&store, victim).await;

    let run = keytrail_env(url, &["verify"], &env).expect(1);
    let relative = victim.strip_prefix("ledgers/prod/").unwrap();
    let line = run.stdout.lines().find(|l| l.starts_with(relative)).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(line.contains("INVALID: SHA-256 of the file differs"), "{line}");
    assert!(run.stdout.contains("2/3 segments valid, 1/3 segments INVALID"), "{}", run.stdout);

    // The account key, given explicitly, never reaches output, even at debug level.
    let key = keytrail_test_support::AZURITE_ACCOUNT_KEY;
    let mut with_key = env.clone();
    with_key.push(("AZURE_STORAGE_ACCOUNT_KEY", key.to_string()));
    let run = keytrail_env(url, &["-vv", "verify"], &with_key).expect(1);
    assert!(run.stderr.contains("DEBUG"), "debug logging is on: {}", run.stderr);
    for half in [&key[..44], &key[44..]] {
        assert!(!run.stdout.contains(half) && !run.stderr.contains(half), "the account key leaked");
    }

    // SQL sees every committed row of a ledger under a path prefix in its container.
    keytrail_env(url, &["ingest", "--stream", "app_events", "--batch-records", "100", file.to_str().unwrap()], &env).expect(0);
    let run = keytrail_env(url, &["sql", "--format", "csv", "SELECT count(*) AS n, count(DISTINCT raw) AS d FROM app_events"], &env).expect(0);
    assert_eq!(run.stdout.trim(), "n,d\n300,300");
}
