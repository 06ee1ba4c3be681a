//! Underpass flow logs: records in the VPC Flow Logs formats that existing tools already read.
//!
//! - The record model: every field AWS documents (the default version 2 format and the custom
//!   fields of versions 3 to 8 that make sense here), custom format strings exactly as AWS
//!   accepts them (`${version} ${srcaddr} …`), `-` for missing values, `NODATA` and `SKIPDATA`
//!   records, and printing and parsing that round-trip.
//! - What a flow log asks for ([`TrafficType`], aggregation intervals, [`Destination`], with the
//!   checks the control plane and the agent both apply).
//! - The [`Aggregator`]: flows in, one [`Batch`] per flow log and window out; sans-IO, with the
//!   clocks injected.
//! - AWS's S3 object layout and the gzip text format ([`object_key`], [`encode_text`],
//!   [`decode_text`]), and the [`Sink`] trait with the local-directory [`FileSink`].
//!
//! It holds no threads and no async runtime; the agent drives it.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod aggregate;
mod field;
mod format;
mod layout;
mod record;
mod sink;
mod spec;

pub use aggregate::{
    tcp_flags, Aggregator, AggregatorStats, Batch, FlowLogSpec, InterfaceInfo, Observation,
    DEFAULT_MAX_RECORDS,
};
pub use field::Field;
pub use format::{FlowLogFormat, FormatError, DEFAULT_FORMAT};
pub use layout::{decode_text, encode_text, object_key, DecodeError, MAX_TEXT_OBJECT};
pub use record::{Action, FlowRecord, LogStatus, ParseError};
pub use sink::{FileSink, Sink, SinkError};
pub use spec::{
    aggregation_interval, check_relative, Destination, SpecError, TrafficType,
    AGGREGATION_INTERVALS,
};

#[cfg(test)]
mod aggregate_tests;
