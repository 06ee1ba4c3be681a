//! Underpass flow-log queries: SQL (DataFusion) over the flow-log objects of a destination, a
//! local directory or an S3 bucket, read-only and within memory and time limits.
//!
//! # Design
//!
//! - **One table**, `vpc_flow_logs`, with the columns of AWS's Athena DDL for flow logs (every
//!   field, `-` replaced by `_`; `end`, `type` and `date` need double quotes where they would
//!   read as keywords) plus the partition column `date`, the day of the object's directory.
//!   Objects of different formats are read into the same columns: a field an object lacks is
//!   NULL, as is a `-` value. Text (`.log.gz`) and Parquet (`.log.parquet`) objects, and the
//!   plain, per-hour and Hive-compatible layouts, are all read.
//! - **Date pruning without reading**: the objects are listed once and grouped by the day in
//!   their key; the table is a view, one `UNION ALL` branch per day, each branch adding its day
//!   as a constant. DataFusion's optimizer pushes `date = …` (or a range) into each branch,
//!   folds it to `false` for the other days and drops those branches, so their objects are
//!   never opened (see `table.rs`). A custom `TableProvider` evaluating the filters in `scan`
//!   would do the same with more code of our own; the view leaves it to the optimizer.
//! - **Reading**: each day's objects are read only when the plan runs. Parquet objects go
//!   through DataFusion's own Parquet scan, so only the columns a query names are decoded,
//!   row groups are skipped by their statistics, filters are applied while decoding, and
//!   objects of different formats are mapped onto the table's columns (a missing column is
//!   NULL) (see `parquet_scan.rs`). Gzip text is decoded with the flowlogs parser and mapped
//!   onto the same columns by name (see `read.rs` for why not DataFusion's CSV reader); a day
//!   with both kinds scans the union of the two.
//! - **Safety** (RELIABILITY item 95): only one read-only query is accepted (checked on the
//!   parsed statement, then again by `SQLOptions` without DDL, DML or statements); the session
//!   holds `vpc_flow_logs` and nothing else (no URL tables, no `information_schema`, no object
//!   store the SQL could name: the destination's store is registered under a URL of this
//!   crate's own scheme for the Parquet scan, and no statement that could name a URL is
//!   accepted); the memory pool is bounded and there is no disk manager, so nothing spills to
//!   disk and a query over the limit fails; the collected result counts against the same pool
//!   (an object being decoded does not: text objects are read whole, one per partition at a
//!   time, as their writers bound them; Parquet is read by column chunk); and the whole query
//!   (listing, planning, execution) runs under a timeout whose expiry drops, and so cancels,
//!   the running plan.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod destination;
mod format;
mod listing;
mod parquet_scan;
mod read;
mod table;

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::{execute_stream, ExecutionPlan};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use futures::StreamExt;

pub use destination::Destination;
pub use format::{render, OutputFormat};
pub use listing::{FlowObject, ObjectFilter, ObjectKind};
pub use table::Progress;

/// The name of the one table.
pub const TABLE: &str = "vpc_flow_logs";

/// Limits on one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of memory for the query's operators and its result.
    pub memory: usize,
    /// Time for the whole query: listing, planning and execution.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory: 512 << 20,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Everything a query takes besides the destination and the SQL.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// Memory and time limits.
    pub limits: Limits,
    /// Which objects to read, by account, region and flow log.
    pub objects: ObjectFilter,
    /// Counts for a progress indicator, updated while the query runs.
    pub progress: Option<Arc<Progress>>,
}

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A statement other than one read-only query.
    #[error("refused: {0}")]
    Refused(String),
    /// The SQL does not parse or does not plan (an unknown column or table, a type error…).
    #[error("bad SQL: {0}")]
    Sql(String),
    /// The destination is not usable (a malformed URL, a store that cannot be built).
    #[error("destination: {0}")]
    Destination(String),
    /// The objects could not be listed.
    #[error("listing the objects: {0}")]
    List(String),
    /// The query failed while running (an unreadable object, a failed request…).
    #[error("query failed: {0}")]
    Execution(String),
    /// The query needed more memory than its limit and was cancelled.
    #[error("query cancelled at the memory limit of {limit} bytes: {detail}")]
    Memory {
        /// The limit.
        limit: usize,
        /// DataFusion's account of it.
        detail: String,
    },
    /// The query ran longer than its limit and was cancelled.
    #[error("query cancelled at the time limit of {0:?}")]
    Timeout(Duration),
    /// The result could not be formatted.
    #[error("formatting the result: {0}")]
    Format(String),
}

impl QueryError {
    /// Whether the query itself is at fault (bad SQL or a refused statement), rather than
    /// the data, the destination or a limit: the CLI exits with 2 for these.
    pub fn is_bad_query(&self) -> bool {
        matches!(self, Self::Refused(_) | Self::Sql(_))
    }
}

fn first_word(sql: &str) -> String {
    sql.split_whitespace()
        .next()
        .unwrap_or("")
        .chars()
        .take(32)
        .collect::<String>()
        .to_uppercase()
}

