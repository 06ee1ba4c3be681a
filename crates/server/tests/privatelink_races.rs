//! PrivateLink under pressure, over loopback HTTP with a real SQLite store: address
//! exhaustion (RELIABILITY item 34), ClientToken races (item 36), and 50 concurrent accept /
//! reject / delete calls on one connection whose recorded history is replayed through the
//! domain state machine (item 35).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::privatelink::{
    allow, check_history, consumer_network, create_endpoint, endpoint_params, endpoint_state,
    history_of, service, unsuccessful, CONSUMER, PROVIDER, STRANGER,
};
use common::{account, code, env, free_ips, group, ok, provider_network, subnet, vpc};
use serde_json::json;
use underpass_domain::ConnState;

#[tokio::test]
async fn a_full_subnet_refuses_the_twelfth_endpoint_whole() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let p = provider_network(&provider, "gw").await;
    let (sid, name) = service(&provider, &p.lb, false).await;
    allow(&provider, &sid, &format!("arn:aws:iam::{CONSUMER}:root")).await;
    let v = vpc(&consumer, "10.0.0.0/16").await;
    let tiny = subnet(&consumer, &v, "10.0.0.0/28", "us-east-1a").await;
    let roomy = subnet(&consumer, &v, "10.0.1.0/24", "us-east-1b").await;
    let sg = group(&consumer, &v, "endpoint").await;
    let params = |subnets: Vec<&str>| {
        json!({"VpcEndpointType": "Interface", "VpcId": v, "ServiceName": name,
               "SubnetIds": subnets, "SecurityGroupIds": [sg]})
    };

    let mut ids = Vec::new();
    for _ in 0..11 {
        let ep = create_endpoint(&consumer, params(vec![&tiny])).await;
        // No acceptance required: provisioned at once.
        assert_eq!(ep["State"], "available");
        ids.push(ep["VpcEndpointId"].as_str().unwrap().to_owned());
    }
    assert_eq!(free_ips(&consumer, &tiny).await, 0);
    // The 12th fails whole, even when another subnet of the request had room (item 34).
    for subnets in [vec![tiny.as_str()], vec![roomy.as_str(), tiny.as_str()]] {
        assert_eq!(
            code(consumer.call("CreateVpcEndpoint", &params(subnets)).await),
            "InsufficientFreeAddressesInSubnet"
        );
    }
    assert_eq!(free_ips(&consumer, &roomy).await, 251, "no address leaked");
    let eps = ok(&consumer, "DescribeVpcEndpoints", json!({})).await;
    assert_eq!(eps["VpcEndpoints"].as_array().unwrap().len(), 11);
    let enis = ok(&consumer, "DescribeNetworkInterfaces", json!({})).await;
    let enis = enis["NetworkInterfaces"].as_array().unwrap();
    assert_eq!(enis.len(), 11);
    let addrs: BTreeSet<&str> = enis
        .iter()
        .map(|e| e["PrivateIpAddress"].as_str().unwrap())
        .collect();
    let want: BTreeSet<String> = (4..15).map(|i| format!("10.0.0.{i}")).collect();
    assert_eq!(addrs, want.iter().map(String::as_str).collect());
    let conns = ok(&provider, "DescribeVpcEndpointConnections", json!({})).await;
    assert_eq!(
        conns["VpcEndpointConnections"].as_array().unwrap().len(),
        11
    );
    for id in &ids {
        let h = history_of(&env, id).await;
        assert_eq!(check_history(&h), ConnState::Available);
        assert_eq!(h[0].event, "CreateAutoAccept");
    }

    // Paging over the endpoints.
    let page = ok(&consumer, "DescribeVpcEndpoints", json!({"MaxResults": 5})).await;
    assert_eq!(page["VpcEndpoints"].as_array().unwrap().len(), 5);
    assert!(page["NextToken"].is_string());

    // A freed address is reused.
    ok(
        &consumer,
        "DeleteVpcEndpoints",
        json!({"VpcEndpointIds": [ids[3]]}),
    )
    .await;
    assert_eq!(free_ips(&consumer, &tiny).await, 1);
    let again = create_endpoint(&consumer, params(vec![&tiny])).await;
    let eni = ok(
        &consumer,
        "DescribeNetworkInterfaces",
        json!({"NetworkInterfaceIds": [again["NetworkInterfaceIds"][0]]}),
    )
    .await;
    assert_eq!(eni["NetworkInterfaces"][0]["PrivateIpAddress"], "10.0.0.7");
    env.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_token_replays_and_races() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let p = provider_network(&provider, "gw").await;
    let (sid, name) = service(&provider, &p.lb, true).await;
    allow(&provider, &sid, "*").await;
    let con = consumer_network(&consumer).await;

    let mut params = endpoint_params(&con, &name);
    params["ClientToken"] = json!("token-1");
    let first = ok(&consumer, "CreateVpcEndpoint", params.clone()).await;
    assert_eq!(first["ClientToken"], "token-1");
    let again = ok(&consumer, "CreateVpcEndpoint", params.clone()).await;
    assert_eq!(
        again["VpcEndpoint"]["VpcEndpointId"],
        first["VpcEndpoint"]["VpcEndpointId"]
    );
    let mut other = params.clone();
    other["SubnetIds"] = json!([con.subnets[0]]);
    assert_eq!(
        code(consumer.call("CreateVpcEndpoint", &other).await),
        "IdempotentParameterMismatch"
    );
    // Tokens are per account: another account's same token is a new request.
    let stranger = account(&env, STRANGER).await;
    let mine = consumer_network(&stranger).await;
    let mut theirs = endpoint_params(&mine, &name);
    theirs["ClientToken"] = json!("token-1");
    let t = ok(&stranger, "CreateVpcEndpoint", theirs).await;
    assert_ne!(
        t["VpcEndpoint"]["VpcEndpointId"],
        first["VpcEndpoint"]["VpcEndpointId"]
    );

    // 20 concurrent calls with one new token: exactly one endpoint (item 36).
    let mut raced = endpoint_params(&con, &name);
    raced["ClientToken"] = json!("token-race");
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = consumer.clone();
        let p = raced.clone();
        set.spawn(async move { c.call("CreateVpcEndpoint", &p).await });
    }
    let mut ids = BTreeSet::new();
    while let Some(r) = set.join_next().await {
        let r = r.unwrap().unwrap();
        ids.insert(
            r["VpcEndpoint"]["VpcEndpointId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let eps = ok(&consumer, "DescribeVpcEndpoints", json!({})).await;
    assert_eq!(eps["VpcEndpoints"].as_array().unwrap().len(), 2);
    let enis = ok(&consumer, "DescribeNetworkInterfaces", json!({})).await;
    assert_eq!(enis["NetworkInterfaces"].as_array().unwrap().len(), 4);

    // The service configuration takes a ClientToken too.
    let body = json!({"NetworkLoadBalancerArns": [p.lb], "ClientToken": "svc-1"});
    let s1 = ok(
        &provider,
        "CreateVpcEndpointServiceConfiguration",
        body.clone(),
    )
    .await;
    let s2 = ok(&provider, "CreateVpcEndpointServiceConfiguration", body).await;
    assert_eq!(
        s1["ServiceConfiguration"]["ServiceId"],
        s2["ServiceConfiguration"]["ServiceId"]
    );
    assert_eq!(
        code(
            provider
                .call(
                    "CreateVpcEndpointServiceConfiguration",
                    &json!({"NetworkLoadBalancerArns": [p.lb], "AcceptanceRequired": false, "ClientToken": "svc-1"})
                )
                .await
        ),
        "IdempotentParameterMismatch"
    );
    env.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_racing_decisions_leave_one_state_and_a_legal_history() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let p = provider_network(&provider, "gw").await;
    let (sid, name) = service(&provider, &p.lb, true).await;
    allow(&provider, &sid, "*").await;
    let con = consumer_network(&consumer).await;

    for round in 0..2 {
        let ep = create_endpoint(&consumer, endpoint_params(&con, &name)).await;
        let id = ep["VpcEndpointId"].as_str().unwrap().to_owned();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..50 {
            // Round 0 starts with deletes early in the mix, round 1 with accepts and rejects.
            let kind = (i + round) % 3;
            let (client, action, body) = match kind {
                0 => (
                    provider.clone(),
                    "AcceptVpcEndpointConnections",
                    json!({"ServiceId": sid, "VpcEndpointIds": [id]}),
                ),
                1 => (
                    provider.clone(),
                    "RejectVpcEndpointConnections",
                    json!({"ServiceId": sid, "VpcEndpointIds": [id]}),
                ),
                _ => (
                    consumer.clone(),
                    "DeleteVpcEndpoints",
                    json!({"VpcEndpointIds": [id]}),
                ),
            };
            set.spawn(async move { (action, client.call(action, &body).await) });
        }
        let (mut accepted, mut rejected, mut deleted) = (0, 0, 0);
        while let Some(r) = set.join_next().await {
            let (action, r) = r.unwrap();
            let r = r.unwrap_or_else(|e| panic!("{action} failed as a whole: {e}"));
            let failures = unsuccessful(&r);
            if failures.is_empty() {
                match action {
                    "AcceptVpcEndpointConnections" => accepted += 1,
                    "RejectVpcEndpointConnections" => rejected += 1,
                    _ => deleted += 1,
                }
            } else {
                // Losers get a state error for this very endpoint, never anything else.
                assert_eq!(
                    failures,
                    vec![(id.clone(), "IncorrectState".to_owned())],
                    "{action}"
                );
            }
        }
        // Exactly one delete wins; at most one accept; rejects only before the delete.
        assert_eq!(deleted, 1);
        assert!(accepted <= 1 && rejected <= 1, "{accepted} {rejected}");
        let h = history_of(&env, &id).await;
        let last = check_history(&h);
        assert_eq!(last, ConnState::Deleted);
        assert_eq!(endpoint_state(&consumer, &id).await, last.as_str());
        // Every winning call left its transitions, and nothing else was recorded.
        assert_eq!(h.len(), 1 + 2 * accepted + rejected + 2 * deleted, "{h:?}");
    }
    for s in &con.subnets {
        assert_eq!(free_ips(&consumer, s).await, 251);
    }
    env.server.stop().await;
}
