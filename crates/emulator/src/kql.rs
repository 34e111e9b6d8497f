//! The subset of KQL the emulator understands: a table name followed by `where` clauses
//! that compare a column (or a field inside a `dynamic` or JSON text column) with string
//! literals or `datetime(...)`, joined by `and`; `order by`, `sort by` and `project` are
//! accepted and ignored (rows are always served in time order). Anything else is answered
//! with the service's `BadArgumentError`, so a collector that sends a query the emulator
//! cannot honour fails loudly instead of getting wrong rows.

use serde_json::Value;

use crate::dataset::{ColumnType, Row};

/// A parsed query.
#[derive(Debug, PartialEq)]
pub struct Query {
    /// The table: the query's first identifier.
    pub table: String,
    /// Conditions every returned row satisfies.
    pub filters: Vec<Filter>,
}

/// Where a compared value comes from.
#[derive(Debug, PartialEq)]
pub struct Operand {
    column: String,
    path: Vec<String>,
}

/// One condition.
#[derive(Debug, PartialEq)]
pub enum Filter {
    /// `x in ("a", "b")` (`in~` compares case-insensitively).
    In { operand: Operand, values: Vec<String>, case_insensitive: bool },
    /// `x == "a"` (`=~` compares case-insensitively).
    Eq { operand: Operand, value: String, case_insensitive: bool },
    /// `TimeGenerated >= datetime(...)`, microseconds.
    TimeAtLeast(i64),
    /// `TimeGenerated < datetime(...)`, microseconds.
    TimeBefore(i64),
}

/// Parses a query or says what the emulator does not support.
pub fn parse(query: &str) -> Result<Query, String> {
    let mut stages = split_outside_quotes(query, '|').into_iter();
    let table = stages.next().unwrap_or_default().trim().to_string();
    if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("the query must start with a table name, found '{table}'"));
    }
    let mut filters = Vec::new();
    for stage in stages {
        let stage = stage.trim();
        let (op, rest) = stage.split_once(char::is_whitespace).unwrap_or((stage, ""));
        match op {
            "where" => {
                for cond in split_and(rest) {
                    filters.push(parse_condition(cond.trim())?);
                }
            }
            "order" | "sort" | "project" => {}
            other => return Err(format!("the emulator does not support the '{other}' operator")),
        }
    }
    Ok(Query { table, filters })
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let (mut parts, mut start, mut quote) = (Vec::new(), 0, None);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c == sep => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn split_and(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(" and ") {
        parts.push(&rest[..i]);
        rest = &rest[i + 5..];
    }
    parts.push(rest);
    parts
}

fn parse_condition(cond: &str) -> Result<Filter, String> {
    for op in [" in~ ", " in ", " == ", " =~ ", " >= ", " < "] {
        let Some((lhs, rhs)) = cond.split_once(op) else { continue };
        let (lhs, rhs) = (lhs.trim(), rhs.trim());
        return match op.trim() {
            ">=" | "<" => {
                if lhs != "TimeGenerated" {
                    return Err(format!("only TimeGenerated can be compared with {op}, found '{lhs}'"));
                }
                let t = parse_datetime(rhs)?;
                Ok(if op.trim() == ">=" { Filter::TimeAtLeast(t) } else { Filter::TimeBefore(t) })
            }
            "in" | "in~" => {
                let inner = rhs
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| format!("expected a parenthesised list after 'in', found '{rhs}'"))?;
                let values = split_outside_quotes(inner, ',').into_iter().map(|v| parse_string(v.trim())).collect::<Result<_, _>>()?;
                Ok(Filter::In { operand: parse_operand(lhs)?, values, case_insensitive: op.trim() == "in~" })
            }
            _ => Ok(Filter::Eq { operand: parse_operand(lhs)?, value: parse_string(rhs)?, case_insensitive: op.trim() == "=~" }),
        };
    }
    Err(format!("unsupported condition '{cond}'"))
}

fn parse_string(s: &str) -> Result<String, String> {
    s.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .map(str::to_string)
        .ok_or_else(|| format!("expected a string literal, found '{s}'"))
}

fn parse_datetime(s: &str) -> Result<i64, String> {
    let inner = s.strip_prefix("datetime(").and_then(|r| r.strip_suffix(')')).ok_or_else(|| format!("expected datetime(...), found '{s}'"))?;
    chrono::DateTime::parse_from_rfc3339(inner.trim().trim_matches('"')).map(|t| t.timestamp_micros()).map_err(|e| format!("bad datetime '{inner}': {e}"))
}