/// Accepts exactly one read-only query (`SELECT`, `WITH`, `VALUES`, or `EXPLAIN` of one).
fn check_statement(sql: &str) -> Result<(), QueryError> {
    let statements =
        DFParser::parse_sql(sql).map_err(|e| QueryError::Sql(listing::one_line(&e.to_string())))?;
    let only = "only one read-only query (SELECT, WITH, VALUES, EXPLAIN) is allowed";
    let statement = match statements.len() {
        0 => return Err(QueryError::Refused(format!("no statement; {only}"))),
        1 => &statements[0],
        n => return Err(QueryError::Refused(format!("{n} statements; {only}"))),
    };
    fn read_only(s: &DfStatement) -> bool {
        match s {
            DfStatement::Statement(s) => matches!(s.as_ref(), SqlStatement::Query(_)),
            DfStatement::Explain(e) => read_only(&e.statement),
            DfStatement::CreateExternalTable(_)
            | DfStatement::CopyTo(_)
            | DfStatement::Reset(_) => false,
        }
    }
    if read_only(statement) {
        Ok(())
    } else {
        Err(QueryError::Refused(format!(
            "{} statements are not allowed; {only}",
            first_word(sql)
        )))
    }
}

fn run_error(e: DataFusionError, limits: &Limits) -> QueryError {
    match e.find_root() {
        DataFusionError::ResourcesExhausted(detail) => QueryError::Memory {
            limit: limits.memory,
            detail: listing::one_line(detail),
        },
        _ => {
            // A Parquet error displays "Parquet error: " once for DataFusion's wrapper and once
            // for the parquet crate's: once is enough.
            let mut text = listing::one_line(&e.to_string());
            while text.contains("Parquet error: Parquet error: ") {
                text = text.replace("Parquet error: Parquet error: ", "Parquet error: ");
            }
            QueryError::Execution(text)
        }
    }
}

/// A session that knows `vpc_flow_logs` and nothing else, within `limits`.
fn session(limits: &Limits) -> Result<SessionContext, QueryError> {
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(limits.memory, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .map_err(|e| QueryError::Execution(listing::one_line(&e.to_string())))?;
    let config = SessionConfig::new().with_information_schema(false);
    Ok(SessionContext::new_with_config_rt(config, runtime))
}

/// Makes every operator yield to the runtime after a budget of batches (DataFusion makes only
/// the scans do so): a cross join turns one input batch into millions of output batches, and
/// without this its consumers never return to the runtime, so neither the time limit nor the
/// cancellation that dropping the stream asks for would take effect until it ended.
fn yielding(plan: Arc<dyn ExecutionPlan>) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        if node.children().is_empty() || node.is::<CooperativeExec>() {
            return Ok(Transformed::no(node));
        }
        let wrapped: Arc<dyn ExecutionPlan> = Arc::new(CooperativeExec::new(node));
        Ok(Transformed::yes(wrapped))
    })
    .map(|t| t.data)
}

/// Runs one read-only SQL query over the flow-log objects of `destination`. The result holds
/// at least one batch (an empty one when no row matched), so its schema is always known.
pub async fn query(
    destination: &Destination,
    sql: &str,
    options: &QueryOptions,
) -> Result<Vec<RecordBatch>, QueryError> {
    check_statement(sql)?;
    let limits = options.limits;
    let run = async {
        let (store, prefix) = destination.store()?;
        let objects = listing::list_objects(store.as_ref(), &prefix, &options.objects).await?;
        if let Some(p) = &options.progress {
            p.set_listed(objects.len());
        }
        let ctx = session(&limits)?;
        parquet_scan::register_store(&ctx, store.clone())
            .map_err(|e| QueryError::Execution(listing::one_line(&e.to_string())))?;
        let partitions = ctx.copied_config().target_partitions();
        let table = table::flow_log_table(store, objects, partitions, options.progress.clone())
            .map_err(|e| QueryError::Execution(listing::one_line(&e.to_string())))?;
        ctx.register_table(TABLE, table)
            .map_err(|e| QueryError::Execution(listing::one_line(&e.to_string())))?;
        let safe = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let frame = ctx
            .sql_with_options(sql, safe)
            .await
            .map_err(|e| QueryError::Sql(listing::one_line(&e.to_string())))?;
        let task = frame.task_ctx();
        let plan = frame
            .create_physical_plan()
            .await
            .and_then(yielding)
            .map_err(|e| run_error(e, &limits))?;
        let mut stream = execute_stream(plan, Arc::new(task)).map_err(|e| run_error(e, &limits))?;
        let schema = stream.schema();
        // The result is held in memory too: it counts against the same limit.
        let held = MemoryConsumer::new("query result").register(&ctx.runtime_env().memory_pool);
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| run_error(e, &limits))?;
            held.try_grow(batch.get_array_memory_size())
                .map_err(|e| run_error(e, &limits))?;
            batches.push(batch);
        }
        if batches.is_empty() {
            batches.push(RecordBatch::new_empty(schema));
        }
        Ok(batches)
    };
    tokio::time::timeout(limits.timeout, run)
        .await
        .map_err(|_| QueryError::Timeout(limits.timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements() {
        assert!(check_statement("SELECT 1").is_ok());
        assert!(check_statement("WITH a AS (SELECT 1) SELECT * FROM a").is_ok());
        assert!(check_statement("EXPLAIN SELECT 1").is_ok());
        for bad in [
            "SELECT 1; SELECT 2",
            "SET x = 1",
            "DROP TABLE t",
            "COPY (SELECT 1) TO '/tmp/x'",
            "",
        ] {
            assert!(
                matches!(check_statement(bad), Err(QueryError::Refused(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            check_statement("SELEC 1"),
            Err(QueryError::Sql(_))
        ));
    }
}
