//! Underpass flow logs: records in the VPC Flow Logs formats that existing tools already read.
//!
//! - The record model: every field AWS documents (the default version 2 format and the custom
//!   fields of versions 3 to 8 that make sense here), custom format strings exactly as AWS
//!   accepts them (`${version} ${srcaddr} …`), `-` for missing values, `NODATA` and `SKIPDATA`
//!   records, and printing and parsing that round-trip.
//! - What a flow log asks for ([`TrafficType`], aggregation intervals, [`Destination`], and
//!   EC2's [`DestinationOptions`]: file format and partitions), with the checks the control
//!   plane and the agent both apply.
//! - The [`Aggregator`]: flows in, one [`Batch`] per flow log and window out; sans-IO, with the
//!   clocks injected.
//! - AWS's S3 object layouts ([`object_key`]: the classic prefixes, Hive-compatible ones, per
//!   hour or per day) and both object formats: gzip text ([`encode_text`], [`decode_text`]) and
//!   Parquet with AWS's column names and types ([`encode_parquet`], [`decode_parquet`]).
//! - The synchronous [`Sink`] trait and its two stores, both through `object_store`: the local
//!   directory [`FileSink`] (atomic and durable puts) and the S3-compatible [`S3Sink`] (bounded
//!   retries, one `PutObject` per object).
//!
//! It starts no threads of its own; an [`S3Sink`] owns a current-thread tokio runtime that runs
//! only inside its `put`. The agent drives everything else.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod aggregate;
mod columnar;
mod field;
mod format;
mod layout;
mod record;
mod s3;
mod sink;
mod spec;
mod synthetic;

pub use aggregate::{
    tcp_flags, Aggregator, AggregatorStats, Batch, FlowLogSpec, InterfaceInfo, Observation,
    DEFAULT_MAX_RECORDS,
};
pub use columnar::{
    column_type, decode_parquet, decode_parquet_with_format, encode_parquet, parquet_schema,
    ParquetError, ROW_GROUP_ROWS,
};
pub use field::Field;
pub use format::{FlowLogFormat, FormatError, DEFAULT_FORMAT};
pub use layout::{decode_text, encode_text, object_key, DecodeError, MAX_TEXT_OBJECT};
pub use record::{Action, FlowRecord, LogStatus, ParseError};
pub use s3::{S3Settings, S3Sink, PUT_DEADLINE};
pub use sink::{sweep_stale_temps, FileSink, Sink, SinkError, STALE_TEMP};
pub use spec::{
    aggregation_interval, check_relative, Destination, DestinationOptions, FileFormat, SpecError,
    TrafficType, AGGREGATION_INTERVALS,
};
pub use synthetic::{Synthetic, SYNTHETIC_ACCOUNT};

#[cfg(test)]
mod aggregate_tests;
#[cfg(test)]
mod columnar_tests;
