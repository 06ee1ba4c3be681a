//! Upgrading a database: VPCs and subnets made before route tables and network ACLs existed get
//! EC2's defaults from the migration (a main route table with the `local` route, a default ACL
//! that allows everything, every subnet associated with it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use underpass_domain::firewall::{Protocol, RuleAction};
use underpass_domain::{SubnetId, VpcId};
use underpass_store::acls;
use underpass_store::routing::{self, RouteTarget};
use underpass_store::{Store, StoreConfig};

/// The schema as it was before version 30: the older migration files, applied on their own.
async fn old_schema(db: &Path, scratch: &Path) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let version: u32 = name[..4].parse().unwrap();
        if version < 30 {
            std::fs::copy(entry.path(), scratch.join(&name)).unwrap();
        }
    }
    let opts = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(db)
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(scratch)
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    for sql in [
        "INSERT INTO accounts (account_id, name, created_ms) VALUES ('111111111111', 'a', 0)",
        "INSERT INTO vpcs (vpc_id, account_id, cidr, created_ms) VALUES ('vpc-00000000000000001', '111111111111', '10.0.0.0/16', 0)",
        "INSERT INTO vpcs (vpc_id, account_id, cidr, created_ms) VALUES ('vpc-00000000000000002', '111111111111', '10.9.0.0/16', 0)",
        "INSERT INTO subnets (subnet_id, vpc_id, account_id, zone, cidr, created_ms) VALUES ('subnet-00000000000000001', 'vpc-00000000000000001', '111111111111', 'us-east-1a', '10.0.1.0/24', 0)",
        "INSERT INTO subnets (subnet_id, vpc_id, account_id, zone, cidr, created_ms) VALUES ('subnet-00000000000000002', 'vpc-00000000000000001', '111111111111', 'us-east-1b', '10.0.2.0/24', 0)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

#[tokio::test]
async fn existing_vpcs_get_route_tables_and_acls() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("old-migrations");
    std::fs::create_dir(&scratch).unwrap();
    let db = dir.path().join("state.db");
    old_schema(&db, &scratch).await;

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
