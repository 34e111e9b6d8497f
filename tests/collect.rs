//! `keytrail collect` against the loopback emulator: real HTTPS, real Entra token flows,
//! real query replies, faults injected per test. Row counts are checked against the rows
//! the emulator holds for the period, exactly.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{Run, Workspace, keytrail, manifests};
use keytrail_emulator::dataset::Dataset;
use keytrail_emulator::faults::Fault;
use keytrail_emulator::{Emulator, EmulatorConfig, SAMPLE_TABLES, sample_month};

const SINCE: &str = "2026-11-01T00:00:00Z";
const UNTIL: &str = "2026-12-01T00:00:00Z";
const STREAMS: &[&str] = &["kube_events", "kube_pod_inventory", "container_log_v2", "aks_audit", "aks_audit_admin", "akeyless_audit"];

struct Harness {
    /// Hosts the emulator for as long as the harness lives.
    _runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    ws: Workspace,
    config: PathBuf,
}

impl Harness {
    fn new(tables: &[&str], extra: &str) -> Self {
        Self::with(tables, extra, |_| {})
    }

    fn with(tables: &[&str], extra: &str, adjust: impl FnOnce(&mut EmulatorConfig)) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let mut config = EmulatorConfig::new(Dataset::sample_month());
        adjust(&mut config);
        let emulator = runtime.block_on(Emulator::start(config)).unwrap();
        let ws = Workspace::new();
        let extra = format!("initial_backoff_ms = 50\nmax_backoff_secs = 1\n{extra}");
        let config = emulator.write_client_files(&ws.path().join("client"), tables, &extra).unwrap();
        Self { _runtime: runtime, emulator, ws, config }
    }

    fn collect(&self, extra_args: &[&str]) -> Run {
        self.collect_env(extra_args, &[])
    }

    fn collect_env(&self, extra_args: &[&str], env: &[(&str, String)]) -> Run {
        let mut args = vec!["collect", "--config", self.config.to_str().unwrap(), "--source", "log-analytics", "--since", SINCE, "--until", UNTIL];
        args.extend_from_slice(extra_args);
        common::keytrail_env(&self.ws.ledger(), &args, env)
    }

    fn rows(&self, stream: &str) -> u64 {
        manifests(&self.ws.ledger(), stream).iter().map(|m| m["rows"].as_u64().unwrap()).sum()
    }

    fn stat(&self, name: &str) -> u64 {
        let stats = serde_json::to_value(self.emulator.stats()).unwrap();
        stats[name].as_u64().unwrap()
    }
}

/// Rows of each table in the sample month with TimeGenerated in [SINCE, UNTIL).
fn expected_rows() -> BTreeMap<String, u64> {
    sample_month::generate(sample_month::SEED)
        .into_iter()
        .map(|(table, rows)| {
            let n = rows.iter().filter(|r| (SINCE..UNTIL).contains(&r["TimeGenerated"].as_str().unwrap())).count();
            (table, n as u64)
        })
        .collect()
}

/// The summary line `collect` printed for a table.
fn summary_line<'a>(run: &'a Run, table: &str) -> &'a str {
    run.stdout.lines().find(|l| l.starts_with(&format!("{table} "))).unwrap_or_else(|| panic!("no line for {table}:\n{}", run.stdout))
}

/// `windows rows appended rejected retries splits` of a table's summary line.
fn summary_numbers(run: &Run, table: &str) -> Vec<u64> {
    summary_line(run, table).split_whitespace().skip(2).take(6).map(|n| n.parse().unwrap()).collect()
}

