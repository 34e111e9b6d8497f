//! A view a session computes once per time range and keeps, computed a slice of time at a
//! time, for a view that many queries read and whose join would otherwise hold all of a
//! range's rows at once.
//!
//! `akeyless_unforwarded` is one: `akeyless_events` reads it in every query, and it looks
//! other sinks' Akeyless records up among the forwarded ones. DataFusion's hash joins
//! cannot spill, and with both sinks delivering a whole month the look-up's table would
//! hold every record of it, beyond the session's pool for a large month, and every control
//! over Akeyless records would fail. Copies share their timestamp, so the look-up is done
//! slice by slice over the time range of the rows the view returns from, each slice's hash
//! table built on whichever side takes less: the rows it returns (when another sink
//! delivered few) or the keys it looks up (when both delivered the month: a fifth of the
//! memory of the whole rows DataFusion would build on, so a fifth of the slices), as many as
//! fit a quarter of the pool, each slice reading only the segments whose event times meet
//! it (else every slice read every segment's statistics, and the work grew with the square
//! of the records). The rows found are kept for the session: in memory while they take at
//! most an eighth of its pool and the pool grants it, otherwise in a temporary Parquet file
//! in the temporary folder (where spills go), so what a report's queries read is computed
//! once whatever its size. DataFusion has neither a cache of intermediate results nor a
//! join that spills, hence this.
//!
//! Only filters on the time column are pushed in, and only in a session without a period
//! whose queries do not read all history anyway (an analyst's range reads that range
//! alone); other filters, and all in a session limited to a period (its tables hold that
//! period alone) or reading all of the ledger (a report's or evaluation's controls look back
//! before their period), are applied to the kept rows, computed once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DataFusionError, JoinType};
use datafusion::config::ConfigOptions;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::{TableType, provider_as_source};
use datafusion::error::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit, MemoryReservation};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::functions_aggregate::expr_fn::{count, max, min};
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, TableProviderFilterPushDown, col, lit};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::join_selection::JoinSelection;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::scalar::ScalarValue;
use futures::StreamExt;
use tokio::sync::OnceCell;

/// Memory a look-up's hash table takes per row when built on the rows the view returns,
/// with room to spare: the Akeyless look-up's are the other sink's whole rows, 204.5 MB for
/// 333k of them (614 bytes a row; `EXPLAIN ANALYZE`, BENCHMARKS.md).
const RETURNED_ROW_BYTES: usize = 640;

/// The same, built on the rows looked up: the Akeyless look-up's keys (`record_id`,
/// `timestamp`) took 24.5 MB for 208k forwarded records (118 bytes a row).
const LOOKED_UP_ROW_BYTES: usize = 144;

/// The share of the pool one slice's look-up may take. It runs while the query that reads
/// the view is planned, so only kept rows (at most an eighth) hold memory beside it; and
/// each slice is a query of its own, with the fixed cost of one, so slices are as few as
/// the memory allows.
const SLICE_SHARE_OF_POOL: usize = 4;

/// Rows per row group of a kept file: small enough that the writer's buffer stays small.
const FILE_ROW_GROUP_ROWS: usize = 65_536;

/// The rows of the view for one time range.
type Entry = Arc<OnceCell<Kept>>;

/// Computed rows, and what holds them while the session lives.
#[derive(Debug)]
struct Kept {
    rows: Arc<dyn TableProvider>,
    /// The pool's grant for rows kept in memory.
    _reservation: MemoryReservation,
    /// The file holding rows that did not fit (deleted when the session ends).
    _file: Option<tempfile::NamedTempFile>,
    /// Slices the rows were computed in (logged; tests check it).
    #[cfg_attr(not(test), allow(dead_code))]
    slices: usize,
}

/// The segment files of the table a view reads, with the event times each holds, so that a
/// slice of time reads only the segments that can hold its rows. Valid where the view's time
/// column is the table's `event_time` wherever it is set (Akeyless records: docs/SOURCES.md);
/// the slice of rows without a time reads every segment.
#[derive(Debug)]
pub(crate) struct SegmentsByTime {
    /// The table, as the view names it.
    pub(crate) table: String,
    /// Its schema.
    pub(crate) schema: SchemaRef,
    /// Each segment file with its earliest and latest event time (raw values of the column).
    pub(crate) files: Vec<(ListingTableUrl, i64, i64)>,
}

