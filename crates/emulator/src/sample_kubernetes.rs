//! The sample month as the two clusters' Kubernetes API shows it (`sample-data/kubernetes/`):
//! the External Secrets Operator's events, its resources and the RBAC around Secrets.
//!
//! Events are the ones the sample month's `KubeEvents` table carries (Container Insights
//! copies them from the same API), turned back into core/v1 `Event` objects. The resources
//! are the clusters' configuration at the end of the month, with what the controls look
//! for: an ExternalSecret in production refreshed only every 24 h, a dev ExternalSecret
//! reading a production item, a SecretStore that never validates
//! (`InvalidProviderConfig`), a SecretStore of another provider (AWS), and a Role granting
//! `*` on Secrets to an application's service account.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::sample_month::{Month, Planted};

/// One cluster's API objects, per resource (`events`, `externalsecrets`, `secretstores`,
/// `clustersecretstores`, `pushsecrets`, `roles`, `clusterroles`, `rolebindings`,
/// `clusterrolebindings`).
pub type ClusterObjects = BTreeMap<String, Vec<Value>>;

/// The sample clusters' names.
pub const CLUSTERS: [&str; 2] = ["aks-prod", "aks-dev"];

/// When the configuration snapshot shows its resources last refreshed.
const REFRESHED: &str = "2026-11-30T22:00:00Z";

/// Every sample cluster's objects, by cluster name.
pub fn clusters(month: &Month) -> BTreeMap<String, ClusterObjects> {
    clusters_with(month, Planted::Yes)
}

/// [`clusters`], with or without the planted problems (clean: no store of another
/// provider or that fails to validate, no dev ExternalSecret reading production, hourly
/// refreshes in production, no wildcard on Secrets).
pub fn clusters_with(month: &Month, planted: Planted) -> BTreeMap<String, ClusterObjects> {
    CLUSTERS.iter().map(|c| (c.to_string(), cluster(month, c, planted == Planted::Yes))).collect()
}

fn cluster(month: &Month, name: &str, planted: bool) -> ClusterObjects {
    let env = if name == "aks-prod" { "prod" } else { "dev" };
    let mut objects = ClusterObjects::new();
    objects.insert("events".into(), events(month, name));
    let access_id = if env == "prod" { "p-prodk8s01" } else { "p-devk8s01" };
    let store = format!("akeyless-{env}");
    let mut external = vec![];
    let secrets: &[(&str, &str, &str, &str)] = if env == "prod" {
        &[
            ("payments", "db-credentials", "/prod/payments/db-password", "2h"),
            ("payments", "stripe-api-key", "/prod/payments/stripe-api-key", "2h"),
            ("orders", "db-credentials", "/prod/orders/db-password", "2h"),
            ("identity", "oidc-client", "/prod/identity/oidc-client-secret", "1h0m0s"),
            ("identity", "signing-key", "/prod/identity/jwt-signing-key", if planted { "24h" } else { "1h" }),
        ]
    } else if planted {
        &[
            ("payments", "db-credentials", "/dev/payments/db-password", "2h"),
            ("payments", "stripe-api-key", "/prod/payments/stripe-api-key", "2h"),
            ("orders", "db-credentials", "/dev/orders/db-password", "2h"),
            ("identity", "oidc-client", "/dev/identity/oidc-client-secret", "2h"),
        ]
    } else {
        &[
            ("payments", "db-credentials", "/dev/payments/db-password", "2h"),
            ("orders", "db-credentials", "/dev/orders/db-password", "2h"),
            ("identity", "oidc-client", "/dev/identity/oidc-client-secret", "2h"),
        ]
    };
    for (i, (ns, es, key, interval)) in secrets.iter().enumerate() {
        external.push(json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": meta(name, "ExternalSecret", Some(ns), es, 4000 + i),
            "spec": {"refreshInterval": interval, "refreshPolicy": "Periodic",
                     "secretStoreRef": {"name": store, "kind": "ClusterSecretStore"},
                     "target": {"name": es, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                     "data": [{"secretKey": "value", "remoteRef": {"key": key}}]},
            "status": {"refreshTime": REFRESHED, "syncedResourceVersion": format!("1-{:x}", fnv(&[name, es, ns])),
                       "binding": {"name": es},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced",
                                       "lastTransitionTime": "2026-11-16T12:21:00Z"}]},
        }));
    }
    if env == "dev" && planted {
        // Uses the store that never validates: never synced. No refreshInterval set.
        external.push(json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": meta(name, "ExternalSecret", Some("orders"), "legacy-config", 4100),
            "spec": {"secretStoreRef": {"name": "akeyless-legacy", "kind": "SecretStore"},
                     "target": {"name": "legacy-config"},
                     "dataFrom": [{"extract": {"key": "/dev/orders/legacy-config"}}]},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "SecretSyncedError",
                                       "message": "could not get secret data from provider", "lastTransitionTime": "2026-11-03T09:00:00Z"}]},
        }));
    }
    objects.insert("externalsecrets".into(), external);
    objects.insert(
        "clustersecretstores".into(),
        vec![json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
            "metadata": meta(name, "ClusterSecretStore", None, &store, 4200),
            "spec": {"provider": {"akeyless": {"akeylessGWApiURL": "https://akeyless-gateway.akeyless.svc:8000/api/v2",
                "authSecretRef": {"kubernetesAuth": {"accessID": access_id, "k8sConfName": name,
                                                     "serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}}},
            "status": {"capabilities": "ReadWrite", "conditions": [{"type": "Ready", "status": "True", "reason": "Valid", "message": "store validated"}]},
        })],
    );
    let mut stores = vec![];
    if planted && env == "prod" {
        stores.push(json!({
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": meta(name, "SecretStore", Some("payments"), "aws-secrets", 4300),
            "spec": {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1",
                "auth": {"secretRef": {"accessKeyIDSecretRef": {"name": "aws-credentials", "key": "access-key-id"},
                                       "secretAccessKeySecretRef": {"name": "aws-credentials", "key": "secret-access-key"}}}}}},
            "status": {"capabilities": "ReadOnly", "conditions": [{"type": "Ready", "status": "True", "reason": "Valid", "message": "store validated"}]},
        }));
    } else if planted {
        stores.push(json!({
            "apiVersion": "external-secrets.io/v1", "kind": "SecretStore",
            "metadata": meta(name, "SecretStore", Some("orders"), "akeyless-legacy", 4301),
            "spec": {"provider": {"akeyless": {"akeylessGWApiURL": "https://api.akeyless.io",
                "authSecretRef": {"secretRef": {"accessType": {"name": "akeyless-creds", "key": "access-type"},
                                                "accessTypeParam": {"name": "akeyless-creds", "key": "access-type-param"}}}}}},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "InvalidProviderConfig",
                                       "message": "unable to validate store: missing accessID in authSecretRef"}]},
        }));
    }
    objects.insert("secretstores".into(), stores);
    let pushes = if env == "prod" {
        vec![json!({
            "apiVersion": "external-secrets.io/v1alpha1", "kind": "PushSecret",
            "metadata": meta(name, "PushSecret", Some("payments"), "push-db-dsn", 4400),
            "spec": {"refreshInterval": "1h", "secretStoreRefs": [{"name": "akeyless-prod", "kind": "ClusterSecretStore"}],
                     "selector": {"secret": {"name": "db-dsn"}},
                     "data": [{"match": {"secretKey": "dsn", "remoteRef": {"remoteKey": "/prod/payments/db-dsn"}}}]},
            "status": {"refreshTime": REFRESHED, "conditions": [{"type": "Ready", "status": "True", "reason": "Synced", "message": "PushSecret synced successfully"}]},
        })]
    } else {
        vec![]
    };
    objects.insert("pushsecrets".into(), pushes);
    rbac(name, env, planted, &mut objects);
    objects
}