#[test]
fn collects_the_sample_month_exactly_and_a_second_run_adds_nothing() {
    let h = Harness::new(SAMPLE_TABLES, "window_minutes = 360\n");
    let first = h.collect(&[]).expect(0);
    let expected = expected_rows();
    for (stream, tables) in [
        ("kube_events", &["KubeEvents"][..]),
        ("kube_pod_inventory", &["KubePodInventory"]),
        ("container_log_v2", &["ContainerLogV2"]),
        ("aks_audit", &["AKSAudit", "AzureDiagnostics"]),
        ("aks_audit_admin", &["AKSAuditAdmin"]),
        ("akeyless_audit", &["AkeylessAudit_CL"]),
    ] {
        let want: u64 = tables.iter().map(|t| expected[*t]).sum();
        assert!(want > 0, "the sample has rows for {stream}");
        assert_eq!(h.rows(stream), want, "rows in {stream}\n{}", first.stdout);
    }
    assert_eq!(h.stat("rows_served"), expected.values().sum::<u64>());
    // 30 days in 6-hour windows, per table.
    assert_eq!(summary_numbers(&first, "AKSAudit")[0], 120);

    let all_manifests = || STREAMS.iter().map(|s| manifests(&h.ws.ledger(), s).len()).sum::<usize>();
    let before = all_manifests();
    let second = h.collect(&[]).expect(0);
    for table in SAMPLE_TABLES {
        assert!(summary_line(&second, table).ends_with("up to date"), "{}", second.stdout);
    }
    assert_eq!(all_manifests(), before, "a second run over the same period commits nothing");

    let verify = keytrail(&h.ws.ledger(), &["verify"]).expect(0);
    assert!(verify.stdout.contains("aks_audit"), "{}", verify.stdout);
}

#[test]
fn typed_columns_come_from_dynamic_strings_and_both_audit_forms() {
    use datafusion::arrow::array::{Array, AsArray};
    let h = Harness::new(&["AKSAudit", "AzureDiagnostics"], "window_minutes = 1440\n");
    h.collect(&[]).expect(0);
    let mut users = BTreeMap::<(String, String), u64>::new();
    for segment in common::segments(&h.ws.ledger(), "aks_audit") {
        for batch in common::read_parquet(&h.ws.ledger().join(&segment)) {
            let user = batch.column_by_name("username").unwrap().as_string::<i32>().clone();
            let table = batch.column_by_name("source_table").unwrap().as_string::<i32>().clone();
            for i in 0..batch.num_rows() {
                assert!(!user.is_null(i), "every audit row has its user parsed out of the dynamic column");
                *users.entry((table.value(i).to_string(), user.value(i).to_string())).or_default() += 1;
            }
        }
    }
    // Count the same from the emulator's source rows.
    let month = sample_month::generate(sample_month::SEED);
    let in_range = |r: &&serde_json::Map<String, serde_json::Value>| (SINCE..UNTIL).contains(&r["TimeGenerated"].as_str().unwrap());
    let alice = month["AKSAudit"].iter().filter(in_range).filter(|r| r["User"]["username"] == "alice@contoso.com").count() as u64;
    assert!(alice > 0);
    assert_eq!(users[&("AKSAudit".to_string(), "alice@contoso.com".to_string())], alice);
    let eso_dev = month["AzureDiagnostics"].iter().filter(in_range).count() as u64;
    let eso = "system:serviceaccount:external-secrets:external-secrets".to_string();
    assert_eq!(users[&("AzureDiagnostics".to_string(), eso)], eso_dev);
}

/// A refused credential is a source not collected, like any other failure: each table's
/// range is a gap on record with Entra's message, and no event row is written.
#[test]
fn a_wrong_client_secret_is_a_gap_for_every_table_with_entra_s_message() {
    let h = Harness::new(&["KubeEvents", "KubePodInventory"], "");
    std::fs::write(h.ws.path().join("client/client-secret"), "not-the-secret").unwrap();
    let run = h.collect(&[]).expect(6);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(said.contains("authentication failed") && said.contains("AADSTS7000215"), "{said}");
    assert!(!said.contains("not-the-secret"), "the secret must never be shown");
    assert!(summary_line(&run, "KubeEvents").contains("NOT COLLECTED from 2026-11-01T00:00:00+00:00"), "{}", run.stdout);
    assert!(summary_line(&run, "KubePodInventory").contains("NOT COLLECTED"), "{}", run.stdout);
    assert_eq!(h.stat("token_failures"), 1, "a refusal is final: not retried");
    assert_eq!(h.stat("queries"), 0);
    assert!(!h.ws.ledger().join("_manifests/kube_events").exists(), "no event rows");
    assert_eq!(manifests(&h.ws.ledger(), "collection_gaps").iter().map(|m| m["rows"].as_u64().unwrap()).sum::<u64>(), 2);
}

