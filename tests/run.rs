//! `keytrail run` (the scheduled job) and `keytrail demo` (the same job, offline, on the
//! sample month): exit codes, the summary, a verifiable pack, and re-running safely.

mod common;

use common::{Workspace, keytrail};
use keytrail_emulator::dataset::Dataset;
use keytrail_emulator::faults::Fault;
use keytrail_emulator::{Emulator, EmulatorConfig, SAMPLE_TABLES};
use serde_json::Value;

#[test]
fn demo_writes_a_verifiable_pack_offline_and_runs_again_safely() {
    let ws = Workspace::new();
    let dir = ws.path().join("demo");
    let run = keytrail(&ws.ledger(), &["demo", "--out", dir.to_str().unwrap()]).expect(0);
    let index = dir.join("packs/keytrail-evidence-2026-11/index.html");
    assert!(run.stdout.contains(&format!("Open the report: {}", index.display())), "{}", run.stdout);
    assert!(run.stdout.contains("ledger:      valid"), "{}", run.stdout);
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(html.contains("Contoso (demo)") && html.contains("aks-prod"), "the configuration reaches the cover");
    assert!(run.stdout.contains("kubernetes aks-prod"), "the clusters are collected: {}", run.stdout);
    assert!(html.contains("aria-label=\"Failed syncs per ExternalSecret\""), "the ESO charts are drawn");
    assert!(html.contains("platform-team@contoso.example"), "the demo's exception in force is shown");

    let archive = dir.join("packs/keytrail-evidence-2026-11.tar.gz");
    let public = dir.join("signing.key.pub");
    keytrail(&ws.ledger(), &["verify-pack", archive.to_str().unwrap(), "--public-key", public.to_str().unwrap()]).expect(0);

    // Again: collection resumes from the cursors (nothing new from Log Analytics or the
    // files), the key is kept, the pack is replaced and still verifies.
    let again = keytrail(&ws.ledger(), &["demo", "--out", dir.to_str().unwrap()]).expect(0);
    assert!(again.stdout.contains("0 records appended to akeyless_audit"), "{}", again.stdout);
    assert!(again.stdout.contains("0 new observations"), "{}", again.stdout);
    keytrail(&ws.ledger(), &["verify-pack", archive.to_str().unwrap(), "--public-key", public.to_str().unwrap()]).expect(0);
    keytrail(&dir.join("ledger"), &["verify"]).expect(0);
}

