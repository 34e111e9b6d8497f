//! Configuration snapshots: the ESO resources (`external-secrets.io`, found through
//! discovery) and the RBAC objects that grant anything on Secrets or ESO resources.
//!
//! One snapshot per run and stream, every row stamped with the same `snapshot_time`. A
//! snapshot identical to the cluster's previous one in the stream, taken the same UTC day,
//! is not written again, so re-running a collection adds nothing while a daily run still
//! leaves a dated snapshot each day.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use keytrail_ledger::{Batch, Column, FieldType, Ledger, Record, Records, StreamSchema, Value};
use kube::api::{Api, DynamicObject, GroupVersionKind, ListParams};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use super::{ClusterReport, KubernetesError, api_error, cluster_part, with_cluster_part};

/// ESO's API group.
const ESO_GROUP: &str = "external-secrets.io";

/// One snapshot stream of ESO objects.
struct EsoKind {
    stream: &'static str,
    kind: &'static str,
    /// Versions tried in order (PushSecret is still `v1alpha1` in current ESO releases).
    versions: &'static [&'static str],
    values: fn(&Json) -> Vec<Value>,
}

const ESO_KINDS: [EsoKind; 4] = [
    EsoKind { stream: "eso_externalsecrets", kind: "ExternalSecret", versions: &["v1"], values: external_secret_values },
    EsoKind { stream: "eso_secretstores", kind: "SecretStore", versions: &["v1"], values: store_values },
    EsoKind { stream: "eso_secretstores", kind: "ClusterSecretStore", versions: &["v1"], values: store_values },
    EsoKind { stream: "eso_pushsecrets", kind: "PushSecret", versions: &["v1", "v1alpha1"], values: push_secret_values },
];

/// The stream of RBAC objects around Secrets and ESO.
const RBAC_STREAM: &str = "k8s_rbac";

/// Columns every snapshot row starts with.
const COMMON: &[(&str, FieldType)] = &[
    ("snapshot_time", FieldType::Time),
    ("run_id", FieldType::Str),
    ("cluster_name", FieldType::Str),
    ("kind", FieldType::Str),
    ("namespace", FieldType::Str),
    ("name", FieldType::Str),
    ("uid", FieldType::Str),
];

use FieldType::{Bool, Int, Str, StrList, Time};

const EXTERNAL_SECRET_COLUMNS: &[(&str, FieldType)] = &[
    ("refresh_interval", Str),
    ("refresh_interval_secs", Int),
    ("refresh_policy", Str),
    ("store_name", Str),
    ("store_kind", Str),
    ("target_name", Str),
    ("creation_policy", Str),
    ("deletion_policy", Str),
    ("remote_keys", StrList),
    ("ready_status", Str),
    ("ready_reason", Str),
    ("ready_message", Str),
    ("refresh_time", Time),
    ("synced_resource_version", Str),
];

const STORE_COLUMNS: &[(&str, FieldType)] = &[
    ("scope", Str),
    ("provider", Str),
    ("akeyless_auth_kind", Str),
    ("akeyless_access_id", Str),
    ("akeyless_gateway_url", Str),
    ("ready_status", Str),
    ("ready_reason", Str),
    ("ready_message", Str),
];

const PUSH_SECRET_COLUMNS: &[(&str, FieldType)] = &[
    ("api_version", Str),
    ("refresh_interval_secs", Int),
    ("store_names", StrList),
    ("source_secret", Str),
    ("remote_keys", StrList),
    ("ready_status", Str),
    ("ready_reason", Str),
    ("ready_message", Str),
    ("refresh_time", Time),
];

const RBAC_COLUMNS: &[(&str, FieldType)] = &[
    ("verbs", StrList),
    ("resources", StrList),
    ("resource_names", StrList),
    ("grants_secrets", Bool),
    ("grants_eso", Bool),
    ("wildcard", Bool),
    ("role_ref_kind", Str),
    ("role_ref_name", Str),
    ("subjects", StrList),
];

fn stream_schema(stream: &str, specific: &[(&str, FieldType)]) -> Result<StreamSchema, keytrail_ledger::LedgerError> {
    StreamSchema::new(stream, COMMON.iter().chain(specific).map(|(n, t)| Column::new(*n, *t)).collect())
}

/// Every snapshot stream and the columns it has beyond [`COMMON`], in snapshot order.
const SNAPSHOT_STREAMS: [(&str, &[(&str, FieldType)]); 4] = [
    ("eso_externalsecrets", EXTERNAL_SECRET_COLUMNS),
    ("eso_pushsecrets", PUSH_SECRET_COLUMNS),
    ("eso_secretstores", STORE_COLUMNS),
    (RBAC_STREAM, RBAC_COLUMNS),
];

