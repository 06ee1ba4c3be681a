//! Parquet objects: one column per field of the flow log's format, in format order, named and
//! typed as AWS writes Parquet flow logs (and as its Athena tables read them).
//!
//! Column names are the field names with `-` turned into `_` (`account_id`, `log_status`,
//! `type`, …). `version`, `srcport`, `dstport`, `protocol`, `tcp_flags` and `traffic_path` are
//! `int32`; `packets`, `bytes`, `start` and `end` are `int64`; every other field is a UTF-8
//! string. A missing value (`-` in text) is NULL. Pages are Snappy-compressed.
//!
//! The columns are built straight from the records (no text in between, no allocation per
//! record), then handed to the Arrow Parquet writer in row groups of at most
//! [`ROW_GROUP_ROWS`] rows.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_buffer::NullBuffer;
use arrow_schema::{ArrowError, DataType, Field as ArrowField, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::aggregate::Batch;
use crate::field::Field;
use crate::format::FlowLogFormat;
use crate::record::{Action, FlowRecord, LogStatus};

/// The most rows in one row group (and one in-memory Arrow batch while encoding).
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Why a Parquet object could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ParquetError {
    /// The Arrow or Parquet library refused (encoding, or a file that is not Parquet).
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Building or reading an Arrow batch failed.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    /// A column that is not a flow-log field, or a field twice.
    #[error("column {0:?} is not a flow-log field (or appears twice)")]
    UnknownColumn(String),
    /// A column whose type is not the one AWS uses for its field.
    #[error("column {column}: type {found} where {expected} was expected")]
    ColumnType {
        /// The column.
        column: String,
        /// The type it should have.
        expected: DataType,
        /// The type it has.
        found: DataType,
    },
    /// A value that does not fit its field.
    #[error("row {row}, column {column}: {value:?} is not valid")]
    Value {
        /// 0-based row in the object.
        row: usize,
        /// The column.
        column: &'static str,
        /// The refused value (at most 64 characters).
        value: String,
    },
}

/// The Parquet/Athena column type of `field`.
pub fn column_type(field: Field) -> DataType {
    match field {
        Field::Version
        | Field::SrcPort
        | Field::DstPort
        | Field::Protocol
        | Field::TcpFlags
        | Field::TrafficPath => DataType::Int32,
        Field::Packets | Field::Bytes | Field::Start | Field::End => DataType::Int64,
        _ => DataType::Utf8,
    }
}

/// The Arrow schema of objects in `format`: one nullable column per field, in format order.
pub fn parquet_schema(format: &FlowLogFormat) -> SchemaRef {
    Arc::new(Schema::new(
        format
            .fields()
            .iter()
            .map(|f| ArrowField::new(f.column(), column_type(*f), true))
            .collect::<Vec<_>>(),
    ))
}

/// The batch as a Parquet object (see the module documentation).
pub fn encode_parquet(batch: &Batch) -> Result<Vec<u8>, ParquetError> {
    let schema = parquet_schema(&batch.format);
    let mut props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_created_by(concat!("underpass-flowlogs ", env!("CARGO_PKG_VERSION")).to_owned());
    // Dictionaries pay off for the repetitive columns (ids, actions, ports of services, and
    // addresses: a VPC's flows come from and go to a bounded set of them, and a dictionary
    // makes writing faster and a filtered scan's late materialization cheaper; bench/flowlogs
    // 1.39 → 1.60 M rec/s, REJECT query 0.41 → 0.36 s); for counters and times they are built
    // only to be dropped for plain encoding.
    for f in batch.format.fields() {
        if !dictionary(*f) {
            props = props.set_column_dictionary_enabled(ColumnPath::from(f.column()), false);
        }
    }
    let props = props.build();
    // About what Snappy leaves of a record with a handful of fields: few reallocations.
    let mut out =
        Vec::with_capacity(4096 + batch.records.len() * (8 + 3 * batch.format.fields().len()));
    let mut writer = ArrowWriter::try_new(&mut out, schema.clone(), Some(props))?;
    for chunk in batch.records.chunks(ROW_GROUP_ROWS) {
        let columns: Vec<ArrayRef> = batch
            .format
            .fields()
            .iter()
            .map(|f| column(*f, chunk))
            .collect();
        writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
    }
    writer.close()?;
    Ok(out)
}

/// Whether `field`'s column is dictionary-encoded (few distinct values per row group).
fn dictionary(field: Field) -> bool {
    !matches!(
        field,
        Field::Packets | Field::Bytes | Field::Start | Field::End
    )
}

/// `u64` → `int64`: values past `i64::MAX` (never seen in practice) are clamped.
fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The validity of a column (`None` when every value is there).
fn validity<T>(records: &[FlowRecord], f: impl Fn(&FlowRecord) -> Option<T>) -> Option<NullBuffer> {
    let nulls = NullBuffer::from_iter(records.iter().map(|r| f(r).is_some()));
    (nulls.null_count() > 0).then_some(nulls)
}

// Values and validity are built separately: two tight loops, no per-value builder calls.
fn ints32(records: &[FlowRecord], f: impl Fn(&FlowRecord) -> Option<i32>) -> ArrayRef {
    let values: Vec<i32> = records.iter().map(|r| f(r).unwrap_or(0)).collect();
    Arc::new(Int32Array::new(values.into(), validity(records, f)))
}

fn ints64(records: &[FlowRecord], f: impl Fn(&FlowRecord) -> Option<u64>) -> ArrayRef {
    let values: Vec<i64> = records.iter().map(|r| f(r).map_or(0, i64_of)).collect();
    Arc::new(Int64Array::new(values.into(), validity(records, f)))
}

fn strings<'a>(
    records: &'a [FlowRecord],
    f: impl Fn(&'a FlowRecord) -> Option<&'a str>,
) -> ArrayRef {
    let bytes = records.iter().filter_map(&f).map(str::len).sum();
    let mut b = StringBuilder::with_capacity(records.len(), bytes);
    for r in records {
        b.append_option(f(r));
    }
    Arc::new(b.finish())
}

fn addrs(records: &[FlowRecord], f: impl Fn(&FlowRecord) -> Option<IpAddr>) -> ArrayRef {
    let mut b = StringBuilder::with_capacity(records.len(), records.len() * 15);
    let mut buf = [0u8; 15];
    for r in records {
        match f(r) {
            Some(IpAddr::V4(v4)) => b.append_value(dotted(v4.octets(), &mut buf)),
            Some(ip) => {
                // Writing into the builder's buffer cannot fail.
                let _ = write!(b, "{ip}");
                b.append_value("");
            }
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

/// An IPv4 address in dotted decimal, as `Ipv4Addr`'s `Display` prints it, without the
/// formatting machinery (it is a quarter of the encoding time otherwise).
fn dotted(octets: [u8; 4], buf: &mut [u8; 15]) -> &str {
    let mut n = 0;
    for (i, o) in octets.into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + (o / 10) % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    // Only ASCII digits and dots were written.
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

fn action_str(a: Action) -> &'static str {
    match a {
        Action::Accept => "ACCEPT",
        Action::Reject => "REJECT",
    }
}

fn status_str(s: LogStatus) -> &'static str {
    match s {
        LogStatus::Ok => "OK",
        LogStatus::NoData => "NODATA",
        LogStatus::SkipData => "SKIPDATA",
    }
}

/// The column of `field` for `records`.
fn column(field: Field, records: &[FlowRecord]) -> ArrayRef {
    match field {
        Field::Version => ints32(records, |r| r.version.map(i32::from)),
        Field::AccountId => strings(records, |r| r.account_id.as_deref()),
        Field::InterfaceId => strings(records, |r| r.interface_id.as_deref()),
        Field::SrcAddr => addrs(records, |r| r.srcaddr),
        Field::DstAddr => addrs(records, |r| r.dstaddr),
        Field::SrcPort => ints32(records, |r| r.srcport.map(i32::from)),
        Field::DstPort => ints32(records, |r| r.dstport.map(i32::from)),
        Field::Protocol => ints32(records, |r| r.protocol.map(i32::from)),
        Field::Packets => ints64(records, |r| r.packets),
        Field::Bytes => ints64(records, |r| r.bytes),
        Field::Start => ints64(records, |r| r.start),
        Field::End => ints64(records, |r| r.end),
        Field::Action => strings(records, |r| r.action.map(action_str)),
        Field::LogStatus => strings(records, |r| r.log_status.map(status_str)),
        Field::VpcId => strings(records, |r| r.vpc_id.as_deref()),
        Field::SubnetId => strings(records, |r| r.subnet_id.as_deref()),
        Field::InstanceId => strings(records, |r| r.instance_id.as_deref()),
        Field::TcpFlags => ints32(records, |r| r.tcp_flags.map(i32::from)),
        Field::Type => strings(records, |r| r.traffic_type.as_deref()),
        Field::PktSrcAddr => addrs(records, |r| r.pkt_srcaddr),
        Field::PktDstAddr => addrs(records, |r| r.pkt_dstaddr),
        Field::Region => strings(records, |r| r.region.as_deref()),
        Field::AzId => strings(records, |r| r.az_id.as_deref()),
        Field::SublocationType => strings(records, |r| r.sublocation_type.as_deref()),
        Field::SublocationId => strings(records, |r| r.sublocation_id.as_deref()),
        Field::PktSrcAwsService => strings(records, |r| r.pkt_src_aws_service.as_deref()),
        Field::PktDstAwsService => strings(records, |r| r.pkt_dst_aws_service.as_deref()),
        Field::FlowDirection => strings(records, |r| r.flow_direction.as_deref()),
        Field::TrafficPath => ints32(records, |r| r.traffic_path.map(i32::from)),
        Field::RejectReason => strings(records, |r| r.reject_reason.as_deref()),
    }
}

/// Reads a Parquet object written by [`encode_parquet`] (or by AWS, for the fields Underpass
/// knows): its records, in order. Fields without a column are `None`.
pub fn decode_parquet(bytes: &[u8]) -> Result<Vec<FlowRecord>, ParquetError> {
    decode_parquet_with_format(bytes).map(|(_, records)| records)
}

/// Like [`decode_parquet`], with the format the columns spell.
pub fn decode_parquet_with_format(
    bytes: &[u8],
) -> Result<(FlowLogFormat, Vec<FlowRecord>), ParquetError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::copy_from_slice(bytes))?;
    let schema = builder.schema().clone();
    let mut fields = Vec::with_capacity(schema.fields().len());
    for col in schema.fields() {
        let field = Field::ALL
            .into_iter()
            .find(|f| f.column() == *col.name())
            .filter(|f| !fields.contains(f))
            .ok_or_else(|| ParquetError::UnknownColumn(col.name().chars().take(64).collect()))?;
        let expected = column_type(field);
        if col.data_type() != &expected {
            return Err(ParquetError::ColumnType {
                column: col.name().clone(),
                expected,
                found: col.data_type().clone(),
            });
        }
        fields.push(field);
    }
    let header = fields
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(" ");
    let format = FlowLogFormat::from_header(&header)
        .map_err(|_| ParquetError::UnknownColumn(String::new()))?;
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let mut records = Vec::with_capacity(rows);
    for rb in builder.build()? {
        let rb = rb?;
        let base = records.len();
        records.resize_with(base + rb.num_rows(), FlowRecord::default);
        for (field, array) in fields.iter().zip(rb.columns()) {
            set_column(*field, array.as_ref(), &mut records[base..], base)?;
        }
    }
    Ok((format, records))
}

fn fill_int<T: TryFrom<i64>>(
    field: Field,
    a: &dyn Array,
    records: &mut [FlowRecord],
    base: usize,
    set: impl Fn(&mut FlowRecord, T),
) -> Result<(), ParquetError> {
    let bad = |row: usize, v: i64| ParquetError::Value {
        row: base + row,
        column: field.name(),
        value: v.to_string(),
    };
    // The column types were checked against the schema before.
    if let Some(a) = a.as_any().downcast_ref::<Int32Array>() {
        for (i, (r, v)) in records.iter_mut().zip(a.iter()).enumerate() {
            if let Some(v) = v {
                set(
                    r,
                    T::try_from(i64::from(v)).map_err(|_| bad(i, i64::from(v)))?,
                );
            }
        }
    } else if let Some(a) = a.as_any().downcast_ref::<Int64Array>() {
        for (i, (r, v)) in records.iter_mut().zip(a.iter()).enumerate() {
            if let Some(v) = v {
                set(r, T::try_from(v).map_err(|_| bad(i, v))?);
            }
        }
    }
    Ok(())
}

fn fill_str<T>(
    field: Field,
    a: &dyn Array,
    records: &mut [FlowRecord],
    base: usize,
    parse: impl Fn(&str) -> Option<T>,
    set: impl Fn(&mut FlowRecord, T),
) -> Result<(), ParquetError> {
    let Some(a) = a.as_any().downcast_ref::<StringArray>() else {
        return Ok(());
    };
    for (i, (r, v)) in records.iter_mut().zip(a.iter()).enumerate() {
        if let Some(v) = v {
            let value = parse(v).ok_or_else(|| ParquetError::Value {
                row: base + i,
                column: field.name(),
                value: v.chars().take(64).collect(),
            })?;
            set(r, value);
        }
    }
    Ok(())
}

fn text(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn ip(v: &str) -> Option<IpAddr> {
    IpAddr::from_str(v).ok()
}

fn set_column(
    field: Field,
    a: &dyn Array,
    rs: &mut [FlowRecord],
    base: usize,
) -> Result<(), ParquetError> {
    let f = field;
    match field {
        Field::Version => fill_int(f, a, rs, base, |r, v| r.version = Some(v)),
        Field::AccountId => fill_str(f, a, rs, base, text, |r, v| r.account_id = Some(v)),
        Field::InterfaceId => fill_str(f, a, rs, base, text, |r, v| r.interface_id = Some(v)),
        Field::SrcAddr => fill_str(f, a, rs, base, ip, |r, v| r.srcaddr = Some(v)),
        Field::DstAddr => fill_str(f, a, rs, base, ip, |r, v| r.dstaddr = Some(v)),
        Field::SrcPort => fill_int(f, a, rs, base, |r, v| r.srcport = Some(v)),
        Field::DstPort => fill_int(f, a, rs, base, |r, v| r.dstport = Some(v)),
        Field::Protocol => fill_int(f, a, rs, base, |r, v| r.protocol = Some(v)),
        Field::Packets => fill_int(f, a, rs, base, |r, v| r.packets = Some(v)),
        Field::Bytes => fill_int(f, a, rs, base, |r, v| r.bytes = Some(v)),
        Field::Start => fill_int(f, a, rs, base, |r, v| r.start = Some(v)),
        Field::End => fill_int(f, a, rs, base, |r, v| r.end = Some(v)),
        Field::Action => fill_str(
            f,
            a,
            rs,
            base,
            |v| match v {
                "ACCEPT" => Some(Action::Accept),
                "REJECT" => Some(Action::Reject),
                _ => None,
            },
            |r, v| r.action = Some(v),
        ),
        Field::LogStatus => fill_str(
            f,
            a,
            rs,
            base,
            |v| match v {
                "OK" => Some(LogStatus::Ok),
                "NODATA" => Some(LogStatus::NoData),
                "SKIPDATA" => Some(LogStatus::SkipData),
                _ => None,
            },
            |r, v| r.log_status = Some(v),
        ),
        Field::VpcId => fill_str(f, a, rs, base, text, |r, v| r.vpc_id = Some(v)),
        Field::SubnetId => fill_str(f, a, rs, base, text, |r, v| r.subnet_id = Some(v)),
        Field::InstanceId => fill_str(f, a, rs, base, text, |r, v| r.instance_id = Some(v)),
        Field::TcpFlags => fill_int(f, a, rs, base, |r, v| r.tcp_flags = Some(v)),
        Field::Type => fill_str(f, a, rs, base, text, |r, v| r.traffic_type = Some(v)),
        Field::PktSrcAddr => fill_str(f, a, rs, base, ip, |r, v| r.pkt_srcaddr = Some(v)),
        Field::PktDstAddr => fill_str(f, a, rs, base, ip, |r, v| r.pkt_dstaddr = Some(v)),
        Field::Region => fill_str(f, a, rs, base, text, |r, v| r.region = Some(v)),
        Field::AzId => fill_str(f, a, rs, base, text, |r, v| r.az_id = Some(v)),
        Field::SublocationType => {
            fill_str(f, a, rs, base, text, |r, v| r.sublocation_type = Some(v))
        }
        Field::SublocationId => fill_str(f, a, rs, base, text, |r, v| r.sublocation_id = Some(v)),
        Field::PktSrcAwsService => {
            fill_str(f, a, rs, base, text, |r, v| r.pkt_src_aws_service = Some(v))
        }
        Field::PktDstAwsService => {
            fill_str(f, a, rs, base, text, |r, v| r.pkt_dst_aws_service = Some(v))
        }
        Field::FlowDirection => fill_str(f, a, rs, base, text, |r, v| r.flow_direction = Some(v)),
        Field::TrafficPath => fill_int(f, a, rs, base, |r, v| r.traffic_path = Some(v)),
        Field::RejectReason => fill_str(f, a, rs, base, text, |r, v| r.reject_reason = Some(v)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dotted_prints_as_display_does() {
        let mut buf = [0u8; 15];
        for o in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 0, 100, 9],
            [1, 20, 199, 250],
            [172, 31, 16, 139],
        ] {
            let want = std::net::Ipv4Addr::from(o).to_string();
            assert_eq!(super::dotted(o, &mut buf), want);
        }
    }
}
