//! `keytrail evaluate` over the vendor-shaped month (`keytrail_emulator::vendor_month`,
//! October 2026): every control finds exactly its planted problems, with reasons the data
//! bears out, and flags none of the look-alikes beside them.

mod common;

use common::{Workspace, keytrail};
use keytrail_emulator::vendor_month;
use serde_json::Value;

/// The month collected from the emulator (Log Analytics, both clusters, the Akeyless API,
/// the forwarded files) into a fresh ledger, with Fabrikam's configuration.
struct Month {
    ws: Workspace,
    config: std::path::PathBuf,
}

fn collect() -> Month {
    use keytrail_emulator::{Emulator, EmulatorConfig};
    let ws = Workspace::new();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let emulator = runtime.block_on(Emulator::start(EmulatorConfig::vendor_month())).unwrap();
    let client = emulator.write_client_files(&ws.path().join("client"), vendor_month::TABLES, "window_minutes = 1440\n").unwrap();
    for (path, text) in vendor_month::forwarded_files(&vendor_month::generate()) {
        let path = ws.path().join("forwarded").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let text = std::fs::read_to_string(&client).unwrap();
    let config = ws.path().join("client").join("fabrikam.toml");
    let forwarded = ws.path().join("forwarded");
    std::fs::write(&config, format!("{text}\n[akeyless_logs]\nlocations = [\"{}\"]\n\n{}", forwarded.display(), vendor_month::ORGANISATION)).unwrap();
    keytrail(&ws.ledger(), &["collect", "--config", config.to_str().unwrap(), "--since", "2026-10-01", "--until", "2026-11-02"]).expect(0);
    Month { ws, config }
}

fn evaluate(month: &Month) -> Vec<Value> {
    let run = keytrail(&month.ws.ledger(), &["evaluate", "--period", "2026-10", "--config", month.config.to_str().unwrap(), "--format", "json"]).expect(0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    report["controls"].as_array().unwrap().clone()
}

fn verdict<'a>(report: &'a [Value], id: &str) -> &'a Value {
    &report.iter().find(|c| c["control"] == id).unwrap_or_else(|| panic!("no control {id}"))["verdict"]
}

/// (resource, reason) of the findings with `status`.
fn with_status(v: &Value, status: &str) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == status)
        .map(|f| (f["resource"].as_str().unwrap().to_string(), f["reason"].as_str().unwrap().to_string()))
        .collect()
}

fn resources(v: &Value, status: &str) -> Vec<String> {
    let mut r: Vec<String> = with_status(v, status).into_iter().map(|(r, _)| r).collect();
    r.sort();
    r
}

