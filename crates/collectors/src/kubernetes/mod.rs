//! The Kubernetes API of each configured cluster, through `kube`: the External Secrets
//! Operator's events (`eso_events`), snapshots of its resources (`eso_externalsecrets`,
//! `eso_secretstores`, `eso_pushsecrets`) and of the RBAC that grants anything on Secrets
//! or ESO resources (`k8s_rbac`).
//!
//! Credentials are whatever the kubeconfig says (a token, a client certificate, an exec
//! plugin such as AKS `kubelogin`) or the pod's service account in the cluster; `kube`
//! handles them and keytrail never sees them in clear outside its client. The collector
//! lists events, ESO resources and RBAC objects only: it never requests a Secret, so it
//! cannot read secret data, and its ClusterRole (`deploy/base/rbac.yaml`) grants nothing
//! on Secrets.
//!
//! Every row carries the configured cluster name (`cluster_name`), so several clusters
//! share the streams.

mod events;
mod snapshots;
mod source;

use std::path::PathBuf;

use keytrail_ledger::{Ledger, LedgerError, StreamSchema};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Deserialize;
use serde_json::{Value as Json, json};

pub use events::EVENTS_STREAM;
pub use snapshots::{parse_go_duration, snapshot_schemas};

/// This source's key in stream cursors.
const SOURCE: &str = "kubernetes";

/// `[kubernetes]` in `keytrail.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    /// Kubeconfig file; default `$KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// Objects per list request (`limit`).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Event observations gathered before each commit: bounds a run's memory.
    #[serde(default = "default_commit_rows")]
    pub commit_rows: usize,
    /// Minutes the API servers keep an Event after its last change (kube-apiserver
    /// `--event-ttl`; AKS: 60). A run's lists hold every Event changed in that span before
    /// it, which `collected_ranges` records.
    #[serde(default = "default_event_ttl_minutes")]
    pub event_ttl_minutes: u32,
    /// The clusters to collect from (at least one).
    #[serde(deserialize_with = "at_least_one")]
    pub clusters: Vec<ClusterConfig>,
}

impl KubernetesConfig {
    /// What the section's values cannot say alone: limits of at least one, and cluster
    /// names that tell the clusters apart (every row carries one).
    pub fn validate(&self) -> Result<(), String> {
        if self.page_size == 0 || self.commit_rows == 0 || self.event_ttl_minutes == 0 {
            return Err("kubernetes.page_size, commit_rows and event_ttl_minutes must be at least 1".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for cluster in &self.clusters {
            if cluster.name.trim().is_empty() {
                return Err("kubernetes.clusters: every cluster needs a name (as people know it, e.g. aks-prod-weu)".into());
            }
            if !seen.insert(cluster.name.as_str()) {
                return Err(format!("kubernetes.clusters: the name {} is given twice", cluster.name));
            }
        }
        Ok(())
    }
}

fn default_page_size() -> u32 {
    500
}

fn default_commit_rows() -> usize {
    50_000
}

fn default_event_ttl_minutes() -> u32 {
    60
}

fn at_least_one<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<ClusterConfig>, D::Error> {
    let clusters = Vec::<ClusterConfig>::deserialize(deserializer)?;
    if clusters.is_empty() {
        return Err(serde::de::Error::custom("name at least one [[kubernetes.clusters]]"));
    }
    Ok(clusters)
}

/// One `[[kubernetes.clusters]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The name recorded with every row (`cluster_name`), as in the other sources.
    pub name: String,
    /// Kubeconfig context; default the current context.
    pub context: Option<String>,
    /// Use the pod's service account instead of a kubeconfig (keytrail running in the
    /// cluster it collects from).
    #[serde(default)]
    pub in_cluster: bool,
}

/// Why a cluster could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum KubernetesError {
    /// The kubeconfig or in-cluster configuration is unusable.
    #[error("cluster {cluster}: {message}")]
    Config {
        /// The configured cluster name.
        cluster: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The API server refused the credentials.
    #[error(
        "cluster {cluster}: the Kubernetes API refused the credentials ({code} {reason}): check the kubeconfig user, or run `kubelogin convert-kubeconfig` for AKS with Entra ID"
    )]
    Unauthorized {
        /// The configured cluster name.
        cluster: String,
        /// 401 or 403.
        code: u16,
        /// The API's reason.
        reason: String,
    },
    /// A call failed.
    #[error("cluster {cluster}: {what}: {message}")]
    Api {
        /// The configured cluster name.
        cluster: String,
        /// The call.
        what: String,
        /// Why.
        message: String,
    },
    /// Writing failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What one run did for one cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterReport {
    /// The configured cluster name.
    pub cluster: String,
    /// The API server's version (`gitVersion`).
    pub server_version: String,
    /// Event observations listed.
    pub events_listed: u64,
    /// New observations appended to `eso_events` (new events and higher counts).
    pub events_appended: u64,
    /// Events without a usable time, kept in `eso_events__rejected`.
    pub events_rejected: u64,
    /// Continue tokens that expired (`410 Gone`): an events list resumes from the token the
    /// API server gives with it, a snapshot list starts again.
    pub expired_continue_tokens: u64,
    /// Objects per snapshot stream, in snapshot order.
    pub snapshots: Vec<(String, u64)>,
    /// Whether the snapshot was written (false: identical to the one taken earlier today).
    pub snapshot_written: bool,
}

