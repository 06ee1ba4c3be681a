//! Request limits and scope checks at the API edge: per-key throttling (RELIABILITY item 18),
//! signatures scoped to the wrong service (item 13), oversized bodies (item 6), the audit
//! log's sampling of refusals, and a database another process holds locked (item 40).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{account, code, env, env_with};
use serde_json::json;
use time::OffsetDateTime;

#[tokio::test]
async fn one_noisy_key_is_throttled_and_others_are_not() {
    let env = env_with(|cfg| cfg.rate_per_key = 5).await;
    let noisy = account(&env, "111111111111").await;
    let quiet = account(&env, "222222222222").await;
    let (mut ok, mut throttled) = (0, 0);
    // 60 calls as fast as one client can make them: the burst (10) passes, the rest mostly not.
    for _ in 0..60 {
        match noisy.call("GetCallerIdentity", &json!({})).await {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.code(), Some("RequestLimitExceeded"), "{e}");
                throttled += 1;
            }
        }
    }
    assert!(ok >= 10, "the burst was refused: {ok} ok");
    assert!(throttled >= 30, "only {throttled} of 60 throttled");
    // Another key is unaffected.
    for _ in 0..5 {
        quiet.call("GetCallerIdentity", &json!({})).await.unwrap();
    }
    // Refusals are sampled into the audit log, not written one by one.
    env.server.state.audit.flush().await;
    let tail = underpass_store::iam::audit_tail(&env.server.state.store, 1000)
        .await
        .unwrap();
    let logged = tail
        .iter()
        .filter(|e| e.error_code.as_deref() == Some("RequestLimitExceeded"))
        .count();
    assert!(
        logged >= 1 && logged < throttled,
        "{logged} audit lines for {throttled} throttled calls"
    );
    // The metrics, as a Prometheus server scrapes them.
    let metrics = reqwest::get(format!("http://{}/metrics", env.server.api_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains(&format!("underpass_api_requests_total{{action=\"GetCallerIdentity\",code=\"RequestLimitExceeded\"}} {throttled}")), "{metrics}");
    // Every call, refused or not, is in the action's duration histogram: the +Inf bucket and the
    // count hold all of them, and no bucket counts fewer than the one below it.
    let all = 60 + 5;
    let hist = "underpass_api_request_duration_seconds";
    let action = "action=\"GetCallerIdentity\"";
    assert!(
        metrics.contains(&format!("{hist}_count{{{action}}} {all}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("{hist}_bucket{{{action},le=\"+Inf\"}} {all}\n")),
        "{metrics}"
    );
    let buckets: Vec<u64> = metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{hist}_bucket{{{action},")))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 15, "{metrics}");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    let sum: f64 = metrics
        .lines()
        .find(|l| l.starts_with(&format!("{hist}_sum{{{action}}}")))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(sum > 0.0 && sum < 60.0, "{sum}");
    // The store's fsyncs too: the bootstrap's writes at least were synced.
    let fsyncs: u64 = metrics
        .lines()
        .find(|l| l.starts_with("underpass_store_wal_fsync_duration_seconds_count "))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(fsyncs > 0, "{metrics}");
}

#[tokio::test]
async fn signatures_must_be_scoped_to_the_actions_service() {
    let env = env().await;
    let root = account(&env, "111111111111").await;
    let now = OffsetDateTime::now_utc();
    let err = root
        .call_scoped("ec2", "GetCallerIdentity", &json!({}), now)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    assert!(err.to_string().contains("'sts'"), "{err}");
    assert_eq!(
        code(
            root.call_scoped(
                "iam",
                "CreateVpc",
                &json!({"CidrBlock": "10.0.0.0/16"}),
                now
            )
            .await
        ),
        "SignatureDoesNotMatch"
    );
    // Nothing was created by the refused call.
    let vpcs = root
        .call(
            "DescribeVpcs",
            &json!({"Filters": [{"Name": "cidr", "Values": ["10.0.0.0/16"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(vpcs["Vpcs"].as_array().unwrap().len(), 0);
    // A service the server does not serve at all.
    assert_eq!(
        code(root.call_scoped("s3", "CreateVpc", &json!({}), now).await),
        "SignatureDoesNotMatch"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_authentication() {
    let env = env().await;
    let root = account(&env, "111111111111").await;
    let big = "x".repeat(underpass_server::api::MAX_BODY_BYTES + 1);
    let err = root
        .call("CreateUser", &json!({"UserName": big}))
        .await
        .unwrap_err();
    // axum answers 413 with a plain-text body before any handler runs.
    assert!(
        matches!(err, underpass_cli::ClientError::Decode(ref m) if m.contains("413")),
        "{err:?}"
    );
}

/// RELIABILITY item 40: another process holds the database's write lock. A mutating call
/// answers 503 `Unavailable` after the busy timeout (5 s) instead of hanging, reads keep
/// working, and writes work again once the lock is released, without a restart.
#[tokio::test]
async fn a_database_locked_by_another_process_gives_503_then_recovers() {
    let env = env().await;
    let db = env
        ._dir
        .as_ref()
        .unwrap()
        .path()
        .join("data")
        .join("state.db");
    // A key that has not been used yet: its first call records the use, a write.
    let fresh = account(&env, "222233334444").await;
    let holder = rusqlite::Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    // That write runs beside the call, not in its way: a read answers without waiting out
    // the busy timeout (5 s) that the write waits.
    let started = std::time::Instant::now();
    fresh.call("DescribeRegions", &json!({})).await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "a read waited {:?} for the key-use write",
        started.elapsed()
    );
    let started = std::time::Instant::now();
    let err = env
        .admin
        .call("CreateVpc", &json!({"CidrBlock": "10.7.0.0/16"}))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert_eq!(err.code(), Some("Unavailable"), "{err}");
    assert!(
        waited >= std::time::Duration::from_secs(4) && waited < std::time::Duration::from_secs(15),
        "answered after {waited:?}"
    );
    // Reads are not blocked by a writer (WAL).
    env.admin.call("DescribeVpcs", &json!({})).await.unwrap();
    holder.execute_batch("COMMIT").unwrap();
    let vpc = env
        .admin
        .call("CreateVpc", &json!({"CidrBlock": "10.7.0.0/16"}))
        .await
        .unwrap();
    assert!(
        vpc["Vpc"]["VpcId"].as_str().unwrap().starts_with("vpc-"),
        "{vpc}"
    );
    // The refused call left nothing behind: one VPC with that block.
    let vpcs = env.admin.call("DescribeVpcs", &json!({})).await.unwrap();
    let n = vpcs["Vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["CidrBlock"] == "10.7.0.0/16")
        .count();
    assert_eq!(n, 1, "{vpcs}");
}
