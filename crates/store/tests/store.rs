//! The store against a real SQLite file in a temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use time::OffsetDateTime;
use underpass_domain::dns::PrivateDnsState;
use underpass_domain::{ConnEvent, ConnState, EndpointId, ServiceId, SubnetId, VpcId};
use underpass_store::records::{Endpoint, PrivateDns, Service, Subnet, Vpc};
use underpass_store::{iam, network, services, Store, StoreConfig, StoreError};

fn cfg(dir: &std::path::Path, install: &str) -> StoreConfig {
    StoreConfig {
        path: dir.join("state.db"),
        install_id: install.into(),
        region: "us-east-1".into(),
        busy_timeout: Duration::from_millis(500),
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn seed(store: &Store) -> (VpcId, EndpointId) {
    let mut tx = store.begin().await.unwrap();
    iam::ensure_account(&mut tx, "111111111111", "provider", now())
        .await
        .unwrap();
    let vpc = VpcId::from_bits(1);
    network::insert_vpc(
        &mut tx,
        &Vpc {
            id: vpc,
            account: "111111111111".into(),
            region: "us-east-1".into(),
            cidr: "10.0.0.0/16".parse().unwrap(),
            dns_support: true,
            dns_hostnames: true,
            is_default: false,
        },
        now(),
    )
    .await
    .unwrap();
    let svc = ServiceId::from_bits(2);
    services::insert_service(
        &mut tx,
        &Service {
            id: svc,
            name: "com.underpass.vpce.us-east-1.x".into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            acceptance_required: true,
            load_balancers: vec![],
            state: "Available".into(),
            allowed_principals: vec!["*".into()],
            private_dns: None,
        },
        now(),
    )
    .await
    .unwrap();
    let ep = EndpointId::from_bits(3);
    services::insert_endpoint(
        &mut tx,
        &Endpoint {
            id: ep,
            account: "111111111111".into(),
            region: "us-east-1".into(),
            vpc,
            service: svc,
            endpoint_type: "Interface".into(),
            state: ConnState::PendingAcceptance,
            policy: None,
            security_groups: vec![],
            enis: vec![],
            private_dns_enabled: false,
            dns_name: None,
            created: now(),
        },
        "test",
        now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (vpc, ep)
}

/// A subnet of `vpc` in us-east-1a, stored.
async fn stored_subnet(store: &Store, vpc: VpcId, seed: u128, cidr: &str) -> Subnet {
    let subnet = Subnet {
        id: SubnetId::from_bits(seed),
        vpc,
        account: "111111111111".into(),
        region: "us-east-1".into(),
        zone: "us-east-1a".into(),
        cidr: cidr.parse().unwrap(),
        attributes: Default::default(),
        default_for_az: false,
    };
    let mut tx = store.begin().await.unwrap();
    network::insert_subnet(&mut tx, &subnet, now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    subnet
}

#[tokio::test]
async fn reopen_keeps_data_and_refuses_another_install() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "install-a")).await.unwrap();
    let (vpc, _) = seed(&store).await;
    let rev = store.revision().await.unwrap();
    assert!(rev > 1, "writes bump the revision");
    store.close().await;

    let store = Store::open(&cfg(dir.path(), "install-a")).await.unwrap();
    let mut tx = store.read().await.unwrap();
    assert_eq!(
        network::get_vpc(&mut tx, &vpc)
            .await
            .unwrap()
            .cidr
            .to_string(),
        "10.0.0.0/16"
    );
    drop(tx);
    assert_eq!(store.revision().await.unwrap(), rev);
    store.close().await;

    let err = Store::open(&cfg(dir.path(), "install-b"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("install-a"), "{err}");
}

#[tokio::test]
async fn corrupt_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("state.db"),
        b"this is not a database, just some bytes".repeat(200),
    )
    .unwrap();
    let err = Store::open(&cfg(dir.path(), "i")).await.unwrap_err();
    assert!(matches!(err, StoreError::Refused { .. }), "{err}");
}

