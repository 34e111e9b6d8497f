//! `keytrail collect --source kubernetes` against the emulated clusters' Kubernetes API:
//! kubeconfig token and exec-plugin credentials, paging, a list resumed after `410 Gone`,
//! a run that fails part-way and the next that takes it up,
//! a clear `401`, typed snapshots, event observations, and re-runs that add nothing.

mod common;

use common::{Workspace, keytrail, manifests, read_parquet, segments, string_column};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use keytrail_emulator::faults::Fault;
use keytrail_emulator::{Emulator, EmulatorConfig, KubernetesApi};
use serde_json::Value;

struct Harness {
    _runtime: tokio::runtime::Runtime,
    emulator: Emulator,
    ws: Workspace,
    config: std::path::PathBuf,
}

fn harness(kubernetes: KubernetesApi, page_size: u32) -> Harness {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut config = EmulatorConfig::new(keytrail_emulator::dataset::Dataset::new());
    // These tests are of the collector's lists (paging, resumed lists, observations, re-runs)
    // over every event of the month, so the API servers keep every Event, which no real
    // one does (tests/eso_evidence.rs runs with the real TTL).
    config.kubernetes = KubernetesApi { event_ttl: None, ..kubernetes };
    let emulator = runtime.block_on(Emulator::start(config)).unwrap();
    let ws = Workspace::new();
    let config = write_config(&emulator, &ws, page_size);
    Harness { _runtime: runtime, emulator, ws, config }
}

fn write_config(emulator: &Emulator, ws: &Workspace, page_size: u32) -> std::path::PathBuf {
    let config = emulator.write_client_files(&ws.path().join("client"), &[], "").unwrap();
    let text = std::fs::read_to_string(&config).unwrap().replace("[kubernetes]\n", &format!("[kubernetes]\npage_size = {page_size}\n"));
    std::fs::write(&config, text).unwrap();
    config
}

impl Harness {
    fn collect(&self) -> common::Run {
        keytrail(&self.ws.ledger(), &["collect", "--config", self.config.to_str().unwrap(), "--source", "kubernetes"])
    }
}

/// The ESO-kind events a cluster serves.
fn served_events(api: &KubernetesApi, cluster: &str) -> Vec<Value> {
    let kinds = ["ExternalSecret", "SecretStore", "ClusterSecretStore", "PushSecret"];
    api.clusters[cluster]["events"].iter().filter(|e| kinds.contains(&e["involvedObject"]["kind"].as_str().unwrap_or_default())).cloned().collect()
}

fn batches(ledger: &std::path::Path, stream: &str) -> Vec<RecordBatch> {
    segments(ledger, stream).iter().flat_map(|s| read_parquet(&ledger.join(s))).collect()
}

/// (name, refresh_interval_secs) of every ExternalSecret row.
fn intervals(ledger: &std::path::Path) -> Vec<(String, Option<i64>)> {
    let mut out = Vec::new();
    for batch in batches(ledger, "eso_externalsecrets") {
        let names = batch.column_by_name("name").unwrap().as_string::<i32>().clone();
        let secs = batch.column_by_name("refresh_interval_secs").unwrap().as_primitive::<Int64Type>().clone();
        out.extend((0..batch.num_rows()).map(|i| (names.value(i).to_string(), (!secs.is_null(i)).then(|| secs.value(i)))));
    }
    out
}

#[test]
fn every_cluster_is_collected_page_by_page_and_a_second_run_adds_nothing() {
    let api = KubernetesApi::default();
    let h = harness(api.clone(), 4);
    let run = h.collect().expect(0);
    let expected: usize = ["aks-dev", "aks-prod"].iter().map(|c| served_events(&api, c).len()).sum();
    assert!(expected > 20, "the sample has events for both clusters");
    let uids = string_column(&h.ws.ledger(), "eso_events", "event_uid");
    assert_eq!(uids.len(), expected, "{}", run.stdout);
    assert!(run.stdout.contains("kubernetes aks-prod (v1.33.5)"), "{}", run.stdout);
    let clusters = string_column(&h.ws.ledger(), "eso_events", "cluster_name");
    assert!(clusters.iter().any(|c| c == "aks-dev") && clusters.iter().any(|c| c == "aks-prod"));
    let requests = h.emulator.stats().queries.load(std::sync::atomic::Ordering::Relaxed);
    assert!(requests as usize >= expected / 4, "pages of 4: {requests} requests for {expected} events");
    assert_eq!(h.emulator.stats().secret_requests.load(std::sync::atomic::Ordering::Relaxed), 0, "Secrets are never requested");

    let reasons = string_column(&h.ws.ledger(), "eso_events", "reason");
    for reason in ["UpdateFailed", "InvalidProviderConfig", "Updated", "Valid", "Synced"] {
        assert!(reasons.iter().any(|r| r == reason), "no {reason} event");
    }
    let messages = string_column(&h.ws.ledger(), "eso_events", "message");
    assert!(messages.iter().any(|m| m.contains("UnauthorizedAccess")));
    assert!(messages.iter().any(|m| m.contains("authentication failed")));

    let before: Vec<usize> =
        ["eso_events", "eso_externalsecrets", "eso_secretstores", "eso_pushsecrets", "k8s_rbac"].iter().map(|s| manifests(&h.ws.ledger(), s).len()).collect();
    let again = h.collect().expect(0);
    assert_eq!(again.stdout.matches(" 0 new observations").count(), 2, "{}", again.stdout);
    assert!(again.stdout.contains("not written again"), "{}", again.stdout);
    let after: Vec<usize> =
        ["eso_events", "eso_externalsecrets", "eso_secretstores", "eso_pushsecrets", "k8s_rbac"].iter().map(|s| manifests(&h.ws.ledger(), s).len()).collect();
    assert_eq!(before, after, "a re-run commits nothing");
    keytrail(&h.ws.ledger(), &["verify"]).expect(0);
}