/// A configuration for the emulator's Log Analytics, with the job's own keys.
fn job_config(ws: &Workspace, emulator: &Emulator) -> std::path::PathBuf {
    let (key, _) = common::keygen(ws);
    let sources = emulator.write_client_files(&ws.path().join("client"), SAMPLE_TABLES, "window_minutes = 1440\nmax_attempts = 2\n").unwrap();
    let sources = std::fs::read_to_string(sources).unwrap();
    // Log Analytics only, so the queued faults hit its windows.
    let (api, la) = (sources.find("[akeyless_api]").unwrap(), sources.find("[log_analytics]").unwrap());
    let sources = format!("{}{}", &sources[..api], &sources[la..]);
    let config = ws.path().join("client/job.toml");
    let packs = ws.path().join("packs");
    // Top-level keys come before the first [section].
    let text = format!(
        "signing_key = \"{}\"\norganisation = \"Job test\"\n{sources}\n[report]\nout = \"{}\"\n[controls.rotation-overdue]\nmax_age_days = 45\n",
        key.display(),
        packs.display()
    );
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn run_exits_3_when_a_window_is_missing_and_4_when_the_ledger_was_tampered() {
    let ws = Workspace::new();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let emulator = runtime.block_on(Emulator::start(EmulatorConfig::new(Dataset::sample_month()))).unwrap();
    let config = job_config(&ws, &emulator);
    // The second window fails twice: a gap.
    emulator.faults().extend([Fault::Pass, Fault::ServerError { status: 503 }, Fault::ServerError { status: 503 }]);
    let run = keytrail(&ws.ledger(), &["-vv", "run", "--config", config.to_str().unwrap(), "--period", "2026-11", "--json"]).expect(3);
    let secret = std::fs::read_to_string(ws.path().join("client/client-secret")).unwrap();
    assert!(!secret.trim().is_empty() && !run.stdout.contains(secret.trim()) && !run.stderr.contains(secret.trim()), "the client secret must never be logged");
    let summary: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    assert_eq!(summary["period"], "2026-11");
    assert_eq!(summary["collection"], "incomplete");
    let tables = summary["sources"].as_array().unwrap();
    assert_eq!(tables.len(), SAMPLE_TABLES.len(), "one entry per Log Analytics table: {tables:?}");
    let gaps: Vec<&Value> = tables.iter().filter(|t| !t["gap"].is_null()).collect();
    assert_eq!(gaps.len(), 1, "{tables:?}");
    assert!(gaps[0]["gap"].as_str().unwrap().contains("503"), "{gaps:?}");
    assert_eq!(summary["exit_code"], 3);
    assert_eq!(summary["ledger_valid"], true);
    let pack = std::path::PathBuf::from(summary["pack"]["dir"].as_str().unwrap());
    assert!(pack.join("manifest.sig").is_file() && pack.starts_with(ws.path().join("packs")));
    assert!(run.stderr.contains("NOT COLLECTED"), "collection details go to stderr with --json: {}", run.stderr);
    let rotation_sql = std::fs::read_to_string(pack.join("queries/rotation-overdue.sql")).unwrap();
    assert!(rotation_sql.contains("45") && !rotation_sql.contains("$max_age_days"), "the configured parameter is used: {rotation_sql}");
    let html = std::fs::read_to_string(pack.join("index.html")).unwrap();
    assert!(html.contains("class=\"gap\"") && html.contains("2026-11-02T00:00:00"), "the report shows the uncollected window");
    let first_pack = std::fs::read(pack.join("manifest.json")).unwrap();

    // The next run fills the gap: complete. A run after that adds nothing.
    let run = keytrail(&ws.ledger(), &["run", "--config", config.to_str().unwrap(), "--period", "2026-11"]).expect(0);
    assert!(run.stdout.contains("Run complete."), "{}", run.stdout);
    let rows = || {
        let verify = keytrail(&ws.ledger(), &["verify", "--format", "json"]).expect(0);
        let report: Value = serde_json::from_str(&verify.stdout).unwrap();
        report["streams"].as_array().unwrap().iter().map(|s| s["rows"].as_u64().unwrap()).sum::<u64>()
    };
    let before = rows();
    keytrail(&ws.ledger(), &["run", "--config", config.to_str().unwrap(), "--period", "2026-11"]).expect(0);
    assert_eq!(rows(), before, "running the same month again adds no rows");

    // `report --config` takes the same settings; flags win.
    let elsewhere = ws.path().join("elsewhere");
    keytrail(
        &ws.ledger(),
        &["report", "--config", config.to_str().unwrap(), "--period", "2026-11", "--out", elsewhere.to_str().unwrap(), "--cluster", "aks-x"],
    )
    .expect(0);
    let again = elsewhere.join("keytrail-evidence-2026-11");
    let html = std::fs::read_to_string(again.join("index.html")).unwrap();
    assert!(html.contains("Job test") && html.contains("aks-x"), "organisation from the configuration, cluster from the flag");
    assert!(std::fs::read_to_string(again.join("queries/rotation-overdue.sql")).unwrap().contains("45"));
    let no_key = keytrail(&ws.ledger(), &["report", "--period", "2026-11", "--out", elsewhere.to_str().unwrap()]).expect(2);
    assert!(no_key.stderr.contains("no signing key"), "{}", no_key.stderr);

    // A row removed from a committed segment: the pack is still written, exit 4.
    let segment = ws.ledger().join(&common::segments(&ws.ledger(), "kube_pod_inventory")[0]);
    let batches = common::read_parquet(&segment);
    let first = batches[0].slice(0, batches[0].num_rows() - 1);
    common::write_parquet(&segment, &[first]);
    let run = keytrail(&ws.ledger(), &["run", "--config", config.to_str().unwrap(), "--period", "2026-11"]).expect(4);
    assert!(run.stdout.contains("ledger:      INVALID"), "{}", run.stdout);
    // Every run of the month wrote a pack of its own; the first is as it was.
    let fourth = ws.path().join("packs/keytrail-evidence-2026-11.4");
    assert!(run.stdout.contains(fourth.to_str().unwrap()), "{}", run.stdout);
    assert!(std::fs::read(pack.join("manifest.json")).unwrap() == first_pack, "the first pack is untouched");
    let integrity: Value = serde_json::from_slice(&std::fs::read(fourth.join("integrity.json")).unwrap()).unwrap();
    assert!(
        integrity["streams"].as_array().unwrap().iter().any(|s| s["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| !f["problems"].as_array().unwrap().is_empty()))
    );
    drop(emulator);
}

#[test]
fn config_check_names_an_unknown_key_and_every_missing_reference() {
    let ws = Workspace::new();
    let config = ws.path().join("keytrail.toml");
    std::fs::write(&config, "organisation = \"x\"\n\n[report]\nsample_row = 5\n").unwrap();
    let run = keytrail(&ws.ledger(), &["config", "check", "--config", config.to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("sample_row") && run.stderr.contains("line 4"), "{}", run.stderr);

    let (key, _) = common::keygen(&ws);
    std::fs::write(
        &config,
        format!(
            "signing_key = \"{}\"\nexceptions = \"exceptions.toml\"\n[report]\nframeworks = [\"soc2\", \"pci\"]\n[akeyless_api]\naccess_id = \"p-1\"\naccess_key_env = \"KEYTRAIL_TEST_UNSET_VARIABLE\"\n",
            key.display()
        ),
    )
    .unwrap();
    let run = keytrail(&ws.ledger(), &["config", "check", "--config", config.to_str().unwrap()]).expect(2);
    let problems: Vec<&str> = run.stdout.lines().filter(|l| l.starts_with("problem: ")).collect();
    assert_eq!(problems.len(), 3, "{}", run.stdout);
    assert!(run.stdout.contains("exceptions.toml does not exist"), "{}", run.stdout);
    assert!(run.stdout.contains("unknown framework 'pci'"), "{}", run.stdout);
    assert!(run.stdout.contains("KEYTRAIL_TEST_UNSET_VARIABLE is not set"), "{}", run.stdout);

    std::fs::write(ws.path().join("exceptions.toml"), "").unwrap();
    std::fs::write(&config, format!("signing_key = \"{}\"\nexceptions = \"exceptions.toml\"\n", key.display())).unwrap();
    let run = keytrail(&ws.ledger(), &["config", "check", "--config", config.to_str().unwrap()]).expect(0);
    assert!(run.stdout.contains("is valid"), "{}", run.stdout);
}

/// What a job would reject, `config check` rejects, naming the key; and what it accepts,
/// it lists source by source, Kubernetes included.
#[test]
fn config_check_rejects_what_the_jobs_reject() {
    let ws = Workspace::new();
    let (key, _) = common::keygen(&ws);
    let config = ws.path().join("keytrail.toml");
    let valid = format!(
        "signing_key = \"{}\"\n[log_analytics]\nworkspace_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\n[kubernetes]\nclusters = [{{ name = \"aks-prod-weu\" }}, {{ name = \"aks-dev-weu\" }}]\n",
        key.display()
    );
    std::fs::write(&config, &valid).unwrap();
    let run = keytrail(&ws.ledger(), &["config", "check", "--config", config.to_str().unwrap()]).expect(0);
    assert!(run.stdout.contains("log_analytics (workspace 72f988bf-86f1-41af-91ab-2d7cd011db47,"), "{}", run.stdout);
    assert!(run.stdout.contains("kubernetes (clusters aks-prod-weu, aks-dev-weu)"), "{}", run.stdout);

    let cases = [
        ("[log_analytics]\nworkspace_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nstart = \"yesterday\"\n", "log_analytics.start", "RFC 3339"),
        ("ledger = \"ftp://x\"\n", "ledger", "unsupported scheme"),
        ("[log_analytics]\nworkspace_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nendpoint = \"not a url\"\n", "log_analytics.endpoint", "not a URL"),
        ("[akeyless_api]\naccess_id = \"p-1\"\nendpoint = \"not a url\"\n", "akeyless_api.endpoint", "not a URL"),
        ("[log_analytics]\nworkspace_id = \"my-workspace\"\n", "log_analytics.workspace_id", "not a GUID"),
        ("[controls.rotation-overdue]\nmax_age_days = -5\n", "[controls.rotation-overdue] max_age_days", "negative"),
        ("[kubernetes]\nclusters = [{ name = \"a\" }, { name = \"a\" }]\n", "kubernetes.clusters", "given twice"),
        ("[log_analytics]\nworkspace_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nwindow_minutes = 0\n", "log_analytics.window_minutes", "at least 1"),
    ];
    for (text, key_named, why) in cases {
        std::fs::write(&config, text).unwrap();
        let check = keytrail(&ws.ledger(), &["config", "check", "--config", config.to_str().unwrap()]).expect(2);
        let said = format!("{}{}", check.stdout, check.stderr);
        assert!(said.contains(key_named) && said.contains(why), "{text}\n{said}");
        // The job refuses the same file, for the same reason, before doing anything.
        let job = keytrail(&ws.ledger(), &["collect", "--config", config.to_str().unwrap()]).expect(2);
        assert!(job.stderr.contains(key_named) && job.stderr.contains(why), "{text}\n{}", job.stderr);
    }
    assert!(!ws.ledger().exists() || std::fs::read_dir(ws.ledger()).unwrap().next().is_none(), "nothing was written");

    // An exception for a control that does not exist would except nothing, silently.
    std::fs::write(
        ws.path().join("exceptions.toml"),
        "[[exception]]\ncontrol = \"rotation-overdo\"\nresource = \"*\"\nowner = \"sec\"\njustification = \"x\"\nexpires = 2027-01-01\n",
    )
    .unwrap();
    std::fs::write(&config, format!("signing_key = \"{}\"\nexceptions = \"exceptions.toml\"\n", key.display())).unwrap();
    let run = keytrail(&ws.ledger(), &["config", "check", "--config", config.to_str().unwrap()]).expect(2);
    assert!(run.stdout.contains("names control \"rotation-overdo\", which does not exist"), "{}", run.stdout);
    let evaluate = keytrail(&ws.ledger(), &["evaluate", "--period", "2026-11", "--exceptions", ws.path().join("exceptions.toml").to_str().unwrap()]).expect(2);
    assert!(evaluate.stderr.contains("which does not exist"), "{}", evaluate.stderr);
}
