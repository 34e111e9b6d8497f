//! A view whose rows a session computes once and keeps, for views that many queries of
//! one session read and that are small next to what computing them reads.
//!
//! `akeyless_copies` is one: a report's controls read `akeyless_events` several times, and
//! each time the de-duplication looked the other sinks' records up among every forwarded
//! record_id of the period (10M at the bench's scale, BENCHMARKS.md), to find a few
//! thousand copies. DataFusion has no cache of intermediate results, so this is one.
//!
//! Rows are kept per set of filters the query pushed into the view (a report's queries
//! share their period, so they share one entry; a query over another day gets its own),
//! and only while they take at most an eighth of the session's memory pool and the pool
//! grants it: kept rows cannot spill, and the rest of the pool is for the queries. A
//! result that does not fit is not kept, and each query then computes the view as a plain
//! view would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryReservation};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::{execute_stream, ExecutionPlan};
use futures::StreamExt;
use tokio::sync::OnceCell;

/// Rows of the view for one set of filters, or `None` when they did not fit the pool.
type Entry = Arc<OnceCell<Option<Kept>>>;

/// Computed rows and the share of the memory pool they hold while the session lives.
#[derive(Debug)]
struct Kept {
    rows: MemTable,
    _reservation: MemoryReservation,
}

/// A view computed at most once per session and set of pushed filters.
#[derive(Debug)]
pub(crate) struct CachedView {
    name: String,
    view: ViewTable,
    entries: Mutex<HashMap<Vec<Expr>, Entry>>,
}

impl CachedView {
    pub(crate) fn new(name: &str, view: ViewTable) -> Self {
        Self { name: name.to_string(), view, entries: Mutex::default() }
    }

    /// Runs the view with `filters`; its rows, if they take at most an eighth of the pool
    /// and the pool grants them.
    async fn compute(&self, state: &dyn Session, filters: &[Expr]) -> Result<Option<Kept>> {
        let plan = self.view.scan(state, None, filters, None).await?;
        let schema = plan.schema();
        let pool = &state.runtime_env().memory_pool;
        let most = match pool.memory_limit() {
            MemoryLimit::Finite(size) => size / 8,
            MemoryLimit::Infinite | MemoryLimit::Unknown => usize::MAX,
        };
        let reservation = MemoryConsumer::new(format!("cached view {}", self.name)).register(pool);
        let mut stream = execute_stream(plan, state.task_ctx())?;
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await.transpose()? {
            let size = batch.get_array_memory_size();
            if reservation.size() + size > most || reservation.try_grow(size).is_err() {
                tracing::debug!(view = %self.name, "the view's rows do not fit the query memory; each query computes it");
                return Ok(None);
            }
            batches.push(batch);
        }
        Ok(Some(Kept { rows: MemTable::try_new(schema, vec![batches])?, _reservation: reservation }))
    }
}

#[async_trait]
impl TableProvider for CachedView {
    fn schema(&self) -> SchemaRef {
        self.view.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    /// Filters are applied while computing, so a query's period bounds what is read.
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Exact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let entry = self.entries.lock().expect("no panic while holding the lock").entry(filters.to_vec()).or_default().clone();
        match entry.get_or_try_init(|| self.compute(state, filters)).await? {
            Some(kept) => kept.rows.scan(state, projection, &[], limit).await,
            None => self.view.scan(state, projection, filters, limit).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// A session with table `t` (x = 0..1000) and `big` as a cached view of its x > 10.
    async fn session(pool_bytes: usize) -> SessionContext {
        let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(FairSpillPool::new(pool_bytes))).build_arc().unwrap();
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime);
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from_iter_values(0..1000))]).unwrap();
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())).unwrap();
        let plan = ctx.sql("SELECT x FROM t WHERE x > 10").await.unwrap().into_unoptimized_plan();
        ctx.register_table("big", Arc::new(CachedView::new("big", ViewTable::new(plan, None)))).unwrap();
        ctx
    }

    async fn one(ctx: &SessionContext, sql: &str) -> i64 {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0)
    }

    #[tokio::test]
    async fn kept_rows_answer_like_the_view_and_each_filter_set_gets_its_own() {
        let ctx = session(1 << 30).await;
        assert_eq!(ctx.runtime_env().memory_pool.reserved(), 0, "nothing is computed before a query reads the view");
        assert_eq!(one(&ctx, "SELECT count(*) FROM big").await, 989);
        let kept = ctx.runtime_env().memory_pool.reserved();
        assert!(kept >= 989 * 8, "the rows are kept and accounted: {kept} bytes");
        assert_eq!(one(&ctx, "SELECT sum(x) FROM big").await, (11..1000).sum::<i64>());
        assert_eq!(ctx.runtime_env().memory_pool.reserved(), kept, "a second query reuses the rows");
        // A filtered query must not be answered from the unfiltered rows nor they from its.
        assert_eq!(one(&ctx, "SELECT count(*) FROM big WHERE x < 100").await, 89);
        assert_eq!(one(&ctx, "SELECT count(*) FROM big").await, 989);
        assert_eq!(one(&ctx, "SELECT count(*) FROM big b JOIN t ON b.x = t.x WHERE t.x >= 990").await, 10);
    }

    #[tokio::test]
    async fn rows_beyond_an_eighth_of_the_pool_are_computed_per_query() {
        // 989 rows of 8 bytes fit 64 KiB, but not an eighth of it.
        let ctx = session(64 << 10).await;
        assert_eq!(one(&ctx, "SELECT count(*) FROM big").await, 989);
        assert_eq!(ctx.runtime_env().memory_pool.reserved(), 0, "nothing is kept");
        assert_eq!(one(&ctx, "SELECT count(*) FROM big WHERE x < 100").await, 89);
    }
}
