//! keytrail on an Apache DataFusion Ballista cluster: the scheduler and executor processes
//! (`keytrail cluster scheduler|executor`), the client session state that hands keytrail's
//! SQL to a scheduler, and the object-store registry all three share, so a ledger URL
//! (`file://`, `az://`, `s3://`) resolves to the same objects in every process.
//!
//! It must never put object-store credentials into a query, a session setting or a log:
//! every process authenticates to the store from its own environment (workload identity
//! or `AZURE_STORAGE_*` / `AWS_*`), the way a single-machine `keytrail` does.

mod engine;
mod stores;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_config_producer;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;

pub use stores::LedgerStores;

/// Ballista's switch for its adaptive query planner.
const ADAPTIVE_PLANNER: &str = ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED;

/// DataFusion's choice between hash and sort-merge joins.
const PREFER_HASH_JOIN: &str = "datafusion.optimizer.prefer_hash_join";

/// The port a scheduler listens on when a `df://` URL names none (Ballista's default).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// Why a cluster process or session could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The scheduler URL is not `df://HOST[:PORT]`.
    #[error("scheduler URL {url:?}: {reason}; write it as df://HOST:PORT, e.g. df://ballista-scheduler:50050")]
    SchedulerUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Ballista refused the configuration or failed while running.
    #[error("ballista: {0}")]
    Ballista(String),
    /// DataFusion refused the session configuration.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

/// A scheduler's address, from `df://HOST[:PORT]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerAddress {
    /// Host name or IP address.
    pub host: String,
    /// gRPC port.
    pub port: u16,
}

impl SchedulerAddress {
    /// Parses `df://HOST[:PORT]` (also `HOST:PORT`, as the executor's flag takes it).
    pub fn parse(url: &str) -> Result<Self, ClusterError> {
        let invalid = |reason: &str| ClusterError::SchedulerUrl { url: url.to_string(), reason: reason.to_string() };
        let with_scheme = if url.contains("://") { url.to_string() } else { format!("df://{url}") };
        let parsed = url::Url::parse(&with_scheme).map_err(|e| invalid(&e.to_string()))?;
        if parsed.scheme() != "df" {
            return Err(invalid("the scheme must be df://"));
        }
        if !parsed.path().trim_matches('/').is_empty() || parsed.query().is_some() {
            return Err(invalid("a scheduler URL has no path or query"));
        }
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| invalid("no host"))?;
        Ok(Self { host: host.to_string(), port: parsed.port().unwrap_or(DEFAULT_SCHEDULER_PORT) })
    }

    fn grpc_url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }
}

impl std::fmt::Display for SchedulerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "df://{}:{}", self.host, self.port)
    }
}

/// The runtime every keytrail process uses on a cluster: [`LedgerStores`] for object
/// stores, `runtime` for the rest (memory pool, temporary folder).
fn with_ledger_stores(runtime: RuntimeEnvBuilder) -> Result<Arc<RuntimeEnv>, datafusion::error::DataFusionError> {
    runtime.with_object_store_registry(Arc::new(LedgerStores::default())).build_arc()
}

/// A client session state whose queries run on the scheduler at `scheduler`: tables and
/// views are registered on it as on a local one; planning starts here and execution
/// happens on the cluster's executors.
pub fn client_state(scheduler: &SchedulerAddress, config: SessionConfig, runtime: RuntimeEnvBuilder) -> Result<SessionState, ClusterError> {
    // Ballista 55's adaptive planner re-plans without end a stage whose anti-join input
    // shuffles no rows (the de-duplication of `akeyless_events` on a month with one
    // Akeyless source): keytrail uses the static planner. Ballista prefers sort-merge
    // joins, whose comparator in DataFusion 55 rejects the UTC timestamps the
    // rotation and sync views join on: keytrail joins by hash, as in-process.
    let config = config.upgrade_for_ballista().set_bool(ADAPTIVE_PLANNER, false).set_bool(PREFER_HASH_JOIN, true);
    let state = SessionStateBuilder::new().with_default_features().with_config(config).with_runtime_env(with_ledger_stores(runtime)?).build();
    Ok(state.upgrade_for_ballista(scheduler.grpc_url())?)
}

