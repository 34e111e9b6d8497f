//! keytrail's query layer: one DataFusion `SessionContext` over a ledger, with a table per
//! stream (the `__rejected` streams too) made of exactly the segment files that committed
//! manifests name, the views of `queries/views/`, and ad-hoc SQL that can only read.
//!
//! It must never read a file no manifest names (an uncommitted or planted segment is not
//! part of the ledger), and never let SQL write, define or configure anything.

pub mod controls;

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::execution::context::SQLOptions;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use keytrail_ledger::{Ledger, StreamSchema};

/// The views, in dependency order: `queries/views/<name>.sql`, compiled in so the binary
/// works on its own.
pub const VIEWS: &[(&str, &str)] = &[
    ("akeyless_events", include_str!("../../../queries/views/akeyless_events.sql")),
    ("eso_syncs", include_str!("../../../queries/views/eso_syncs.sql")),
    ("secret_access", include_str!("../../../queries/views/secret_access.sql")),
    ("secret_lineage", include_str!("../../../queries/views/secret_lineage.sql")),
    ("auth_failures", include_str!("../../../queries/views/auth_failures.sql")),
    ("privileged_ops", include_str!("../../../queries/views/privileged_ops.sql")),
    ("rotations", include_str!("../../../queries/views/rotations.sql")),
    ("rotation_syncs", include_str!("../../../queries/views/rotation_syncs.sql")),
    ("coverage_gaps", include_str!("../../../queries/views/coverage_gaps.sql")),
    ("coverage", include_str!("../../../queries/views/coverage.sql")),
];

/// Memory a session's queries may hold, by default, before sorts and aggregations spill
/// to the temporary folder.
pub const DEFAULT_QUERY_MEMORY_BYTES: usize = 2 << 30;

/// The URL under which the ledger's store is registered with DataFusion.
const LEDGER_URL: &str = "keytrail://ledger/";

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
    #[error("keytrail sql is read-only: {0}. Only queries (SELECT, WITH, EXPLAIN, SHOW) are allowed")]
    NotReadOnly(String),
    /// Evidence rows could not be handed on (writing evidence files failed).
    #[error("evidence of control {0}")]
    Evidence(String),
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
}

/// Registers `table` as `name`, behind an `event_time` filter when a period is given (the
/// filter is pushed down to Parquet statistics, so other months' row groups are skipped).
fn register(ctx: &SessionContext, name: &str, table: Arc<dyn TableProvider>, period: Option<(i64, i64)>) -> Result<(), QueryError> {
    let Some((start, end)) = period else {
        ctx.register_table(name, table)?;
        return Ok(());
    };
    use datafusion::prelude::{col, lit};
    use datafusion::scalar::ScalarValue;
    let at = |t: i64| lit(ScalarValue::TimestampMicrosecond(Some(t), Some("UTC".into())));
    let filtered = ctx.read_table(table)?.filter(col("event_time").gt_eq(at(start)).and(col("event_time").lt(at(end))))?;
    ctx.register_table(name, filtered.into_view())?;
    Ok(())
}

impl LedgerSession {
    /// Registers every stream of `ledger` as a table named after it, an empty table for
    /// each of `known` the ledger does not have yet (so views over every source work on a
    /// ledger that has only some), and the views.
    pub async fn open(ledger: &Ledger, known: &[StreamSchema]) -> Result<Self, QueryError> {
        Self::open_for(ledger, known, None).await
    }

    /// Like [`open`](Self::open), with every stream table (and so every view) limited to
    /// rows whose `event_time` is in `[period.0, period.1)` (microseconds) when given.
    pub async fn open_for(ledger: &Ledger, known: &[StreamSchema], period: Option<(i64, i64)>) -> Result<Self, QueryError> {
        Self::open_with(ledger, known, period, DEFAULT_QUERY_MEMORY_BYTES).await
    }

    /// Like [`open_for`](Self::open_for), with queries holding at most `memory_bytes`
    /// before they spill (a query that cannot spill fails with "Resources exhausted").
    pub async fn open_with(ledger: &Ledger, known: &[StreamSchema], period: Option<(i64, i64)>, memory_bytes: usize) -> Result<Self, QueryError> {
        let config = SessionConfig::new().with_information_schema(true).with_default_catalog_and_schema("keytrail", "ledger");
        // Sorts and aggregations spill to the temporary folder beyond this, so controls over
        // any number of rows run in bounded memory.
        let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(FairSpillPool::new(memory_bytes))).build_arc()?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        let url = url::Url::parse(LEDGER_URL).expect("a valid URL");
        ctx.register_object_store(&url, ledger.object_store());
        let mut tables = Vec::new();
        for stream in ledger.streams().await? {
            let manifests = ledger.manifests(&stream).await?;
            let Some(last) = manifests.last() else { continue };
            let schema = StreamSchema::from_parts(&stream, last.raw_kind, last.columns.clone())?.arrow_schema();
            let files: Vec<ListingTableUrl> = manifests
                .iter()
                .flat_map(|m| &m.segments)
                .map(|s| ListingTableUrl::parse(format!("{LEDGER_URL}{}", s.path)))
                .collect::<Result<_, _>>()?;
            let table: Arc<dyn TableProvider> = if files.is_empty() {
                Arc::new(MemTable::try_new(schema, vec![vec![]])?)
            } else {
                let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
                let table_config = ListingTableConfig::new_with_multi_paths(files).with_listing_options(options).with_schema(schema);
                Arc::new(ListingTable::try_new(table_config)?)
            };
            register(&ctx, &stream, table, period)?;
            tables.push(stream);
        }
        let missing: Vec<&StreamSchema> = known.iter().filter(|s| !tables.iter().any(|t| t == s.name())).collect();
        for schema in missing {
            register(&ctx, schema.name(), Arc::new(MemTable::try_new(schema.arrow_schema(), vec![vec![]])?), period)?;
            tables.push(schema.name().to_string());
        }
        tables.sort();
        for (name, sql) in VIEWS {
            ctx.sql(&format!("CREATE VIEW {name} AS {sql}"))
                .await
                .map_err(|e| QueryError::View { name: (*name).to_string(), reason: e.to_string() })?;
        }
        Ok(Self { ctx, tables })
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

    /// Runs one read-only statement and collects its result.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, QueryError> {
        let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        let df = self.ctx.sql_with_options(sql, read_only).await.map_err(|e| match e {
            datafusion::error::DataFusionError::Plan(m)
                if ["DDL not supported", "DML not supported", "Statement not supported"].iter().any(|p| m.starts_with(p)) =>
            {
                QueryError::NotReadOnly(m)
            }
            other => QueryError::DataFusion(other),
        })?;
        Ok(df.collect().await?)
    }
}
