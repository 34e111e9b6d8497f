//! Controls as data: `queries/controls/<id>.toml` (catalog entry) plus `<id>.sql` (the
//! query), compiled in. A control query returns `resource`, `status` (`ok`, `alarm`,
//! `info`, `skip`, `error`) and `reason`, plus dimension columns; `$name` placeholders are
//! replaced by the period bounds and the control's parameters as SQL literals.
//!
//! A control whose evidence tables hold nothing for the period is `insufficient_evidence`,
//! never a pass. An exception (control, resource pattern, owner, justification, expiry)
//! turns a matching alarm into `excepted` until it expires; expired ones are reported.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use serde::{Deserialize, Serialize};

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
    /// `low`, `medium`, `high`.
    pub severity: String,
    /// `activity`, `configuration` or `integrity`.
    pub evidence: String,
    /// Tables that must hold rows for the period (activity) or at all (configuration).
    pub evidence_tables: Vec<String>,
    /// Parameters and their defaults.
    #[serde(default)]
    pub parameters: BTreeMap<String, toml::Value>,
    /// Requirement IDs per framework (`soc2`, `hipaa`, `nist_800_53`, `iso27001`).
    pub frameworks: BTreeMap<String, Vec<String>>,
    /// A check done by keytrail itself instead of SQL (`ledger_verify`).
    #[serde(default)]
    pub builtin: Option<String>,
    /// The query (empty for builtins).
    #[serde(skip_deserializing)]
    pub sql: String,
}

macro_rules! control {
    ($id:literal) => {
        (
            include_str!(concat!("../../../queries/controls/", $id, ".toml")),
            include_str!(concat!("../../../queries/controls/", $id, ".sql")),
        )
    };
}

const SOURCES: &[(&str, &str)] = &[
    control!("cross-env-secret-read"),
    control!("human-k8s-secret-read"),
    control!("auth-failure-burst"),
    control!("privileged-change-without-mfa"),
    control!("role-shared-across-clusters"),
    control!("rotation-overdue"),
    control!("collection-coverage"),
    (include_str!("../../../queries/controls/ledger-integrity.toml"), ""),
];

/// The catalog, in a stable order.
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

impl Framework {
    /// Whether `name` (file id or control key) names this framework.
    pub fn is(&self, name: &str) -> bool {
        self.id == name || self.key == name
    }

    /// Per requirement: the controls that cover it and its status given the verdicts —
    /// `manual`, `not_covered`, or the worst of its controls' verdicts (`alarm` over
    /// `error` over `insufficient_evidence` over `ok`).
    pub fn requirement_status<'a>(&self, catalog: &'a [Control], verdicts: &[Verdict]) -> Vec<(&Requirement, Vec<&'a str>, String)> {
        let rank = |s: &str| match s {
            "alarm" => 3,
            "error" => 2,
            "insufficient_evidence" => 1,
            _ => 0,
        };
        self.requirements
            .iter()
            .map(|r| {
                let controls: Vec<&str> = catalog
                    .iter()
                    .filter(|c| c.frameworks.get(&self.key).is_some_and(|ids| ids.contains(&r.id)))
                    .map(|c| c.id.as_str())
                    .collect();
                let status = if r.manual {
                    "manual".to_string()
                } else {
                    verdicts
                        .iter()
                        .filter(|v| controls.contains(&v.control.as_str()))
                        .map(|v| v.status.clone())
                        .max_by_key(|s| rank(s))
                        .unwrap_or_else(|| "not_covered".to_string())
                };
                (r, controls, status)
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

/// Reads an exceptions file: `[[exception]]` tables.
pub fn parse_exceptions(text: &str) -> Result<Vec<Exception>, QueryError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        exception: Vec<Exception>,
    }
    Ok(toml::from_str::<File>(text).map_err(|e| QueryError::Catalog(e.to_string()))?.exception)
}

/// One row of a control's result.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// What was judged.
    pub resource: String,
    /// `ok`, `alarm`, `info`, `skip`, `error` or `excepted`.
    pub status: String,
    /// Why.
    pub reason: String,
    /// The exception that turned an alarm into `excepted`: owner and justification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
}

/// A control's outcome for a period.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// Control id.
    pub control: String,
    /// `ok`, `alarm`, `insufficient_evidence` or `error`.
    pub status: String,
    /// Findings per status.
    pub counts: BTreeMap<String, u64>,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// Why the verdict is `error` or `insufficient_evidence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Exceptions for this control that expired before the period ended.
    pub expired_exceptions: Vec<Exception>,
}

