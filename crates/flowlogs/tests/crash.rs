//! RELIABILITY item 93: `kill -9` while Parquet objects are being written through [`FileSink`],
//! many times. Afterwards every object a reader would pick up (`*.log.parquet`, `*.log.gz`)
//! decodes fully, and every other file is a hidden temporary one.
//!
//! The writer is this test binary itself, re-run with [`CHILD_ENV`] set: it then runs only
//! [`crash_child`], which writes objects in a loop until it is killed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use underpass_flowlogs::{
    decode_parquet, encode_parquet, Batch, Destination, DestinationOptions, FileFormat, FileSink,
    FlowLogFormat, FlowRecord, Sink, STALE_TEMP,
};

/// Set (to the flow-log root) in the re-run child.
const CHILD_ENV: &str = "UNDERPASS_FLOWLOGS_CRASH_CHILD";

fn batch(n: usize, seed: usize) -> Batch {
    let format = FlowLogFormat::parse("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} ${flow-direction}").unwrap();
    let records = (0..n)
        .map(|i| {
            let line = format!(
                "5 123456789012 eni-0{:016x} 10.{}.{}.{} 172.31.0.9 {} 443 6 {} {} 1700000000 1700000060 ACCEPT OK vpc-0123456789abcdef0 ingress",
                seed,
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255,
                1024 + (i % 60000),
                i % 97 + 1,
                (i * 131) % 100_000,
            );
            FlowRecord::parse(&line, &format).unwrap()
        })
        .collect();
    Batch {
        flow_log_id: "fl-0123456789abcdef0".into(),
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        destination: Destination::File { dir: "dev".into() },
        options: DestinationOptions {
            file_format: FileFormat::Parquet,
            ..DestinationOptions::default()
        },
        format,
        start: 1_700_000_000,
        end: 1_700_000_060,
        records,
    }
}

/// The child: writes Parquet objects forever (bounded to 60 s should the parent vanish). Object
/// names carry their record count; one key is also rewritten again and again. It prints
/// `writing` once its first put (of a key of its own) has returned.
#[test]
#[ignore = "the writer process of kill_9_while_writing_parquet_…, which runs it"]
fn crash_child() {
    let root = std::env::var_os(CHILD_ENV).expect("run by its parent test only");
    let sink = FileSink::new(Path::new(&root), &Destination::File { dir: "dev".into() }).unwrap();
    let pid = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Encoded once, so that nearly all of the child's time goes to puts: the kills land in them.
    let bodies: Vec<(usize, Vec<u8>)> = [200, 2_000, 8_000, 20_000]
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, encode_parquet(&batch(n, i)).unwrap()))
        .collect();
    let mut announced = false;
    for seq in 0usize.. {
        let (n, body) = &bodies[seq % bodies.len()];
        let key = if seq % 3 == 2 {
            "AWSLogs/123456789012/vpcflowlogs/us-east-1/same.log.parquet".to_owned()
        } else {
            format!("AWSLogs/123456789012/vpcflowlogs/us-east-1/obj-{pid}-{seq}-{n}.log.parquet")
        };
        sink.put(&key, body).unwrap();
        if !announced {
            println!("writing");
            announced = true;
        }
        assert!(
            Instant::now() < deadline,
            "the parent never killed this child"
        );
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Every visible object decodes fully (and holds the records its name says); every other
/// file is hidden. Objects already checked (same path, size and mtime) are skipped. Returns
/// (visible objects, hidden leftovers).
fn check(root: &Path, seen: &mut HashSet<(PathBuf, u64, SystemTime)>) -> (usize, usize) {
    let (mut visible, mut hidden) = (0, 0);
    for p in files(root) {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') {
            hidden += 1;
            continue;
        }
        assert!(
            name.ends_with(".log.parquet"),
            "a file a reader may pick up that is not an object: {}",
            p.display()
        );
        visible += 1;
        let meta = std::fs::metadata(&p).unwrap();
        if !seen.insert((p.clone(), meta.len(), meta.modified().unwrap())) {
            continue;
        }
        let records = decode_parquet(&std::fs::read(&p).unwrap())
            .unwrap_or_else(|e| panic!("{} does not decode: {e}", p.display()));
        if let Some(n) = name
            .strip_suffix(".log.parquet")
            .and_then(|s| s.rsplit('-').next())
            .and_then(|n| n.parse::<usize>().ok())
        {
            assert_eq!(records.len(), n, "{}", p.display());
        }
        assert!(!records.is_empty(), "{}", p.display());
    }
    (visible, hidden)
}

#[test]
fn kill_9_while_writing_parquet_never_leaves_a_visible_partial_object() {
    let root = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut kills = 0;
    let mut seen = HashSet::new();
    for i in 0..30u64 {
        if Instant::now() > deadline {
            break;
        }
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--ignored", "--nocapture"])
            .env(CHILD_ENV, root.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until it has written once, then let it run a varying while and kill it.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "the child ended");
            if line.contains("writing") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis((i * 37) % 100));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "killed while still writing");
        kills += 1;
        check(root.path(), &mut seen);
    }
    assert!(kills >= 10, "only {kills} kills in the time bound");
    let (visible, hidden) = check(root.path(), &mut seen);
    // Each child announced itself after its first put returned: that object must be there.
    assert!(visible >= kills, "{visible} objects after {kills} kills");
    eprintln!("{kills} kills: {visible} complete objects, {hidden} hidden temporary files left");

    // The next writer on the directory removes the leftovers once they are stale, and leaves
    // a young temporary file (another writer's put in flight) and every object alone.
    let long_ago = SystemTime::now() - STALE_TEMP - Duration::from_secs(60);
    for p in files(root.path()) {
        if p.file_name().unwrap().to_string_lossy().starts_with('.') {
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(long_ago).unwrap();
        }
    }
    let young = root.path().join("dev/AWSLogs/.young.log.parquet.tmp-1-1");
    std::fs::write(&young, b"in flight").unwrap();
    let sink = FileSink::new(root.path(), &Destination::File { dir: "dev".into() }).unwrap();
    sink.put(
        "AWSLogs/after.log.parquet",
        &encode_parquet(&batch(10, 0)).unwrap(),
    )
    .unwrap();
    let left: Vec<PathBuf> = files(root.path())
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(left, vec![young], "only the young temporary file is left");
    let (after, _) = check(root.path(), &mut seen);
    assert_eq!(after, visible + 1, "every object is still there");
}
