//! The generator of `sample-data/log-analytics/`: one deterministic month of the tables
//! keytrail collects, for two AKS clusters (`aks-prod`, `aks-dev`) running the External
//! Secrets Operator in `external-secrets` and reading secrets from Akeyless.
//!
//! Normal traffic: ESO refreshes every ExternalSecret every two hours (an Akeyless
//! `get_secret_value`, a Kubernetes Secret `get`, an ESO log line), Akeyless rotates the
//! database passwords weekly and ESO updates the Secrets after, pods are inventoried every
//! hour. The violations later controls must find:
//! - humans reading secrets: `alice@contoso.com` gets Secrets in `aks-prod` with kubectl,
//!   and `bob@contoso.com` reads a `/prod` item in the Akeyless console;
//! - cross-environment reads: the dev cluster's ESO identity reads `/prod/...` items;
//! - an authentication-failure burst: 40 failed Akeyless logins from one address in 15 min,
//!   and ESO's `UpdateFailed` warnings;
//! - RBAC changes on secrets (a RoleBinding and a ClusterRole) in the admin audit;
//! - a multi-hour gap: nothing at all from `aks-prod` on 2026-11-14 01:00–07:00.
//!
//! `aks-prod` sends its audit log to the resource-specific `AKSAudit`/`AKSAuditAdmin`
//! tables; `aks-dev` uses the older `AzureDiagnostics` form (`kube-audit`, JSON in `log_s`).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Map, Value, json};

/// The month the checked-in sample covers.
pub const MONTH: (i32, u32) = (2026, 11);
/// The seed the checked-in sample was generated with.
pub const SEED: u64 = 7;

const ESO_SA: &str = "system:serviceaccount:external-secrets:external-secrets";
const ESO_AGENT: &str = "external-secrets/v0.10.4 (linux/amd64) kubernetes/$Format";

struct Cluster {
    name: &'static str,
    env: &'static str,
    access_id: &'static str,
    egress_ip: &'static str,
    secrets: &'static [(&'static str, &'static str, &'static str)],
}

const CLUSTERS: [Cluster; 2] = [
    Cluster {
        name: "aks-prod",
        env: "prod",
        access_id: "p-prodk8s01",
        egress_ip: "20.61.14.7",
        secrets: &[
            ("payments", "db-credentials", "/prod/payments/db-password"),
            ("payments", "stripe-api-key", "/prod/payments/stripe-api-key"),
            ("orders", "db-credentials", "/prod/orders/db-password"),
            ("identity", "oidc-client", "/prod/identity/oidc-client-secret"),
            ("identity", "signing-key", "/prod/identity/jwt-signing-key"),
        ],
    },
    Cluster {
        name: "aks-dev",
        env: "dev",
        access_id: "p-devk8s01",
        egress_ip: "20.61.99.12",
        secrets: &[
            ("payments", "db-credentials", "/dev/payments/db-password"),
            ("orders", "db-credentials", "/dev/orders/db-password"),
            ("identity", "oidc-client", "/dev/identity/oidc-client-secret"),
        ],
    },
];

/// The sample Akeyless account's configuration as its API lists it: (items, roles, auth
/// methods), in the shapes of Akeyless's published SDK models (`Item`, `Role`,
/// `AuthMethod`; see `keytrail_collectors::akeyless_api::model`). Includes what the
/// configuration controls look for: a role associated with auth methods of both clusters,
/// a password admin whose MFA nothing evidences, a rotated secret not rotated for over 90
/// days whose rotator fails, a production static secret unchanged since it was created,
/// and item names that must be escaped in HTML and defused in CSV.
pub fn akeyless_config() -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    akeyless_config_with(Planted::Yes)
}

/// Whether a generated month carries the violations the controls must find, or is the
/// same operation done right (every control judges it ok).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Planted {
    /// The sample month, with its violations.
    Yes,
    /// A clean month.
    No,
}

/// The weekly rotations of a rotated secret up to the month's last Monday: `last_version`,
/// `last_rotation_date` and the newest `item_versions` as `/list-items` reports them.
fn rotated_item(name: &str, id: usize) -> Value {
    let rotations = ["2026-11-16T03:02:11Z", "2026-11-23T03:01:47Z", "2026-11-30T03:02:05Z"];
    let versions: Vec<Value> =
        rotations.iter().enumerate().map(|(i, t)| json!({"version": 52 + i, "creation_date": t, "item_version_state": "Enabled"})).collect();
    json!({"item_name": name, "item_id": id, "item_type": "ROTATED_SECRET", "item_state": "Enabled", "is_enabled": true,
        "auto_rotate": true, "rotation_interval": 7, "creation_date": "2025-01-10T09:00:00Z", "modification_date": rotations[2],
        "last_rotation_date": rotations[2], "next_rotation_date": "2026-12-07T03:00:00Z", "last_version": 54, "item_versions": versions,
        "item_general_info": {"rotated_secret_details": {"rotator_type": "password", "rotation_hour": 3}}})
}

