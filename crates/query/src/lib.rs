//! keytrail's query layer: one DataFusion `SessionContext` over a ledger, with a table per
//! stream (the `__rejected` streams too) made of exactly the segment files that committed
//! manifests name, the views of `queries/views/`, and ad-hoc SQL that can only read.
//!
//! The same session runs in-process or, with [`Engine::Ballista`], on a Ballista cluster
//! (`keytrail-cluster`): tables and views are registered the same way, and only plans
//! that serialize (listing tables, views, empty tables) are used, so every query can run
//! on either.
//!
//! It must never read a file no manifest names (an uncommitted or planted segment is not
//! part of the ledger), and never let SQL write, define or configure anything.

mod cached_view;
pub mod controls;
pub mod environments;
mod headroom_pool;
pub mod outcome;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::catalog::view::ViewTable;
use datafusion::datasource::TableProvider;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use keytrail_cluster::SchedulerAddress;
use keytrail_ledger::{Ledger, StreamSchema};

/// The views, in dependency order: `queries/views/<name>.sql`, compiled in so the binary
/// works on its own. (`bench/duckdb_controls.py` reads this list and `CACHED_VIEWS` from
/// here, by their shape.)
pub const VIEWS: &[(&str, &str)] = &[
    ("akeyless_copies", include_str!("../../../queries/views/akeyless_copies.sql")),
    ("akeyless_unforwarded", include_str!("../../../queries/views/akeyless_unforwarded.sql")),
    ("akeyless_events", include_str!("../../../queries/views/akeyless_events.sql")),
    ("eso_observations", include_str!("../../../queries/views/eso_observations.sql")),
    ("eso_syncs", include_str!("../../../queries/views/eso_syncs.sql")),
    ("secret_access", include_str!("../../../queries/views/secret_access.sql")),
    ("secret_lineage", include_str!("../../../queries/views/secret_lineage.sql")),
    ("snapshots", include_str!("../../../queries/views/snapshots.sql")),
    ("identities", include_str!("../../../queries/views/identities.sql")),
    ("auth_failures", include_str!("../../../queries/views/auth_failures.sql")),
    ("privileged_ops", include_str!("../../../queries/views/privileged_ops.sql")),
    ("rotations", include_str!("../../../queries/views/rotations.sql")),
    ("rotation_syncs", include_str!("../../../queries/views/rotation_syncs.sql")),
    ("coverage_gaps", include_str!("../../../queries/views/coverage_gaps.sql")),
    ("coverage", include_str!("../../../queries/views/coverage.sql")),
    ("activity", include_str!("../../../queries/views/activity.sql")),
];

/// Views an in-process session computes once per time range, in slices of time, and keeps
/// ([`cached_view`]).
const CACHED_VIEWS: &[CachedViewSpec] = &[CachedViewSpec {
    view: "akeyless_unforwarded",
    time_column: "timestamp",
    rows: "SELECT timestamp FROM akeyless_audit WHERE source <> 'akeyless_logs'",
    looked_up: "SELECT timestamp FROM akeyless_audit WHERE source = 'akeyless_logs'",
    stream: "akeyless_audit",
}];

/// A view a session keeps (elsewhere, a plain view).
struct CachedViewSpec {
    view: &'static str,
    /// The view's time column, which the slices divide.
    time_column: &'static str,
    /// That column over the rows the view returns rows from.
    rows: &'static str,
    /// That column over the rows the view looks up (a slice's hash table holds these or
    /// the rows returned, whichever take less).
    looked_up: &'static str,
    /// The stream whose segments a slice reads only where their event times meet it (the
    /// time column is that stream's `event_time` wherever it is set).
    stream: &'static str,
}

/// Memory a session's queries may hold, by default, before sorts and aggregations spill
/// to the temporary folder. A large report takes as long with it as with four times as
/// much (BENCHMARKS.md gives the figures).
pub const DEFAULT_QUERY_MEMORY_BYTES: usize = 512 << 20;

/// Memory each sort holds back for merging its sorted runs.
const SORT_MERGE_RESERVATION_BYTES: usize = 64 << 20;

/// The URL under which the ledger's store is registered with DataFusion.
const LEDGER_URL: &str = "keytrail://ledger/";

/// Where a session's queries run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// In this process.
    #[default]
    Local,
    /// On the Ballista cluster whose scheduler is at this address; its executors read the
    /// ledger's files themselves, so the ledger must be at a URL they resolve too.
    Ballista(SchedulerAddress),
}

