//! Finding the objects of a destination: keys in AWS's layout (plain or Hive-compatible, with
//! or without an hour level), parsed into the day, the kind of object, and the flow log.
//!
//! Nothing here opens an object: the day comes from the key alone, so a query filtered by
//! date never reads the objects of other days.

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::ObjectStore;
use time::{Date, Month};

use crate::QueryError;

/// How an object is encoded, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    /// `.log.gz`: gzip text, a header line then one record per line.
    Text,
    /// `.log.parquet`: Parquet, one column per field.
    Parquet,
}

/// One flow-log object found under a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowObject {
    /// Its location in the store.
    pub location: Path,
    /// Its size in bytes.
    pub size: u64,
    /// The day of the directory it is in (the `date` column).
    pub date: Date,
    /// Text or Parquet.
    pub kind: ObjectKind,
    /// The account of the key.
    pub account: String,
    /// The region of the key.
    pub region: String,
    /// The flow log (`fl-…`) of the file name.
    pub flow_log_id: String,
}

/// Which objects to read, by the fields of their keys; `None` reads all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectFilter {
    /// Only this account.
    pub account: Option<String>,
    /// Only this region.
    pub region: Option<String>,
    /// Only this flow log (`fl-…`).
    pub flow_log_id: Option<String>,
}

impl ObjectFilter {
    fn admits(&self, o: &FlowObject) -> bool {
        let ok = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        ok(&self.account, &o.account)
            && ok(&self.region, &o.region)
            && ok(&self.flow_log_id, &o.flow_log_id)
    }
}

/// Strips a Hive `name=` prefix when present; a component named otherwise is refused.
fn part<'a>(component: &'a str, hive_name: &str) -> Option<&'a str> {
    match component.split_once('=') {
        Some((name, value)) if name == hive_name => Some(value),
        Some(_) => None,
        None => Some(component),
    }
}

fn number<T: std::str::FromStr>(s: &str, len: usize) -> Option<T> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parses the part of a key from `AWSLogs/` on:
/// `AWSLogs/<acct>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/[<hh>/]<file>`, each directory
/// optionally Hive-style (`aws-account-id=<acct>/aws-service=vpcflowlogs/aws-region=<r>/
/// year=<yyyy>/month=<mm>/day=<dd>/[hour=<hh>/]`). `None` for anything else (temporary files,
/// other services, stray objects).
pub(crate) fn parse_key(key: &str) -> Option<(Date, ObjectKind, String, String, String)> {
    let parts: Vec<&str> = key.split('/').collect();
    let (file, dirs) = parts.split_last()?;
    let dirs = match dirs {
        ["AWSLogs", rest @ ..] => rest,
        _ => return None,
    };
    let (account, service, region, y, m, d) = match dirs {
        [a, s, r, y, m, d] | [a, s, r, y, m, d, _] => (*a, *s, *r, *y, *m, *d),
        _ => return None,
    };
    if let [.., h] = dirs {
        if dirs.len() == 7 {
            number::<u8>(part(h, "hour")?, 2).filter(|h| *h < 24)?;
        }
    }
    let account = part(account, "aws-account-id")?;
    if part(service, "aws-service")? != "vpcflowlogs" {
        return None;
    }
    let region = part(region, "aws-region")?;
    let year: i32 = number(part(y, "year")?, 4)?;
    let month: u8 = number(part(m, "month")?, 2)?;
    let day: u8 = number(part(d, "day")?, 2)?;
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    if file.starts_with('.') {
        return None; // a writer's temporary file (FileSink writes `.<name>.tmp…`, then renames)
    }
    let (stem, kind) = if let Some(s) = file.strip_suffix(".log.gz") {
        (s, ObjectKind::Text)
    } else if let Some(s) = file.strip_suffix(".log.parquet") {
        (s, ObjectKind::Parquet)
    } else {
        return None;
    };
    // <account>_vpcflowlogs_<region>_<flow-log-id>_<yyyymmddThhmmZ>_<hash>
    let fields: Vec<&str> = stem.split('_').collect();
    let [file_account, "vpcflowlogs", file_region, flow_log_id, _stamp, _hash] = fields[..] else {
        return None;
    };
    if file_account != account || file_region != region {
        return None;
    }
    Some((
        date,
        kind,
        account.to_owned(),
        region.to_owned(),
        flow_log_id.to_owned(),
    ))
}

/// Lists the flow-log objects under `<prefix>/AWSLogs/` that `filter` admits, sorted by key.
pub(crate) async fn list_objects(
    store: &dyn ObjectStore,
    prefix: &Path,
    filter: &ObjectFilter,
) -> Result<Vec<FlowObject>, QueryError> {
    let root = prefix.clone().join("AWSLogs");
    let base = prefix.as_ref().len();
    let metas: Vec<_> = store
        .list(Some(&root))
        .try_collect()
        .await
        .map_err(|e| QueryError::List(one_line(&e.to_string())))?;
    let mut out = Vec::new();
    for meta in metas {
        let key = meta.location.as_ref();
        let rel = key.get(base..).unwrap_or("").trim_start_matches('/');
        let Some((date, kind, account, region, flow_log_id)) = parse_key(rel) else {
            continue;
        };
        let object = FlowObject {
            location: meta.location,
            size: meta.size,
            date,
            kind,
            account,
            region,
            flow_log_id,
        };
        if filter.admits(&object) {
            out.push(object);
        }
    }
    out.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(out)
}

/// An error message on one line.
pub(crate) fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str =
        "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261125T1005Z_0a1b2c3d";

    #[test]
    fn layouts() {
        let date = Date::from_calendar_date(2026, Month::November, 25).unwrap();
        for (key, kind) in [
            (format!("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/25/{FILE}.log.gz"), ObjectKind::Text),
            (format!("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/25/10/{FILE}.log.parquet"), ObjectKind::Parquet),
            (format!("AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=25/{FILE}.log.gz"), ObjectKind::Text),
            (format!("AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=25/hour=10/{FILE}.log.parquet"), ObjectKind::Parquet),
        ] {
            let (d, k, a, r, f) = parse_key(&key).unwrap_or_else(|| panic!("{key}"));
            assert_eq!((d, k, a.as_str(), r.as_str(), f.as_str()), (date, kind, "123456789012", "us-east-1", "fl-0123456789abcdef0"));
        }
        for bad in [
            format!("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/25/.{FILE}.log.gz.tmp1"),
            format!("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/13/25/{FILE}.log.gz"),
            format!("AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/25/{FILE}.log.gz"),
            format!("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/25/{FILE}.txt"),
            format!("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/25/25/{FILE}.log.gz"),
            format!("AWSLogs/999999999999/vpcflowlogs/us-east-1/2026/11/25/{FILE}.log.gz"),
            format!("AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/yr=2026/month=11/day=25/{FILE}.log.gz"),
        ] {
            assert_eq!(parse_key(&bad), None, "{bad}");
        }
    }
}