/// A static secret whose value was last set (`version`) at `changed`.
fn static_item(name: &str, id: usize, version: u32, changed: &str) -> Value {
    json!({"item_name": name, "item_id": id, "item_type": "STATIC_SECRET", "item_state": "Enabled", "is_enabled": true,
        "auto_rotate": false, "creation_date": "2025-01-10T09:00:00Z", "modification_date": changed, "last_version": version,
        "item_versions": [{"version": version, "creation_date": if version == 1 { "2025-01-10T09:00:00Z" } else { changed }, "item_version_state": "Enabled"}]})
}

/// An auth method as `/list-auth-methods` lists it.
fn auth_method(name: &str, access_id: &str, id: u64, access_info: Value) -> Value {
    json!({"auth_method_name": name, "auth_method_access_id": access_id, "auth_method_id": id, "account_id": "acc-k3ytra1l0001",
        "creation_date": "2025-01-10T09:00:00Z", "access_info": access_info})
}

/// The sample's auth methods: each cluster's Kubernetes auth method (bound to ESO's
/// namespace and service account), the SAML console login, the rotator's API key and,
/// when `password_admin`, an email/password login that reports no MFA type.
fn auth_methods(password_admin: bool) -> Vec<Value> {
    let k8s = |cluster: &str, access_id: &str, id| {
        auth_method(
            &format!("/k8s/{cluster}"),
            access_id,
            id,
            json!({"rules_type": "k8s", "access_expires": 0, "force_sub_claims": true,
            "k8s_access_rules": {"bound_namespaces": ["external-secrets"], "bound_service_account_names": ["external-secrets"], "audience": ""}}),
        )
    };
    let mut methods = vec![k8s("aks-prod", "p-prodk8s01", 101), k8s("aks-dev", "p-devk8s01", 102)];
    if password_admin {
        methods.push(auth_method(
            "/users/admin-password",
            "p-pwadmin01",
            103,
            json!({"access_expires": 0, "email_pass_access_rules": {"email": "ops-admin@contoso.com"}}),
        ));
    }
    methods.push(auth_method("/saml/contoso", "p-saml0bob01", 104, json!({"rules_type": "saml2", "access_expires": 0,
        "saml_access_rules": {"idp_metadata_url": "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/federationmetadata/2007-06/federationmetadata.xml",
                              "unique_identifier": "email"}})));
    methods.push(auth_method("/api/rotator", "p-rotator01", 105, json!({"rules_type": "api_key", "access_expires": 0, "api_key_access_rules": {}})));
    methods
}

/// [`akeyless_config`], with or without its planted problems: clean, every secret is
/// rotated, each cluster has its own role, and only the SAML admins (with MFA) administer.
pub fn akeyless_config_with(planted: Planted) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    if planted == Planted::No {
        return clean_akeyless_config();
    }
    let mut items = Vec::new();
    for cluster in &CLUSTERS {
        for (_, name, item) in cluster.secrets {
            let id = 1000 + items.len();
            items.push(match (*name, *item) {
                ("db-credentials", _) => rotated_item(item, id),
                (_, "/prod/payments/stripe-api-key") => static_item(item, id, 1, "2025-01-10T09:00:00Z"),
                (_, "/prod/identity/jwt-signing-key") => static_item(item, id, 2, "2026-09-15T10:30:00Z"),
                _ => static_item(item, id, 4, "2026-10-02T12:00:00Z"),
            });
        }
    }
    items.push(json!({"item_name": "/prod/legacy/ldap-bind", "item_type": "ROTATED_SECRET", "item_id": 2001, "item_state": "Enabled",
        "auto_rotate": true, "rotation_interval": 30, "creation_date": "2024-03-01T00:00:00Z", "modification_date": "2026-07-15T03:00:04Z",
        "last_rotation_date": "2026-07-15T03:00:04Z", "next_rotation_date": "2026-08-14T03:00:00Z", "last_version": 9,
        "item_versions": [{"version": 9, "creation_date": "2026-07-15T03:00:04Z", "item_version_state": "Enabled"}],
        "item_general_info": {"rotated_secret_details": {"rotator_type": "ldap", "rotation_hour": 3,
            "last_rotation_error": "ldap: bind failed for cn=svc-app,ou=services,dc=contoso,dc=com: LDAP Result Code 49 \"Invalid Credentials\""}}}));
    items.push(json!({"item_name": "/dev/tmp/<script>alert('x')</script>", "item_type": "STATIC_SECRET", "item_id": 2002,
        "auto_rotate": false, "creation_date": "2026-11-07T15:00:00Z", "last_version": 1}));
    items.push(json!({"item_name": "=HYPERLINK(\"https://evil.example/\",\"click\")", "item_type": "STATIC_SECRET", "item_id": 2003,
        "auto_rotate": false, "creation_date": "2026-11-19T15:00:00Z", "last_version": 1}));
    let roles = vec![
        json!({"role_name": "eso-reader", "rules": {"path_rules": [{"path": "/prod/*", "capabilities": ["read", "list"], "type": "item-rule"},
                                                                  {"path": "/dev/*", "capabilities": ["read", "list"], "type": "item-rule"}]},
               "role_auth_methods_assoc": [
                   {"assoc_id": "ass-1", "auth_method_name": "/k8s/aks-prod", "auth_method_access_id": "p-prodk8s01", "auth_method_sub_claims": {"namespace": ["external-secrets"]}},
                   {"assoc_id": "ass-2", "auth_method_name": "/k8s/aks-dev", "auth_method_access_id": "p-devk8s01", "auth_method_sub_claims": {"namespace": ["external-secrets"]}}]}),
        json!({"role_name": "platform-admin", "rules": {"path_rules": [{"path": "/*", "capabilities": ["create", "read", "update", "delete", "list"], "type": "item-rule"},
                                                                      {"path": "/*", "capabilities": ["create", "update", "delete"], "type": "role-rule"}]},
               "role_auth_methods_assoc": [
                   {"assoc_id": "ass-3", "auth_method_name": "/users/admin-password", "auth_method_access_id": "p-pwadmin01", "auth_method_sub_claims": {}},
                   {"assoc_id": "ass-4", "auth_method_name": "/saml/contoso", "auth_method_access_id": "p-saml0bob01", "auth_method_sub_claims": {"groups": ["platform-admins"]}}]}),
        json!({"role_name": "rotator", "rules": {"path_rules": [{"path": "/*/db-password", "capabilities": ["read", "update"], "type": "item-rule"}]},
               "role_auth_methods_assoc": [{"assoc_id": "ass-5", "auth_method_name": "/api/rotator", "auth_method_access_id": "p-rotator01", "auth_method_sub_claims": {}}]}),
    ];
    (items, roles, auth_methods(true))
}

