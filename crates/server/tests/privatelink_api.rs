//! PrivateLink end to end over loopback HTTP: endpoint services, allowed principals, interface
//! endpoints and connection acceptance, following the provider/consumer walkthrough, with the
//! real signer and a real SQLite store. The races of RELIABILITY section C are in
//! `privatelink_races.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::privatelink::{
    allow, check_history, consumer_network, create_endpoint, endpoint_params, endpoint_state,
    history_of, service, unsuccessful, CONSUMER, PROVIDER, STRANGER,
};
use common::{account, code, env, free_ips, group, ok, provider_network, subnet, vpc};
use serde_json::{json, Value};
use underpass_cli::Client;
use underpass_domain::ConnState;

#[tokio::test]
async fn walkthrough_provider_consumer_accept_reject_delete() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;

    // Provider: VPC, subnets, NLB, target group with a target, listener, endpoint service.
    let p = provider_network(&provider, "nlb-provider").await;
    let r = ok(
        &provider,
        "CreateVpcEndpointServiceConfiguration",
        json!({"NetworkLoadBalancerArns": [p.lb]}),
    )
    .await;
    let cfg = &r["ServiceConfiguration"];
    let sid = cfg["ServiceId"].as_str().unwrap().to_owned();
    let name = cfg["ServiceName"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("vpce-svc-") && sid.len() == 26, "{sid}");
    assert_eq!(name, format!("com.underpass.vpce.us-east-1.{sid}"));
    assert_eq!(
        cfg["AcceptanceRequired"], true,
        "acceptance is required by default"
    );
    assert_eq!(cfg["ServiceState"], "Available");
    assert_eq!(
        cfg["AvailabilityZones"],
        json!(["us-east-1a", "us-east-1b"])
    );
    assert_eq!(cfg["NetworkLoadBalancerArns"], json!([p.lb]));
    let listed = ok(
        &provider,
        "DescribeVpcEndpointServiceConfigurations",
        json!({}),
    )
    .await;
    assert_eq!(listed["ServiceConfigurations"].as_array().unwrap().len(), 1);

    // Before it is allowed, the consumer cannot find the service by name.
    assert_eq!(
        code(
            consumer
                .call(
                    "DescribeVpcEndpointServices",
                    &json!({"ServiceNames": [name]})
                )
                .await
        ),
        "InvalidServiceName"
    );
    let r = ok(
        &provider,
        "ModifyVpcEndpointServicePermissions",
        json!({"ServiceId": sid, "AddAllowedPrincipals": [format!("arn:aws:iam::{CONSUMER}:root")]}),
    )
    .await;
    assert_eq!(r["ReturnValue"], true);
    assert_eq!(r["AddedPrincipals"][0]["PrincipalType"], "Account");
    let perms = ok(
        &provider,
        "DescribeVpcEndpointServicePermissions",
        json!({"ServiceId": sid}),
    )
    .await;
    assert_eq!(
        perms["AllowedPrincipals"],
        json!([{"PrincipalType": "Account", "Principal": format!("arn:aws:iam::{CONSUMER}:root"), "ServiceId": sid}])
    );

    // The provider hears about every connection event of the service.
    ok(
        &provider,
        "CreateVpcEndpointConnectionNotification",
        json!({"ServiceId": sid, "ConnectionNotificationArn": format!("arn:aws:sns:us-east-1:{PROVIDER}:events"),
               "ConnectionEvents": ["Connect", "Accept", "Reject", "Delete"]}),
    )
    .await;

    // Consumer: finds the service by name, creates an endpoint: pendingAcceptance.
    let con = consumer_network(&consumer).await;
    let found = ok(
        &consumer,
        "DescribeVpcEndpointServices",
        json!({"ServiceNames": [name]}),
    )
    .await;
    assert_eq!(found["ServiceNames"], json!([name]));
    let detail = &found["ServiceDetails"][0];
    assert_eq!(detail["Owner"], PROVIDER);
    assert_eq!(detail["AcceptanceRequired"], true);
    assert_eq!(detail["ServiceType"][0]["ServiceType"], "Interface");
    let ep = create_endpoint(&consumer, endpoint_params(&con, &name)).await;
    let ep_id = ep["VpcEndpointId"].as_str().unwrap().to_owned();
    assert!(ep_id.starts_with("vpce-") && ep_id.len() == 22, "{ep_id}");
    assert_eq!(ep["State"], "pendingAcceptance");
    assert_eq!(ep["ServiceName"], name.as_str());
    assert_eq!(ep["OwnerId"], CONSUMER);
    assert_eq!(ep["VpcEndpointType"], "Interface");
    assert_eq!(ep["Groups"][0]["GroupId"], con.sg.as_str());
    assert_eq!(ep["NetworkInterfaceIds"].as_array().unwrap().len(), 2);
    assert!(ep["PolicyDocument"].as_str().unwrap().contains("\"Allow\""));

    // One ENI per subnet, each with the first free address of its subnet: the consumer uses
    // the same 10.0.0.0/16 as the provider, and that is fine.
    let enis = ok(
        &consumer,
        "DescribeNetworkInterfaces",
        json!({"Filters": [{"Name": "interface-type", "Values": ["vpc_endpoint"]}]}),
    )
    .await;
    let enis = enis["NetworkInterfaces"].as_array().unwrap();
    let mut ips: Vec<&str> = enis
        .iter()
        .map(|e| e["PrivateIpAddress"].as_str().unwrap())
        .collect();
    ips.sort_unstable();
    assert_eq!(ips, vec!["10.0.1.4", "10.0.2.4"]);
    assert!(enis
        .iter()
        .all(|e| e["Groups"][0]["GroupId"] == con.sg.as_str()
            && e["Description"] == format!("VPC Endpoint Interface {ep_id}")));
    assert_eq!(free_ips(&consumer, &con.subnets[0]).await, 250);

    // Provider: sees the connection request and accepts it: available at once.
    let conns = ok(
        &provider,
        "DescribeVpcEndpointConnections",
        json!({"Filters": [{"Name": "service-id", "Values": [sid]}, {"Name": "vpc-endpoint-state", "Values": ["pendingAcceptance"]}]}),
    )
    .await;
    let c0 = &conns["VpcEndpointConnections"][0];
    assert_eq!(c0["VpcEndpointId"], ep_id.as_str());
    assert_eq!(c0["VpcEndpointOwner"], CONSUMER);
    assert_eq!(c0["VpcEndpointState"], "pendingAcceptance");
    // The provider cannot see the consumer's endpoint itself, only the connection.
    assert_eq!(
        code(
            provider
                .call("DescribeVpcEndpoints", &json!({"VpcEndpointIds": [ep_id]}))
                .await
        ),
        "InvalidVpcEndpointId.NotFound"
    );
    // And the consumer cannot accept on the provider's behalf.
    assert_eq!(
        code(
            consumer
                .call(
                    "AcceptVpcEndpointConnections",
                    &json!({"ServiceId": sid, "VpcEndpointIds": [ep_id]})
                )
                .await
        ),
        "InvalidVpcEndpointServiceId.NotFound"
    );
    let r = ok(
        &provider,
        "AcceptVpcEndpointConnections",
        json!({"ServiceId": sid, "VpcEndpointIds": [ep_id]}),
    )
    .await;
    assert!(unsuccessful(&r).is_empty());
    assert_eq!(endpoint_state(&consumer, &ep_id).await, "available");
    // Accepting again is a per-item IncorrectState, not a failed call.
    let r = ok(
        &provider,
        "AcceptVpcEndpointConnections",
        json!({"ServiceId": sid, "VpcEndpointIds": [ep_id, "vpce-00000000000000000"]}),
    )
    .await;
    assert_eq!(
        unsuccessful(&r),
        vec![
            (ep_id.clone(), "IncorrectState".to_owned()),
            (
                "vpce-00000000000000000".to_owned(),
                "InvalidVpcEndpointId.NotFound".to_owned()
            ),
        ]
    );

    // The service and its load balancer cannot go while the connection lives (item 45).
    let r = ok(
        &provider,
        "DeleteVpcEndpointServiceConfigurations",
        json!({"ServiceIds": [sid]}),
    )
    .await;
    assert_eq!(
        unsuccessful(&r),
        vec![(sid.clone(), "ExistingVpcEndpointConnections".to_owned())]
    );
    assert_eq!(
        code(
            provider
                .call("DeleteLoadBalancer", &json!({"LoadBalancerArn": p.lb}))
                .await
        ),
        "ResourceInUse"
    );
    // Nor can the consumer's security group while the endpoint uses it.
    assert_eq!(
        code(
            consumer
                .call("DeleteSecurityGroup", &json!({"GroupId": con.sg}))
                .await
        ),
        "DependencyViolation"
    );

    // Reject path: a second endpoint, rejected, then deleted by the consumer.
    let ep2 = create_endpoint(&consumer, endpoint_params(&con, &name)).await;
    let ep2_id = ep2["VpcEndpointId"].as_str().unwrap().to_owned();
    let r = ok(
        &provider,
        "RejectVpcEndpointConnections",
        json!({"ServiceId": sid, "VpcEndpointIds": [ep2_id]}),
    )
    .await;
    assert!(unsuccessful(&r).is_empty());
    assert_eq!(endpoint_state(&consumer, &ep2_id).await, "rejected");
    let r = ok(
        &provider,
        "AcceptVpcEndpointConnections",
        json!({"ServiceId": sid, "VpcEndpointIds": [ep2_id]}),
    )
    .await;
    assert_eq!(
        unsuccessful(&r),
        vec![(ep2_id.clone(), "IncorrectState".to_owned())]
    );

    // Delete path: both endpoints deleted, addresses back in the subnets.
    let r = ok(
        &consumer,
        "DeleteVpcEndpoints",
        json!({"VpcEndpointIds": [ep_id, ep2_id, "vpce-00000000000000000"]}),
    )
    .await;
    assert_eq!(
        unsuccessful(&r),
        vec![(
            "vpce-00000000000000000".to_owned(),
            "InvalidVpcEndpointId.NotFound".to_owned()
        )]
    );
    assert_eq!(endpoint_state(&consumer, &ep_id).await, "deleted");
    assert_eq!(free_ips(&consumer, &con.subnets[0]).await, 251);
    assert_eq!(free_ips(&consumer, &con.subnets[1]).await, 251);
    let r = ok(
        &consumer,
        "DeleteVpcEndpoints",
        json!({"VpcEndpointIds": [ep_id]}),
    )
    .await;
    assert_eq!(
        unsuccessful(&r),
        vec![(ep_id.clone(), "IncorrectState".to_owned())]
    );

    // Each event was delivered to the notification (as many deletions as endpoints deleted).
    let metrics = env.server.state.metrics.render();
    for event in ["Connect", "Accept", "Reject"] {
        assert!(
            metrics.contains(&format!(
                "underpass_connection_notifications_total{{event=\"{event}\"}}"
            )),
            "{event} not delivered:\n{metrics}"
        );
    }
    assert!(
        metrics.contains("underpass_connection_notifications_total{event=\"Delete\"} 2"),
        "{metrics}"
    );

    let h = history_of(&env, &ep_id).await;
    assert_eq!(check_history(&h), ConnState::Deleted);
    let states: Vec<&str> = h.iter().map(|e| e.to.as_str()).collect();
    assert_eq!(
        states,
        [
            "pendingAcceptance",
            "pending",
            "available",
            "deleting",
            "deleted"
        ]
    );
    assert_eq!(h[1].actor, format!("arn:aws:iam::{PROVIDER}:root"));
    let h2 = history_of(&env, &ep2_id).await;
    assert_eq!(check_history(&h2), ConnState::Deleted);
    assert!(h2.iter().any(|e| e.to == ConnState::Rejected));

    // Now the service can go, then the load balancer.
    let r = ok(
        &provider,
        "DeleteVpcEndpointServiceConfigurations",
        json!({"ServiceIds": [sid]}),
    )
    .await;
    assert!(unsuccessful(&r).is_empty());
    ok(
        &provider,
        "DeleteLoadBalancer",
        json!({"LoadBalancerArn": p.lb}),
    )
    .await;
    assert_eq!(
        code(
            consumer
                .call(
                    "DescribeVpcEndpointServices",
                    &json!({"ServiceNames": [name]})
                )
                .await
        ),
        "InvalidServiceName"
    );
    env.server.stop().await;
}

