//! Controls as data: `queries/controls/<id>.toml` (catalog entry) plus `<id>.sql` (the
//! query), compiled in. A control query returns `resource`, `status` (`ok`, `alarm`,
//! `info`, `skip`, `error`) and `reason`, plus dimension columns; `$name` placeholders are
//! replaced by the period bounds and the control's parameters as SQL literals.
//!
//! A control whose evidence tables hold nothing for the period is `insufficient_evidence`,
//! never a pass. An exception (control, resource pattern, owner, justification, expiry)
//! turns a matching alarm into `excepted` until it expires; expired ones are reported.

use std::collections::BTreeMap;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use keytrail_ledger::VerifyReport;
use serde::{Deserialize, Serialize};

use crate::outcome::{FindingStatus, RequirementStatus, VerdictStatus};
use crate::{LedgerSession, QueryError};

/// One control of the catalog.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// Stable identifier (the file name).
    pub id: String,
    /// One-line title.
    pub title: String,
    /// What is checked.
    pub description: String,
    /// Why it matters.
    pub rationale: String,
    /// How much an alarm matters.
    pub severity: Severity,
    /// What kind of evidence it reads.
    pub evidence: EvidenceKind,
    /// Tables that must hold rows for the period (activity) or at all (configuration).
    pub evidence_tables: Vec<String>,
    /// Those of an activity control's `evidence_tables` that are configuration snapshots:
    /// like a configuration control's, they must hold rows at all, since the query judges
    /// the period's activity by the snapshot nearest its end, which a run after the period takes
    /// after it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshot_tables: Vec<String>,
    /// Parameters and their defaults.
    #[serde(default)]
    pub parameters: BTreeMap<String, toml::Value>,
    /// Requirement IDs per framework (`soc2`, `hipaa`, `nist_800_53`, `iso27001`).
    pub frameworks: BTreeMap<String, Vec<String>>,
    /// A check done by keytrail itself instead of SQL.
    #[serde(default)]
    pub builtin: Option<Builtin>,
    /// The query (empty for builtins).
    #[serde(skip_deserializing)]
    pub sql: String,
    /// Where the entry came from: keytrail's catalog, or an organisation's file.
    #[serde(skip_deserializing)]
    pub origin: Origin,
}

/// How much a control's alarm matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// To fix within the period.
    Medium,
    /// To fix now.
    High,
}

/// What a control reads, which decides what "no evidence" means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// Events of the period: its evidence tables must hold rows in the period.
    Activity,
    /// Configuration snapshots: its evidence tables must hold rows at all.
    Configuration,
    /// The ledger itself.
    Integrity,
}

/// A check keytrail does itself instead of SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    /// `keytrail verify` over the whole ledger.
    LedgerVerify,
}

/// Where a catalog entry came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// keytrail's own catalog (`queries/controls/`).
    #[default]
    BuiltIn,
    /// An organisation's controls folder: the entry's TOML file.
    File(std::path::PathBuf),
    /// An organisation's file with the id of a built-in control, which it replaces.
    Overrides(std::path::PathBuf),
}

/// In a pack, by file name only: where the organisation keeps its folder is its own.
impl Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let name = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        serializer.serialize_str(&match self {
            Origin::BuiltIn => "built-in".to_string(),
            Origin::File(p) => format!("organisation: {}", name(p)),
            Origin::Overrides(p) => format!("organisation: {}, replacing the built-in", name(p)),
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built-in"),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Overrides(path) => write!(f, "{} (replaces the built-in)", path.display()),
        }
    }
}

/// `Display` as the name the catalog's TOML uses.
macro_rules! named {
    ($type:ty { $($variant:ident => $name:literal),* }) => {
        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(match self { $(Self::$variant => $name),* })
            }
        }
    };
}
named!(Severity { Low => "low", Medium => "medium", High => "high" });
named!(EvidenceKind { Activity => "activity", Configuration => "configuration", Integrity => "integrity" });
named!(Builtin { LedgerVerify => "ledger_verify" });

macro_rules! control {
    ($id:literal) => {
        (include_str!(concat!("../../../queries/controls/", $id, ".toml")), include_str!(concat!("../../../queries/controls/", $id, ".sql")))
    };
}

