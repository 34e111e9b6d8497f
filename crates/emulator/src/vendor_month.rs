//! A second sample month (October 2026, the "Fabrikam" tenant), written from the vendors'
//! published shapes alone rather than from what keytrail's own sample looks like, to hold
//! keytrail's verdicts to real data: every object follows its vendor model (Akeyless SDK
//! models `Item`, `Role`, `AuthMethod`; the Log Analytics tables `AKSAudit`,
//! `AKSAuditAdmin`, `KubeEvents`, `KubePodInventory`, `AkeylessAudit_CL`; core/v1 `Event`,
//! `external-secrets.io/v1` and RBAC objects; sources in `docs/SOURCES.md` and
//! `sample-data/vendor-month/README.md`).
//!
//! Each problem the controls must find sits beside a look-alike they must not flag:
//! - rotation: a rotated secret last rotated in June whose rotator fails, a production
//!   static secret unchanged since it was created a year ago, a static secret listed
//!   without version dates (unknown) / a secret rotated 80 days before the month's end, a
//!   rotated secret listed in the older SDK shape without `last_rotation_date` but with a
//!   recent version, a static secret changed last week (version 7);
//! - identities: the dev cluster's Kubernetes auth method (`p-x4kd9wz1c7`, nothing "dev"
//!   in it) reads a production item; it is dev only because its SecretStore is in the dev
//!   cluster;
//! - MFA: a password user without an MFA type (unknown), a CI key no one declared
//!   (alarm) / a password user with an authenticator app, a SAML admin, the declared
//!   Terraform identity;
//! - sync latency: a Secret refreshed every 15 min that stayed stale 50 min after a
//!   rotation / one refreshed hourly that took 70 min;
//! - silence: the production cluster's audit log missing for all of 2026-10-14, and an
//!   hour of Akeyless records the Gateway's file sink missed / an ESO outage on the 21st
//!   while the audit log goes on;
//! - RBAC: `*` on Secrets for an application's service account / AKS's own admin binding.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use serde_json::{Value, json};

use crate::sample_kubernetes::ClusterObjects;
use crate::sample_month::Month;

/// The month this sample covers.
pub const MONTH: (i32, u32) = (2026, 10);

/// The production and development clusters.
pub const CLUSTERS: [&str; 2] = ["aks-weu-prod-01", "aks-weu-dev-01"];

const ACCOUNT: &str = "acc-fabr1kam0001";
const PROD_K8S: &str = "p-7tq2m0bq4a";
const DEV_K8S: &str = "p-x4kd9wz1c7";
const SSO: &str = "p-s8m2ll0qaa";
const CAROL: &str = "p-c4r0lpw123";
const DAVE: &str = "p-d4v3pw4567";
const TERRAFORM: &str = "p-tf9ci00001";
const DEPLOYER: &str = "p-lg7dep0002";
const ROTATOR: &str = "p-r0t8gw0003";
const ESO_SA: &str = "system:serviceaccount:external-secrets:external-secrets";
const ESO_AGENT: &str = "external-secrets/v0.19.2 (linux/amd64) kubernetes/$Format";
const KUBECTL: &str = "kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0";

/// The ExternalSecrets: (cluster, namespace, name, Akeyless item, refreshInterval).
const EXTERNAL_SECRETS: [(&str, &str, &str, &str, &str); 6] = [
    ("aks-weu-prod-01", "billing", "postgres", "/prod/billing/postgres", "1h"),
    ("aks-weu-prod-01", "orders", "mysql", "/prod/orders/mysql", "15m"),
    ("aks-weu-prod-01", "catalog", "mongo", "/prod/catalog/mongo", "1h"),
    ("aks-weu-prod-01", "payments", "psp-api-key", "/prod/payments/psp-api-key", "1h"),
    ("aks-weu-dev-01", "billing", "postgres", "/dev/billing/postgres", "1h"),
    // The misconfiguration: a dev ExternalSecret reading a production item.
    ("aks-weu-dev-01", "reporting", "billing-replica", "/prod/billing/postgres", "1h"),
];

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(MONTH.0, MONTH.1, day, hour, minute, 0).unwrap()
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn resource_id(cluster: &str) -> String {
    let rg = if cluster.contains("prod") { "rg-fabrikam-prod" } else { "rg-fabrikam-dev" };
    format!("/subscriptions/8c1e4b2a-7d3f-4e6a-9b0c-5d4e3f2a1b0c/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{cluster}")
}

