//! What a flow log asks for: which traffic, how often, in which format, where to, and how the
//! objects are laid out there ([`DestinationOptions`]).
//!
//! The control plane validates these when a flow log is created; the agent validates the
//! destination again before it writes anything (a path that escapes the flow-log root is never
//! opened, whatever the state says: RELIABILITY item 9).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which records a flow log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrafficType {
    /// Admitted flows only.
    Accept,
    /// Refused flows only.
    Reject,
    /// Both.
    All,
}

impl TrafficType {
    /// `ACCEPT`, `REJECT` or `ALL`, as EC2 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "ACCEPT",
            Self::Reject => "REJECT",
            Self::All => "ALL",
        }
    }

    /// Whether a record with `action` is kept.
    pub fn keeps(self, action: crate::Action) -> bool {
        matches!(
            (self, action),
            (Self::All, _)
                | (Self::Accept, crate::Action::Accept)
                | (Self::Reject, crate::Action::Reject)
        )
    }
}

impl fmt::Display for TrafficType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TrafficType {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s {
            "ACCEPT" => Ok(Self::Accept),
            "REJECT" => Ok(Self::Reject),
            "ALL" => Ok(Self::All),
            other => Err(SpecError::TrafficType(clip(other))),
        }
    }
}

/// The aggregation intervals EC2 allows, in seconds.
pub const AGGREGATION_INTERVALS: [u32; 2] = [60, 600];

/// Checks a `MaxAggregationInterval` (60 or 600 seconds).
pub fn aggregation_interval(secs: i64) -> Result<Duration, SpecError> {
    match u32::try_from(secs) {
        Ok(s) if AGGREGATION_INTERVALS.contains(&s) => Ok(Duration::from_secs(u64::from(s))),
        _ => Err(SpecError::Interval(secs)),
    }
}

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A directory under the flow-log root of the agent (or of `underpass dev`): relative,
    /// one or more names of `[A-Za-z0-9._-]` separated by `/`, never `.` or `..`.
    File {
        /// The checked relative path.
        dir: String,
    },
    /// An S3 bucket, with an optional key prefix (`arn:aws:s3:::bucket/prefix`).
    S3 {
        /// The bucket name.
        bucket: String,
        /// The key prefix, without leading or trailing `/` (may be empty).
        prefix: String,
    },
}

/// The longest accepted file destination or S3 prefix.
const MAX_PATH: usize = 512;

impl Destination {
    /// Parses `LogDestinationType` and `LogDestination`.
    pub fn parse(kind: &str, value: &str) -> Result<Self, SpecError> {
        match kind {
            "file" => Ok(Self::File {
                dir: check_relative(value)?,
            }),
            "s3" => parse_s3(value),
            "cloud-watch-logs" | "kinesis-data-firehose" => {
                Err(SpecError::UnsupportedDestination(kind.to_owned()))
            }
            other => Err(SpecError::DestinationType(clip(other))),
        }
    }

    /// `file` or `s3` (the `LogDestinationType`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::File { .. } => "file",
            Self::S3 { .. } => "s3",
        }
    }

    /// The `LogDestination` as it was given (normalized: an S3 ARN, or the relative path).
    pub fn value(&self) -> String {
        match self {
            Self::File { dir } => dir.clone(),
            Self::S3 { bucket, prefix } if prefix.is_empty() => format!("arn:aws:s3:::{bucket}"),
            Self::S3 { bucket, prefix } => format!("arn:aws:s3:::{bucket}/{prefix}"),
        }
    }
}

/// The file format of a flow log's objects (EC2's `DestinationOptions.FileFormat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Gzip text: a header line, then one space-separated record per line (`.log.gz`).
    #[default]
    PlainText,
    /// Apache Parquet, Snappy-compressed, one column per field (`.log.parquet`).
    Parquet,
}

impl FileFormat {
    /// `plain-text` or `parquet`, as EC2 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlainText => "plain-text",
            Self::Parquet => "parquet",
        }
    }

    /// The end of the object names: `.log.gz` or `.log.parquet`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::PlainText => ".log.gz",
            Self::Parquet => ".log.parquet",
        }
    }
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FileFormat {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s {
            "plain-text" => Ok(Self::PlainText),
            "parquet" => Ok(Self::Parquet),
            other => Err(SpecError::FileFormat(clip(other))),
        }
    }
}