const SOURCES: &[(&str, &str)] = &[
    control!("cross-env-secret-read"),
    control!("human-k8s-secret-read"),
    control!("auth-failure-burst"),
    control!("privileged-change-without-mfa"),
    control!("role-shared-across-clusters"),
    control!("rotation-overdue"),
    control!("rotation-sync-latency"),
    control!("eso-sync-health"),
    control!("eso-evidence-coverage"),
    control!("eso-store-provider"),
    control!("eso-refresh-interval"),
    control!("k8s-secrets-wildcard-grant"),
    control!("collection-coverage"),
    control!("silent-sources"),
    (include_str!("../../../queries/controls/ledger-integrity.toml"), ""),
];

/// keytrail's own catalog, in a stable order.
pub fn catalog() -> Result<Vec<Control>, QueryError> {
    SOURCES
        .iter()
        .map(|(toml_text, sql)| {
            let mut control: Control = toml::from_str(toml_text).map_err(|e| QueryError::Catalog(e.to_string()))?;
            control.sql = sql.to_string();
            Ok(control)
        })
        .collect()
}

/// keytrail's catalog with an organisation's own controls from `dir` (if any): each
/// `<id>.toml` there, with its `<id>.sql` beside it (the format of `queries/controls/`),
/// replaces the built-in control of that id or is added after them. A bad entry is an
/// error naming its file (and line, for TOML).
pub fn catalog_with(dir: Option<&std::path::Path>) -> Result<Vec<Control>, QueryError> {
    let mut catalog = catalog()?;
    let Some(dir) = dir else { return Ok(catalog) };
    let frameworks = frameworks()?;
    for control in load_dir(dir, &frameworks)? {
        match catalog.iter_mut().find(|c| c.id == control.id) {
            Some(builtin) => {
                let Origin::File(path) = control.origin.clone() else { unreachable!("a file's control") };
                *builtin = Control { origin: Origin::Overrides(path), ..control };
            }
            None => catalog.push(control),
        }
    }
    Ok(catalog)
}

/// The controls of an organisation's folder, sorted by id.
fn load_dir(dir: &std::path::Path, frameworks: &[Framework]) -> Result<Vec<Control>, QueryError> {
    let at = |path: &std::path::Path, message: String| QueryError::Catalog(format!("{}: {message}", path.display()));
    let entries = std::fs::read_dir(dir).map_err(|e| at(dir, format!("cannot read the controls folder: {e}")))?;
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| at(dir, e.to_string()))?.path();
        if path.extension().is_some_and(|x| x == "toml") {
            files.push(path);
        }
    }
    files.sort();
    let mut controls = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| at(&path, e.to_string()))?;
        let mut control: Control = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| format!("line {}: ", text[..s.start.min(text.len())].matches('\n').count() + 1)).unwrap_or_default();
            at(&path, format!("{line}{}", e.message().trim()))
        })?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if control.id != stem {
            return Err(at(&path, format!("id = \"{}\" differs from the file name: name the file {}.toml", control.id, control.id)));
        }
        if control.builtin.is_some() {
            return Err(at(&path, "builtin is keytrail's own: give the control a .sql file instead".into()));
        }
        let sql_path = path.with_extension("sql");
        control.sql = std::fs::read_to_string(&sql_path).map_err(|e| at(&sql_path, format!("the control's query: {e}")))?;
        if control.evidence_tables.is_empty() {
            return Err(at(&path, "evidence_tables is empty: name the tables whose rows the query judges, so no evidence is never a pass".into()));
        }
        if let Some(t) = control.snapshot_tables.iter().find(|t| !control.evidence_tables.contains(t)) {
            return Err(at(&path, format!("snapshot_tables names {t}, which is not one of evidence_tables")));
        }
        for (key, ids) in &control.frameworks {
            let framework = frameworks.iter().find(|f| &f.key == key).ok_or_else(|| {
                let known: Vec<&str> = frameworks.iter().map(|f| f.key.as_str()).collect();
                at(&path, format!("[frameworks] {key}: no such framework (known: {})", known.join(", ")))
            })?;
            if let Some(id) = ids.iter().find(|id| !framework.requirements.iter().any(|r| &r.id == *id)) {
                return Err(at(&path, format!("[frameworks] {key}: {id} is not a requirement of {} in scope", framework.title)));
            }
        }
        control.origin = Origin::File(path);
        controls.push(control);
    }
    Ok(controls)
}