fn rbac(cluster: &str, env: &str, planted: bool, objects: &mut ClusterObjects) {
    let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| json!({"apiGroups": groups, "resources": resources, "verbs": verbs});
    let mut cluster_roles = vec![
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta(cluster, "ClusterRole", None, "cluster-admin", 5000),
               "rules": [rule(&["*"], &["*"], &["*"]), json!({"nonResourceURLs": ["*"], "verbs": ["*"]})]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta(cluster, "ClusterRole", None, "external-secrets-controller", 5001),
               "rules": [rule(&["external-secrets.io"], &["externalsecrets", "secretstores", "clustersecretstores", "pushsecrets"], &["get", "list", "watch"]),
                         rule(&["external-secrets.io"], &["externalsecrets/status", "externalsecrets/finalizers"], &["get", "update", "patch"]),
                         rule(&[""], &["secrets"], &["get", "list", "watch", "create", "update", "delete", "patch"]),
                         rule(&[""], &["events"], &["create", "patch"])]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta(cluster, "ClusterRole", None, "view", 5002),
               "rules": [rule(&[""], &["pods", "services", "configmaps"], &["get", "list", "watch"])]}),
    ];
    let mut cluster_bindings = vec![
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta(cluster, "ClusterRoleBinding", None, "cluster-admin", 5100),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta(cluster, "ClusterRoleBinding", None, "external-secrets-controller", 5101),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "external-secrets-controller"},
               "subjects": [{"kind": "ServiceAccount", "name": "external-secrets", "namespace": "external-secrets"}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta(cluster, "ClusterRoleBinding", None, "view-all", 5102),
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "aad:developers"}]}),
    ];
    let mut roles =
        vec![json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(cluster, "Role", Some("payments"), "pod-reader", 5200),
                                "rules": [rule(&[""], &["pods", "pods/log"], &["get", "list"])]})];
    let mut bindings = vec![];
    if env == "prod" {
        cluster_roles.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": meta(cluster, "ClusterRole", None, "eso-secrets-admin", 5003),
            "rules": [rule(&["external-secrets.io"], &["*"], &["*"]), rule(&[""], &["secrets"], &["get", "list"])]}));
        cluster_bindings.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": meta(cluster, "ClusterRoleBinding", None, "eso-secrets-admin", 5103),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "eso-secrets-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "aad:platform-admins"}]}));
        roles.push(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(cluster, "Role", Some("payments"), "secret-reader", 5201),
            "rules": [rule(&[""], &["secrets"], &["get", "list"])]}),
        );
        bindings.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(cluster, "RoleBinding", Some("payments"), "secret-reader-alice", 5300),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "secret-reader"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice@contoso.com"}]}));
    }
    if env == "prod" && planted {
        // An application allowed everything on its namespace's Secrets.
        roles.push(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(cluster, "Role", Some("orders"), "orders-api-secrets", 5202),
            "rules": [rule(&[""], &["secrets"], &["*"])]}),
        );
        bindings.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(cluster, "RoleBinding", Some("orders"), "orders-api-secrets", 5301),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "orders-api-secrets"},
            "subjects": [{"kind": "ServiceAccount", "name": "orders-api", "namespace": "orders"}]}));
    }
    bindings.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(cluster, "RoleBinding", Some("payments"), "pod-reader", 5302),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "aad:developers"}]}));
    objects.insert("clusterroles".into(), cluster_roles);
    objects.insert("clusterrolebindings".into(), cluster_bindings);
    objects.insert("roles".into(), roles);
    objects.insert("rolebindings".into(), bindings);
}

