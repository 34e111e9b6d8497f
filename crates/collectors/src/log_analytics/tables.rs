//! The tables keytrail collects: which stream each lands in, the KQL that fetches one
//! window of it, and how a reply row becomes a ledger record.

use std::borrow::Cow;

use keytrail_ledger::{Column, FieldType, Record, Rejected, Value};
use serde::Deserialize;
use serde_json::Value as Json;
use serde_json::value::RawValue;

use crate::akeyless;
use crate::time::parse_time_str;

use super::config::LogAnalyticsConfig;

/// How a table's rows are typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Columns map one to one (KubeEvents, KubePodInventory, ContainerLogV2).
    Flat(&'static [FlatColumn]),
    /// Resource-specific AKS audit (`AKSAudit`, `AKSAuditAdmin`).
    Audit,
    /// `AzureDiagnostics` with `Category == "kube-audit"`: the event as JSON in `log_s`.
    DiagnosticsAudit,
    /// `AkeylessAudit_CL`: an Akeyless record as JSON in `msg_s`.
    Akeyless,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conv {
    Text,
    Time,
    Int,
    /// A `dynamic` value stored as JSON text (strings stay plain text).
    Dynamic,
    /// The cluster name: the last segment of an Azure resource ID.
    ClusterOfResourceId,
}

/// A typed column copied from one source column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FlatColumn {
    name: &'static str,
    source: &'static str,
    conv: Conv,
}

const fn col(name: &'static str, source: &'static str, conv: Conv) -> FlatColumn {
    FlatColumn { name, source, conv }
}

const KUBE_EVENTS: &[FlatColumn] = &[
    col("time_generated", "TimeGenerated", Conv::Time),
    col("cluster_name", "ClusterName", Conv::Text),
    col("cluster_id", "ClusterId", Conv::Text),
    col("computer", "Computer", Conv::Text),
    col("event_type", "KubeEventType", Conv::Text),
    col("message", "Message", Conv::Text),
    col("name", "Name", Conv::Text),
    col("namespace", "Namespace", Conv::Text),
    col("object_kind", "ObjectKind", Conv::Text),
    col("reason", "Reason", Conv::Text),
    col("source_component", "SourceComponent", Conv::Text),
    col("count", "Count", Conv::Int),
    col("first_seen", "FirstSeen", Conv::Time),
    col("last_seen", "LastSeen", Conv::Time),
];

const KUBE_POD_INVENTORY: &[FlatColumn] = &[
    col("time_generated", "TimeGenerated", Conv::Time),
    col("cluster_name", "ClusterName", Conv::Text),
    col("name", "Name", Conv::Text),
    col("namespace", "Namespace", Conv::Text),
    col("pod_uid", "PodUid", Conv::Text),
    col("pod_status", "PodStatus", Conv::Text),
    col("pod_creation_time", "PodCreationTimeStamp", Conv::Time),
    col("pod_start_time", "PodStartTime", Conv::Time),
    col("pod_restart_count", "PodRestartCount", Conv::Int),
    col("container_name", "ContainerName", Conv::Text),
    col("container_id", "ContainerID", Conv::Text),
    col("container_status", "ContainerStatus", Conv::Text),
    col("container_restart_count", "ContainerRestartCount", Conv::Int),
    col("controller_kind", "ControllerKind", Conv::Text),
    col("controller_name", "ControllerName", Conv::Text),
    col("computer", "Computer", Conv::Text),
    col("service_name", "ServiceName", Conv::Text),
];

const CONTAINER_LOG_V2: &[FlatColumn] = &[
    col("time_generated", "TimeGenerated", Conv::Time),
    col("cluster_name", "_ResourceId", Conv::ClusterOfResourceId),
    col("computer", "Computer", Conv::Text),
    col("container_id", "ContainerId", Conv::Text),
    col("container_name", "ContainerName", Conv::Text),
    col("pod_name", "PodName", Conv::Text),
    col("pod_namespace", "PodNamespace", Conv::Text),
    col("log_level", "LogLevel", Conv::Text),
    col("log_source", "LogSource", Conv::Text),
    col("log_message", "LogMessage", Conv::Dynamic),
    col("kubernetes_metadata", "KubernetesMetadata", Conv::Dynamic),
];