/// A framework: its requirements in scope (`queries/frameworks/<id>.toml`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    /// File name (`soc2`, `hipaa`, `fedramp-moderate`, `iso27001-2022`).
    pub id: String,
    /// The key controls use in their `[frameworks]` table.
    pub key: String,
    /// Full name and version.
    pub title: String,
    /// Requirements in scope.
    #[serde(rename = "requirement")]
    pub requirements: Vec<Requirement>,
}

/// One requirement of a framework.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Its identifier in the framework.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Evidence for it lies outside keytrail.
    #[serde(default)]
    pub manual: bool,
}

/// The frameworks keytrail maps to.
pub fn frameworks() -> Result<Vec<Framework>, QueryError> {
    [
        include_str!("../../../queries/frameworks/soc2.toml"),
        include_str!("../../../queries/frameworks/hipaa.toml"),
        include_str!("../../../queries/frameworks/fedramp-moderate.toml"),
        include_str!("../../../queries/frameworks/iso27001-2022.toml"),
    ]
    .iter()
    .map(|text| toml::from_str(text).map_err(|e| QueryError::Catalog(e.to_string())))
    .collect()
}

/// The frameworks named (by file id, like `fedramp-moderate`, or control key, like
/// `nist_800_53`); all of them when none is.
pub fn frameworks_named(names: &[String]) -> Result<Vec<Framework>, QueryError> {
    let all = frameworks()?;
    if names.is_empty() {
        return Ok(all);
    }
    let known: Vec<&str> = all.iter().map(|f| f.id.as_str()).collect();
    names
        .iter()
        .map(|name| {
            all.iter().find(|f| f.is(name)).cloned().ok_or_else(|| QueryError::Catalog(format!("unknown framework '{name}' (known: {})", known.join(", "))))
        })
        .collect()
}

impl Framework {
    /// Whether `name` (file id or control key) names this framework.
    pub fn is(&self, name: &str) -> bool {
        self.id == name || self.key == name
    }

    /// Per requirement: the controls that cover it (of `catalog`) and its outcome given
    /// their verdicts ([`RequirementStatus::of`]).
    pub fn requirement_status<'a>(&self, catalog: &'a [Control], verdicts: &[Verdict]) -> Vec<(&Requirement, Vec<&'a str>, RequirementStatus)> {
        self.requirements
            .iter()
            .map(|r| {
                let controls: Vec<&str> =
                    catalog.iter().filter(|c| c.frameworks.get(&self.key).is_some_and(|ids| ids.contains(&r.id))).map(|c| c.id.as_str()).collect();
                let judged: Vec<(VerdictStatus, bool)> = verdicts
                    .iter()
                    .filter(|v| controls.contains(&v.control.as_str()))
                    .map(|v| (v.status, v.counts.contains_key(&FindingStatus::Excepted)))
                    .collect();
                (r, controls, RequirementStatus::of(r.manual, &judged))
            })
            .collect()
    }
}

/// An accepted risk, kept in Git.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// The control it applies to.
    pub control: String,
    /// Resources it covers; `*` matches any run of characters.
    pub resource: String,
    /// Who owns the risk.
    pub owner: String,
    /// Why it is accepted.
    pub justification: String,
    /// Last day it applies (UTC): a TOML date or a "YYYY-MM-DD" string.
    #[serde(deserialize_with = "date")]
    pub expires: NaiveDate,
}

fn date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let text = match toml::Value::deserialize(d)? {
        toml::Value::String(s) => s,
        toml::Value::Datetime(t) => t.to_string(),
        other => return Err(serde::de::Error::custom(format!("expected a date, found {other}"))),
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|e| serde::de::Error::custom(format!("expires '{text}': {e} (use YYYY-MM-DD)")))
}

