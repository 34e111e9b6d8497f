//! Damaged, missing or mistyped evidence never comes out as ok, valid, or a silent
//! overwrite: what an adversarial user tried on copies of the demo's ledger and pack.

mod common;

use common::{Workspace, keytrail};
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

/// A period is a month written YYYY-MM, for every command; anything else is a usage error
/// naming it, never a year 26 or a silent January.
#[test]
fn periods_are_parsed_strictly_by_every_command() {
    let ws = Workspace::new();
    for bad in ["26-11", "0000-01", "2026-1", "2026-13"] {
        for args in [
            vec!["evaluate", "--period", bad],
            vec!["sql", "SELECT 1", "--period", bad],
            vec!["report", "--period", bad, "--key", "k"],
            vec!["run", "--config", "c.toml", "--period", bad],
        ] {
            let run = keytrail(&ws.ledger(), &args).expect(2);
            assert!(run.stderr.contains(&format!("'{bad}' is not a month: write YYYY-MM")), "{args:?}: {}", run.stderr);
        }
    }
}

/// A pack once written is evidence: a second one of the period goes beside it, `--replace`
/// replaces only what the pack wrote, and nothing else in the folder is touched.
#[test]
fn a_second_pack_of_a_period_never_replaces_the_first_unasked() {
    let ws = Workspace::new();
    common::ingest(&ws, "app_audit", "a.jsonl", &common::audit_records(0, 20), 20).expect(0);
    let (key, public) = common::keygen(&ws);
    let out = ws.path().join("packs");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    let report = |extra: &[&str]| {
        let mut args = vec!["report", "--period", "2026-11", "--key", key.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        keytrail(&ws.ledger(), &args)
    };
    report(&[]).expect(0);
    let first = std::fs::read(out.join("keytrail-evidence-2026-11/manifest.json")).unwrap();
    let run = report(&[]).expect(0);
    assert!(run.stdout.contains("keytrail-evidence-2026-11.2"), "{}", run.stdout);
    assert_eq!(std::fs::read(out.join("keytrail-evidence-2026-11/manifest.json")).unwrap(), first, "the first pack is untouched");
    assert!(out.join("keytrail-evidence-2026-11.2.tar.gz").is_file());
    keytrail(&ws.ledger(), &["verify-pack", out.join("keytrail-evidence-2026-11.2.tar.gz").to_str().unwrap(), "--public-key", public.to_str().unwrap()])
        .expect(0);

    // --replace refuses a folder with files its pack did not write, and deletes nothing.
    std::fs::write(out.join("keytrail-evidence-2026-11/auditor-notes.txt"), b"keep").unwrap();
    let run = report(&["--replace"]).expect(2);
    assert!(run.stderr.contains("auditor-notes.txt") && run.stderr.contains("is not replaced"), "{}", run.stderr);
    assert_eq!(std::fs::read(out.join("keytrail-evidence-2026-11/manifest.json")).unwrap(), first);
    std::fs::remove_file(out.join("keytrail-evidence-2026-11/auditor-notes.txt")).unwrap();
    report(&["--replace"]).expect(0);
    assert_ne!(std::fs::read(out.join("keytrail-evidence-2026-11/manifest.json")).unwrap(), first, "replaced when asked");
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine", "files beside the packs are never touched");
    assert!(!out.join("keytrail-evidence-2026-11.3").exists());
}

/// `sql --out` creates a new file: never over an existing one unasked, never in the ledger,
/// in the format its extension names, streamed within the query's memory.
#[test]
fn sql_out_replaces_nothing_and_follows_the_extension() {
    let (ws, _) = sample_with_audit();
    let ledger = ws.ledger();
    let rows = keytrail(&ledger, &["sql", "SELECT count(*) AS n FROM aks_audit", "--format", "csv"]).expect(0).stdout;
    let n: usize = rows.lines().nth(1).unwrap().parse().unwrap();

    let csv = ws.path().join("audit.csv");
    std::fs::write(&csv, b"precious").unwrap();
    let query = "SELECT * FROM aks_audit";
    let run = keytrail(&ledger, &["sql", query, "--out", csv.to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("exists: give --force"), "{}", run.stderr);
    assert_eq!(std::fs::read(&csv).unwrap(), b"precious");
    // A result larger than the query memory, streamed to CSV and Parquet.
    keytrail(&ledger, &["sql", query, "--out", csv.to_str().unwrap(), "--force", "--query-memory-mb", "1"]).expect(0);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("seq,event_time,ingest_time,raw,"), "the extension chose CSV");
    assert!(text.len() > 1 << 20, "larger than the 1 MiB pool: {}", text.len());
    let parquet = ws.path().join("audit.parquet");
    keytrail(&ledger, &["sql", query, "--out", parquet.to_str().unwrap(), "--query-memory-mb", "1"]).expect(0);
    let read: usize = common::read_parquet(&parquet).iter().map(|b| b.num_rows()).sum();
    assert_eq!(read, n);

    let manifest = ledger.join(&common::manifest_paths(&ledger, "aks_audit")[0]);
    let before = std::fs::read(&manifest).unwrap();
    let run = keytrail(&ledger, &["sql", "SELECT 1", "--out", manifest.to_str().unwrap(), "--force"]).expect(2);
    assert!(run.stderr.contains("is inside the ledger"), "{}", run.stderr);
    assert_eq!(std::fs::read(&manifest).unwrap(), before);
    let run = keytrail(&ledger, &["sql", "SELECT 1", "--out", ledger.join("new.csv").to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("is inside the ledger"), "{}", run.stderr);
}

#[test]
fn sql_prints_empty_results_with_their_header_and_runs_piped_statements_in_order() {
    let ws = Workspace::new();
    common::ingest(&ws, "app_audit", "a.jsonl", &common::audit_records(0, 5), 5).expect(0);
    let run = keytrail(&ws.ledger(), &["sql", "SELECT seq, raw FROM app_audit WHERE seq > 100"]).expect(0);
    assert!(run.stdout.contains("| seq | raw |") && run.stdout.contains("0 rows"), "{}", run.stdout);
    let run = keytrail(&ws.ledger(), &["sql", "SELECT seq FROM app_audit WHERE seq > 100", "--format", "csv"]).expect(0);
    assert_eq!(run.stdout, "seq\n");

    let piped = |format: &str| {
        let mut child = common::command(ws.ledger().to_str().unwrap(), &["sql", "-", "--format", format])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"SELECT count(*) AS first FROM app_audit;\nSELECT 'two' AS second;\n").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = piped("table");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.find("first").unwrap() < text.find("second").unwrap() && text.contains("| 5 "), "{text}");
    let out = piped("csv");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 statements given"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The smaller things an adversarial user tried: each says what is true, and nothing is
/// left half-written.
#[test]
fn small_things_say_what_is_true() {
    let ws = Workspace::new();
    let ledger = ws.ledger();
    // Progress is `-v`'s (info), as the help says; the default shows warnings and errors.
    let run = common::ingest(&ws, "app_audit", "a.jsonl", &common::audit_records(0, 5), 5).expect(0);
    assert_eq!(run.stderr, "", "no INFO without -v");
    let file = ws.write_lines("b.jsonl", common::audit_records(5, 5));
    let run = keytrail(&ledger, &["-v", "ingest", "--stream", "app_audit", file.to_str().unwrap()]).expect(0);
    assert!(run.stderr.contains("committed"), "{}", run.stderr);

    // keygen checks both paths before writing either.
    let key = ws.path().join("k");
    std::fs::write(ws.path().join("k.pub"), b"mine").unwrap();
    let run = keytrail(&ledger, &["keygen", "--out", key.to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("k.pub"), "{}", run.stderr);
    assert!(!key.exists(), "no private key without its public key");
    assert_eq!(std::fs::read(ws.path().join("k.pub")).unwrap(), b"mine");

    let run = keytrail(&ledger, &["prove", "--stream", "app_audit", "--seq", "10"]).expect(2);
    assert!(run.stderr.contains("app_audit has 10 rows, so no seq 10"), "{}", run.stderr);

    // `controls` names frameworks as `--framework` takes them.
    let listed = keytrail(&ledger, &["controls"]).expect(0).stdout;
    assert!(!listed.contains("nist_800_53") && !listed.contains("iso27001:"), "{listed}");
    for name in ["soc2", "hipaa", "fedramp-moderate", "iso27001-2022"] {
        assert!(listed.contains(&format!("{name}: ")), "{name} in {listed}");
        keytrail(&ledger, &["controls", "--framework", name]).expect(0);
    }

    let run = keytrail(&ledger, &["sql", "\\d nosuch"]).expect(2);
    assert!(run.stderr.contains("no table or view named nosuch"), "{}", run.stderr);
    let run = keytrail(&ledger, &["sql", "\\d app_audit", "--format", "csv"]).expect(0);
    assert!(run.stdout.lines().any(|l| l.starts_with("event_time,")), "{}", run.stdout);

    // A cause is said once, not once per layer that wraps it.
    let run = keytrail(&ledger, &["sql", "SELECT value FROM generate_series(1, 3000000) ORDER BY value DESC", "--query-memory-mb", "1"]).expect(2);
    assert_eq!(run.stderr.matches("cannot spill").count(), 1, "{}", run.stderr);

    // A reader that stops early (`| head`) ends the output quietly, never with a panic.
    let mut child = common::command(ledger.to_str().unwrap(), &["sql", "SELECT value FROM generate_series(1, 5000000)", "--format", "ndjson"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
    assert_eq!(first, "{\"value\":1}\n");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// Every command that writes a file writes a new one: a proof, a checkpoint copy, the demo's
/// and the emulator's files never land on a file someone else made.
#[test]
fn no_command_replaces_a_file_it_did_not_make() {
    let ws = Workspace::new();
    let ledger = ws.ledger();
    common::ingest(&ws, "app_audit", "a.jsonl", &common::audit_records(0, 5), 5).expect(0);
    let (key, _) = common::keygen(&ws);

    let proof = ws.path().join("proof.json");
    std::fs::write(&proof, b"mine").unwrap();
    keytrail(&ledger, &["checkpoint", "--key", key.to_str().unwrap()]).expect(0);
    let run = keytrail(&ledger, &["prove", "--stream", "app_audit", "--seq", "1", "--out", proof.to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("proof.json exists"), "{}", run.stderr);
    assert_eq!(std::fs::read(&proof).unwrap(), b"mine");

    let copies = ws.path().join("copies");
    keytrail(&ledger, &["checkpoint", "--key", key.to_str().unwrap(), "--out", copies.to_str().unwrap()]).expect(0);
    // The same note again is no change.
    keytrail(&ledger, &["checkpoint", "--key", key.to_str().unwrap(), "--out", copies.to_str().unwrap()]).expect(0);
    let note = copies.join("app_audit.5.note");
    std::fs::write(&note, b"another note").unwrap();
    let run = keytrail(&ledger, &["checkpoint", "--key", key.to_str().unwrap(), "--out", copies.to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("app_audit.5.note exists"), "{}", run.stderr);
    assert_eq!(std::fs::read(&note).unwrap(), b"another note");

    let mine = ws.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("keytrail.toml"), b"ledger = \"/data\"\n").unwrap();
    let run = keytrail(&ledger, &["demo", "--out", mine.to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("holds no earlier demo"), "{}", run.stderr);
    let run = keytrail(&ledger, &["emulator", "--out", mine.to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("was not written by the emulator"), "{}", run.stderr);
    assert_eq!(std::fs::read(mine.join("keytrail.toml")).unwrap(), b"ledger = \"/data\"\n");
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 1);
}