/// The last `KubeEvents` row of each Event object of `cluster` (one object per kind,
/// namespace, name, reason and `FirstSeen`), in the order the objects were created.
pub(crate) fn final_states<'m>(month: &'m Month, cluster: &str) -> Vec<&'m serde_json::Map<String, Value>> {
    let mut objects: Vec<&serde_json::Map<String, Value>> = Vec::new();
    let same = |a: &serde_json::Map<String, Value>, b: &serde_json::Map<String, Value>| {
        ["ObjectKind", "Namespace", "Name", "Reason", "FirstSeen"].iter().all(|k| a.get(*k) == b.get(*k))
    };
    for row in month.get("KubeEvents").into_iter().flatten().filter(|r| r["ClusterName"] == cluster) {
        match objects.iter_mut().find(|o| same(o, row)) {
            Some(object) if row["Count"].as_u64() > object["Count"].as_u64() => *object = row,
            Some(_) => {}
            None => objects.push(row),
        }
    }
    objects
}

/// The cluster's events for the ESO kinds: each Event object's final state, from the
/// month's `KubeEvents` rows.
fn events(month: &Month, cluster: &str) -> Vec<Value> {
    final_states(month, cluster)
        .into_iter()
        .enumerate()
        .map(|(n, r)| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let (kind, ns, name) = (text("ObjectKind"), text("Namespace"), text("Name"));
            let namespaced = kind != "ClusterSecretStore";
            let first = text("FirstSeen");
            let mut involved = json!({"apiVersion": "external-secrets.io/v1", "kind": kind, "name": name,
                                      "uid": uid(&[cluster, &kind, if namespaced { &ns } else { "" }, &name])});
            if namespaced {
                involved["namespace"] = json!(ns);
            }
            let key = fnv(&[cluster, &kind, &ns, &name, &text("Reason"), &first]);
            json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("{name}.{key:016x}"), "namespace": ns, "uid": uid(&[cluster, "Event", &key.to_string()]),
                             "resourceVersion": (700_000 + n).to_string(), "creationTimestamp": first},
                "involvedObject": involved,
                "reason": text("Reason"), "message": text("Message"), "type": text("KubeEventType"),
                "count": r["Count"], "firstTimestamp": first, "lastTimestamp": text("LastSeen"),
                "source": {"component": text("SourceComponent")},
                "reportingComponent": text("SourceComponent"), "reportingInstance": "",
            })
        })
        .collect()
}

fn meta(cluster: &str, kind: &str, ns: Option<&str>, name: &str, resource_version: usize) -> Value {
    let mut m = json!({"name": name, "uid": uid(&[cluster, kind, ns.unwrap_or_default(), name]),
                       "resourceVersion": resource_version.to_string(), "generation": 1, "creationTimestamp": "2026-10-20T09:00:00Z"});
    if let Some(ns) = ns {
        m["namespace"] = json!(ns);
    }
    m
}

/// A stable UUID-shaped identifier for an object.
fn uid(parts: &[&str]) -> String {
    let (a, b) = (fnv(parts), fnv(&[&parts.join("/"), "2"]));
    format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff, b >> 52, b & 0xffff_ffff_ffff)
}

/// FNV-1a over the parts, separated: deterministic across platforms and versions, which
/// `std`'s hasher is not.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.bytes().chain([0])) {
        h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Writes every cluster as `<dir>/<cluster>/<resource>.json`.
pub fn write(clusters: &BTreeMap<String, ClusterObjects>, dir: &std::path::Path) -> std::io::Result<()> {
    for (name, objects) in clusters {
        std::fs::create_dir_all(dir.join(name))?;
        for (resource, list) in objects {
            std::fs::write(dir.join(name).join(format!("{resource}.json")), serde_json::to_string_pretty(list).expect("JSON") + "\n")?;
        }
    }
    Ok(())
}