/// Reads an exceptions file: `[[exception]]` tables, each naming a control of `catalog`
/// (an exception for a control that does not exist would silently except nothing).
pub fn parse_exceptions(text: &str, catalog: &[Control]) -> Result<Vec<Exception>, QueryError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        exception: Vec<Exception>,
    }
    let exceptions = toml::from_str::<File>(text).map_err(|e| QueryError::Catalog(e.to_string()))?.exception;
    for (n, e) in exceptions.iter().enumerate() {
        if !catalog.iter().any(|c| c.id == e.control) {
            return Err(QueryError::Catalog(format!(
                "exception {} (resource {:?}, owner {}) names control {:?}, which does not exist; `keytrail controls` lists them",
                n + 1,
                e.resource,
                e.owner,
                e.control
            )));
        }
    }
    Ok(exceptions)
}

/// One row of a control's result.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// What was judged.
    pub resource: String,
    /// Its status (`excepted` where an exception turned an alarm).
    pub status: FindingStatus,
    /// Why.
    pub reason: String,
    /// The exception that turned an alarm into `excepted`: owner and justification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
}

/// Findings kept per control in a verdict; more are counted in `findings_omitted` (the
/// evidence files hold every row).
pub const MAX_FINDINGS: usize = 10_000;

/// A control's outcome for a period.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// Control id.
    pub control: String,
    /// The conclusion.
    pub status: VerdictStatus,
    /// Findings per status.
    pub counts: BTreeMap<FindingStatus, u64>,
    /// Every finding that is not `ok`, up to [`MAX_FINDINGS`] (`ok` ones are counted).
    pub findings: Vec<Finding>,
    /// Findings beyond [`MAX_FINDINGS`], counted but not listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub findings_omitted: u64,
    /// Why the verdict is `error` or `insufficient_evidence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The damaged streams the control reads (its verdict is then `error`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub damaged_streams: Vec<String>,
    /// Statuses the control's query returned that are not statuses (a broken control):
    /// each with how many rows had it. They make the verdict `error`.
    #[serde(skip)]
    invalid_statuses: BTreeMap<String, u64>,
    /// Exceptions for this control that expired before the period ended.
    pub expired_exceptions: Vec<Exception>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Verdict {
    /// A verdict from findings ([`VerdictStatus::of_findings`]).
    pub fn from_findings(control: &str, findings: Vec<Finding>, expired_exceptions: Vec<Exception>) -> Self {
        let mut verdict = Self::empty(control, VerdictStatus::Ok);
        for f in findings {
            verdict.add(f);
        }
        verdict.expired_exceptions = expired_exceptions;
        verdict.settle();
        verdict
    }

    fn empty(control: &str, status: VerdictStatus) -> Self {
        Self {
            control: control.into(),
            status,
            counts: BTreeMap::new(),
            findings: Vec::new(),
            findings_omitted: 0,
            detail: None,
            expired_exceptions: Vec::new(),
            damaged_streams: Vec::new(),
            invalid_statuses: BTreeMap::new(),
        }
    }

    fn without_findings(control: &str, status: VerdictStatus, detail: String) -> Self {
        Self { detail: Some(detail), ..Self::empty(control, status) }
    }

    /// Counts a finding and keeps it unless it is `ok` or the list is full.
    fn add(&mut self, finding: Finding) {
        *self.counts.entry(finding.status).or_insert(0) += 1;
        if finding.status == FindingStatus::Ok {
            return;
        }
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(finding);
        } else {
            self.findings_omitted += 1;
        }
    }

    fn settle(&mut self) {
        if !self.invalid_statuses.is_empty() {
            let values: Vec<String> = self.invalid_statuses.iter().map(|(s, n)| format!("'{s}' ({n} rows)")).collect();
            self.status = VerdictStatus::Error;
            let known: Vec<&str> = FindingStatus::FROM_QUERIES.iter().map(|s| s.as_str()).collect();
            self.detail = Some(format!(
                "the control's query returned status {}, not one of {}: its SQL must be fixed before it can judge anything",
                values.join(", "),
                known.join(", ")
            ));
            return;
        }
        self.status = VerdictStatus::of_findings(self.counts.keys().copied());
        if self.detail.is_none() {
            let unknown = self.counts.get(&FindingStatus::Unknown).copied().unwrap_or(0);
            if self.status == VerdictStatus::InsufficientEvidence {
                self.detail = Some(format!("{unknown} findings could not be judged from the evidence (status unknown): see their reasons"));
            } else if self.status == VerdictStatus::Error {
                self.detail = Some(format!("{} findings could not be judged (status error): see their reasons", self.counts[&FindingStatus::Error]));
            }
        }
    }
}