/// Every (event_uid, resource_version) row of `eso_events`.
fn observations(ledger: &std::path::Path) -> Vec<(String, String)> {
    let mut observations = Vec::new();
    for batch in batches(ledger, "eso_events") {
        let uid = batch.column_by_name("event_uid").unwrap().as_string::<i32>().clone();
        let rv = batch.column_by_name("resource_version").unwrap().as_string::<i32>().clone();
        observations.extend((0..batch.num_rows()).map(|i| (uid.value(i).to_string(), rv.value(i).to_string())));
    }
    observations
}

fn assert_each_once(observations: &[(String, String)]) {
    let mut unique = observations.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), observations.len(), "no observation twice");
}

#[test]
fn an_expired_continue_token_resumes_the_list_from_the_token_the_410_gives() {
    let api = KubernetesApi::default();
    let expected: usize = ["aks-dev", "aks-prod"].iter().map(|c| served_events(&api, c).len()).sum();
    let plain = harness(api.clone(), 3);
    plain.collect().expect(0);
    let rows_served = |h: &Harness| h.emulator.stats().rows_served.load(std::sync::atomic::Ordering::Relaxed);

    let h = harness(api, 3);
    // The first page of the first list passes; its continue token is then too old.
    h.emulator.faults().extend([Fault::Pass, Fault::ExpiredContinue]);
    let run = h.collect().expect(0);
    assert!(run.stdout.contains("1 expired continue tokens"), "{}", run.stdout);
    assert_eq!(rows_served(&h), rows_served(&plain), "the list went on from the next key, not from the start");
    let observations = observations(&h.ws.ledger());
    assert_each_once(&observations);
    assert_eq!(observations.len(), expected);
    // The revision moved on because an event after the resume point repeated: the list met
    // it once, in its new state.
    let repeated: Vec<_> = observations.iter().filter(|(_, rv)| rv == "812346").collect();
    assert_eq!(repeated.len(), 1, "{observations:?}");
    // That event is above the list's first revision: remembered, so a second run adds nothing.
    let again = h.collect().expect(0);
    assert_eq!(again.stdout.matches(" 0 new observations").count(), 2, "{}", again.stdout);
    assert_eq!(self::observations(&h.ws.ledger()).len(), expected);
}

#[test]
fn a_run_that_fails_part_way_is_taken_up_without_adding_anything_twice() {
    let api = KubernetesApi::default();
    let expected: usize = ["aks-dev", "aks-prod"].iter().map(|c| served_events(&api, c).len()).sum();
    let h = harness(api, 3);
    let text = std::fs::read_to_string(&h.config).unwrap().replace("[kubernetes]\n", "[kubernetes]\ncommit_rows = 4\n");
    std::fs::write(&h.config, text).unwrap();
    // aks-dev's first events list: two pages of three (one commit of four), then a failure.
    h.emulator.faults().extend([Fault::Pass, Fault::Pass, Fault::ServerError { status: 500 }]);
    let failed = h.collect();
    assert_eq!(failed.code, 6, "{}\n{}", failed.stdout, failed.stderr);
    assert!(failed.stdout.contains("kubernetes aks-dev: NOT COLLECTED"), "{}", failed.stdout);
    let first = observations(&h.ws.ledger());
    let dev_committed = string_column(&h.ws.ledger(), "eso_events", "cluster_name").iter().filter(|c| *c == "aks-dev").count();
    assert_eq!(dev_committed, 4, "what aks-dev's list met before the failure was committed");

    let run = h.collect().expect(0);
    let all = observations(&h.ws.ledger());
    assert_each_once(&all);
    assert_eq!(all.len(), expected, "{}", run.stdout);
    assert!(first.iter().all(|o| all.contains(o)));
    keytrail(&h.ws.ledger(), &["verify"]).expect(0);
}

