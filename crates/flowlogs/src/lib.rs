//! Underpass flow logs: records in the VPC Flow Logs formats that existing tools already read.
//!
//! This first part is the record model: every field AWS documents (the default version 2
//! format and the custom fields of versions 3 to 8 that make sense here), custom format
//! strings exactly as AWS accepts them (`${version} ${srcaddr} …`), `-` for missing values,
//! `NODATA` and `SKIPDATA` records, and printing and parsing that round-trip. Pure: no I/O.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod field;
mod format;
mod record;

pub use field::Field;
pub use format::{FlowLogFormat, FormatError, DEFAULT_FORMAT};
pub use record::{Action, FlowRecord, LogStatus, ParseError};