/// Replaces `$name` placeholders by SQL literals, longest names first.
fn bind(sql: &str, period: (DateTime<Utc>, DateTime<Utc>), parameters: &BTreeMap<String, toml::Value>) -> String {
    let time = |t: DateTime<Utc>| format!("TIMESTAMP '{}'", t.format("%Y-%m-%dT%H:%M:%SZ"));
    let mut values: Vec<(String, String)> = vec![("period_start".into(), time(period.0)), ("period_end".into(), time(period.1))];
    for (name, value) in parameters {
        let quoted = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let literal = match value {
            toml::Value::String(s) => quoted(s),
            // A list is one text of comma-separated items, which the SQL splits with
            // `string_to_array($name, ',')` (so an empty list is an empty text).
            toml::Value::Array(items) => quoted(&items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string)).collect::<Vec<_>>().join(",")),
            other => other.to_string(),
        };
        values.push((name.clone(), literal));
    }
    values.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let mut out = sql.to_string();
    for (name, literal) in values {
        out = out.replace(&format!("${name}"), &literal);
    }
    out
}

fn matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == text;
    }
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// A control evaluated for a period.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The control as evaluated.
    pub control: Control,
    /// Its outcome.
    pub verdict: Verdict,
    /// The SQL as run (placeholders bound); empty for builtins.
    pub sql: String,
}

/// Receives a control's evidence rows batch by batch, in order: the query's columns sorted
/// by all of them, `status` as judged (`excepted` where an exception applied) and an
/// `exception` column. A query with no rows sends one empty batch (its columns); a control
/// that did not run sends nothing.
pub trait EvidenceSink {
    /// Takes the next rows.
    fn rows(&mut self, batch: &RecordBatch) -> std::io::Result<()>;
}

/// A sink that keeps nothing (`keytrail evaluate`).
pub struct Discard;

impl EvidenceSink for Discard {
    fn rows(&mut self, _: &RecordBatch) -> std::io::Result<()> {
        Ok(())
    }
}

impl LedgerSession {
    /// Evaluates every control over `[period.0, period.1)`, keeping no evidence rows.
    pub async fn evaluate_all(
        &self,
        controls: Vec<Control>,
        period: (DateTime<Utc>, DateTime<Utc>),
        exceptions: &[Exception],
        integrity: &Result<VerifyReport, String>,
    ) -> Result<Vec<Evaluation>, QueryError> {
        let mut out = Vec::with_capacity(controls.len());
        for control in controls {
            out.push(self.evaluate(control, period, exceptions, integrity, &mut Discard).await?);
        }
        Ok(out)
    }

    /// Evaluates one control over `[period.0, period.1)`, streaming its rows to `sink`
    /// (memory stays bounded by the query, not by the number of rows). The
    /// `ledger_verify` builtin is judged from `integrity`, the outcome of verifying the
    /// whole ledger (so a report that also shows it verifies once).
    pub async fn evaluate(
        &self,
        control: Control,
        period: (DateTime<Utc>, DateTime<Utc>),
        exceptions: &[Exception],
        integrity: &Result<VerifyReport, String>,
        sink: &mut dyn EvidenceSink,
    ) -> Result<Evaluation, QueryError> {
        match control.builtin {
            Some(Builtin::LedgerVerify) => integrity_evaluation(control, integrity, sink),
            None => self.evaluate_sql(control, period, exceptions, sink).await,
        }
    }