impl SegmentsByTime {
    /// The table made of the segments whose event times meet `[from, to)` (an empty table
    /// when none do).
    pub(crate) fn meeting(&self, from: i64, to: i64) -> Result<Arc<dyn TableProvider>> {
        let files: Vec<ListingTableUrl> = self.files.iter().filter(|(_, first, last)| *first < to && *last >= from).map(|(url, ..)| url.clone()).collect();
        if files.is_empty() {
            return Ok(Arc::new(EmptyTable::new(Arc::clone(&self.schema))));
        }
        parquet_table(files, Arc::clone(&self.schema))
    }
}

/// A table of Parquet files with `schema`.
fn parquet_table(files: Vec<ListingTableUrl>, schema: SchemaRef) -> Result<Arc<dyn TableProvider>> {
    let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(files).with_listing_options(options).with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// `state`, planning the anti joins of a look-up to build their hash table on the rows
/// looked up (the right input), once for all parts of the rows returned.
///
/// DataFusion builds on the left input, the rows a `NOT EXISTS` returns, unless statistics
/// say the right one is smaller: with both sinks' records it often is not, and the left
/// holds whole rows, the right the keys alone. One table for all parts, rather than one
/// per part by hash of the keys, spares copying every whole row into its part, which is
/// the larger cost. Placed after DataFusion's
/// own choice of sides (`join_selection`), before it lays out the partitions.
fn building_on_looked_up(state: &dyn Session) -> Result<SessionState> {
    let state = state.as_any().downcast_ref::<SessionState>().ok_or_else(|| DataFusionError::Internal("a session that is not a SessionState".into()))?;
    let mut rules = state.physical_optimizers().to_vec();
    let chosen = rules
        .iter()
        .position(|rule| rule.name() == JoinSelection::new().name())
        .ok_or_else(|| DataFusionError::Internal("no join_selection rule to follow".into()))?;
    rules.insert(chosen + 1, Arc::new(BuildOnLookedUp));
    Ok(SessionStateBuilder::new_from_existing(state.clone()).with_physical_optimizer_rules(rules).build())
}

/// Makes every hash anti join that returns its left input's rows build on its right one,
/// collected once.
#[derive(Debug)]
struct BuildOnLookedUp;

impl PhysicalOptimizerRule for BuildOnLookedUp {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| match node.downcast_ref::<HashJoinExec>() {
            Some(join) if *join.join_type() == JoinType::LeftAnti => Ok(Transformed::yes(join.swap_inputs(PartitionMode::CollectLeft)?)),
            _ => Ok(Transformed::no(node)),
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "build_on_looked_up"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A view computed at most once per session and time range, in slices of time.
#[derive(Debug)]
pub(crate) struct CachedView {
    name: String,
    view: ViewTable,
    /// The view's time column: slices are ranges of it.
    time_column: String,
    /// That column over the rows the view returns rows from: the slices cover their range.
    rows: LogicalPlan,
    /// That column over the rows the view looks up: when they take less memory than the
    /// rows returned, each slice's hash table holds its share of them instead.
    looked_up: LogicalPlan,
    /// Whether filters on the time column are pushed in (each range computed on its own).
    push_time_filters: bool,
    /// The segments of the table the slices divide, when known by time.
    segments: Option<SegmentsByTime>,
    entries: Mutex<HashMap<Vec<Expr>, Entry>>,
}

impl CachedView {
    pub(crate) fn new(name: &str, view: ViewTable, time_column: &str, rows: LogicalPlan, looked_up: LogicalPlan, push_time_filters: bool) -> Self {
        let time_column = time_column.to_string();
        Self { name: name.to_string(), view, time_column, rows, looked_up, push_time_filters, segments: None, entries: Mutex::default() }
    }

    /// This view, its slices reading only the segments of `segments` that meet them.
    pub(crate) fn with_segments(self, segments: SegmentsByTime) -> Self {
        Self { segments: Some(segments), ..self }
    }

    /// How to compute the rows `filters` select: each slice's filter (with its range of the
    /// time column, as raw values) and whether the slices' hash tables are built on the rows
    /// looked up. The slices are ranges over the range of the rows the view returns from,
    /// each meeting at most a `slice_bytes` hash table's worth of the rows it is built on
    /// (returned or looked up, whichever take less) if spread evenly, and the rows without a
    /// time.
    async fn slices(&self, state: &dyn Session, filters: &[Expr], slice_bytes: usize) -> Result<(Vec<(Expr, Option<(i64, i64)>)>, bool)> {
        let time = col(Column::from_name(&self.time_column));
        let (data_type, range) =
            self.aggregate(state, &self.rows, filters, vec![min(time.clone()), max(time.clone()), count(time.clone()), count(lit(1))]).await?;
        let (first, last, timed, all) = (range[0], range[1], range[2].unwrap_or(0), range[3].unwrap_or(0));
        let at = |v: i64| -> Result<Expr> { Ok(lit(ScalarValue::Int64(Some(v)).cast_to(&data_type)?)) };
        let mut slices = Vec::new();
        let mut on_looked_up = false;
        if let (Some(first), Some(last)) = (first, last) {
            let within = time.clone().gt_eq(at(first)?).and(time.clone().lt_eq(at(last)?));
            let (_, looked_up) = self.aggregate(state, &self.looked_up, &[filters, &[within]].concat(), vec![count(time.clone())]).await?;
            let returned_bytes = (timed as usize).saturating_mul(RETURNED_ROW_BYTES);
            let looked_up_bytes = (looked_up[0].unwrap_or(0) as usize).saturating_mul(LOOKED_UP_ROW_BYTES);
            on_looked_up = looked_up_bytes < returned_bytes;
            let count = returned_bytes.min(looked_up_bytes).div_ceil(slice_bytes.max(1)).max(1) as i64;
            let end = last.saturating_add(1);
            let width = ((end - first) as i128).div_euclid(count as i128).max(1) as i64 + 1;
            let mut from = first;
            while from < end {
                let to = from.saturating_add(width).min(end);
                slices.push((time.clone().gt_eq(at(from)?).and(time.clone().lt(at(to)?)), Some((from, to))));
                from = to;
            }
        }
        if all > timed {
            slices.push((time.is_null(), None));
        }
        Ok((slices, on_looked_up))
    }

    /// `aggregates` (without groups) of the rows of `plan` that `filters` select, as raw
    /// values, with the type of the time column.
    async fn aggregate(&self, state: &dyn Session, plan: &LogicalPlan, filters: &[Expr], aggregates: Vec<Expr>) -> Result<(DataType, Vec<Option<i64>>)> {
        let mut plan = LogicalPlanBuilder::from(plan.clone());
        if let Some(filter) = filters.iter().cloned().reduce(Expr::and) {
            plan = plan.filter(filter)?;
        }
        let data_type = plan.schema().field_with_unqualified_name(&self.time_column)?.data_type().clone();
        let plan = plan.aggregate(Vec::<Expr>::new(), aggregates)?.build()?;
        let batches = execute_stream(state.create_physical_plan(&plan).await?, state.task_ctx())?.collect::<Vec<_>>().await;
        let batch = batches.into_iter().next().transpose()?.ok_or_else(|| DataFusionError::Internal("an aggregate without groups returned no row".into()))?;
        let values = batch
            .columns()
            .iter()
            .map(|column| {
                let column = cast(column, &DataType::Int64)?;
                let column = column.as_primitive::<Int64Type>();
                Ok((!column.is_null(0)).then(|| column.value(0)))
            })
            .collect::<Result<_>>()?;
        Ok((data_type, values))
    }

    /// Runs the view with `filters`, slice by slice, keeping its rows in memory while they
    /// take at most an eighth of the pool and the pool grants them, and in a file beyond.
    async fn compute(&self, state: &dyn Session, filters: &[Expr]) -> Result<Kept> {
        let pool = &state.runtime_env().memory_pool;
        let (most, slice_bytes) = match pool.memory_limit() {
            MemoryLimit::Finite(size) => (size / 8, size / SLICE_SHARE_OF_POOL),
            MemoryLimit::Infinite | MemoryLimit::Unknown => (usize::MAX, usize::MAX),
        };
        let (slices, on_looked_up) = self.slices(state, filters, slice_bytes).await?;
        let building_on_looked_up = if on_looked_up { Some(building_on_looked_up(state)?) } else { None };
        let schema = self.view.schema();
        let reservation = MemoryConsumer::new(format!("cached view {}", self.name)).register(pool);
        let mut batches = Vec::new();
        let mut file: Option<(tempfile::NamedTempFile, ArrowWriter<std::fs::File>)> = None;
        for (slice, range) in &slices {
            let mut plan = LogicalPlanBuilder::from(self.slice_plan(*range)?);
            if let Some(filter) = filters.iter().cloned().chain([slice.clone()]).reduce(Expr::and) {
                plan = plan.filter(filter)?;
            }
            // The slice of rows without a time looks up every row, so it builds on its own
            // (few) rows.
            let planner: &dyn Session = match (&building_on_looked_up, range) {
                (Some(building), Some(_)) => building,
                _ => state,
            };
            let mut stream = execute_stream(planner.create_physical_plan(&plan.build()?).await?, state.task_ctx())?;
            while let Some(batch) = stream.next().await.transpose()? {
                if file.is_none() {
                    let size = batch.get_array_memory_size();
                    if reservation.size() + size <= most && reservation.try_grow(size).is_ok() {
                        batches.push(batch);
                        continue;
                    }
                    tracing::debug!(view = %self.name, "the view's rows do not fit the query memory; they are kept in a temporary file");
                    file = Some(self.open_file(&schema)?);
                    let (_, writer) = file.as_mut().expect("just opened");
                    for kept in batches.drain(..) {
                        writer.write(&kept)?;
                    }
                    reservation.free();
                }
                file.as_mut().expect("opened above").1.write(&batch)?;
            }
        }
        let slices = slices.len();
        tracing::debug!(view = %self.name, slices, in_file = file.is_some(), "computed the view's rows");
        let Some((file, writer)) = file else {
            let rows = Arc::new(MemTable::try_new(schema, vec![batches])?);
            return Ok(Kept { rows, _reservation: reservation, _file: None, slices });
        };
        writer.close()?;
        let url = ListingTableUrl::parse(file.path().to_str().ok_or_else(|| DataFusionError::Internal("the temporary folder's path is not UTF-8".into()))?)?;
        let rows = parquet_table(vec![url], schema)?;
        Ok(Kept { rows, _reservation: reservation, _file: Some(file), slices })
    }

    /// The view's plan for the slice of time `range`: reading, of the table whose segments
    /// are known by time, only those whose event times meet the range.
    fn slice_plan(&self, range: Option<(i64, i64)>) -> Result<LogicalPlan> {
        let plan = self.view.logical_plan().clone();
        let (Some(segments), Some((from, to))) = (&self.segments, range) else { return Ok(plan) };
        let source = provider_as_source(segments.meeting(from, to)?);
        let restricted = plan.transform_up(|node| match node {
            LogicalPlan::TableScan(mut scan) if scan.table_name.table() == segments.table => {
                scan.source = Arc::clone(&source);
                Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
            }
            other => Ok(Transformed::no(other)),
        })?;
        Ok(restricted.data)
    }

    fn open_file(&self, schema: &SchemaRef) -> Result<(tempfile::NamedTempFile, ArrowWriter<std::fs::File>)> {
        let file = tempfile::Builder::new().prefix(&format!("keytrail-{}-", self.name)).suffix(".parquet").tempfile()?;
        let properties =
            WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default())).set_max_row_group_row_count(Some(FILE_ROW_GROUP_ROWS)).build();
        let writer = ArrowWriter::try_new(file.reopen()?, schema.clone(), Some(properties))?;
        Ok((file, writer))
    }

    /// `(slices, kept in a file)` of each computation so far.
    #[cfg(test)]
    fn computed(&self) -> Vec<(usize, bool)> {
        let entries = self.entries.lock().unwrap();
        entries.values().filter_map(|e| e.get()).map(|k| (k.slices, k._file.is_some())).collect()
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

    /// Filters on the time column alone are applied while computing (when pushed at all), so
    /// a query's range bounds what is read; the rest are applied to the kept rows.
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                let columns = f.column_refs();
                if self.push_time_filters && !columns.is_empty() && columns.iter().all(|c| c.name == self.time_column) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(&self, state: &dyn Session, projection: Option<&Vec<usize>>, filters: &[Expr], limit: Option<usize>) -> Result<Arc<dyn ExecutionPlan>> {
        let entry = self.entries.lock().expect("no panic while holding the lock").entry(filters.to_vec()).or_default().clone();
        let kept = entry.get_or_try_init(|| self.compute(state, filters)).await?;
        kept.rows.scan(state, projection, &[], limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
    use datafusion::arrow::datatypes::{Field, Schema, TimeUnit};
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// A session with table `t` (x = 0..1000 at time x seconds, and x = 1000 without a
    /// time) and `big`, a cached view of its x > 10 sliced by time over all of `t`.
    async fn session(pool_bytes: usize, push_time_filters: bool) -> (SessionContext, Arc<CachedView>) {
        let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(FairSpillPool::new(pool_bytes))).build_arc().unwrap();
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime);
        let schema = Arc::new(Schema::new(vec![
            Field::new("time", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
            Field::new("x", DataType::Int64, false),
        ]));
        let times = TimestampMicrosecondArray::from_iter((0..=1000).map(|x| (x < 1000).then_some(x * 1_000_000))).with_timezone("UTC");
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(times), Arc::new(Int64Array::from_iter_values(0..=1000))]).unwrap();
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())).unwrap();
        let plan = ctx.sql("SELECT time, x FROM t WHERE x > 10").await.unwrap().into_unoptimized_plan();
        let times = ctx.sql("SELECT time FROM t").await.unwrap().into_unoptimized_plan();
        let view = Arc::new(CachedView::new("big", ViewTable::new(plan, None), "time", times.clone(), times, push_time_filters));
        ctx.register_table("big", view.clone()).unwrap();
        (ctx, view)
    }

    async fn one(ctx: &SessionContext, sql: &str) -> i64 {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0)
    }

    #[tokio::test]
    async fn kept_rows_answer_like_the_view_and_each_time_range_gets_its_own() {
        let (ctx, view) = session(1 << 30, true).await;
        assert_eq!(ctx.runtime_env().memory_pool.reserved(), 0, "nothing is computed before a query reads the view");
        assert_eq!(one(&ctx, "SELECT count(*) FROM big").await, 990);
        let kept = ctx.runtime_env().memory_pool.reserved();
        assert!(kept >= 990 * 16, "the rows are kept and accounted: {kept} bytes");
        assert_eq!(one(&ctx, "SELECT sum(x) FROM big").await, (11..=1000).sum::<i64>());
        // A filter on another column is applied to the kept rows, not computed again.
        assert_eq!(one(&ctx, "SELECT count(*) FROM big WHERE x < 100").await, 89);
        assert_eq!(ctx.runtime_env().memory_pool.reserved(), kept, "later queries reuse the rows");
        // A time range gets its own rows, and must not be answered from the others'.
        assert_eq!(one(&ctx, "SELECT count(*) FROM big WHERE time >= TIMESTAMP '1970-01-01T00:15:00Z'").await, 100);
        assert_eq!(one(&ctx, "SELECT count(*) FROM big").await, 990);
        assert_eq!(one(&ctx, "SELECT count(*) FROM big b JOIN t ON b.x = t.x WHERE t.x >= 990").await, 11);
        let mut computed = view.computed();
        computed.sort();
        assert_eq!(computed, vec![(1, false), (2, false)], "each range once: one slice of time, and the rows without one where the range lets them in");
    }

    #[tokio::test]
    async fn without_pushed_filters_every_range_reads_the_one_computation() {
        let (ctx, view) = session(1 << 30, false).await;
        assert_eq!(one(&ctx, "SELECT count(*) FROM big WHERE time >= TIMESTAMP '1970-01-01T00:15:00Z'").await, 100);
        assert_eq!(one(&ctx, "SELECT count(*) FROM big").await, 990);
        assert_eq!(one(&ctx, "SELECT count(*) FROM big WHERE time < TIMESTAMP '1970-01-01T00:01:00Z'").await, 49);
        assert_eq!(view.computed(), vec![(2, false)]);
    }

    #[tokio::test]
    async fn a_small_pool_slices_the_time_and_keeps_the_rows_in_a_file() {
        // A quarter of 32 KiB at 144 bytes a row: 56 looked-up rows a slice, so 1000 timed
        // rows make 18 slices (and one for the row without a time); 990 rows of 16 bytes do
        // not fit an eighth, 4 KiB. (A duplicate across slice edges would show in the sum.)
        let (ctx, view) = session(32 << 10, true).await;
        assert_eq!(one(&ctx, "SELECT count(*) FROM big").await, 990);
        assert_eq!(one(&ctx, "SELECT sum(x) FROM big").await, (11..=1000).sum::<i64>());
        assert_eq!(ctx.runtime_env().memory_pool.reserved(), 0, "nothing is held in memory");
        assert_eq!(view.computed(), vec![(19, true)]);
        assert_eq!(one(&ctx, "SELECT count(*) FROM big WHERE time < TIMESTAMP '1970-01-01T00:01:00Z'").await, 49);
    }

    /// A session of 512 KiB with, in Parquet files as in a ledger (whose statistics give
    /// rows, not bytes), rows of 4 KiB with keys `returned` and the keys `looked_up`, each
    /// key's time its value modulo 1000 in seconds, and `unmatched`: a cached view of the
    /// rows whose (time, key) is not looked up.
    async fn look_up(returned: &[i64], looked_up: &[i64]) -> (SessionContext, Arc<CachedView>, tempfile::TempDir) {
        let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(FairSpillPool::new(512 << 10))).build_arc().unwrap();
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), runtime);
        let folder = tempfile::tempdir().unwrap();
        let time = Field::new("time", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true);
        let times = |keys: &[i64]| -> Arc<dyn Array> {
            Arc::new(TimestampMicrosecondArray::from_iter_values(keys.iter().map(|k| k % 1000 * 1_000_000)).with_timezone("UTC"))
        };
        let table = |name: &str, columns: Vec<Field>, batches: Vec<Vec<Arc<dyn Array>>>| {
            let schema = Arc::new(Schema::new(columns));
            let path = folder.path().join(format!("{name}.parquet"));
            let mut writer = ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema.clone(), None).unwrap();
            for columns in batches {
                writer.write(&RecordBatch::try_new(schema.clone(), columns).unwrap()).unwrap();
            }
            writer.close().unwrap();
            let provider = parquet_table(vec![ListingTableUrl::parse(path.to_str().unwrap()).unwrap()], schema).unwrap();
            ctx.register_table(name, provider).unwrap();
        };
        let rows = returned.chunks(10).map(|keys| {
            vec![
                times(keys),
                Arc::new(Int64Array::from(keys.to_vec())) as _,
                Arc::new(StringArray::from_iter_values(keys.iter().map(|k| format!("{k:04096}")))) as _,
            ]
        });
        table("returned", vec![time.clone(), Field::new("key", DataType::Int64, false), Field::new("wide", DataType::Utf8, false)], rows.collect());
        table("keys", vec![time, Field::new("key", DataType::Int64, false)], vec![vec![times(looked_up), Arc::new(Int64Array::from(looked_up.to_vec()))]]);
        let plan = ctx
            .sql("SELECT r.time, r.key, r.wide FROM returned r WHERE NOT EXISTS (SELECT 1 FROM keys k WHERE k.key = r.key AND k.time = r.time)")
            .await
            .unwrap()
            .into_unoptimized_plan();
        let rows = ctx.sql("SELECT time FROM returned").await.unwrap().into_unoptimized_plan();
        let keys = ctx.sql("SELECT time FROM keys").await.unwrap().into_unoptimized_plan();
        let view = Arc::new(CachedView::new("unmatched", ViewTable::new(plan, None), "time", rows, keys, false));
        ctx.register_table("unmatched", view.clone()).unwrap();
        (ctx, view, folder)
    }

    #[tokio::test]
    async fn a_look_up_holds_the_keys_it_looks_up_when_they_take_less_than_the_rows() {
        // 1000 rows, all but ten of them among 1990 keys (by the statistics, the larger
        // side). Slices are sized for the keys: built on the rows instead, a slice's table
        // would hold a third of them, 1.3 MB, beyond the pool.
        let keys: Vec<i64> = (0..990).chain(100_000..101_000).collect();
        let (ctx, view, _folder) = look_up(&(0..1000).collect::<Vec<_>>(), &keys).await;
        assert_eq!(one(&ctx, "SELECT sum(key) FROM unmatched").await, (990..1000).sum::<i64>());
        assert_eq!(view.computed()[0].0, 3, "three slices of 910 keys at most");
    }

    #[tokio::test]
    async fn a_look_up_holds_the_rows_it_returns_when_they_take_less_than_the_keys() {
        // Ten rows over the whole time range of 40,000 keys: one slice, its table on the rows
        // (40 KiB); built on the keys, it would hold all 40,000, beyond the pool.
        let keys: Vec<i64> = (0..40_000).collect();
        let (ctx, view, _folder) = look_up(&[0, 999, 50_001, 50_002, 50_003, 50_004, 50_005, 50_006, 50_007, 50_008], &keys).await;
        assert_eq!(one(&ctx, "SELECT sum(key) FROM unmatched").await, (50_001..=50_008).sum::<i64>());
        assert_eq!(view.computed()[0].0, 1);
    }
}
