//! Parquet objects through DataFusion's own Parquet scan.
//!
//! Each day's Parquet objects are one [`ParquetObjects`] table: its `scan` builds a
//! `DataSourceExec` over a `ParquetSource` with the objects already listed (no second
//! listing, no `HEAD` per object), so DataFusion does what it does for any Parquet table:
//! - **projection pushdown**: only the columns the query names are fetched and decoded;
//! - **predicate pushdown**: the physical optimizer hands the query's filters to the scan,
//!   which skips row groups (and pages) whose statistics rule them out;
//! - **parallel decoding**: the objects are spread over the session's partitions, and big
//!   ones split by byte range.
//!
//! The table's schema is [`fields_schema`] (Athena's types, every field); an object holds only
//! the fields of its flow log's format, with `int32` where the table may say `bigint`. The scan
//! maps each object onto the table with DataFusion's default physical-expression adapter: a
//! column the object lacks reads as NULL, a narrower integer is cast. So objects of different
//! formats share one scan, and nothing is grouped by format.
//!
//! The store is the one the destination built, registered on the session's `RuntimeEnv` under
//! [`STORE_URL`] for this scan only: the SQL cannot name it (no URL tables, no DDL).
//!
//! Objects are opened by [`NamingReaders`], which counts them for [`Progress`] and puts the
//! object's key in front of every read error, so a corrupt object is named.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::config::TableParquetOptions;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfigBuilder, ParquetFileReaderFactory, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use futures::future::BoxFuture;
use futures::{FutureExt, TryFutureExt};
use object_store::path::Path;
use object_store::ObjectStore;

use crate::listing::FlowObject;
use crate::read::fields_schema;
use crate::table::Progress;

/// Where the destination's store is registered for the Parquet scan. The scheme is ours, so
/// the URL names nothing outside this crate.
pub(crate) const STORE_URL: &str = "underpass-flowquery://objects";

fn store_url() -> Result<ObjectStoreUrl> {
    ObjectStoreUrl::parse(STORE_URL)
}

/// Registers the destination's store for the Parquet scan (and for nothing else: the SQL
/// cannot name a store).
pub(crate) fn register_store(ctx: &SessionContext, store: Arc<dyn ObjectStore>) -> Result<()> {
    ctx.register_object_store(store_url()?.as_ref(), store);
    Ok(())
}

/// One day's Parquet objects, as a table of [`fields_schema`].
pub(crate) struct ParquetObjects {
    store: Arc<dyn ObjectStore>,
    objects: Vec<FlowObject>,
    schema: SchemaRef,
    progress: Option<Arc<Progress>>,
}

impl fmt::Debug for ParquetObjects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetObjects")
            .field("objects", &self.objects.len())
            .finish()
    }
}

impl ParquetObjects {
    pub(crate) fn new(
        store: Arc<dyn ObjectStore>,
        objects: Vec<FlowObject>,
        progress: Option<Arc<Progress>>,
    ) -> Self {
        Self {
            store,
            objects,
            schema: fields_schema(),
            progress,
        }
    }

    /// The objects in at most `n` groups of about equal bytes (largest first, each to the
    /// lightest group). The optimizer may still split big objects by byte range.
    fn groups(&self, n: usize) -> Vec<FileGroup> {
        let n = n.clamp(1, self.objects.len().max(1));
        let mut by_size: Vec<&FlowObject> = self.objects.iter().collect();
        by_size.sort_by(|a, b| b.size.cmp(&a.size).then(a.location.cmp(&b.location)));
        let mut groups: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); n];
        for o in by_size {
            let lightest = (0..n).min_by_key(|&i| groups[i].0).unwrap_or(0);
            let mut file = PartitionedFile::new(String::new(), o.size);
            file.object_meta.location = o.location.clone();
            groups[lightest].0 += o.size;
            groups[lightest].1.push(file);
        }
        groups
            .into_iter()
            .filter(|(_, files)| !files.is_empty())
            .map(|(_, files)| FileGroup::new(files))
            .collect()
    }
}