#[tokio::test]
async fn only_allowed_principals_see_and_connect() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let stranger = account(&env, STRANGER).await;
    let p = provider_network(&provider, "gw").await;
    let (sid, name) = service(&provider, &p.lb, true).await;
    allow(&provider, &sid, &format!("arn:aws:iam::{CONSUMER}:root")).await;
    let mine = consumer_network(&stranger).await;

    // The stranger: the name does not exist for it, and it cannot connect.
    assert_eq!(
        code(
            stranger
                .call(
                    "DescribeVpcEndpointServices",
                    &json!({"ServiceNames": [name]})
                )
                .await
        ),
        "InvalidServiceName"
    );
    // It sees only the region's gateway services (S3 and DynamoDB, Amazon's).
    let all = ok(&stranger, "DescribeVpcEndpointServices", json!({})).await;
    assert_eq!(
        all["ServiceNames"],
        json!([
            "com.underpass.us-east-1.dynamodb",
            "com.underpass.us-east-1.s3"
        ])
    );
    assert!(all["ServiceDetails"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["ServiceType"][0]["ServiceType"] == "Gateway" && d["Owner"] == "amazon"));
    assert_eq!(
        code(
            stranger
                .call("CreateVpcEndpoint", &endpoint_params(&mine, &name))
                .await
        ),
        "InvalidServiceName"
    );
    // The allowed consumer sees it in the full listing.
    let all = ok(
        &consumer,
        "DescribeVpcEndpointServices",
        json!({"Filters": [{"Name": "service-type", "Values": ["Interface"]}]}),
    )
    .await;
    assert_eq!(all["ServiceNames"], json!([name]));

    // A user principal admits that user, not the rest of its account.
    ok(&stranger, "CreateUser", json!({"UserName": "alice"})).await;
    let k = ok(&stranger, "CreateAccessKey", json!({"UserName": "alice"})).await;
    let alice = stranger.with_credentials(common::key_creds(&k["AccessKey"]));
    ok(
        &stranger,
        "PutUserPolicy",
        json!({"UserName": "alice", "PolicyName": "ec2", "PolicyDocument":
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}}).to_string()}),
    )
    .await;
    allow(
        &provider,
        &sid,
        &format!("arn:aws:iam::{STRANGER}:user/alice"),
    )
    .await;
    ok(
        &alice,
        "DescribeVpcEndpointServices",
        json!({"ServiceNames": [name]}),
    )
    .await;
    assert_eq!(
        code(
            stranger
                .call(
                    "DescribeVpcEndpointServices",
                    &json!({"ServiceNames": [name]})
                )
                .await
        ),
        "InvalidServiceName"
    );
    let ep = create_endpoint(&alice, endpoint_params(&mine, &name)).await;
    assert_eq!(ep["State"], "pendingAcceptance");
    // Removing a principal hides the service again (the existing connection stays).
    ok(
        &provider,
        "ModifyVpcEndpointServicePermissions",
        json!({"ServiceId": sid, "RemoveAllowedPrincipals": [format!("arn:aws:iam::{STRANGER}:user/alice")]}),
    )
    .await;
    assert_eq!(
        code(
            alice
                .call(
                    "DescribeVpcEndpointServices",
                    &json!({"ServiceNames": [name]})
                )
                .await
        ),
        "InvalidServiceName"
    );
    let conns = ok(&provider, "DescribeVpcEndpointConnections", json!({})).await;
    assert_eq!(conns["VpcEndpointConnections"].as_array().unwrap().len(), 1);

    // "*" admits everyone.
    allow(&provider, &sid, "*").await;
    ok(
        &stranger,
        "DescribeVpcEndpointServices",
        json!({"ServiceNames": [name]}),
    )
    .await;

    // Principals are checked.
    for bad in [
        "garbage",
        "arn:aws:iam::12:root",
        "arn:aws:sts::222222222222:assumed-role/r/s",
        "arn:aws:s3:::bucket",
    ] {
        assert_eq!(
            code(
                provider
                    .call(
                        "ModifyVpcEndpointServicePermissions",
                        &json!({"ServiceId": sid, "AddAllowedPrincipals": [bad]})
                    )
                    .await
            ),
            "InvalidParameter",
            "{bad}"
        );
    }
    // Other accounts cannot read or change the service's permissions.
    assert_eq!(
        code(
            consumer
                .call(
                    "DescribeVpcEndpointServicePermissions",
                    &json!({"ServiceId": sid})
                )
                .await
        ),
        "InvalidVpcEndpointServiceId.NotFound"
    );
    assert_eq!(
        code(
            consumer
                .call(
                    "ModifyVpcEndpointServicePermissions",
                    &json!({"ServiceId": sid, "AddAllowedPrincipals": ["*"]})
                )
                .await
        ),
        "InvalidVpcEndpointServiceId.NotFound"
    );
    assert!(
        ok(&consumer, "DescribeVpcEndpointConnections", json!({})).await["VpcEndpointConnections"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    env.server.stop().await;
}

#[tokio::test]
async fn bad_endpoint_input_is_refused_and_leaves_nothing() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let p = provider_network(&provider, "gw").await;
    let (sid, name) = service(&provider, &p.lb, true).await;
    allow(&provider, &sid, "*").await;
    let con = consumer_network(&consumer).await;
    let second_a = subnet(&consumer, &con.vpc, "10.0.3.0/24", "us-east-1a").await;
    let zone_c = subnet(&consumer, &con.vpc, "10.0.4.0/24", "us-east-1c").await;
    let other_vpc = vpc(&consumer, "10.9.0.0/16").await;
    let foreign_subnet = subnet(&consumer, &other_vpc, "10.9.1.0/24", "us-east-1a").await;
    let foreign_sg = group(&consumer, &other_vpc, "elsewhere").await;
    let provider_subnet = p.subnets[0].clone();
    // Another account's group does not exist for the consumer, whatever its VPC.
    let provider_sg = group(&provider, &p.vpc, "theirs").await;

    let with = |patch: Value| {
        let mut base = endpoint_params(&con, &name);
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(json!({"ServiceName": "com.underpass.vpce.us-east-1.vpce-svc-00000000000000000"})),
            "InvalidServiceName",
        ),
        (
            with(json!({"SubnetIds": [foreign_subnet]})),
            "InvalidParameterValue",
        ),
        (
            with(json!({"SubnetIds": [con.subnets[0], second_a]})),
            "InvalidParameter",
        ),
        (with(json!({"SubnetIds": [zone_c]})), "InvalidParameter"),
        (
            with(json!({"SubnetIds": [provider_subnet]})),
            "InvalidSubnetID.NotFound",
        ),
        (
            with(json!({"SubnetIds": ["subnet-00000000000000000"]})),
            "InvalidSubnetID.NotFound",
        ),
        (with(json!({"SubnetIds": []})), "MissingParameter"),
        (
            with(json!({"SecurityGroupIds": [foreign_sg]})),
            "InvalidParameter",
        ),
        (
            with(json!({"SecurityGroupIds": ["sg-00000000000000000"]})),
            "InvalidGroup.NotFound",
        ),
        (
            with(json!({"SecurityGroupIds": [provider_sg]})),
            "InvalidGroup.NotFound",
        ),
        (with(json!({"VpcId": p.vpc})), "InvalidVpcID.NotFound"),
        (with(json!({"VpcId": "vpc-nope"})), "InvalidVpcID.Malformed"),
        (with(json!({"VpcEndpointType": null})), "InvalidParameter"),
        (
            with(json!({"VpcEndpointType": "GatewayLoadBalancer"})),
            "InvalidParameter",
        ),
        (
            with(json!({"PolicyDocument": "{\"Statement\": 5}"})),
            "MalformedPolicyDocument",
        ),
        (with(json!({"ClientToken": ""})), "InvalidParameterValue"),
        (with(json!({"Bogus": 1})), "InvalidParameterValue"),
    ];
    for (params, want) in &cases {
        assert_eq!(
            code(consumer.call("CreateVpcEndpoint", params).await),
            *want,
            "{params}"
        );
    }

    // Services: no load balancer, someone else's, a missing one.
    let foreign_lb = ok(
        &consumer,
        "CreateLoadBalancer",
        json!({"Name": "mine", "Subnets": [foreign_subnet]}),
    )
    .await["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    for (params, want) in [
        (json!({}), "InvalidParameter"),
        (json!({"NetworkLoadBalancerArns": []}), "InvalidParameter"),
        (
            json!({"NetworkLoadBalancerArns": [foreign_lb]}),
            "InvalidParameter",
        ),
        (
            json!({"NetworkLoadBalancerArns": [p.lb, p.lb]}),
            "InvalidParameter",
        ),
        (
            json!({"NetworkLoadBalancerArns": ["arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/x/0000000000000000"]}),
            "InvalidParameter",
        ),
        (
            json!({"NetworkLoadBalancerArns": [p.lb], "GatewayLoadBalancerArns": [p.lb]}),
            "InvalidParameter",
        ),
    ] {
        assert_eq!(
            code(
                provider
                    .call("CreateVpcEndpointServiceConfiguration", &params)
                    .await
            ),
            want,
            "{params}"
        );
    }
    assert_eq!(
        code(
            provider
                .call(
                    "ModifyVpcEndpointServiceConfiguration",
                    &json!({"ServiceId": sid, "RemoveNetworkLoadBalancerArns": [p.lb]})
                )
                .await
        ),
        "InvalidParameter"
    );
    assert_eq!(
        ok(
            &provider,
            "DescribeVpcEndpointServiceConfigurations",
            json!({})
        )
        .await["ServiceConfigurations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Nothing was half-made: no endpoint, no ENI, every address free.
    assert!(
        ok(&consumer, "DescribeVpcEndpoints", json!({})).await["VpcEndpoints"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let enis = ok(
        &consumer,
        "DescribeNetworkInterfaces",
        json!({"Filters": [{"Name": "interface-type", "Values": ["vpc_endpoint"]}]}),
    )
    .await;
    assert!(enis["NetworkInterfaces"].as_array().unwrap().is_empty());
    for s in &con.subnets {
        assert_eq!(free_ips(&consumer, s).await, 251);
    }

    // Accepting what is not pending, or not there.
    let ep = create_endpoint(&consumer, endpoint_params(&con, &name)).await;
    let ep_id = ep["VpcEndpointId"].as_str().unwrap().to_owned();
    ok(
        &provider,
        "RejectVpcEndpointConnections",
        json!({"ServiceId": sid, "VpcEndpointIds": [ep_id]}),
    )
    .await;
    let r = ok(
        &provider,
        "AcceptVpcEndpointConnections",
        json!({"ServiceId": sid, "VpcEndpointIds": [ep_id, "vpce-00000000000000000", "vpce-bad"]}),
    )
    .await;
    assert_eq!(
        unsuccessful(&r),
        vec![
            (ep_id.clone(), "IncorrectState".to_owned()),
            (
                "vpce-00000000000000000".to_owned(),
                "InvalidVpcEndpointId.NotFound".to_owned()
            ),
            (
                "vpce-bad".to_owned(),
                "InvalidVpcEndpointId.Malformed".to_owned()
            ),
        ]
    );
    assert_eq!(
        code(
            provider
                .call(
                    "AcceptVpcEndpointConnections",
                    &json!({"ServiceId": "vpce-svc-00000000000000000", "VpcEndpointIds": [ep_id]})
                )
                .await
        ),
        "InvalidVpcEndpointServiceId.NotFound"
    );
    assert_eq!(endpoint_state(&consumer, &ep_id).await, "rejected");
    env.server.stop().await;
}

#[tokio::test]
async fn modify_endpoint_policy_and_groups() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let p = provider_network(&provider, "gw").await;
    let (sid, name) = service(&provider, &p.lb, false).await;
    allow(&provider, &sid, "*").await;
    let con = consumer_network(&consumer).await;
    let sg2 = group(&consumer, &con.vpc, "second").await;
    let ep = create_endpoint(&consumer, endpoint_params(&con, &name)).await;
    let id = ep["VpcEndpointId"].as_str().unwrap().to_owned();

    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{CONSUMER}:root")}, "Action": "*", "Resource": "*"}]})
    .to_string();
    ok(
        &consumer,
        "ModifyVpcEndpoint",
        json!({"VpcEndpointId": id, "PolicyDocument": policy, "AddSecurityGroupIds": [sg2]}),
    )
    .await;
    let d = ok(
        &consumer,
        "DescribeVpcEndpoints",
        json!({"VpcEndpointIds": [id]}),
    )
    .await;
    let e = &d["VpcEndpoints"][0];
    assert_eq!(e["PolicyDocument"], policy.as_str());
    assert_eq!(e["Groups"].as_array().unwrap().len(), 2);
    for (params, want) in [
        (
            json!({"VpcEndpointId": id, "PolicyDocument": "not json"}),
            "MalformedPolicyDocument",
        ),
        (
            json!({"VpcEndpointId": id, "PolicyDocument": policy, "ResetPolicy": true}),
            "InvalidParameterCombination",
        ),
        (
            json!({"VpcEndpointId": id, "RemoveSecurityGroupIds": [con.sg, sg2]}),
            "InvalidParameter",
        ),
        (
            json!({"VpcEndpointId": id, "RemoveSecurityGroupIds": ["sg-00000000000000000"]}),
            "InvalidParameter",
        ),
        (
            json!({"VpcEndpointId": "vpce-00000000000000000", "ResetPolicy": true}),
            "InvalidVpcEndpointId.NotFound",
        ),
    ] {
        assert_eq!(
            code(consumer.call("ModifyVpcEndpoint", &params).await),
            want,
            "{params}"
        );
    }
    ok(
        &consumer,
        "ModifyVpcEndpoint",
        json!({"VpcEndpointId": id, "ResetPolicy": true, "RemoveSecurityGroupIds": [con.sg]}),
    )
    .await;
    let d = ok(
        &consumer,
        "DescribeVpcEndpoints",
        json!({"VpcEndpointIds": [id]}),
    )
    .await;
    let e = &d["VpcEndpoints"][0];
    assert!(e["PolicyDocument"]
        .as_str()
        .unwrap()
        .contains("\"Principal\":\"*\""));
    assert_eq!(
        e["Groups"],
        json!([{"GroupId": sg2, "GroupName": "second"}])
    );
    // The removed group is free to go; the one in use is not.
    ok(&consumer, "DeleteSecurityGroup", json!({"GroupId": con.sg})).await;
    assert_eq!(
        code(
            consumer
                .call("DeleteSecurityGroup", &json!({"GroupId": sg2}))
                .await
        ),
        "DependencyViolation"
    );
    // The provider cannot modify the consumer's endpoint.
    assert_eq!(
        code(
            provider
                .call(
                    "ModifyVpcEndpoint",
                    &json!({"VpcEndpointId": id, "ResetPolicy": true})
                )
                .await
        ),
        "InvalidVpcEndpointId.NotFound"
    );
    // Filters on endpoints.
    let f = ok(
        &consumer,
        "DescribeVpcEndpoints",
        json!({"Filters": [{"Name": "service-name", "Values": [name]}, {"Name": "vpc-endpoint-state", "Values": ["avail*"]}]}),
    )
    .await;
    assert_eq!(f["VpcEndpoints"].as_array().unwrap().len(), 1);
    env.server.stop().await;
}

#[tokio::test]
async fn endpoint_without_groups_gets_the_vpc_default_group() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let p = provider_network(&provider, "gw").await;
    let (sid, name) = service(&provider, &p.lb, false).await;
    allow(&provider, &sid, "*").await;
    let con = consumer_network(&consumer).await;
    let mut params = endpoint_params(&con, &name);
    params.as_object_mut().unwrap().remove("SecurityGroupIds");
    let ep = create_endpoint(&consumer, params).await;
    let groups = consumer
        .call(
            "DescribeSecurityGroups",
            &json!({"Filters": [{"Name": "vpc-id", "Values": [con.vpc]}, {"Name": "group-name", "Values": ["default"]}]}),
        )
        .await
        .unwrap();
    let default = groups["SecurityGroups"][0]["GroupId"].as_str().unwrap();
    assert_eq!(ep["Groups"].as_array().unwrap().len(), 1, "{ep}");
    assert_eq!(ep["Groups"][0]["GroupId"], default);
}

/// Every page of `params` (MaxResults 5), following NextToken: the endpoint ids, page by page.
async fn pages_of(c: &Client, params: Value) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let mut p = params.clone();
        p["MaxResults"] = json!(5);
        if let Some(t) = &token {
            p["NextToken"] = json!(t);
        }
        let r = ok(c, "DescribeVpcEndpoints", p).await;
        pages.push(
            r["VpcEndpoints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["VpcEndpointId"].as_str().unwrap().to_owned())
                .collect(),
        );
        match r["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => return pages,
        }
    }
    panic!("paging did not end");
}

