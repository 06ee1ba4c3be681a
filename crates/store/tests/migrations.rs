//! Upgrading a database: VPCs and subnets made before route tables and network ACLs existed get
//! EC2's defaults from the migration (a main route table with the `local` route, a default ACL
//! that allows everything, every subnet associated with it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use underpass_domain::firewall::{Protocol, RuleAction};
use underpass_domain::{SubnetId, VpcId};
use underpass_store::acls;
use underpass_store::routing::{self, RouteTarget};
use underpass_store::{Store, StoreConfig, MIGRATIONS};

/// The schema as it was before version 30, as the sqlx-based store of that time left it: the
/// older migrations applied, each recorded in sqlx's `_sqlx_migrations` table.
fn old_schema(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, \
         description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
    )
    .unwrap();
    for m in MIGRATIONS.iter().filter(|m| m.version < 30) {
        conn.execute_batch(m.sql).unwrap();
        conn.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (?1, ?2, 1, x'00', 1)",
            rusqlite::params![m.version, m.description],
        )
        .unwrap();
    }
    for sql in [
        "INSERT INTO accounts (account_id, name, created_ms) VALUES ('111111111111', 'a', 0)",
        "INSERT INTO vpcs (vpc_id, account_id, cidr, created_ms) VALUES ('vpc-00000000000000001', '111111111111', '10.0.0.0/16', 0)",
        "INSERT INTO vpcs (vpc_id, account_id, cidr, created_ms) VALUES ('vpc-00000000000000002', '111111111111', '10.9.0.0/16', 0)",
        "INSERT INTO subnets (subnet_id, vpc_id, account_id, zone, cidr, created_ms) VALUES ('subnet-00000000000000001', 'vpc-00000000000000001', '111111111111', 'us-east-1a', '10.0.1.0/24', 0)",
        "INSERT INTO subnets (subnet_id, vpc_id, account_id, zone, cidr, created_ms) VALUES ('subnet-00000000000000002', 'vpc-00000000000000001', '111111111111', 'us-east-1b', '10.0.2.0/24', 0)",
    ] {
        conn.execute_batch(sql).unwrap();
    }
}

#[test]
fn every_migration_file_is_compiled_in_in_order() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let listed: Vec<String> = MIGRATIONS
        .iter()
        .map(|m| format!("{:04}_{}.sql", m.version, m.description))
        .collect();
    assert_eq!(files, listed);
    for (m, f) in MIGRATIONS.iter().zip(&files) {
        assert_eq!(m.sql, std::fs::read_to_string(src.join(f)).unwrap(), "{f}");
    }
}

#[tokio::test]
async fn a_database_of_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig {
        path: dir.path().join("state.db"),
        install_id: "install-1".into(),
        region: "us-east-1".into(),
        busy_timeout: Duration::from_millis(500),
    };
    Store::open(&cfg).await.unwrap().close().await;
    let conn = rusqlite::Connection::open(&cfg.path).unwrap();
    conn.execute_batch("INSERT INTO schema_migrations VALUES (9999, 'future', 0)")
        .unwrap();
    drop(conn);
    let err = Store::open(&cfg).await.unwrap_err().to_string();
    assert!(
        err.contains("9999") && err.contains("newer schema"),
        "{err}"
    );
}

#[tokio::test]
async fn existing_vpcs_get_route_tables_and_acls() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    old_schema(&db);

    let store = Store::open(&StoreConfig {
        path: db,
        install_id: "install-1".into(),
        region: "us-east-1".into(),
        busy_timeout: Duration::from_millis(500),
    })
    .await
    .unwrap();
    let mut tx = store.read().await.unwrap();
    let vpc: VpcId = "vpc-00000000000000001".parse().unwrap();

    let tables = routing::list_route_tables(&mut tx, None, Some(&vpc))
        .await
        .unwrap();
    assert_eq!(tables.len(), 1);
    let main = &tables[0];
    assert!(main.main && main.account == "111111111111");
    assert_eq!(main.associations.len(), 1);
    assert_eq!(main.associations[0].subnet, None);
    assert_eq!(main.routes.len(), 1);
    assert_eq!(main.routes[0].destination.to_string(), "10.0.0.0/16");
    assert_eq!(main.routes[0].target, RouteTarget::Local);

    let acls = acls::list_acls(&mut tx, None, Some(&vpc)).await.unwrap();
    assert_eq!(acls.len(), 1);
    let acl = &acls[0];
    assert!(acl.is_default);
    assert_eq!(acl.entries.len(), 2);
    for (e, egress) in acl.entries.iter().zip([false, true]) {
        assert_eq!(
            (e.number, e.egress, e.protocol, e.action),
            (100, egress, Protocol::All, RuleAction::Allow)
        );
        assert_eq!(e.cidr.to_string(), "0.0.0.0/0");
    }
    let mut subnets: Vec<SubnetId> = acl.associations.iter().map(|a| a.subnet).collect();
    subnets.sort();
    assert_eq!(
        subnets,
        [
            "subnet-00000000000000001".parse().unwrap(),
            "subnet-00000000000000002".parse().unwrap()
        ]
    );
    // Every made-up id is well formed and distinct.
    let other: VpcId = "vpc-00000000000000002".parse().unwrap();
    let other_acl = acls::default_acl(&mut tx, &other).await.unwrap().unwrap();
    assert_ne!(other_acl, acl.id);
    let subnet: SubnetId = "subnet-00000000000000002".parse().unwrap();
    let of_subnet = acls::acl_of_subnet(&mut tx, &subnet)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(of_subnet.id, acl.id);
    assert_eq!(of_subnet.inbound().len(), 1);
}

