//! Damaged, missing or mistyped evidence never comes out as ok, valid, or a silent
//! overwrite: what an adversarial user tried on copies of the demo's ledger and pack.

mod common;

use common::{keytrail, Workspace};
use serde_json::Value;

/// The sample month's AKS audit log and Akeyless records, and its first `aks_audit` segment.
fn sample_with_audit() -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::new();
    common::collect_sample(&ws, &["AKSAudit", "AkeylessAudit_CL"], &["--source", "log-analytics"]);
    let segment = ws.ledger().join(&common::segments(&ws.ledger(), "aks_audit")[0]);
    (ws, segment)
}

fn verdict<'a>(report: &'a Value, id: &str) -> &'a Value {
    &report["controls"].as_array().unwrap().iter().find(|c| c["control"] == id).unwrap_or_else(|| panic!("no control {id}"))["verdict"]
}

/// A segment truncated to nothing: no query reads the rest as if it were all, no control
/// that reads it says ok, and the pack says which verdicts rest on the damage.
#[test]
fn a_truncated_segment_turns_every_verdict_that_reads_it_into_an_error() {
    let (ws, segment) = sample_with_audit();
    let ledger = ws.ledger();
    let before: Value = serde_json::from_str(&keytrail(&ledger, &["evaluate", "--period", "2026-11", "--format", "json"]).expect(0).stdout).unwrap();
    assert_eq!(verdict(&before, "human-k8s-secret-read")["status"], "alarm", "alice reads Secrets");
    std::fs::write(&segment, b"").unwrap();
    let name = segment.strip_prefix(&ledger).unwrap().to_str().unwrap().to_string();

    let run = keytrail(&ledger, &["sql", "SELECT count(*) AS n FROM aks_audit", "--format", "csv"]).expect(2);
    assert!(run.stderr.contains("the evidence this reads is damaged") && run.stderr.contains(&name) && run.stderr.contains("0 bytes"), "{}", run.stderr);
    // What does not read the damaged stream still answers.
    let run = keytrail(&ledger, &["sql", "SELECT count(*) AS n FROM akeyless_audit", "--format", "csv"]).expect(0);
    assert_ne!(run.stdout, "n\n0\n");

    let run = keytrail(&ledger, &["evaluate", "--period", "2026-11", "--format", "json"]).expect(4);
    let after: Value = serde_json::from_str(&run.stdout).unwrap();
    for id in ["human-k8s-secret-read", "auth-failure-burst", "collection-coverage", "silent-sources"] {
        let v = verdict(&after, id);
        assert_eq!(v["status"], "error", "{id}: {v}");
        assert!(v["detail"].as_str().unwrap().contains(&name), "{id}: {v}");
        assert_eq!(v["damaged_streams"], serde_json::json!(["aks_audit"]), "{id}");
    }
    assert_eq!(verdict(&after, "ledger-integrity")["status"], "alarm");
    assert_ne!(verdict(&after, "cross-env-secret-read")["status"], "error", "it reads only Akeyless records");

    let (key, _) = common::keygen(&ws);
    let out = ws.path().join("packs");
    let run = keytrail(&ledger, &["report", "--period", "2026-11", "--key", key.to_str().unwrap(), "--out", out.to_str().unwrap()]).expect(4);
    assert!(run.stdout.contains("ledger:      INVALID") && run.stdout.contains("rest on damaged evidence (error): human-k8s-secret-read"), "{}", run.stdout);
    let pack = out.join("keytrail-evidence-2026-11");
    let controls: Value = serde_json::from_slice(&std::fs::read(pack.join("controls.json")).unwrap()).unwrap();
    let human = controls["controls"].as_array().unwrap().iter().find(|c| c["control"]["id"] == "human-k8s-secret-read").unwrap();
    assert_eq!(human["verdict"]["status"], "error", "{human}");
    let html = std::fs::read_to_string(pack.join("index.html")).unwrap();
    assert!(html.contains("damaged evidence") && html.contains(&name), "the cover says what is damaged");
}

/// A committed segment that is not there at all is damage too, not fewer rows.
#[test]
fn a_missing_segment_is_an_error_never_fewer_rows() {
    let (ws, segment) = sample_with_audit();
    std::fs::remove_file(&segment).unwrap();
    let run = keytrail(&ws.ledger(), &["sql", "SELECT * FROM secret_access", "--format", "csv"]).expect(2);
    assert!(run.stderr.contains("missing: the file its manifest commits is not in the ledger"), "{}", run.stderr);
}

