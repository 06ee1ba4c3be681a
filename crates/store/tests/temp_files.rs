//! A write never needs a temporary file: its savepoint's journal stays in memory. A test binary
//! of its own, because it points SQLite's temporary directory (process-wide) at a directory it
//! watches.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use underpass_store::{Db, Store, StoreConfig};

/// This process's open files under `dir` (a temporary file SQLite unlinks still shows here).
fn open_files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        if let Ok(target) = std::fs::read_link(entry.path()) {
            if target.starts_with(dir) {
                found.push(target.display().to_string());
            }
        }
    }
    found
}

#[tokio::test]
async fn a_write_larger_than_sqlites_spill_threshold_opens_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("sqlite-tmp");
    std::fs::create_dir(&spill).unwrap();
    // SQLite's unix VFS takes its temporary directory from here before TMPDIR and /var/tmp.
    std::env::set_var("SQLITE_TMPDIR", &spill);
    let store = Store::open(&StoreConfig {
        path: dir.path().join("state.db"),
        install_id: "temp-files".into(),
        region: "us-east-1".into(),
        busy_timeout: Duration::from_millis(500),
    })
    .await
    .unwrap();

    // About 1 MiB of rows, committed: pages that exist before the next write's savepoint.
    let mut tx = store.begin().await.unwrap();
    tx.connection()
        .unwrap()
        .execute_batch(
            "CREATE TABLE scratch (k INTEGER PRIMARY KEY, v BLOB NOT NULL); \
             WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 1000) \
             INSERT INTO scratch SELECT k, zeroblob(1000) FROM n;",
        )
        .unwrap();
    tx.commit().await.unwrap();

    // Rewriting them journals every page's prior content in the savepoint: far past the 64 KiB
    // SQLite keeps in memory before it spills to a file, unless temporary storage is memory.
    let mut tx = store.begin().await.unwrap();
    tx.connection()
        .unwrap()
        .execute_batch("UPDATE scratch SET v = randomblob(1000)")
        .unwrap();
    assert_eq!(
        open_files_under(&spill),
        Vec::<String>::new(),
        "the open write transaction holds a temporary file"
    );
    tx.commit().await.unwrap();

    let mut read = store.read().await.unwrap();
    let zeros: i64 = read
        .connection()
        .unwrap()
        .query_row(
            "SELECT count(*) FROM scratch WHERE v = zeroblob(1000)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(zeros, 0, "every row was rewritten and committed");
    assert!(std::fs::read_dir(&spill).unwrap().next().is_none());
}