/// How objects are written (EC2's `DestinationOptions`); the default is EC2's: plain text,
/// AWS's classic prefixes, one prefix per day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DestinationOptions {
    /// `FileFormat`.
    pub file_format: FileFormat,
    /// `HiveCompatiblePartitions`: `aws-account-id=…/aws-service=…/…/year=…/month=…/day=…`.
    pub hive_compatible_partitions: bool,
    /// `PerHourPartition`: an hour level below the day.
    pub per_hour_partition: bool,
}

impl DestinationOptions {
    /// Parses the three settings (the file format as EC2 spells it).
    pub fn parse(
        file_format: &str,
        hive_compatible_partitions: bool,
        per_hour_partition: bool,
    ) -> Result<Self, SpecError> {
        Ok(Self {
            file_format: file_format.parse()?,
            hive_compatible_partitions,
            per_hour_partition,
        })
    }
}

fn parse_s3(value: &str) -> Result<Destination, SpecError> {
    let bad = || SpecError::S3Arn(clip(value));
    let rest = value.strip_prefix("arn:aws:s3:::").ok_or_else(bad)?;
    let (bucket, prefix) = match rest.split_once('/') {
        Some((b, p)) => (b, p.trim_end_matches('/')),
        None => (rest, ""),
    };
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
        && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric()
        && !bucket.contains("..");
    if !bucket_ok {
        return Err(bad());
    }
    if !prefix.is_empty() {
        check_key_prefix(prefix)?;
    }
    Ok(Destination::S3 {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
    })
}

/// An S3 key prefix: printable ASCII, no `.`/`..` or empty segments, not `AWSLogs` (AWS adds it).
fn check_key_prefix(prefix: &str) -> Result<(), SpecError> {
    let bad = |why: &'static str| SpecError::Path {
        value: clip(prefix),
        why,
    };
    if prefix.len() > MAX_PATH {
        return Err(bad("is too long"));
    }
    if !prefix.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return Err(bad(
            "may only hold printable ASCII characters other than \\",
        ));
    }
    for seg in prefix.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad("may not hold empty, . or .. segments"));
        }
    }
    if prefix == "AWSLogs" || prefix.starts_with("AWSLogs/") {
        return Err(bad("may not start with AWSLogs (it is added to every key)"));
    }
    Ok(())
}

/// A relative directory under a root: names of `[A-Za-z0-9._-]` joined by `/`, none of them
/// `.` or `..`, no absolute path, no NUL, at most 512 characters (RELIABILITY item 9).
pub fn check_relative(value: &str) -> Result<String, SpecError> {
    let bad = |why: &'static str| SpecError::Path {
        value: clip(value),
        why,
    };
    if value.is_empty() {
        return Err(bad("is empty"));
    }
    if value.len() > MAX_PATH {
        return Err(bad("is too long"));
    }
    if value.starts_with('/') {
        return Err(bad("must be relative to the flow-log root"));
    }
    let value = value.trim_end_matches('/');
    for seg in value.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad("may not hold empty, . or .. segments"));
        }
        if !seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad(
                "may only hold letters, digits, '.', '_' and '-' between slashes",
            ));
        }
    }
    Ok(value.to_owned())
}