/// Every stream this source writes, so queries plan before anything is collected.
pub fn stream_schemas() -> Result<Vec<StreamSchema>, LedgerError> {
    let mut schemas = vec![events::schema()?];
    schemas.extend(snapshot_schemas()?);
    Ok(schemas)
}

/// Collects every configured cluster, one after the other. A cluster that fails (refused
/// credentials, an unreachable API server) does not stop the others: its error is in its
/// place in the result. A ledger failure stops everything.
pub async fn collect(ledger: &Ledger, config: &KubernetesConfig, run_id: &str) -> Result<Vec<(String, Result<ClusterReport, KubernetesError>)>, LedgerError> {
    let mut outcomes = Vec::new();
    for cluster in &config.clusters {
        match collect_cluster(ledger, config, cluster, run_id).await {
            Err(KubernetesError::Ledger(e)) => return Err(e),
            Err(e) => {
                record_gap(ledger, &cluster.name, &e, run_id).await?;
                outcomes.push((cluster.name.clone(), Err(e)));
            }
            ok => outcomes.push((cluster.name.clone(), ok)),
        }
    }
    Ok(outcomes)
}

/// Puts a cluster that could not be collected on record in `collection_gaps`: from its last
/// snapshot (what keytrail last saw of it) to now, since events of that time may be lost.
async fn record_gap(ledger: &Ledger, cluster: &str, error: &KubernetesError, run_id: &str) -> Result<(), LedgerError> {
    let last = cluster_cursor(ledger, "eso_externalsecrets", cluster).await?["snapshot_time"].as_i64();
    let table = gap_table(cluster);
    let at = crate::gaps::GapSource { source: SOURCE, workspace: cluster, table: &table, stream: events::EVENTS_STREAM };
    crate::gaps::append_gap_since(ledger, &at, last, &error.to_string(), run_id, "kubernetes collect").await
}

async fn collect_cluster(ledger: &Ledger, config: &KubernetesConfig, cluster: &ClusterConfig, run_id: &str) -> Result<ClusterReport, KubernetesError> {
    let client = client(config, cluster).await?;
    let mut report = ClusterReport { cluster: cluster.name.clone(), ..Default::default() };
    let (version, listed_at) = server_version(&client, &cluster.name).await?;
    report.server_version = version;
    events::collect(ledger, &client, &cluster.name, config.page_size, config.commit_rows, &mut report).await?;
    snapshots::collect(ledger, &client, &cluster.name, config.page_size, run_id, listed_at, &mut report).await?;
    // The lists held every Event changed within the TTL before them: on record, so a gap
    // between runs (or none) is evidence too.
    let table = gap_table(&cluster.name);
    let at = crate::gaps::GapSource { source: SOURCE, workspace: &cluster.name, table: &table, stream: events::EVENTS_STREAM };
    let from = listed_at - chrono::Duration::minutes(i64::from(config.event_ttl_minutes));
    crate::gaps::append_collected(ledger, &[(at, (from.timestamp_micros(), listed_at.timestamp_micros()))], run_id, "kubernetes collect").await?;
    Ok(report)
}

/// `table_name` of a cluster's gaps and listed spans: what the coverage control names it by.
fn gap_table(cluster: &str) -> String {
    format!("kubernetes {cluster}")
}