#[tokio::test]
async fn dropped_transaction_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "i")).await.unwrap();
    let (vpc, _) = seed(&store).await;
    let before = store.revision().await.unwrap();
    {
        let mut tx = store.begin().await.unwrap();
        let s = Subnet {
            id: SubnetId::from_bits(9),
            vpc,
            account: "111111111111".into(),
            region: "us-east-1".into(),
            zone: "us-east-1a".into(),
            cidr: "10.0.1.0/24".parse().unwrap(),
            attributes: Default::default(),
            default_for_az: false,
        };
        network::insert_subnet(&mut tx, &s, now()).await.unwrap();
        // Dropped without commit: an action that failed half-way.
    }
    let mut tx = store.read().await.unwrap();
    assert!(network::list_subnets(&mut tx, Some(&vpc), None)
        .await
        .unwrap()
        .is_empty());
    drop(tx);
    assert_eq!(store.revision().await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transitions_record_only_legal_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(dir.path(), "i");
    c.busy_timeout = Duration::from_secs(10);
    let store = Store::open(&c).await.unwrap();
    let (_, ep) = seed(&store).await;
    let events = [ConnEvent::Accept, ConnEvent::Reject, ConnEvent::Delete];
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = store.clone();
        let event = events[i % 3];
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await?;
            let r =
                services::transition(&mut tx, &ep, event, &format!("caller-{i}"), now()).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(r.is_ok())
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() {
            wins += 1;
        }
    }
    let mut tx = store.read().await.unwrap();
    let hist = services::history(&mut tx, &ep).await.unwrap();
    // Replay the history: every step legal, each starting where the previous ended.
    assert_eq!(hist[0].from, None);
    let mut state = hist[0].to;
    for h in &hist[1..] {
        assert_eq!(h.from, Some(state), "history is continuous");
        let ev = match h.event.as_str() {
            "Accept" => ConnEvent::Accept,
            "Reject" => ConnEvent::Reject,
            "Delete" => ConnEvent::Delete,
            other => panic!("unexpected event {other}"),
        };
        state = state.apply(ev).expect("recorded transition is legal");
        assert_eq!(h.to, state);
    }
    assert_eq!(hist.len() - 1, wins, "one history row per successful call");
    assert_eq!(
        services::get_endpoint(&mut tx, &ep).await.unwrap().state,
        state
    );
}

#[tokio::test]
async fn client_tokens_replay_and_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "i")).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        iam::client_token(&mut tx, "1", "CreateVpcEndpoint", "tok", "h1")
            .await
            .unwrap(),
        iam::TokenLookup::New
    );
    iam::save_client_token(
        &mut tx,
        "1",
        "CreateVpcEndpoint",
        "tok",
        "h1",
        "vpce-1",
        now(),
    )
    .await
    .unwrap();
    assert_eq!(
        iam::client_token(&mut tx, "1", "CreateVpcEndpoint", "tok", "h1")
            .await
            .unwrap(),
        iam::TokenLookup::Replay("vpce-1".into())
    );
    assert_eq!(
        iam::client_token(&mut tx, "1", "CreateVpcEndpoint", "tok", "h2")
            .await
            .unwrap(),
        iam::TokenLookup::Mismatch
    );
    // Tokens are per account.
    assert_eq!(
        iam::client_token(&mut tx, "2", "CreateVpcEndpoint", "tok", "h2")
            .await
            .unwrap(),
        iam::TokenLookup::New
    );
}

#[tokio::test]
async fn held_lock_gives_unavailable_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "i")).await.unwrap();
    let _holder = store.begin().await.unwrap();
    let started = std::time::Instant::now();
    let err = store.begin().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the busy timeout"
    );
}

