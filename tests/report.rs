//! `keytrail report` and `keytrail verify-pack` on the sample month: the pack holds what
//! an auditor needs, escapes and guards what came from logs, is the same on every run but
//! for the generation time, loads in an OSCAL implementation and in a real browser, and
//! `verify-pack` names every file that was changed, removed or added.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{Workspace, keytrail};
use datafusion::arrow::array::{Array, AsArray};
use keytrail_emulator::faults::Fault;
use serde_json::Value;

/// The sample month collected once for every test here, with one window left uncollected
/// and an exceptions file that excepts one alarm and holds one expired exception.
struct Sample {
    ws: Workspace,
    key: PathBuf,
    public: PathBuf,
    exceptions: PathBuf,
}

fn sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let ws = Workspace::new();
        // The second day window of the first table (`KubePodInventory`, which no control
        // reads) fails twice: a recorded collection gap.
        let faults = [Fault::Pass, Fault::ServerError { status: 503 }, Fault::ServerError { status: 503 }];
        let mut tables = keytrail_emulator::SAMPLE_TABLES.to_vec();
        tables.sort_by_key(|t| *t != "KubePodInventory");
        common::collect_sample_with_faults(&ws, &tables, &["--source", "log-analytics"], &faults).expect(6);
        common::collect_sample(&ws, &[], &["--source", "akeyless-api"]);
        common::collect_sample(&ws, &[], &["--source", "kubernetes"]);
        let (key, public) = common::keygen(&ws);
        let exceptions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/exceptions.toml");
        Sample { ws, key, public, exceptions }
    })
}

/// Writes the pack for 2026-11 into `out`; returns its folder.
fn report(out: &Path, extra: &[&str]) -> PathBuf {
    let s = sample();
    let mut args = vec![
        "report",
        "--period",
        "2026-11",
        "--out",
        out.to_str().unwrap(),
        "--key",
        s.key.to_str().unwrap(),
        "--exceptions",
        s.exceptions.to_str().unwrap(),
        "--organisation",
        "Contoso <Payments>",
        "--cluster",
        "aks-prod-weu",
    ];
    args.extend_from_slice(extra);
    let run = keytrail(&s.ws.ledger(), &args).expect(0);
    assert!(run.stdout.contains("fingerprint:"), "{}", run.stdout);
    out.join("keytrail-evidence-2026-11")
}