/// The snapshot streams' schemas.
pub fn snapshot_schemas() -> Result<Vec<StreamSchema>, keytrail_ledger::LedgerError> {
    SNAPSHOT_STREAMS.iter().map(|(stream, specific)| stream_schema(stream, specific)).collect()
}

/// One row of a snapshot being built: the object as listed and its values after
/// `snapshot_time`, `run_id` and `cluster_name`.
struct SnapshotRow {
    raw: Vec<u8>,
    values: Vec<Value>,
}

/// One stream's snapshot being built.
#[derive(Default)]
struct Snapshot {
    rows: Vec<SnapshotRow>,
}

impl Snapshot {
    fn push(&mut self, kind: &str, mut object: Json, specific: Vec<Value>) {
        if let Some(meta) = object.get_mut("metadata").and_then(Json::as_object_mut) {
            meta.remove("managedFields");
        }
        let meta = |k: &str| object.pointer(&format!("/metadata/{k}")).and_then(Json::as_str).map_or(Value::Null, |s| Value::Str(s.into()));
        let mut values = vec![Value::Str(kind.into()), meta("namespace"), meta("name"), meta("uid")];
        values.extend(specific);
        let raw = serde_json::to_vec(&object).expect("JSON serializes");
        self.rows.push(SnapshotRow { raw, values });
    }
}

pub(super) async fn collect(
    ledger: &Ledger,
    client: &kube::Client,
    cluster: &str,
    page_size: u32,
    run_id: &str,
    listed_at: chrono::DateTime<chrono::Utc>,
    report: &mut ClusterReport,
) -> Result<(), KubernetesError> {
    let mut snapshots: BTreeMap<&str, Snapshot> = SNAPSHOT_STREAMS.iter().map(|(stream, _)| (*stream, Snapshot::default())).collect();
    for eso in &ESO_KINDS {
        let snapshot = snapshots.get_mut(eso.stream).expect("every ESO stream is a snapshot stream");
        let Some(resource) = discover(client, cluster, eso).await? else {
            tracing::warn!(cluster, kind = eso.kind, "the cluster does not serve ESO's {}: nothing to snapshot", eso.kind);
            continue;
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        for object in list_all(&api, cluster, &format!("listing {}s", eso.kind), page_size, report).await? {
            let json = serde_json::to_value(&object).expect("objects serialize");
            let specific = (eso.values)(&json);
            snapshot.push(eso.kind, json, specific);
        }
    }
    let rbac = snapshots.get_mut(RBAC_STREAM).expect("RBAC is a snapshot stream");
    rbac_snapshot(client, cluster, page_size, report, rbac).await?;

    // The API server's time of the lists: what the snapshot is as of.
    let snapshot_time = listed_at.timestamp_micros();
    let mut written = false;
    for (stream, specific) in SNAPSHOT_STREAMS {
        let snapshot = snapshots.remove(stream).expect("made above");
        let schema = stream_schema(stream, specific)?;
        report.snapshots.push((stream.to_string(), snapshot.rows.len() as u64));
        let mut digest = Sha256::new();
        for row in &snapshot.rows {
            digest.update((row.raw.len() as u64).to_be_bytes());
            digest.update(&row.raw);
        }
        let digest = hex::encode(digest.finalize());
        let cursor = ledger.cursor(stream).await?;
        let previous = cluster_part(&cursor, cluster);
        let same_day = previous["snapshot_time"].as_i64().is_some_and(|t| t.div_euclid(86_400_000_000) == snapshot_time.div_euclid(86_400_000_000));
        if same_day && previous["digest"] == json!(digest) {
            continue;
        }
        let records: Records = snapshot
            .rows
            .into_iter()
            .map(|row| {
                let mut values = vec![Value::Time(snapshot_time), Value::Str(run_id.into()), Value::Str(cluster.into())];
                values.extend(row.values);
                Record { event_time: snapshot_time, raw: row.raw, values }
            })
            .collect();
        let mut batch = Batch::new(records);
        let count = batch.records.len();
        batch.cursor = Some(with_cluster_part(cursor, cluster, json!({"snapshot_time": snapshot_time, "digest": digest, "objects": count, "run_id": run_id})));
        ledger.append(&schema, batch).await?;
        written = true;
    }
    report.snapshot_written = written;
    Ok(())
}

/// The ESO kind's API resource, from the first of its versions the cluster serves.
async fn discover(client: &kube::Client, cluster: &str, eso: &EsoKind) -> Result<Option<kube::api::ApiResource>, KubernetesError> {
    for version in eso.versions {
        let gvk = GroupVersionKind::gvk(ESO_GROUP, version, eso.kind);
        match kube::discovery::pinned_kind(client, &gvk).await {
            Ok((resource, _)) => return Ok(Some(resource)),
            Err(kube::Error::Api(status)) if status.code == 404 => continue,
            Err(kube::Error::Discovery(_)) => continue,
            Err(e) => return Err(api_error(cluster, &format!("discovering {ESO_GROUP}/{version}"), e)),
        }
    }
    if eso.kind == "PushSecret" {
        return Ok(None);
    }
    Err(KubernetesError::Api {
        cluster: cluster.into(),
        what: format!("discovering {ESO_GROUP}"),
        message: format!("the cluster does not serve {}s in {ESO_GROUP}/{}: keytrail needs External Secrets Operator 0.17 or later", eso.kind, eso.versions[0]),
    })
}

/// Every object of a list, page by page; an expired continue token restarts the list.
async fn list_all<K>(api: &Api<K>, cluster: &str, what: &str, page_size: u32, report: &mut ClusterReport) -> Result<Vec<K>, KubernetesError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut objects = Vec::new();
    let mut continue_token: Option<String> = None;
    let mut restarts = 0;
    loop {
        let mut params = ListParams::default().limit(page_size.max(1));
        if let Some(token) = &continue_token {
            params = params.continue_token(token);
        }
        match api.list(&params).await {
            Ok(page) => {
                objects.extend(page.items);
                continue_token = page.metadata.continue_.filter(|c| !c.is_empty());
                if continue_token.is_none() {
                    return Ok(objects);
                }
            }
            Err(kube::Error::Api(status)) if status.code == 410 && continue_token.is_some() && restarts < 5 => {
                restarts += 1;
                report.expired_continue_tokens += 1;
                tracing::warn!(cluster, what, "the list's continue token expired (410 Gone); listing again from the start");
                objects.clear();
                continue_token = None;
            }
            Err(e) => return Err(api_error(cluster, what, e)),
        }
    }
}