const AUDIT_COLUMNS: &[(&str, FieldType)] = &[
    ("time_generated", FieldType::Time),
    ("cluster_name", FieldType::Str),
    ("audit_id", FieldType::Str),
    ("level", FieldType::Str),
    ("stage", FieldType::Str),
    ("verb", FieldType::Str),
    ("request_uri", FieldType::Str),
    ("username", FieldType::Str),
    ("user_groups", FieldType::StrList),
    ("source_ips", FieldType::StrList),
    ("user_agent", FieldType::Str),
    ("resource", FieldType::Str),
    ("subresource", FieldType::Str),
    ("namespace", FieldType::Str),
    ("name", FieldType::Str),
    ("api_group", FieldType::Str),
    ("response_code", FieldType::Int),
    ("request_received_time", FieldType::Time),
    ("stage_received_time", FieldType::Time),
    ("source_table", FieldType::Str),
];

/// One collectable table.
#[derive(Clone, Debug)]
pub struct TableSpec {
    /// Log Analytics table name.
    pub table: &'static str,
    /// Ledger stream it lands in.
    pub stream: &'static str,
    kind: Kind,
}

pub(crate) const TABLES: &[TableSpec] = &[
    TableSpec { table: "KubeEvents", stream: "kube_events", kind: Kind::Flat(KUBE_EVENTS) },
    TableSpec { table: "KubePodInventory", stream: "kube_pod_inventory", kind: Kind::Flat(KUBE_POD_INVENTORY) },
    TableSpec { table: "ContainerLogV2", stream: "container_log_v2", kind: Kind::Flat(CONTAINER_LOG_V2) },
    TableSpec { table: "AKSAudit", stream: "aks_audit", kind: Kind::Audit },
    TableSpec { table: "AKSAuditAdmin", stream: "aks_audit_admin", kind: Kind::Audit },
    TableSpec { table: "AzureDiagnostics", stream: "aks_audit", kind: Kind::DiagnosticsAudit },
    TableSpec { table: "AkeylessAudit_CL", stream: akeyless::STREAM, kind: Kind::Akeyless },
];

impl TableSpec {
    /// The spec of a table, or an error listing the tables keytrail collects.
    pub fn for_table(name: &str) -> Result<&'static TableSpec, String> {
        TABLES.iter().find(|t| t.table == name).ok_or_else(|| {
            let known: Vec<_> = TABLES.iter().map(|t| t.table).collect();
            format!("keytrail does not collect table '{name}' (it collects {})", known.join(", "))
        })
    }

    /// The typed columns of this table's stream.
    pub fn columns(&self) -> Vec<Column> {
        match self.kind {
            Kind::Flat(cols) => cols
                .iter()
                .map(|c| {
                    let kind = match c.conv {
                        Conv::Time => FieldType::Time,
                        Conv::Int => FieldType::Int,
                        _ => FieldType::Str,
                    };
                    Column::new(c.name, kind)
                })
                .collect(),
            Kind::Audit | Kind::DiagnosticsAudit => AUDIT_COLUMNS.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
            Kind::Akeyless => akeyless::columns(),
        }
    }

    /// The KQL for rows with `TimeGenerated` in `[from, to)`, in a stable order. The time
    /// condition is in the query as well as in `timespan`, so the window is half-open
    /// whatever the service does at the boundary.
    pub fn query(&self, config: &LogAnalyticsConfig, from: &str, to: &str) -> String {
        let list = |items: &[String]| items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
        let mut q = format!("{} | where TimeGenerated >= datetime({from}) and TimeGenerated < datetime({to})", self.table);
        let order = match self.kind {
            Kind::Flat(_) if self.table == "ContainerLogV2" => {
                q.push_str(&format!(" | where PodNamespace in ({})", list(&config.namespaces)));
                "TimeGenerated asc, ContainerId asc"
            }
            Kind::Flat(_) | Kind::Akeyless => "TimeGenerated asc",
            Kind::Audit => {
                q.push_str(&format!(" | where tostring(ObjectRef.resource) in ({})", list(&config.audit_resources)));
                "TimeGenerated asc, AuditId asc"
            }
            Kind::DiagnosticsAudit => {
                q.push_str(&format!(
                    " | where Category == \"kube-audit\" | where tostring(parse_json(log_s).objectRef.resource) in ({})",
                    list(&config.audit_resources)
                ));
                "TimeGenerated asc"
            }
        };
        q.push_str(" | order by ");
        q.push_str(order);
        q
    }
}

