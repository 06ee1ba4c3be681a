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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_show_every_change_made_after_the_items_were_kept() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let p = provider_network(&provider, "items-nlb").await;
    let (sid, name) = service(&provider, &p.lb, true).await;
    allow(&provider, &sid, &format!("arn:aws:iam::{CONSUMER}:root")).await;
    let con = consumer_network(&consumer).await;
    let mut made = Vec::new();
    for _ in 0..12 {
        let e = create_endpoint(&consumer, endpoint_params(&con, &name)).await;
        made.push(e["VpcEndpointId"].as_str().unwrap().to_owned());
    }
    made.sort();
    let target = made[7].clone();

    // Read twice: the second listing comes from the kept items, and says the same.
    let first = listing(&consumer, 5, json!([])).await;
    assert_eq!(ids(&first), made);
    let second = listing(&consumer, 5, json!([])).await;
    assert_eq!(first, second);
    assert_eq!(
        listed(&consumer, &target).await,
        by_id(&consumer, &target).await
    );
    assert_eq!(
        listed(&consumer, &target).await["State"],
        "pendingAcceptance"
    );

    // Tags: created, overwritten, deleted; each shows, and a tag filter follows.
    ok(
        &consumer,
        "CreateTags",
        json!({"Resources": [target], "Tags": [{"Key": "team", "Value": "blue"}]}),
    )
    .await;
    assert_eq!(
        listed(&consumer, &target).await["Tags"],
        json!([{"Key": "team", "Value": "blue"}])
    );
    let blue = listing(
        &consumer,
        5,
        json!([{"Name": "tag:team", "Values": ["blue"]}]),
    )
    .await;
    assert_eq!(ids(&blue), vec![target.clone()]);
    ok(
        &consumer,
        "CreateTags",
        json!({"Resources": [target], "Tags": [{"Key": "team", "Value": "red"}]}),
    )
    .await;
    assert_eq!(
        listed(&consumer, &target).await["Tags"],
        json!([{"Key": "team", "Value": "red"}])
    );
    let blue = listing(
        &consumer,
        5,
        json!([{"Name": "tag:team", "Values": ["blue"]}]),
    )
    .await;
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
    let other = group(&consumer, &con.vpc, "second-group").await;
    ok(
        &consumer,
        "ModifyVpcEndpoint",
        json!({"VpcEndpointId": target, "AddSecurityGroupIds": [other], "RemoveSecurityGroupIds": [con.sg]}),
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