#[test]
fn a_refused_token_names_the_cluster_and_what_to_do_and_never_the_token() {
    let h = harness(KubernetesApi::default(), 500);
    let kubeconfig = h.ws.path().join("client/kubeconfig");
    let wrong = "wrong-token-9b8c7d6e";
    let text = std::fs::read_to_string(&kubeconfig).unwrap().replace("emulator-kubernetes-token", wrong);
    std::fs::write(&kubeconfig, text).unwrap();
    // Only aks-dev's user is wrong: aks-prod is still collected, and the run says it is
    // incomplete (exit 6) rather than losing every cluster's evidence.
    let text = std::fs::read_to_string(&kubeconfig).unwrap().replace(
        "- name: aks-prod\n  context:\n    cluster: aks-prod\n    user: keytrail\n",
        "- name: aks-prod\n  context:\n    cluster: aks-prod\n    user: good\n",
    );
    let text = format!("{text}- name: good\n  user:\n    token: emulator-kubernetes-token\n");
    std::fs::write(&kubeconfig, text).unwrap();
    let run = h.collect();
    assert_eq!(run.code, 6, "{}\n{}", run.stdout, run.stderr);
    let failed = run.stdout.lines().find(|l| l.starts_with("kubernetes aks-dev: NOT COLLECTED")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(failed.contains("401") && failed.contains("refused the credentials"), "{failed}");
    assert!(run.stdout.contains("kubernetes aks-prod (v1.33.5)"), "{}", run.stdout);
    assert!(!run.stderr.contains(wrong) && !run.stdout.contains(wrong));
    let clusters = string_column(&h.ws.ledger(), "eso_events", "cluster_name");
    assert!(!clusters.is_empty() && clusters.iter().all(|c| c == "aks-prod"), "only the cluster that answered is written");
    // The hole is on record where the coverage view, its control and the pack look.
    assert_eq!(string_column(&h.ws.ledger(), "collection_gaps", "workspace"), ["aks-dev"]);
    assert_eq!(string_column(&h.ws.ledger(), "collection_gaps", "table_name"), ["kubernetes aks-dev"]);
    let view = keytrail(&h.ws.ledger(), &["sql", "SELECT source, table_name, stream FROM coverage_gaps", "--format", "json"]).expect(0);
    let gaps: Value = serde_json::from_str(&view.stdout).unwrap();
    assert_eq!(
        gaps,
        serde_json::json!([{"source": "kubernetes", "table_name": "kubernetes aks-dev", "stream": "eso_events"}]),
        "the pack's coverage section reads this view"
    );
    let reason = string_column(&h.ws.ledger(), "collection_gaps", "reason");
    assert!(reason[0].contains("401") && !reason[0].contains(wrong), "{reason:?}");
}

#[cfg(unix)]
#[test]
fn an_exec_credential_plugin_supplies_the_token() {
    use std::os::unix::fs::PermissionsExt;
    let h = harness(KubernetesApi::default(), 500);
    let plugin = h.ws.path().join("client/credential-plugin.sh");
    std::fs::write(
        &plugin,
        "#!/bin/sh\n# Prints an ExecCredential, as kubelogin does.\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"emulator-kubernetes-token\"}}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kubeconfig = h.ws.path().join("client/kubeconfig");
    let text = std::fs::read_to_string(&kubeconfig).unwrap().replace(
        "    token: emulator-kubernetes-token\n",
        &format!("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n", plugin.display()),
    );
    assert!(text.contains("exec:"), "{text}");
    std::fs::write(&kubeconfig, text).unwrap();
    let run = h.collect().expect(0);
    assert!(run.stdout.contains("kubernetes aks-prod"), "{}", run.stdout);
    assert!(!string_column(&h.ws.ledger(), "eso_events", "event_uid").is_empty());
}

#[test]
fn snapshots_are_typed_and_rbac_keeps_only_grants_on_secrets_and_eso() {
    let h = harness(KubernetesApi::default(), 2);
    h.collect().expect(0);
    let ledger = h.ws.ledger();
    let intervals = intervals(&ledger);
    let interval = |name: &str| intervals.iter().filter(|(n, _)| n == name).map(|(_, s)| *s).collect::<Vec<_>>();
    assert_eq!(interval("signing-key"), [Some(86_400)], "24h");
    assert!(interval("oidc-client").contains(&Some(3600)), "1h0m0s");
    assert_eq!(interval("legacy-config"), [None], "no refreshInterval: none recorded");
    let remote_keys: Vec<Vec<String>> = batches(&ledger, "eso_externalsecrets")
        .iter()
        .flat_map(|b| {
            let list = b.column_by_name("remote_keys").unwrap().as_list::<i32>().clone();
            (0..b.num_rows()).map(move |i| list.value(i).as_string::<i32>().iter().flatten().map(str::to_string).collect::<Vec<_>>()).collect::<Vec<_>>()
        })
        .collect();
    assert!(remote_keys.iter().any(|k| k == &["/dev/orders/legacy-config".to_string()]), "dataFrom extract keys count: {remote_keys:?}");
    let ready = string_column(&ledger, "eso_externalsecrets", "ready_reason");
    assert!(ready.contains(&"SecretSyncedError".to_string()));

    let providers = string_column(&ledger, "eso_secretstores", "provider");
    assert!(providers.contains(&"aws".to_string()) && providers.contains(&"akeyless".to_string()));
    let auth = string_column(&ledger, "eso_secretstores", "akeyless_auth_kind");
    assert!(auth.contains(&"kubernetesAuth".to_string()) && auth.contains(&"secretRef".to_string()));
    let access_ids = string_column(&ledger, "eso_secretstores", "akeyless_access_id");
    assert!(access_ids.contains(&"p-prodk8s01".to_string()));
    assert_eq!(string_column(&ledger, "eso_pushsecrets", "name"), ["push-db-dsn"]);

    let names = string_column(&ledger, "k8s_rbac", "name");
    assert!(names.contains(&"orders-api-secrets".to_string()));
    assert!(names.contains(&"cluster-admin".to_string()), "`*` on `*` includes Secrets");
    assert!(!names.iter().any(|n| n == "pod-reader" || n == "view" || n == "view-all"), "{names:?}");
    let mut wildcard_subjects = Vec::new();
    for batch in batches(&ledger, "k8s_rbac") {
        let kind = batch.column_by_name("kind").unwrap().as_string::<i32>().clone();
        let wildcard = batch.column_by_name("wildcard").unwrap().as_boolean().clone();
        let subjects = batch.column_by_name("subjects").unwrap().as_list::<i32>().clone();
        for i in 0..batch.num_rows() {
            if kind.value(i) == "RoleBinding" && wildcard.value(i) {
                wildcard_subjects.extend(subjects.value(i).as_string::<i32>().iter().flatten().map(str::to_string));
            }
        }
    }
    assert_eq!(wildcard_subjects, ["ServiceAccount:orders/orders-api"]);
}

#[test]
fn an_event_seen_again_with_a_higher_count_is_a_new_observation() {
    let api = KubernetesApi::default();
    let h = harness(api.clone(), 500);
    h.collect().expect(0);
    let first = string_column(&h.ws.ledger(), "eso_events", "event_uid").len();

    // The API server merges a repeat into the newest event: count + 1, new resourceVersion.
    let mut changed = api.clone();
    let events = changed.clusters.get_mut("aks-dev").unwrap().get_mut("events").unwrap();
    let newest = events.iter_mut().max_by_key(|e| e["lastTimestamp"].as_str().unwrap().to_string()).unwrap();
    let uid = newest["metadata"]["uid"].as_str().unwrap().to_string();
    let count = newest["count"].as_i64().unwrap();
    newest["count"] = (count + 1).into();
    newest["metadata"]["resourceVersion"] = "900001".into();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut config = EmulatorConfig::new(keytrail_emulator::dataset::Dataset::new());
    config.kubernetes = KubernetesApi { event_ttl: None, ..changed };
    let emulator = runtime.block_on(Emulator::start(config)).unwrap();
    let config = write_config(&emulator, &h.ws, 500);
    let run = keytrail(&h.ws.ledger(), &["collect", "--config", config.to_str().unwrap(), "--source", "kubernetes"]).expect(0);
    assert!(run.stdout.contains("1 new observations"), "{}", run.stdout);
    let uids = string_column(&h.ws.ledger(), "eso_events", "event_uid");
    assert_eq!(uids.len(), first + 1);
    assert_eq!(uids.iter().filter(|u| **u == uid).count(), 2, "two observations of the same event");
    let counts: Vec<i64> = batches(&h.ws.ledger(), "eso_events")
        .iter()
        .flat_map(|b| {
            let uids = b.column_by_name("event_uid").unwrap().as_string::<i32>().clone();
            let counts = b.column_by_name("count").unwrap().as_primitive::<Int64Type>().clone();
            (0..b.num_rows()).filter(|i| uids.value(*i) == uid).map(|i| counts.value(i)).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(counts, [count, count + 1]);
}