/// Seconds in `refreshInterval` text (`15m`, `1h`).
fn interval_secs(text: &str) -> i64 {
    let (n, unit) = text.split_at(text.len() - 1);
    n.parse::<i64>().unwrap() * if unit == "h" { 3600 } else { 60 }
}

/// The Akeyless account as `/list-items`, `/list-roles` and `/list-auth-methods` list it.
pub fn akeyless_config() -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let versions =
        |list: &[(u32, &str)]| -> Value { list.iter().map(|(v, t)| json!({"version": v, "creation_date": t, "item_version_state": "Enabled"})).collect() };
    let weekly = ["2026-10-12T02:00:41Z", "2026-10-19T02:00:37Z", "2026-10-26T02:00:52Z"];
    let weekly_rotated = |name: &str, id: u64| {
        json!({"item_name": name, "item_id": id, "item_type": "ROTATED_SECRET", "item_state": "Enabled", "is_enabled": true, "auto_rotate": true,
               "rotation_interval": 7, "creation_date": "2025-03-04T09:12:00Z", "modification_date": weekly[2], "last_rotation_date": weekly[2],
               "next_rotation_date": "2026-11-02T02:00:00Z", "last_version": 88,
               "item_versions": versions(&[(86, weekly[0]), (87, weekly[1]), (88, weekly[2])]),
               "item_general_info": {"rotated_secret_details": {"rotator_type": "custom", "rotation_hour": 2}}})
    };
    let items = vec![
        // Rotation stopped in June: the rotator cannot log in any more.
        json!({"item_name": "/prod/billing/postgres", "item_id": 5101, "item_type": "ROTATED_SECRET", "item_state": "Enabled", "is_enabled": true,
               "auto_rotate": true, "rotation_interval": 30, "creation_date": "2024-11-18T10:00:00Z", "modification_date": "2026-06-30T02:00:13Z",
               "last_rotation_date": "2026-06-30T02:00:13Z", "next_rotation_date": "2026-07-30T02:00:00Z", "last_version": 21,
               "item_versions": versions(&[(21, "2026-06-30T02:00:13Z")]),
               "item_general_info": {"cluster_gw_url": "https://akeyless-gw.fabrikam.internal:8000",
                   "rotated_secret_details": {"rotator_type": "postgresql", "rotation_hour": 2,
                       "last_rotation_error": "pq: password authentication failed for user \"akeyless_rotator\""}}}),
        weekly_rotated("/prod/orders/mysql", 5102),
        weekly_rotated("/prod/catalog/mongo", 5103),
        // Rotated 80 days before the month's end: within 90.
        json!({"item_name": "/prod/search/elastic", "item_id": 5104, "item_type": "ROTATED_SECRET", "item_state": "Enabled", "auto_rotate": true,
               "rotation_interval": 90, "creation_date": "2025-05-20T08:00:00Z", "modification_date": "2026-08-13T02:00:09Z",
               "last_rotation_date": "2026-08-13T02:00:09Z", "next_rotation_date": "2026-11-11T02:00:00Z", "last_version": 6,
               "item_general_info": {"rotated_secret_details": {"rotator_type": "custom"}}}),
        // The older SDK shape: no last_rotation_date on the Item, the versions say when.
        json!({"item_name": "/prod/cache/redis", "item_id": 5105, "item_type": "ROTATED_SECRET", "auto_rotate": true, "rotation_interval": 14,
               "creation_date": "2025-09-01T12:00:00Z", "modification_date": "2026-10-20T03:00:02Z", "last_version": 30,
               "item_versions": versions(&[(29, "2026-10-06T03:00:05Z"), (30, "2026-10-20T03:00:02Z")])}),
        // Created a year ago and never changed.
        json!({"item_name": "/prod/payments/psp-api-key", "item_id": 5106, "item_type": "STATIC_SECRET", "item_state": "Enabled",
               "creation_date": "2025-10-02T14:30:00Z", "modification_date": "2025-10-02T14:30:00Z", "last_version": 1,
               "item_versions": versions(&[(1, "2025-10-02T14:30:00Z")])}),
        // Changed last week: version 7.
        json!({"item_name": "/prod/payments/webhook-secret", "item_id": 5107, "item_type": "STATIC_SECRET", "item_state": "Enabled",
               "creation_date": "2025-01-15T09:00:00Z", "modification_date": "2026-10-24T16:45:00Z", "last_version": 7,
               "item_versions": versions(&[(6, "2026-04-01T08:00:00Z"), (7, "2026-10-24T16:45:00Z")])}),
        // Listed without version dates and modified recently: when the value changed is unknown.
        json!({"item_name": "/prod/legacy/ftp-password", "item_id": 5108, "item_type": "STATIC_SECRET",
               "creation_date": "2023-02-01T09:00:00Z", "modification_date": "2026-10-15T11:20:00Z", "last_version": 3}),
        weekly_rotated("/dev/billing/postgres", 5109),
    ];
    let rule = |path: &str, caps: &[&str]| json!({"path": path, "capabilities": caps, "type": "item-rule"});
    let assoc = |id: &str, name: &str, access_id: &str, claims: Value| json!({"assoc_id": id, "auth_method_name": name, "auth_method_access_id": access_id, "auth_method_sub_claims": claims, "sub_claims_case_sensitive": true});
    let eso_claims = json!({"namespace": ["external-secrets"]});
    let roles = vec![
        json!({"role_name": "eso-production", "role_id": 301, "comment": "ESO in aks-weu-prod-01",
               "rules": {"admin": false, "path_rules": [rule("/prod/*", &["read", "list"])]},
               "role_auth_methods_assoc": [assoc("ass-71a", "/k8s/weu-cluster-a", PROD_K8S, eso_claims.clone())]}),
        json!({"role_name": "eso-development", "role_id": 302, "comment": "ESO in aks-weu-dev-01",
               "rules": {"admin": false, "path_rules": [rule("/dev/*", &["read", "list"]), rule("/prod/billing/*", &["read"])]},
               "role_auth_methods_assoc": [assoc("ass-71b", "/k8s/weu-cluster-b", DEV_K8S, eso_claims)]}),
        json!({"role_name": "platform-admins", "role_id": 303,
               "rules": {"admin": false, "path_rules": [rule("/*", &["create", "read", "update", "delete", "list"]),
                                                        json!({"path": "/*", "capabilities": ["create", "update", "delete"], "type": "role-rule"})]},
               "role_auth_methods_assoc": [assoc("ass-71c", "/sso/entra-admins", SSO, json!({"groups": ["akeyless-admins"]})),
                                           assoc("ass-71d", "/users/carol", CAROL, json!({})), assoc("ass-71e", "/users/dave", DAVE, json!({}))]}),
        json!({"role_name": "ci", "role_id": 304,
               "rules": {"admin": false, "path_rules": [rule("/*", &["create", "update", "delete", "list"]),
                                                        json!({"path": "/*", "capabilities": ["create", "update", "delete"], "type": "role-rule"})]},
               "role_auth_methods_assoc": [assoc("ass-71f", "/ci/terraform", TERRAFORM, json!({})), assoc("ass-720", "/ci/legacy-deployer", DEPLOYER, json!({}))]}),
        json!({"role_name": "rotators", "role_id": 305, "rules": {"path_rules": [rule("/*", &["read", "update"])]},
               "role_auth_methods_assoc": [assoc("ass-721", "/rotators/gateway", ROTATOR, json!({}))]}),
    ];
    let method = |name: &str, access_id: &str, id: u64, access_info: Value| {
        json!({"auth_method_name": name, "auth_method_access_id": access_id, "auth_method_id": id, "account_id": ACCOUNT,
               "creation_date": "2025-02-10T08:00:00Z", "modification_date": "2026-09-01T08:00:00Z", "is_approved": true, "access_info": access_info})
    };
    let k8s = |access_id: &str, id, name: &str| {
        method(
            name,
            access_id,
            id,
            json!({"rules_type": "k8s", "access_expires": 0, "force_sub_claims": true, "access_id_alias": access_id,
            "k8s_access_rules": {"bound_namespaces": ["external-secrets"], "bound_service_account_names": ["external-secrets"], "alg": "RS256"}}),
        )
    };
    let api_key = |name: &str, access_id: &str, id| {
        method(name, access_id, id, json!({"rules_type": "api_key", "access_expires": 0, "api_key_access_rules": {"alg": "RS256"}}))
    };
    let auth_methods = vec![
        k8s(PROD_K8S, 901, "/k8s/weu-cluster-a"),
        k8s(DEV_K8S, 902, "/k8s/weu-cluster-b"),
        method(
            "/sso/entra-admins",
            SSO,
            903,
            json!({"rules_type": "saml2", "access_expires": 0,
            "saml_access_rules": {"idp_metadata_url": "https://login.microsoftonline.com/4e3f2a1b-0c9d-4b8a-7f6e-5d4c3b2a1f0e/federationmetadata/2007-06/federationmetadata.xml",
                                  "unique_identifier": "email"}}),
        ),
        method("/users/carol", CAROL, 904, json!({"access_expires": 0, "email_pass_access_rules": {"email": "carol@fabrikam.com", "mfa_type": "auth_app"}})),
        method("/users/dave", DAVE, 905, json!({"access_expires": 0, "email_pass_access_rules": {"email": "dave@fabrikam.com"}})),
        api_key("/ci/terraform", TERRAFORM, 906),
        api_key("/ci/legacy-deployer", DEPLOYER, 907),
        api_key("/rotators/gateway", ROTATOR, 908),
    ];
    (items, roles, auth_methods)
}