fn clean_akeyless_config() -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let mut items = Vec::new();
    for cluster in &CLUSTERS {
        for (_, _, item) in cluster.secrets {
            items.push(rotated_item(item, 1000 + items.len()));
        }
    }
    let reader = |env: &str, access_id: &str| {
        json!({"role_name": format!("eso-reader-{env}"), "rules": {"path_rules": [{"path": format!("/{env}/*"), "capabilities": ["read", "list"], "type": "item-rule"}]},
               "role_auth_methods_assoc": [{"assoc_id": format!("ass-{env}"), "auth_method_name": format!("/k8s/aks-{env}"), "auth_method_access_id": access_id,
                                            "auth_method_sub_claims": {"namespace": ["external-secrets"]}}]})
    };
    let roles = vec![
        reader("prod", "p-prodk8s01"),
        reader("dev", "p-devk8s01"),
        json!({"role_name": "platform-admin", "rules": {"path_rules": [{"path": "/*", "capabilities": ["create", "read", "update", "delete", "list"], "type": "item-rule"}]},
               "role_auth_methods_assoc": [{"assoc_id": "ass-4", "auth_method_name": "/saml/contoso", "auth_method_access_id": "p-saml0bob01", "auth_method_sub_claims": {"groups": ["platform-admins"]}}]}),
    ];
    (items, roles, auth_methods(false))
}