#[tokio::test]
async fn connection_history_keeps_its_rows_and_order_without_autoincrement() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    old_schema(&db);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        for (from, to) in [
            (None, "pendingAcceptance"),
            (Some("pendingAcceptance"), "pending"),
        ] {
            conn.execute(
                "INSERT INTO connection_history (endpoint_id, from_state, to_state, event, actor, at_ms) \
                 VALUES ('vpce-00000000000000001', ?1, ?2, 'e', 'a', 0)",
                rusqlite::params![from, to],
            )
            .unwrap();
        }
    }
    let store = Store::open(&StoreConfig {
        path: db.clone(),
        install_id: "history-rowid".into(),
        region: "us-east-1".into(),
        busy_timeout: Duration::from_millis(500),
    })
    .await
    .unwrap();
    let mut tx = store.begin().await.unwrap();
    let conn = underpass_store::Db::connection(&mut tx).unwrap();
    let sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'connection_history'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!sql.contains("AUTOINCREMENT"), "{sql}");
    let counted: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_sequence WHERE name LIKE 'connection_history%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(counted, 0, "no sequence row is left behind");
    // A new row is numbered after the old ones.
    conn.execute(
        "INSERT INTO connection_history (endpoint_id, from_state, to_state, event, actor, at_ms) \
         VALUES ('vpce-00000000000000001', 'pending', 'available', 'e', 'a', 0)",
        [],
    )
    .unwrap();
    let rows: Vec<(i64, String)> = conn
        .prepare("SELECT seq, to_state FROM connection_history ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            (1, "pendingAcceptance".to_string()),
            (2, "pending".to_string()),
            (3, "available".to_string())
        ]
    );
    tx.commit().await.unwrap();
}

/// The schema as migration 62 left it, with an endpoint, its interface, a load balancer's
/// interface and a notification that refers to the endpoint.
fn schema_62(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, \
         description TEXT NOT NULL, installed_ms INTEGER NOT NULL)",
    )
    .unwrap();
    for m in MIGRATIONS.iter().filter(|m| m.version <= 62) {
        conn.execute_batch(m.sql).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, description, installed_ms) VALUES (?1, ?2, 0)",
            rusqlite::params![m.version, m.description],
        )
        .unwrap();
    }
    for sql in [
        "INSERT INTO accounts (account_id, name, created_ms) VALUES ('111111111111', 'a', 0)",
        "INSERT INTO vpcs (vpc_id, account_id, cidr, created_ms) VALUES ('vpc-00000000000000001', '111111111111', '10.0.0.0/16', 0)",
        "INSERT INTO subnets (subnet_id, vpc_id, account_id, zone, cidr, created_ms) VALUES ('subnet-00000000000000001', 'vpc-00000000000000001', '111111111111', 'us-east-1a', '10.0.1.0/24', 0)",
        "INSERT INTO endpoint_services (service_id, service_name, account_id, acceptance_required, load_balancer_arns, state, created_ms) \
         VALUES ('vpce-svc-00000000000000001', 'com.example.svc', '111111111111', 0, '[]', 'Available', 0)",
        "INSERT INTO endpoints (endpoint_id, account_id, vpc_id, service_id, endpoint_type, state, created_ms, updated_ms, dns_name, region, version) \
         VALUES ('vpce-0f000000000000001', '111111111111', 'vpc-00000000000000001', 'vpce-svc-00000000000000001', 'Interface', 'available', 5, 6, 'vpce.example', 'us-east-1', 7)",
        "INSERT INTO endpoints (endpoint_id, account_id, vpc_id, service_id, endpoint_type, state, created_ms, updated_ms, region) \
         VALUES ('vpce-00000000000000002', '111111111111', 'vpc-00000000000000001', 'vpce-svc-00000000000000001', 'Interface', 'pendingAcceptance', 1, 1, 'us-east-1')",
        "INSERT INTO network_interfaces (eni_id, account_id, vpc_id, subnet_id, zone, ip, kind, owner_id, region) \
         VALUES ('eni-00000000000000001', '111111111111', 'vpc-00000000000000001', 'subnet-00000000000000001', 'us-east-1a', '10.0.1.4', 'endpoint', 'vpce-0f000000000000001', 'us-east-1')",
        "INSERT INTO network_interfaces (eni_id, account_id, vpc_id, subnet_id, zone, ip, kind, owner_id, region) \
         VALUES ('eni-00000000000000002', '111111111111', 'vpc-00000000000000001', 'subnet-00000000000000001', 'us-east-1a', '10.0.1.5', 'load_balancer', 'arn:lb', 'us-east-1')",
        "INSERT INTO connection_notifications (notification_id, account_id, endpoint_id, topic_arn, events, created_ms) \
         VALUES ('vpce-nfn-00000000000000001', '111111111111', 'vpce-0f000000000000001', 'arn:aws:sns:us-east-1:111111111111:t', '[\"Connect\"]', 0)",
    ] {
        conn.execute_batch(sql).unwrap();
    }
}

