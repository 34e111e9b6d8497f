//! Which clusters, Akeyless auth methods and item paths belong to which environment, as the
//! configuration declares (`[environments.<name>]`): the `environment_rules` view the
//! `identities` view and the controls judge environment separation by. keytrail never
//! infers an environment from what an ID happens to contain.

use serde::Deserialize;

/// One environment and the names that belong to it. Patterns are names with `*` for any
/// run of characters.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Its name (the configuration table's key).
    #[serde(skip)]
    pub name: String,
    /// Whether it is production: reads of its items by other environments' identities are
    /// cross-environment reads.
    #[serde(default)]
    pub production: bool,
    /// Kubernetes cluster names (as configured under `[[kubernetes.clusters]]` and in
    /// Container Insights).
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Akeyless auth method names or access IDs.
    #[serde(default)]
    pub auth_methods: Vec<String>,
    /// Akeyless item paths.
    #[serde(default)]
    pub item_paths: Vec<String>,
}

/// `pattern` as a SQL `LIKE` pattern: `*` any run of characters, everything else literal.
fn like(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '*' => out.push('%'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The `environment_rules` view's SQL: one row per pattern (`environment`, `production`,
/// `kind` = `cluster` | `auth_method` | `item_path`, `pattern` as `LIKE` text).
pub fn rules_sql(environments: &[Environment]) -> String {
    let mut rows = Vec::new();
    for e in environments {
        for (kind, patterns) in [("cluster", &e.clusters), ("auth_method", &e.auth_methods), ("item_path", &e.item_paths)] {
            for p in patterns {
                rows.push(format!("({}, {}, {}, {})", text(&e.name), e.production, text(kind), text(&like(p))));
            }
        }
    }
    if rows.is_empty() {
        return "SELECT CAST(NULL AS VARCHAR) AS environment, CAST(NULL AS BOOLEAN) AS production, CAST(NULL AS VARCHAR) AS kind, \
                CAST(NULL AS VARCHAR) AS pattern WHERE false"
            .into();
    }
    format!("SELECT column1 AS environment, column2 AS production, column3 AS kind, column4 AS pattern FROM (VALUES {}) AS rules", rows.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_become_literal_like_patterns() {
        assert_eq!(like("/prod/*"), "/prod/%");
        assert_eq!(like("a_b%c\\*"), "a\\_b\\%c\\\\%");
        let sql = rules_sql(&[Environment {
            name: "prod".into(),
            production: true,
            clusters: vec!["aks-prod*".into()],
            item_paths: vec!["/it's/*".into()],
            ..Default::default()
        }]);
        assert!(sql.contains("('prod', true, 'cluster', 'aks-prod%')") && sql.contains("'/it''s/%'"), "{sql}");
        assert!(rules_sql(&[]).ends_with("WHERE false"));
    }
}