struct Writer {
    rng: fastrand::Rng,
    tables: Month,
    audit_ids: u64,
}

impl Writer {
    fn push(&mut self, table: &str, row: Value) {
        let Value::Object(map) = row else { unreachable!("rows are objects") };
        self.tables.entry(table.to_string()).or_default().push(map);
    }

    /// One Akeyless audit record, as the Gateway forwards it to `AkeylessAudit_CL.msg_s`.
    #[allow(clippy::too_many_arguments)] // One argument per field of the record, as `audit` below.
    fn akeyless(
        &mut self,
        t: DateTime<Utc>,
        access_id: &str,
        action: &str,
        item: Option<&str>,
        status: u16,
        access_type: &str,
        remote_addr: &str,
        claims: Value,
    ) {
        let mut record = json!({"timestamp": ts(t), "account_id": ACCOUNT, "access_id": access_id, "action": action, "status": status,
            "remote_addr": remote_addr, "duration": self.rng.u32(4..60), "component": if access_type == "k8s" { "gateway" } else { "saas" },
            "severity": if status >= 400 { "error" } else { "info" },
            "request_parameters": {"access_type": access_type, "unique_id": format!("{:016x}", self.rng.u64(..))}, "client_sub_claims": claims});
        if let Some(item) = item {
            record["item_name"] = json!(item);
        }
        let ingested = t + Duration::seconds(self.rng.i64(15..120));
        self.push(
            "AkeylessAudit_CL",
            json!({"TimeGenerated": ts(ingested), "msg_s": record.to_string(), "Computer": "akeyless-gw-7d9f-0", "Type": "AkeylessAudit_CL"}),
        );
    }

