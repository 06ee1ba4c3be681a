//! `underpass flowlogs query "<SQL>" --destination DIR|s3://bucket/prefix`: SQL over the flow-log
//! objects of a destination (see `underpass_flowquery` for the table and the limits), and
//! `underpass flowlogs generate`: synthetic records written as an agent writes them (for trying
//! queries, and for the benchmark `bench/flowlogs`).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use underpass_flowquery::{
    query, render, Destination, Limits, ObjectFilter, OutputFormat, Progress, QueryOptions,
};

/// Exit code for bad SQL or a refused statement.
const BAD_QUERY: u8 = 2;
/// Exit code for every other failure (destination, objects, limits).
const FAILED: u8 = 1;

/// Arguments of `underpass flowlogs`.
#[derive(clap::Args)]
pub(crate) struct FlowLogsArgs {
    #[command(subcommand)]
    command: FlowLogsCommand,
}

#[derive(clap::Subcommand)]
enum FlowLogsCommand {
    /// Runs one read-only SQL query over the table `vpc_flow_logs`.
    #[command(
        after_help = "The table has the columns of AWS's Athena DDL for flow logs (version, account_id, \
interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, \"end\", action, log_status, \
vpc_id, … traffic_path) and `date`, the day of the object. Filter on date to read only those days:\n  \
underpass flowlogs query \"SELECT srcaddr, SUM(bytes) AS total FROM vpc_flow_logs WHERE date = DATE '2026-11-25' \
GROUP BY srcaddr ORDER BY total DESC LIMIT 10\" --destination ./flow-logs\n\
Only SELECT, WITH, VALUES and EXPLAIN are accepted. Exit codes: 0 ok, 2 bad SQL or a refused statement, 1 other errors."
    )]
    Query(QueryArgs),
    /// Writes synthetic flow records into a directory, in AWS's layout, as an agent would.
    #[command(
        after_help = "Records look like an agent's with 50 interfaces and a few thousand clients: ingress and egress pairs of TCP flows to port 443, 2% REJECTs, a NODATA record per thousand, spread over --days days. The same --seed gives the same records. Prints one JSON line with the records written, the seconds in all and records per second, and the same for encoding and \
writing alone (`write_seconds`, `write_records_per_second`: the writer's rate, without making up \
the records)."
    )]
    Generate(GenerateArgs),
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// The directory to write into (created if missing).
    #[arg(long)]
    out: std::path::PathBuf,
    /// How many records.
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Records per object (one aggregation window each).
    #[arg(long, default_value_t = 1_000_000)]
    per_object: u64,
    /// `parquet` or `plain-text` (gzip).
    #[arg(long, default_value = "parquet")]
    file_format: String,
    /// Hive-compatible partitions (`aws-account-id=…/year=…/month=…/day=…`).
    #[arg(long)]
    hive: bool,
    /// Days the records are spread over (ending on 2026-11-25).
    #[arg(long, default_value_t = 1)]
    days: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(clap::Args)]
struct QueryArgs {
    /// The SQL query.
    sql: String,
    /// A directory, or s3://bucket/prefix (credentials and region from the AWS environment).
    #[arg(long)]
    destination: String,
    /// `table`, `csv` (with a header) or `json` (one array of objects).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Only objects of this account.
    #[arg(long)]
    account: Option<String>,
    /// Only objects of this region.
    #[arg(long)]
    region: Option<String>,
    /// Only objects of this flow log (fl-…).
    #[arg(long)]
    flow_log_id: Option<String>,
    /// Memory for the query, e.g. 512MiB or 2GiB; a query needing more fails.
    #[arg(long, default_value = "512MiB", value_parser = parse_size)]
    memory_limit: usize,
    /// Time for the query, e.g. 60s, 5m or 500ms; a query running longer is cancelled.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    timeout: Duration,
    /// An S3-compatible endpoint, e.g. http://127.0.0.1:9000.
    #[arg(long, env = "UNDERPASS_FLOW_LOGS_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

fn split_unit(s: &str) -> (&str, &str) {
    let at = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (&s[..at], s[at..].trim())
}

fn parse_size(s: &str) -> Result<usize, String> {
    let (n, unit) = split_unit(s.trim());
    let n: usize = n
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 512MiB"))?;
    let scale: usize = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(format!("{s:?}: unknown unit (use KiB, MiB or GiB)")),
    };
    match n.checked_mul(scale) {
        Some(0) | None => Err(format!("{s:?} is not a usable memory limit")),
        Some(v) => Ok(v),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = split_unit(s.trim());
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 60s"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" | "min" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("{s:?}: unknown unit (use ms, s, m or h)")),
    };
    if d.is_zero() {
        return Err(format!("{s:?} is not a usable time limit"));
    }
    Ok(d)
}

