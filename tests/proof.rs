//! Inclusion proofs: `prove` then `verify-proof` with nothing but the proof, a checkpoint
//! and a public key.

mod common;

use common::*;

const STREAM: &str = "app_audit";

struct Setup {
    ws: Workspace,
    key: std::path::PathBuf,
    public: std::path::PathBuf,
    kept: std::path::PathBuf,
}

fn setup(records: u64) -> Setup {
    let ws = Workspace::new();
    ingest(&ws, STREAM, "a.jsonl", &audit_records(0, records), 97).expect(0);
    let (key, public) = keygen(&ws);
    let kept = ws.path().join("kept");
    keytrail(&ws.ledger(), &["checkpoint", "--key", key.to_str().unwrap(), "--out", kept.to_str().unwrap()]).expect(0);
    Setup { ws, key, public, kept }
}

fn prove(s: &Setup, seq: u64) -> std::path::PathBuf {
    let out = s.ws.path().join(format!("proof-{seq}.json"));
    keytrail(&s.ws.ledger(), &["prove", "--stream", STREAM, "--seq", &seq.to_string(), "--out", out.to_str().unwrap()]).expect(0);
    out
}

fn verify_proof(s: &Setup, proof: &std::path::Path, checkpoint: &std::path::Path) -> Run {
    keytrail(
        &s.ws.ledger(),
        &["verify-proof", proof.to_str().unwrap(), "--checkpoint", checkpoint.to_str().unwrap(), "--public-key", s.public.to_str().unwrap()],
    )
}

#[test]
fn proofs_for_every_position_verify_against_the_checkpoint() {
    let s = setup(300);
    let checkpoint = s.kept.join(format!("{STREAM}.300.note"));
    for seq in [0, 1, 96, 97, 150, 255, 256, 299] {
        let proof = prove(&s, seq);
        let run = verify_proof(&s, &proof, &checkpoint).expect(0);
        assert!(run.stdout.starts_with(&format!("valid: {STREAM} seq {seq} is included")), "{}", run.stdout);
        // The record shown is the one the row hash covers.
        assert!(run.stdout.contains(&audit_records(seq, 1)[0]), "{}", run.stdout);
    }
}

#[test]
fn a_changed_leaf_fails() {
    let s = setup(50);
    let checkpoint = s.kept.join(format!("{STREAM}.50.note"));
    let proof_path = prove(&s, 20);
    let mut proof: serde_json::Value = serde_json::from_slice(&std::fs::read(&proof_path).unwrap()).unwrap();

    // Change the record's bytes inside the canonical form.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut canonical = b64.decode(proof["canonical"].as_str().unwrap()).unwrap();
    let at = canonical.windows(5).position(|w| w == b"/prod").unwrap();
    canonical[at + 1] = b'd';
    proof["canonical"] = b64.encode(&canonical).into();
    std::fs::write(&proof_path, serde_json::to_vec(&proof).unwrap()).unwrap();
    let run = verify_proof(&s, &proof_path, &checkpoint).expect(1);
    assert!(run.stdout.starts_with("INVALID: row_hash does not match"), "{}", run.stdout);

    // A forger who also recomputes the row and leaf hash is stopped by the audit path.
    std::fs::remove_file(&proof_path).unwrap();
    let fresh: serde_json::Value = serde_json::from_slice(&std::fs::read(prove(&s, 20)).unwrap()).unwrap();
    let mut forged = fresh.clone();
    forged["seq"] = 21.into();
    std::fs::write(&proof_path, serde_json::to_vec(&forged).unwrap()).unwrap();
    let run = verify_proof(&s, &proof_path, &checkpoint).expect(1);
    assert!(run.stdout.starts_with("INVALID: the canonical bytes are not those of seq 21"), "{}", run.stdout);

    let mut forged = fresh;
    let mut path = forged["audit_path"].as_array().unwrap().clone();
    path[0] = "00".repeat(32).into();
    forged["audit_path"] = path.into();
    std::fs::write(&proof_path, serde_json::to_vec(&forged).unwrap()).unwrap();
    let run = verify_proof(&s, &proof_path, &checkpoint).expect(1);
    assert!(run.stdout.contains("does not lead to the checkpoint's root"), "{}", run.stdout);
}

#[test]
fn a_proof_against_a_different_checkpoint_fails() {
    let s = setup(50);
    let proof = prove(&s, 10);
    ingest(&s.ws, STREAM, "b.jsonl", &audit_records(50, 10), 97).expect(0);
    keytrail(&s.ws.ledger(), &["checkpoint", "--key", s.key.to_str().unwrap(), "--out", s.kept.to_str().unwrap()]).expect(0);
    let newer = s.kept.join(format!("{STREAM}.60.note"));
    let run = verify_proof(&s, &proof, &newer).expect(1);
    assert!(run.stdout.contains("tree size 50 but the checkpoint has size 60"), "{}", run.stdout);

    // A checkpoint of the same size signed by another key is not trusted.
    let other = Workspace::new();
    ingest(&other, STREAM, "a.jsonl", &audit_records(0, 50), 97).expect(0);
    let (other_key, _) = keygen(&other);
    let other_kept = other.path().join("kept");
    keytrail(&other.ledger(), &["checkpoint", "--key", other_key.to_str().unwrap(), "--out", other_kept.to_str().unwrap()]).expect(0);
    let run = verify_proof(&s, &proof, &other_kept.join(format!("{STREAM}.50.note"))).expect(1);
    assert!(run.stdout.contains("not signed by key"), "{}", run.stdout);

    // The newer checkpoint proves the same record at the new size.
    let out = s.ws.path().join("p60.json");
    keytrail(&s.ws.ledger(), &["prove", "--stream", STREAM, "--seq", "10", "--out", out.to_str().unwrap()]).expect(0);
    verify_proof(&s, &out, &newer).expect(0);
}

#[test]
fn keygen_never_overwrites_and_protects_the_private_key() {
    let ws = Workspace::new();
    let (key, public) = keygen(&ws);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(std::fs::read_to_string(&public).unwrap().starts_with("test.keytrail+"));
    let before = std::fs::read(&key).unwrap();
    let run = keytrail(&ws.ledger(), &["keygen", "--out", key.to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("never overwritten"), "{}", run.stderr);
    assert_eq!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn prove_without_a_checkpoint_says_what_to_do() {
    let ws = Workspace::new();
    ingest(&ws, STREAM, "a.jsonl", &audit_records(0, 5), 97).expect(0);
    let run = keytrail(&ws.ledger(), &["prove", "--stream", STREAM, "--seq", "1"]).expect(2);
    assert!(run.stderr.contains("run `keytrail checkpoint --key FILE` first"), "{}", run.stderr);
}