    /// One AKS audit event in the resource-specific tables (`AKSAudit`; writes also in
    /// `AKSAuditAdmin`).
    #[allow(clippy::too_many_arguments)]
    fn audit(
        &mut self,
        cluster: &str,
        t: DateTime<Utc>,
        verb: &str,
        user: &str,
        groups: &[&str],
        agent: &str,
        resource: &str,
        ns: &str,
        name: &str,
        code: u16,
    ) {
        self.audit_ids += 1;
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-9{:03x}-{:012x}",
            self.rng.u32(..),
            self.rng.u16(..),
            self.audit_ids % 4096,
            self.rng.u16(..4096),
            self.rng.u64(..) >> 16
        );
        let cluster_scoped = resource.starts_with("cluster");
        let mut object_ref = json!({"resource": resource, "apiVersion": "v1"});
        if !cluster_scoped {
            object_ref["namespace"] = json!(ns);
        }
        if !name.is_empty() {
            object_ref["name"] = json!(name);
        }
        let uri = if name.is_empty() { format!("/api/v1/namespaces/{ns}/{resource}") } else { format!("/api/v1/namespaces/{ns}/{resource}/{name}") };
        let received = t - Duration::milliseconds(self.rng.i64(3..30));
        let generated = t + Duration::seconds(self.rng.i64(20..90));
        if audit_off(cluster, generated) {
            return;
        }
        let row = json!({"TimeGenerated": ts(generated), "AuditId": id, "Level": "Metadata", "Stage": "ResponseComplete",
            "Verb": verb, "RequestUri": uri, "User": {"username": user, "groups": groups}, "SourceIps": [format!("10.240.0.{}", 4 + self.rng.u8(0..60))],
            "UserAgent": agent, "ObjectRef": object_ref, "ResponseStatus": {"code": code}, "RequestReceivedTime": ts(received), "StageReceivedTime": ts(t),
            "_ResourceId": resource_id(cluster), "Type": "AKSAudit"});
        if !matches!(verb, "get" | "list" | "watch") {
            let mut admin = row.clone();
            admin["Type"] = json!("AKSAuditAdmin");
            self.push("AKSAuditAdmin", admin);
        }
        self.push("AKSAudit", row);
    }

    /// A Kubernetes event as Container Insights copies it into `KubeEvents`.
    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        cluster: &str,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
        count: u32,
        ns: &str,
        kind: &str,
        name: &str,
        event_type: &str,
        reason: &str,
        message: &str,
    ) {
        for tick in crate::kube_events::ticks(first, last, count) {
            let generated = tick.last_seen + Duration::seconds(self.rng.i64(30..120));
            self.push(
                "KubeEvents",
                json!({"TimeGenerated": ts(generated), "ClusterId": resource_id(cluster), "ClusterName": cluster,
                "Computer": format!("aks-system-{}-vmss000001", &cluster[8..12]), "KubeEventType": event_type, "Message": message, "Name": name,
                "Namespace": ns, "ObjectKind": kind, "Reason": reason, "SourceComponent": "external-secrets", "Count": tick.count,
                "FirstSeen": ts(tick.first_seen), "LastSeen": ts(tick.last_seen)}),
            );
        }
    }

    fn inventory(&mut self, cluster: &str, t: DateTime<Utc>) {
        for (ns, pod, controller) in [
            ("external-secrets", "external-secrets-5c8d7f9b6-qp2xv", "external-secrets-5c8d7f9b6"),
            ("kube-system", "coredns-6f7b5c8d9-h4k2m", "coredns-6f7b5c8d9"),
        ] {
            let created = at(1, 0, 0) - Duration::days(12);
            let generated = t + Duration::seconds(self.rng.i64(0..50));
            self.push("KubePodInventory", json!({"TimeGenerated": ts(generated), "ClusterName": cluster, "Name": pod,
                "Namespace": ns, "PodUid": format!("{:08x}-{}", pod.len() * 131, &cluster[8..12]), "PodStatus": "Running",
                "PodCreationTimeStamp": ts(created), "PodStartTime": ts(created + Duration::seconds(6)), "PodRestartCount": 0,
                "ContainerName": format!("{pod}/{}", ns), "ContainerID": format!("{:x}", pod.len() as u64 * 0x9e37_79b9), "ContainerStatus": "running",
                "ContainerRestartCount": 0, "ControllerKind": "ReplicaSet", "ControllerName": controller, "Computer": format!("aks-user-{}-vmss000000", &cluster[8..12]),
                "ServiceName": ns}));
        }
    }
}