/// A small ledger of two streams with a checkpoint of each in `_checkpoints/`.
fn checkpointed() -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::new();
    common::ingest(&ws, "app_audit", "a.jsonl", &common::audit_records(0, 50), 25).expect(0);
    common::ingest(&ws, "other_audit", "b.jsonl", &common::audit_records(100, 10), 10).expect(0);
    let (key, public) = common::keygen(&ws);
    keytrail(&ws.ledger(), &["checkpoint", "--key", key.to_str().unwrap()]).expect(0);
    (ws, public)
}

#[test]
fn verify_says_invalid_when_the_manifests_are_gone_and_refuses_a_folder_that_is_no_ledger() {
    let (ws, public) = checkpointed();
    std::fs::remove_dir_all(ws.ledger().join("_manifests")).unwrap();
    let run = keytrail(&ws.ledger(), &["verify", "--public-key", public.to_str().unwrap()]).expect(1);
    let invalid = run.invalid_lines();
    assert_eq!(invalid.len(), 2, "one checkpoint per stream, each truncated:\n{}", run.stdout);
    assert!(invalid.iter().all(|l| l.starts_with("_checkpoints/") && l.contains("truncated")), "{}", run.stdout);
    assert!(run.stdout.contains("Ledger is INVALID."), "{}", run.stdout);

    // The integrity control says so too, from the ledger's own checkpoints.
    let run = keytrail(&ws.ledger(), &["evaluate", "--period", "2026-11", "--format", "json"]).expect(4);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let integrity = verdict(&report, "ledger-integrity");
    assert_eq!(integrity["status"], "alarm", "{integrity}");

    let empty = ws.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let run = keytrail(&empty, &["verify"]).expect(2);
    assert!(run.stderr.contains("no ledger at") && run.stderr.contains("no manifests, segments or checkpoints"), "{}", run.stderr);
    let wrong = ws.path().join("wrong");
    std::fs::create_dir_all(wrong.join("photos")).unwrap();
    std::fs::write(wrong.join("photos/cat.jpg"), b"jpeg").unwrap();
    let run = keytrail(&wrong, &["verify"]).expect(2);
    assert!(run.stderr.contains("no ledger at"), "{}", run.stderr);
}

#[test]
fn verify_reads_checkpoints_in_the_ledgers_layout_and_never_passes_on_none() {
    let (ws, public) = checkpointed();
    let public = public.to_str().unwrap();
    let layout = ws.ledger().join("_checkpoints");
    let run = keytrail(&ws.ledger(), &["verify", "--checkpoint", layout.to_str().unwrap(), "--public-key", public]).expect(0);
    assert!(run.stdout.contains("2/2 checkpoints valid") && run.stdout.contains("held against 2 given checkpoints"), "{}", run.stdout);

    let none = ws.path().join("no-notes");
    std::fs::create_dir_all(&none).unwrap();
    let run = keytrail(&ws.ledger(), &["verify", "--checkpoint", none.to_str().unwrap(), "--public-key", public]).expect(2);
    assert!(run.stderr.contains("holds no checkpoint of the streams verified"), "{}", run.stderr);
    let other = layout.join("other_audit");
    let run = keytrail(&ws.ledger(), &["verify", "--stream", "app_audit", "--checkpoint", other.to_str().unwrap(), "--public-key", public]).expect(2);
    assert!(run.stderr.contains("(app_audit)"), "{}", run.stderr);
}

#[test]
fn files_the_ledger_does_not_know_are_all_listed() {
    let (ws, _) = checkpointed();
    let ledger = ws.ledger();
    std::fs::write(ledger.join("stray-at-root.txt"), b"x").unwrap();
    std::fs::write(ledger.join("streams/stray-in-streams.txt"), b"x").unwrap();
    std::fs::create_dir_all(ledger.join("streams/fake_stream/month=2026-11")).unwrap();
    std::fs::write(ledger.join("streams/fake_stream/month=2026-11/x.parquet"), b"x").unwrap();
    std::fs::create_dir_all(ledger.join("backup")).unwrap();
    std::fs::write(ledger.join("backup/old.json"), b"{}").unwrap();
    let run = keytrail(&ledger, &["verify"]).expect(0);
    for path in ["stray-at-root.txt", "streams/stray-in-streams.txt", "streams/fake_stream/month=2026-11/x.parquet", "backup/old.json"] {
        assert!(run.verdict(path).starts_with("unreferenced"), "{path}:\n{}", run.stdout);
    }
    assert!(run.stdout.contains("4 unreferenced files"), "{}", run.stdout);
}