/// Checks configured names before they are put into KQL string literals.
pub fn check_kql_names(what: &str, names: &[String]) -> Result<(), String> {
    for name in names {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')) {
            return Err(format!("{what} entry '{name}' is not a Kubernetes name (letters, digits, '-', '.', '_')"));
        }
    }
    Ok(())
}

/// A query reply: `{"tables":[{"name","columns","rows"}], "error"?}`.
#[derive(Deserialize)]
pub(crate) struct Reply<'a> {
    #[serde(borrow, default)]
    tables: Vec<ReplyTable<'a>>,
    #[serde(default)]
    error: Option<Json>,
}

#[derive(Deserialize)]
struct ReplyTable<'a> {
    #[serde(borrow)]
    columns: Vec<ReplyColumn<'a>>,
    #[serde(borrow)]
    rows: Vec<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct ReplyColumn<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

/// The rows of one complete window, typed.
#[derive(Debug, Default)]
pub struct Converted {
    /// Rows that became records.
    pub records: Vec<Record>,
    /// Rows kept as rejected, with why.
    pub rejected: Vec<Rejected>,
    /// Rows in the reply.
    pub rows: u64,
}

/// What a reply says about its window.
pub enum Outcome {
    /// Every row of the window.
    Complete(Converted),
    /// The service cut the reply (PartialError or the row cap): the window must be split.
    Truncated(String),
}

