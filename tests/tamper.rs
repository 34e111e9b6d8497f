//! The tamper suite: every kind of change to a ledger is caught by `keytrail verify`, and
//! the report names the object that changed.

mod common;

use std::sync::Arc;

use common::*;
use datafusion::arrow::array::{Array, ArrayRef, FixedSizeBinaryArray, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::compute::{concat_batches, take};

const STREAM: &str = "app_audit";

/// A ledger of 500 records in 5 commits of 100 (one segment each).
fn ledger_of_five_commits() -> Workspace {
    let ws = Workspace::new();
    ingest(&ws, STREAM, "in.jsonl", &audit_records(0, 500), 100).expect(0);
    assert_eq!(manifest_paths(&ws.ledger(), STREAM).len(), 5);
    ws
}

fn verify(ws: &Workspace) -> Run {
    keytrail(&ws.ledger(), &["verify"])
}

/// Rewrites one segment (as valid Parquet) with its rows reordered/filtered by `indices`.
fn rewrite_rows(ws: &Workspace, segment: &str, indices: &[u64]) {
    let path = ws.ledger().join(segment);
    let batches = read_parquet(&path);
    let all = concat_batches(&batches[0].schema(), &batches).unwrap();
    let idx = UInt64Array::from(indices.to_vec());
    let columns: Vec<ArrayRef> = all.columns().iter().map(|c| take(c, &idx, None).unwrap()).collect();
    write_parquet(&path, &[RecordBatch::try_new(all.schema(), columns).unwrap()]);
}

fn assert_only_invalid(run: &Run, path: &str, why: &str) {
    assert_eq!(run.code, 1, "{}", run.stdout);
    let verdict = run.verdict(path);
    assert!(verdict.starts_with("INVALID") && verdict.contains(why), "{path}: {verdict}\n{}", run.stdout);
    assert_eq!(run.invalid_lines().len(), 1, "only {path} should be INVALID:\n{}", run.stdout);
}

#[test]
fn an_untouched_ledger_verifies() {
    let ws = ledger_of_five_commits();
    let run = verify(&ws).expect(0);
    assert!(run.stdout.contains("5/5 segments valid"), "{}", run.stdout);
    assert!(run.stdout.contains("5/5 manifests valid"), "{}", run.stdout);
    assert!(run.stdout.contains("500 rows"), "{}", run.stdout);
}

#[test]
fn a_flipped_byte_in_a_segment() {
    let ws = ledger_of_five_commits();
    let seg = &segments(&ws.ledger(), STREAM)[2];
    let path = ws.ledger().join(seg);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let run = verify(&ws);
    assert_only_invalid(&run, seg, "SHA-256 of the file differs");
    assert!(run.stdout.contains("4/5 segments valid, 1/5 segments INVALID"), "{}", run.stdout);
}

#[test]
fn a_deleted_row() {
    let ws = ledger_of_five_commits();
    let seg = &segments(&ws.ledger(), STREAM)[1];
    let keep: Vec<u64> = (0..100).filter(|&i| i != 40).collect();
    rewrite_rows(&ws, seg, &keep);
    let run = verify(&ws);
    assert_only_invalid(&run, seg, "rows removed, inserted or reordered");
    assert!(run.verdict(seg).contains("holds 99 rows"), "{}", run.stdout);
}

#[test]
fn an_inserted_row() {
    let ws = ledger_of_five_commits();
    let seg = &segments(&ws.ledger(), STREAM)[1];
    let mut with_copy: Vec<u64> = (0..100).collect();
    with_copy.insert(50, 10);
    rewrite_rows(&ws, seg, &with_copy);
    let run = verify(&ws);
    assert_only_invalid(&run, seg, "rows removed, inserted or reordered");
    assert!(run.verdict(seg).contains("holds 101 rows"), "{}", run.stdout);
}

#[test]
fn two_swapped_rows() {
    let ws = ledger_of_five_commits();
    let seg = &segments(&ws.ledger(), STREAM)[3];
    let mut order: Vec<u64> = (0..100).collect();
    order.swap(20, 21);
    rewrite_rows(&ws, seg, &order);
    let run = verify(&ws);
    assert_only_invalid(&run, seg, "rows removed, inserted or reordered");
}

#[test]
fn a_modified_row() {
    let ws = ledger_of_five_commits();
    let seg = &segments(&ws.ledger(), STREAM)[0];
    let path = ws.ledger().join(seg);
    let batches = read_parquet(&path);
    let all = concat_batches(&batches[0].schema(), &batches).unwrap();
    let raw = all.column_by_name("raw").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    let changed: StringArray =
        (0..raw.len()).map(|i| Some(if i == 7 { raw.value(i).replace("get_secret_value", "list_items") } else { raw.value(i).to_string() })).collect();
    let mut columns = all.columns().to_vec();
    columns[all.schema().index_of("raw").unwrap()] = Arc::new(changed);
    write_parquet(&path, &[RecordBatch::try_new(all.schema(), columns).unwrap()]);
    let run = verify(&ws);
    assert_only_invalid(&run, seg, "seq 7: row_hash does not match the row's contents");
}

#[test]
fn a_deleted_segment() {
    let ws = ledger_of_five_commits();
    let seg = &segments(&ws.ledger(), STREAM)[2];
    std::fs::remove_file(ws.ledger().join(seg)).unwrap();
    let run = verify(&ws);
    assert_only_invalid(&run, seg, "missing (segment removed)");
}

#[test]
fn a_moved_segment() {
    let ws = ledger_of_five_commits();
    let seg = &segments(&ws.ledger(), STREAM)[2];
    let to = seg.replace("month=2026-11", "month=2026-12");
    std::fs::create_dir_all(ws.ledger().join(&to).parent().unwrap()).unwrap();
    std::fs::rename(ws.ledger().join(seg), ws.ledger().join(&to)).unwrap();
    let run = verify(&ws);
    assert_only_invalid(&run, seg, &format!("moved to {to}"));
    assert!(run.verdict(&to).starts_with("unreferenced"), "{}", run.stdout);
}

#[test]
fn a_deleted_manifest() {
    let ws = ledger_of_five_commits();
    let manifest = &manifest_paths(&ws.ledger(), STREAM)[2];
    let orphan = &segments(&ws.ledger(), STREAM)[2];
    std::fs::remove_file(ws.ledger().join(manifest)).unwrap();
    let run = verify(&ws);
    assert_only_invalid(&run, manifest, "missing (manifest removed)");
    assert!(run.verdict(orphan).starts_with("unreferenced"), "{}", run.stdout);
}

#[test]
fn a_replaced_manifest() {
    let ws = ledger_of_five_commits();
    let manifest = &manifest_paths(&ws.ledger(), STREAM)[1];
    let path = ws.ledger().join(manifest);
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["committed_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let run = verify(&ws);
    assert_only_invalid(&run, manifest, "SHA-256 differs from the one manifest 3 records");
}

/// A forger rewrites a segment with recomputed row hashes and Merkle roots and updates
/// its manifest to match: everything about that commit is self-consistent, and only the
/// next manifest's record of it gives the forgery away.
#[test]
fn a_self_consistent_forged_segment_is_caught_by_the_manifest_chain() {
    use keytrail_ledger::merkle::Frontier;
    use keytrail_ledger::record::{RowView, row_hash};

    let ws = ledger_of_five_commits();
    let manifest_rel = &manifest_paths(&ws.ledger(), STREAM)[1];
    let manifest_path = ws.ledger().join(manifest_rel);
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let seg_rel = manifest["segments"][0]["path"].as_str().unwrap().to_string();
    let seg_path = ws.ledger().join(&seg_rel);

    let batches = read_parquet(&seg_path);
    let all = concat_batches(&batches[0].schema(), &batches).unwrap();
    let col = |n: &str| all.column_by_name(n).unwrap().clone();
    let seq = col("seq");
    let seq = seq.as_any().downcast_ref::<UInt64Array>().unwrap();
    let raw = col("raw");
    let raw = raw.as_any().downcast_ref::<StringArray>().unwrap();
    let ts = |n: &str| {
        let c = col(n);
        let a = c.as_any().downcast_ref::<datafusion::arrow::array::TimestampMicrosecondArray>().unwrap();
        (0..a.len()).map(|i| a.value(i)).collect::<Vec<i64>>()
    };
    let (event_time, ingest_time) = (ts("event_time"), ts("ingest_time"));
    let prev0 = col("prev_hash");
    let mut prev: [u8; 32] = prev0.as_any().downcast_ref::<FixedSizeBinaryArray>().unwrap().value(0).try_into().unwrap();

    // Re-chain every row after changing one, exactly as docs/LEDGER.md specifies.
    let mut new_raw = Vec::new();
    let (mut prevs, mut hashes) = (Vec::new(), Vec::new());
    let first: serde_json::Value = serde_json::from_slice(&std::fs::read(ws.ledger().join(&manifest_paths(&ws.ledger(), STREAM)[0])).unwrap()).unwrap();
    let nodes = first["tree_frontier"].as_array().unwrap().iter().map(|h| hex_decode(h.as_str().unwrap())).collect();
    let mut frontier = Frontier::from_parts(first["tree_size"].as_u64().unwrap(), nodes).unwrap();
    let mut commit_tree = Frontier::new();
    let mut scratch = Vec::new();
    for i in 0..all.num_rows() {
        let r = if i == 5 { raw.value(i).replace("/prod/", "/dev/") } else { raw.value(i).to_string() };
        let view = RowView { seq: seq.value(i), event_time: event_time[i], ingest_time: ingest_time[i], raw: r.as_bytes(), names: &[], typed: &[] };
        let h = row_hash(&prev, &view, &mut scratch);
        prevs.push(prev);
        hashes.push(h);
        frontier.push_row(&h);
        commit_tree.push_row(&h);
        prev = h;
        new_raw.push(r);
    }
    let mut columns = all.columns().to_vec();
    let s = all.schema();
    columns[s.index_of("raw").unwrap()] = Arc::new(StringArray::from(new_raw));
    columns[s.index_of("prev_hash").unwrap()] = Arc::new(FixedSizeBinaryArray::try_from_iter(prevs.iter()).unwrap());
    columns[s.index_of("row_hash").unwrap()] = Arc::new(FixedSizeBinaryArray::try_from_iter(hashes.iter()).unwrap());
    write_parquet(&seg_path, &[RecordBatch::try_new(s, columns).unwrap()]);

    let bytes = std::fs::read(&seg_path).unwrap();
    manifest["segments"][0]["sha256"] = sha256_hex(&bytes).into();
    manifest["segments"][0]["bytes"] = bytes.len().into();
    manifest["merkle_root"] = hex(commit_tree.root()).into();
    manifest["last_row_hash"] = hex(prev).into();
    manifest["tree_root"] = hex(frontier.root()).into();
    manifest["tree_frontier"] = frontier.nodes().iter().map(|h| hex(*h)).collect::<Vec<_>>().into();
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();

    let run = verify(&ws);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.verdict(&seg_rel), "valid", "the forged segment matches its forged manifest");
    let verdict = run.verdict(manifest_rel);
    assert!(verdict.contains("SHA-256 differs from the one manifest 3 records"), "{verdict}");
    assert!(verdict.contains("its last row or size differs"), "{verdict}");
    assert_eq!(run.invalid_lines().len(), 1, "{}", run.stdout);
}

/// Removing the newest commit leaves a shorter ledger that is valid on its own: the
/// ledger's own newest checkpoint shows that data went missing, and when that is removed
/// too, only a checkpoint kept elsewhere does.
#[test]
fn a_truncated_tail_is_caught_only_against_a_checkpoint() {
    let ws = ledger_of_five_commits();
    let (key, public) = keygen(&ws);
    let kept = ws.path().join("kept");
    keytrail(&ws.ledger(), &["checkpoint", "--key", key.to_str().unwrap(), "--out", kept.to_str().unwrap()]).expect(0);
    let with_checkpoint = ["verify", "--checkpoint", kept.to_str().unwrap(), "--public-key", public.to_str().unwrap()];
    let run = keytrail(&ws.ledger(), &with_checkpoint).expect(0);
    assert!(run.stdout.contains("1/1 checkpoints valid"), "{}", run.stdout);
    let run = verify(&ws).expect(0);
    assert!(run.stdout.contains("held against the ledger's newest checkpoint of 1 streams, signatures not checked"), "{}", run.stdout);

    let last_manifest = manifest_paths(&ws.ledger(), STREAM).pop().unwrap();
    let last_segment = segments(&ws.ledger(), STREAM).pop().unwrap();
    std::fs::remove_file(ws.ledger().join(&last_manifest)).unwrap();
    std::fs::remove_file(ws.ledger().join(&last_segment)).unwrap();

    let run = verify(&ws).expect(1);
    let own = run.invalid_lines();
    assert!(own.len() == 1 && own[0].starts_with("_checkpoints/app_audit/") && own[0].contains("truncated"), "{}", run.stdout);
    let run = keytrail(&ws.ledger(), &["verify", "--public-key", public.to_str().unwrap()]).expect(1);
    assert!(run.stdout.contains("signatures checked") && run.stdout.contains("truncated"), "{}", run.stdout);

    std::fs::remove_dir_all(ws.ledger().join("_checkpoints")).unwrap();
    let run = verify(&ws).expect(0);
    assert!(run.stdout.contains("400 rows"), "without a checkpoint the shorter ledger is consistent:\n{}", run.stdout);
    assert!(run.stdout.contains("no checkpoint in the ledger or given"), "{}", run.stdout);

    let run = keytrail(&ws.ledger(), &with_checkpoint).expect(1);
    let note = kept.join(format!("{STREAM}.500.note"));
    let verdict = run.verdict(note.to_str().unwrap());
    assert!(verdict.contains("covers 500 rows but the ledger holds 400"), "{verdict}");
    assert!(verdict.contains("truncated"), "{verdict}");
}

#[test]
fn a_checkpoint_with_a_bad_signature_is_invalid() {
    let ws = ledger_of_five_commits();
    let (key, public) = keygen(&ws);
    let kept = ws.path().join("kept");
    keytrail(&ws.ledger(), &["checkpoint", "--key", key.to_str().unwrap(), "--out", kept.to_str().unwrap()]).expect(0);
    let note = kept.join(format!("{STREAM}.500.note"));
    let text = std::fs::read_to_string(&note).unwrap().replacen("\n500\n", "\n499\n", 1);
    std::fs::write(&note, text).unwrap();
    let run = keytrail(&ws.ledger(), &["verify", "--checkpoint", note.to_str().unwrap(), "--public-key", public.to_str().unwrap()]);
    assert_only_invalid(&run, note.to_str().unwrap(), "signature by test.keytrail is INVALID");
}

#[test]
fn json_report_lists_every_object() {
    let ws = ledger_of_five_commits();
    let seg = &segments(&ws.ledger(), STREAM)[4];
    std::fs::remove_file(ws.ledger().join(seg)).unwrap();
    let run = keytrail(&ws.ledger(), &["verify", "--format", "json"]).expect(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let findings = report["streams"][0]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 10);
    let bad: Vec<_> = findings.iter().filter(|f| !f["problems"].as_array().unwrap().is_empty()).collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["path"], seg.as_str());
    assert_eq!(bad[0]["kind"], "segment");
}

fn hex(h: [u8; 32]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> [u8; 32] {
    let v: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap()).collect();
    v.try_into().unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(sha2::Sha256::digest(bytes).into())
}

#[test]
fn a_manifest_with_unreadable_columns_is_reported_not_fatal() {
    let ws = ledger_of_five_commits();
    let manifest = &manifest_paths(&ws.ledger(), STREAM)[1];
    let seg = &segments(&ws.ledger(), STREAM)[1];
    let path = ws.ledger().join(manifest);
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["columns"] = serde_json::json!([{"name": "seq", "type": "int"}]);
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let run = verify(&ws).expect(1);
    assert!(run.verdict(seg).contains("its manifest's columns are invalid"), "{}", run.stdout);
    assert!(run.verdict(manifest).contains("differs from the one manifest 3 records"), "{}", run.stdout);
    assert_eq!(run.verdict(&segments(&ws.ledger(), STREAM)[2]), "valid", "later segments are still checked");
}
