//! A loopback emulator of the cloud APIs keytrail collects from: the Microsoft Entra token
//! endpoint (client secret, client assertion / workload identity, and the App Service
//! managed-identity endpoint), the Azure Monitor Log Analytics query API, the Akeyless
//! API (auth and the list calls under `/akeyless`) and each sample cluster's Kubernetes API
//! (discovery, events, External Secrets Operator resources, RBAC under `/k8s/<cluster>`), with their
//! real request and reply shapes, limits and errors, and faults a test can switch on.
//!
//! It owns nothing of keytrail's own logic: collectors are tested against it exactly as
//! they run against Azure. It must never bind anything but 127.0.0.1, and it serves only
//! the data it was given (`sample-data/` or generated rows).
//!
//! ```no_run
//! # async fn demo() -> Result<(), keytrail_emulator::EmulatorError> {
//! use keytrail_emulator::{Emulator, EmulatorConfig, dataset::Dataset};
//! let emulator = Emulator::start(EmulatorConfig::new(Dataset::load("sample-data/log-analytics".as_ref())?)).await?;
//! println!("{} (trust {})", emulator.url(), emulator.ca_pem().len());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod akeyless;
pub mod dataset;
mod entra;
pub mod faults;
mod kql;
pub mod kube_events;
mod kubernetes;
mod log_analytics;
pub mod sample_kubernetes;
pub mod sample_month;
pub mod synthetic_akeyless;
mod tls;
pub mod vendor_month;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::routing::{get, post};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde::Serialize;

use crate::dataset::Dataset;
use crate::faults::Faults;

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listening socket could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// Requested port.
        port: u16,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS identity could not be made.
    #[error("cannot create the emulator's TLS certificate: {0}")]
    Tls(String),
    /// The sample data could not be read.
    #[error("sample data: {0}")]
    Data(String),
}

/// The identity the emulated tenant knows. The defaults are the demo's, published in the
/// docs: they protect nothing but loopback test data.
#[derive(Clone, Debug)]
pub struct Identity {
    /// Directory (tenant) ID.
    pub tenant_id: String,
    /// Application (client) ID.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// The Kubernetes service-account token accepted as a client assertion.
    pub federated_token: String,
    /// The `X-IDENTITY-HEADER` value of the managed-identity endpoint.
    pub identity_header: String,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
            client_id: "6a8b1b0e-5d2c-4e59-9a8e-0c1e6f1d2a3b".into(),
            client_secret: "emulator-client-secret".into(),
            federated_token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a2V5dHJhaWw6a2V5dHJhaWwifQ.c2ln".into(),
            identity_header: "emulator-identity-header".into(),
        }
    }
}

/// The first words of the `keytrail.toml` [`Emulator::write_client_files`] writes.
pub const CLIENT_CONFIG_MARK: &str = "# Collect from the keytrail emulator at";

/// How to run the emulator.
pub struct EmulatorConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The rows to serve.
    pub dataset: Dataset,
    /// The Log Analytics workspace ID that exists.
    pub workspace_id: String,
    /// Rows per query before the reply is cut with `PartialError` (the service's 500,000).
    pub row_cap: usize,
    /// Lifetime of issued access tokens, in seconds.
    pub token_lifetime_secs: u64,
    /// The tenant's application identity.
    pub identity: Identity,
    /// The Akeyless account: its API identity and configuration.
    pub akeyless: AkeylessAccount,
    /// The Kubernetes clusters and the token their API servers accept.
    pub kubernetes: KubernetesApi,
}

/// What the emulated Kubernetes API servers hold. The default is the sample month's two
/// clusters (`sample-data/kubernetes/`), with the demo's published bearer token.
#[derive(Clone, Debug)]
pub struct KubernetesApi {
    /// The bearer token every cluster accepts.
    pub token: String,
    /// Objects per cluster name and resource. Events are their final state; what the API
    /// lists at a time follows from it ([`kube_events::state_at`]).
    pub clusters: std::collections::BTreeMap<String, sample_kubernetes::ClusterObjects>,
    /// How long an Event is listed after its last change: AKS's one hour by default. `None`
    /// keeps every Event forever, in its final state, which no API server does: only for
    /// tests of the collector's paging that say so.
    pub event_ttl: Option<chrono::Duration>,
    /// The API servers' clock; `None` is the machine's. [`Emulator::set_kubernetes_clock`]
    /// moves it while the emulator runs.
    pub clock: Option<chrono::DateTime<chrono::Utc>>,
}