#[tokio::test]
async fn private_dns_columns_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "i")).await.unwrap();
    let (_, ep) = seed(&store).await;
    let mut tx = store.begin().await.unwrap();
    let e = services::get_endpoint(&mut tx, &ep).await.unwrap();
    assert!(!e.private_dns_enabled && e.dns_name.is_none());
    let mut s = services::get_service(&mut tx, &e.service).await.unwrap();
    assert_eq!(s.private_dns, None);
    s.private_dns = Some(PrivateDns {
        name: "web.example.com".into(),
        state: PrivateDnsState::PendingVerification,
        txt_name: "_abc.web.example.com".into(),
        txt_value: "vpce:xyz".into(),
    });
    services::update_service(&mut tx, &s).await.unwrap();
    assert!(
        services::verified_private_dns_owners(&mut tx, "web.example.com")
            .await
            .unwrap()
            .is_empty()
    );
    if let Some(p) = s.private_dns.as_mut() {
        p.state = PrivateDnsState::Verified;
    }
    services::update_service(&mut tx, &s).await.unwrap();
    services::set_endpoint_private_dns(&mut tx, &ep, true, now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.read().await.unwrap();
    let again = services::get_service(&mut tx, &s.id).await.unwrap();
    assert_eq!(again.private_dns, s.private_dns);
    assert_eq!(
        services::verified_private_dns_owners(&mut tx, "web.example.com")
            .await
            .unwrap(),
        vec![(s.id, "111111111111".to_owned())]
    );
    assert!(
        services::get_endpoint(&mut tx, &ep)
            .await
            .unwrap()
            .private_dns_enabled
    );
}

#[tokio::test]
async fn rows_from_before_regions_join_the_primary_region_and_accounts_open_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "i-1")).await.unwrap();
    let (vpc, endpoint) = seed(&store).await;
    // As migration 0057 leaves rows made before it: no region.
    let mut tx = store.begin().await.unwrap();
    for table in ["vpcs", "endpoint_services", "endpoints"] {
        use underpass_store::Db;
        tx.connection()
            .unwrap()
            .execute_batch(&format!("UPDATE {table} SET region = ''"))
            .unwrap();
    }
    let changed = underpass_store::regions::adopt(&mut tx, "eu-central-1")
        .await
        .unwrap();
    assert_eq!(changed, 3, "the VPC, the service and the endpoint");
    assert_eq!(
        underpass_store::regions::adopt(&mut tx, "eu-central-1")
            .await
            .unwrap(),
        0,
        "nothing the second time"
    );
    assert_eq!(
        network::get_vpc(&mut tx, &vpc).await.unwrap().region,
        "eu-central-1"
    );
    assert_eq!(
        services::get_endpoint(&mut tx, &endpoint)
            .await
            .unwrap()
            .region,
        "eu-central-1"
    );

    // An account is opened in each region once.
    let regions = ["eu-central-1".to_owned(), "us-west-2".to_owned()];
    let pending = underpass_store::regions::unopened(&mut tx, &regions)
        .await
        .unwrap();
    assert_eq!(
        pending,
        [
            ("111111111111".to_owned(), "eu-central-1".to_owned()),
            ("111111111111".to_owned(), "us-west-2".to_owned())
        ]
    );
    underpass_store::regions::open(&mut tx, "111111111111", "us-west-2")
        .await
        .unwrap();
    underpass_store::regions::open(&mut tx, "111111111111", "us-west-2")
        .await
        .unwrap();
    let pending = underpass_store::regions::unopened(&mut tx, &regions)
        .await
        .unwrap();
    assert_eq!(
        pending,
        [("111111111111".to_owned(), "eu-central-1".to_owned())]
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn iam_generation_moves_with_iam_state_but_not_with_key_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "i-1")).await.unwrap();
    seed(&store).await;
    let mut tx = store.begin().await.unwrap();
    let g0 = iam::generation(&mut tx).await.unwrap();
    let key = iam::KeyRow {
        access_key_id: "AKIAAAAAAAAAAAAAAAAA".into(),
        owner_arn: "arn:aws:iam::111111111111:root".into(),
        status: "Active".into(),
        created: now(),
        last_used: None,
        sealed_secret: "sealed".into(),
    };
    iam::insert_key(&mut tx, &key).await.unwrap();
    let g1 = iam::generation(&mut tx).await.unwrap();
    assert!(g1 > g0, "a new key");
    iam::touch_key(&mut tx, &key.access_key_id, now(), "ec2", "us-east-1")
        .await
        .unwrap();
    assert_eq!(
        iam::generation(&mut tx).await.unwrap(),
        g1,
        "using a key is not a change"
    );
    iam::set_key_status(&mut tx, &key.access_key_id, "Inactive")
        .await
        .unwrap();
    let g2 = iam::generation(&mut tx).await.unwrap();
    assert!(g2 > g1, "a deactivated key");
    iam::put_policy(
        &mut tx,
        "arn:aws:iam::111111111111:root",
        "p",
        r#"{"Version":"2012-10-17","Statement":[]}"#,
    )
    .await
    .unwrap();
    let g3 = iam::generation(&mut tx).await.unwrap();
    assert!(g3 > g2, "an inline policy");
    tx.commit().await.unwrap();
    assert_eq!(iam::generation_now(&store).await.unwrap(), g3);
}