/// How a session is opened.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Limit every stream table (and so every view) to rows whose `event_time` is in
    /// `[start, end)` (microseconds).
    pub period: Option<(i64, i64)>,
    /// Memory a local session's queries may hold before they spill (a query that cannot
    /// spill fails with "Resources exhausted"). On a cluster, each executor's own limit
    /// applies instead.
    pub memory_bytes: usize,
    /// Where queries run.
    pub engine: Engine,
    /// Whether the session's queries read all of the ledger besides ranges of it (a pack's
    /// or an evaluation's controls look back before their period): an in-process session
    /// then computes its kept views once, over all of it, instead of once per time range.
    pub reads_history: bool,
    /// The configuration's environments (the `environment_rules` view).
    pub environments: Vec<environments::Environment>,
    /// Streams already known to be damaged (from a `verify` run), with their damaged
    /// objects. The session adds what it finds itself: committed segments missing or of
    /// another size than committed.
    pub damaged: Damage,
}

/// Damaged streams: per stream, each damaged object's path and why.
pub type Damage = std::collections::BTreeMap<String, Vec<(String, String)>>;

/// The damage a verification found: per stream, its INVALID objects (a stream whose
/// verification failed outright is damaged as a whole).
pub fn damage_of(report: &keytrail_ledger::VerifyReport) -> Damage {
    let mut damage = Damage::new();
    for stream in &report.streams {
        for finding in stream.findings.iter().filter(|f| !f.is_valid()) {
            damage.entry(stream.stream.clone()).or_default().push((finding.path.clone(), finding.problems.join("; ")));
        }
    }
    damage
}

impl SessionOptions {
    /// These options with `mb` MiB of query memory, if given.
    pub fn with_memory_mb(self, mb: Option<usize>) -> Self {
        Self { memory_bytes: mb.map_or(self.memory_bytes, |mb| mb << 20), ..self }
    }
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            period: None,
            memory_bytes: DEFAULT_QUERY_MEMORY_BYTES,
            engine: Engine::Local,
            reads_history: false,
            environments: Vec::new(),
            damaged: Damage::new(),
        }
    }
}

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Reading the ledger's manifests failed.
    #[error(transparent)]
    Ledger(#[from] keytrail_ledger::LedgerError),
    /// A view of `queries/views/` does not plan (a bug in keytrail, not in the data).
    #[error("view {name} in queries/views does not plan: {reason}")]
    View {
        /// The view.
        name: String,
        /// DataFusion's error.
        reason: String,
    },
    /// A control's catalog entry or an exceptions file is malformed.
    #[error("control catalog: {0}")]
    Catalog(String),
    /// The statement would change something.
    #[error("keytrail runs read-only SQL: {0}. Only queries (SELECT, WITH, EXPLAIN, SHOW) are allowed")]
    NotReadOnly(String),
    /// The session could not be set up on a Ballista cluster.
    #[error(transparent)]
    Cluster(#[from] keytrail_cluster::ClusterError),
    /// The ledger is at a location a cluster's executors cannot resolve.
    #[error("ledger {0} cannot be queried on a Ballista cluster: name it file://, az://CONTAINER/PATH or s3://BUCKET/PATH so the executors can read it")]
    NotShared(String),
    /// Evidence rows could not be handed on (writing evidence files failed).
    #[error("evidence of control {0}")]
    Evidence(String),
    /// The query reads streams whose committed files are missing, altered or unreadable:
    /// its result would be wrong, so it does not run.
    #[error("the evidence this reads is damaged, so no result would be true: {}; run keytrail verify, and restore the files from a copy",
            .0.iter().map(|(stream, objects)| format!("{stream}: {}", objects.iter().map(|(path, why)| format!("{path} ({why})")).collect::<Vec<_>>().join(", "))).collect::<Vec<_>>().join("; "))]
    DamagedEvidence(Damage),
    /// Building a result batch failed.
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// DataFusion refused or failed the query.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

/// A session over one ledger.
pub struct LedgerSession {
    ctx: SessionContext,
    tables: Vec<String>,
    damaged: Damage,
}