impl KubernetesApi {
    /// Clusters from a folder of `<cluster>/<resource>.json` files (JSON arrays of API
    /// objects, as in `sample-data/kubernetes/`), with the default token.
    pub fn load(dir: &std::path::Path) -> Result<Self, EmulatorError> {
        let data = |path: &std::path::Path, e: &dyn std::fmt::Display| EmulatorError::Data(format!("{}: {e}", path.display()));
        let mut clusters = std::collections::BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(|e| data(dir, &e))? {
            let cluster = entry.map_err(|e| data(dir, &e))?.path();
            if !cluster.is_dir() {
                continue;
            }
            let mut objects = sample_kubernetes::ClusterObjects::new();
            for file in std::fs::read_dir(&cluster).map_err(|e| data(&cluster, &e))? {
                let path = file.map_err(|e| data(&cluster, &e))?.path();
                let Some(resource) = path.file_stem().and_then(|s| s.to_str()).filter(|_| path.extension().is_some_and(|x| x == "json")) else {
                    continue;
                };
                let reader = std::io::BufReader::new(std::fs::File::open(&path).map_err(|e| data(&path, &e))?);
                let list: Vec<serde_json::Value> = serde_json::from_reader(reader).map_err(|e| data(&path, &e))?;
                objects.insert(resource.to_string(), list);
            }
            let name = cluster.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            clusters.insert(name, objects);
        }
        if clusters.is_empty() {
            return Err(EmulatorError::Data(format!("{}: no cluster folders (<cluster>/<resource>.json)", dir.display())));
        }
        Ok(Self { clusters, ..Self::default_token() })
    }

    fn default_token() -> Self {
        Self { token: "emulator-kubernetes-token".into(), clusters: Default::default(), event_ttl: Some(kube_events::EVENT_TTL), clock: None }
    }
}

impl Default for KubernetesApi {
    fn default() -> Self {
        Self { clusters: sample_kubernetes::clusters(&sample_month::generate(sample_month::SEED)), ..Self::default_token() }
    }
}

/// What the emulated Akeyless API knows. The default is the sample account
/// (`sample-data/akeyless/api/`), with the demo's published access key.
#[derive(Clone, Debug)]
pub struct AkeylessAccount {
    /// Access ID of the access-key auth method.
    pub access_id: String,
    /// Its access key.
    pub access_key: String,
    /// Access ID of the Kubernetes auth method (`access-type: k8s`): in Akeyless each auth
    /// method has its own access ID and type.
    pub k8s_access_id: String,
    /// The Gateway's Kubernetes auth config name accepted with `access-type: k8s`.
    pub k8s_auth_config_name: String,
    /// Access ID of the Azure AD auth method (`access-type: azure_ad`).
    pub azure_ad_access_id: String,
    /// Objects per page of the list calls.
    pub page_size: usize,
    /// `/list-items` objects.
    pub items: Vec<serde_json::Value>,
    /// `/list-roles` objects.
    pub roles: Vec<serde_json::Value>,
    /// `/list-auth-methods` objects.
    pub auth_methods: Vec<serde_json::Value>,
}

impl Default for AkeylessAccount {
    fn default() -> Self {
        let (items, roles, auth_methods) = sample_month::akeyless_config();
        Self {
            access_id: "p-keytrail01".into(),
            access_key: "emulator-akeyless-access-key".into(),
            k8s_access_id: "p-keytrailk8s01".into(),
            k8s_auth_config_name: "aks-prod".into(),
            azure_ad_access_id: "p-keytrailaad01".into(),
            page_size: 50,
            items,
            roles,
            auth_methods,
        }
    }
}

impl EmulatorConfig {
    /// The service's defaults over `dataset`.
    pub fn new(dataset: Dataset) -> Self {
        Self {
            port: 0,
            dataset,
            workspace_id: DEMO_WORKSPACE_ID.into(),
            row_cap: 500_000,
            token_lifetime_secs: 3599,
            identity: Identity::default(),
            akeyless: AkeylessAccount::default(),
            kubernetes: KubernetesApi::default(),
        }
    }

    /// The sample month done right, in every source: no control finds anything in it
    /// ([`sample_month::Planted::No`]).
    pub fn clean_month() -> Self {
        use sample_month::{Planted, SEED};
        let month = sample_month::generate_with(SEED, Planted::No);
        let mut config = Self::new(Dataset::from_month(month.clone()));
        (config.akeyless.items, config.akeyless.roles, config.akeyless.auth_methods) = sample_month::akeyless_config_with(Planted::No);
        config.kubernetes.clusters = sample_kubernetes::clusters_with(&month, Planted::No);
        config
    }

