//! Object keys in AWS's S3 layout for flow logs, and the text object format (a header line,
//! then one record per line, gzip-compressed).
//!
//! ```text
//! AWSLogs/<account>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/
//!     <account>_vpcflowlogs_<region>_<flow-log-id>_<yyyymmddThhmmZ>_<hash>.log.gz
//! ```
//!
//! The date and timestamp are the batch window's start label (UTC). The hash is not random, as
//! AWS's is: it is derived from the writer's identity, the flow log and the window, so a batch
//! written twice (a retry after a crash or an error) lands on the same key and is never
//! duplicated, and two agents writing the same flow log never collide.

use std::io::{Read, Write};

use time::OffsetDateTime;

use crate::aggregate::Batch;
use crate::format::{FlowLogFormat, FormatError};
use crate::record::{FlowRecord, ParseError};

/// The largest decompressed text object [`decode_text`] reads (a bound against gzip bombs).
pub const MAX_TEXT_OBJECT: u64 = 1 << 30;

/// The key of `batch` written by `writer` (an agent id, say), relative to the destination.
pub fn object_key(batch: &Batch, writer: &str) -> String {
    let t = OffsetDateTime::from_unix_timestamp(i64::try_from(batch.start).unwrap_or(i64::MAX))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (y, m, d, hh, mm) = (t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute());
    let hash = fnv1a(&[
        writer.as_bytes(),
        batch.flow_log_id.as_bytes(),
        &batch.start.to_be_bytes(),
        &batch.end.to_be_bytes(),
    ]);
    format!(
        "AWSLogs/{acct}/vpcflowlogs/{region}/{y:04}/{m:02}/{d:02}/{acct}_vpcflowlogs_{region}_{id}_{y:04}{m:02}{d:02}T{hh:02}{mm:02}Z_{hash:08x}.log.gz",
        acct = batch.account_id,
        region = batch.region,
        id = batch.flow_log_id,
        hash = (hash >> 32) as u32,
    )
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The batch as AWS writes text objects: the header line, one record per line, gzip.
pub fn encode_text(batch: &Batch) -> Vec<u8> {
    let mut text = String::with_capacity(64 + batch.records.len() * 120);
    text.push_str(&batch.format.header());
    text.push('\n');
    for r in &batch.records {
        text.push_str(&r.to_line(&batch.format));
        text.push('\n');
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(text.as_bytes());
    gz.finish().unwrap_or_default()
}

/// Why a text object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not gzip, truncated, or larger than [`MAX_TEXT_OBJECT`].
    #[error("not a readable gzip text object: {0}")]
    Gzip(String),
    /// The header line names an unknown field.
    #[error("bad header line: {0}")]
    Header(#[from] FormatError),
    /// A record line does not parse in the header's format.
    #[error("line {line}: {error}")]
    Record {
        /// 1-based line number.
        line: usize,
        /// Why.
        error: ParseError,
    },
}

/// Reads a gzip text object: its format (from the header line) and its records.
pub fn decode_text(bytes: &[u8]) -> Result<(FlowLogFormat, Vec<FlowRecord>), DecodeError> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_TEXT_OBJECT)
        .read_to_string(&mut text)
        .map_err(|e| DecodeError::Gzip(e.to_string()))?;
    let mut lines = text.lines();
    let format = FlowLogFormat::from_header(lines.next().unwrap_or(""))?;
    let mut records = Vec::new();
    for (i, line) in lines.enumerate() {
        records.push(
            FlowRecord::parse(line, &format)
                .map_err(|error| DecodeError::Record { line: i + 2, error })?,
        );
    }
    Ok((format, records))
}