/// Whether `t` falls in one of the month's planted outages.
fn eso_down(cluster: &str, t: DateTime<Utc>) -> bool {
    cluster == CLUSTERS[0] && t >= at(21, 6, 0) && t < at(21, 12, 0)
}

/// Whether the production cluster's audit log (its diagnostic setting) was off when a row
/// would have reached the workspace.
fn audit_off(cluster: &str, t: DateTime<Utc>) -> bool {
    cluster == CLUSTERS[0] && t >= at(14, 0, 0) && t < at(15, 0, 0)
}

/// The month's Log Analytics tables.
pub fn generate() -> Month {
    let mut w = Writer { rng: fastrand::Rng::with_seed(2610), tables: BTreeMap::new(), audit_ids: 0 };
    let start = at(1, 0, 0);
    let end = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let groups_eso = ["system:serviceaccounts", "system:serviceaccounts:external-secrets", "system:authenticated"];
    // ESO refreshes each ExternalSecret on its interval: an Akeyless read and a Secret get.
    for (cluster, ns, name, item, interval) in EXTERNAL_SECRETS {
        let (access_id, egress) = if cluster == CLUSTERS[0] { (PROD_K8S, "20.103.17.40") } else { (DEV_K8S, "20.103.88.9") };
        let mut t = start + Duration::seconds(w.rng.i64(0..600));
        while t < end {
            if !eso_down(cluster, t) {
                let remote = format!("{egress}, 10.244.1.{}", 10 + w.rng.u8(0..30));
                w.akeyless(
                    t,
                    access_id,
                    "get_secret_value",
                    Some(item),
                    200,
                    "k8s",
                    &remote,
                    json!({"k8s_namespace": "external-secrets", "k8s_service_account": "external-secrets"}),
                );
                let get = t + Duration::milliseconds(w.rng.i64(90..500));
                w.audit(cluster, get, "get", ESO_SA, &groups_eso, ESO_AGENT, "secrets", ns, name, 200);
            }
            t += Duration::seconds(interval_secs(interval));
        }
    }
    // The platform's own controllers watch Secrets all day, ESO or not.
    for cluster in CLUSTERS {
        let mut t = start + Duration::minutes(7);
        while t < end {
            w.audit(
                cluster,
                t,
                "watch",
                "system:kube-controller-manager",
                &["system:authenticated"],
                "kube-controller-manager/v1.33.1",
                "secrets",
                "kube-system",
                "",
                200,
            );
            if t.minute() < 30 {
                w.inventory(cluster, t.with_minute(0).unwrap());
            }
            t += Duration::minutes(30);
        }
    }
    // Weekly rotations, Mondays 02:00, and ESO's update of each Secret after its next refresh.
    let mut day = start;
    while day < end {
        if day.weekday() == chrono::Weekday::Mon && day.day() >= 12 {
            for (cluster, ns, name, item, _) in
                EXTERNAL_SECRETS.iter().filter(|e| ["/prod/orders/mysql", "/prod/catalog/mongo", "/dev/billing/postgres"].contains(&e.3))
            {
                let rotated = day + Duration::hours(2) + Duration::seconds(40);
                w.akeyless(rotated, ROTATOR, "rotate_item", Some(item), 200, "api_key", "10.20.0.5", json!({}));
                let after = match *item {
                    // Stale for 50 min on the 12th: three times its 15 min interval.
                    "/prod/orders/mysql" if day.day() == 12 => Duration::minutes(50),
                    "/prod/orders/mysql" => Duration::minutes(11),
                    // 70 min: within its hourly interval and the grace.
                    "/prod/catalog/mongo" => Duration::minutes(70),
                    _ => Duration::minutes(25),
                };
                let updated = rotated + after;
                w.audit(cluster, updated, "update", ESO_SA, &groups_eso, ESO_AGENT, "secrets", ns, name, 200);
                w.event(cluster, updated, updated, 1, ns, "ExternalSecret", name, "Normal", "Updated", "Updated Secret");
            }
        }
        day += Duration::days(1);
    }
    // Store validation events.
    for cluster in CLUSTERS {
        let store = if cluster == CLUSTERS[0] { "akeyless-production" } else { "akeyless-development" };
        w.event(cluster, at(1, 0, 5), at(31, 23, 5), 1488, "default", "ClusterSecretStore", store, "Normal", "Valid", "store validated");
    }
    // Privileged changes: a password user with an authenticator app, the SAML admins, the
    // declared Terraform identity, a password user without MFA, an undeclared CI key.
    let console = |email: &str| json!({"email": email});
    w.akeyless(at(6, 9, 14), CAROL, "update_role", Some("eso-production"), 200, "password", "198.51.100.40", console("carol@fabrikam.com"));
    w.akeyless(at(8, 15, 2), SSO, "create_item", Some("/prod/payments/webhook-secret"), 200, "saml", "198.51.100.41", console("frank@fabrikam.com"));
    w.akeyless(at(24, 16, 45), SSO, "update_item", Some("/prod/payments/webhook-secret"), 200, "saml", "198.51.100.41", console("frank@fabrikam.com"));
    w.akeyless(at(13, 11, 30), TERRAFORM, "update_item", Some("/prod/orders/mysql"), 200, "access_key", "20.50.4.2", json!({}));
    w.akeyless(at(15, 11, 20), DAVE, "update_item", Some("/prod/legacy/ftp-password"), 200, "password", "203.0.113.61", console("dave@fabrikam.com"));
    w.akeyless(at(27, 23, 50), DEPLOYER, "delete_role", Some("eso-staging"), 200, "access_key", "203.0.113.200", json!({}));
    // A person reads a production Secret with kubectl.
    w.audit(
        CLUSTERS[0],
        at(17, 10, 4),
        "get",
        "erin@fabrikam.com",
        &["system:authenticated", "4e3f2a1b-aks-readers"],
        KUBECTL,
        "secrets",
        "payments",
        "psp-api-key",
        200,
    );
    // The ESO controller down for six hours on the 21st: no ESO activity, audit goes on.
    w.event(CLUSTERS[0], at(21, 12, 2), at(21, 12, 2), 1, "billing", "ExternalSecret", "postgres", "Normal", "Updated", "Updated Secret");
    for rows in w.tables.values_mut() {
        rows.sort_by(|a, b| a["TimeGenerated"].as_str().cmp(&b["TimeGenerated"].as_str()));
    }
    w.tables
}

