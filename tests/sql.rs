//! `keytrail sql`: read-only SQL over exactly the committed segments.

mod common;

use common::{keytrail, Workspace};
use keytrail_emulator::sample_month;

/// A ledger holding the sample month's forwarded Akeyless records; returns their count.
fn sample_ledger(ws: &Workspace) -> usize {
    let folder = ws.path().join("forwarded");
    let n = common::write_forwarded_sample(&folder);
    keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", folder.to_str().unwrap()]).expect(0);
    n
}

fn count(ws: &Workspace) -> u64 {
    let run = keytrail(&ws.ledger(), &["sql", "SELECT count(*) AS n FROM akeyless_audit", "--format", "json"]).expect(0);
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    rows[0]["n"].as_u64().unwrap()
}

#[test]
fn queries_see_every_committed_row_and_nothing_else() {
    let ws = Workspace::new();
    let n = sample_ledger(&ws);
    assert_eq!(count(&ws), n as u64);

    // A Parquet file that no manifest names is not part of the ledger.
    let segment = common::segments(&ws.ledger(), "akeyless_audit")[0].clone();
    let planted = ws.ledger().join(segment.replace(".parquet", "-planted.parquet"));
    std::fs::copy(ws.ledger().join(&segment), &planted).unwrap();
    assert_eq!(count(&ws), n as u64);

    // --period limits every table (and so every view) to the month's event times.
    let in_month = |period: &str| -> u64 {
        let run = keytrail(&ws.ledger(), &["sql", "--period", period, "SELECT count(*) AS n FROM akeyless_audit", "--format", "json"]).expect(0);
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()[0]["n"].as_u64().unwrap()
    };
    assert_eq!(in_month("2026-11"), n as u64);
    assert_eq!(in_month("2026-10"), 0);

    let tables = keytrail(&ws.ledger(), &["sql", "SHOW TABLES", "--format", "csv"]).expect(0);
    assert!(tables.stdout.contains("akeyless_audit"), "{}", tables.stdout);

    let ndjson = keytrail(&ws.ledger(), &["sql", "SELECT action, count(*) AS n FROM akeyless_audit GROUP BY action ORDER BY action", "--format", "ndjson"]).expect(0);
    let total: u64 = ndjson.stdout.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["n"].as_u64().unwrap()).sum();
    assert_eq!(total, n as u64);

    // Text reads as plain strings (crates/query says why string views are avoided).
    let types = keytrail(&ws.ledger(), &["sql", "SELECT arrow_typeof(item_path) AS t FROM akeyless_audit LIMIT 1", "--format", "json"]).expect(0);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&types.stdout).unwrap()[0]["t"], "Utf8", "{}", types.stdout);

    let out = ws.path().join("result.parquet");
    keytrail(&ws.ledger(), &["sql", "SELECT record_id FROM akeyless_audit", "--format", "parquet", "--out", out.to_str().unwrap()]).expect(0);
    let rows: usize = common::read_parquet(&out).iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, n);
}

#[test]
fn every_kind_of_write_is_refused_and_changes_nothing() {
    let ws = Workspace::new();
    let n = sample_ledger(&ws);
    let target = ws.path().join("copied.csv");
    for statement in [
        "CREATE TABLE t AS SELECT 1".to_string(),
        "CREATE VIEW v AS SELECT 1".to_string(),
        "DROP TABLE akeyless_audit".to_string(),
        "INSERT INTO akeyless_audit SELECT * FROM akeyless_audit".to_string(),
        "DELETE FROM akeyless_audit".to_string(),
        format!("COPY (SELECT 1) TO '{}'", target.display()),
        "SET datafusion.execution.batch_size = 1".to_string(),
        format!("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '{}'", ws.path().display()),
    ] {
        let run = keytrail(&ws.ledger(), &["sql", &statement]).expect(2);
        assert!(run.stderr.contains("read-only"), "{statement}: {}", run.stderr);
    }
    assert!(!target.exists());
    assert_eq!(count(&ws), n as u64);
}

#[test]
fn csv_defuses_formulas_and_errors_say_where() {
    let ws = Workspace::new();
    sample_ledger(&ws);
    let run = keytrail(&ws.ledger(), &["sql", "SELECT item_path FROM akeyless_audit WHERE item_path LIKE '=%'", "--format", "csv"]).expect(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "item_path");
    assert!(lines.len() > 1 && lines[1..].iter().all(|l| l.starts_with("\"'=HYPERLINK") || l.starts_with("'=HYPERLINK")), "{}", run.stdout);

    let bad = keytrail(&ws.ledger(), &["sql", "SELEC count(*) FROM akeyless_audit"]).expect(2);
    assert!(bad.stderr.contains("Line: 1"), "{}", bad.stderr);
    let unknown = keytrail(&ws.ledger(), &["sql", "SELECT nope FROM akeyless_audit"]).expect(2);
    assert!(unknown.stderr.contains("nope"), "{}", unknown.stderr);
}