impl TableSpec {
    /// Reads a reply. `Err` means the body is not a query reply (a cut connection, a proxy
    /// page): worth retrying.
    pub(crate) fn convert(&self, body: &[u8], row_cap: usize, origin: &str, ctx: &ConvertContext) -> Result<Outcome, String> {
        let reply: Reply<'_> = serde_json::from_slice(body).map_err(|e| format!("the reply is not a query result: {e}"))?;
        if let Some(error) = reply.error {
            let code = error.get("code").and_then(Json::as_str).unwrap_or("unknown");
            let detail = error.pointer("/details/0/innererror/message").or_else(|| error.get("message")).and_then(Json::as_str).unwrap_or_default();
            return Ok(Outcome::Truncated(format!("{code}: {detail}")));
        }
        let Some(table) = reply.tables.into_iter().next() else {
            return Err("the reply has no table".into());
        };
        if table.rows.len() >= row_cap {
            return Ok(Outcome::Truncated(format!("{} rows reached the row cap", table.rows.len())));
        }
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_ref()).collect();
        let index = |name: &str| names.iter().position(|n| *n == name);
        let time_index = index("TimeGenerated").ok_or("the reply has no TimeGenerated column")?;
        let plan = self.plan(&index);
        let mut out = Converted { rows: table.rows.len() as u64, ..Default::default() };
        let mut raw = Vec::new();
        for (i, row) in table.rows.iter().enumerate() {
            raw.clear();
            raw.push(b'{');
            for (j, (name, cell)) in names.iter().zip(row).enumerate() {
                if j > 0 {
                    raw.push(b',');
                }
                serde_json::to_writer(&mut raw, name).expect("writing to a Vec");
                raw.push(b':');
                raw.extend_from_slice(cell.get().as_bytes());
            }
            raw.push(b'}');
            let converted = if row.len() != names.len() {
                Err(format!("row has {} values for {} columns", row.len(), names.len()))
            } else {
                row.get(time_index)
                    .ok_or_else(|| "no TimeGenerated".to_string())
                    .and_then(|c| cell_time(c).and_then(|t| t.ok_or_else(|| "TimeGenerated is null".to_string())))
                    .map_err(|e| format!("TimeGenerated: {e}"))
                    .and_then(|time| self.typed(&plan, row, time, ctx))
            };
            match converted {
                Ok(mut record) => {
                    record.raw = raw.clone();
                    out.records.push(record);
                }
                Err(reason) => out.rejected.push(Rejected {
                    raw: raw.clone(),
                    reason,
                    origin: format!("{origin} row {i}"),
                    event_time: row.get(time_index).and_then(|c| cell_time(c).ok().flatten()),
                }),
            }
        }
        Ok(Outcome::Complete(out))
    }

    /// Where each source column sits in this reply.
    fn plan(&self, index: &dyn Fn(&str) -> Option<usize>) -> Vec<Option<usize>> {
        match self.kind {
            Kind::Flat(cols) => cols.iter().map(|c| index(c.source)).collect(),
            Kind::Audit => [
                "AuditId",
                "Level",
                "Stage",
                "Verb",
                "RequestUri",
                "User",
                "SourceIps",
                "UserAgent",
                "ObjectRef",
                "ResponseStatus",
                "RequestReceivedTime",
                "StageReceivedTime",
                "_ResourceId",
            ]
            .iter()
            .map(|c| index(c))
            .collect(),
            Kind::DiagnosticsAudit => ["log_s", "ResourceId", "Resource"].iter().map(|c| index(c)).collect(),
            Kind::Akeyless => vec![index("msg_s")],
        }
    }

    fn typed(&self, plan: &[Option<usize>], row: &[&RawValue], time: i64, ctx: &ConvertContext) -> Result<Record, String> {
        let cell = |k: usize| plan[k].map(|i| row[i]);
        // `raw` is filled in by the caller, which built it for the rejected case too.
        let raw_placeholder = Vec::new();
        match self.kind {
            Kind::Flat(cols) => {
                let mut values = Vec::with_capacity(cols.len());
                for (k, c) in cols.iter().enumerate() {
                    let value = match cell(k) {
                        None => Value::Null,
                        Some(v) => convert_cell(v, c.conv).map_err(|e| format!("{}: {e}", c.source))?,
                    };
                    values.push(value);
                }
                Ok(Record { event_time: time, raw: raw_placeholder, values })
            }
            Kind::Audit => {
                let text = |k: usize| cell(k).map(cell_text).transpose().map(Option::flatten);
                let dynamic = |k: usize| cell(k).map(cell_dynamic).transpose().map(Option::flatten);
                let user = dynamic(5)?;
                let object = dynamic(8)?;
                let event = AuditEvent {
                    audit_id: text(0)?,
                    level: text(1)?,
                    stage: text(2)?,
                    verb: text(3)?,
                    request_uri: text(4)?,
                    username: user.as_ref().and_then(|u| str_field(u, "username")),
                    user_groups: user.as_ref().and_then(|u| u.get("groups")).map(str_list),
                    source_ips: dynamic(6)?.as_ref().map(str_list),
                    user_agent: text(7)?,
                    object,
                    response_code: dynamic(9)?.as_ref().and_then(|s| s.get("code")).and_then(akeyless::json_int),
                    request_received_time: cell(10).map(cell_time).transpose().map_err(|e| format!("RequestReceivedTime: {e}"))?.flatten(),
                    stage_received_time: cell(11).map(cell_time).transpose().map_err(|e| format!("StageReceivedTime: {e}"))?.flatten(),
                    cluster: text(12)?.as_deref().map(cluster_of_resource_id),
                };
                Ok(Record { event_time: time, raw: raw_placeholder, values: event.values(time, self.table) })
            }
            Kind::DiagnosticsAudit => {
                let log = cell(0).map(cell_text).transpose()?.flatten().ok_or("log_s is empty")?;
                let e: Json = serde_json::from_str(&log).map_err(|e| format!("log_s is not an audit event: {e}"))?;
                let time_of = |key: &str| match e.get(key).and_then(Json::as_str) {
                    Some(s) => parse_time_str(s).map(Some).map_err(|err| format!("log_s.{key}: {err}")),
                    None => Ok(None),
                };
                let resource_id = cell(1).map(cell_text).transpose()?.flatten();
                let cluster = match resource_id {
                    Some(id) => Some(cluster_of_resource_id(&id)),
                    None => cell(2).map(cell_text).transpose()?.flatten(),
                };
                let user = e.get("user");
                let event = AuditEvent {
                    audit_id: str_field(&e, "auditID"),
                    level: str_field(&e, "level"),
                    stage: str_field(&e, "stage"),
                    verb: str_field(&e, "verb"),
                    request_uri: str_field(&e, "requestURI"),
                    username: user.and_then(|u| str_field(u, "username")),
                    user_groups: user.and_then(|u| u.get("groups")).map(str_list),
                    source_ips: e.get("sourceIPs").map(str_list),
                    user_agent: str_field(&e, "userAgent"),
                    object: e.get("objectRef").cloned(),
                    response_code: e.pointer("/responseStatus/code").and_then(akeyless::json_int),
                    request_received_time: time_of("requestReceivedTimestamp")?,
                    stage_received_time: time_of("stageTimestamp")?,
                    cluster: cluster.map(|c| c.to_lowercase()),
                };
                Ok(Record { event_time: time, raw: raw_placeholder, values: event.values(time, self.table) })
            }
            Kind::Akeyless => {
                let msg = cell(0).map(cell_text).transpose()?.flatten().ok_or("msg_s is empty")?;
                let mut values = Vec::new();
                let timestamp = akeyless::parse(&msg, &ctx.item_path_fields, Some(time), "log_analytics", &mut values)?;
                Ok(Record { event_time: timestamp.unwrap_or(time), raw: raw_placeholder, values })
            }
        }
    }
}