    /// The second sample month, shaped from the vendors' published models alone, with its
    /// problems and look-alikes ([`vendor_month`]).
    pub fn vendor_month() -> Self {
        let month = vendor_month::generate();
        let mut config = Self::new(Dataset::from_month(month.clone()));
        (config.akeyless.items, config.akeyless.roles, config.akeyless.auth_methods) = vendor_month::akeyless_config();
        config.kubernetes.clusters = vendor_month::clusters(&month);
        config
    }
}

/// The workspace ID the emulator serves unless told otherwise.
pub const DEMO_WORKSPACE_ID: &str = "5c4b8a1e-3f2d-4c6b-9e7a-1d2c3b4a5f60";

/// What the emulator has served, for tests to check against.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    /// Access tokens issued.
    pub tokens_issued: AtomicU64,
    /// Token requests refused.
    pub token_failures: AtomicU64,
    /// Query requests received (including faulted and refused ones).
    pub queries: AtomicU64,
    /// Queries refused for a missing, unknown or expired token.
    pub unauthorized: AtomicU64,
    /// Rows sent in complete (not faulted, not capped) replies.
    pub rows_served: AtomicU64,
    /// Faults served.
    pub faults_served: AtomicU64,
    /// Requests for Kubernetes Secrets (always refused).
    pub secret_requests: AtomicU64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl State {
    /// What time it is for the Kubernetes API servers.
    pub(crate) fn kubernetes_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.kubernetes_clock.lock().expect("clock").unwrap_or_else(chrono::Utc::now)
    }
}

pub(crate) struct State {
    config: EmulatorConfig,
    /// Each Kubernetes cluster's revision (moves on when a continue token expires).
    revisions: std::collections::HashMap<String, std::sync::atomic::AtomicU64>,
    /// Kubernetes objects changed since the emulator started: (cluster, resource, index in
    /// its list) → the revision of the change.
    changed: std::sync::Mutex<std::collections::HashMap<(String, String, usize), u64>>,
    /// The Kubernetes API servers' clock, when a test set it.
    kubernetes_clock: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    faults: Faults,
    stats: Stats,
    tokens: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    akeyless_tokens: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// A running emulator; dropped, it stops.
pub struct Emulator {
    addr: SocketAddr,
    ca_pem: String,
    state: Arc<State>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Emulator {
    /// Binds 127.0.0.1, makes a fresh TLS identity and starts serving on the current
    /// Tokio runtime.
    pub async fn start(mut config: EmulatorConfig) -> Result<Self, EmulatorError> {
        let port = config.port;
        // The Kubernetes API lists objects in etcd's key order (`namespace/name` as bytes);
        // sorting once keeps paging linear.
        for list in config.kubernetes.clusters.values_mut().flat_map(|objects| objects.values_mut()) {
            let key = |o: &serde_json::Value| {
                let field = |k: &str| o.pointer(&format!("/metadata/{k}")).and_then(serde_json::Value::as_str).unwrap_or_default();
                format!("{}/{}", field("namespace"), field("name"))
            };
            list.sort_by_cached_key(key);
        }
        // A cluster's revision is at least every object's resourceVersion, as etcd's is.
        let revisions = config
            .kubernetes
            .clusters
            .iter()
            .map(|(name, objects)| {
                let newest = objects.values().flatten().filter_map(|o| o.pointer("/metadata/resourceVersion")?.as_str()?.parse::<u64>().ok()).max();
                (name.clone(), std::sync::atomic::AtomicU64::new(newest.unwrap_or(0).max(kubernetes::FIRST_REVISION)))
            })
            .collect();
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await.map_err(|source| EmulatorError::Bind { port, source })?;
        let addr = listener.local_addr().map_err(|source| EmulatorError::Bind { port, source })?;
        let identity = tls::generate()?;
        let kubernetes_clock = std::sync::Mutex::new(config.kubernetes.clock);
        let state = Arc::new(State {
            config,
            revisions,
            changed: Default::default(),
            kubernetes_clock,
            faults: Faults::default(),
            stats: Stats::default(),
            tokens: Default::default(),
            akeyless_tokens: Default::default(),
        });
        let app = router(state.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(identity.server_config);
        let (shutdown, mut stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(conn) => conn,
                        Err(e) => { tracing::warn!("emulator accept failed: {e}"); continue }
                    },
                    _ = &mut stopped => return,
                };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        Ok(Self { addr, ca_pem: identity.ca_pem, state, _shutdown: shutdown })
    }

    /// `https://127.0.0.1:<port>`: the authority host and the query endpoint.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// PEM of the CA that signed the emulator's certificate (keytrail's `ca_file`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Sets the Kubernetes API servers' clock (`None`: the machine's), as a test moves
    /// through a month: events are listed as they stood then.
    pub fn set_kubernetes_clock(&self, now: Option<chrono::DateTime<chrono::Utc>>) {
        *self.state.kubernetes_clock.lock().expect("clock") = now;
    }

    /// The faults to inject.
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Counters of what was served.
    pub fn stats(&self) -> &Stats {
        &self.state.stats
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.state.config
    }

    /// Writes what a keytrail client needs into `dir` (replacing what an earlier start
    /// wrote there): `ca.pem`, the tenant's client secret
    /// (`client-secret`), the Akeyless access key, a `kubeconfig` for the clusters, and a
    /// `keytrail.toml` collecting `tables` from this emulator with client-secret
    /// authentication, the Akeyless API and every cluster; `extra` lines are added to its
    /// `[log_analytics]`.
    pub fn write_client_files(&self, dir: &std::path::Path, tables: &[&str], extra: &str) -> std::io::Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("ca.pem"), &self.ca_pem)?;
        let identity = &self.state.config.identity;
        std::fs::write(dir.join("client-secret"), &identity.client_secret)?;
        std::fs::write(dir.join("akeyless-access-key"), &self.state.config.akeyless.access_key)?;
        self.write_kubeconfig(dir)?;
        let clusters: String =
            self.state.config.kubernetes.clusters.keys().map(|c| format!("\n[[kubernetes.clusters]]\nname = \"{c}\"\ncontext = \"{c}\"\n")).collect();
        let tables = tables.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ");
        let toml = format!(
            "{CLIENT_CONFIG_MARK} {url}.\nca_file = \"ca.pem\"\n\n[akeyless_api]\nendpoint = \"{url}/akeyless\"\naccess_id = \"{access_id}\"\naccess_key_file = \"akeyless-access-key\"\n\n[kubernetes]\nkubeconfig = \"kubeconfig\"\n{clusters}\n[log_analytics]\nendpoint = \"{url}\"\nauthority_host = \"{url}\"\ntenant_id = \"{tenant}\"\nclient_id = \"{client}\"\nworkspace_id = \"{workspace}\"\nauth = \"client_secret\"\nclient_secret_file = \"client-secret\"\ntables = [{tables}]\n{extra}",
            url = self.url(),
            tenant = identity.tenant_id,
            client = identity.client_id,
            workspace = self.state.config.workspace_id,
            access_id = self.state.config.akeyless.access_id,
        );
        let path = dir.join("keytrail.toml");
        std::fs::write(&path, toml)?;
        Ok(path)
    }