#[tokio::test]
async fn describe_endpoints_pages_interface_and_gateway_endpoints_by_id_with_filters() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    let p = provider_network(&provider, "pages").await;
    let (sid, name) = service(&provider, &p.lb, false).await;
    allow(&provider, &sid, "*").await;
    let con = consumer_network(&consumer).await;
    let mut interfaces = Vec::new();
    let mut enis = std::collections::BTreeMap::new();
    for i in 0..9 {
        let mut params = endpoint_params(&con, &name);
        if i % 3 == 0 {
            params["TagSpecifications"] = json!([{"ResourceType": "vpc-endpoint",
                "Tags": [{"Key": "team", "Value": "blue"}]}]);
        }
        let ep = create_endpoint(&consumer, params).await;
        interfaces.push(ep["VpcEndpointId"].as_str().unwrap().to_owned());
        enis.insert(
            ep["VpcEndpointId"].as_str().unwrap().to_owned(),
            ep["NetworkInterfaceIds"].clone(),
        );
    }
    let mut gateways = Vec::new();
    for service in ["s3", "dynamodb", "s3", "dynamodb"] {
        let ep = create_endpoint(
            &consumer,
            json!({"VpcEndpointType": "Gateway", "VpcId": con.vpc,
                   "ServiceName": format!("com.underpass.us-east-1.{service}"),
                   "TagSpecifications": [{"ResourceType": "vpc-endpoint",
                       "Tags": [{"Key": "team", "Value": "blue"}]}]}),
        )
        .await;
        gateways.push(ep["VpcEndpointId"].as_str().unwrap().to_owned());
    }
    let mut all: Vec<String> = interfaces.iter().chain(&gateways).cloned().collect();
    all.sort();
    let whole = ok(&consumer, "DescribeVpcEndpoints", json!({})).await;
    let ids = |r: &Value| -> Vec<String> {
        r["VpcEndpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["VpcEndpointId"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&whole), all, "one call lists every endpoint, by id");
    // Each listed interface endpoint carries its own interfaces (read for the page at once).
    for e in whole["VpcEndpoints"].as_array().unwrap() {
        if let Some(want) = enis.get(e["VpcEndpointId"].as_str().unwrap()) {
            assert!(!want.as_array().unwrap().is_empty(), "{want}");
            assert_eq!(&e["NetworkInterfaceIds"], want, "{e}");
        }
    }
    assert!(whole.get("NextToken").is_none(), "{whole}");

    // Unfiltered pages: both kinds interleaved by id, 5 a page, nothing twice or missed.
    let pages = pages_of(&consumer, json!({})).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![5, 5, 3]
    );
    assert_eq!(pages.concat(), all);

    // Filtered pages: a filter drops items inside a page's read, and the pages still fill.
    let mut blue: Vec<String> = interfaces
        .iter()
        .step_by(3)
        .chain(&gateways)
        .cloned()
        .collect();
    blue.sort();
    let pages = pages_of(
        &consumer,
        json!({"Filters": [{"Name": "tag:team", "Values": ["blue"]}]}),
    )
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 2]);
    assert_eq!(pages.concat(), blue);
    let mut sorted_interfaces = interfaces.clone();
    sorted_interfaces.sort();
    let pages = pages_of(
        &consumer,
        json!({"Filters": [{"Name": "vpc-endpoint-type", "Values": ["Interface"]},
                           {"Name": "service-name", "Values": [name]}]}),
    )
    .await;
    assert_eq!(pages.concat(), sorted_interfaces);
    let pages = pages_of(
        &consumer,
        json!({"Filters": [{"Name": "service-name", "Values": ["*.s3"]}]}),
    )
    .await;
    let mut s3: Vec<String> = gateways.iter().step_by(2).cloned().collect();
    s3.sort();
    assert_eq!(pages, vec![s3]);

    // A token is bound to its filters.
    let first = ok(
        &consumer,
        "DescribeVpcEndpoints",
        json!({"MaxResults": 5, "Filters": [{"Name": "tag:team", "Values": ["blue"]}]}),
    )
    .await;
    let token = first["NextToken"].as_str().unwrap();
    let r = consumer
        .call(
            "DescribeVpcEndpoints",
            &json!({"MaxResults": 5, "NextToken": token}),
        )
        .await;
    assert_eq!(code(r), "InvalidPaginationToken");
    // The provider sees none of the consumer's endpoints.
    let theirs = ok(&provider, "DescribeVpcEndpoints", json!({})).await;
    assert_eq!(ids(&theirs), Vec::<String>::new());
}