#[test]
fn every_control_finds_the_planted_problems_and_no_look_alike() {
    let month = collect();
    let report = evaluate(&month);
    let data = vendor_month::generate();
    let records: Vec<Value> = data["AkeylessAudit_CL"].iter().map(|r| serde_json::from_str(r["msg_s"].as_str().unwrap()).unwrap()).collect();

    // The dev cluster's auth method, known as dev only through its SecretStore.
    let cross = verdict(&report, "cross-env-secret-read");
    let dev_reads = records.iter().filter(|r| r["access_id"] == "p-x4kd9wz1c7" && r["item_name"].as_str().unwrap().starts_with("/prod/")).count();
    assert!(dev_reads > 700, "a month of hourly reads: {dev_reads}");
    let alarms = with_status(cross, "alarm");
    assert_eq!(alarms.len(), dev_reads);
    for (resource, reason) in &alarms {
        assert_eq!(resource, "/k8s/weu-cluster-b (p-x4kd9wz1c7) read /prod/billing/postgres");
        assert!(reason.contains("of [environments.development]") && reason.contains("its SecretStores are in aks-weu-dev-01"), "{reason}");
    }
    assert_eq!(cross["counts"]["unknown"], Value::Null, "every reader's environment is known: {cross}");
    assert!(cross["counts"]["ok"].as_u64().unwrap() > 5000, "production's own reads are ok");

    assert_eq!(resources(verdict(&report, "human-k8s-secret-read"), "alarm"), ["erin@fabrikam.com get payments/psp-api-key on aks-weu-prod-01"]);
    assert_eq!(verdict(&report, "auth-failure-burst")["status"], "ok");

    // MFA: evidenced for the password user with an app and the SAML admins, unknown for the
    // password user without, an alarm for the undeclared CI key; Terraform is declared.
    let mfa = verdict(&report, "privileged-change-without-mfa");
    let alarms = with_status(mfa, "alarm");
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0].0, "/ci/legacy-deployer (p-lg7dep0002) delete_role eso-staging");
    assert!(alarms[0].1.contains("a machine identity (api_key) that is not a declared automation identity"), "{}", alarms[0].1);
    let unknown = with_status(mfa, "unknown");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert_eq!(unknown[0].0, "/users/dave (p-d4v3pw4567) update_item /prod/legacy/ftp-password");
    assert!(unknown[0].1.contains("MFA not evidenced") && unknown[0].1.contains("email auth method"), "{}", unknown[0].1);
    assert_eq!(mfa["counts"]["ok"], 4, "carol (auth app), two SAML changes, Terraform: {mfa}");
    for f in mfa["findings"].as_array().unwrap() {
        assert!(!f["reason"].as_str().unwrap().contains("without MFA"), "no reason says what the data does not: {f}");
    }

    assert_eq!(verdict(&report, "role-shared-across-clusters")["status"], "ok");

    // Rotation: by the Item's own dates, versions when the older shape lacks them.
    let rotation = verdict(&report, "rotation-overdue");
    assert_eq!(resources(rotation, "alarm"), ["/prod/billing/postgres", "/prod/billing/postgres rotator", "/prod/payments/psp-api-key"]);
    let reasons: std::collections::BTreeMap<String, String> = with_status(rotation, "alarm").into_iter().collect();
    assert!(reasons["/prod/billing/postgres"].contains("last rotated 2026-06-30T02:00:13"), "{reasons:?}");
    assert!(reasons["/prod/billing/postgres rotator"].contains("password authentication failed"), "{reasons:?}");
    assert!(reasons["/prod/payments/psp-api-key"].contains("static secret, version 1 created 2025-10-02T14:30:00Z, more than 90 days"), "{reasons:?}");
    assert_eq!(resources(rotation, "unknown"), ["/prod/legacy/ftp-password"]);
    assert!(with_status(rotation, "unknown")[0].1.contains("unknown"), "{rotation}");
    assert_eq!(rotation["counts"]["ok"], 6, "elastic (80 days), redis (older shape, version of the 20th), webhook (version 7), mysql, mongo, dev: {rotation}");

    // Sync latency against each ExternalSecret's own refreshInterval.
    let latency = verdict(&report, "rotation-sync-latency");
    let late = with_status(latency, "alarm");
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0].0, "/prod/orders/mysql -> aks-weu-prod-01/orders/mysql at 2026-10-12T02:00:40Z");
    assert!(late[0].1.contains("Secret updated 50 min later; limit 30 min (refreshInterval 900 s + 15 min grace"), "{}", late[0].1);
    assert_eq!(latency["counts"]["ok"], 8, "mongo at 70 min within 1h + 15 min, mysql's other weeks, dev: {latency}");

    for id in ["eso-sync-health", "eso-store-provider", "eso-refresh-interval", "collection-coverage", "ledger-integrity"] {
        assert_eq!(verdict(&report, id)["status"], "ok", "{id}: {}", verdict(&report, id));
    }

    // RBAC: the application's wildcard, not AKS's own admin binding.
    let rbac = verdict(&report, "k8s-secrets-wildcard-grant");
    assert_eq!(resources(rbac, "alarm"), ["aks-weu-prod-01/RoleBinding/reports/reporting-secrets"]);
    let info = resources(rbac, "info");
    assert!(info.contains(&"aks-weu-prod-01/ClusterRoleBinding/aks-cluster-admin-binding-aad".to_string()), "{info:?}");
    assert!(
        info.iter().all(|r| r.contains("/ClusterRoleBinding/aks-cluster-admin-binding-aad") || r.contains("/ClusterRoleBinding/cluster-admin")),
        "{info:?}"
    );

    // Silence: the production audit log off for a day, an hour the file sink missed; the
    // ESO outage with the audit log going on is not silence.
    let silent = verdict(&report, "silent-sources");
    let alarms = with_status(silent, "alarm");
    assert_eq!(
        alarms.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(),
        ["akeyless_audit files missed 2026-10-09", "aks_audit aks-weu-prod-01 from 2026-10-14T00:00:00Z"],
        "{silent}"
    );
    assert!(alarms[1].1.starts_with("no rows for 24 hours, from 2026-10-14T00:00:00Z to 2026-10-15T00:00:00Z (limit 2 hours)"), "{}", alarms[1].1);
    let missed = records.iter().filter(|r| ("2026-10-09T10:00".."2026-10-09T11:00").contains(&r["timestamp"].as_str().unwrap())).count();
    assert!(alarms[0].1.starts_with(&format!("{missed} Akeyless records of 2026-10-09 reached")), "{}", alarms[0].1);
    assert_eq!(silent["counts"]["ok"], 5, "aks_audit of the dev cluster, pod inventory of both, both Akeyless sinks: {silent}");
}