/// Settings the conversion needs from the configuration.
pub(crate) struct ConvertContext {
    pub item_path_fields: Vec<String>,
}

struct AuditEvent {
    audit_id: Option<String>,
    level: Option<String>,
    stage: Option<String>,
    verb: Option<String>,
    request_uri: Option<String>,
    username: Option<String>,
    user_groups: Option<Vec<String>>,
    source_ips: Option<Vec<String>>,
    user_agent: Option<String>,
    object: Option<Json>,
    response_code: Option<i64>,
    request_received_time: Option<i64>,
    stage_received_time: Option<i64>,
    cluster: Option<String>,
}

impl AuditEvent {
    fn values(self, time_generated: i64, table: &str) -> Vec<Value> {
        let s = |v: Option<String>| v.map_or(Value::Null, Value::Str);
        let object = |key: &str| self.object.as_ref().and_then(|o| str_field(o, key));
        let api_group = self
            .object
            .as_ref()
            .and_then(|o| str_field(o, "apiGroup").or_else(|| str_field(o, "apiVersion").and_then(|v| v.split_once('/').map(|(g, _)| g.to_string()))));
        vec![
            Value::Time(time_generated),
            s(self.cluster),
            s(self.audit_id),
            s(self.level),
            s(self.stage),
            s(self.verb),
            s(self.request_uri),
            s(self.username),
            self.user_groups.map_or(Value::Null, Value::StrList),
            self.source_ips.map_or(Value::Null, Value::StrList),
            s(self.user_agent),
            s(object("resource")),
            s(object("subresource")),
            s(object("namespace")),
            s(object("name")),
            s(api_group),
            self.response_code.map_or(Value::Null, Value::Int),
            self.request_received_time.map_or(Value::Null, Value::Time),
            self.stage_received_time.map_or(Value::Null, Value::Time),
            Value::Str(table.to_string()),
        ]
    }
}

fn str_field(v: &Json, key: &str) -> Option<String> {
    v.get(key).filter(|x| !x.is_null()).map(akeyless::json_text)
}