fn text(o: &Json, pointer: &str) -> Value {
    match o.pointer(pointer) {
        Some(Json::String(s)) => Value::Str(s.clone()),
        None | Some(Json::Null) => Value::Null,
        Some(other) => Value::Str(other.to_string()),
    }
}

fn time(o: &Json, pointer: &str) -> Value {
    o.pointer(pointer)
        .and_then(Json::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map_or(Value::Null, |t| Value::Time(t.timestamp_micros()))
}

fn strings<'a>(items: impl Iterator<Item = Option<&'a Json>>) -> Value {
    Value::StrList(items.flatten().filter_map(Json::as_str).map(str::to_string).collect())
}

fn array<'a>(o: &'a Json, pointer: &str) -> impl Iterator<Item = &'a Json> {
    o.pointer(pointer).and_then(Json::as_array).into_iter().flatten()
}

/// `status`, `reason`, `message` of the `Ready` condition.
fn ready(o: &Json) -> [Value; 3] {
    let condition = array(o, "/status/conditions").find(|c| c["type"] == "Ready");
    let field = |k: &str| condition.map_or(Value::Null, |c| text(c, &format!("/{k}")));
    [field("status"), field("reason"), field("message")]
}

fn interval_secs(o: &Json, pointer: &str) -> Value {
    o.pointer(pointer).and_then(Json::as_str).and_then(parse_go_duration).map_or(Value::Null, |secs| Value::Int(secs as i64))
}

fn external_secret_values(o: &Json) -> Vec<Value> {
    let keys = array(o, "/spec/data")
        .map(|d| d.pointer("/remoteRef/key"))
        .chain(array(o, "/spec/dataFrom").map(|d| d.pointer("/extract/key").or_else(|| d.pointer("/find/path"))));
    let [status, reason, message] = ready(o);
    vec![
        text(o, "/spec/refreshInterval"),
        interval_secs(o, "/spec/refreshInterval"),
        text(o, "/spec/refreshPolicy"),
        text(o, "/spec/secretStoreRef/name"),
        text(o, "/spec/secretStoreRef/kind"),
        text(o, "/spec/target/name"),
        text(o, "/spec/target/creationPolicy"),
        text(o, "/spec/target/deletionPolicy"),
        strings(keys),
        status,
        reason,
        message,
        time(o, "/status/refreshTime"),
        text(o, "/status/syncedResourceVersion"),
    ]
}

