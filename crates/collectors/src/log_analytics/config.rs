//! The `[log_analytics]` section of `keytrail.toml`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::settings::{Guid, HttpUrl, Rfc3339};

/// How keytrail authenticates to Microsoft Entra ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// AKS workload identity: a federated Kubernetes service-account token
    /// (`AZURE_FEDERATED_TOKEN_FILE`) exchanged as a client assertion.
    WorkloadIdentity,
    /// An application's client secret, read from an environment variable or a file.
    ClientSecret,
    /// The managed identity of the host (IMDS, or `IDENTITY_ENDPOINT` where set).
    ManagedIdentity,
}

/// Where and how to query Log Analytics. Every field but `workspace_id` has a default.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogAnalyticsConfig {
    /// Query API base URL.
    #[serde(default = "default_endpoint")]
    pub endpoint: HttpUrl,
    /// Microsoft Entra authority host.
    #[serde(default = "default_authority_host")]
    pub authority_host: HttpUrl,
    /// Directory (tenant) ID; defaults to `AZURE_TENANT_ID`.
    pub tenant_id: Option<String>,
    /// Application (client) ID; defaults to `AZURE_CLIENT_ID`.
    pub client_id: Option<Guid>,
    /// Log Analytics workspace ID (a GUID).
    pub workspace_id: Guid,
    /// How to authenticate.
    #[serde(default = "default_auth")]
    pub auth: AuthMode,
    /// Where the client secret is (`client_secret` mode): `"env:VAR"` or `"file:PATH"`;
    /// shorthand for `client_secret_env` / `client_secret_file`.
    #[serde(default)]
    pub client_secret: Option<crate::credential::SecretRef>,
    /// Environment variable holding the client secret (`client_secret` mode).
    pub client_secret_env: Option<String>,
    /// File holding the client secret (`client_secret` mode).
    pub client_secret_file: Option<PathBuf>,
    /// Service-account token file (`workload_identity` mode); defaults to
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    pub federated_token_file: Option<PathBuf>,
    /// Tables to collect.
    #[serde(default = "default_tables")]
    pub tables: Vec<String>,
    /// Namespaces whose `ContainerLogV2` lines are collected (the table is large and may
    /// hold sensitive text, so only these).
    #[serde(default = "default_namespaces")]
    pub namespaces: Vec<String>,
    /// Kubernetes resources whose audit events are collected.
    #[serde(default = "default_audit_resources")]
    pub audit_resources: Vec<String>,
    /// Length of one query window, in minutes.
    #[serde(default = "default_window_minutes")]
    pub window_minutes: u32,
    /// Where a stream with no cursor starts (RFC 3339); default: the start of the
    /// previous month.
    pub start: Option<Rfc3339>,
    /// Windows that end less than this many minutes ago are left for the next run:
    /// Log Analytics ingests with a delay, and a window is committed only once.
    #[serde(default = "default_settle_minutes")]
    pub settle_minutes: u32,
    /// The service's row cap per query; a reply that reaches it is split.
    #[serde(default = "default_row_cap")]
    pub row_cap: usize,
    /// Seconds before a query with no reply is abandoned (and retried).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Attempts per query before its window is recorded as not collected.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Ceiling of the exponential back-off between attempts, in seconds.
    #[serde(default = "default_max_backoff_secs")]
    pub max_backoff_secs: u64,
    /// First back-off, in milliseconds (doubles per attempt, with jitter).
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Fields tried for the Akeyless item path, in order.
    pub akeyless_item_path_fields: Option<Vec<String>>,
}

impl LogAnalyticsConfig {
    /// What the section's values cannot say alone: limits of at least one, known tables,
    /// names safe to put in a query. `collect` and `keytrail config check` both call it.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in [
            ("window_minutes", self.window_minutes as u64),
            ("row_cap", self.row_cap as u64),
            ("max_attempts", self.max_attempts.into()),
            ("timeout_secs", self.timeout_secs),
        ] {
            if value == 0 {
                return Err(format!("log_analytics.{key} must be at least 1"));
            }
        }
        for table in &self.tables {
            super::tables::TableSpec::for_table(table).map_err(|e| format!("log_analytics.tables: {e}"))?;
        }
        super::tables::check_kql_names("log_analytics.namespaces", &self.namespaces)?;
        super::tables::check_kql_names("log_analytics.audit_resources", &self.audit_resources)
    }
}

fn default_endpoint() -> HttpUrl {
    HttpUrl::parse("https://api.loganalytics.azure.com").expect("a valid URL")
}
fn default_authority_host() -> HttpUrl {
    HttpUrl::parse("https://login.microsoftonline.com").expect("a valid URL")
}
fn default_auth() -> AuthMode {
    AuthMode::WorkloadIdentity
}
/// The tables collected unless configured otherwise.
pub const DEFAULT_TABLES: &[&str] = &["KubeEvents", "KubePodInventory", "ContainerLogV2", "AKSAudit", "AKSAuditAdmin", "AkeylessAudit_CL"];
fn default_tables() -> Vec<String> {
    DEFAULT_TABLES.iter().map(|s| s.to_string()).collect()
}
fn default_namespaces() -> Vec<String> {
    vec!["external-secrets".into()]
}
/// Audit events on these resources are collected: secrets, the identities and RBAC that
/// reach them, and ESO's own resources.
pub const DEFAULT_AUDIT_RESOURCES: &[&str] = &[
    "secrets",
    "serviceaccounts",
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
    "externalsecrets",
    "clusterexternalsecrets",
    "secretstores",
    "clustersecretstores",
    "pushsecrets",
];
fn default_audit_resources() -> Vec<String> {
    DEFAULT_AUDIT_RESOURCES.iter().map(|s| s.to_string()).collect()
}
fn default_window_minutes() -> u32 {
    60
}
fn default_settle_minutes() -> u32 {
    15
}
fn default_row_cap() -> usize {
    500_000
}
fn default_timeout_secs() -> u64 {
    300
}
fn default_max_attempts() -> u32 {
    6
}
fn default_max_backoff_secs() -> u64 {
    60
}
fn default_initial_backoff_ms() -> u64 {
    1000
}
