//! The rows the emulator serves: Log Analytics tables with their real column names and
//! types, loaded from `sample-data/log-analytics/` or generated on demand.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::EmulatorError;

/// A Log Analytics column type, as the query API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// `bool`
    Bool,
    /// `datetime` (ISO 8601 text)
    Datetime,
    /// `dynamic` (served as JSON-encoded text, as the real API does)
    Dynamic,
    /// `int`
    Int,
    /// `long`
    Long,
    /// `real`
    Real,
    /// `string`
    String,
    /// `guid`
    Guid,
}

/// The columns of the tables keytrail collects, in the order the service returns them
/// (a subset of each real table, always including what keytrail reads).
pub fn schema(table: &str) -> Option<&'static [(&'static str, ColumnType)]> {
    use ColumnType::*;
    Some(match table {
        "KubeEvents" => &[
            ("TimeGenerated", Datetime),
            ("ClusterId", String),
            ("ClusterName", String),
            ("Computer", String),
            ("KubeEventType", String),
            ("Message", String),
            ("Name", String),
            ("Namespace", String),
            ("ObjectKind", String),
            ("Reason", String),
            ("SourceComponent", String),
            ("Count", Real),
            ("FirstSeen", Datetime),
            ("LastSeen", Datetime),
        ],
        "KubePodInventory" => &[
            ("TimeGenerated", Datetime),
            ("ClusterName", String),
            ("Name", String),
            ("Namespace", String),
            ("PodUid", String),
            ("PodStatus", String),
            ("PodCreationTimeStamp", Datetime),
            ("PodStartTime", Datetime),
            ("PodRestartCount", Int),
            ("ContainerName", String),
            ("ContainerID", String),
            ("ContainerStatus", String),
            ("ContainerRestartCount", Int),
            ("ControllerKind", String),
            ("ControllerName", String),
            ("Computer", String),
            ("ServiceName", String),
        ],
        "ContainerLogV2" => &[
            ("TimeGenerated", Datetime),
            ("Computer", String),
            ("ContainerId", String),
            ("ContainerName", String),
            ("PodName", String),
            ("PodNamespace", String),
            ("LogLevel", String),
            ("LogSource", String),
            ("LogMessage", Dynamic),
            ("KubernetesMetadata", Dynamic),
            ("_ResourceId", String),
        ],
        "AKSAudit" | "AKSAuditAdmin" => &[
            ("TimeGenerated", Datetime),
            ("AuditId", String),
            ("Level", String),
            ("Stage", String),
            ("Verb", String),
            ("RequestUri", String),
            ("User", Dynamic),
            ("SourceIps", Dynamic),
            ("UserAgent", String),
            ("ObjectRef", Dynamic),
            ("ResponseStatus", Dynamic),
            ("RequestReceivedTime", Datetime),
            ("StageReceivedTime", Datetime),
            ("_ResourceId", String),
        ],
        "AzureDiagnostics" => {
            &[("TimeGenerated", Datetime), ("Category", String), ("Resource", String), ("ResourceId", String), ("log_s", String), ("pod_s", String)]
        }
        "AkeylessAudit_CL" => &[("TimeGenerated", Datetime), ("msg_s", String), ("Computer", String)],
        _ => return None,
    })
}

/// One stored row: its `TimeGenerated` (microseconds) and its values in column order.
#[derive(Clone, Debug)]
pub struct Row {
    /// `TimeGenerated` in microseconds since the Unix epoch.
    pub time: i64,
    /// Values in the table's column order, `dynamic` ones already encoded as text.
    pub values: Vec<Value>,
}

/// Where a table's rows come from.
pub enum Table {
    /// Rows held in memory, sorted by time (stable for equal times).
    Stored(Vec<Row>),
    /// `count` generated rows spread evenly over `[start, end)`, made on demand so that
    /// serving millions of rows costs no memory (used by the benchmark).
    Synthetic {
        /// What the rows are.
        kind: Synthetic,
        /// First row's time, microseconds.
        start: i64,
        /// End of the range (exclusive), microseconds.
        end: i64,
        /// Rows in the range.
        count: u64,
    },
}

/// The kinds of generated rows.
#[derive(Clone, Copy, Debug)]
pub enum Synthetic {
    /// AKSAudit rows: ESO and workloads reading and updating secrets.
    AksAudit,
    /// `AkeylessAudit_CL` rows: the records `keytrail-bench gen --records COUNT --seed SEED`
    /// writes (`start` must be its start; the month spans 30 days).
    Akeyless {
        /// The generator's seed.
        seed: u64,
    },
}

/// All tables of one emulated workspace.
#[derive(Default)]
pub struct Dataset {
    tables: BTreeMap<String, Table>,
}

impl Dataset {
    /// An empty workspace.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in sample month: the rows of `sample-data/log-analytics`.
    pub fn sample_month() -> Self {
        Self::from_month(crate::sample_month::generate(crate::sample_month::SEED))
    }

    /// The tables of a generated month.
    pub fn from_month(month: crate::sample_month::Month) -> Self {
        let mut dataset = Self::new();
        for (table, rows) in month {
            dataset.insert_objects(&table, rows).expect("the generator makes rows that fit the schemas");
        }
        dataset
    }