fn store_values(o: &Json) -> Vec<Value> {
    let scope = if o["kind"] == "ClusterSecretStore" { "cluster" } else { "namespaced" };
    let provider = o.pointer("/spec/provider").and_then(Json::as_object).and_then(|p| p.keys().next().cloned());
    let auth = o.pointer("/spec/provider/akeyless/authSecretRef").and_then(Json::as_object);
    let auth_kind = auth.and_then(|a| a.keys().next().cloned());
    let [status, reason, message] = ready(o);
    vec![
        Value::Str(scope.into()),
        provider.map_or(Value::Null, Value::Str),
        auth_kind.map_or(Value::Null, Value::Str),
        // An access ID given in the store itself; one kept in a Secret is never read.
        text(o, "/spec/provider/akeyless/authSecretRef/kubernetesAuth/accessID"),
        text(o, "/spec/provider/akeyless/akeylessGWApiURL"),
        status,
        reason,
        message,
    ]
}

fn push_secret_values(o: &Json) -> Vec<Value> {
    let [status, reason, message] = ready(o);
    vec![
        text(o, "/apiVersion"),
        interval_secs(o, "/spec/refreshInterval"),
        strings(array(o, "/spec/secretStoreRefs").map(|r| r.get("name"))),
        text(o, "/spec/selector/secret/name"),
        strings(array(o, "/spec/data").map(|d| d.pointer("/match/remoteRef/remoteKey"))),
        status,
        reason,
        message,
        time(o, "/status/refreshTime"),
    ]
}

/// What a set of rules grants on Secrets and ESO resources.
#[derive(Clone, Debug, Default)]
struct Grant {
    verbs: BTreeSet<String>,
    resources: BTreeSet<String>,
    resource_names: BTreeSet<String>,
    secrets: bool,
    eso: bool,
    /// `*` among the verbs or resources of a rule on Secrets.
    secrets_wildcard: bool,
}

impl Grant {
    fn of(rules: &[PolicyRule]) -> Self {
        let mut grant = Grant::default();
        for rule in rules {
            let groups = rule.api_groups.as_deref().unwrap_or_default();
            let resources = rule.resources.as_deref().unwrap_or_default();
            let core = groups.iter().any(|g| g.is_empty() || g == "*");
            let secrets = core && resources.iter().any(|r| r == "*" || r == "secrets" || r.starts_with("secrets/"));
            let eso = groups.iter().any(|g| g == ESO_GROUP || g == "*") && !resources.is_empty();
            if !(secrets || eso) {
                continue;
            }
            grant.secrets |= secrets;
            grant.eso |= eso;
            grant.secrets_wildcard |= secrets && (rule.verbs.iter().any(|v| v == "*") || resources.iter().any(|r| r == "*"));
            grant.verbs.extend(rule.verbs.iter().cloned());
            grant.resources.extend(resources.iter().cloned());
            grant.resource_names.extend(rule.resource_names.iter().flatten().cloned());
        }
        grant
    }

    fn relevant(&self) -> bool {
        self.secrets || self.eso
    }

    fn values(&self, role_ref: Option<&RoleRef>, subjects: &[Subject]) -> Vec<Value> {
        let list = |s: &BTreeSet<String>| Value::StrList(s.iter().cloned().collect());
        let subjects = subjects
            .iter()
            .map(|s| match &s.namespace {
                Some(ns) => format!("{}:{ns}/{}", s.kind, s.name),
                None => format!("{}:{}", s.kind, s.name),
            })
            .collect();
        vec![
            list(&self.verbs),
            list(&self.resources),
            list(&self.resource_names),
            Value::Bool(self.secrets),
            Value::Bool(self.eso),
            Value::Bool(self.secrets_wildcard),
            role_ref.map_or(Value::Null, |r| Value::Str(r.kind.clone())),
            role_ref.map_or(Value::Null, |r| Value::Str(r.name.clone())),
            Value::StrList(subjects),
        ]
    }
}