/// The API server's version and its clock (the `Date` of its reply; this machine's if it
/// sends none): what the Event lists that follow are as of.
async fn server_version(client: &kube::Client, cluster: &str) -> Result<(String, chrono::DateTime<chrono::Utc>), KubernetesError> {
    let failed = |message: String| KubernetesError::Api { cluster: cluster.into(), what: "GET /version".into(), message };
    let request = http::Request::get("/version").body(Vec::new()).map_err(|e| failed(e.to_string()))?;
    let response = client.send(request.map(kube::client::Body::from)).await.map_err(|e| api_error(cluster, "GET /version", e))?;
    let date = response.headers().get(http::header::DATE).and_then(|d| d.to_str().ok()).and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok());
    let status = response.status();
    let body = http_body_util::BodyExt::collect(response.into_body()).await.map_err(|e| failed(e.to_string()))?.to_bytes();
    if !status.is_success() {
        let status = kube::core::Status::failure(&String::from_utf8_lossy(&body), status.canonical_reason().unwrap_or_default()).with_code(status.as_u16());
        return Err(api_error(cluster, "GET /version", kube::Error::Api(Box::new(status))));
    }
    let info: k8s_openapi::apimachinery::pkg::version::Info = serde_json::from_slice(&body).map_err(|e| failed(format!("not a version reply: {e}")))?;
    Ok((info.git_version, date.map_or_else(chrono::Utc::now, |d| d.to_utc())))
}

/// A client for the cluster: in-cluster, or the kubeconfig's context.
async fn client(config: &KubernetesConfig, cluster: &ClusterConfig) -> Result<kube::Client, KubernetesError> {
    let fail = |message: String| KubernetesError::Config { cluster: cluster.name.clone(), message };
    let client_config = if cluster.in_cluster {
        kube::Config::incluster().map_err(|e| fail(format!("in_cluster = true, but this is not a pod with a service account: {e}")))?
    } else {
        let options = KubeConfigOptions { context: cluster.context.clone(), ..Default::default() };
        let loaded = match &config.kubeconfig {
            Some(path) => {
                let kubeconfig = Kubeconfig::read_from(path).map_err(|e| fail(format!("cannot read the kubeconfig {}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kubeconfig, &options).await
            }
            None => kube::Config::from_kubeconfig(&options).await,
        };
        let context = cluster.context.as_deref().unwrap_or("(current context)");
        loaded.map_err(|e| fail(format!("kubeconfig context {context}: {e}")))?
    };
    kube::Client::try_from(client_config).map_err(|e| fail(format!("cannot build the Kubernetes client: {e}")))
}

/// A kube error as the collector reports it: credentials refused apart from the rest.
fn api_error(cluster: &str, what: &str, error: kube::Error) -> KubernetesError {
    match error {
        kube::Error::Api(status) if status.code == 401 || (status.code == 403 && what.contains("/version")) => {
            KubernetesError::Unauthorized { cluster: cluster.into(), code: status.code, reason: status.reason.clone() }
        }
        kube::Error::Api(status) => {
            KubernetesError::Api { cluster: cluster.into(), what: what.into(), message: format!("{} {}: {}", status.code, status.reason, status.message) }
        }
        other => KubernetesError::Api { cluster: cluster.into(), what: what.into(), message: other.to_string() },
    }
}

/// This cluster's part of a stream's cursor.
async fn cluster_cursor(ledger: &Ledger, stream: &str, cluster: &str) -> Result<Json, LedgerError> {
    Ok(cluster_part(&ledger.cursor(stream).await?, cluster))
}

/// This cluster's part of `cursor`.
fn cluster_part(cursor: &Option<Json>, cluster: &str) -> Json {
    cursor.as_ref().and_then(|c| c.pointer(&format!("/{SOURCE}/{cluster}")).cloned()).unwrap_or(Json::Null)
}

/// `cursor` with this cluster's part replaced, the other clusters' kept.
fn with_cluster_part(cursor: Option<Json>, cluster: &str, part: Json) -> Json {
    let mut cursor = cursor.filter(Json::is_object).unwrap_or_else(|| json!({}));
    let clusters = cursor.as_object_mut().expect("an object").entry(SOURCE).or_insert_with(|| json!({}));
    if !clusters.is_object() {
        *clusters = json!({});
    }
    clusters[cluster] = part;
    cursor
}
