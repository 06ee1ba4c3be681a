//! Queries over real objects: text in the default and a custom format, Parquet with a subset
//! of the columns, plain and Hive layouts; known answers for the seed and top-talkers queries,
//! NULLs, date pruning (a corrupt object of another day is never opened), the key filters, the
//! output formats, and an S3 destination served by moto.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use serde_json::{json, Value};
use underpass_flowlogs::Action::{Accept, Reject};
use underpass_flowquery::{
    query, render, Destination, ObjectFilter, OutputFormat, Progress, QueryError, QueryOptions,
};

const CUSTOM: &str = "${version} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${bytes} ${action} ${tcp-flags} ${flow-direction} ${log-status}";

/// Day 25: fl-aaaa (default format, text, plain layout) and fl-cccc (Parquet); day 24:
/// fl-bbbb (custom format, text, Hive layout with an hour level).
fn dataset(dir: &Path) {
    let a = batch(
        "fl-aaaa",
        underpass_flowlogs::DEFAULT_FORMAT,
        DAY_25 + 36_000,
        vec![
            rec("10.0.0.1", "10.0.1.1", 40000, 22, 6, 1000, Accept),
            rec("10.0.0.2", "10.0.1.1", 40001, 3389, 6, 200, Reject),
            rec("10.0.0.3", "10.0.1.1", 5353, 53, 17, 300, Reject),
            nodata(DAY_25 + 36_000),
        ],
    );
    write_text(dir, &a);
    let mut r4 = rec("10.0.0.1", "10.0.2.2", 40002, 443, 6, 5000, Reject);
    r4.tcp_flags = Some(2);
    r4.flow_direction = Some("ingress".into());
    let mut b = batch(
        "fl-bbbb",
        CUSTOM,
        DAY_24 + 36_000,
        vec![r4, rec("10.0.0.4", "10.0.2.2", 40003, 443, 6, 700, Accept)],
    );
    b.options.hive_compatible_partitions = true;
    b.options.per_hour_partition = true;
    let key = write_text(dir, &b);
    assert!(key.contains("/year=2026/month=11/day=24/hour=10/"), "{key}");
    let mut r6 = rec("10.0.0.5", "10.0.1.1", 40004, 22, 6, 4000, Reject);
    r6.vpc_id = Some("vpc-1".into());
    let c = batch(
        "fl-cccc",
        "${version} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${bytes} ${action} ${vpc-id}",
        DAY_25 + 39_600,
        vec![r6, rec("10.0.0.2", "10.0.1.9", 123, 123, 17, 50, Accept)],
    );
    assert!(write_parquet(dir, &c).ends_with(".log.parquet"));
}

async fn rows(dest: &Destination, sql: &str) -> Vec<Value> {
    rows_with(dest, sql, &QueryOptions::default())
        .await
        .unwrap()
}

async fn rows_with(
    dest: &Destination,
    sql: &str,
    options: &QueryOptions,
) -> Result<Vec<Value>, QueryError> {
    let batches = query(dest, sql, options).await?;
    let text = render(&batches, OutputFormat::Json).unwrap();
    Ok(serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone())
}