/// Registers `table` as `name`, behind an `event_time` filter when a period is given (the
/// filter is pushed down to Parquet statistics, so other months' row groups are skipped).
/// The filter is a view (not a DataFrame), so the plan serializes for a cluster.
fn register(ctx: &SessionContext, name: &str, table: Arc<dyn TableProvider>, period: Option<(i64, i64)>) -> Result<(), QueryError> {
    let Some((start, end)) = period else {
        ctx.register_table(name, table)?;
        return Ok(());
    };
    use datafusion::prelude::{col, lit};
    use datafusion::scalar::ScalarValue;
    let at = |t: i64| lit(ScalarValue::TimestampMicrosecond(Some(t), Some("UTC".into())));
    let filtered = ctx.read_table(table)?.filter(col("event_time").gt_eq(at(start)).and(col("event_time").lt(at(end))))?;
    ctx.register_table(name, Arc::new(ViewTable::new(filtered.into_unoptimized_plan(), None)))?;
    Ok(())
}

impl LedgerSession {
    /// Registers every stream of `ledger` as a table named after it, an empty table for
    /// each of `known` the ledger does not have yet (so views over every source work on a
    /// ledger that has only some), and the views.
    pub async fn open(ledger: &Ledger, known: &[StreamSchema]) -> Result<Self, QueryError> {
        Self::open_with(ledger, known, &SessionOptions::default()).await
    }

