//! `keytrail ingest`: bad input is kept, crashes leave a valid ledger, concurrent writers
//! never fork or lose a commit.

mod common;

use std::collections::HashSet;
use std::process::Stdio;

use common::*;
use datafusion::arrow::array::{Array, BinaryArray, StringArray, UInt64Array};

const STREAM: &str = "app_audit";

/// Every `raw` value of a stream, in seq order, from the segment files.
fn raw_values(ws: &Workspace, stream: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for seg in segments(&ws.ledger(), stream) {
        for b in read_parquet(&ws.ledger().join(seg)) {
            let raw = b.column_by_name("raw").unwrap();
            if let Some(s) = raw.as_any().downcast_ref::<StringArray>() {
                out.extend((0..s.len()).map(|i| s.value(i).as_bytes().to_vec()));
            } else {
                let bin = raw.as_any().downcast_ref::<BinaryArray>().unwrap();
                out.extend((0..bin.len()).map(|i| bin.value(i).to_vec()));
            }
        }
    }
    out
}

fn string_column(ws: &Workspace, stream: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in segments(&ws.ledger(), stream) {
        for b in read_parquet(&ws.ledger().join(seg)) {
            let c = b.column_by_name(name).unwrap();
            let s = c.as_any().downcast_ref::<StringArray>().unwrap();
            out.extend((0..s.len()).map(|i| s.value(i).to_string()));
        }
    }
    out
}