/// The Akeyless records the Gateway forwarded to files: every record but those of
/// 2026-10-09 10:00–11:00, which the file sink missed (Log Analytics has them). Same
/// layout as the first sample ([`crate::sample_month::forwarded_files`]).
pub fn forwarded_files(month: &Month) -> Vec<(String, String)> {
    let mut kept = month.clone();
    if let Some(rows) = kept.get_mut("AkeylessAudit_CL") {
        rows.retain(|row| {
            let record: Value = serde_json::from_str(row["msg_s"].as_str().unwrap_or("{}")).unwrap_or_default();
            let t = record["timestamp"].as_str().unwrap_or_default();
            !("2026-10-09T10:00".."2026-10-09T11:00").contains(&t)
        });
    }
    crate::sample_month::forwarded_files(&kept)
}

/// The two clusters' Kubernetes API objects: ESO's events, ExternalSecrets, stores and the
/// RBAC around Secrets.
pub fn clusters(month: &Month) -> BTreeMap<String, ClusterObjects> {
    CLUSTERS.iter().map(|c| (c.to_string(), cluster(month, c))).collect()
}

fn meta(cluster: &str, ns: Option<&str>, name: &str, version: usize) -> Value {
    let mut m = json!({"name": name, "uid": format!("{:08x}-0000-4000-8000-{:012x}", version, cluster.len() * 7 + version),
                       "resourceVersion": version.to_string(), "generation": 1, "creationTimestamp": "2026-09-01T08:00:00Z"});
    if let Some(ns) = ns {
        m["namespace"] = json!(ns);
    }
    m
}