impl Verdict {
    /// A verdict from findings: any alarm → `alarm`, else `ok`.
    pub fn from_findings(control: &str, findings: Vec<Finding>, expired_exceptions: Vec<Exception>) -> Self {
        let mut counts = BTreeMap::new();
        for f in &findings {
            *counts.entry(f.status.clone()).or_insert(0) += 1;
        }
        let status = if counts.contains_key("alarm") || counts.contains_key("error") { "alarm" } else { "ok" };
        Self { control: control.into(), status: status.into(), counts, findings, detail: None, expired_exceptions }
    }

    fn without_findings(control: &str, status: &str, detail: String) -> Self {
        Self {
            control: control.into(),
            status: status.into(),
            counts: BTreeMap::new(),
            findings: Vec::new(),
            detail: Some(detail),
            expired_exceptions: Vec::new(),
        }
    }
}

/// Replaces `$name` placeholders by SQL literals, longest names first.
fn bind(sql: &str, period: (DateTime<Utc>, DateTime<Utc>), parameters: &BTreeMap<String, toml::Value>) -> String {
    let time = |t: DateTime<Utc>| format!("TIMESTAMP '{}'", t.format("%Y-%m-%dT%H:%M:%SZ"));
    let mut values: Vec<(String, String)> = vec![("period_start".into(), time(period.0)), ("period_end".into(), time(period.1))];
    for (name, value) in parameters {
        let literal = match value {
            toml::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
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

impl LedgerSession {
    /// Evaluates one SQL control over `[period.0, period.1)`.
    pub async fn evaluate(&self, control: &Control, period: (DateTime<Utc>, DateTime<Utc>), exceptions: &[Exception]) -> Verdict {
        for table in &control.evidence_tables {
            let filter = if control.evidence == "configuration" {
                String::new()
            } else {
                bind(" WHERE event_time >= $period_start AND event_time < $period_end", period, &BTreeMap::new())
            };
            let rows = match self.query_internal(&format!("SELECT count(*) AS n FROM {table}{filter}")).await {
                Ok(batches) => batches.first().filter(|b| b.num_rows() > 0).map_or(0, |b| b.column(0).as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(0)),
                Err(e) => return Verdict::without_findings(&control.id, "error", format!("evidence table {table}: {e}")),
            };
            if rows == 0 {
                return Verdict::without_findings(&control.id, "insufficient_evidence", format!("{table} holds no rows for the period"));
            }
        }
        let sql = bind(&control.sql, period, &control.parameters);
        let batches = match self.query_internal(&sql).await {
            Ok(b) => b,
            Err(e) => return Verdict::without_findings(&control.id, "error", e.to_string()),
        };
        let period_last_day = (period.1 - chrono::Duration::days(1)).date_naive();
        let mine: Vec<&Exception> = exceptions.iter().filter(|e| e.control == control.id).collect();
        let mut findings = Vec::new();
        for batch in &batches {
            let column = |name: &str| -> Result<datafusion::arrow::array::ArrayRef, String> {
                let c = batch.column_by_name(name).ok_or_else(|| format!("the query returns no {name} column"))?;
                cast(c, &DataType::Utf8).map_err(|e| e.to_string())
            };
            let (resource, status, reason) = match (column("resource"), column("status"), column("reason")) {
                (Ok(a), Ok(b), Ok(c)) => (a, b, c),
                (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return Verdict::without_findings(&control.id, "error", e),
            };
            let (resource, status, reason) = (resource.as_string::<i32>(), status.as_string::<i32>(), reason.as_string::<i32>());
            for i in 0..batch.num_rows() {
                let text = |a: &datafusion::arrow::array::StringArray| if a.is_null(i) { String::new() } else { a.value(i).to_string() };
                let mut finding = Finding { resource: text(resource), status: text(status), reason: text(reason), exception: None };
                if finding.reason.is_empty() {
                    finding.status = "error".into();
                    finding.reason = "the control returned no reason".into();
                }
                if finding.status == "alarm" {
                    if let Some(e) = mine.iter().find(|e| e.expires >= period_last_day && matches(&e.resource, &finding.resource)) {
                        finding.status = "excepted".into();
                        finding.exception = Some(format!("{} (until {}): {}", e.owner, e.expires, e.justification));
                    }
                }
                findings.push(finding);
            }
        }
        let expired = mine.into_iter().filter(|e| e.expires < period_last_day).cloned().collect();
        Verdict::from_findings(&control.id, findings, expired)
    }
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
