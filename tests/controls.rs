//! `keytrail evaluate` on the sample month: the planted violations are found, clean data is
//! ok, no data is insufficient evidence, and exceptions apply until they expire.

mod common;

use common::{Workspace, keytrail};
use keytrail_emulator::sample_month;
use serde_json::Value;

/// A ledger with everything the emulator serves for the sample month.
fn sample_ledger() -> Workspace {
    let ws = Workspace::new();
    common::collect_sample(&ws, keytrail_emulator::SAMPLE_TABLES, &[]);
    ws
}

/// What the sample organisation declares (its environments, what its identity provider
/// enforces), as `keytrail demo` adds it to its configuration.
fn organisation(ws: &Workspace) -> String {
    let path = ws.path().join("organisation.toml");
    std::fs::write(&path, include_str!("../sample-data/organisation.toml")).unwrap();
    path.to_str().unwrap().to_string()
}

fn evaluate(ws: &Workspace, extra: &[&str]) -> Vec<Value> {
    let config = organisation(ws);
    let mut args = vec!["evaluate", "--period", "2026-11", "--format", "json", "--config", &config];
    args.extend_from_slice(extra);
    let run = keytrail(&ws.ledger(), &args).expect(0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    report["controls"].as_array().unwrap().clone()
}

fn verdict<'a>(report: &'a [Value], id: &str) -> &'a Value {
    &report.iter().find(|c| c["control"] == id).unwrap_or_else(|| panic!("no control {id}"))["verdict"]
}

fn alarms(v: &Value) -> Vec<String> {
    with_status(v, "alarm")
}

fn with_status(v: &Value, status: &str) -> Vec<String> {
    v["findings"].as_array().unwrap().iter().filter(|f| f["status"] == status).map(|f| f["resource"].as_str().unwrap().to_string()).collect()
}

/// The reason of the finding about `resource`.
fn reason(v: &Value, resource: &str) -> String {
    let finding = v["findings"].as_array().unwrap().iter().find(|f| f["resource"] == resource).unwrap_or_else(|| panic!("no finding {resource}: {v}"));
    finding["reason"].as_str().unwrap().to_string()
}