    /// Loads every `<Table>.jsonl` of a folder (one JSON object per row, `dynamic` values as
    /// JSON). Files of tables the emulator has no schema for are an error.
    pub fn load(dir: &Path) -> Result<Self, EmulatorError> {
        let mut dataset = Self::new();
        let entries = std::fs::read_dir(dir).map_err(|e| EmulatorError::Data(format!("reading {}: {e}", dir.display())))?;
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.extension().is_some_and(|x| x == "jsonl")) {
            let table = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| EmulatorError::Data(format!("reading {}: {e}", path.display())))?;
            let mut rows = Vec::new();
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let object: Map<String, Value> =
                    serde_json::from_str(line).map_err(|e| EmulatorError::Data(format!("{}:{}: not a JSON object: {e}", path.display(), i + 1)))?;
                rows.push(object);
            }
            dataset.insert_objects(&table, rows).map_err(|e| EmulatorError::Data(format!("{}: {e}", path.display())))?;
        }
        Ok(dataset)
    }

    /// Adds rows given as JSON objects (column name → value) to a table.
    pub fn insert_objects(&mut self, table: &str, objects: Vec<Map<String, Value>>) -> Result<(), EmulatorError> {
        let columns = schema(table).ok_or_else(|| EmulatorError::Data(format!("no schema for table {table}")))?;
        let mut rows = Vec::with_capacity(objects.len());
        for object in objects {
            let time = object
                .get("TimeGenerated")
                .and_then(Value::as_str)
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .ok_or_else(|| EmulatorError::Data(format!("a {table} row has no valid TimeGenerated")))?
                .timestamp_micros();
            let values = columns
                .iter()
                .map(|(name, kind)| match (object.get(*name), kind) {
                    (None, _) => Value::Null,
                    (Some(v), ColumnType::Dynamic) if !v.is_string() && !v.is_null() => Value::String(v.to_string()),
                    (Some(v), _) => v.clone(),
                })
                .collect();
            rows.push(Row { time, values });
        }
        let entry = self.tables.entry(table.to_string()).or_insert_with(|| Table::Stored(Vec::new()));
        if let Table::Stored(existing) = entry {
            existing.extend(rows);
            existing.sort_by_key(|r| r.time);
        }
        Ok(())
    }

    /// Replaces a table with generated rows.
    pub fn insert_table(&mut self, name: &str, table: Table) {
        self.tables.insert(name.to_string(), table);
    }

    /// A table by name.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    /// Table names and row counts.
    pub fn summary(&self) -> Vec<(String, u64)> {
        self.tables
            .iter()
            .map(|(name, t)| {
                let rows = match t {
                    Table::Stored(rows) => rows.len() as u64,
                    Table::Synthetic { count, .. } => *count,
                };
                (name.clone(), rows)
            })
            .collect()
    }
}

impl Table {
    /// Calls `visit` with every row whose time is in `[from, to)`, in order, until it
    /// returns false.
    pub fn scan(&self, from: i64, to: i64, visit: &mut dyn FnMut(&Row) -> bool) {
        match self {
            Table::Stored(rows) => {
                let first = rows.partition_point(|r| r.time < from);
                for row in rows[first..].iter().take_while(|r| r.time < to) {
                    if !visit(row) {
                        return;
                    }
                }
            }
            Table::Synthetic { kind, start, end, count } => {
                let span = (end - start) as i128;
                let n = *count as i128;
                // Row i sits at start + floor(i * span / n); the first index at or after t
                // is ceil((t - start) * n / span).
                let index_at = |t: i64| -> i128 {
                    let t = (t.clamp(*start, *end) - start) as i128;
                    (t * n + span - 1) / span
                };
                let (lo, hi) = (index_at(from), index_at(to).min(n));
                for i in lo..hi {
                    let time = start + (i * span / n) as i64;
                    let row = match kind {
                        Synthetic::AksAudit => synthetic_audit_row(i as u64, time),
                        Synthetic::Akeyless { seed } => synthetic_akeyless_row(*seed, i as u64, *count, *start, time),
                    };
                    if !visit(&row) {
                        return;
                    }
                }
            }
        }
    }
}

/// Record `i` of `count` of the Akeyless generator as an `AkeylessAudit_CL` row received
/// at `time`.
fn synthetic_akeyless_row(seed: u64, i: u64, count: u64, start: i64, time: i64) -> Row {
    let record = crate::synthetic_akeyless::record(seed, i, count, start);
    Row { time, values: vec![Value::String(crate::format_time(time)), Value::String(record), Value::String("akeyless-gateway-0".into())] }
}

/// One deterministic AKSAudit row: ESO and workloads reading and updating secrets.
pub fn synthetic_audit_row(i: u64, time: i64) -> Row {
    let ts = crate::format_time(time);
    let namespaces = ["payments", "orders", "identity", "external-secrets", "monitoring"];
    let ns = namespaces[(i % 5) as usize];
    let (verb, user) = match i % 4 {
        0 | 1 => ("get", "system:serviceaccount:external-secrets:external-secrets"),
        2 => ("update", "system:serviceaccount:external-secrets:external-secrets"),
        _ => ("list", "system:serviceaccount:kube-system:namespace-controller"),
    };
    let name = format!("app-secret-{}", i % 97);
    let values = vec![
        Value::String(ts.clone()),
        Value::String(format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", i as u32, (i >> 32) as u16, i % 4096, (i / 7) % 4096, i)),
        Value::String("Metadata".into()),
        Value::String("ResponseComplete".into()),
        Value::String(verb.into()),
        Value::String(format!("/api/v1/namespaces/{ns}/secrets/{name}")),
        Value::String(format!(r#"{{"username":"{user}","groups":["system:serviceaccounts","system:authenticated"]}}"#)),
        Value::String(format!(r#"["10.244.{}.{}"]"#, i % 7, i % 250)),
        Value::String("external-secrets/v0.10.4 (linux/amd64) kubernetes/$Format".into()),
        Value::String(format!(r#"{{"resource":"secrets","namespace":"{ns}","name":"{name}","apiVersion":"v1"}}"#)),
        Value::String(r#"{"metadata":{},"code":200}"#.into()),
        Value::String(ts.clone()),
        Value::String(ts),
        Value::String(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod".into(),
        ),
    ];
    Row { time, values }
}
