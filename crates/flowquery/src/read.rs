//! The table's columns, and reading one text object into record batches of them (every
//! field; NULL where the object has no value or no such field). Parquet objects are read by
//! DataFusion's Parquet scan instead (see `parquet_scan.rs`).
//!
//! Strings are `Utf8`, not `Utf8View`: a view array keeps the whole buffers it points into,
//! so a few filtered rows of a Parquet scan would hold (and count against the memory limit
//! as) hundreds of megabytes.
//!
//! Text objects are decoded here with flate2 and the flowlogs parser rather than DataFusion's
//! CSV reader: its gzip support comes only with the `compression` feature, which builds xz,
//! bzip2 and zstd from C; the parser already knows `-`, the header line (each object may have
//! its own format) and the value checks; and errors name the object and line.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field as ArrowField, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use object_store::{ObjectStore, ObjectStoreExt};
use underpass_flowlogs::{decode_text, Field, FlowRecord};

use crate::listing::FlowObject;

/// The Arrow type of a field's column (the types of AWS's Athena DDL for flow logs).
pub(crate) fn column_type(field: Field) -> DataType {
    match field {
        Field::Version | Field::SrcPort | Field::DstPort | Field::TcpFlags | Field::TrafficPath => {
            DataType::Int32
        }
        Field::Protocol | Field::Packets | Field::Bytes | Field::Start | Field::End => {
            DataType::Int64
        }
        _ => DataType::Utf8,
    }
}

/// The columns of every object, in AWS's field order (without the `date` partition column).
pub(crate) fn fields_schema() -> SchemaRef {
    Arc::new(Schema::new(
        Field::ALL
            .iter()
            .map(|f| ArrowField::new(f.column(), column_type(*f), true))
            .collect::<Vec<_>>(),
    ))
}

fn int(r: &FlowRecord, field: Field) -> Option<i64> {
    match field {
        Field::Version => r.version.map(i64::from),
        Field::SrcPort => r.srcport.map(i64::from),
        Field::DstPort => r.dstport.map(i64::from),
        Field::Protocol => r.protocol.map(i64::from),
        // Counters above i64::MAX cannot be written by a real flow; they read as NULL.
        Field::Packets => r.packets.and_then(|v| i64::try_from(v).ok()),
        Field::Bytes => r.bytes.and_then(|v| i64::try_from(v).ok()),
        Field::Start => r.start.and_then(|v| i64::try_from(v).ok()),
        Field::End => r.end.and_then(|v| i64::try_from(v).ok()),
        Field::TcpFlags => r.tcp_flags.map(i64::from),
        Field::TrafficPath => r.traffic_path.map(i64::from),
        _ => None,
    }
}

/// Records as one batch of [`fields_schema`].
fn records_batch(schema: &SchemaRef, records: &[FlowRecord]) -> Result<RecordBatch, String> {
    let columns: Vec<ArrayRef> = Field::ALL
        .iter()
        .map(|&f| -> ArrayRef {
            match column_type(f) {
                DataType::Int32 => Arc::new(
                    records
                        .iter()
                        .map(|r| int(r, f).and_then(|v| i32::try_from(v).ok()))
                        .collect::<Int32Array>(),
                ),
                DataType::Int64 => {
                    Arc::new(records.iter().map(|r| int(r, f)).collect::<Int64Array>())
                }
                _ => Arc::new(
                    records
                        .iter()
                        .map(|r| Some(r.value(f)).filter(|v| v != "-"))
                        .collect::<StringArray>(),
                ),
            }
        })
        .collect();
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
}

/// Reads one text object whole into batches of at most `batch_size` rows of `schema` (as made
/// by [`fields_schema`]). The error names the object.
pub(crate) async fn read_text(
    store: Arc<dyn ObjectStore>,
    object: &FlowObject,
    schema: &SchemaRef,
    batch_size: usize,
) -> Result<Vec<RecordBatch>, String> {
    let name = &object.location;
    let batch_size = batch_size.max(1);
    // Objects are read whole, as the writers bound them (one window of one flow log).
    let bytes = store
        .get(name)
        .await
        .map_err(|e| format!("reading {name}: {e}"))?
        .bytes()
        .await
        .map_err(|e| format!("reading {name}: {e}"))?;
    let (_format, records) = decode_text(&bytes).map_err(|e| format!("{name}: {e}"))?;
    records
        .chunks(batch_size)
        .map(|chunk| records_batch(schema, chunk).map_err(|e| format!("{name}: {e}")))
        .collect()
}
