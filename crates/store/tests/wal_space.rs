//! The write-ahead log is zero-filled ahead of use where the disk has room for it, and left to
//! grow where it has not (RELIABILITY item 39's small disk).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use underpass_store::{Db, Store, StoreConfig};

/// The store's checkpoint threshold (8,000 frames of a 4 KiB page and a 24-byte header, after
/// the WAL's 32-byte header): what the WAL is zero-filled to.
const FULL_WAL: u64 = 32 + 8000 * (4096 + 24);

async fn open(dir: &Path) -> Store {
    Store::open(&StoreConfig {
        path: dir.join("state.db"),
        install_id: "wal-space".into(),
        region: "us-east-1".into(),
        busy_timeout: Duration::from_millis(500),
    })
    .await
    .unwrap()
}

fn wal_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("state.db-wal")).unwrap().len()
}

/// Ten committed writes of a row each, then the rows read back.
async fn write_and_read(store: &Store) {
    let mut tx = store.begin().await.unwrap();
    tx.connection()
        .unwrap()
        .execute_batch("CREATE TABLE scratch (k INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        .unwrap();
    tx.commit().await.unwrap();
    for k in 0..10 {
        let mut tx = store.begin().await.unwrap();
        tx.connection()
            .unwrap()
            .execute("INSERT INTO scratch VALUES (?1, zeroblob(3000))", [k])
            .unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = store.read().await.unwrap();
    let n: i64 = tx
        .connection()
        .unwrap()
        .query_row("SELECT count(*) FROM scratch", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 10);
}

#[tokio::test]
async fn on_a_roomy_disk_the_wal_starts_zero_filled_and_commits_do_not_grow_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    assert_eq!(wal_len(dir.path()), FULL_WAL);
    write_and_read(&store).await;
    assert_eq!(wal_len(dir.path()), FULL_WAL, "the commits overwrote zeros");
}

/// A tmpfs mounted on a fresh directory, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[tokio::test]
async fn on_a_small_disk_the_wal_is_left_to_grow_and_writes_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(
        mounted.success(),
        "mounting a tmpfs needs root (the tests run as root on dev machines and CI)"
    );
    let fs = Tmpfs(dir);
    let store = open(fs.0.path()).await;
    // 33 MB of zeros would not fit, let alone leave the database room to grow.
    assert!(wal_len(fs.0.path()) < 4 << 20, "{}", wal_len(fs.0.path()));
    write_and_read(&store).await;
    assert!(wal_len(fs.0.path()) < 4 << 20);
    drop(store);
}
