//! `keytrail sql`: read-only SQL over exactly the committed segments.

mod common;

use common::{Workspace, keytrail};
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

    let ndjson =
        keytrail(&ws.ledger(), &["sql", "SELECT action, count(*) AS n FROM akeyless_audit GROUP BY action ORDER BY action", "--format", "ndjson"]).expect(0);
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
    common::collect_sample(&ws, &["AKSAudit", "AzureDiagnostics", "AkeylessAudit_CL", "KubeEvents"], &["--source", "log-analytics"]);
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
    let kubernetes = month["AKSAudit"].iter().filter(|r| is_read(&serde_json::json!({"objectRef": r["ObjectRef"], "verb": r["Verb"]}))).count() as u64
        + month["AzureDiagnostics"].iter().filter(|r| is_read(&serde_json::from_str(r["log_s"].as_str().unwrap()).unwrap())).count() as u64;

    let run = keytrail(&ws.ledger(), &["sql", "SELECT source, count(*) AS n FROM secret_access GROUP BY source ORDER BY source", "--format", "json"]).expect(0);
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[0]["source"], "akeyless");
    assert_eq!(rows[0]["n"].as_u64().unwrap(), akeyless, "each Akeyless read once, though it arrived through two sinks");

    // With little query memory the look-up of the other sink's records among the forwarded
    // ones runs in slices of time; every record still appears once. (A quarter of 1 MiB
    // holds the table of 409 whole records or the keys of 1820 forwarded ones a slice.)
    let once = "SELECT count(*) AS events, count(DISTINCT record_id) AS records, \
                (SELECT count(DISTINCT record_id) FROM akeyless_audit) AS delivered, \
                (SELECT count(*) FROM akeyless_audit WHERE source <> 'akeyless_logs') AS other_sink, \
                (SELECT count(*) FROM akeyless_audit WHERE source = 'akeyless_logs') AS forwarded FROM akeyless_events";
    let debug = [("KEYTRAIL_LOG", "keytrail_query=debug".to_string())];
    for memory in ["512", "1"] {
        let run = common::keytrail_env(&ws.ledger(), &["sql", once, "--format", "json", "--query-memory-mb", memory], &debug).expect(0);
        let counts = &serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()[0];
        assert!(counts["other_sink"].as_u64().unwrap() > 409 && counts["forwarded"].as_u64().unwrap() > 1820, "{counts}");
        assert_eq!(counts["events"], counts["records"], "{memory} MiB: {counts}");
        assert_eq!(counts["events"], counts["delivered"], "{memory} MiB: {counts}");
        let computed = run.stderr.lines().find(|l| l.contains("computed the view's rows")).unwrap_or_else(|| panic!("{}", run.stderr));
        let slices: usize = computed.split("slices=").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();
        assert_eq!(slices > 1, memory == "1", "{computed}");
    }
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
    let coverage =
        keytrail(&ws.ledger(), &["sql", "SELECT stream, sum(rows) AS n, count(*) AS days FROM coverage GROUP BY stream ORDER BY stream", "--format", "json"])
            .expect(0);
    let per_stream: serde_json::Value = serde_json::from_str(&coverage.stdout).unwrap();
    let aks = per_stream.as_array().unwrap().iter().find(|r| r["stream"] == "aks_audit").unwrap();
    assert_eq!(aks["n"].as_u64().unwrap(), common::manifests(&ws.ledger(), "aks_audit").iter().map(|m| m["rows"].as_u64().unwrap()).sum::<u64>());
    assert!(aks["days"].as_u64().unwrap() >= 30);
    assert!(per_stream.as_array().unwrap().iter().all(|r| r["stream"] != "kube_pod_inventory"), "no rows, no coverage");
}

#[test]
fn records_of_another_sink_beyond_the_memory_are_kept_in_a_file_and_read_back_whole() {
    let ws = Workspace::new();
    common::collect_sample(&ws, &["AkeylessAudit_CL"], &["--source", "log-analytics"]);
    // Every column, nested ones too, as the ledger holds them: no forwarded file holds
    // these records, so akeyless_events is the kept rows.
    let columns = "count(*) AS n, count(DISTINCT record_id) AS records, sum(cardinality(remote_addrs)) AS addresses, \
                   min(timestamp) AS first, max(event_time) AS last, count(client_email) AS emails, sum(duration_ms) AS ms";
    let run = |table: &str, memory: &str| {
        let sql = format!("SELECT {columns} FROM {table}");
        let debug = [("KEYTRAIL_LOG", "keytrail_query=debug".to_string())];
        let run = common::keytrail_env(&ws.ledger(), &["sql", &sql, "--format", "json", "--query-memory-mb", memory], &debug).expect(0);
        (serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()[0].clone(), run.stderr)
    };
    let (audit, _) = run("akeyless_audit", "512");
    assert!(audit["n"].as_u64().unwrap() > 1000 && audit["addresses"].as_u64().unwrap() > 0, "{audit}");
    for memory in ["512", "1"] {
        let (events, log) = run("akeyless_events", memory);
        assert_eq!(events, audit, "{memory} MiB");
        let kept_in_file = log.contains("computed the view's rows view=akeyless_unforwarded") && log.contains("in_file=true");
        assert_eq!(kept_in_file, memory == "1", "{log}");
    }

    // Limited to a period, a session computes them once whatever time ranges its queries
    // ask for (its tables hold the period alone); without one, each range on its own.
    let two_ranges = "SELECT (SELECT count(*) FROM akeyless_events WHERE timestamp >= TIMESTAMP '2026-11-15T00:00:00Z') \
                      + (SELECT count(*) FROM akeyless_events) AS n";
    let debug = [("KEYTRAIL_LOG", "keytrail_query=debug".to_string())];
    for (period, computations) in [(&["--period", "2026-11"][..], 1), (&[][..], 2)] {
        let mut args = vec!["sql", two_ranges];
        args.extend_from_slice(period);
        let run = common::keytrail_env(&ws.ledger(), &args, &debug).expect(0);
        assert_eq!(run.stderr.matches("computed the view's rows").count(), computations, "{period:?}: {}", run.stderr);
    }
    // A pack's queries read its period and history before it: it computes them once.
    let (key, _) = common::keygen(&ws);
    let out = ws.path().join("pack");
    let report = ["report", "--period", "2026-11", "--out", out.to_str().unwrap(), "--key", key.to_str().unwrap()];
    let run = common::keytrail_env(&ws.ledger(), &report, &debug).expect(0);
    assert_eq!(run.stderr.matches("computed the view's rows").count(), 1, "{}", run.stderr);
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
