//! RELIABILITY item 92 (huge volume): 1.2 million flows, what 20,000 connections/s bring in a
//! minute, offered to the agent's flow-log writer as fast as this test can make them (faster
//! than that rate), written as Parquet with 1 s windows. The writer keeps up or sheds with
//! counts: every record is in an object or counted as skipped, behind a SKIPDATA record; the
//! objects read back, with the same counts, in DuckDB and pyarrow; and memory stays bounded.
//!
//! A test binary of its own: the peak resident set it checks is this process's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{event_from, state_with};
use underpass_agent::{FlowLogSettings, FlowLogWriter};
use underpass_dataplane::{FlowAction, FlowSink};
use underpass_flowlogs::{decode_parquet, LogStatus};

/// 20,000 connections/s for 60 s.
const FLOWS: u64 = 1_200_000;
/// The load stops here even if not every flow was offered (a slow machine).
const LOAD_LIMIT: Duration = Duration::from_secs(60);
/// How long the final flush may take (Parquet encoding in a debug build is slow).
const FLUSH_WAIT: Duration = Duration::from_secs(300);
/// The default format (v2).
const FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";
/// What the bounds allow the peak resident set to grow by: the aggregator's window
/// (100,000 records), the spool (here 100,000 records) and the encoder's buffers, each record
/// a few hundred bytes. Holding all 2.4 million records would take well over a gigabyte.
const MEMORY_BOUND: u64 = 300 << 20;

/// `VmHWM` of this process, in bytes: the peak resident set so far.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    kib * 1024
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                assert!(
                    p.to_string_lossy().ends_with(".log.parquet"),
                    "only finished objects are visible: {}",
                    p.display()
                );
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// (OK records, all records) as DuckDB counts them, and all records as pyarrow reads them.
fn python_counts(dir: &Path) -> (u64, u64, u64) {
    let script = r#"
import glob, sys
import duckdb
import pyarrow.parquet as pq
files = sorted(glob.glob(sys.argv[1] + "/**/*.parquet", recursive=True))
ok, total = duckdb.execute(
    "SELECT count(*) FILTER (WHERE log_status = 'OK'), count(*) FROM read_parquet(?)",
    [files]).fetchone()
rows = sum(pq.read_table(f).num_rows for f in files)
print(ok, total, rows)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .expect("python3 (scripts/test installs duckdb and pyarrow)");
    assert!(
        out.status.success(),
        "DuckDB/pyarrow could not read the objects: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let n: Vec<u64> = text
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(n.len(), 3, "{text}");
    (n[0], n[1], n[2])
}

#[test]
fn a_million_flows_are_written_or_counted_and_memory_stays_bounded() {
    let root = tempfile::tempdir().unwrap();
    let mut settings = FlowLogSettings::new(root.path().into());
    settings.interval_override = Some(Duration::from_secs(1));
    settings.spool_records = 100_000;
    let writer = FlowLogWriter::start(settings).unwrap();
    writer.apply(&state_with(
        ("file", "vol"),
        "ALL",
        FORMAT,
        ("parquet", false, false),
    ));
    let sink = writer.sink();
    let before = peak_rss();
    let started = Instant::now();
    let mut offered = 0u64;
    for i in 0..FLOWS {
        if i % 4096 == 0 && started.elapsed() > LOAD_LIMIT {
            break;
        }
        // Distinct 5-tuples: each flow is a record of its own in each direction.
        let host = i >> 8;
        let src = SocketAddr::new(
            [127, 1, (host >> 8) as u8, (host & 0xff) as u8].into(),
            1024 + (i & 0xff) as u16,
        );
        sink.record(event_from(src, i, FlowAction::Accept));
        offered += 1;
    }
    let load = started.elapsed();
    assert!(writer.flush(FLUSH_WAIT), "the final flush did not finish");
    let peak = peak_rss();
    writer.shutdown();
    let stats = writer.stats();

    let dir = root.path().join("vol");
    let files = parquet_files(&dir);
    let (mut ok, mut total, mut skipdata) = (0u64, 0u64, 0u64);
    for f in &files {
        let records = decode_parquet(&std::fs::read(f).unwrap()).unwrap();
        total += records.len() as u64;
        ok += records
            .iter()
            .filter(|r| r.log_status == Some(LogStatus::Ok))
            .count() as u64;
        skipdata += records
            .iter()
            .filter(|r| r.log_status == Some(LogStatus::SkipData))
            .count() as u64;
    }
    eprintln!(
        "offered {offered} flows in {load:?}; {} objects, {ok} OK records, {} skipped, \
         {skipdata} SKIPDATA records; peak RSS {} MiB → {} MiB",
        files.len(),
        stats.skipped,
        before >> 20,
        peak >> 20
    );
    assert!(
        offered >= FLOWS / 10,
        "only {offered} flows offered in {load:?}"
    );
    // Accepted flows: an ingress and an egress record each. None is lost without a count.
    assert_eq!(ok + stats.skipped, 2 * offered, "records unaccounted for");
    assert!(ok > 0 && files.len() > 1, "the writer wrote along the way");
    assert_eq!(
        stats.records, total,
        "the writer's count is what is on disk"
    );
    assert_eq!(
        stats.skipped > 0,
        skipdata > 0,
        "shedding, and only shedding, is reported with SKIPDATA"
    );
    let (duck_ok, duck_total, arrow_rows) = python_counts(&dir);
    assert_eq!((duck_ok, duck_total), (ok, total), "DuckDB reads the same");
    assert_eq!(arrow_rows, total, "pyarrow reads the same");
    assert!(
        peak.saturating_sub(before) < MEMORY_BOUND,
        "peak RSS grew by {} MiB",
        (peak - before) >> 20
    );
}