#[tokio::test]
async fn an_endpoint_only_takes_subnets_in_zones_the_service_serves() {
    let env = env().await;
    let provider = account(&env, PROVIDER).await;
    let consumer = account(&env, CONSUMER).await;
    // A load balancer in zone a only.
    let pv = vpc(&provider, "10.0.0.0/16").await;
    let pa = subnet(&provider, &pv, "10.0.1.0/24", "us-east-1a").await;
    let lb = ok(
        &provider,
        "CreateLoadBalancer",
        json!({"Name": "one-zone", "Type": "network", "Scheme": "internal", "Subnets": [pa]}),
    )
    .await["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let (sid, name) = service(&provider, &lb, false).await;
    allow(&provider, &sid, &format!("arn:aws:iam::{CONSUMER}:root")).await;
    let r = ok(
        &provider,
        "DescribeVpcEndpointServiceConfigurations",
        json!({"ServiceIds": [sid]}),
    )
    .await;
    assert_eq!(
        r["ServiceConfigurations"][0]["AvailabilityZones"],
        json!(["us-east-1a"])
    );
    let con = consumer_network(&consumer).await;
    // Zone b's subnet: refused, naming the zones served; zone a's alone: made.
    let err = consumer
        .call(
            "CreateVpcEndpoint",
            &json!({"VpcEndpointType": "Interface", "VpcId": con.vpc, "ServiceName": name,
                    "SubnetIds": [con.subnets[1]], "SecurityGroupIds": [con.sg]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameter"), "{err}");
    assert!(err.to_string().contains("it serves: us-east-1a"), "{err}");
    let ep = create_endpoint(
        &consumer,
        json!({"VpcEndpointType": "Interface", "VpcId": con.vpc, "ServiceName": name,
               "SubnetIds": [con.subnets[0]], "SecurityGroupIds": [con.sg]}),
    )
    .await;
    assert_eq!(ep["State"], "available");
    env.server.stop().await;
}