    /// Like [`open`](Self::open), with the period, memory limit and engine of `options`.
    pub async fn open_with(ledger: &Ledger, known: &[StreamSchema], options: &SessionOptions) -> Result<Self, QueryError> {
        let mut config = SessionConfig::new().with_information_schema(true).with_default_catalog_and_schema("keytrail", "ledger");
        // With DataFusion's 10 MB, a large report failed in a sort's merge of its spills
        // (a little more asked, the pool full).
        config.options_mut().execution.sort_spill_reservation_bytes = SORT_MERGE_RESERVATION_BYTES;
        // Sorts and aggregations spill to the temporary folder beyond this, so controls over
        // any number of rows run in bounded memory.
        let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(headroom_pool::HeadroomPool::new(options.memory_bytes)));
        let (ctx, files_at) = match &options.engine {
            Engine::Local => {
                // In-process, text is read as plain strings, not string views: a view array
                // keeps every decoded page it points into alive and is accounted at the size
                // of all of them (a sort's merge then asks for tens of MB for one batch).
                // On Ballista the client held no less with plain strings (BENCHMARKS.md).
                config.options_mut().execution.parquet.schema_force_view_types = false;
                let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc()?);
                let url = url::Url::parse(LEDGER_URL).expect("a valid URL");
                let (store, folder) = ledger.unprefixed_store();
                ctx.register_object_store(&url, store);
                (ctx, format!("{LEDGER_URL}{folder}"))
            }
            Engine::Ballista(scheduler) => {
                // Executors open the files by URL, with their own credentials.
                let root = ledger.shared_url().ok_or_else(|| QueryError::NotShared(ledger.location().to_string()))?;
                (SessionContext::new_with_state(keytrail_cluster::client_state(scheduler, config, runtime)?), root.to_string())
            }
        };
        let period = options.period;
        let mut tables = Vec::new();
        let mut damaged = options.damaged.clone();
        let mut segments_by_time = std::collections::HashMap::new();
        for stream in ledger.streams().await? {
            let manifests = ledger.segment_lists(&stream).await?;
            let missing = ledger.damaged_segments(&stream, &manifests).await?;
            if !missing.is_empty() {
                let known = damaged.entry(stream.clone()).or_default();
                known.extend(missing.into_iter().filter(|(path, _)| !known.iter().any(|(p, _)| p == path)).collect::<Vec<_>>());
            }
            let Some(last) = manifests.last() else { continue };
            let schema = StreamSchema::from_parts(&stream, last.raw_kind, last.columns.clone())?.arrow_schema();
            let files = manifests
                .iter()
                .flat_map(|m| &m.segments)
                .map(|s| {
                    Ok((ListingTableUrl::parse(format!("{files_at}{}", s.path))?, s.event_time_min.timestamp_micros(), s.event_time_max.timestamp_micros()))
                })
                .collect::<Result<_, datafusion::error::DataFusionError>>()?;
            let segments = cached_view::SegmentsByTime { table: stream.clone(), schema, files };
            register(&ctx, &stream, segments.meeting(i64::MIN, i64::MAX)?, period)?;
            segments_by_time.insert(stream.clone(), segments);
            tables.push(stream);
        }
        let missing: Vec<&StreamSchema> = known.iter().filter(|s| !tables.iter().any(|t| t == s.name())).collect();
        for schema in missing {
            register(&ctx, schema.name(), Arc::new(EmptyTable::new(schema.arrow_schema())), period)?;
            tables.push(schema.name().to_string());
        }
        tables.sort();
        ctx.sql(&format!("CREATE VIEW environment_rules AS {}", environments::rules_sql(&options.environments)))
            .await
            .map_err(|e| QueryError::View { name: "environment_rules".into(), reason: e.to_string() })?;
        let cache = options.engine == Engine::Local;
        for (name, sql) in VIEWS {
            let cached = CACHED_VIEWS.iter().find(|spec| spec.view == *name).filter(|_| cache);
            let planned = if let Some(spec) = cached {
                let segments = segments_by_time.remove(spec.stream);
                async {
                    let view = ViewTable::new(ctx.sql(sql).await?.into_unoptimized_plan(), Some((*sql).to_string()));
                    let rows = ctx.sql(spec.rows).await?.into_unoptimized_plan();
                    let looked_up = ctx.sql(spec.looked_up).await?.into_unoptimized_plan();
                    let push_time_filters = period.is_none() && !options.reads_history;
                    let mut cached = cached_view::CachedView::new(name, view, spec.time_column, rows, looked_up, push_time_filters);
                    // With a period the stream's table is a filtered view, which a slice's
                    // table of segments would replace.
                    if let Some(segments) = segments.filter(|_| period.is_none()) {
                        cached = cached.with_segments(segments);
                    }
                    ctx.register_table(*name, Arc::new(cached)).map(drop)
                }
                .await
            } else {
                ctx.sql(&format!("CREATE VIEW {name} AS {sql}")).await.map(drop)
            };
            planned.map_err(|e| QueryError::View { name: (*name).to_string(), reason: e.to_string() })?;
        }
        Ok(Self { ctx, tables, damaged })
    }

    /// Streams whose committed files are damaged, with why (empty for a sound ledger).
    pub fn damaged(&self) -> &Damage {
        &self.damaged
    }

    /// The streams a plan reads, through every view and kept view it names.
    fn streams_read(&self, plan: &datafusion::logical_expr::LogicalPlan, into: &mut std::collections::BTreeSet<String>) {
        use datafusion::common::tree_node::TreeNodeRecursion;
        use datafusion::logical_expr::LogicalPlan;
        let _ = plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                let name = scan.table_name.table();
                if self.tables.iter().any(|t| t == name) {
                    into.insert(name.to_string());
                } else if let Some(spec) = CACHED_VIEWS.iter().find(|spec| spec.view == name) {
                    into.insert(spec.stream.to_string());
                } else if let Ok(provider) = datafusion::datasource::source_as_provider(&scan.source)
                    && let Some(view) = provider.downcast_ref::<ViewTable>()
                {
                    self.streams_read(view.logical_plan(), into);
                }
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }

    /// Plans one read-only statement (no DDL, DML, `COPY` or `SET`), refused when it reads
    /// a damaged stream: every query keytrail runs, its own and an analyst's, is planned
    /// here.
    pub async fn plan(&self, sql: &str) -> Result<datafusion::dataframe::DataFrame, QueryError> {
        let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        let df = self.ctx.sql_with_options(sql, read_only).await.map_err(|e| match e {
            datafusion::error::DataFusionError::Plan(m)
                if ["DDL not supported", "DML not supported", "Statement not supported"].iter().any(|p| m.starts_with(p)) =>
            {
                QueryError::NotReadOnly(m)
            }
            other => QueryError::DataFusion(other),
        })?;
        if !self.damaged.is_empty() {
            let mut read = std::collections::BTreeSet::new();
            self.streams_read(df.logical_plan(), &mut read);
            let hit: Damage = self.damaged.iter().filter(|(stream, _)| read.contains(*stream)).map(|(s, d)| (s.clone(), d.clone())).collect();
            if !hit.is_empty() {
                return Err(QueryError::DamagedEvidence(hit));
            }
        }
        Ok(df)
    }

    /// The tables (streams), sorted.
    ///
    /// (Registered under their stream names, filtered to the period if one was given.)
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// The DataFusion context (for views and controls built on top).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Runs keytrail's own (trusted, read-only) SQL: controls and evidence checks.
    pub(crate) async fn query_internal(&self, sql: &str) -> Result<Vec<RecordBatch>, QueryError> {
        self.query(sql).await
    }

    /// Runs one read-only statement ([`plan`](Self::plan)) and collects its result.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, QueryError> {
        Ok(self.plan(sql).await?.collect().await?)
    }
}