/// `Col`, `Col.a.b`, `tostring(Col.a)`, `tostring(parse_json(Col).a.b)`.
fn parse_operand(s: &str) -> Result<Operand, String> {
    let s = s.strip_prefix("tostring(").and_then(|r| r.strip_suffix(')')).unwrap_or(s);
    let (column, path) = match s.strip_prefix("parse_json(") {
        Some(rest) => {
            let (column, path) = rest.split_once(')').ok_or_else(|| format!("unbalanced parse_json in '{s}'"))?;
            (column, path.strip_prefix('.').unwrap_or(path))
        }
        None => s.split_once('.').unwrap_or((s, "")),
    };
    if column.is_empty() || !column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("expected a column name, found '{column}'"));
    }
    let path = path.split('.').filter(|p| !p.is_empty()).map(str::to_string).collect();
    Ok(Operand { column: column.to_string(), path })
}

impl Query {
    /// Checks the query's columns against a table's schema.
    pub fn check(&self, columns: &[(&str, ColumnType)]) -> Result<(), String> {
        for f in &self.filters {
            if let Filter::In { operand, .. } | Filter::Eq { operand, .. } = f
                && !columns.iter().any(|(c, _)| *c == operand.column)
            {
                return Err(format!("'{}' is not a column of table '{}'", operand.column, self.table));
            }
        }
        Ok(())
    }

    /// Whether a row satisfies every condition.
    pub fn matches(&self, columns: &[(&str, ColumnType)], row: &Row) -> bool {
        self.filters.iter().all(|f| match f {
            Filter::TimeAtLeast(t) => row.time >= *t,
            Filter::TimeBefore(t) => row.time < *t,
            Filter::In { operand, values, case_insensitive } => {
                operand.value(columns, row).is_some_and(|v| values.iter().any(|x| eq(x, &v, *case_insensitive)))
            }
            Filter::Eq { operand, value, case_insensitive } => operand.value(columns, row).is_some_and(|v| eq(value, &v, *case_insensitive)),
        })
    }
}

fn eq(a: &str, b: &str, case_insensitive: bool) -> bool {
    if case_insensitive { a.eq_ignore_ascii_case(b) } else { a == b }
}

impl Operand {
    fn value(&self, columns: &[(&str, ColumnType)], row: &Row) -> Option<String> {
        let i = columns.iter().position(|(c, _)| *c == self.column)?;
        let cell = row.values.get(i)?;
        if self.path.is_empty() {
            return cell.as_str().map(str::to_string).or_else(|| Some(cell.to_string()));
        }
        let doc: Value = serde_json::from_str(cell.as_str()?).ok()?;
        let mut v = &doc;
        for key in &self.path {
            v = v.get(key)?;
        }
        v.as_str().map(str::to_string).or_else(|| Some(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_collector_shapes_and_rejects_the_rest() {
        let q = parse(r#"AKSAudit | where TimeGenerated >= datetime(2026-11-01T00:00:00Z) and TimeGenerated < datetime(2026-11-02T00:00:00Z) | where tostring(ObjectRef.resource) in ("secrets", "roles") | order by TimeGenerated asc"#).unwrap();
        assert_eq!(q.table, "AKSAudit");
        assert_eq!(q.filters.len(), 3);
        assert_eq!(q.filters[0], Filter::TimeAtLeast(1_793_491_200_000_000));
        let q = parse(r#"AzureDiagnostics | where Category == "kube-audit" and tostring(parse_json(log_s).objectRef.resource) in ("secrets")"#).unwrap();
        assert!(matches!(&q.filters[1], Filter::In { operand, .. } if operand.column == "log_s" && operand.path == ["objectRef", "resource"]));
        assert!(parse("AKSAudit | summarize count()").unwrap_err().contains("summarize"));
        assert!(parse("| where x == 'a'").is_err());
        assert!(parse("T | where x != 'a'").unwrap_err().contains("unsupported condition"));
    }

    #[test]
    fn matches_fields_inside_dynamic_text() {
        let columns = crate::dataset::schema("AKSAudit").unwrap();
        let row = crate::dataset::synthetic_audit_row(0, 0);
        let yes = parse(r#"AKSAudit | where tostring(ObjectRef.resource) in ("secrets") and Verb == "get""#).unwrap();
        let no = parse(r#"AKSAudit | where tostring(ObjectRef.resource) in ("roles")"#).unwrap();
        assert!(yes.matches(columns, &row));
        assert!(!no.matches(columns, &row));
        assert!(parse("AKSAudit | where Nope == 'x'").unwrap().check(columns).is_err());
    }
}