#[tokio::test]
async fn every_acknowledged_write_is_in_the_fsync_histogram() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "i-1")).await.unwrap();
    let synced = |s: &Store| s.wal_fsync_times().counts.iter().sum::<u64>();
    let before = synced(&store);
    for n in 0..3 {
        let mut tx = store.begin().await.unwrap();
        let entry = iam::AuditEntry {
            at: now(),
            request_id: format!("req-{n}"),
            principal: None,
            action: "DescribeVpcs".into(),
            outcome: "ok".into(),
            error_code: None,
        };
        iam::audit_batch(&mut tx, &[entry]).await.unwrap();
        // Answered only after an fsync that began after its commit: counted by then.
        tx.commit().await.unwrap();
        assert!(
            synced(&store) > before + n,
            "write {n}: {:?}",
            store.wal_fsync_times()
        );
    }
    let t = store.wal_fsync_times();
    assert!(t.sum > Duration::ZERO, "{t:?}");
    assert_eq!(t.counts.len(), underpass_store::FSYNC_BUCKETS.len() + 1);
}

#[tokio::test]
async fn an_audit_batch_is_one_ordered_insert_with_nulls_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "i-1")).await.unwrap();
    let entry = |n: u32, principal: Option<&str>, code: Option<&str>| iam::AuditEntry {
        at: now(),
        request_id: format!("req-{n}"),
        principal: principal.map(str::to_owned),
        action: "DescribeVpcs".into(),
        outcome: if code.is_some() { "error" } else { "ok" }.into(),
        error_code: code.map(str::to_owned),
    };
    let batch = vec![
        entry(1, Some("arn:aws:iam::111111111111:root"), None),
        entry(2, None, Some("AuthFailure")),
        entry(3, Some("it's \"quoted\""), Some("x")),
    ];
    let mut tx = store.begin().await.unwrap();
    iam::audit_batch(&mut tx, &batch).await.unwrap();
    iam::audit_batch(&mut tx, &[]).await.unwrap();
    tx.commit().await.unwrap();
    let mut tail = iam::audit_tail(&store, 10).await.unwrap();
    tail.reverse();
    assert_eq!(tail.len(), 3);
    for (got, want) in tail.iter().zip(&batch) {
        assert_eq!(got.request_id, want.request_id);
        assert_eq!(got.principal, want.principal);
        assert_eq!(got.error_code, want.error_code);
        assert_eq!(got.outcome, want.outcome);
        assert_eq!(got.at.unix_timestamp(), want.at.unix_timestamp());
    }
}