/// Nothing answers at the token endpoint: each retry is said as it happens (at the default
/// log level), the error names the endpoint, not the credential, and the second table
/// does not wait out the retries again.
#[test]
fn an_unreachable_endpoint_is_said_as_it_happens_and_never_blamed_on_the_credential() {
    let h = Harness::new(&["KubeEvents", "KubePodInventory"], "max_attempts = 3\n");
    // A port nothing listens on: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let text = std::fs::read_to_string(&h.config).unwrap();
    let text = text.replace(&format!("authority_host = \"{}\"", h.emulator.url()), &format!("authority_host = \"https://{closed}\""));
    std::fs::write(&h.config, text).unwrap();
    let run = h.collect(&[]).expect(6);
    let retries: Vec<_> = run.stderr.lines().filter(|l| l.contains("cannot reach the Entra ID token endpoint") && l.contains("retrying in")).collect();
    assert_eq!(retries.len(), 2, "attempts 1 and 2 of 3 are said, once each\n{}", run.stderr);
    assert!(!run.stderr.contains("refused the credential") && !run.stderr.contains("Check log_analytics.tenant_id"), "{}", run.stderr);
    let events = summary_line(&run, "KubeEvents");
    assert!(events.contains(&format!("https://{closed} could not be reached (3 attempts)")), "{}", run.stdout);
    assert!(summary_line(&run, "KubePodInventory").contains("could not be reached"), "{}", run.stdout);
    assert_eq!(h.stat("tokens_issued") + h.stat("queries"), 0);
}

#[test]
fn throttling_and_server_errors_are_retried() {
    let h = Harness::new(&["KubeEvents"], "window_minutes = 1440\n");
    h.emulator.faults().extend([
        Fault::Throttle { retry_after_secs: Some(1) },
        Fault::Throttle { retry_after_secs: None },
        Fault::ServerError { status: 503 },
        Fault::ServerError { status: 500 },
    ]);
    let run = h.collect(&[]).expect(0);
    assert_eq!(h.emulator.faults().pending(), 0);
    assert_eq!(summary_numbers(&run, "KubeEvents")[4], 4, "{}", run.stdout);
    assert_eq!(h.rows("kube_events"), expected_rows()["KubeEvents"]);
}

#[test]
fn a_hung_connection_times_out_and_a_truncated_body_is_retried() {
    let h = Harness::new(&["KubePodInventory"], "window_minutes = 1440\ntimeout_secs = 1\n");
    h.emulator.faults().extend([Fault::Pass, Fault::Hang, Fault::TruncatedBody]);
    let run = h.collect(&[]).expect(0);
    assert_eq!(summary_numbers(&run, "KubePodInventory")[4], 2, "{}", run.stdout);
    assert_eq!(h.rows("kube_pod_inventory"), expected_rows()["KubePodInventory"]);
}

#[test]
fn a_partial_error_splits_the_window_and_nothing_is_duplicated() {
    let h = Harness::new(&["AkeylessAudit_CL"], "window_minutes = 1440\n");
    h.emulator.faults().extend([Fault::Pass, Fault::PartialError]);
    let run = h.collect(&[]).expect(0);
    let numbers = summary_numbers(&run, "AkeylessAudit_CL");
    assert_eq!(numbers[5], 1, "one split\n{}", run.stdout);
    assert_eq!(numbers[0], 31, "30 days plus the split half\n{}", run.stdout);
    assert_eq!(h.rows("akeyless_audit"), expected_rows()["AkeylessAudit_CL"]);
}