/// A list of strings from a JSON array, or from a comma-separated string.
fn str_list(v: &Json) -> Vec<String> {
    match v {
        Json::Array(items) => items.iter().map(akeyless::json_text).collect(),
        Json::String(s) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        Json::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

fn cluster_of_resource_id(id: &str) -> String {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id).to_lowercase()
}

fn convert_cell(v: &RawValue, conv: Conv) -> Result<Value, String> {
    Ok(match conv {
        Conv::Text => cell_text(v)?.map_or(Value::Null, Value::Str),
        Conv::Time => cell_time(v)?.map_or(Value::Null, Value::Time),
        Conv::Int => match v.get() {
            "null" | "\"\"" => Value::Null,
            text => {
                let json: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
                Value::Int(akeyless::json_int(&json).ok_or_else(|| format!("expected an integer, found {text}"))?)
            }
        },
        Conv::Dynamic => cell_dynamic(v)?.map_or(Value::Null, |d| Value::Str(akeyless::json_text(&d))),
        Conv::ClusterOfResourceId => cell_text(v)?.map_or(Value::Null, |id| Value::Str(cluster_of_resource_id(&id))),
    })
}

/// A cell as text: strings unquoted, `null` as none, anything else as its JSON.
fn cell_text(v: &RawValue) -> Result<Option<String>, String> {
    let text = v.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text).map(Some).map_err(|e| e.to_string()),
        _ if text == "null" => Ok(None),
        _ => Ok(Some(text.to_string())),
    }
}

fn cell_time(v: &RawValue) -> Result<Option<i64>, String> {
    match cell_text(v)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => parse_time_str(&s).map(Some),
    }
}