fn clip(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Why a flow-log setting was refused (EC2 answers these with `InvalidParameter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Not ACCEPT, REJECT or ALL.
    #[error("TrafficType {0:?} is not valid: expected ACCEPT, REJECT or ALL")]
    TrafficType(String),
    /// Not 60 or 600.
    #[error("MaxAggregationInterval {0} is not valid: expected 60 or 600")]
    Interval(i64),
    /// An unknown destination type.
    #[error("LogDestinationType {0:?} is not valid: expected s3 or file")]
    DestinationType(String),
    /// A destination type AWS has and Underpass does not.
    #[error("LogDestinationType {0} is not supported by Underpass: use s3 or file")]
    UnsupportedDestination(String),
    /// Not `arn:aws:s3:::bucket[/prefix]` with a valid bucket name.
    #[error("LogDestination {0:?} is not an S3 bucket ARN (arn:aws:s3:::bucket[/prefix])")]
    S3Arn(String),
    /// Not `plain-text` or `parquet`.
    #[error("FileFormat {0:?} is not valid: expected plain-text or parquet")]
    FileFormat(String),
    /// A path that could escape its root or is otherwise unusable.
    #[error("LogDestination {value:?} {why}")]
    Path {
        /// The refused value (at most 64 characters, controls replaced).
        value: String,
        /// Why.
        why: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_types_and_intervals() {
        assert_eq!("ALL".parse::<TrafficType>().unwrap(), TrafficType::All);
        assert!("all".parse::<TrafficType>().is_err());
        assert!(TrafficType::Accept.keeps(crate::Action::Accept));
        assert!(!TrafficType::Accept.keeps(crate::Action::Reject));
        assert!(TrafficType::Reject.keeps(crate::Action::Reject));
        assert!(TrafficType::All.keeps(crate::Action::Reject));
        assert_eq!(aggregation_interval(60).unwrap(), Duration::from_secs(60));
        assert_eq!(aggregation_interval(600).unwrap(), Duration::from_secs(600));
        for bad in [0, 59, 61, 300, -60, i64::MAX] {
            assert_eq!(aggregation_interval(bad), Err(SpecError::Interval(bad)));
        }
    }

    #[test]
    fn destination_options() {
        let d = DestinationOptions::default();
        assert_eq!(d.file_format, FileFormat::PlainText);
        assert!(!d.hive_compatible_partitions && !d.per_hour_partition);
        let p = DestinationOptions::parse("parquet", true, false).unwrap();
        assert_eq!(p.file_format, FileFormat::Parquet);
        assert!(p.hive_compatible_partitions && !p.per_hour_partition);
        for f in [FileFormat::PlainText, FileFormat::Parquet] {
            assert_eq!(f.as_str().parse::<FileFormat>().unwrap(), f);
            assert_eq!(f.to_string(), f.as_str());
        }
        assert_eq!(FileFormat::PlainText.suffix(), ".log.gz");
        assert_eq!(FileFormat::Parquet.suffix(), ".log.parquet");
        for bad in ["", "Parquet", "plain_text", "text", "csv", "parquet\n"] {
            assert_eq!(
                DestinationOptions::parse(bad, false, false),
                Err(SpecError::FileFormat(
                    bad.chars()
                        .map(|c| if c.is_control() { '?' } else { c })
                        .collect()
                )),
                "{bad:?}"
            );
        }
        let e = "ORC".parse::<FileFormat>().unwrap_err().to_string();
        assert!(e.contains("plain-text or parquet"), "{e}");
    }

    #[test]
    fn file_destinations_never_escape_the_root() {
        for ok in ["dev", "team-a/vpc_1", "logs.v2/", "a/b/c"] {
            let d = Destination::parse("file", ok).unwrap();
            assert_eq!(d.kind(), "file");
            assert_eq!(d.value(), ok.trim_end_matches('/'));
        }
        for bad in [
            "",
            "/etc",
            "../x",
            "a/../../x",
            "a/./b",
            ".",
            "..",
            "a//b",
            "a\0b",
            "a b",
            "a\nb",
            "c:\\x",
            "%2e%2e",
            &"a".repeat(600),
        ] {
            assert!(
                matches!(Destination::parse("file", bad), Err(SpecError::Path { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn s3_destinations() {
        assert_eq!(
            Destination::parse("s3", "arn:aws:s3:::my-bucket").unwrap(),
            Destination::S3 {
                bucket: "my-bucket".into(),
                prefix: String::new()
            }
        );
        let d = Destination::parse("s3", "arn:aws:s3:::my-bucket/flow/logs/").unwrap();
        assert_eq!(d.value(), "arn:aws:s3:::my-bucket/flow/logs");
        for bad in [
            "my-bucket",
            "arn:aws:s3:::",
            "arn:aws:s3:::ab",
            "arn:aws:s3:::Upper",
            "arn:aws:s3:::-x-",
            "arn:aws:s3:::a..b",
            "arn:aws:s3:::bucket/../x",
            "arn:aws:s3:::bucket/a//b",
            "arn:aws:s3:::bucket/AWSLogs",
            "arn:aws:s3:::bucket/a\nb",
        ] {
            assert!(Destination::parse("s3", bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            Destination::parse("cloud-watch-logs", "x"),
            Err(SpecError::UnsupportedDestination(_))
        ));
        assert!(matches!(
            Destination::parse("ftp", "x"),
            Err(SpecError::DestinationType(_))
        ));
    }
}