/// The session a scheduler plans a job in: Ballista's own state with keytrail's stores
/// (the scheduler reads Parquet footers to split work into tasks).
fn scheduler_session(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let state = ballista_core::utils::default_session_builder(config)?;
    Ok(SessionStateBuilder::new_from_existing(state).with_runtime_env(with_ledger_stores(RuntimeEnvBuilder::new())?).build())
}

/// Runs a scheduler on `bind` until the process is stopped.
pub async fn run_scheduler(bind: SocketAddr) -> Result<(), ClusterError> {
    let config = SchedulerConfig { bind_host: bind.ip().to_string(), bind_port: bind.port(), ..SchedulerConfig::default() }
        .with_override_config_producer(Arc::new(default_config_producer))
        .with_override_session_builder(Arc::new(scheduler_session));
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(|e| ClusterError::Ballista(e.to_string()))?;
    start_server(cluster, bind, Arc::new(config)).await.map_err(|e| ClusterError::Ballista(e.to_string()))
}

/// How an executor runs.
#[derive(Clone, Debug)]
pub struct ExecutorOptions {
    /// The scheduler to register with.
    pub scheduler: SchedulerAddress,
    /// Address the executor listens on (Arrow Flight, for shuffle reads).
    pub bind: SocketAddr,
    /// Port of the executor's gRPC service (task launches from the scheduler).
    pub grpc_port: u16,
    /// Host name other executors and the scheduler reach this one by (defaults to the
    /// bind address).
    pub external_host: Option<String>,
    /// Tasks run at once (0: one per core).
    pub concurrent_tasks: usize,
    /// Memory the executor's tasks may hold before they spill (None: Ballista's share
    /// of the machine's or container's memory).
    pub memory_bytes: Option<u64>,
    /// Folder for shuffle files and spills (None: a temporary folder).
    pub work_dir: Option<PathBuf>,
}

/// Runs an executor until the process is stopped or the scheduler tells it to stop.
pub async fn run_executor(options: ExecutorOptions) -> Result<(), ClusterError> {
    let work_dir = options.work_dir.as_ref().map(|d| d.display().to_string());
    let spill_dir = work_dir.clone();
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        port: options.bind.port(),
        grpc_port: options.grpc_port,
        external_host: options.external_host.clone(),
        scheduler_host: options.scheduler.host.clone(),
        scheduler_port: options.scheduler.port,
        scheduler_connect_timeout_seconds: 30,
        vcores: options.concurrent_tasks,
        memory_pool_size: options.memory_bytes,
        work_dir,
        print_thread_info: false,
        override_execution_engine: Some(Arc::new(engine::WithoutOperatorMetrics::default())),
        // Ballista's default registry lacks DataFusion's nested functions (`array_element`,
        // the `[1]` of the views): decode tasks with every function a client plans with.
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&SessionStateBuilder::new().with_default_features().build()))),
        override_config_producer: Some(Arc::new(default_config_producer)),
        override_runtime_producer: Some(Arc::new(move |_config: &SessionConfig| {
            let runtime = RuntimeEnvBuilder::new();
            let runtime = match &spill_dir {
                Some(dir) => runtime.with_temp_file_path(dir.clone()),
                None => runtime,
            };
            with_ledger_stores(runtime)
        })),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config)).await.map_err(|e| ClusterError::Ballista(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_urls_parse_and_bad_ones_say_what_is_wrong() {
        let a = SchedulerAddress::parse("df://ballista-scheduler:50055").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("ballista-scheduler", 50055));
        assert_eq!(SchedulerAddress::parse("df://10.0.0.4").unwrap().port, DEFAULT_SCHEDULER_PORT);
        assert_eq!(SchedulerAddress::parse("127.0.0.1:7000").unwrap(), SchedulerAddress { host: "127.0.0.1".into(), port: 7000 });
        assert_eq!(a.to_string(), "df://ballista-scheduler:50055");
        for bad in ["http://host:50050", "df://host:50050/path", "df://", "df://host:notaport"] {
            let e = SchedulerAddress::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("df://HOST:PORT"), "{bad}: {e}");
        }
    }
}