#[tokio::test]
async fn endpoints_and_interfaces_lose_their_rowid_and_keep_their_rows_and_references() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    schema_62(&db);
    let store = Store::open(&StoreConfig {
        path: db.clone(),
        install_id: "without-rowid".into(),
        region: "us-east-1".into(),
        busy_timeout: Duration::from_millis(500),
    })
    .await
    .unwrap();
    let mut tx = store.begin().await.unwrap();
    let conn = underpass_store::Db::connection(&mut tx).unwrap();
    let scalar = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    for table in ["endpoints", "network_interfaces"] {
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert!(sql.ends_with("WITHOUT ROWID"), "{sql}");
    }
    // The foreign keys are on again, and dropping the old table cascaded nowhere.
    assert_eq!(scalar("PRAGMA foreign_keys"), 1);
    assert_eq!(scalar("SELECT count(*) FROM connection_notifications"), 1);
    let row: (String, String, i64, i64, Option<String>, i64) = conn
        .query_row(
            "SELECT endpoint_id, state, created_ms, updated_ms, dns_name, version FROM endpoints ORDER BY endpoint_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "vpce-00000000000000002".into(),
            "pendingAcceptance".into(),
            1,
            1,
            None,
            0
        )
    );
    assert_eq!(
        scalar("SELECT version FROM endpoints WHERE endpoint_id = 'vpce-0f000000000000001'"),
        8,
        "7 as inserted, and 1 for its interface's insert before the migration"
    );
    assert_eq!(scalar("SELECT count(*) FROM network_interfaces"), 2);
    // The version triggers work on the new tables: an update of the row, a new interface.
    conn.execute_batch(
        "UPDATE endpoints SET state = 'deleting' WHERE endpoint_id = 'vpce-0f000000000000001'",
    )
    .unwrap();
    assert_eq!(
        scalar("SELECT version FROM endpoints WHERE endpoint_id = 'vpce-0f000000000000001'"),
        9
    );
    conn.execute_batch(
        "INSERT INTO network_interfaces (eni_id, account_id, vpc_id, subnet_id, zone, ip, kind, owner_id, region) \
         VALUES ('eni-00000000000000003', '111111111111', 'vpc-00000000000000001', 'subnet-00000000000000001', 'us-east-1a', '10.0.1.6', 'endpoint', 'vpce-0f000000000000001', 'us-east-1')",
    )
    .unwrap();
    assert_eq!(
        scalar("SELECT version FROM endpoints WHERE endpoint_id = 'vpce-0f000000000000001'"),
        10
    );
    // An address is still taken once per subnet, and the keys still hold.
    let taken = conn.execute_batch(
        "INSERT INTO network_interfaces (eni_id, account_id, vpc_id, subnet_id, zone, ip, kind, owner_id, region) \
         VALUES ('eni-00000000000000004', '111111111111', 'vpc-00000000000000001', 'subnet-00000000000000001', 'us-east-1a', '10.0.1.6', 'endpoint', 'x', 'us-east-1')",
    );
    assert!(taken.unwrap_err().to_string().contains("UNIQUE"));
    let orphan = conn.execute_batch(
        "INSERT INTO network_interfaces (eni_id, account_id, vpc_id, subnet_id, zone, ip, kind, owner_id, region) \
         VALUES ('eni-00000000000000005', '111111111111', 'vpc-00000000000000001', 'subnet-0ffffffffffffffff', 'us-east-1a', '10.0.1.7', 'endpoint', 'x', 'us-east-1')",
    );
    assert!(orphan.unwrap_err().to_string().contains("FOREIGN KEY"));
    // And deleting an endpoint still takes its notifications with it.
    conn.execute_batch("DELETE FROM endpoints WHERE endpoint_id = 'vpce-0f000000000000001'")
        .unwrap();
    assert_eq!(scalar("SELECT count(*) FROM connection_notifications"), 0);
    tx.rollback().await.unwrap();
}