#[test]
fn the_row_cap_splits_windows_until_they_fit() {
    let h = Harness::with(&["AKSAudit"], "window_minutes = 10080\nrow_cap = 200\n", |c| c.row_cap = 200);
    let run = h.collect(&[]).expect(0);
    let numbers = summary_numbers(&run, "AKSAudit");
    assert!(numbers[5] >= 4, "weeks of ~1000 audit rows need splitting under a 200-row cap\n{}", run.stdout);
    assert_eq!(h.rows("aks_audit"), expected_rows()["AKSAudit"]);
}

#[test]
fn a_window_that_keeps_failing_is_recorded_as_a_gap_and_the_next_run_fills_it() {
    let h = Harness::new(&["KubeEvents", "KubePodInventory"], "window_minutes = 1440\nmax_attempts = 2\n");
    // Day 1 of KubeEvents succeeds, day 2 fails twice; KubePodInventory is unaffected.
    h.emulator.faults().extend([Fault::Pass, Fault::ServerError { status: 503 }, Fault::ServerError { status: 503 }]);
    let run = h.collect(&[]).expect(6);
    assert!(summary_line(&run, "KubeEvents").contains("NOT COLLECTED from 2026-11-02T00:00:00+00:00"), "{}", run.stdout);
    assert!(summary_line(&run, "KubePodInventory").contains("complete"), "{}", run.stdout);
    let gaps = manifests(&h.ws.ledger(), "collection_gaps");
    assert_eq!(gaps.len(), 1);
    let gap_rows = common::read_parquet(&h.ws.ledger().join(common::segments(&h.ws.ledger(), "collection_gaps")[0].as_str()));
    {
        use datafusion::arrow::array::AsArray;
        let reason = gap_rows[0].column_by_name("reason").unwrap().as_string::<i32>().value(0).to_string();
        assert!(reason.contains("503"), "{reason}");
    }
    assert!(h.rows("kube_events") < expected_rows()["KubeEvents"]);
    let open_gaps = || {
        let sql = "SELECT table_name, run_id, collected_by FROM coverage_gaps";
        let run = keytrail(&h.ws.ledger(), &["sql", sql, "--format", "json"]).expect(0);
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap().as_array().unwrap().clone()
    };
    let coverage_gaps = || {
        let sql = "SELECT CAST(sum(gaps) AS BIGINT) AS gaps FROM coverage WHERE stream = 'kube_events'";
        keytrail(&h.ws.ledger(), &["sql", sql, "--format", "csv"]).expect(0).stdout
    };
    let before = open_gaps();
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!((&before[0]["table_name"], &before[0]["collected_by"]), (&"KubeEvents".into(), &serde_json::Value::Null));
    assert_eq!(coverage_gaps(), "gaps\n1\n");

    h.collect(&[]).expect(0);
    assert_eq!(h.rows("kube_events"), expected_rows()["KubeEvents"]);
    assert_eq!(h.rows("kube_pod_inventory"), expected_rows()["KubePodInventory"]);
    // The gap stays on record, filled by the second run; the coverage counts no hole.
    let after = open_gaps();
    assert_eq!(after.len(), 1, "{after:?}");
    let filled_by = after[0]["collected_by"].as_str().unwrap_or_else(|| panic!("the gap is not filled: {after:?}"));
    assert_ne!(filled_by, after[0]["run_id"].as_str().unwrap(), "filled by the later run");
    assert_eq!(coverage_gaps(), "gaps\n0\n");
}