fn verify_pack(pack: &Path, public: &Path) -> common::Run {
    keytrail(&sample().ws.ledger(), &["verify-pack", pack.to_str().unwrap(), "--public-key", public.to_str().unwrap()])
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn the_pack_holds_every_part_escapes_log_values_and_guards_csv() {
    let out = tempfile::tempdir().unwrap();
    let pack = report(out.path(), &["--sample-rows", "1000"]);
    let all = files(&pack);
    let controls: Value = serde_json::from_slice(&all["controls.json"]).unwrap();
    let ids: Vec<&str> = controls["controls"].as_array().unwrap().iter().map(|c| c["control"]["id"].as_str().unwrap()).collect();
    assert!(ids.len() >= 8, "{ids:?}");
    for id in &ids {
        for ext in ["csv", "parquet"] {
            assert!(all.contains_key(&format!("evidence/{id}.{ext}")), "no evidence/{id}.{ext}");
        }
    }
    for name in [
        "index.html",
        "controls.json",
        "integrity.json",
        "manifest.json",
        "manifest.sig",
        "oscal/assessment-results.json",
        "queries/views/secret_access.sql",
        "queries/cross-env-secret-read.sql",
        "checkpoints/akeyless_audit.note",
    ] {
        assert!(all.contains_key(name), "the pack has no {name}: {:?}", all.keys().collect::<Vec<_>>());
    }
    assert!(out.path().join("keytrail-evidence-2026-11.tar.gz").is_file());

    // The SQL as run has its parameters bound.
    let sql = String::from_utf8_lossy(&all["queries/rotation-overdue.sql"]);
    assert!(!sql.contains('$') && sql.contains("'/prod/'"), "{sql}");

    // Exceptions: the shared role is excepted, the expired one is reported and not applied.
    let verdict = |id: &str| controls["controls"].as_array().unwrap().iter().find(|c| c["control"]["id"] == id).unwrap()["verdict"].clone();
    assert_eq!(verdict("role-shared-across-clusters")["status"], "ok");
    assert_eq!(verdict("role-shared-across-clusters")["counts"]["excepted"], 1);
    assert_eq!(verdict("rotation-overdue")["status"], "alarm");
    let csv = String::from_utf8_lossy(&all["evidence/role-shared-across-clusters.csv"]);
    assert!(csv.lines().next().unwrap().ends_with(",exception"), "{csv}");
    assert!(csv.contains("eso-reader,excepted,") && csv.contains("platform-team@contoso.example"), "{csv}");

    // Configuration evidence names the snapshot it judged: one per source (per cluster).
    for (id, sources) in [("rotation-overdue", 1), ("role-shared-across-clusters", 1), ("eso-sync-health", 2), ("k8s-secrets-wildcard-grant", 2)] {
        let batches = common::read_parquet(&pack.join(format!("evidence/{id}.parquet")));
        let mut taken = std::collections::BTreeSet::new();
        for batch in &batches {
            let column = batch.column_by_name("snapshot_time").unwrap_or_else(|| panic!("{id}: no snapshot_time column"));
            assert_eq!(column.null_count(), 0, "{id}");
            let text = datafusion::arrow::compute::cast(column, &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
            taken.extend((0..text.len()).map(|i| text.as_string::<i32>().value(i).to_string()));
        }
        assert!(!taken.is_empty() && taken.len() <= sources, "{id}: {taken:?} {}", verdict(id));
    }

    // Log-derived values: the <script> item is escaped in HTML, the formula is defused in CSV.
    let html = String::from_utf8(all["index.html"].clone()).unwrap();
    assert!(!html.to_lowercase().contains("<script"), "index.html must hold no script");
    assert!(html.contains("/dev/tmp/&#60;script&#62;") || html.contains("/dev/tmp/&lt;script&gt;"), "the <script> item is shown escaped");
    assert!(html.contains("Contoso &#60;Payments&#62;") || html.contains("Contoso &lt;Payments&gt;"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing is loaded from the network");
    let rotation_csv = String::from_utf8_lossy(&all["evidence/rotation-overdue.csv"]);
    assert!(rotation_csv.contains("\"'=HYPERLINK("), "the formula item is defused: {rotation_csv}");
    assert!(!rotation_csv.lines().any(|l| l.starts_with("=") || l.starts_with("\"=")));

    // The page names every framework, the coverage gap and both exception lists.
    for text in
        ["SOC 2", "HIPAA", "800-53", "27001", "Uncollected windows", "platform-team@contoso.example", "identity-team@contoso.example", "Signed checkpoints"]
    {
        assert!(html.contains(text), "index.html lacks {text}");
    }
    let gaps = String::from_utf8_lossy(&all["data/collection-gaps.csv"]);
    assert_eq!(gaps.lines().count(), 2, "a header and the one uncollected window: {gaps}");
    let gap = gaps.lines().nth(1).unwrap();
    assert!(gap.contains("2026-11-02T00:00:00") && gap.contains("503"), "{gap}");
    assert!(html.contains("class=\"gap\""), "the coverage chart marks the day of the gap");
    assert!(html.contains("2026-11-02T00:00:00"), "the window is listed on the page");
    assert!(html.contains("aks_audit aks-prod from 2026-11-14T01:00:00Z"), "the silent hours of aks-prod's audit log are listed");
    assert!(all["index.html"].len() < 5 * 1024 * 1024);

    // The ESO charts: rotation-to-sync latency (one rotation synced 9 h late) and failed syncs.
    assert!(html.contains("aria-label=\"Rotations per rotation-to-sync latency\""), "the latency chart is drawn");
    assert!(html.contains("<title>8-24 h: 1</title>"), "the late sync is in its bucket");
    assert!(html.contains("aria-label=\"Failed syncs per ExternalSecret\""));
    assert!(html.contains("<title>aks-prod/payments/db-credentials: 5</title>"), "the UpdateFailed burst, repeats counted");

    // The manifest lists every other file with its hash, and the pack verifies.
    let manifest: Value = serde_json::from_slice(&all["manifest.json"]).unwrap();
    let listed: Vec<&str> = manifest["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    let mut expected: Vec<&str> = all.keys().map(String::as_str).filter(|p| !p.starts_with("manifest.")).collect();
    expected.sort();
    assert_eq!(listed, expected);
    let s = sample();
    let ok = verify_pack(&pack, &s.public).expect(0);
    assert!(ok.stdout.contains("is valid"), "{}", ok.stdout);
    verify_pack(&out.path().join("keytrail-evidence-2026-11.tar.gz"), &s.public).expect(0);
}

#[test]
fn verify_pack_names_what_was_changed_removed_added_or_signed_by_another_key() {
    let out = tempfile::tempdir().unwrap();
    let pack = report(out.path(), &[]);
    let public = &sample().public;

    std::fs::write(pack.join("evidence/rotation-overdue.csv"), "resource,status\n/prod/x,ok\n").unwrap();
    std::fs::remove_file(pack.join("evidence/auth-failure-burst.parquet")).unwrap();
    std::fs::write(pack.join("evidence/planted.csv"), "resource\n").unwrap();
    let run = verify_pack(&pack, public).expect(1);
    let invalid: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("INVALID")).collect();
    assert_eq!(invalid.len(), 3, "{}", run.stdout);
    assert!(invalid.iter().any(|l| l.starts_with("INVALID changed: evidence/rotation-overdue.csv")), "{}", run.stdout);
    assert!(invalid.iter().any(|l| l.starts_with("INVALID missing: evidence/auth-failure-burst.parquet")), "{}", run.stdout);
    assert!(invalid.iter().any(|l| l.starts_with("INVALID extra: evidence/planted.csv")), "{}", run.stdout);

    // A manifest edited to match the changed file no longer matches its signature.
    let fresh = report(&out.path().join("again"), &[]);
    let manifest_path = fresh.join("manifest.json");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap();
    std::fs::write(&manifest_path, manifest.replacen("\"period_end\"", "\"period_end\" ", 1)).unwrap();
    let run = verify_pack(&fresh, public).expect(1);
    assert!(run.stdout.contains("INVALID manifest.sig is a valid signature of another manifest"), "{}", run.stdout);
    std::fs::write(&manifest_path, manifest).unwrap();
    verify_pack(&fresh, public).expect(0);

    // Another key's public half does not verify the signature.
    let other = Workspace::new();
    let (_, other_public) = common::keygen(&other);
    let run = verify_pack(&fresh, &other_public).expect(1);
    assert!(run.stdout.contains("INVALID signature"), "{}", run.stdout);
    std::fs::remove_file(fresh.join("manifest.sig")).unwrap();
    let run = verify_pack(&fresh, public).expect(1);
    assert!(run.stdout.contains("manifest.sig is missing"), "{}", run.stdout);
}

#[test]
fn the_same_ledger_and_period_give_the_same_pack_but_for_the_generation_time() {
    let out = tempfile::tempdir().unwrap();
    let first = files(&report(&out.path().join("a"), &[]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = files(&report(&out.path().join("b"), &[]));
    assert_eq!(first.keys().collect::<Vec<_>>(), second.keys().collect::<Vec<_>>());
    let generated = |files: &BTreeMap<String, Vec<u8>>| -> Vec<String> {
        let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(manifest["generated_at"].as_str().unwrap()).unwrap();
        vec![at.format("%Y-%m-%dT%H:%M:%SZ").to_string(), at.format("%Y-%m-%d %H:%M:%S UTC").to_string()]
    };
    let (t1, t2) = (generated(&first), generated(&second));
    assert_ne!(t1, t2, "the runs are a second apart");
    let mut differing = Vec::new();
    for (path, a) in &first {
        let b = &second[path];
        if a == b {
            continue;
        }
        differing.push(path.as_str());
        if path == "manifest.sig" {
            continue; // signs manifest.json, which carries the time
        }
        if path == "manifest.json" {
            // Equal but for the time and the hashes of the files that show it.
            let strip = |bytes: &[u8]| {
                let mut m: Value = serde_json::from_slice(bytes).unwrap();
                m["generated_at"] = Value::Null;
                for f in m["files"].as_array_mut().unwrap() {
                    if ["index.html", "oscal/assessment-results.json"].contains(&f["path"].as_str().unwrap()) {
                        f["sha256"] = Value::Null;
                    }
                }
                m
            };
            assert_eq!(strip(a), strip(b), "manifest.json differs in more than the generation time");
            continue;
        }
        let mask = |bytes: &[u8], times: &[String]| times.iter().fold(String::from_utf8_lossy(bytes).into_owned(), |text, t| text.replace(t, "<generated>"));
        assert_eq!(mask(a, &t1), mask(b, &t2), "{path} differs in more than the generation time");
    }
    differing.sort();
    assert_eq!(differing, vec!["index.html", "manifest.json", "manifest.sig", "oscal/assessment-results.json"]);
}

/// The Python interpreter of the virtual environment `scripts/test` makes with
/// compliance-trestle in it.
fn trestle_python() -> PathBuf {
    let python = std::env::var_os("KEYTRAIL_TRESTLE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/oscal-venv/bin/python"));
    assert!(python.exists(), "{} not found: run scripts/test (it installs compliance-trestle) or set KEYTRAIL_TRESTLE_PYTHON", python.display());
    python
}

#[test]
fn oscal_assessment_results_load_in_compliance_trestle() {
    let out = tempfile::tempdir().unwrap();
    let pack = report(out.path(), &[]);
    let document = pack.join("oscal/assessment-results.json");
    let script = r#"
import json, pathlib, sys
from trestle.oscal.assessment_results import AssessmentResults
ar = AssessmentResults.oscal_read(pathlib.Path(sys.argv[1]))
r = ar.results[0]
print(json.dumps({
    "observations": len(r.observations),
    "methods": sorted({m for o in r.observations for m in o.methods}),
    "findings": len(r.findings),
    "states": sorted({f.target.status.state.value for f in r.findings}),
    "reviewed": len(r.reviewed_controls.control_selections[0].include_controls),
    "hashed": sum(len(l.hashes) for res in ar.back_matter.resources for l in res.rlinks),
}))
"#;
    let output = std::process::Command::new(trestle_python()).arg("-c").arg(script).arg(&document).output().unwrap();
    assert!(output.status.success(), "trestle rejected {}:\n{}", document.display(), String::from_utf8_lossy(&output.stderr));
    let loaded: Value = serde_json::from_slice(&output.stdout).unwrap();
    let controls: Value = serde_json::from_slice(&std::fs::read(pack.join("controls.json")).unwrap()).unwrap();
    let n_controls = controls["controls"].as_array().unwrap().len() as u64;
    assert_eq!(loaded["observations"], n_controls);
    assert_eq!(loaded["methods"], serde_json::json!(["TEST"]));
    assert_eq!(loaded["states"], serde_json::json!(["not-satisfied", "satisfied"]));
    assert_eq!(loaded["hashed"], 2 * n_controls + 1, "CSV and Parquet of every control, and the catalog");
    let automated: u64 =
        controls["frameworks"].as_array().unwrap().iter().flat_map(|f| f["requirements"].as_array().unwrap()).filter(|r| r["outcome"] != "manual").count()
            as u64;
    assert_eq!(loaded["findings"], automated);
}

/// Headless Chromium (Debian's `chromium`, installed by `scripts/test`) loads `page` from
/// disk with every host unresolvable and saves a screenshot; returns the console lines
/// it logged.
fn chromium(page: &Path, screenshot: &Path) -> Vec<String> {
    let binary = std::env::var_os("KEYTRAIL_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(binary.exists(), "{} not found: run scripts/test (it installs Debian's chromium) or set KEYTRAIL_CHROMIUM", binary.display());
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(binary)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--log-level=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--window-size=1280,3000")
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stderr).lines().filter(|l| l.contains(":CONSOLE")).map(str::to_string).collect()
}

#[test]
fn the_report_renders_in_a_real_browser_without_console_errors() {
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();

    // The harness sees console errors: a page that breaks the report's rules logs them.
    let bad = artifacts.join("bad.html");
    std::fs::write(&bad, "<!DOCTYPE html><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\"><img src=\"https://example.com/x.png\"><script>console.error('x')</script>").unwrap();
    assert!(!chromium(&bad, &artifacts.join("bad.png")).is_empty(), "the harness must notice console messages");

    let out = tempfile::tempdir().unwrap();
    let pack = report(out.path(), &[]);
    let screenshot = artifacts.join("index.png");
    let _ = std::fs::remove_file(&screenshot);
    let console = chromium(&pack.join("index.html"), &screenshot);
    assert!(console.is_empty(), "index.html logged to the console:\n{}", console.join("\n"));
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a screenshot of a rendered page ({} bytes)", png.len());
}