#[test]
fn the_planted_violations_are_found_and_the_rest_is_ok() {
    let ws = sample_ledger();
    let report = evaluate(&ws, &[]);
    let month = sample_month::generate(sample_month::SEED);

    let cross = verdict(&report, "cross-env-secret-read");
    assert_eq!(cross["status"], "alarm");
    assert_eq!(alarms(cross), vec!["/k8s/aks-dev (p-devk8s01) read /prod/payments/stripe-api-key"; 2]);
    assert!(cross["counts"]["ok"].as_u64().unwrap() > 100, "production reads by production identities are ok");
    assert_eq!(cross["counts"]["unknown"], Value::Null, "the console admin is declared production: {cross}");
    let why = reason(cross, "/k8s/aks-dev (p-devk8s01) read /prod/payments/stripe-api-key");
    assert!(
        why.contains("of [environments.dev]: its SecretStores are in aks-dev")
            && why.contains("production item /prod/payments/stripe-api-key of [environments.prod]"),
        "{why}"
    );

    let human = verdict(&report, "human-k8s-secret-read");
    let alice = month["AKSAudit"].iter().filter(|r| r["User"]["username"] == "alice@contoso.com" && r["ObjectRef"]["resource"] == "secrets").count();
    assert_eq!(alarms(human).len(), alice);
    assert!(alarms(human).iter().all(|r| r.starts_with("alice@contoso.com")));

    let burst = verdict(&report, "auth-failure-burst");
    assert_eq!(alarms(burst), vec!["203.0.113.77 at 2026-11-18T14:00:00Z"]);

    // The password admin's MFA is evidenced by nothing: unknown, not "without MFA".
    let mfa = verdict(&report, "privileged-change-without-mfa");
    assert_eq!(mfa["status"], "insufficient_evidence", "{mfa}");
    assert!(alarms(mfa).is_empty());
    let unknown = with_status(mfa, "unknown");
    assert_eq!(unknown.len(), 2);
    assert!(unknown.iter().all(|r| r.starts_with("/users/admin-password (p-pwadmin01) ")), "{unknown:?}");
    let why = reason(mfa, &unknown[0]);
    assert!(why.contains("MFA not evidenced: Akeyless reports no MFA type for this email auth method"), "{why}");
    assert!(mfa["counts"]["ok"].as_u64().unwrap() >= 2, "changes by the SAML user, whose identity provider enforces MFA, are ok");

    assert_eq!(alarms(verdict(&report, "role-shared-across-clusters")), vec!["eso-reader"]);

    let rotation = alarms(verdict(&report, "rotation-overdue"));
    assert_eq!(
        rotation,
        ["/prod/legacy/ldap-bind", "/prod/legacy/ldap-bind rotator", "/prod/payments/stripe-api-key"],
        "weekly-rotated and recently changed secrets are on time"
    );
    let overdue = verdict(&report, "rotation-overdue");
    assert!(reason(overdue, "/prod/legacy/ldap-bind").starts_with("rotated secret, last rotated 2026-07-15T03:00:04Z, more than 90 days"), "{overdue}");
    assert!(reason(overdue, "/prod/legacy/ldap-bind rotator").contains("LDAP Result Code 49"), "{overdue}");
    assert!(reason(overdue, "/prod/payments/stripe-api-key").starts_with("static secret, version 1 created 2025-01-10T09:00:00Z"), "{overdue}");

    // ESO and RBAC, from the clusters' Kubernetes API.
    let sync = alarms(verdict(&report, "eso-sync-health"));
    assert!(sync.contains(&"aks-dev/orders/legacy-config".to_string()), "never synced: {sync:?}");
    assert!(sync.contains(&"aks-prod/payments/db-credentials".to_string()), "UpdateFailed burst: {sync:?}");
    assert!(sync.contains(&"aks-dev/payments/db-credentials".to_string()), "authentication failed: {sync:?}");
    assert!(!sync.contains(&"aks-prod/identity/oidc-client".to_string()), "{sync:?}");
    let stores = alarms(verdict(&report, "eso-store-provider"));
    assert_eq!(stores, ["aks-dev/SecretStore/orders/akeyless-legacy", "aks-prod/SecretStore/payments/aws-secrets"]);
    assert_eq!(alarms(verdict(&report, "eso-refresh-interval")), ["aks-prod/identity/signing-key"], "24h in production; dev is not judged");
    assert_eq!(
        alarms(verdict(&report, "k8s-secrets-wildcard-grant")),
        ["aks-prod/RoleBinding/orders/orders-api-secrets"],
        "cluster-admin for system:masters is ok"
    );
    let latency = verdict(&report, "rotation-sync-latency");
    let late = alarms(latency);
    assert_eq!(late.len(), 1, "{late:?}");
    assert!(late[0].starts_with("/prod/payments/db-password -> aks-prod/payments/db-credentials at 2026-11-16"), "{late:?}");
    let why = reason(latency, &late[0]);
    assert!(why.contains("Secret updated 560 min later; limit 135 min (refreshInterval 7200 s + 15 min grace"), "{why}");
    assert!(latency["counts"]["ok"].as_u64().unwrap() >= 10, "the other weekly rotations synced within the hour");

    assert_eq!(verdict(&report, "collection-coverage")["status"], "ok");
    assert_eq!(verdict(&report, "ledger-integrity")["status"], "ok");
    // aks-prod sent nothing on the 14th from 01:00 to 07:00 (its audit log's next row is
    // ESO's refresh at 08:00).
    assert_eq!(
        alarms(verdict(&report, "silent-sources")),
        ["aks_audit aks-prod from 2026-11-14T01:00:00Z", "kube_pod_inventory aks-prod from 2026-11-14T01:00:00Z"]
    );
    let silent = verdict(&report, "silent-sources");
    assert!(
        reason(silent, "aks_audit aks-prod from 2026-11-14T01:00:00Z").starts_with("no rows for 7 hours, from 2026-11-14T01:00:00Z to 2026-11-14T08:00:00Z"),
        "{silent}"
    );
    assert!(reason(silent, "kube_pod_inventory aks-prod from 2026-11-14T01:00:00Z").starts_with("no rows for 6 hours"), "{silent}");

    // Per requirement of a framework: the worst verdict of the controls that cover it.
    let config = organisation(&ws);
    let run = keytrail(&ws.ledger(), &["evaluate", "--period", "2026-11", "--framework", "hipaa", "--format", "json", "--config", &config]).expect(0);
    let hipaa: Value = serde_json::from_str(&run.stdout).unwrap();
    let requirement = |id: &str| hipaa["requirements"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(requirement("164.312(c)(1)")["status"], "satisfied");
    assert_eq!(requirement("164.312(c)(1)")["controls"], serde_json::json!(["ledger-integrity"]));
    assert_eq!(requirement("164.312(b)")["status"], "not_satisfied", "human Secret reads are audit findings");
    assert_eq!(requirement("164.312(d)")["status"], "insufficient_evidence", "MFA not evidenced for the password admin");
    assert_eq!(requirement("164.310(a)(1)")["status"], "manual");
    assert!(hipaa["controls"].as_array().unwrap().iter().all(|c| c["frameworks"]["hipaa"].is_array()));
    let unknown = keytrail(&ws.ledger(), &["evaluate", "--period", "2026-11", "--framework", "pci"]).expect(2);
    assert!(unknown.stderr.contains("unknown framework 'pci'"), "{}", unknown.stderr);
}

#[test]
fn a_period_without_evidence_is_never_a_pass() {
    let ws = sample_ledger();
    let config = organisation(&ws);
    let run = keytrail(&ws.ledger(), &["evaluate", "--period", "2026-09", "--format", "json", "--config", &config]).expect(0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let report = report["controls"].as_array().unwrap();
    for id in ["cross-env-secret-read", "human-k8s-secret-read", "auth-failure-burst", "privileged-change-without-mfa", "collection-coverage", "silent-sources"]
    {
        assert_eq!(verdict(report, id)["status"], "insufficient_evidence", "{id}");
    }
    // Configuration evidence is the snapshot nearest the period's end, whenever it was taken.
    assert_eq!(verdict(report, "role-shared-across-clusters")["status"], "alarm");
}

/// The configuration fixed after the month and snapshotted again: the month is still
/// judged by the snapshot nearest its end (the one the monthly run took), a later month by
/// the new one, so a pack regenerated later says what the first one said.
#[test]
fn configuration_is_judged_by_the_snapshot_nearest_the_period_end() {
    use keytrail_emulator::{Emulator, EmulatorConfig};
    let ws = sample_ledger();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let fixed = runtime.block_on(Emulator::start(EmulatorConfig::clean_month())).unwrap();
    let config = fixed.write_client_files(&ws.path().join("fixed"), &[], "").unwrap();
    let config = config.to_str().unwrap();
    keytrail(&ws.ledger(), &["collect", "--config", config, "--source", "akeyless-api", "--source", "kubernetes"]).expect(0);
    assert_eq!(common::manifests(&ws.ledger(), "akeyless_roles").len(), 2, "two Akeyless snapshots");

    let configuration =
        ["role-shared-across-clusters", "rotation-overdue", "eso-sync-health", "eso-store-provider", "eso-refresh-interval", "k8s-secrets-wildcard-grant"];
    let november = evaluate(&ws, &[]);
    for id in configuration {
        assert_eq!(verdict(&november, id)["status"], "alarm", "{id}: November's snapshot, taken first, is nearer its end");
    }
    assert_eq!(alarms(verdict(&november, "role-shared-across-clusters")), vec!["eso-reader"]);

    // A month ending long after both snapshots: the later one, with everything fixed.
    let config = organisation(&ws);
    let run = keytrail(&ws.ledger(), &["evaluate", "--period", "2099-12", "--format", "json", "--config", &config]).expect(0);
    let later: Value = serde_json::from_str(&run.stdout).unwrap();
    let later = later["controls"].as_array().unwrap();
    for id in configuration.iter().filter(|id| **id != "rotation-overdue") {
        assert_eq!(verdict(later, id)["status"], "ok", "{id}: {}", verdict(later, id));
    }
    // By 2099 every rotation is overdue; the static secret fixed after November is not there.
    let legacy = "/prod/legacy/ldap-bind".to_string();
    assert!(alarms(verdict(&november, "rotation-overdue")).contains(&legacy));
    assert!(!alarms(verdict(later, "rotation-overdue")).contains(&legacy));
}

/// An ExternalSecret deleted after the month: the rotations of the item it read are still
/// mapped to it by the snapshot taken nearest each rotation, so the late sync stays found.
#[test]
fn rotations_are_mapped_to_external_secrets_by_the_snapshot_nearest_them() {
    use keytrail_emulator::{Emulator, EmulatorConfig, dataset::Dataset};
    let ws = sample_ledger();
    let late = alarms(verdict(&evaluate(&ws, &[]), "rotation-sync-latency"));
    assert_eq!(late.len(), 1, "{late:?}");

    let mut config = EmulatorConfig::new(Dataset::sample_month());
    let prod = config.kubernetes.clusters.get_mut("aks-prod").expect("the sample's production cluster");
    let external = prod.get_mut("externalsecrets").expect("ExternalSecrets");
    let count = external.len();
    external.retain(|e| !(e["metadata"]["namespace"] == "payments" && e["metadata"]["name"] == "db-credentials"));
    assert_eq!(external.len(), count - 1, "the ExternalSecret of the late sync is deleted");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let later = runtime.block_on(Emulator::start(config)).unwrap();
    let client = later.write_client_files(&ws.path().join("later"), &[], "").unwrap();
    keytrail(&ws.ledger(), &["collect", "--config", client.to_str().unwrap(), "--source", "kubernetes"]).expect(0);
    let run = keytrail(
        &ws.ledger(),
        &["sql", "SELECT count(DISTINCT snapshot_time) AS n FROM eso_externalsecrets WHERE cluster_name = 'aks-prod'", "--format", "csv"],
    )
    .expect(0);
    assert_eq!(run.stdout, "n\n2\n", "a second snapshot of aks-prod");

    assert_eq!(alarms(verdict(&evaluate(&ws, &[]), "rotation-sync-latency")), late);
}

#[test]
fn exceptions_apply_until_they_expire() {
    let ws = sample_ledger();
    let file = ws.path().join("exceptions.toml");
    std::fs::write(
        &file,
        r#"
[[exception]]
control = "human-k8s-secret-read"
resource = "alice@contoso.com get payments/*"
owner = "platform-team"
justification = "break-glass incident INC-4711"
expires = 2026-12-31

[[exception]]
control = "role-shared-across-clusters"
resource = "eso-reader"
owner = "platform-team"
justification = "migration to per-cluster roles"
expires = 2026-10-15
"#,
    )
    .unwrap();
    let report = evaluate(&ws, &["--exceptions", file.to_str().unwrap()]);
    let human = verdict(&report, "human-k8s-secret-read");
    assert_eq!(human["counts"]["excepted"], 3);
    assert_eq!(alarms(human), vec!["alice@contoso.com list identity/ on aks-prod"]);
    let excepted = human["findings"].as_array().unwrap().iter().find(|f| f["status"] == "excepted").unwrap();
    assert!(excepted["exception"].as_str().unwrap().contains("INC-4711"));

    let role = verdict(&report, "role-shared-across-clusters");
    assert_eq!(alarms(role), vec!["eso-reader"], "an expired exception does not apply");
    assert_eq!(role["expired_exceptions"][0]["resource"], "eso-reader");

    let bad = ws.path().join("bad.toml");
    std::fs::write(&bad, "[[exception]]\ncontrol = \"x\"\n").unwrap();
    let run = keytrail(&ws.ledger(), &["evaluate", "--period", "2026-11", "--exceptions", bad.to_str().unwrap()]).expect(2);
    assert!(run.stderr.contains("bad.toml") && run.stderr.contains("missing field"), "{}", run.stderr);
}

#[test]
fn clean_activity_is_ok() {
    let ws = Workspace::new();
    let file = ws.path().join("akeyless-log/2026/11/02/akeyless-audit_2026-11-02T00:00.log");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let line = |i: u32| {
        format!(
            r#"{{"timestamp":"2026-11-02T10:{i:02}:00Z","access_id":"p-prodk8s01","action":"get_secret_value","item_name":"/prod/db","status":200,"client_sub_claims":{{"cluster":"aks-prod"}}}}"#
        )
    };
    std::fs::write(&file, (0..5).map(|i| line(i) + "\n").collect::<String>()).unwrap();
    keytrail(&ws.ledger(), &["ingest", "--format", "akeyless", file.to_str().unwrap()]).expect(0);
    let report = evaluate(&ws, &[]);
    // Who p-prodk8s01 is, only an Akeyless configuration snapshot says: none was taken.
    let cross = verdict(&report, "cross-env-secret-read");
    assert_eq!(cross["status"], "insufficient_evidence");
    assert_eq!(cross["detail"], "akeyless_auth_methods holds no rows for the period");
    assert_eq!(verdict(&report, "auth-failure-burst")["status"], "ok");
    assert_eq!(verdict(&report, "human-k8s-secret-read")["status"], "insufficient_evidence", "no Kubernetes data at all");
}

/// The sample month done right in every source (Log Analytics, forwarded Akeyless
/// records, the Akeyless API, both clusters' Kubernetes API): every control is ok.
#[test]
fn a_clean_month_is_ok_on_every_control() {
    use keytrail_emulator::{Emulator, EmulatorConfig, SAMPLE_TABLES};
    let ws = Workspace::new();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let emulator = runtime.block_on(Emulator::start(EmulatorConfig::clean_month())).unwrap();
    let config = emulator.write_client_files(&ws.path().join("client"), SAMPLE_TABLES, "window_minutes = 1440\n").unwrap();
    keytrail(&ws.ledger(), &["collect", "--config", config.to_str().unwrap(), "--since", "2026-11-01", "--until", "2026-12-02"]).expect(0);
    let report = evaluate(&ws, &[]);
    for control in &report {
        assert_eq!(control["verdict"]["status"], "ok", "{}: {}", control["control"], control["verdict"]);
    }
    assert!(report.len() >= 13, "every control of the catalog ran");
}

/// No evidence at all: every control but the ledger's own check says so.
#[test]
fn an_empty_ledger_is_insufficient_evidence_on_every_control() {
    let ws = Workspace::new();
    let file = ws.path().join("notes.jsonl");
    std::fs::write(&file, "{\"time\":\"2026-11-02T10:00:00Z\",\"note\":\"unrelated\"}\n").unwrap();
    keytrail(&ws.ledger(), &["ingest", "--stream", "notes", "--time-field", "time", file.to_str().unwrap()]).expect(0);
    for control in evaluate(&ws, &[]) {
        let expected = if control["control"] == "ledger-integrity" { "ok" } else { "insufficient_evidence" };
        assert_eq!(control["verdict"]["status"], expected, "{}: {}", control["control"], control["verdict"]);
    }
}

/// For every control that finds something in the sample month: an exception in force turns
/// its finding into `excepted`, an expired one leaves the finding an alarm and is reported.
#[test]
fn exceptions_apply_to_every_control_until_they_expire() {
    let ws = sample_ledger();
    let report = evaluate(&ws, &[]);
    let mut file = String::new();
    let mut cases = Vec::new();
    let exception = |control: &str, resource: &str, expires: &str| {
        let quoted = serde_json::to_string(resource).unwrap();
        format!(
            "[[exception]]\ncontrol = \"{control}\"\nresource = {quoted}\nowner = \"owner@contoso.example\"\njustification = \"test\"\nexpires = {expires}\n\n"
        )
    };
    for control in &report {
        let id = control["control"].as_str().unwrap();
        let found = alarms(&control["verdict"]);
        let Some(first) = found.first() else { continue };
        file += &exception(id, first, "2099-12-31");
        let second = found.iter().find(|r| *r != first).cloned();
        if let Some(second) = &second {
            file += &exception(id, second, "2026-10-01");
        }
        cases.push((id.to_string(), first.clone(), second));
    }
    assert!(cases.len() >= 10, "the sample month finds something for most controls: {cases:?}");
    let path = ws.path().join("every-exception.toml");
    std::fs::write(&path, file).unwrap();
    let excepted = evaluate(&ws, &["--exceptions", path.to_str().unwrap()]);
    for (id, first, second) in cases {
        let v = verdict(&excepted, &id);
        let findings = v["findings"].as_array().unwrap();
        assert!(findings.iter().filter(|f| f["resource"] == first.as_str()).all(|f| f["status"] == "excepted"), "{id}: {first} is excepted");
        assert!(!alarms(v).contains(&first), "{id}");
        if let Some(second) = second {
            assert!(alarms(v).contains(&second), "{id}: an expired exception does not apply to {second}");
            assert!(v["expired_exceptions"].as_array().unwrap().iter().any(|e| e["resource"] == second.as_str()), "{id}");
        }
    }
}

#[test]
fn a_cluster_no_environment_names_is_unknown_never_judged_by_its_name() {
    let ws = sample_ledger();
    // Only the production cluster declared: aks-dev's ExternalSecrets are not guessed to be
    // anything from their cluster's name.
    let config = ws.path().join("only-prod.toml");
    std::fs::write(&config, "[environments.prod]\nproduction = true\nclusters = [\"aks-prod\"]\n").unwrap();
    let run = keytrail(&ws.ledger(), &["evaluate", "--period", "2026-11", "--format", "json", "--config", config.to_str().unwrap()]).expect(0);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let refresh = verdict(report["controls"].as_array().unwrap(), "eso-refresh-interval").clone();
    assert_eq!(alarms(&refresh), ["aks-prod/identity/signing-key"]);
    let unknown = with_status(&refresh, "unknown");
    assert!(!unknown.is_empty() && unknown.iter().all(|r| r.starts_with("aks-dev/")), "{refresh}");
    assert!(reason(&refresh, &unknown[0]).contains("cluster aks-dev is in no [environments] entry"), "{refresh}");
}
