//! The `vpc_flow_logs` table: a view over one branch per day, `UNION ALL`.
//!
//! Each branch scans the objects of one day and adds the day as a constant: `SELECT <fields>,
//! DATE '<day>' AS date`. A day's Parquet objects are one [`ParquetObjects`] scan (DataFusion's
//! Parquet reader, with projection and predicate pushdown: see `parquet_scan.rs`); its text
//! objects are a [`StreamingTable`] whose partitions decode them only when executed (see
//! `read.rs`); a day with both kinds scans `UNION ALL` of the two, both of [`fields_schema`]. A filter on `date` is pushed by the optimizer into every branch, where it becomes
//! a comparison of constants: folded to `false`, it turns the branch into an empty relation,
//! which is dropped from the union before any physical plan exists. So the objects of other
//! days are never opened, and the listing is the only I/O the pruned days cost.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field as ArrowField, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::common::{plan_err, Column, ScalarValue};
use datafusion::datasource::{provider_as_source, ViewTable};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{lit, Expr, LogicalPlan, LogicalPlanBuilder, Union};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use time::Date;

use crate::listing::{FlowObject, ObjectKind};
use crate::parquet_scan::ParquetObjects;
use crate::read::{fields_schema, read_text};

/// Counts for a progress indicator: objects listed (after the key filters) and objects read.
#[derive(Debug, Default)]
pub struct Progress {
    listed: AtomicUsize,
    read: AtomicUsize,
}

impl Progress {
    /// Objects found under the destination that the query may read.
    pub fn listed(&self) -> usize {
        self.listed.load(Ordering::Relaxed)
    }

    /// Objects read so far (a query filtered by date reads fewer than were listed).
    pub fn read(&self) -> usize {
        self.read.load(Ordering::Relaxed)
    }

    pub(crate) fn set_listed(&self, n: usize) {
        self.listed.store(n, Ordering::Relaxed);
    }

    pub(crate) fn add_read(&self) {
        self.read.fetch_add(1, Ordering::Relaxed);
    }
}

/// The text objects a partition of one day's branch reads, one after the other, when executed.
struct ObjectsPartition {
    store: Arc<dyn ObjectStore>,
    objects: Arc<[FlowObject]>,
    schema: SchemaRef,
    progress: Option<Arc<Progress>>,
}

impl fmt::Debug for ObjectsPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectsPartition")
            .field("objects", &self.objects.len())
            .finish()
    }
}

impl PartitionStream for ObjectsPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batch_size = ctx.session_config().batch_size();
        let (store, objects, schema) = (
            self.store.clone(),
            self.objects.clone(),
            self.schema.clone(),
        );
        let progress = self.progress.clone();
        let stream = futures::stream::iter(0..objects.len())
            .then(move |i| {
                let (store, objects, schema) = (store.clone(), objects.clone(), schema.clone());
                let progress = progress.clone();
                async move {
                    let batches = read_text(store, &objects[i], &schema, batch_size)
                        .await
                        .map_err(DataFusionError::Execution)?;
                    if let Some(p) = progress {
                        p.add_read();
                    }
                    Ok::<_, DataFusionError>(futures::stream::iter(batches.into_iter().map(Ok)))
                }
            })
            .try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// The table's schema: every field, then `date`.
pub(crate) fn table_schema() -> SchemaRef {
    let mut fields: Vec<ArrowField> = fields_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(ArrowField::new("date", DataType::Date32, false));
    Arc::new(Schema::new(fields))
}

fn days_since_epoch(d: Date) -> i32 {
    d.to_julian_day() - 2_440_588 // the Julian day of 1970-01-01
}

/// A day's text objects, spread over at most `partitions` partitions.
fn text_scan(
    store: &Arc<dyn ObjectStore>,
    day: Date,
    objects: Vec<FlowObject>,
    partitions: usize,
    progress: &Option<Arc<Progress>>,
) -> Result<LogicalPlanBuilder> {
    let schema = fields_schema();
    let n = partitions.clamp(1, objects.len().max(1));
    let mut chunks: Vec<Vec<FlowObject>> = vec![Vec::new(); n];
    for (i, o) in objects.into_iter().enumerate() {
        chunks[i % n].push(o);
    }
    let parts = chunks
        .into_iter()
        .map(|objects| -> Arc<dyn PartitionStream> {
            Arc::new(ObjectsPartition {
                store: store.clone(),
                objects: objects.into(),
                schema: schema.clone(),
                progress: progress.clone(),
            })
        })
        .collect();
    let table = StreamingTable::try_new(schema, parts)?;
    LogicalPlanBuilder::scan(
        format!("text_{day}"),
        provider_as_source(Arc::new(table)),
        None,
    )
}

/// One day's branch: a scan of its Parquet objects, of its text objects, or the union of the
/// two, then the day as a constant column.
fn day_branch(
    store: &Arc<dyn ObjectStore>,
    day: Date,
    objects: Vec<FlowObject>,
    partitions: usize,
    progress: &Option<Arc<Progress>>,
) -> Result<LogicalPlan> {
    let (parquet, text): (Vec<_>, Vec<_>) = objects
        .into_iter()
        .partition(|o| o.kind == ObjectKind::Parquet);
    let parquet = (!parquet.is_empty())
        .then(|| {
            let table = ParquetObjects::new(store.clone(), parquet, progress.clone());
            LogicalPlanBuilder::scan(
                format!("parquet_{day}"),
                provider_as_source(Arc::new(table)),
                None,
            )
        })
        .transpose()?;
    let text = (!text.is_empty())
        .then(|| text_scan(store, day, text, partitions, progress))
        .transpose()?;
    let scan = match (parquet, text) {
        (Some(p), Some(t)) => p.union(t.build()?)?,
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => return plan_err!("no objects on {day}"), // days come from objects
    };
    let mut columns: Vec<Expr> = fields_schema()
        .fields()
        .iter()
        .map(|f| Expr::Column(Column::from_name(f.name())))
        .collect();
    columns.push(lit(ScalarValue::Date32(Some(days_since_epoch(day)))).alias("date"));
    scan.project(columns)?.build()
}

/// The `vpc_flow_logs` table over `objects`.
pub(crate) fn flow_log_table(
    store: Arc<dyn ObjectStore>,
    objects: Vec<FlowObject>,
    partitions: usize,
    progress: Option<Arc<Progress>>,
) -> Result<Arc<dyn TableProvider>> {
    let mut days: BTreeMap<Date, Vec<FlowObject>> = BTreeMap::new();
    for o in objects {
        days.entry(o.date).or_default().push(o);
    }
    let mut branches = days
        .into_iter()
        .map(|(day, objects)| day_branch(&store, day, objects, partitions, &progress))
        .collect::<Result<Vec<_>>>()?;
    let plan = match branches.len() {
        0 => return Ok(Arc::new(MemTable::try_new(table_schema(), vec![vec![]])?)),
        1 => branches.remove(0),
        _ => LogicalPlan::Union(Union::try_new(
            branches.into_iter().map(Arc::new).collect(),
        )?),
    };
    Ok(Arc::new(ViewTable::new(plan, None)))
}
