//! `DescribeVpcEndpoints` listings served from the items the server keeps between changes
//! (`actions/vpce_items.rs`): every kind of change to what an endpoint shows reaches the next
//! listing, whether it is the endpoint's own row, its tags, a state change made by the
//! provider, the groups it names or its deletion; filters see the change too; and the answers
//! of pages served from memory are the answers read from the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::privatelink::{
    allow, consumer_network, create_endpoint, endpoint_params, service, CONSUMER, PROVIDER,
};
use common::{account, env, group, ok, provider_network};
use serde_json::{json, Value};
use underpass_cli::Client;

/// Every endpoint of the caller, through full pagings of `page` per call, in listing order.
async fn listing(c: &Client, page: i64, filters: Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let mut params = json!({"MaxResults": page, "Filters": filters});
        if let Some(t) = &token {
            params["NextToken"] = json!(t);
        }
        let r = ok(c, "DescribeVpcEndpoints", params).await;
        out.extend(r["VpcEndpoints"].as_array().unwrap().iter().cloned());
        match r["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return out,
        }
    }
    panic!("a paging that does not end");
}

/// The endpoint `id` as the listing shows it.
async fn listed(c: &Client, id: &str) -> Value {
    listing(c, 5, json!([]))
        .await
        .into_iter()
        .find(|e| e["VpcEndpointId"] == id)
        .unwrap_or_else(|| panic!("{id} is not listed"))
}

/// The endpoint `id` read by id (never from the kept items).
async fn by_id(c: &Client, id: &str) -> Value {
    ok(c, "DescribeVpcEndpoints", json!({"VpcEndpointIds": [id]})).await["VpcEndpoints"][0].clone()
}

fn ids(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|e| e["VpcEndpointId"].as_str().unwrap().to_owned())
        .collect()
}