fn local() -> (tempfile::TempDir, Destination) {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    let dest = Destination::Local(dir.path().to_owned());
    (dir, dest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_query_finds_the_tcp_rejects_of_every_format() {
    let (_dir, dest) = local();
    let mut got = rows(&dest, "SELECT srcaddr, dstaddr, srcport, dstport, protocol, action FROM vpc_flow_logs WHERE action = 'REJECT' AND protocol = 6").await;
    got.sort_by_key(|r| r["srcaddr"].as_str().unwrap().to_owned());
    assert_eq!(
        got,
        vec![
            json!({"srcaddr": "10.0.0.1", "dstaddr": "10.0.2.2", "srcport": 40002, "dstport": 443, "protocol": 6, "action": "REJECT"}),
            json!({"srcaddr": "10.0.0.2", "dstaddr": "10.0.1.1", "srcport": 40001, "dstport": 3389, "protocol": 6, "action": "REJECT"}),
            json!({"srcaddr": "10.0.0.5", "dstaddr": "10.0.1.1", "srcport": 40004, "dstport": 22, "protocol": 6, "action": "REJECT"}),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_talkers_sum_bytes_across_objects() {
    let (_dir, dest) = local();
    let got = rows(&dest, "SELECT srcaddr, SUM(bytes) AS total FROM vpc_flow_logs GROUP BY srcaddr ORDER BY total DESC LIMIT 10").await;
    // DataFusion sorts NULLs first in descending order: the NODATA record (no address, no
    // bytes) leads.
    assert_eq!(
        got,
        vec![
            json!({"srcaddr": null, "total": null}),
            json!({"srcaddr": "10.0.0.1", "total": 6000}),
            json!({"srcaddr": "10.0.0.5", "total": 4000}),
            json!({"srcaddr": "10.0.0.4", "total": 700}),
            json!({"srcaddr": "10.0.0.3", "total": 300}),
            json!({"srcaddr": "10.0.0.2", "total": 250}),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashes_and_missing_fields_are_null_and_date_comes_from_the_key() {
    let (_dir, dest) = local();
    let nodata = rows(&dest, "SELECT interface_id, srcaddr, srcport, bytes, action, log_status FROM vpc_flow_logs WHERE log_status = 'NODATA'").await;
    assert_eq!(
        nodata,
        vec![
            json!({"interface_id": "eni-0123456789abcdef0", "srcaddr": null, "srcport": null, "bytes": null, "action": null, "log_status": "NODATA"})
        ]
    );
    // fl-bbbb's format has no account-id and the Parquet object has no such column.
    let no_account = rows(
        &dest,
        "SELECT count(*) AS n FROM vpc_flow_logs WHERE account_id IS NULL",
    )
    .await;
    assert_eq!(no_account, vec![json!({"n": 4})]);
    let custom = rows(&dest, r#"SELECT tcp_flags, flow_direction, vpc_id, "end" FROM vpc_flow_logs WHERE dstport = 443 ORDER BY srcaddr"#).await;
    assert_eq!(
        custom,
        vec![
            json!({"tcp_flags": 2, "flow_direction": "ingress", "vpc_id": null, "end": null}),
            json!({"tcp_flags": null, "flow_direction": null, "vpc_id": null, "end": null}),
        ]
    );
    let parquet = rows(
        &dest,
        "SELECT vpc_id, protocol, log_status, version FROM vpc_flow_logs WHERE srcaddr = '10.0.0.5'",
    )
    .await;
    assert_eq!(
        parquet,
        vec![json!({"vpc_id": "vpc-1", "protocol": 6, "log_status": null, "version": 2})]
    );
    let days = rows(
        &dest,
        "SELECT date, count(*) AS n FROM vpc_flow_logs GROUP BY date ORDER BY date",
    )
    .await;
    assert_eq!(
        days,
        vec![
            json!({"date": "2026-11-24", "n": 2}),
            json!({"date": "2026-11-25", "n": 6})
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_date_never_opens_the_objects_of_other_days() {
    let (dir, dest) = local();
    // Garbage under valid names on the 23rd: a text object and a Parquet object.
    let bad = batch(
        "fl-aaaa",
        underpass_flowlogs::DEFAULT_FORMAT,
        DAY_24 - 86_400 + 60,
        vec![],
    );
    let bad_key = put(
        dir.path(),
        &underpass_flowlogs::object_key(&bad, "writer"),
        b"not gzip at all",
    );
    let mut bad_parquet = bad.clone();
    bad_parquet.options.file_format = underpass_flowlogs::FileFormat::Parquet;
    let parquet_key = underpass_flowlogs::object_key(&bad_parquet, "writer");
    put(dir.path(), &parquet_key, b"not parquet either");

    let progress = Arc::new(Progress::default());
    let options = QueryOptions {
        progress: Some(progress.clone()),
        ..QueryOptions::default()
    };
    let day = rows_with(
        &dest,
        "SELECT count(*) AS n FROM vpc_flow_logs WHERE date = DATE '2026-11-25'",
        &options,
    )
    .await
    .unwrap();
    assert_eq!(day, vec![json!({"n": 6})]);
    assert_eq!(
        (progress.listed(), progress.read()),
        (5, 2),
        "only the two objects of the 25th are read"
    );

    let range = rows(&dest, "SELECT count(*) AS n FROM vpc_flow_logs WHERE date BETWEEN DATE '2026-11-24' AND DATE '2026-11-30' AND action IS NOT NULL").await;
    assert_eq!(range, vec![json!({"n": 7})]);

    let all = rows_with(
        &dest,
        "SELECT count(*) FROM vpc_flow_logs",
        &QueryOptions::default(),
    )
    .await;
    let Err(QueryError::Execution(msg)) = all else {
        panic!("{all:?}")
    };
    assert!(msg.contains("2026/11/23") && msg.contains("not"), "{msg}");
    assert!(!msg.contains('\n'));
    assert!(bad_key.contains("2026/11/23"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_filters_select_flow_logs() {
    let (_dir, dest) = local();
    let only = |f: ObjectFilter| QueryOptions {
        objects: f,
        ..QueryOptions::default()
    };
    let count = "SELECT count(*) AS n FROM vpc_flow_logs";
    let b = only(ObjectFilter {
        flow_log_id: Some("fl-bbbb".into()),
        ..ObjectFilter::default()
    });
    assert_eq!(
        rows_with(&dest, count, &b).await.unwrap(),
        vec![json!({"n": 2})]
    );
    let other = only(ObjectFilter {
        account: Some("999999999999".into()),
        ..ObjectFilter::default()
    });
    assert_eq!(
        rows_with(&dest, count, &other).await.unwrap(),
        vec![json!({"n": 0})]
    );
    let region = only(ObjectFilter {
        region: Some("us-east-1".into()),
        ..ObjectFilter::default()
    });
    assert_eq!(
        rows_with(&dest, count, &region).await.unwrap(),
        vec![json!({"n": 8})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_formats() {
    let (_dir, dest) = local();
    let sql = "SELECT srcaddr, bytes, vpc_id FROM vpc_flow_logs WHERE srcaddr IN ('10.0.0.3', '10.0.0.5') ORDER BY srcaddr";
    let batches = query(&dest, sql, &QueryOptions::default()).await.unwrap();
    assert_eq!(
        render(&batches, OutputFormat::Table).unwrap(),
        "srcaddr   bytes  vpc_id\n10.0.0.3  300    -\n10.0.0.5  4000   vpc-1\n"
    );
    assert_eq!(
        render(&batches, OutputFormat::Csv).unwrap(),
        "srcaddr,bytes,vpc_id\n10.0.0.3,300,\n10.0.0.5,4000,vpc-1\n"
    );
    let empty = query(
        &dest,
        "SELECT srcaddr FROM vpc_flow_logs WHERE bytes > 1000000",
        &QueryOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(render(&empty, OutputFormat::Json).unwrap(), "[]\n");
    assert_eq!(render(&empty, OutputFormat::Csv).unwrap(), "srcaddr\n");
    // An empty destination still has the table.
    let none = tempfile::tempdir().unwrap();
    let got = rows(
        &Destination::Local(none.path().to_owned()),
        "SELECT count(*) AS n FROM vpc_flow_logs",
    )
    .await;
    assert_eq!(got, vec![json!({"n": 0})]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_destination_on_moto() {
    use object_store::aws::AmazonS3Builder;
    use object_store::{path::Path as ObjPath, ObjectStoreExt, PutPayload};
    let moto = start_moto();
    create_bucket(&moto.endpoint, "flows");
    let store = AmazonS3Builder::new()
        .with_endpoint(&moto.endpoint)
        .with_allow_http(true)
        .with_bucket_name("flows")
        .with_region("us-east-1")
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    for entry in walk(dir.path()) {
        let key = entry
            .strip_prefix(dir.path())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let body = std::fs::read(&entry).unwrap();
        store
            .put(
                &ObjPath::from(format!("team/a/{key}")),
                PutPayload::from(body),
            )
            .await
            .unwrap();
    }
    let dest = Destination::Store {
        store: Arc::new(store),
        prefix: "team/a".into(),
    };
    let got = rows(&dest, "SELECT srcaddr, SUM(bytes) AS total FROM vpc_flow_logs WHERE srcaddr IS NOT NULL GROUP BY srcaddr ORDER BY total DESC LIMIT 2").await;
    assert_eq!(
        got,
        vec![
            json!({"srcaddr": "10.0.0.1", "total": 6000}),
            json!({"srcaddr": "10.0.0.5", "total": 4000})
        ]
    );
    drop(moto);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_scans_read_only_the_columns_the_query_names() {
    let (_dir, dest) = local();
    let plan = rows(
        &dest,
        "EXPLAIN SELECT srcaddr, SUM(bytes) AS total FROM vpc_flow_logs WHERE protocol = 17 GROUP BY srcaddr",
    )
    .await;
    let physical = plan
        .iter()
        .find(|r| r["plan_type"] == "physical_plan")
        .and_then(|r| r["plan"].as_str())
        .unwrap_or_default()
        .to_owned();
    let scan = physical
        .lines()
        .find(|l| l.contains("DataSourceExec"))
        .unwrap_or_else(|| panic!("no Parquet scan in {physical}"));
    // Only the two output columns are decoded for every row; the filter is evaluated in the
    // scan (late materialization), with row groups pruned by protocol's statistics.
    assert!(
        scan.contains("projection=[srcaddr, bytes]") && scan.contains("file_type=parquet"),
        "{scan}"
    );
    assert!(
        scan.contains("predicate=protocol@") && scan.contains("pruning_predicate="),
        "{scan}"
    );
    // No FilterExec over the Parquet scan (the text scans keep theirs).
    let lines: Vec<&str> = physical.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("DataSourceExec"))
        .unwrap();
    assert!(!lines[at - 1].contains("FilterExec"), "{physical}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_objects_of_different_formats_share_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let a = batch(
        "fl-aaaa",
        "${srcaddr} ${bytes} ${protocol}",
        DAY_25,
        vec![rec("10.0.0.1", "10.0.1.1", 1, 2, 6, 100, Accept)],
    );
    write_parquet(dir.path(), &a);
    let mut r = rec("10.0.0.2", "10.0.1.1", 1, 2, 17, 200, Reject);
    r.vpc_id = Some("vpc-2".into());
    let b = batch(
        "fl-bbbb",
        "${version} ${vpc-id} ${srcaddr} ${action} ${bytes} ${start}",
        DAY_25 + 60,
        vec![r],
    );
    write_parquet(dir.path(), &b);
    write_text(dir.path(), &b);
    let dest = Destination::Local(dir.path().to_owned());
    let got = rows(&dest, "SELECT srcaddr, bytes, protocol, vpc_id, action, version, start FROM vpc_flow_logs ORDER BY srcaddr, protocol").await;
    let start = DAY_25 + 36_000;
    assert_eq!(
        got,
        vec![
            json!({"srcaddr": "10.0.0.1", "bytes": 100, "protocol": 6, "vpc_id": null, "action": null, "version": null, "start": null}),
            json!({"srcaddr": "10.0.0.2", "bytes": 200, "protocol": null, "vpc_id": "vpc-2", "action": "REJECT", "version": 2, "start": start}),
            json!({"srcaddr": "10.0.0.2", "bytes": 200, "protocol": null, "vpc_id": "vpc-2", "action": "REJECT", "version": 2, "start": start}),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_parquet_object_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = batch(
        "fl-aaaa",
        underpass_flowlogs::DEFAULT_FORMAT,
        DAY_25,
        vec![],
    );
    bad.options.file_format = underpass_flowlogs::FileFormat::Parquet;
    let key = put(
        dir.path(),
        &underpass_flowlogs::object_key(&bad, "writer"),
        b"not parquet at all",
    );
    let dest = Destination::Local(dir.path().to_owned());
    let got = rows_with(
        &dest,
        "SELECT srcaddr FROM vpc_flow_logs",
        &QueryOptions::default(),
    )
    .await;
    let Err(QueryError::Execution(msg)) = got else {
        panic!("{got:?}")
    };
    assert!(
        msg.contains(&key) && msg.contains("not a readable Parquet object"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
}
