//! Object keys in AWS's S3 layout for flow logs, and the text object format (a header line,
//! then one record per line, gzip-compressed).
//!
//! The prefix follows the batch's [`DestinationOptions`](crate::DestinationOptions), as AWS lays them out:
//!
//! ```text
//! default:         AWSLogs/<acct>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/
//! per hour:        AWSLogs/<acct>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/<hh>/
//! Hive-compatible: AWSLogs/aws-account-id=<acct>/aws-service=vpcflowlogs/aws-region=<region>/
//!                      year=<yyyy>/month=<mm>/day=<dd>/[hour=<hh>/]
//! file name:       <acct>_vpcflowlogs_<region>_<flow-log-id>_<yyyymmddThhmmZ>_<hash>.log.gz
//!                  (.log.parquet for Parquet)
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

/// The key of `batch` written by `writer` (an agent id, say), relative to the destination, in
/// the layout its [`DestinationOptions`](crate::DestinationOptions) ask for (see the module documentation).
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
    let (acct, region) = (&batch.account_id, &batch.region);
    let opts = &batch.options;
    let mut key = if opts.hive_compatible_partitions {
        format!(
            "AWSLogs/aws-account-id={acct}/aws-service=vpcflowlogs/aws-region={region}/year={y:04}/month={m:02}/day={d:02}/"
        )
    } else {
        format!("AWSLogs/{acct}/vpcflowlogs/{region}/{y:04}/{m:02}/{d:02}/")
    };
    if opts.per_hour_partition {
        if opts.hive_compatible_partitions {
            key.push_str(&format!("hour={hh:02}/"));
        } else {
            key.push_str(&format!("{hh:02}/"));
        }
    }
    key.push_str(&format!(
        "{acct}_vpcflowlogs_{region}_{id}_{y:04}{m:02}{d:02}T{hh:02}{mm:02}Z_{hash:08x}{suffix}",
        id = batch.flow_log_id,
        hash = (hash >> 32) as u32,
        suffix = opts.file_format.suffix(),
    ));
    key
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Destination, DestinationOptions, FileFormat};

    fn batch(options: DestinationOptions) -> Batch {
        Batch {
            flow_log_id: "fl-0123456789abcdef0".into(),
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
            destination: Destination::File { dir: "dev".into() },
            options,
            format: FlowLogFormat::default_v2(),
            start: 1_700_000_000, // 2023-11-14T22:13:20Z
            end: 1_700_000_060,
            records: vec![],
        }
    }

    fn opts(format: FileFormat, hive: bool, hour: bool) -> DestinationOptions {
        DestinationOptions {
            file_format: format,
            hive_compatible_partitions: hive,
            per_hour_partition: hour,
        }
    }

    const FILE: &str = "123456789012_vpcflowlogs_eu-west-1_fl-0123456789abcdef0_20231114T2213Z_";

    /// Splits a key into its directory and file name, checking the name's hash and suffix.
    fn split<'a>(key: &'a str, suffix: &str) -> &'a str {
        let (dir, name) = key.rsplit_once('/').unwrap();
        let hash = name
            .strip_prefix(FILE)
            .and_then(|n| n.strip_suffix(suffix))
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(hash.len(), 8, "{name}");
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
        dir
    }

    #[test]
    fn every_layout_aws_has() {
        let cases = [
            (
                opts(FileFormat::PlainText, false, false),
                "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2023/11/14",
                ".log.gz",
            ),
            (
                opts(FileFormat::PlainText, false, true),
                "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2023/11/14/22",
                ".log.gz",
            ),
            (
                opts(FileFormat::Parquet, true, false),
                "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2023/month=11/day=14",
                ".log.parquet",
            ),
            (
                opts(FileFormat::Parquet, true, true),
                "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2023/month=11/day=14/hour=22",
                ".log.parquet",
            ),
            (
                opts(FileFormat::Parquet, false, false),
                "AWSLogs/123456789012/vpcflowlogs/eu-west-1/2023/11/14",
                ".log.parquet",
            ),
        ];
        let mut keys = Vec::new();
        for (o, dir, suffix) in cases {
            let b = batch(o);
            let key = object_key(&b, "agent-1");
            assert_eq!(split(&key, suffix), dir, "{o:?}");
            assert_eq!(key, object_key(&b, "agent-1"), "deterministic: {o:?}");
            assert_ne!(key, object_key(&b, "agent-2"), "writers never collide");
            keys.push(key);
        }
        // The default layout is the one the keys always had.
        assert_eq!(
            object_key(&batch(DestinationOptions::default()), "agent-1"),
            keys[0]
        );
    }

    #[test]
    fn single_digit_dates_are_zero_padded() {
        let mut b = batch(opts(FileFormat::PlainText, true, true));
        b.start = 1_704_157_200; // 2024-01-02T01:00:00Z
        let key = object_key(&b, "w");
        assert!(
            key.contains("/year=2024/month=01/day=02/hour=01/") && key.contains("_20240102T0100Z_"),
            "{key}"
        );
    }
}