#[test]
fn bad_input_is_counted_and_kept_byte_for_byte() {
    let ws = Workspace::new();
    let good = audit_records(0, 3);
    let huge = format!(r#"{{"timestamp":"2026-11-01T00:00:00Z","blob":"{}"}}"#, "a".repeat(10 << 20));
    let mut lines: Vec<Vec<u8>> = vec![
        good[0].clone().into_bytes(),
        br#"{"timestamp": "2026-11-01T00:00:01Z", "action": "#.to_vec(), // malformed JSON
        b"{\"timestamp\":\"2026-11-01T00:00:02Z\",\"user\":\"\xc3\x28\"}".to_vec(), // invalid UTF-8
        good[1].clone().into_bytes(),
        huge.clone().into_bytes(),                           // a 10 MB line
        br#"{"action":"list_items","status":200}"#.to_vec(), // no time field
        good[2].clone().into_bytes(),
    ];
    lines.insert(3, Vec::new()); // a blank line is not a record
    let file = ws.write_lines("bad.jsonl", &lines);
    let run = keytrail(&ws.ledger(), &["ingest", "--stream", STREAM, file.to_str().unwrap()]).expect(5);
    assert!(run.stdout.contains("3 records appended to app_audit (seq 0..=2), 4 rejected"), "{}", run.stdout);
    assert!(run.stdout.contains("kept in app_audit__rejected"), "{}", run.stdout);

    assert_eq!(raw_values(&ws, STREAM), good.iter().map(|g| g.as_bytes().to_vec()).collect::<Vec<_>>());
    let rejected = format!("{STREAM}__rejected");
    let kept = raw_values(&ws, &rejected);
    assert_eq!(kept, vec![lines[1].clone(), lines[2].clone(), lines[5].clone(), lines[6].clone()]);
    let reasons = string_column(&ws, &rejected, "reason");
    assert!(reasons[0].starts_with("not a JSON object"), "{reasons:?}");
    assert!(reasons[1].starts_with("not valid UTF-8"), "{reasons:?}");
    assert!(reasons[2].contains("over the 1048576-byte limit"), "{reasons:?}");
    assert!(reasons[3].starts_with("no time field"), "{reasons:?}");
    let origins = string_column(&ws, &rejected, "origin");
    let file_name = file.display().to_string();
    assert_eq!(origins, [2, 3, 6, 7].map(|l| format!("{file_name}:{l}")));

    keytrail(&ws.ledger(), &["verify"]).expect(0);

    // A second ingest of the file is a new run (its cursor names the run), so its records
    // and its rejects are appended again, both chained.
    keytrail(&ws.ledger(), &["ingest", "--stream", STREAM, file.to_str().unwrap()]).expect(5);
    assert_eq!(raw_values(&ws, &rejected).len(), 8);
    assert_eq!(raw_values(&ws, STREAM).len(), 6);
}

#[test]
fn a_missing_file_and_a_bad_stream_name_are_usage_errors() {
    let ws = Workspace::new();
    let run = keytrail(&ws.ledger(), &["ingest", "--stream", STREAM, "/nonexistent/x.jsonl"]).expect(2);
    assert!(run.stderr.contains("reading /nonexistent/x.jsonl"), "{}", run.stderr);
    let file = ws.write_lines("a.jsonl", audit_records(0, 1));
    let run = keytrail(&ws.ledger(), &["ingest", "--stream", "Bad-Name", file.to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("invalid stream name \"Bad-Name\""), "{}", run.stderr);
    // A collector's typed stream does not take generic records (its views would break).
    for typed in ["akeyless_audit", "eso_events", "aks_audit"] {
        let run = keytrail(&ws.ledger(), &["ingest", "--stream", typed, file.to_str().unwrap()]).expect(2);
        assert!(run.stderr.contains(&format!("{typed} is a stream keytrail's collectors write")), "{}", run.stderr);
    }
    assert!(!ws.ledger().join("_manifests").exists(), "nothing was written");
    let run = keytrail(&ws.path().join("nothing-here"), &["verify"]).expect(2);
    assert!(run.stderr.contains("no ledger at"), "{}", run.stderr);
    keytrail(&ws.ledger(), &["ingest", "--stream", STREAM, file.to_str().unwrap()]).expect(0);
    let run = keytrail(&ws.ledger(), &["verify", "--stream", "nope"]).expect(2);
    assert!(run.stderr.contains("stream nope does not exist"), "{}", run.stderr);
}

#[test]
fn a_writer_killed_before_its_manifest_leaves_a_valid_ledger() {
    let ws = Workspace::new();
    ingest(&ws, STREAM, "first.jsonl", &audit_records(0, 100), 1000).expect(0);

    let file = ws.write_lines("second.jsonl", audit_records(100, 50));
    let crashed =
        keytrail_env(&ws.ledger(), &["ingest", "--stream", STREAM, file.to_str().unwrap()], &[("KEYTRAIL_FAILPOINT", "before-manifest-commit".into())]);
    assert_eq!(crashed.code, 86, "the failpoint exits the process: {}", crashed.stderr);
    assert_eq!(manifest_paths(&ws.ledger(), STREAM).len(), 1, "no manifest for the crashed commit");

    let run = keytrail(&ws.ledger(), &["verify"]).expect(0);
    assert!(run.stdout.contains("1 unreferenced files"), "{}", run.stdout);
    assert!(run.stdout.contains("100 rows"), "{}", run.stdout);

    keytrail(&ws.ledger(), &["ingest", "--stream", STREAM, file.to_str().unwrap()]).expect(0);
    let ms = manifests(&ws.ledger(), STREAM);
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[1]["first_seq"], 100);
    assert_eq!(ms[1]["last_seq"], 149);
    keytrail(&ws.ledger(), &["verify"]).expect(0);
    let expected: Vec<Vec<u8>> = audit_records(0, 150).into_iter().map(String::into_bytes).collect();
    assert_eq!(raw_values(&ws, STREAM), expected);
}

#[test]
fn concurrent_writers_commit_every_batch_exactly_once() {
    let ws = Workspace::new();
    let writers = 3;
    let per_writer = 400u64;
    let children: Vec<_> = (0..writers)
        .map(|w| {
            let file = ws.write_lines(&format!("w{w}.jsonl"), audit_records(w * per_writer, per_writer));
            command(ws.ledger().to_str().unwrap(), &["ingest", "--stream", STREAM, "--batch-records", "20", file.to_str().unwrap()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let ms = manifests(&ws.ledger(), STREAM);
    let numbers: Vec<u64> = ms.iter().map(|m| m["number"].as_u64().unwrap()).collect();
    let expected_commits = (writers * per_writer / 20) as usize;
    assert_eq!(numbers, (1..=expected_commits as u64).collect::<Vec<_>>(), "manifest numbers 1..=N, no gaps, no forks");

    let raws = raw_values(&ws, STREAM);
    assert_eq!(raws.len() as u64, writers * per_writer, "nothing lost or duplicated");
    let distinct: HashSet<&Vec<u8>> = raws.iter().collect();
    assert_eq!(distinct.len(), raws.len());
    let all: HashSet<Vec<u8>> = audit_records(0, writers * per_writer).into_iter().map(String::into_bytes).collect();
    assert_eq!(distinct, all.iter().collect());

    let mut seqs = Vec::new();
    for seg in segments(&ws.ledger(), STREAM) {
        for b in read_parquet(&ws.ledger().join(seg)) {
            let s = b.column_by_name("seq").unwrap().as_any().downcast_ref::<UInt64Array>().unwrap().clone();
            seqs.extend(s.values().iter().copied());
        }
    }
    assert_eq!(seqs, (0..writers * per_writer).collect::<Vec<_>>());
    keytrail(&ws.ledger(), &["verify"]).expect(0);
}

#[test]
fn stdin_is_an_input() {
    let ws = Workspace::new();
    let mut child = command(ws.ledger().to_str().unwrap(), &["ingest", "--stream", STREAM, "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for r in audit_records(0, 10) {
            writeln!(stdin, "{r}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("stdin: 10 records appended"));
}