/// The store's floor-guided allocation always gives what the domain's definition (the lowest
/// free assignable address) gives, through allocations, explicit addresses, frees, a full
/// subnet, and a rolled-back allocation.
#[tokio::test]
async fn lowest_free_ip_matches_the_definition_through_churn() {
    use std::collections::{BTreeMap, BTreeSet};
    use std::net::Ipv4Addr;
    use underpass_domain::net::allocate;
    use underpass_domain::EniId;
    use underpass_store::records::{Eni, EniKind};

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "i")).await.unwrap();
    let (vpc, _) = seed(&store).await;
    // 27 assignable addresses: .4 to .30.
    let subnet = stored_subnet(&store, vpc, 40, "10.0.2.0/27").await;

    let eni = |n: u64, ip: Ipv4Addr| Eni {
        id: EniId::from_bits(u128::from(1000 + n)),
        account: "111111111111".into(),
        region: "us-east-1".into(),
        vpc,
        subnet: subnet.id,
        zone: "us-east-1a".into(),
        ip,
        kind: EniKind::Endpoint,
        owner: format!("owner-{n}"),
    };
    // The model: owner -> address.
    let mut model: BTreeMap<u64, Ipv4Addr> = BTreeMap::new();
    let mut seed_state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        seed_state ^= seed_state << 13;
        seed_state ^= seed_state >> 7;
        seed_state ^= seed_state << 17;
        seed_state
    };
    let mut full_seen = false;
    for n in 0..400_u64 {
        let used: BTreeSet<Ipv4Addr> = model.values().copied().collect();
        let expected = allocate(&subnet.cidr, &used).ok();
        let mut tx = store.begin().await.unwrap();
        let got = network::lowest_free_ip(&mut tx, &subnet.id, &subnet.cidr)
            .await
            .unwrap();
        assert_eq!(got, expected, "step {n}, in use {used:?}");
        full_seen |= got.is_none();
        match next() % 10 {
            // Take the lowest free address (most steps, so the subnet fills up).
            0..=5 => {
                if let Some(ip) = got {
                    network::insert_eni(&mut tx, &eni(n, ip)).await.unwrap();
                    model.insert(n, ip);
                }
            }
            // Take an explicit free address above the floor.
            6 => {
                let free: Vec<u32> = (u32::from(Ipv4Addr::new(10, 0, 2, 4))
                    ..u32::from(Ipv4Addr::new(10, 0, 2, 31)))
                    .filter(|a| !used.contains(&Ipv4Addr::from(*a)))
                    .collect();
                if !free.is_empty() {
                    let ip = Ipv4Addr::from(free[(next() as usize) % free.len()]);
                    network::insert_eni(&mut tx, &eni(n, ip)).await.unwrap();
                    model.insert(n, ip);
                }
            }
            // Free a random owner's address.
            7 | 8 => {
                if !model.is_empty() {
                    let owners: Vec<u64> = model.keys().copied().collect();
                    let owner = owners[(next() as usize) % owners.len()];
                    network::delete_enis_of(&mut tx, &format!("owner-{owner}"))
                        .await
                        .unwrap();
                    model.remove(&owner);
                }
            }
            // Allocate, then roll back: nothing changes, the floor included.
            _ => {
                if let Some(ip) = got {
                    network::insert_eni(&mut tx, &eni(n, ip)).await.unwrap();
                }
                drop(tx);
                continue;
            }
        }
        tx.commit().await.unwrap();
    }
    assert!(full_seen, "the walk filled the subnet at least once");
}

#[tokio::test]
async fn a_subnets_interfaces_are_found_through_its_unique_address_index_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "plans")).await.unwrap();
    let mut read = store.read().await.unwrap();
    let c = underpass_store::Db::connection(&mut read).unwrap();
    // Address allocation and AvailableIpAddressCount.
    for sql in [
        "SELECT COUNT(*) FROM network_interfaces WHERE subnet_id = 'subnet-1'",
        "SELECT EXISTS (SELECT 1 FROM network_interfaces WHERE subnet_id = 'subnet-1' AND ip = '10.0.0.5')",
    ] {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter()
                .any(|step| step
                    .contains("USING COVERING INDEX sqlite_autoindex_network_interfaces_2")),
            "{sql}: {plan:?}"
        );
    }
    // No index repeats UNIQUE (subnet_id, ip)'s leading column: every interface insert would
    // write a page of it for nothing.
    let mut stmt = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'network_interfaces'",
        )
        .unwrap();
    let mut indexes: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    indexes.sort();
    // No index of the primary key either: the table is keyed by it (WITHOUT ROWID, 0063).
    assert_eq!(
        indexes,
        ["enis_owner", "sqlite_autoindex_network_interfaces_2"]
    );
}