/// Shows `read/listed objects` on stderr while a query reads many objects, if stderr is a
/// terminal; the returned task is aborted when the query ends.
fn progress_line(progress: Arc<Progress>) -> Option<tokio::task::JoinHandle<()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut shown = false;
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if progress.listed() >= 20 {
                eprint!("\rread {}/{} objects", progress.read(), progress.listed());
                shown = true;
            } else if shown {
                break;
            }
        }
    }))
}

pub(crate) async fn run(args: FlowLogsArgs) -> anyhow::Result<u8> {
    let args = match args.command {
        FlowLogsCommand::Query(q) => q,
        FlowLogsCommand::Generate(g) => return generate(g),
    };
    let destination = match Destination::parse(&args.destination, args.s3_endpoint.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(FAILED);
        }
    };
    let progress = Arc::new(Progress::default());
    let options = QueryOptions {
        limits: Limits {
            memory: args.memory_limit,
            timeout: args.timeout,
        },
        objects: ObjectFilter {
            account: args.account,
            region: args.region,
            flow_log_id: args.flow_log_id,
        },
        progress: Some(progress.clone()),
    };
    let ticker = progress_line(progress);
    let result = query(&destination, &args.sql, &options).await;
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r\x1b[K");
    }
    let format = match args.output {
        Format::Table => OutputFormat::Table,
        Format::Csv => OutputFormat::Csv,
        Format::Json => OutputFormat::Json,
    };
    match result.and_then(|batches| render(&batches, format)) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error of the query.
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(if e.is_bad_query() { BAD_QUERY } else { FAILED })
        }
    }
}

fn generate(args: GenerateArgs) -> anyhow::Result<u8> {
    use underpass_flowlogs::{
        encode_parquet, encode_text, object_key, Batch, Destination, DestinationOptions,
        FileFormat, FlowLogFormat,
    };
    let file_format = match args.file_format.as_str() {
        "parquet" => FileFormat::Parquet,
        "plain-text" => FileFormat::PlainText,
        other => anyhow::bail!("--file-format {other:?}: use parquet or plain-text"),
    };
    anyhow::ensure!(
        args.records > 0 && args.per_object > 0,
        "--records and --per-object must be positive"
    );
    anyhow::ensure!((1..=366).contains(&args.days), "--days is 1 to 366");
    std::fs::create_dir_all(&args.out)?;
    // Windows end on 2026-11-25; objects are spread evenly over the days.
    const LAST_DAY: u64 = 1_795_564_800; // 2026-11-25T00:00:00Z
    let objects = args.records.div_ceil(args.per_object);
    let mut synthetic = underpass_flowlogs::Synthetic::new(args.seed, 2);
    let started = std::time::Instant::now();
    // Time spent encoding and writing, apart from making up the records: the writer's own rate.
    let mut writing = std::time::Duration::ZERO;
    let (mut written, mut bytes) = (0u64, 0u64);
    for o in 0..objects {
        let day = args.days - 1 - (o * args.days / objects);
        let window = LAST_DAY - day * 86_400 + (o % 144) * 600;
        let n = args.per_object.min(args.records - written);
        let records = (0..n)
            .map(|i| synthetic.record(written + i, window))
            .collect();
        let batch = Batch {
            flow_log_id: "fl-0123456789abcdef0".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            destination: Destination::File {
                dir: "generated".into(),
            },
            options: DestinationOptions {
                file_format,
                hive_compatible_partitions: args.hive,
                ..DestinationOptions::default()
            },
            format: FlowLogFormat::default_v2(),
            start: window,
            end: window + 600,
            records,
        };
        let write_started = std::time::Instant::now();
        let body = match file_format {
            FileFormat::Parquet => encode_parquet(&batch)?,
            FileFormat::PlainText => encode_text(&batch),
        };
        // Unique per object even when windows repeat: the writer name carries the index.
        let key = object_key(&batch, &format!("generate-{o}"));
        let path = args.out.join(&key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &body)?;
        writing += write_started.elapsed();
        written += n;
        bytes += body.len() as u64;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "records": written,
            "objects": objects,
            "bytes": bytes,
            "seconds": secs,
            "records_per_second": written as f64 / secs.max(1e-9),
            "write_seconds": writing.as_secs_f64(),
            "write_records_per_second": written as f64 / writing.as_secs_f64().max(1e-9),
            "file_format": args.file_format,
            "out": args.out.display().to_string(),
        })
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(
            parse_size("0").is_err() && parse_size("5 parsecs").is_err() && parse_size("").is_err()
        );
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("0s").is_err() && parse_duration("soon").is_err());
    }
}