/// Roles and ClusterRoles granting anything on Secrets or ESO resources, and the bindings
/// to them (each binding row repeats what its role grants).
async fn rbac_snapshot(
    client: &kube::Client,
    cluster: &str,
    page_size: u32,
    report: &mut ClusterReport,
    snapshot: &mut Snapshot,
) -> Result<(), KubernetesError> {
    let cluster_roles = list_all(&Api::<ClusterRole>::all(client.clone()), cluster, "listing ClusterRoles", page_size, report).await?;
    let roles = list_all(&Api::<Role>::all(client.clone()), cluster, "listing Roles", page_size, report).await?;
    let mut grants: BTreeMap<(String, String, String), Grant> = BTreeMap::new();
    for role in &cluster_roles {
        let grant = Grant::of(role.rules.as_deref().unwrap_or_default());
        if grant.relevant() {
            let json = serde_json::to_value(role).expect("serializes");
            snapshot.push("ClusterRole", json, grant.values(None, &[]));
            grants.insert(("ClusterRole".into(), String::new(), role.metadata.name.clone().unwrap_or_default()), grant);
        }
    }
    for role in &roles {
        let grant = Grant::of(role.rules.as_deref().unwrap_or_default());
        if grant.relevant() {
            let json = serde_json::to_value(role).expect("serializes");
            snapshot.push("Role", json, grant.values(None, &[]));
            let key = ("Role".into(), role.metadata.namespace.clone().unwrap_or_default(), role.metadata.name.clone().unwrap_or_default());
            grants.insert(key, grant);
        }
    }
    let granted = |role_ref: &RoleRef, namespace: &str| {
        let ns = if role_ref.kind == "ClusterRole" { String::new() } else { namespace.to_string() };
        grants.get(&(role_ref.kind.clone(), ns, role_ref.name.clone())).cloned()
    };
    let bindings = list_all(&Api::<ClusterRoleBinding>::all(client.clone()), cluster, "listing ClusterRoleBindings", page_size, report).await?;
    for binding in &bindings {
        if let Some(grant) = granted(&binding.role_ref, "") {
            let json = serde_json::to_value(binding).expect("serializes");
            snapshot.push("ClusterRoleBinding", json, grant.values(Some(&binding.role_ref), binding.subjects.as_deref().unwrap_or_default()));
        }
    }
    let bindings = list_all(&Api::<RoleBinding>::all(client.clone()), cluster, "listing RoleBindings", page_size, report).await?;
    for binding in &bindings {
        if let Some(grant) = granted(&binding.role_ref, binding.metadata.namespace.as_deref().unwrap_or_default()) {
            let json = serde_json::to_value(binding).expect("serializes");
            snapshot.push("RoleBinding", json, grant.values(Some(&binding.role_ref), binding.subjects.as_deref().unwrap_or_default()));
        }
    }
    Ok(())
}

/// Seconds of a Go `time.Duration` string as Kubernetes resources write them: `1h0m0s`,
/// `24h`, `90m`, `1.5h`, `500ms`, `0`. `None` for anything else.
///
/// Written here because no maintained crate parses Go's exact grammar (humantime, for one,
/// needs spaces or rejects fractions).
pub fn parse_go_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    if text == "0" {
        return Some(0.0);
    }
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * seconds;
        rest = &rest[unit_end..];
    }
    Some(if negative { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (text, secs) in
            [("1h0m0s", 3600.0), ("24h", 86400.0), ("90m", 5400.0), ("1.5h", 5400.0), ("500ms", 0.5), ("0", 0.0), ("1h30m15s", 5415.0), ("-2m", -120.0)]
        {
            assert_eq!(parse_go_duration(text), Some(secs), "{text}");
        }
        for bad in ["", "1d", "h", "1h x", "abc", "-"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn grants_on_secrets_and_eso() {
        let rule = |groups: &[&str], resources: &[&str], verbs: &[&str]| PolicyRule {
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let pods = Grant::of(&[rule(&[""], &["pods"], &["get"])]);
        assert!(!pods.relevant());
        let wildcard = Grant::of(&[rule(&["*"], &["*"], &["*"])]);
        assert!(wildcard.secrets && wildcard.eso && wildcard.secrets_wildcard);
        let eso_admin = Grant::of(&[rule(&["external-secrets.io"], &["*"], &["*"]), rule(&[""], &["secrets"], &["get"])]);
        assert!(eso_admin.secrets && !eso_admin.secrets_wildcard, "a wildcard on ESO resources is not one on Secrets");
        let secrets = Grant::of(&[rule(&[""], &["secrets"], &["*"]), rule(&[""], &["pods"], &["delete"])]);
        assert!(secrets.secrets && !secrets.eso);
        assert_eq!(secrets.verbs.iter().collect::<Vec<_>>(), ["*"], "only the verbs of rules on secrets count");
        let apps_secrets = Grant::of(&[rule(&["apps"], &["secrets"], &["get"])]);
        assert!(!apps_secrets.relevant(), "secrets are in the core group only");
        let eso = Grant::of(&[rule(&["external-secrets.io"], &["externalsecrets"], &["get", "list"])]);
        assert!(eso.eso && !eso.secrets);
    }
}