#[tokio::test]
async fn a_page_of_endpoint_versions_is_read_from_one_index_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "plans")).await.unwrap();
    let mut read = store.read().await.unwrap();
    let c = underpass_store::Db::connection(&mut read).unwrap();
    let mut stmt = c
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            underpass_store::services::ENDPOINT_PAGE_SQL
        ))
        .unwrap();
    let plan: Vec<String> = stmt
        .query_map(rusqlite::params!["1", "vpce-0", "us-east-1", 101], |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // One range of the listing index, no visit of the table's rows and no sort.
    assert_eq!(
        plan,
        ["SEARCH endpoints USING COVERING INDEX endpoints_listing \
          (account_id=? AND region=? AND endpoint_id>?)"],
    );
}

#[tokio::test]
async fn an_endpoints_version_moves_with_its_row_interfaces_and_tags_only() {
    use underpass_domain::EniId;
    use underpass_store::records::{Eni, EniKind};
    use underpass_store::tags;

    async fn tag(tx: &mut underpass_store::Tx, resource: &str, key: &str, value: &str) {
        let t = [(key.to_owned(), value.to_owned())];
        tags::set(
            tx,
            "111111111111",
            "us-east-1",
            resource,
            "vpc-endpoint",
            &t,
        )
        .await
        .unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&cfg(dir.path(), "i")).await.unwrap();
    let (vpc, ep) = seed(&store).await;
    let subnet = stored_subnet(&store, vpc, 41, "10.0.3.0/24").await;
    let mut tx = store.begin().await.unwrap();
    let version = |versions: Vec<(EndpointId, i64)>| {
        assert_eq!(versions.len(), 1, "{versions:?}");
        assert_eq!(versions[0].0, ep);
        versions[0].1
    };
    let mut last = -1;
    // Each step: what it does, and whether the endpoint's version must move.
    for step in 0..9 {
        let moves = match step {
            0 => false, // the version as seeded
            1 => {
                network::insert_eni(
                    &mut tx,
                    &Eni {
                        id: EniId::from_bits(77),
                        account: "111111111111".into(),
                        region: "us-east-1".into(),
                        vpc,
                        subnet: subnet.id,
                        zone: "us-east-1a".into(),
                        ip: "10.0.3.4".parse().unwrap(),
                        kind: EniKind::Endpoint,
                        owner: ep.to_string(),
                    },
                )
                .await
                .unwrap();
                true
            }
            2 => {
                tag(&mut tx, &ep.to_string(), "team", "blue").await;
                true
            }
            3 => {
                // The same key again: an upsert's update.
                tag(&mut tx, &ep.to_string(), "team", "red").await;
                true
            }
            4 => {
                assert!(tags::remove(&mut tx, &ep.to_string(), "team", None)
                    .await
                    .unwrap());
                true
            }
            5 => {
                // Another resource's tag, and another endpoint id's: not this endpoint.
                tag(&mut tx, &vpc.to_string(), "k", "v").await;
                tag(&mut tx, &EndpointId::from_bits(99).to_string(), "k", "v").await;
                false
            }
            6 => {
                services::set_endpoint_policy(&mut tx, &ep, Some("{}"), now())
                    .await
                    .unwrap();
                true
            }
            7 => {
                services::transition(&mut tx, &ep, ConnEvent::Accept, "test", now())
                    .await
                    .unwrap()
                    .unwrap();
                true
            }
            _ => {
                network::delete_enis_of(&mut tx, &ep.to_string())
                    .await
                    .unwrap();
                true
            }
        };
        let v = version(
            services::page_endpoint_versions(&mut tx, "111111111111", "us-east-1", None, 10)
                .await
                .unwrap(),
        );
        if step > 0 {
            assert_eq!(v > last, moves, "step {step}: {last} -> {v}");
            assert!(v >= last, "step {step}: a version never goes back");
        }
        last = v;
    }
    // The rows read by id carry the same version, and their interfaces (none left).
    let read = services::endpoints_by_ids(&mut tx, &[ep.to_string(), "vpce-0missing".into()])
        .await
        .unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].0.id, ep);
    assert_eq!(read[0].1, last);
    assert!(read[0].0.enis.is_empty());
    tx.commit().await.unwrap();
}