/// A run that collects only part of a gap's range does not fill it.
#[test]
fn a_gap_is_filled_only_by_a_run_that_collects_all_of_it() {
    let h = Harness::new(&["KubeEvents"], "window_minutes = 1440\nmax_attempts = 1\n");
    // Day 2 fails: a gap from day 2 to the end of the range. The retry fails on day 4.
    h.emulator.faults().extend([Fault::Pass, Fault::ServerError { status: 503 }]);
    h.collect(&[]).expect(6);
    h.emulator.faults().extend([Fault::Pass, Fault::Pass, Fault::ServerError { status: 503 }]);
    h.collect(&[]).expect(6);
    let sql = "SELECT CAST(window_start AS VARCHAR) AS since, collected_by IS NULL AS open FROM coverage_gaps ORDER BY since";
    let run = keytrail(&h.ws.ledger(), &["sql", sql, "--format", "csv"]).expect(0);
    assert_eq!(run.stdout, "since,open\n2026-11-02T00:00:00Z,true\n2026-11-04T00:00:00Z,true\n", "neither gap is filled");
    h.collect(&[]).expect(0);
    let run = keytrail(&h.ws.ledger(), &["sql", sql, "--format", "csv"]).expect(0);
    assert_eq!(run.stdout, "since,open\n2026-11-02T00:00:00Z,false\n2026-11-04T00:00:00Z,false\n", "the third run collects both");
}