#[async_trait]
impl TableProvider for ParquetObjects {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// `filters` are not used here: the physical optimizer pushes the `FilterExec` above the
    /// scan into the `ParquetSource`, which prunes row groups and pages by their statistics
    /// and, with `pushdown_filters`, evaluates the filter while decoding (the `FilterExec` is
    /// then removed).
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut options = TableParquetOptions {
            global: state.config_options().execution.parquet.clone(),
            ..TableParquetOptions::default()
        };
        // Late materialization: the filter's columns are decoded first, the others only for
        // the rows that pass (a selective filter, as most flow-log questions are, then decodes
        // a fraction of the strings); cheaper conditions are evaluated first.
        options.global.pushdown_filters = true;
        options.global.reorder_filters = true;
        let cache = state.runtime_env().cache_manager.get_file_metadata_cache();
        let readers = NamingReaders {
            inner: CachedParquetFileReaderFactory::new(self.store.clone(), cache),
            opened: Mutex::default(),
            progress: self.progress.clone(),
        };
        let source = ParquetSource::new(self.schema.clone())
            .with_table_parquet_options(options)
            .with_parquet_file_reader_factory(Arc::new(readers));
        let config = FileScanConfigBuilder::new(store_url()?, Arc::new(source))
            .with_file_groups(self.groups(state.config().target_partitions()))
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// Opens objects with DataFusion's reader (footers cached for the query), counts each object
/// once however many readers it gets (byte ranges, bloom filters), and names the object in
/// the reader's errors.
struct NamingReaders {
    inner: CachedParquetFileReaderFactory,
    opened: Mutex<HashSet<Path>>,
    progress: Option<Arc<Progress>>,
}

impl fmt::Debug for NamingReaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamingReaders").finish_non_exhaustive()
    }
}

impl ParquetFileReaderFactory for NamingReaders {
    fn create_reader(
        &self,
        partition_index: usize,
        file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Box<dyn AsyncFileReader + Send>> {
        let location = file.object_meta.location.clone();
        let first = self
            .opened
            .lock()
            .map(|mut seen| seen.insert(location.clone()))
            .unwrap_or(false);
        if let (true, Some(p)) = (first, &self.progress) {
            p.add_read();
        }
        let inner = self
            .inner
            .create_reader(partition_index, file, metadata_size_hint, metrics)?;
        Ok(Box::new(NamedReader {
            inner,
            name: location.to_string().into(),
        }))
    }
}

/// A reader whose errors start with the object's key.
struct NamedReader {
    inner: Box<dyn AsyncFileReader + Send>,
    name: Arc<str>,
}

fn named(name: &str, e: ParquetError) -> ParquetError {
    ParquetError::General(format!("{name}: {e}"))
}

/// The footer could not be read: the object is not Parquet (or is truncated). DataFusion's
/// message names the object too, behind layers of "Parquet error: "; the cause is kept.
fn not_parquet(name: &str, e: ParquetError) -> ParquetError {
    let text = e.to_string();
    let mut cause = text.as_str();
    loop {
        let before = cause;
        cause = cause.trim_start_matches("Parquet error: ");
        if let Some(rest) = cause.strip_prefix("Failed to fetch metadata for file ") {
            cause = rest
                .strip_prefix(name)
                .unwrap_or(rest)
                .trim_start_matches(": ");
        }
        if cause == before {
            break;
        }
    }
    ParquetError::General(format!("{name}: not a readable Parquet object: {cause}"))
}

impl AsyncFileReader for NamedReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes, ParquetError>> {
        let name = self.name.clone();
        self.inner
            .get_bytes(range)
            .map_err(move |e| named(&name, e))
            .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, Result<Vec<Bytes>, ParquetError>> {
        let name = self.name.clone();
        self.inner
            .get_byte_ranges(ranges)
            .map_err(move |e| named(&name, e))
            .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>, ParquetError>> {
        let name = self.name.clone();
        self.inner
            .get_metadata(options)
            .map_err(move |e| not_parquet(&name, e))
            .boxed()
    }
}