/// A `dynamic` cell: the service sends these as JSON-encoded strings, sometimes as JSON.
/// A string that is not JSON is kept as a string.
fn cell_dynamic(v: &RawValue) -> Result<Option<Json>, String> {
    let value: Json = serde_json::from_str(v.get()).map_err(|e| e.to_string())?;
    Ok(match value {
        Json::Null => None,
        Json::String(s) => match s.trim_start().as_bytes().first() {
            Some(b'{' | b'[') => Some(serde_json::from_str(&s).unwrap_or(Json::String(s))),
            _ => Some(Json::String(s)),
        },
        other => Some(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ConvertContext {
        ConvertContext { item_path_fields: akeyless::DEFAULT_ITEM_PATH_FIELDS.iter().map(|s| s.to_string()).collect() }
    }

    fn complete(spec: &TableSpec, body: &str) -> Converted {
        match spec.convert(body.as_bytes(), 500_000, "test", &ctx()).unwrap() {
            Outcome::Complete(c) => c,
            Outcome::Truncated(r) => panic!("truncated: {r}"),
        }
    }

    fn value<'a>(spec: &TableSpec, record: &'a Record, name: &str) -> &'a Value {
        &record.values[spec.columns().iter().position(|c| c.name == name).unwrap()]
    }

    #[test]
    fn audit_dynamic_columns_parse_as_strings_or_json_and_both_forms_agree() {
        let spec = TableSpec::for_table("AKSAudit").unwrap();
        let cols = r#"[{"name":"TimeGenerated","type":"datetime"},{"name":"Verb","type":"string"},{"name":"User","type":"dynamic"},{"name":"ObjectRef","type":"dynamic"},{"name":"ResponseStatus","type":"dynamic"},{"name":"SourceIps","type":"dynamic"},{"name":"_ResourceId","type":"string"}]"#;
        let as_string = format!(
            r#"{{"tables":[{{"name":"PrimaryResult","columns":{cols},"rows":[["2026-11-02T10:00:00Z","get","{{\"username\":\"alice\",\"groups\":[\"a\",\"b\"]}}","{{\"resource\":\"secrets\",\"namespace\":\"payments\",\"name\":\"db\"}}","{{\"code\":\"200\"}}","[\"10.0.0.1\"]","/subscriptions/x/managedClusters/AKS-Prod"]]}}]}}"#
        );
        let as_json = format!(
            r#"{{"tables":[{{"name":"PrimaryResult","columns":{cols},"rows":[["2026-11-02T10:00:00Z","get",{{"username":"alice","groups":["a","b"]}},{{"resource":"secrets","namespace":"payments","name":"db"}},{{"code":200}},["10.0.0.1"],"/subscriptions/x/managedClusters/AKS-Prod"]]}}]}}"#
        );
        let a = complete(spec, &as_string);
        let b = complete(spec, &as_json);
        assert_eq!(a.records[0].values, b.records[0].values);
        let r = &a.records[0];
        assert_eq!(value(spec, r, "username"), &Value::Str("alice".into()));
        assert_eq!(value(spec, r, "user_groups"), &Value::StrList(vec!["a".into(), "b".into()]));
        assert_eq!(value(spec, r, "resource"), &Value::Str("secrets".into()));
        assert_eq!(value(spec, r, "response_code"), &Value::Int(200));
        assert_eq!(value(spec, r, "cluster_name"), &Value::Str("aks-prod".into()));
        assert!(r.raw.starts_with(br#"{"TimeGenerated":"2026-11-02T10:00:00Z","Verb":"get","User":"{\"username"#), "{}", String::from_utf8_lossy(&r.raw));
    }

    #[test]
    fn diagnostics_form_lands_in_the_same_columns() {
        let spec = TableSpec::for_table("AzureDiagnostics").unwrap();
        assert_eq!(spec.stream, "aks_audit");
        let log = r#"{\"auditID\":\"a1\",\"verb\":\"get\",\"user\":{\"username\":\"bob\"},\"objectRef\":{\"resource\":\"secrets\",\"namespace\":\"n\",\"name\":\"s\"},\"responseStatus\":{\"code\":403},\"stageTimestamp\":\"2026-11-02T10:00:00.5Z\"}"#;
        let body = format!(
            r#"{{"tables":[{{"name":"PrimaryResult","columns":[{{"name":"TimeGenerated","type":"datetime"}},{{"name":"Category","type":"string"}},{{"name":"ResourceId","type":"string"}},{{"name":"log_s","type":"string"}}],"rows":[["2026-11-02T10:01:00Z","kube-audit","/SUBSCRIPTIONS/X/MANAGEDCLUSTERS/AKS-DEV","{log}"]]}}]}}"#
        );
        let c = complete(spec, &body);
        let r = &c.records[0];
        assert_eq!(value(spec, r, "username"), &Value::Str("bob".into()));
        assert_eq!(value(spec, r, "response_code"), &Value::Int(403));
        assert_eq!(value(spec, r, "cluster_name"), &Value::Str("aks-dev".into()));
        assert_eq!(value(spec, r, "source_table"), &Value::Str("AzureDiagnostics".into()));
        assert_eq!(value(spec, r, "stage_received_time"), &Value::Time(parse_time_str("2026-11-02T10:00:00.5Z").unwrap()));
    }

    #[test]
    fn bad_rows_are_rejected_with_the_column_and_partial_replies_are_truncated() {
        let spec = TableSpec::for_table("KubeEvents").unwrap();
        let body = r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"TimeGenerated","type":"datetime"},{"name":"Count","type":"real"}],"rows":[["2026-11-02T10:00:00Z","3"],["2026-11-02T10:00:01Z","many"],[null,1]]}]}"#;
        let c = complete(spec, body);
        assert_eq!(c.rows, 3);
        assert_eq!(c.records.len(), 1);
        assert_eq!(value(spec, &c.records[0], "count"), &Value::Int(3));
        assert!(c.rejected[0].reason.starts_with("Count:"), "{}", c.rejected[0].reason);
        assert!(c.rejected[1].reason.starts_with("TimeGenerated"), "{}", c.rejected[1].reason);
        assert_eq!(c.rejected[0].raw, br#"{"TimeGenerated":"2026-11-02T10:00:01Z","Count":"many"}"#);

        let partial = r#"{"tables":[{"name":"PrimaryResult","columns":[],"rows":[]}],"error":{"code":"PartialError","message":"x","details":[{"innererror":{"message":"limit 500000"}}]}}"#;
        assert!(matches!(spec.convert(partial.as_bytes(), 10, "t", &ctx()).unwrap(), Outcome::Truncated(r) if r.contains("limit 500000")));
        assert!(matches!(spec.convert(body.as_bytes(), 3, "t", &ctx()).unwrap(), Outcome::Truncated(_)));
        assert!(spec.convert(&body.as_bytes()[..40], 10, "t", &ctx()).is_err());
    }
}