    /// Writes `kubeconfig` into `dir`: one context per emulated cluster (named after it),
    /// the emulator's CA, and the accepted bearer token. Returns its path.
    pub fn write_kubeconfig(&self, dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
        use base64::Engine;
        std::fs::create_dir_all(dir)?;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        let kubernetes = &self.state.config.kubernetes;
        let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
        for name in kubernetes.clusters.keys() {
            text += &format!("- name: {name}\n  cluster:\n    server: {url}/k8s/{name}\n    certificate-authority-data: {ca}\n", url = self.url());
        }
        text += "contexts:\n";
        for name in kubernetes.clusters.keys() {
            text += &format!("- name: {name}\n  context:\n    cluster: {name}\n    user: keytrail\n");
        }
        let first = kubernetes.clusters.keys().next().map(String::as_str).unwrap_or_default();
        text += &format!("current-context: {first}\nusers:\n- name: keytrail\n  user:\n    token: {}\n", kubernetes.token);
        let path = dir.join("kubeconfig");
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

/// Every table the sample month has, in the order keytrail collects them.
pub const SAMPLE_TABLES: &[&str] = &["KubeEvents", "KubePodInventory", "ContainerLogV2", "AKSAudit", "AKSAuditAdmin", "AzureDiagnostics", "AkeylessAudit_CL"];

fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .route("/msi/token", get(entra::managed_identity_token))
        .route("/v1/workspaces/{workspace}/query", post(log_analytics::query))
        .route("/akeyless/auth", post(akeyless::auth))
        .route("/akeyless/{call}", post(akeyless::list))
        .route("/k8s/{cluster}/{*path}", get(kubernetes::serve))
        .route("/_emulator/faults", post(control_faults))
        .route("/_emulator/stats", get(control_stats))
        .with_state(state)
}

/// Lets another process (a test driving the `keytrail emulator` binary) queue faults.
async fn control_faults(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    axum::Json(faults): axum::Json<Vec<faults::Fault>>,
) -> axum::http::StatusCode {
    state.faults.extend(faults);
    axum::http::StatusCode::NO_CONTENT
}

async fn control_stats(axum::extract::State(state): axum::extract::State<Arc<State>>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::to_value(&state.stats).unwrap_or_default())
}

/// ISO 8601 UTC text of a microsecond timestamp, as the query API writes `datetime`s.
pub fn format_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}