    async fn evaluate_sql(
        &self,
        control: Control,
        period: (DateTime<Utc>, DateTime<Utc>),
        exceptions: &[Exception],
        sink: &mut dyn EvidenceSink,
    ) -> Result<Evaluation, QueryError> {
        let sql = bind(&control.sql, period, &control.parameters);
        let failed = |control: Control, status: VerdictStatus, detail: String, sql: String| {
            Ok(Evaluation { verdict: Verdict::without_findings(&control.id, status, detail), control, sql })
        };
        // A control that reads damaged evidence is an error naming the damage, never a
        // verdict on what is left.
        let damaged = |control: Control, damage: crate::Damage, sql: String| {
            let mut verdict = Verdict::without_findings(&control.id, VerdictStatus::Error, QueryError::DamagedEvidence(damage.clone()).to_string());
            verdict.damaged_streams = damage.into_keys().collect();
            Ok(Evaluation { verdict, control, sql })
        };
        for table in control.evidence_tables.clone() {
            let filter = if control.evidence == EvidenceKind::Configuration || control.snapshot_tables.contains(&table) {
                String::new()
            } else {
                bind(" WHERE event_time >= $period_start AND event_time < $period_end", period, &BTreeMap::new())
            };
            let rows = match self.query_internal(&format!("SELECT count(*) AS n FROM {table}{filter}")).await {
                Ok(batches) => {
                    batches.first().filter(|b| b.num_rows() > 0).map_or(0, |b| b.column(0).as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(0))
                }
                Err(QueryError::DamagedEvidence(damage)) => return damaged(control, damage, sql),
                Err(e) => return failed(control, VerdictStatus::Error, format!("evidence table {table}: {e}"), sql),
            };
            if rows == 0 {
                let detail = format!("{table} holds no rows for the period");
                return failed(control, VerdictStatus::InsufficientEvidence, detail, sql);
            }
        }
        // Sorted by every column, so evidence is the same bytes on every run whatever the
        // partitioning; the sort spills to disk beyond the session's memory limit.
        let mut stream = match self.sorted_stream(&sql).await {
            Ok(s) => s,
            Err(QueryError::DamagedEvidence(damage)) => return damaged(control, damage, sql),
            Err(e) => return failed(control, VerdictStatus::Error, e.to_string(), sql),
        };
        let schema = stream.schema();
        let period_last_day = (period.1 - chrono::Duration::days(1)).date_naive();
        let mine: Vec<&Exception> = exceptions.iter().filter(|e| e.control == control.id).collect();
        let mut verdict = Verdict::empty(&control.id, VerdictStatus::Ok);
        let mut sent = false;
        while let Some(batch) = futures::StreamExt::next(&mut stream).await {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => return failed(control, VerdictStatus::Error, e.to_string(), sql),
            };
            let column = |name: &str| -> Result<ArrayRef, String> {
                let c = batch.column_by_name(name).ok_or_else(|| format!("the query returns no {name} column"))?;
                cast(c, &DataType::Utf8).map_err(|e| e.to_string())
            };
            let (resource, status, reason) = match (column("resource"), column("status"), column("reason")) {
                (Ok(a), Ok(b), Ok(c)) => (a, b, c),
                (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return failed(control, VerdictStatus::Error, e, sql),
            };
            let (resource, status, reason) = (resource.as_string::<i32>(), status.as_string::<i32>(), reason.as_string::<i32>());
            let mut judged_status = Vec::with_capacity(batch.num_rows());
            let mut judged_exception = Vec::with_capacity(batch.num_rows());
            for i in 0..batch.num_rows() {
                let text = |a: &StringArray| if a.is_null(i) { String::new() } else { a.value(i).to_string() };
                let (parsed, reason) = match FindingStatus::from_query(&text(status)) {
                    Ok(s) => (s, text(reason)),
                    Err(e) => {
                        *verdict.invalid_statuses.entry(text(status)).or_insert(0) += 1;
                        (FindingStatus::Error, format!("the control returned {e}: {}", text(reason)))
                    }
                };
                let mut finding = Finding { resource: text(resource), status: parsed, reason, exception: None };
                if finding.reason.is_empty() {
                    finding.status = FindingStatus::Error;
                    finding.reason = "the control returned no reason".into();
                }
                if finding.status == FindingStatus::Alarm
                    && let Some(e) = mine.iter().find(|e| e.expires >= period_last_day && matches(&e.resource, &finding.resource))
                {
                    finding.status = FindingStatus::Excepted;
                    finding.exception = Some(format!("{} (until {}): {}", e.owner, e.expires, e.justification));
                }
                judged_status.push(finding.status);
                judged_exception.push(finding.exception.clone());
                verdict.add(finding);
            }
            let judged = judged(&batch, &judged_status, &judged_exception)?;
            sink.rows(&judged).map_err(|e| QueryError::Evidence(format!("{}: {e}", control.id)))?;
            sent = true;
        }
        if !sent {
            let empty = judged(&RecordBatch::new_empty(schema), &[], &[])?;
            sink.rows(&empty).map_err(|e| QueryError::Evidence(format!("{}: {e}", control.id)))?;
        }
        verdict.expired_exceptions = mine.into_iter().filter(|e| e.expires < period_last_day).cloned().collect();
        verdict.settle();
        Ok(Evaluation { verdict, control, sql })
    }