/// Two collections on one ledger at once: the one whose resume point the other moved
/// stops with an error that says so, and no row is committed twice.
#[test]
fn a_second_collect_running_at_the_same_time_commits_nothing_twice() {
    let h = Harness::new(&["ContainerLogV2"], "window_minutes = 1440\ntimeout_secs = 5\n");
    // The first collection commits day 1 (every day has rows); its query for day 2 goes unanswered until it times out.
    h.emulator.faults().extend([Fault::Pass, Fault::Hang]);
    let config = h.config.to_str().unwrap().to_string();
    let first = common::command(
        h.ws.ledger().to_str().unwrap(),
        &["collect", "--config", &config, "--source", "log-analytics", "--since", SINCE, "--until", UNTIL, "--commit-rows", "1"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while h.emulator.faults().pending() > 0 || manifests(&h.ws.ledger(), "container_log_v2").is_empty() {
        assert!(std::time::Instant::now() < deadline, "the first collection never reached the hung query");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Meanwhile a second one collects the rest of the month.
    let second = h.collect(&[]).expect(0);
    assert!(summary_line(&second, "ContainerLogV2").contains("complete"), "{}", second.stdout);
    assert_eq!(h.rows("container_log_v2"), expected_rows()["ContainerLogV2"]);

    let first = first.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(!first.status.success(), "the first collection went on: {stderr}");
    assert!(stderr.contains("another writer committed since this run read where to resume"), "{stderr}");
    assert_eq!(h.rows("container_log_v2"), expected_rows()["ContainerLogV2"], "nothing committed twice");
    common::keytrail(&h.ws.ledger(), &["verify"]).expect(0);
}

#[test]
fn killed_mid_run_it_resumes_without_loss_or_duplicates() {
    let h = Harness::new(&["ContainerLogV2"], "window_minutes = 1440\ntimeout_secs = 600\n");
    // Three days are answered and committed one by one; the fourth query never is.
    h.emulator.faults().extend([Fault::Pass, Fault::Pass, Fault::Pass, Fault::Hang]);
    let config = h.config.to_str().unwrap().to_string();
    let mut child = common::command(
        h.ws.ledger().to_str().unwrap(),
        &["collect", "--config", &config, "--source", "log-analytics", "--since", SINCE, "--until", UNTIL, "--commit-rows", "1"],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while h.emulator.faults().pending() > 0 || manifests(&h.ws.ledger(), "container_log_v2").len() < 3 {
        assert!(std::time::Instant::now() < deadline, "the collector never reached the hung query");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = h.rows("container_log_v2");
    assert!(partial > 0 && partial < expected_rows()["ContainerLogV2"]);

    let run = h.collect(&[]).expect(0);
    assert_eq!(summary_numbers(&run, "ContainerLogV2")[0], 27, "resumed after the three committed days\n{}", run.stdout);
    assert_eq!(h.rows("container_log_v2"), expected_rows()["ContainerLogV2"]);
    keytrail(&h.ws.ledger(), &["verify"]).expect(0);
}

#[test]
fn workload_identity_and_managed_identity_get_tokens_and_tokens_are_refreshed_before_expiry() {
    // Tokens live 301 s; azure_identity refreshes those with less than 300 s left, so a
    // query after a 2-second Retry-After must carry a fresh token.
    let h = Harness::with(&["KubeEvents"], "window_minutes = 43200\n", |c| c.token_lifetime_secs = 301);
    let token_file = h.ws.path().join("sa-token");
    std::fs::write(&token_file, &h.emulator.config().identity.federated_token).unwrap();
    let config = std::fs::read_to_string(&h.config)
        .unwrap()
        .replace("auth = \"client_secret\"", &format!("auth = \"workload_identity\"\nfederated_token_file = \"{}\"", token_file.display()));
    std::fs::write(&h.config, config).unwrap();
    h.emulator.faults().push(Fault::Throttle { retry_after_secs: Some(2) });
    h.collect(&[]).expect(0);
    assert_eq!(h.stat("unauthorized"), 0);
    assert!(h.stat("tokens_issued") >= 2, "the token was refreshed before it expired");
    assert_eq!(h.rows("kube_events"), expected_rows()["KubeEvents"]);

    // Managed identity through the App Service endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER).
    let config = std::fs::read_to_string(&h.config).unwrap().replace("auth = \"workload_identity\"", "auth = \"managed_identity\"");
    std::fs::write(&h.config, config.replace("client_id = ", "# client_id = ")).unwrap();
    let before = h.stat("tokens_issued");
    let env = [("IDENTITY_ENDPOINT", format!("{}/msi/token", h.emulator.url())), ("IDENTITY_HEADER", h.emulator.config().identity.identity_header.clone())];
    std::fs::remove_dir_all(h.ws.ledger()).unwrap();
    h.collect_env(&[], &env).expect(0);
    assert!(h.stat("tokens_issued") > before);
    assert_eq!(h.rows("kube_events"), expected_rows()["KubeEvents"]);
}

#[test]
fn the_emulator_command_serves_the_sample_and_takes_faults_over_http() {
    let ws = Workspace::new();
    let out = ws.path().join("emulator");
    let _emulator = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_keytrail"))
            .args(["emulator", "--out", out.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let config = out.join("keytrail.toml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !config.exists() {
        assert!(std::time::Instant::now() < deadline, "the emulator wrote no keytrail.toml");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let text = std::fs::read_to_string(&config).unwrap();
    let url = text.lines().find_map(|l| l.strip_prefix("authority_host = ")).unwrap().trim_matches('"').to_string();
    std::fs::write(&config, format!("{text}max_attempts = 1\nwindow_minutes = 43200\n")).unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let _context = runtime.enter();
    let http = keytrail_collectors::http::client(Some(&out.join("ca.pem")), std::time::Duration::from_secs(10)).unwrap();
    let queued =
        runtime.block_on(http.post(format!("{url}/_emulator/faults")).json(&serde_json::json!([{"kind": "server_error", "status": 503}])).send()).unwrap();
    assert_eq!(queued.status().as_u16(), 204);

    let run = keytrail(&ws.ledger(), &["collect", "--config", config.to_str().unwrap(), "--source", "log-analytics", "--until", UNTIL]).expect(6);
    assert!(summary_line(&run, "KubeEvents").contains("NOT COLLECTED"), "{}", run.stdout);
    assert!(summary_line(&run, "AKSAudit").contains("complete"), "{}", run.stdout);
    let stats: serde_json::Value = runtime.block_on(async { http.get(format!("{url}/_emulator/stats")).send().await?.json().await }).unwrap();
    assert_eq!(stats["faults_served"], 1);
}

/// A child process that is killed when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