fn cluster(month: &Month, name: &str) -> ClusterObjects {
    let production = name == CLUSTERS[0];
    let (store, access_id) = if production { ("akeyless-production", PROD_K8S) } else { ("akeyless-development", DEV_K8S) };
    let mut objects = ClusterObjects::new();
    let events: Vec<Value> = crate::sample_kubernetes::final_states(month, name)
        .into_iter()
        .enumerate()
        .map(|(n, r)| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let kind = text("ObjectKind");
            let mut involved = json!({"apiVersion": "external-secrets.io/v1", "kind": kind, "name": text("Name"), "uid": format!("0000{n:04}-1111-4111-8111-000000000000")});
            if kind != "ClusterSecretStore" {
                involved["namespace"] = json!(text("Namespace"));
            }
            json!({"apiVersion": "v1", "kind": "Event",
                   "metadata": {"name": format!("{}.{:016x}", text("Name"), 0x18a0_0000_0000_0000u64 + n as u64), "namespace": text("Namespace"),
                                "uid": format!("e{n:07}-2222-4222-8222-000000000000"), "resourceVersion": (900_000 + n).to_string(), "creationTimestamp": text("FirstSeen")},
                   "involvedObject": involved, "reason": text("Reason"), "message": text("Message"), "type": text("KubeEventType"),
                   "count": r["Count"], "firstTimestamp": text("FirstSeen"), "lastTimestamp": text("LastSeen"),
                   "source": {"component": "external-secrets"}, "reportingComponent": "external-secrets", "reportingInstance": ""})
        })
        .collect();
    objects.insert("events".into(), events);
    let external: Vec<Value> = EXTERNAL_SECRETS
        .iter()
        .enumerate()
        .filter(|(_, e)| e.0 == name)
        .map(|(i, (_, ns, es, item, interval))| {
            json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": meta(name, Some(ns), es, 7000 + i),
                   "spec": {"refreshInterval": interval, "refreshPolicy": "Periodic", "secretStoreRef": {"name": store, "kind": "ClusterSecretStore"},
                            "target": {"name": es, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                            "data": [{"secretKey": "password", "remoteRef": {"key": item}}]},
                   "status": {"refreshTime": "2026-10-31T23:50:00Z", "syncedResourceVersion": format!("1-{i:08x}"), "binding": {"name": es},
                              "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced",
                                              "lastTransitionTime": "2026-10-21T12:02:00Z"}]}})
        })
        .collect();
    objects.insert("externalsecrets".into(), external);
    objects.insert(
        "clustersecretstores".into(),
        vec![json!({"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": meta(name, None, store, 7100),
            "spec": {"provider": {"akeyless": {"akeylessGWApiURL": "https://akeyless-gw.fabrikam.internal:8000/api/v2",
                "authSecretRef": {"kubernetesAuth": {"accessID": access_id, "k8sConfName": name,
                                                     "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}}},
            "status": {"capabilities": "ReadWrite", "conditions": [{"type": "Ready", "status": "True", "reason": "Valid", "message": "store validated"}]}})],
    );
    objects.insert("secretstores".into(), Vec::new());
    objects.insert("pushsecrets".into(), Vec::new());
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| json!({"apiGroups": groups, "resources": resources, "verbs": verbs});
    let rbac = "rbac.authorization.k8s.io/v1";
    let mut cluster_roles = vec![
        json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": meta(name, None, "cluster-admin", 7200), "rules": [rule(&["*"], &["*"], &["*"])]}),
        json!({"apiVersion": rbac, "kind": "ClusterRole", "metadata": meta(name, None, "external-secrets-controller", 7201),
               "rules": [rule(&["external-secrets.io"], &["externalsecrets", "clustersecretstores", "secretstores", "pushsecrets"], &["get", "list", "watch"]),
                         rule(&[""], &["secrets"], &["get", "list", "watch", "create", "update", "delete", "patch"])]}),
    ];
    let cluster_bindings = vec![
        json!({"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": meta(name, None, "cluster-admin", 7300),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]}),
        // AKS's binding of its admin Entra group (managed Entra ID integration).
        json!({"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": meta(name, None, "aks-cluster-admin-binding-aad", 7301),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "9f1d3c5e-2b4a-4c6e-8a0f-1e2d3c4b5a69"}]}),
        json!({"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": meta(name, None, "external-secrets-controller", 7302),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "external-secrets-controller"},
               "subjects": [{"kind": "ServiceAccount", "name": "external-secrets", "namespace": "external-secrets"}]}),
    ];
    let mut roles = Vec::new();
    let mut bindings = Vec::new();
    if production {
        // An application allowed everything on its namespace's Secrets.
        roles.push(json!({"apiVersion": rbac, "kind": "Role", "metadata": meta(name, Some("reports"), "reporting-secrets", 7400), "rules": [rule(&[""], &["secrets"], &["*"])]}));
        bindings.push(json!({"apiVersion": rbac, "kind": "RoleBinding", "metadata": meta(name, Some("reports"), "reporting-secrets", 7500),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reporting-secrets"},
            "subjects": [{"kind": "ServiceAccount", "name": "reporter", "namespace": "reports"}]}));
    }
    cluster_roles.sort_by_key(|r| r["metadata"]["name"].as_str().unwrap_or_default().to_string());
    objects.insert("clusterroles".into(), cluster_roles);
    objects.insert("clusterrolebindings".into(), cluster_bindings);
    objects.insert("roles".into(), roles);
    objects.insert("rolebindings".into(), bindings);
    objects
}