    async fn sorted_stream(&self, sql: &str) -> Result<datafusion::physical_plan::SendableRecordBatchStream, QueryError> {
        let df = self.plan(sql).await?;
        let order: Vec<_> = df.schema().columns().into_iter().map(|c| datafusion::prelude::col(c).sort(true, true)).collect();
        Ok(df.sort(order)?.execute_stream().await?)
    }
}

/// `batch` with its `status` column replaced by the judged statuses and an `exception`
/// column added. Text is plain `Utf8` whichever string layout the engine chose (views
/// in-process, plain or large strings on Ballista), so evidence files are the same bytes
/// on every engine.
fn judged(batch: &RecordBatch, status: &[FindingStatus], exception: &[Option<String>]) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let schema = batch.schema();
    let mut fields: Vec<Field> = Vec::with_capacity(schema.fields().len() + 1);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len() + 1);
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if field.name() == "status" {
            fields.push(Field::new("status", DataType::Utf8, false));
            columns.push(Arc::new(status.iter().map(|s| Some(s.as_str())).collect::<StringArray>()));
        } else if let Some(plain) = plain_text(field.data_type()) {
            columns.push(cast(column, &plain)?);
            fields.push(field.as_ref().clone().with_data_type(plain));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    fields.push(Field::new("exception", DataType::Utf8, true));
    columns.push(Arc::new(exception.iter().map(|e| e.as_deref()).collect::<StringArray>()));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// `data_type` with every string type (`Utf8View`, `LargeUtf8`, in lists too) made
/// `Utf8`, if it has one.
fn plain_text(data_type: &DataType) -> Option<DataType> {
    match data_type {
        DataType::Utf8View | DataType::LargeUtf8 => Some(DataType::Utf8),
        DataType::List(item) | DataType::LargeList(item) => {
            plain_text(item.data_type()).map(|t| DataType::List(Arc::new(item.as_ref().clone().with_data_type(t))))
        }
        _ => None,
    }
}

/// The evidence rows of a control without SQL: its findings.
pub fn findings_batch(findings: &[Finding]) -> RecordBatch {
    let text = |f: fn(&Finding) -> Option<&str>| Arc::new(findings.iter().map(f).collect::<StringArray>()) as ArrayRef;
    let schema = Schema::new(vec![
        Field::new("resource", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("exception", DataType::Utf8, true),
    ]);
    let columns = vec![text(|f| Some(&f.resource)), text(|f| Some(f.status.as_str())), text(|f| Some(&f.reason)), text(|f| f.exception.as_deref())];
    RecordBatch::try_new(Arc::new(schema), columns).expect("columns match the schema")
}

/// The integrity control: one finding per stream of the ledger's verification.
fn integrity_evaluation(control: Control, integrity: &Result<VerifyReport, String>, sink: &mut dyn EvidenceSink) -> Result<Evaluation, QueryError> {
    let findings: Vec<Finding> = match integrity {
        Ok(report) if report.streams.is_empty() => {
            let detail = "the ledger holds no stream: there is nothing to verify".to_string();
            sink.rows(&findings_batch(&[])).map_err(|e| QueryError::Evidence(format!("{}: {e}", control.id)))?;
            return Ok(Evaluation {
                verdict: Verdict::without_findings(&control.id, VerdictStatus::InsufficientEvidence, detail),
                control,
                sql: String::new(),
            });
        }
        Ok(report) => report
            .streams
            .iter()
            .map(|s| {
                let problems: usize = s.findings.iter().map(|f| f.problems.len()).sum();
                Finding {
                    resource: s.stream.clone(),
                    status: if problems == 0 { FindingStatus::Ok } else { FindingStatus::Alarm },
                    reason: if problems == 0 {
                        format!("{} rows, every hash and link verified", s.rows)
                    } else {
                        format!("{problems} integrity problems: run keytrail verify --stream {}", s.stream)
                    },
                    exception: None,
                }
            })
            // A checkpoint of a stream the ledger no longer has, one that does not open.
            .chain(report.other.iter().filter(|f| !f.is_valid()).map(|f| Finding {
                resource: f.path.clone(),
                status: FindingStatus::Alarm,
                reason: f.problems.join("; "),
                exception: None,
            }))
            .collect(),
        Err(e) => vec![Finding { resource: "ledger".into(), status: FindingStatus::Error, reason: format!("verify failed: {e}"), exception: None }],
    };
    sink.rows(&findings_batch(&findings)).map_err(|e| QueryError::Evidence(format!("{}: {e}", control.id)))?;
    Ok(Evaluation { verdict: Verdict::from_findings(&control.id, findings, Vec::new()), control, sql: String::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_parses_and_every_sql_control_names_its_evidence() {
        let catalog = catalog().unwrap();
        assert!(catalog.len() >= 8);
        for c in &catalog {
            assert!(c.builtin.is_some() || (!c.sql.is_empty() && !c.evidence_tables.is_empty()), "{}", c.id);
            assert!(c.snapshot_tables.iter().all(|t| c.evidence_tables.contains(t)), "{}: a snapshot table that is not evidence", c.id);
            assert!(["soc2", "hipaa", "nist_800_53", "iso27001"].iter().all(|f| c.frameworks.contains_key(*f)), "{}", c.id);
        }
    }

    #[test]
    fn every_mapped_requirement_is_in_its_framework_and_every_automated_one_is_covered() {
        let catalog = catalog().unwrap();
        let frameworks = frameworks().unwrap();
        assert_eq!(frameworks.len(), 4);
        for c in &catalog {
            for (key, ids) in &c.frameworks {
                let f = frameworks.iter().find(|f| &f.key == key).unwrap_or_else(|| panic!("{}: unknown framework {key}", c.id));
                for id in ids {
                    assert!(f.requirements.iter().any(|r| &r.id == id), "{}: {id} is not a requirement of {}", c.id, f.id);
                }
            }
        }
        for f in &frameworks {
            for (r, controls, _) in f.requirement_status(&catalog, &[]) {
                assert!(r.manual || !controls.is_empty(), "{} {} is neither manual nor covered", f.id, r.id);
                assert!(!r.manual || controls.is_empty(), "{} {} is marked manual but {controls:?} support it", f.id, r.id);
            }
        }
    }

    #[test]
    fn placeholders_become_literals_and_patterns_match() {
        let mut params = BTreeMap::new();
        params.insert("prefix".to_string(), toml::Value::String("/it's/".into()));
        params.insert("prefix_len".to_string(), toml::Value::Integer(3));
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let sql = bind("$prefix_len $prefix $period_end", (t("2026-11-01T00:00:00Z"), t("2026-12-01T00:00:00Z")), &params);
        assert_eq!(sql, "3 '/it''s/' TIMESTAMP '2026-12-01T00:00:00Z'");
        assert!(matches("alice@* read /prod/*", "alice@contoso.com read /prod/db"));
        assert!(!matches("alice@* read /prod/*", "bob@contoso.com read /prod/db"));
        assert!(matches("exact", "exact") && !matches("exact", "exactly"));
    }
}
