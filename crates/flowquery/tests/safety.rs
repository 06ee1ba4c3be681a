//! RELIABILITY item 95: malicious SQL. DDL, DML, `SET`, several statements, file tables and a
//! huge cross join: each gets a clear error, and nothing is written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use underpass_flowlogs::Action::Accept;
use underpass_flowquery::{query, Destination, Limits, QueryError, QueryOptions};

fn dest() -> (tempfile::TempDir, Destination) {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(
        "fl-aaaa",
        underpass_flowlogs::DEFAULT_FORMAT,
        DAY_25,
        vec![rec("10.0.0.1", "10.0.1.1", 40000, 22, 6, 1000, Accept)],
    );
    write_text(dir.path(), &b);
    let d = Destination::Local(dir.path().to_owned());
    (dir, d)
}

async fn run(dest: &Destination, sql: &str, limits: Limits) -> Result<usize, QueryError> {
    let options = QueryOptions {
        limits,
        ..QueryOptions::default()
    };
    query(dest, sql, &options)
        .await
        .map(|b| b.iter().map(|b| b.num_rows()).sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_dml_and_statements_are_refused() {
    let (dir, dest) = dest();
    let target = dir.path().join("copied");
    let copy = format!("COPY (SELECT 1) TO '{}'", target.display());
    for sql in [
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/'",
        copy.as_str(),
        "COPY (SELECT 1) TO '/tmp/x'",
        "INSERT INTO vpc_flow_logs (srcaddr) VALUES ('1.2.3.4')",
        "SET datafusion.execution.batch_size = 1",
        "SELECT 1; SELECT 2",
        "DROP TABLE vpc_flow_logs",
        "CREATE TABLE t AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "SHOW TABLES",
        "RESET datafusion.execution.batch_size",
    ] {
        let got = run(&dest, sql, Limits::default()).await;
        let Err(e @ QueryError::Refused(_)) = &got else {
            panic!("{sql}: {got:?}")
        };
        assert!(e.is_bad_query());
        let msg = e.to_string();
        assert!(
            msg.starts_with("refused: ") && msg.contains("only one read-only query"),
            "{sql}: {msg}"
        );
    }
    assert!(!target.exists(), "COPY wrote a file");
    assert!(
        !std::path::Path::new("/tmp/x").exists(),
        "COPY wrote /tmp/x"
    );
    // The table is still there and unchanged.
    assert_eq!(
        run(&dest, "SELECT * FROM vpc_flow_logs", Limits::default()).await,
        Ok(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_flow_log_table_is_visible() {
    let (_dir, dest) = dest();
    for sql in [
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM 'file:///etc/passwd'",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM objects_2026_11_25",
        "SELECT * INTO t2 FROM vpc_flow_logs",
    ] {
        let got = run(&dest, sql, Limits::default()).await;
        let Err(e) = &got else {
            panic!("{sql}: {got:?}")
        };
        assert!(e.is_bad_query(), "{sql}: {e}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }
    let Err(QueryError::Sql(msg)) =
        run(&dest, "SELECT * FROM '/etc/passwd'", Limits::default()).await
    else {
        panic!()
    };
    assert!(msg.contains("not found"), "{msg}");
    // Bad SQL is a bad query too.
    let Err(e) = run(&dest, "SELEC srcaddr FROM vpc_flow_logs", Limits::default()).await else {
        panic!()
    };
    assert!(matches!(e, QueryError::Sql(_)), "{e}");
}

const CROSS_JOIN: &str = "WITH a AS (SELECT value AS v FROM generate_series(1, 1000000)) \
    SELECT count(*) FROM a AS x CROSS JOIN a AS y";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_cross_join_is_cancelled_at_the_time_limit() {
    let (_dir, dest) = dest();
    let limits = Limits {
        timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let got = run(&dest, CROSS_JOIN, limits).await;
    assert_eq!(got, Err(QueryError::Timeout(Duration::from_secs(2))));
    assert_eq!(
        got.unwrap_err().to_string(),
        "query cancelled at the time limit of 2s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_join_is_cancelled_at_the_memory_limit() {
    let (_dir, dest) = dest();
    let limits = Limits {
        memory: 1 << 20,
        timeout: Duration::from_secs(120),
    };
    // A hash join builds its 10^6-row side in memory: far over 1 MiB.
    let sql = "WITH a AS (SELECT value AS v FROM generate_series(1, 1000000)) \
        SELECT count(*) FROM a AS x JOIN a AS y ON x.v = y.v";
    let got = run(&dest, sql, limits).await;
    let Err(
        e @ QueryError::Memory {
            limit: 1_048_576, ..
        },
    ) = &got
    else {
        panic!("{got:?}")
    };
    assert!(!e.is_bad_query());
    assert!(
        e.to_string()
            .starts_with("query cancelled at the memory limit of 1048576 bytes"),
        "{e}"
    );
    // The result counts too: a result larger than the limit fails.
    let got = run(
        &dest,
        "SELECT value FROM generate_series(1, 1000000)",
        limits,
    )
    .await;
    assert!(matches!(got, Err(QueryError::Memory { .. })), "{got:?}");
}