#[test]
fn views_join_the_sources_and_count_each_akeyless_record_once() {
    let ws = Workspace::new();
    sample_ledger(&ws);
    common::collect_sample(&ws, &["AKSAudit", "AzureDiagnostics", "AkeylessAudit_CL"], &["--source", "log-analytics"]);
    common::collect_sample(&ws, &[], &["--source", "kubernetes"]);

    // What the emulator's data implies.
    let month = sample_month::generate(sample_month::SEED);
    let reads = ["get_secret_value", "get_rotated_secret_value", "get_dynamic_secret_value"];
    let akeyless = month["AkeylessAudit_CL"]
        .iter()
        .filter(|r| {
            let m: serde_json::Value = serde_json::from_str(r["msg_s"].as_str().unwrap()).unwrap();
            reads.contains(&m["action"].as_str().unwrap())
        })
        .count() as u64;
    let is_read = |e: &serde_json::Value| e["objectRef"]["resource"] == "secrets" && ["get", "list", "watch"].contains(&e["verb"].as_str().unwrap());
    let kubernetes = month["AKSAudit"]
        .iter()
        .filter(|r| is_read(&serde_json::json!({"objectRef": r["ObjectRef"], "verb": r["Verb"]})))
        .count() as u64
        + month["AzureDiagnostics"].iter().filter(|r| is_read(&serde_json::from_str(r["log_s"].as_str().unwrap()).unwrap())).count() as u64;

    let run = keytrail(&ws.ledger(), &["sql", "SELECT source, count(*) AS n FROM secret_access GROUP BY source ORDER BY source", "--format", "json"]).expect(0);
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[0]["source"], "akeyless");
    assert_eq!(rows[0]["n"].as_u64().unwrap(), akeyless, "each Akeyless read once, though it arrived through two sinks");
    let eso = keytrail_emulator::KubernetesApi::default()
        .clusters
        .values()
        .flat_map(|c| &c["events"])
        .filter(|e| e["involvedObject"]["kind"] == "ExternalSecret" && ["Updated", "UpdateFailed"].contains(&e["reason"].as_str().unwrap()))
        .count() as u64;
    assert_eq!(rows[1]["source"], "eso");
    assert_eq!(rows[1]["n"].as_u64().unwrap(), eso, "one row per ESO sync event");
    assert_eq!(rows[2]["source"], "kubernetes");
    assert_eq!(rows[2]["n"].as_u64().unwrap(), kubernetes);

    // Lineage: each Akeyless item to the ExternalSecrets reading it, their Secrets and the pods around them.
    let lineage = keytrail(
        &ws.ledger(),
        &["sql", "SELECT cluster_name, external_secret, kubernetes_secret FROM secret_lineage WHERE akeyless_item = '/prod/payments/stripe-api-key' ORDER BY cluster_name", "--format", "json"],
    )
    .expect(0);
    let lineage: serde_json::Value = serde_json::from_str(&lineage.stdout).unwrap();
    assert_eq!(lineage.as_array().unwrap().len(), 2, "read by both clusters (dev by mistake): {lineage}");
    assert_eq!(lineage[0]["cluster_name"], "aks-dev");
    assert_eq!(lineage[1]["kubernetes_secret"], "stripe-api-key");

    let humans = keytrail(&ws.ledger(), &["sql", "SELECT count(*) AS n FROM secret_access WHERE actor = 'alice@contoso.com'", "--format", "json"]).expect(0);
    let alice = month["AKSAudit"].iter().filter(|r| r["User"]["username"] == "alice@contoso.com" && r["ObjectRef"]["resource"] == "secrets").count();
    assert!(humans.stdout.contains(&format!("\"n\":{alice}")), "{}", humans.stdout);
    let burst = keytrail(&ws.ledger(), &["sql", "SELECT count(*) AS n FROM auth_failures WHERE client_ip = '203.0.113.77'", "--format", "json"]).expect(0);
    assert!(burst.stdout.contains("\"n\":40"), "{}", burst.stdout);

    // Coverage per stream and day adds up to the stream's rows; streams not collected are empty.
    let coverage = keytrail(&ws.ledger(), &["sql", "SELECT stream, sum(rows) AS n, count(*) AS days FROM coverage GROUP BY stream ORDER BY stream", "--format", "json"]).expect(0);
    let per_stream: serde_json::Value = serde_json::from_str(&coverage.stdout).unwrap();
    let aks = per_stream.as_array().unwrap().iter().find(|r| r["stream"] == "aks_audit").unwrap();
    assert_eq!(aks["n"].as_u64().unwrap(), common::manifests(&ws.ledger(), "aks_audit").iter().map(|m| m["rows"].as_u64().unwrap()).sum::<u64>());
    assert!(aks["days"].as_u64().unwrap() >= 30);
    assert!(per_stream.as_array().unwrap().iter().all(|r| r["stream"] != "kube_events"), "no rows, no coverage");
}

#[test]
fn a_query_beyond_its_memory_fails_and_names_the_setting_to_raise() {
    let ws = Workspace::new();
    let n = sample_ledger(&ws);
    // A hash join's table cannot spill: it needs the memory or the query fails.
    let join = "SELECT count(*) AS n FROM akeyless_audit a JOIN akeyless_audit b ON a.record_id = b.record_id";
    let run = keytrail(&ws.ledger(), &["sql", join, "--format", "json"]).expect(0);
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[0]["n"].as_u64().unwrap(), n as u64, "each record joins only itself");

    let starved = keytrail(&ws.ledger(), &["sql", join, "--query-memory-mb", "0"]);
    assert_ne!(starved.code, 0, "{}", starved.stdout);
    assert!(starved.stderr.contains("raise query_memory_mb (--query-memory-mb)"), "{}", starved.stderr);
}