/// The sample month as `[start, end)` in microseconds.
pub fn bounds() -> (i64, i64) {
    let start = Utc.with_ymd_and_hms(MONTH.0, MONTH.1, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(MONTH.0 + i32::from(MONTH.1 == 12), MONTH.1 % 12 + 1, 1, 0, 0, 0).unwrap();
    (start.timestamp_micros(), end.timestamp_micros())
}

/// Generated rows, per table, in time order.
pub type Month = BTreeMap<String, Vec<Map<String, Value>>>;

/// Generates the month. The same seed gives the same rows, byte for byte.
pub fn generate(seed: u64) -> Month {
    generate_with(seed, Planted::Yes)
}

/// [`generate`], with or without the violations: clean, the same operation without the
/// humans, the cross-environment reads, the failure bursts, the late sync and the silent
/// hours, plus a role change by an administrator with MFA.
pub fn generate_with(seed: u64, planted: Planted) -> Month {
    let mut g = Generator { rng: fastrand::Rng::with_seed(seed), tables: BTreeMap::new(), audit_seq: 0, planted };
    let (start, end) = bounds();
    let (start, end) = (DateTime::from_timestamp_micros(start).unwrap(), DateTime::from_timestamp_micros(end).unwrap());
    let gap = (Utc.with_ymd_and_hms(2026, 11, 14, 1, 0, 0).unwrap(), Utc.with_ymd_and_hms(2026, 11, 14, 7, 0, 0).unwrap());
    for cluster in &CLUSTERS {
        let mut t = start;
        while t < end {
            let in_gap = planted == Planted::Yes && cluster.env == "prod" && t >= gap.0 && t < gap.1;
            if !in_gap {
                g.hour(cluster, t);
            }
            t += Duration::hours(1);
        }
    }
    match planted {
        Planted::Yes => g.violations(),
        Planted::No => g.clean_administration(),
    }
    for rows in g.tables.values_mut() {
        rows.sort_by(|a, b| a["TimeGenerated"].as_str().cmp(&b["TimeGenerated"].as_str()));
    }
    g.tables
}

/// The month's Akeyless records as the Gateway forwards them to files: one file per day,
/// `akeyless-log/YYYY/MM/DD/akeyless-audit_YYYY-MM-DDT00:00.log`, one record per line, in
/// record-time order. Returns (path relative to the folder, contents).
pub fn forwarded_files(month: &Month) -> Vec<(String, String)> {
    let mut records: Vec<(String, &str)> = month
        .get("AkeylessAudit_CL")
        .into_iter()
        .flatten()
        .map(|row| {
            let msg = row["msg_s"].as_str().expect("msg_s is text");
            let record: Value = serde_json::from_str(msg).expect("msg_s is JSON");
            (record["timestamp"].as_str().expect("timestamp").to_string(), msg)
        })
        .collect();
    records.sort_by(|a, b| a.0.cmp(&b.0));
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for (ts, msg) in records {
        let (y, m, d) = (&ts[0..4], &ts[5..7], &ts[8..10]);
        let path = format!("akeyless-log/{y}/{m}/{d}/akeyless-audit_{y}-{m}-{d}T00:00.log");
        let file = files.entry(path).or_default();
        file.push_str(msg);
        file.push('\n');
    }
    files.into_iter().collect()
}

/// Writes the month as `<Table>.jsonl` files into `dir`.
pub fn write(month: &Month, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (table, rows) in month {
        let mut text = String::new();
        for row in rows {
            text.push_str(&serde_json::to_string(row).expect("rows serialize"));
            text.push('\n');
        }
        std::fs::write(dir.join(format!("{table}.jsonl")), text)?;
    }
    Ok(())
}

struct Generator {
    rng: fastrand::Rng,
    tables: Month,
    audit_seq: u64,
    planted: Planted,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn resource_id(cluster: &str) -> String {
    let rg = if cluster == "aks-prod" { "rg-prod" } else { "rg-dev" };
    format!("/subscriptions/3f2b6c1d-8e4a-4b7c-9d0e-1a2b3c4d5e6f/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{cluster}")
}

impl Generator {
    fn push(&mut self, table: &str, row: Value) {
        let Value::Object(map) = row else { unreachable!("rows are objects") };
        self.tables.entry(table.to_string()).or_default().push(map);
    }

    fn jitter(&mut self, t: DateTime<Utc>, max_secs: i64) -> DateTime<Utc> {
        t + Duration::milliseconds(self.rng.i64(0..max_secs * 1000))
    }

    fn hour(&mut self, c: &Cluster, hour: DateTime<Utc>) {
        use chrono::Timelike;
        if hour.hour().is_multiple_of(2) {
            for (i, (ns, name, item)) in c.secrets.iter().enumerate() {
                let t = self.jitter(hour + Duration::minutes(i as i64 * 7), 60);
                self.refresh(c, t, ns, name, item);
            }
        }
        // Container Insights inventories pods every minute; the sample keeps one per hour.
        self.inventory(c, hour);
        // Weekly rotation of database passwords, Mondays 03:00.
        use chrono::Datelike;
        if hour.weekday() == chrono::Weekday::Mon && hour.hour() == 3 {
            for (ns, name, item) in c.secrets.iter().filter(|s| s.1 == "db-credentials") {
                let t = self.jitter(hour, 300);
                self.akeyless(
                    t,
                    json!({"access_id": "p-rotator01", "action": "rotate_item", "item_name": item, "item_type": "rotated-secret", "status": 200,
                    "remote_addr": "10.0.0.4", "component": "gateway", "severity": "info",
                    "request_parameters": {"access_type": "api_key", "operation": "rotate", "user_agent": "akeyless-gateway/4.21.0"},
                    "client_sub_claims": {}}),
                );
                // ESO picks up the new value at its next refresh: the Secret is updated. Once,
                // ESO cannot reach Akeyless for hours and the Secret is updated late.
                let late = self.planted == Planted::Yes && c.env == "prod" && *ns == "payments" && hour.day() == 16;
                let t = t + if late { Duration::minutes(9 * 60 + 20) } else { Duration::minutes(61) };
                self.kube_audit(c, t, "update", ESO_SA, ESO_AGENT, "secrets", ns, name, 200);
                self.kube_event(c, t, ns, "ExternalSecret", name, "Normal", "Updated", "Updated Secret");
            }
        }
        if hour.hour() == 12 {
            // A daily Akeyless login by each cluster's ESO identity.
            let t = self.jitter(hour, 600);
            self.akeyless(
                t,
                json!({"access_id": c.access_id, "action": "Authentication", "status": 200, "remote_addr": c.egress_ip,
                "component": "saas", "severity": "info", "request_parameters": {"access_type": "k8s", "user_agent": "external-secrets"},
                "client_sub_claims": {"k8s_namespace": "external-secrets", "k8s_service_account": "external-secrets"}}),
            );
        }
    }

    fn refresh(&mut self, c: &Cluster, t: DateTime<Utc>, ns: &str, name: &str, item: &str) {
        let remote_addr = format!("{}, 10.224.0.{}", c.egress_ip, 10 + self.rng.u8(0..40));
        self.akeyless(
            t,
            json!({"access_id": c.access_id, "action": "get_secret_value", "item_name": item, "item_type": "static-secret",
            "status": 200, "remote_addr": remote_addr, "component": "gateway", "severity": "info",
            "request_parameters": {"access_type": "k8s", "product": "gateway", "user_agent": "external-secrets"},
            "client_sub_claims": {"k8s_namespace": "external-secrets", "k8s_service_account": "external-secrets"}}),
        );
        let t = t + Duration::milliseconds(self.rng.i64(80..400));
        self.kube_audit(c, t, "get", ESO_SA, ESO_AGENT, "secrets", ns, name, 200);
        let msg = json!({"level": "info", "ts": t.timestamp_millis() as f64 / 1000.0, "logger": "controllers.ExternalSecret",
            "msg": "reconciled secret", "ExternalSecret": {"name": name, "namespace": ns}});
        let container_id = format!("{:x}", self.rng.u64(..));
        self.push("ContainerLogV2", json!({"TimeGenerated": ts(t), "Computer": format!("aks-system-{}-vmss000000", c.env),
            "ContainerId": container_id, "ContainerName": "external-secrets",
            "PodName": "external-secrets-6d9f7c8b5d-x2k4q", "PodNamespace": "external-secrets", "LogLevel": "info", "LogSource": "stdout",
            "LogMessage": msg, "KubernetesMetadata": {"podLabels": {"app.kubernetes.io/name": "external-secrets"}, "image": "ghcr.io/external-secrets/external-secrets:v0.10.4"},
            "_ResourceId": resource_id(c.name)}));
    }

    fn inventory(&mut self, c: &Cluster, t: DateTime<Utc>) {
        let pods = [
            ("external-secrets", "external-secrets-6d9f7c8b5d-x2k4q", "external-secrets", "ReplicaSet", "external-secrets-6d9f7c8b5d"),
            ("external-secrets", "external-secrets-webhook-7b6c9d-q8r2m", "webhook", "ReplicaSet", "external-secrets-webhook-7b6c9d"),
            ("payments", "payments-api-5f7d8c9b6-4kx7p", "payments-api", "ReplicaSet", "payments-api-5f7d8c9b6"),
            ("orders", "orders-api-7c9d5b8f4-m2n8v", "orders-api", "ReplicaSet", "orders-api-7c9d5b8f4"),
            ("identity", "identity-api-0", "identity-api", "StatefulSet", "identity-api"),
        ];
        for (ns, pod, container, kind, controller) in pods {
            let t = self.jitter(t, 30);
            let created = Utc.with_ymd_and_hms(2026, 10, 20, 9, 0, 0).unwrap();
            self.push(
                "KubePodInventory",
                json!({"TimeGenerated": ts(t), "ClusterName": c.name, "Name": pod, "Namespace": ns,
                "PodUid": format!("{:08x}-{}-{}", pod.len() * 7919, c.env, ns), "PodStatus": "Running",
                "PodCreationTimeStamp": ts(created), "PodStartTime": ts(created + Duration::seconds(4)), "PodRestartCount": 0,
                "ContainerName": format!("{}/{container}", pod), "ContainerID": format!("{:x}", (pod.len() as u64).wrapping_mul(0x9e3779b97f4a7c15)),
                "ContainerStatus": "running", "ContainerRestartCount": 0, "ControllerKind": kind, "ControllerName": controller,
                "Computer": format!("aks-user-{}-vmss00000{}", c.env, pod.len() % 3), "ServiceName": container}),
            );
        }
    }

    fn akeyless(&mut self, t: DateTime<Utc>, mut record: Value) {
        let fields = record.as_object_mut().expect("object");
        fields.insert("timestamp".into(), json!(ts(t)));
        fields.insert("account_id".into(), json!("acc-k3ytra1l0001"));
        fields.insert("duration".into(), json!(self.rng.u32(3..90)));
        if let Some(params) = fields.get_mut("request_parameters").and_then(Value::as_object_mut) {
            params.insert("unique_id".into(), json!(format!("{:016x}", self.rng.u64(..))));
        }
        let ingested = t + Duration::seconds(self.rng.i64(20..90));
        self.push("AkeylessAudit_CL", json!({"TimeGenerated": ts(ingested), "msg_s": record.to_string(), "Computer": "akeyless-gateway-0"}));
    }

    #[allow(clippy::too_many_arguments)]
    fn kube_audit(&mut self, c: &Cluster, t: DateTime<Utc>, verb: &str, user: &str, agent: &str, resource: &str, ns: &str, name: &str, code: u16) {
        self.audit_seq += 1;
        let audit_id = format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            self.rng.u32(..),
            self.rng.u16(..),
            self.audit_seq % 4096,
            self.rng.u16(..4096),
            self.rng.u64(..) >> 16
        );
        let groups: Vec<&str> = if user.starts_with("system:serviceaccount:") {
            vec!["system:serviceaccounts", "system:serviceaccounts:external-secrets", "system:authenticated"]
        } else {
            vec!["system:authenticated", "aad:platform-admins"]
        };
        let path = match (resource, name.is_empty()) {
            ("clusterroles" | "clusterrolebindings", _) => format!("/apis/rbac.authorization.k8s.io/v1/{resource}/{name}"),
            ("roles" | "rolebindings", _) => format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/{resource}/{name}"),
            (_, true) => format!("/api/v1/namespaces/{ns}/{resource}"),
            _ => format!("/api/v1/namespaces/{ns}/{resource}/{name}"),
        };
        let source_ip = if user == ESO_SA { format!("10.224.0.{}", 10 + self.rng.u8(0..40)) } else { "203.0.113.24".to_string() };
        let mut object_ref = json!({"resource": resource, "namespace": ns, "apiVersion": "v1"});
        if !name.is_empty() {
            object_ref["name"] = json!(name);
        }
        if resource.starts_with("cluster") {
            object_ref.as_object_mut().unwrap().remove("namespace");
        }
        let received = t - Duration::milliseconds(self.rng.i64(2..40));
        let event = json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": audit_id, "stage": "ResponseComplete",
            "requestURI": path, "verb": verb, "user": {"username": user, "groups": groups}, "sourceIPs": [source_ip], "userAgent": agent,
            "objectRef": object_ref, "responseStatus": {"metadata": {}, "code": code},
            "requestReceivedTimestamp": ts(received), "stageTimestamp": ts(t)});
        let t_ingest = t + Duration::seconds(self.rng.i64(30..120));
        if c.env == "dev" {
            self.push(
                "AzureDiagnostics",
                json!({"TimeGenerated": ts(t_ingest), "Category": "kube-audit", "Resource": c.name.to_uppercase(),
                "ResourceId": resource_id(c.name).to_uppercase(), "log_s": event.to_string(), "pod_s": "kube-apiserver-7d9c6b5f8-abcde"}),
            );
            return;
        }
        let row = json!({"TimeGenerated": ts(t_ingest), "AuditId": event["auditID"], "Level": "Metadata", "Stage": "ResponseComplete",
            "Verb": verb, "RequestUri": event["requestURI"], "User": event["user"], "SourceIps": event["sourceIPs"], "UserAgent": agent,
            "ObjectRef": event["objectRef"], "ResponseStatus": event["responseStatus"], "RequestReceivedTime": ts(received),
            "StageReceivedTime": ts(t), "_ResourceId": resource_id(c.name)});
        if !matches!(verb, "get" | "list" | "watch") {
            self.push("AKSAuditAdmin", row.clone());
        }
        self.push("AKSAudit", row);
    }

    #[allow(clippy::too_many_arguments)]
    fn kube_event(&mut self, c: &Cluster, t: DateTime<Utc>, ns: &str, kind: &str, name: &str, event_type: &str, reason: &str, message: &str) {
        self.kube_event_repeated(c, (t, t, 1), ns, kind, name, event_type, reason, message);
    }

    /// An event the API server merged: seen `count` times from `first` to `last`.
    #[allow(clippy::too_many_arguments)]
    fn kube_event_repeated(
        &mut self,
        c: &Cluster,
        (first, last, count): (DateTime<Utc>, DateTime<Utc>, u32),
        ns: &str,
        kind: &str,
        name: &str,
        event_type: &str,
        reason: &str,
        message: &str,
    ) {
        for tick in crate::kube_events::ticks(first, last, count) {
            let t_ingest = tick.last_seen + Duration::seconds(self.rng.i64(30..90));
            self.push(
                "KubeEvents",
                json!({"TimeGenerated": ts(t_ingest), "ClusterId": resource_id(c.name), "ClusterName": c.name,
                "Computer": format!("aks-system-{}-vmss000000", c.env), "KubeEventType": event_type, "Message": message, "Name": name,
                "Namespace": ns, "ObjectKind": kind, "Reason": reason, "SourceComponent": "external-secrets", "Count": tick.count,
                "FirstSeen": ts(tick.first_seen), "LastSeen": ts(tick.last_seen)}),
            );
        }
    }

    /// The clean month's administration: a role change by the SAML admins (MFA required),
    /// and a few failed logins that stay under any alarm threshold.
    fn clean_administration(&mut self) {
        let at = |d, h, m| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
        self.akeyless(
            at(10, 21, 30),
            json!({"access_id": "p-saml0bob01", "action": "update_role", "item_name": "eso-reader-prod", "status": 200,
            "remote_addr": "198.51.100.23", "component": "saas", "severity": "info",
            "request_parameters": {"access_type": "saml", "product": "console", "user_agent": "Mozilla/5.0"},
            "client_sub_claims": {"email": "bob@contoso.com"}}),
        );
        for i in 0..3 {
            self.akeyless(
                at(18, 9, 5 + i),
                json!({"access_id": "p-saml0bob01", "action": "Authentication", "status": 401, "remote_addr": "198.51.100.23",
                "component": "saas", "severity": "error", "request_parameters": {"access_type": "saml", "user_agent": "Mozilla/5.0"},
                "client_sub_claims": {}}),
            );
        }
    }

    fn violations(&mut self) {
        let at = |d, h, m| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
        let (prod, dev) = (&CLUSTERS[0], &CLUSTERS[1]);
        // A human reads production Secrets with kubectl.
        for (i, name) in ["db-credentials", "stripe-api-key", "db-credentials"].iter().enumerate() {
            let t = at(9, 22, 14 + i as u32 * 3);
            self.kube_audit(prod, t, "get", "alice@contoso.com", "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350", "secrets", "payments", name, 200);
        }
        self.kube_audit(prod, at(21, 16, 40), "list", "alice@contoso.com", "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350", "secrets", "identity", "", 200);
        // A human reads a production item in the Akeyless console.
        self.akeyless(
            at(17, 10, 5),
            json!({"access_id": "p-saml0bob01", "action": "get_secret_value", "item_name": "/prod/identity/jwt-signing-key",
            "item_type": "static-secret", "status": 200, "remote_addr": "198.51.100.23", "component": "saas", "severity": "info",
            "request_parameters": {"access_type": "saml", "product": "console", "user_agent": "Mozilla/5.0"},
            "client_sub_claims": {"email": "bob@contoso.com", "groups": "platform-admins"}}),
        );
        // The dev cluster's ESO identity reads production items (a misconfigured ExternalSecret).
        for d in [12, 25] {
            self.refresh(dev, at(d, 8, 30), "payments", "stripe-api-key", "/prod/payments/stripe-api-key");
        }
        // An authentication-failure burst from one address, and ESO failing meanwhile.
        for i in 0..40 {
            let t = at(18, 14, 5) + Duration::seconds(i * 22);
            self.akeyless(
                t,
                json!({"access_id": "p-unknown0001", "action": "Authentication", "status": 401, "remote_addr": "203.0.113.77",
                "component": "saas", "severity": "error", "request_parameters": {"access_type": "access_key", "user_agent": "python-requests/2.31"},
                "client_sub_claims": {}}),
            );
        }
        for (i, (ns, name, _)) in dev.secrets.iter().enumerate() {
            self.kube_event(
                dev,
                at(18, 14, 10 + i as u32),
                ns,
                "ExternalSecret",
                name,
                "Warning",
                "UpdateFailed",
                "error processing spec.data[0] (key: /dev/payments/db-password), err: authentication failed: 401 Unauthorized",
            );
        }
        // Privileged changes by a password user without MFA.
        for (d, action, role) in [(10, "update_role", "platform-admin"), (10, "create_assoc_role_auth_method", "platform-admin")] {
            self.akeyless(
                at(d, 21, 30),
                json!({"access_id": "p-pwadmin01", "action": action, "item_name": role, "status": 200,
                "remote_addr": "203.0.113.91", "component": "saas", "severity": "info",
                "request_parameters": {"access_type": "password", "product": "console", "user_agent": "Mozilla/5.0"},
                "client_sub_claims": {"email": "ops-admin@contoso.com"}}),
            );
        }
        // Item paths that must be shown escaped in HTML and defused in CSV.
        for (d, path) in [(7, "/dev/tmp/<script>alert('x')</script>"), (19, "=HYPERLINK(\"https://evil.example/\",\"click\")")] {
            self.akeyless(
                at(d, 15, 0),
                json!({"access_id": "p-saml0bob01", "action": "create_item", "item_name": path, "item_type": "static-secret",
                "status": 200, "remote_addr": "198.51.100.23", "component": "saas", "severity": "info",
                "request_parameters": {"access_type": "saml", "product": "console", "user_agent": "Mozilla/5.0"},
                "client_sub_claims": {"email": "bob@contoso.com"}}),
            );
        }
        // RBAC changes touching secrets.
        self.kube_audit(
            prod,
            at(5, 11, 2),
            "create",
            "alice@contoso.com",
            "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
            "rolebindings",
            "payments",
            "secret-reader-alice",
            201,
        );
        self.kube_audit(
            prod,
            at(5, 11, 1),
            "create",
            "alice@contoso.com",
            "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
            "roles",
            "payments",
            "secret-reader",
            201,
        );
        self.kube_audit(
            prod,
            at(23, 9, 45),
            "patch",
            "bob@contoso.com",
            "kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
            "clusterroles",
            "",
            "eso-secrets-admin",
            200,
        );
        self.kube_event(prod, at(2, 10, 0), "default", "ClusterSecretStore", "akeyless-prod", "Normal", "Valid", "store validated");
        // The week's rotation of /prod/payments/db-password reaches the Secret 9 h late: ESO's
        // Akeyless identity was refused meanwhile.
        self.kube_event_repeated(prod, (at(16, 4, 1), at(16, 12, 1), 5), "payments", "ExternalSecret", "db-credentials", "Warning", "UpdateFailed",
            "error processing spec.data[0] (key: /prod/payments/db-password), err: can't get secret value: UnauthorizedAccess: access denied to path /prod/payments/db-password");
        // A dev store that never validates, a store of another provider, a PushSecret.
        self.kube_event_repeated(
            dev,
            (at(3, 9, 0), at(30, 21, 0), 665),
            "orders",
            "SecretStore",
            "akeyless-legacy",
            "Warning",
            "InvalidProviderConfig",
            "unable to validate store: missing accessID in authSecretRef",
        );
        self.kube_event(prod, at(4, 9, 30), "payments", "SecretStore", "aws-secrets", "Normal", "Valid", "store validated");
        self.kube_event(prod, at(6, 13, 0), "payments", "PushSecret", "push-db-dsn", "Normal", "Synced", "PushSecret synced successfully");
        self.kube_event(dev, at(2, 10, 0), "default", "ClusterSecretStore", "akeyless-dev", "Normal", "Valid", "store validated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in sample must be exactly what the generator makes, so the data and the
    /// code that documents it never drift. `KEYTRAIL_REGENERATE=1` rewrites it.
    #[test]
    fn checked_in_sample_matches_the_generator() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/log-analytics");
        let month = generate(SEED);
        let forwarded = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/akeyless");
        if std::env::var_os("KEYTRAIL_REGENERATE").is_some() {
            write(&month, &dir).unwrap();
            for (path, text) in forwarded_files(&month) {
                let path = forwarded.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
        }
        let (items, roles, auth_methods) = akeyless_config();
        let api = [("items.json", items), ("roles.json", roles), ("auth-methods.json", auth_methods)]
            .map(|(name, objects)| (format!("api/{name}"), serde_json::to_string_pretty(&objects).unwrap() + "\n"));
        if std::env::var_os("KEYTRAIL_REGENERATE").is_some() {
            for (path, text) in &api {
                let path = forwarded.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
        }
        for (path, text) in forwarded_files(&month).into_iter().chain(api) {
            let actual = std::fs::read_to_string(forwarded.join(&path)).unwrap_or_default();
            assert!(actual == text, "sample-data/akeyless/{path} differs from the generator; run with KEYTRAIL_REGENERATE=1");
        }
        let kubernetes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/kubernetes");
        let clusters = crate::sample_kubernetes::clusters(&month);
        if std::env::var_os("KEYTRAIL_REGENERATE").is_some() {
            crate::sample_kubernetes::write(&clusters, &kubernetes).unwrap();
        }
        for (cluster, objects) in &clusters {
            for (resource, list) in objects {
                let path = format!("{cluster}/{resource}.json");
                let actual = std::fs::read_to_string(kubernetes.join(&path)).unwrap_or_default();
                let expected = serde_json::to_string_pretty(list).unwrap() + "\n";
                assert!(actual == expected, "sample-data/kubernetes/{path} differs from the generator; run with KEYTRAIL_REGENERATE=1");
            }
        }
        for (table, rows) in &month {
            let expected: String = rows.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
            let actual = std::fs::read_to_string(dir.join(format!("{table}.jsonl")))
                .unwrap_or_else(|e| panic!("{table}.jsonl: {e}; run with KEYTRAIL_REGENERATE=1 to write the sample"));
            assert!(actual == expected, "{table}.jsonl differs from the generator; run with KEYTRAIL_REGENERATE=1");
        }
    }

    #[test]
    fn month_has_the_gap_and_the_violations() {
        let month = generate(SEED);
        let in_gap = |r: &Map<String, Value>| ("2026-11-14T01:05".."2026-11-14T07:00").contains(&r["TimeGenerated"].as_str().unwrap());
        let audit = &month["AKSAudit"];
        assert_eq!(audit.iter().filter(|r| in_gap(r)).count(), 0, "aks-prod must be silent 01:00-07:00");
        assert!(month["AzureDiagnostics"].iter().any(in_gap), "aks-dev keeps logging through the gap");
        assert!(audit.iter().any(|r| r["User"]["username"] == "alice@contoso.com" && r["Verb"] == "get"));
        let akeyless = &month["AkeylessAudit_CL"];
        let failures = akeyless.iter().filter(|r| r["msg_s"].as_str().unwrap().contains(r#""status":401"#)).count();
        assert_eq!(failures, 40);
        assert!(akeyless.iter().any(|r| {
            let m = r["msg_s"].as_str().unwrap();
            m.contains("p-devk8s01") && m.contains("/prod/")
        }));
        assert!(month["AzureDiagnostics"].iter().all(|r| r["Category"] == "kube-audit"));
        assert!(month.values().all(|rows| rows.windows(2).all(|w| w[0]["TimeGenerated"].as_str() <= w[1]["TimeGenerated"].as_str())));
    }
}