/// What Fabrikam declares about itself (its `keytrail.toml` beyond the sources).
pub const ORGANISATION: &str = include_str!("../../../sample-data/vendor-month/organisation.toml");

/// Every Log Analytics table of this month.
pub const TABLES: &[&str] = &["KubeEvents", "KubePodInventory", "AKSAudit", "AKSAuditAdmin", "AkeylessAudit_CL"];

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in API objects are exactly the generator's; `KEYTRAIL_REGENERATE=1`
    /// rewrites them.
    #[test]
    fn checked_in_objects_match_the_generator() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-data/vendor-month");
        let (items, roles, auth_methods) = akeyless_config();
        let mut files: Vec<(String, String)> = [("items.json", items), ("roles.json", roles), ("auth-methods.json", auth_methods)]
            .into_iter()
            .map(|(name, objects)| (format!("akeyless-api/{name}"), serde_json::to_string_pretty(&objects).unwrap() + "\n"))
            .collect();
        for (cluster, objects) in clusters(&generate()) {
            for (resource, list) in objects {
                files.push((format!("kubernetes/{cluster}/{resource}.json"), serde_json::to_string_pretty(&list).unwrap() + "\n"));
            }
        }
        for (path, text) in files {
            let path = dir.join(path);
            if std::env::var_os("KEYTRAIL_REGENERATE").is_some() {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let actual = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(actual == text, "{} differs from the generator; run with KEYTRAIL_REGENERATE=1", path.display());
        }
    }

    #[test]
    fn the_month_has_its_planted_silences() {
        let month = generate();
        let prod_audit_on_14th = month["AKSAudit"]
            .iter()
            .filter(|r| r["_ResourceId"].as_str().unwrap().ends_with(CLUSTERS[0]) && r["TimeGenerated"].as_str().unwrap().starts_with("2026-10-14"))
            .count();
        assert_eq!(prod_audit_on_14th, 0);
        let reads_in_outage = month["AkeylessAudit_CL"]
            .iter()
            .filter(|r| r["msg_s"].as_str().unwrap().contains(PROD_K8S))
            .filter(|r| r["TimeGenerated"].as_str().unwrap() > "2026-10-21T06:05" && r["TimeGenerated"].as_str().unwrap() < "2026-10-21T12:00")
            .count();
        assert_eq!(reads_in_outage, 0, "ESO is down");
        let files: usize = forwarded_files(&month).iter().map(|(_, text)| text.lines().count()).sum();
        assert!(files < month["AkeylessAudit_CL"].len(), "the file sink missed an hour");
    }
}