/// A provider's service that requires acceptance and `n` of the consumer's endpoints to it:
/// the environment, the provider, the consumer, the service id and the endpoint ids, sorted.
async fn endpoints(n: usize) -> (common::Env, Client, Client, String, Vec<String>) {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let p = provider_network(&provider, "items-nlb").await;
    let (sid, name) = service(&provider, &p.lb, true).await;
    allow(&provider, &sid, &format!("arn:aws:iam::{CONSUMER}:root")).await;
    let con = consumer_network(&consumer).await;
    let mut made = Vec::with_capacity(n);
    for _ in 0..n {
        let e = create_endpoint(&consumer, endpoint_params(&con, &name)).await;
        made.push(e["VpcEndpointId"].as_str().unwrap().to_owned());
    }
    made.sort();
    (env, provider, consumer, sid, made)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_show_every_change_made_after_the_items_were_kept() {
    let (env, provider, consumer, sid, made) = endpoints(12).await;
    let target = made[7].clone();

    // Read twice: the second listing comes from the kept items (the metrics say so), and says
    // the same.
    let counted = |source: &str| -> u64 {
        let m = env.server.state.metrics.render();
        let line = format!("underpass_endpoint_listing_items_total{{source=\"{source}\"}} ");
        m.lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .unwrap_or_else(|| panic!("no {line} in\n{m}"))
            .parse()
            .unwrap()
    };
    let first = listing(&consumer, 5, json!([])).await;
    assert_eq!(ids(&first), made);
    let (memory, store) = (counted("memory"), counted("store"));
    assert!(
        store >= 12,
        "every endpoint read once from the store: {store}"
    );
    let second = listing(&consumer, 5, json!([])).await;
    assert_eq!(first, second);
    assert_eq!(counted("store"), store, "nothing read again");
    assert!(counted("memory") >= memory + 12, "all from memory");
    assert_eq!(
        listed(&consumer, &target).await,
        by_id(&consumer, &target).await
    );
    assert_eq!(
        listed(&consumer, &target).await["State"],
        "pendingAcceptance"
    );

    // Tags: created, overwritten, deleted; each shows, and a tag filter follows.
    let team = |value: &'static str| {
        let (consumer, target) = (consumer.clone(), target.clone());
        async move {
            let tag = json!([{"Key": "team", "Value": value}]);
            ok(
                &consumer,
                "CreateTags",
                json!({"Resources": [target], "Tags": tag}),
            )
            .await;
            assert_eq!(listed(&consumer, &target).await["Tags"], tag);
            listing(
                &consumer,
                5,
                json!([{"Name": "tag:team", "Values": ["blue"]}]),
            )
            .await
        }
    };
    let blue = team("blue").await;
    assert_eq!(ids(&blue), vec![target.clone()]);
    let blue = team("red").await;
    assert!(blue.is_empty(), "{blue:?}");
    ok(
        &consumer,
        "DeleteTags",
        json!({"Resources": [target], "Tags": [{"Key": "team"}]}),
    )
    .await;
    assert!(listed(&consumer, &target).await.get("Tags").is_none());

    // The endpoint's own row: its policy.
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#;
    ok(
        &consumer,
        "ModifyVpcEndpoint",
        json!({"VpcEndpointId": target, "PolicyDocument": policy}),
    )
    .await;
    assert_eq!(listed(&consumer, &target).await["PolicyDocument"], policy);

    // A second group, with its name, and then without the first.
    let before = by_id(&consumer, &target).await;
    let (vpc, first_group) = (&before["VpcId"], &before["Groups"][0]["GroupId"]);
    let other = group(&consumer, vpc.as_str().unwrap(), "second-group").await;
    ok(
        &consumer,
        "ModifyVpcEndpoint",
        json!({"VpcEndpointId": target, "AddSecurityGroupIds": [other], "RemoveSecurityGroupIds": [first_group]}),
    )
    .await;
    assert_eq!(
        listed(&consumer, &target).await["Groups"],
        json!([{"GroupId": other, "GroupName": "second-group"}])
    );

    // The provider's decisions: accepted, then rejected; a state filter follows.
    ok(
        &provider,
        "AcceptVpcEndpointConnections",
        json!({"ServiceId": sid, "VpcEndpointIds": [target]}),
    )
    .await;
    assert_eq!(listed(&consumer, &target).await["State"], "available");
    let available = listing(
        &consumer,
        5,
        json!([{"Name": "vpc-endpoint-state", "Values": ["available"]}]),
    )
    .await;
    assert_eq!(ids(&available), vec![target.clone()]);
    ok(
        &provider,
        "RejectVpcEndpointConnections",
        json!({"ServiceId": sid, "VpcEndpointIds": [target]}),
    )
    .await;
    assert_eq!(listed(&consumer, &target).await["State"], "rejected");

    // Deleted: the state moves, and the interfaces go.
    let gone = made[2].clone();
    assert_eq!(
        listed(&consumer, &gone).await["NetworkInterfaceIds"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    ok(
        &consumer,
        "DeleteVpcEndpoints",
        json!({"VpcEndpointIds": [gone]}),
    )
    .await;
    let after = listed(&consumer, &gone).await;
    assert_eq!(after["State"], "deleted");
    assert_eq!(after, by_id(&consumer, &gone).await);

    // After all that, every listed endpoint is what a read by id says, page size aside.
    for size in [5, 100] {
        for e in listing(&consumer, size, json!([])).await {
            let id = e["VpcEndpointId"].as_str().unwrap();
            assert_eq!(e, by_id(&consumer, id).await, "{id}");
        }
    }
    env.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_that_race_changes_end_on_the_final_state() {
    // Listings keep items read at older snapshots while tags and states change underneath; once
    // the changes stop, every listing must say what the store says (no item kept at a version
    // that is not the endpoint's last).
    let (env, provider, consumer, sid, made) = endpoints(10).await;

    let mut set = tokio::task::JoinSet::new();
    {
        let (c, made) = (consumer.clone(), made.clone());
        set.spawn(async move {
            for round in 0..40 {
                let id = &made[round % made.len()];
                let tags = json!([{"Key": "round", "Value": round.to_string()}]);
                ok(&c, "CreateTags", json!({"Resources": [id], "Tags": tags})).await;
            }
        });
    }
    {
        let (c, made, sid) = (provider.clone(), made.clone(), sid.clone());
        set.spawn(async move {
            for (n, id) in made.iter().enumerate() {
                let action = if n % 3 == 0 {
                    "RejectVpcEndpointConnections"
                } else {
                    "AcceptVpcEndpointConnections"
                };
                ok(
                    &c,
                    action,
                    json!({"ServiceId": sid, "VpcEndpointIds": [id]}),
                )
                .await;
            }
        });
    }
    for size in [5, 7] {
        let c = consumer.clone();
        set.spawn(async move {
            for _ in 0..15 {
                assert_eq!(listing(&c, size, json!([])).await.len(), 10);
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }

    let settled = listing(&consumer, 6, json!([])).await;
    assert_eq!(settled.len(), 10);
    for e in &settled {
        let id = e["VpcEndpointId"].as_str().unwrap();
        assert_eq!(*e, by_id(&consumer, id).await, "{id}");
    }
    // The last round's tag and the provider's decisions are what the listing shows.
    let last = settled
        .iter()
        .find(|e| e["VpcEndpointId"] == made[39 % made.len()])
        .unwrap();
    assert_eq!(last["Tags"], json!([{"Key": "round", "Value": "39"}]));
    for (n, id) in made.iter().enumerate() {
        let e = settled.iter().find(|e| e["VpcEndpointId"] == *id).unwrap();
        let want = if n % 3 == 0 { "rejected" } else { "available" };
        assert_eq!(e["State"], want, "{id}");
    }
    env.server.stop().await;
}
