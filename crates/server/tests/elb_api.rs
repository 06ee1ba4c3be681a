//! ELBv2 actions end to end over loopback HTTP: network load balancers and their node
//! addresses, attributes, target groups, targets and their health, listeners.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{account, code, env, free_ips, ok, provider_network, subnet, vpc};
use serde_json::{json, Value};

#[tokio::test]
async fn load_balancer_lifecycle() {
    let env = env().await;
    let a = account(&env, "111111111111").await;
    let v = vpc(&a, "10.0.0.0/16").await;
    let s1 = subnet(&a, &v, "10.0.1.0/24", "us-east-1a").await;
    let s2 = subnet(&a, &v, "10.0.2.0/24", "us-east-1b").await;
    let s3 = subnet(&a, &v, "10.0.3.0/24", "us-east-1a").await;
    let other_vpc = vpc(&a, "10.1.0.0/16").await;
    let s4 = subnet(&a, &other_vpc, "10.1.1.0/24", "us-east-1c").await;

    let r = ok(
        &a,
        "CreateLoadBalancer",
        json!({"Name": "gw", "Type": "network", "Scheme": "internal", "Subnets": [s1, s2]}),
    )
    .await;
    let lb = &r["LoadBalancers"][0];
    let arn = lb["LoadBalancerArn"].as_str().unwrap().to_owned();
    let prefix = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/gw/";
    assert!(arn.starts_with(prefix), "{arn}");
    let hex = &arn[prefix.len()..];
    assert!(
        hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        "{arn}"
    );
    assert_eq!(lb["Type"], "network");
    assert_eq!(lb["Scheme"], "internal");
    assert_eq!(lb["State"]["Code"], "active");
    assert_eq!(lb["VpcId"], v.as_str());
    let zones = lb["AvailabilityZones"].as_array().unwrap();
    assert_eq!(zones.len(), 2);
    let mut addrs: Vec<&str> = zones
        .iter()
        .map(|z| {
            z["LoadBalancerAddresses"][0]["PrivateIPv4Address"]
                .as_str()
                .unwrap()
        })
        .collect();
    addrs.sort_unstable();
    assert_eq!(
        addrs,
        vec!["10.0.1.4", "10.0.2.4"],
        "first free address of each subnet"
    );
    assert_eq!(free_ips(&a, &s1).await, 250);

    // The node ENIs show up as network interfaces.
    let enis = ok(
        &a,
        "DescribeNetworkInterfaces",
        json!({"Filters": [{"Name": "interface-type", "Values": ["network_load_balancer"]}]}),
    )
    .await;
    let enis = enis["NetworkInterfaces"].as_array().unwrap();
    assert_eq!(enis.len(), 2);
    assert!(enis
        .iter()
        .all(|e| e["Description"] == format!("ELB net/gw/{hex}")));

    let bad: Vec<(Value, &str)> = vec![
        (
            json!({"Name": "gw", "Subnets": [s1]}),
            "DuplicateLoadBalancerName",
        ),
        (
            json!({"Name": "two-in-a", "Subnets": [s1, s3]}),
            "InvalidConfigurationRequest",
        ),
        (
            json!({"Name": "two-vpcs", "Subnets": [s2, s4]}),
            "InvalidConfigurationRequest",
        ),
        (
            json!({"Name": "ghost", "Subnets": ["subnet-00000000000000000"]}),
            "SubnetNotFound",
        ),
        (json!({"Name": "none", "Subnets": []}), "ValidationError"),
        (json!({"Name": "-bad", "Subnets": [s1]}), "ValidationError"),
        (
            json!({"Name": "a".repeat(33), "Subnets": [s1]}),
            "ValidationError",
        ),
        (
            json!({"Name": "internal-x", "Subnets": [s1]}),
            "ValidationError",
        ),
        (
            json!({"Name": "public", "Scheme": "internet-facing", "Subnets": [s1]}),
            "ValidationError",
        ),
        (
            json!({"Name": "alb", "Type": "application", "Subnets": [s1]}),
            "ValidationError",
        ),
        (
            json!({"Name": "dup", "Subnets": [s1, s1]}),
            "ValidationError",
        ),
    ];
    for (params, want) in &bad {
        assert_eq!(
            code(a.call("CreateLoadBalancer", params).await),
            *want,
            "{params}"
        );
    }
    let all = ok(&a, "DescribeLoadBalancers", json!({})).await;
    assert_eq!(
        all["LoadBalancers"].as_array().unwrap().len(),
        1,
        "nothing half-made"
    );
    assert_eq!(free_ips(&a, &s3).await, 251, "no address leaked");

    // Attributes.
    let attrs = ok(
        &a,
        "DescribeLoadBalancerAttributes",
        json!({"LoadBalancerArn": arn}),
    )
    .await;
    assert!(attrs["Attributes"]
        .as_array()
        .unwrap()
        .contains(&json!({"Key": "deletion_protection.enabled", "Value": "false"})));
    let attrs = ok(
        &a,
        "ModifyLoadBalancerAttributes",
        json!({"LoadBalancerArn": arn, "Attributes": [
            {"Key": "load_balancing.cross_zone.enabled", "Value": "true"},
            {"Key": "deletion_protection.enabled", "Value": "true"}
        ]}),
    )
    .await;
    assert!(attrs["Attributes"]
        .as_array()
        .unwrap()
        .contains(&json!({"Key": "load_balancing.cross_zone.enabled", "Value": "true"})));
    for attrs in [
        json!([{"Key": "idle_timeout.timeout_seconds", "Value": "60"}]),
        json!([{"Key": "deletion_protection.enabled", "Value": "yes"}]),
        json!([]),
    ] {
        assert_eq!(
            code(
                a.call(
                    "ModifyLoadBalancerAttributes",
                    &json!({"LoadBalancerArn": arn, "Attributes": attrs})
                )
                .await
            ),
            "ValidationError"
        );
    }
    // A rejected batch changes nothing: cross-zone stays on.
    assert_eq!(
        code(
            a.call(
                "ModifyLoadBalancerAttributes",
                &json!({"LoadBalancerArn": arn, "Attributes": [
                    {"Key": "load_balancing.cross_zone.enabled", "Value": "false"},
                    {"Key": "bogus", "Value": "1"}
                ]})
            )
            .await
        ),
        "ValidationError"
    );
    let attrs = ok(
        &a,
        "DescribeLoadBalancerAttributes",
        json!({"LoadBalancerArn": arn}),
    )
    .await;
    assert!(attrs["Attributes"]
        .as_array()
        .unwrap()
        .contains(&json!({"Key": "load_balancing.cross_zone.enabled", "Value": "true"})));

    // Deletion protection, then the subnet that holds a node, then the delete.
    assert_eq!(
        code(
            a.call("DeleteLoadBalancer", &json!({"LoadBalancerArn": arn}))
                .await
        ),
        "OperationNotPermitted"
    );
    assert_eq!(
        code(a.call("DeleteSubnet", &json!({"SubnetId": s1})).await),
        "DependencyViolation"
    );
    ok(
        &a,
        "ModifyLoadBalancerAttributes",
        json!({"LoadBalancerArn": arn, "Attributes": [{"Key": "deletion_protection.enabled", "Value": "false"}]}),
    )
    .await;
    ok(&a, "DeleteLoadBalancer", json!({"LoadBalancerArn": arn})).await;
    assert_eq!(free_ips(&a, &s1).await, 251, "node addresses freed");
    // Deleting it again succeeds, as in ELBv2.
    ok(&a, "DeleteLoadBalancer", json!({"LoadBalancerArn": arn})).await;
    assert_eq!(
        code(
            a.call("DescribeLoadBalancers", &json!({"LoadBalancerArns": [arn]}))
                .await
        ),
        "LoadBalancerNotFound"
    );
    assert_eq!(
        code(
            a.call("DescribeLoadBalancers", &json!({"Names": ["gw"]}))
                .await
        ),
        "LoadBalancerNotFound"
    );
    ok(&a, "DeleteSubnet", json!({"SubnetId": s1})).await;
    env.server.stop().await;
}

#[tokio::test]
async fn target_groups_targets_and_health() {
    let env = env().await;
    let a = account(&env, "111111111111").await;
    let v = vpc(&a, "10.0.0.0/16").await;
    let s1 = subnet(&a, &v, "10.0.1.0/24", "us-east-1a").await;

    let r = ok(
        &a,
        "CreateTargetGroup",
        json!({"Name": "app", "Protocol": "TCP", "Port": 8080, "VpcId": v, "TargetType": "ip"}),
    )
    .await;
    let tg = &r["TargetGroups"][0];
    let arn = tg["TargetGroupArn"].as_str().unwrap().to_owned();
    assert!(arn.starts_with("arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/app/"));
    // ELBv2's defaults for TCP target groups.
    assert_eq!(tg["HealthCheckProtocol"], "TCP");
    assert_eq!(tg["HealthCheckPort"], "traffic-port");
    assert_eq!(tg["HealthCheckIntervalSeconds"], 30);
    assert_eq!(tg["HealthCheckTimeoutSeconds"], 10);
    assert_eq!(tg["HealthyThresholdCount"], 5);
    assert_eq!(tg["UnhealthyThresholdCount"], 2);
    assert!(tg.get("HealthCheckPath").is_none());
    assert_eq!(tg["TargetType"], "ip");

    let http = ok(
        &a,
        "CreateTargetGroup",
        json!({"Name": "web", "Protocol": "TCP", "Port": 80, "VpcId": v, "HealthCheckProtocol": "HTTP",
               "HealthCheckPath": "/healthz", "HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 5,
               "HealthyThresholdCount": 3, "UnhealthyThresholdCount": 3, "HealthCheckPort": "9000"}),
    )
    .await;
    assert_eq!(http["TargetGroups"][0]["HealthCheckPath"], "/healthz");
    assert_eq!(http["TargetGroups"][0]["HealthCheckPort"], "9000");

    let base = json!({"Protocol": "TCP", "Port": 80, "VpcId": v});
    let with = |name: &str, extra: Value| {
        let mut p = base.clone();
        p["Name"] = json!(name);
        for (k, val) in extra.as_object().unwrap() {
            p[k] = val.clone();
        }
        p
    };
    let bad: Vec<(Value, &str)> = vec![
        (with("app", json!({})), "DuplicateTargetGroupName"),
        (
            with("x1", json!({"HealthCheckIntervalSeconds": 4})),
            "ValidationError",
        ),
        (
            with("x2", json!({"HealthCheckIntervalSeconds": 301})),
            "ValidationError",
        ),
        (
            with("x3", json!({"HealthCheckTimeoutSeconds": 1})),
            "ValidationError",
        ),
        (
            with("x4", json!({"HealthCheckTimeoutSeconds": 121})),
            "ValidationError",
        ),
        (
            with("x5", json!({"HealthyThresholdCount": 1})),
            "ValidationError",
        ),
        (
            with("x6", json!({"UnhealthyThresholdCount": 11})),
            "ValidationError",
        ),
        (
            with("x7", json!({"HealthCheckProtocol": "HTTPS"})),
            "ValidationError",
        ),
        (
            with("x8", json!({"HealthCheckPath": "/x"})),
            "ValidationError",
        ),
        (
            with("x9", json!({"HealthCheckPort": "0"})),
            "ValidationError",
        ),
        (with("x10", json!({"Port": 0})), "ValidationError"),
        (with("x11", json!({"Port": 65536})), "ValidationError"),
        (with("x12", json!({"Protocol": "UDP"})), "ValidationError"),
        (
            with("x13", json!({"TargetType": "instance"})),
            "ValidationError",
        ),
        (
            with("x14", json!({"VpcId": "vpc-00000000000000000"})),
            "ValidationError",
        ),
        (with("bad_name", json!({})), "ValidationError"),
    ];
    for (params, want) in &bad {
        assert_eq!(
            code(a.call("CreateTargetGroup", params).await),
            *want,
            "{params}"
        );
    }
    let all = ok(&a, "DescribeTargetGroups", json!({})).await;
    assert_eq!(all["TargetGroups"].as_array().unwrap().len(), 2);

    // Modify merges over the current settings.
    let m = ok(
        &a,
        "ModifyTargetGroup",
        json!({"TargetGroupArn": arn, "HealthCheckProtocol": "HTTP", "HealthCheckTimeoutSeconds": 6}),
    )
    .await;
    assert_eq!(m["TargetGroups"][0]["HealthCheckPath"], "/");
    assert_eq!(m["TargetGroups"][0]["HealthCheckIntervalSeconds"], 30);
    assert_eq!(
        code(
            a.call(
                "ModifyTargetGroup",
                &json!({"TargetGroupArn": arn, "HealthCheckTimeoutSeconds": 40})
            )
            .await
        ),
        "ValidationError"
    );

    // Attributes.
    let attrs = ok(
        &a,
        "DescribeTargetGroupAttributes",
        json!({"TargetGroupArn": arn}),
    )
    .await;
    let list = attrs["Attributes"].as_array().unwrap();
    assert!(list.contains(&json!({"Key": "deregistration_delay.timeout_seconds", "Value": "300"})));
    assert!(list.contains(&json!({"Key": "proxy_protocol_v2.enabled", "Value": "false"})));
    let attrs = ok(
        &a,
        "ModifyTargetGroupAttributes",
        json!({"TargetGroupArn": arn, "Attributes": [
            {"Key": "proxy_protocol_v2.enabled", "Value": "true"},
            {"Key": "deregistration_delay.timeout_seconds", "Value": "30"}
        ]}),
    )
    .await;
    let list = attrs["Attributes"].as_array().unwrap();
    assert!(list.contains(&json!({"Key": "deregistration_delay.timeout_seconds", "Value": "30"})));
    assert!(list.contains(&json!({"Key": "proxy_protocol_v2.enabled", "Value": "true"})));
    for bad in [
        json!({"Key": "deregistration_delay.timeout_seconds", "Value": "3601"}),
        json!({"Key": "deregistration_delay.timeout_seconds", "Value": "soon"}),
        json!({"Key": "stickiness.enabled", "Value": "true"}),
    ] {
        assert_eq!(
            code(
                a.call(
                    "ModifyTargetGroupAttributes",
                    &json!({"TargetGroupArn": arn, "Attributes": [bad]})
                )
                .await
            ),
            "ValidationError"
        );
    }

    // Targets: inside the VPC, or anywhere with AvailabilityZone "all".
    ok(
        &a,
        "RegisterTargets",
        json!({"TargetGroupArn": arn, "Targets": [
            {"Id": "10.0.1.10"}, {"Id": "10.0.9.9", "Port": 9090}, {"Id": "192.168.7.7", "AvailabilityZone": "all"}
        ]}),
    )
    .await;
    for (targets, want) in [
        (json!([{"Id": "172.16.0.1"}]), "InvalidTarget"),
        (json!([{"Id": "not-an-ip"}]), "InvalidTarget"),
        (json!([{"Id": "10.0.1.11", "Port": 0}]), "ValidationError"),
        (
            json!([{"Id": "10.0.1.11", "AvailabilityZone": "mars-1a"}]),
            "ValidationError",
        ),
        (json!([]), "ValidationError"),
    ] {
        assert_eq!(
            code(
                a.call(
                    "RegisterTargets",
                    &json!({"TargetGroupArn": arn, "Targets": targets})
                )
                .await
            ),
            want,
            "{targets}"
        );
    }

    // No listener uses the group yet: its targets are unused.
    let h = ok(&a, "DescribeTargetHealth", json!({"TargetGroupArn": arn})).await;
    let h = h["TargetHealthDescriptions"].as_array().unwrap();
    assert_eq!(h.len(), 3);
    assert!(h.iter().all(|d| d["TargetHealth"]["State"] == "unused"
        && d["TargetHealth"]["Reason"] == "Target.NotInUse"));
    let in_subnet = h.iter().find(|d| d["Target"]["Id"] == "10.0.1.10").unwrap();
    assert_eq!(in_subnet["Target"]["AvailabilityZone"], "us-east-1a");
    assert_eq!(in_subnet["Target"]["Port"], 8080);

    // Put it behind a listener: no agent has reported, so registration is in progress.
    let lb = ok(
        &a,
        "CreateLoadBalancer",
        json!({"Name": "gw", "Subnets": [s1]}),
    )
    .await["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &a,
        "ModifyTargetGroup",
        json!({"TargetGroupArn": arn, "HealthCheckProtocol": "TCP"}),
    )
    .await;
    ok(
        &a,
        "CreateListener",
        json!({"LoadBalancerArn": lb, "Protocol": "TCP", "Port": 443,
               "DefaultActions": [{"Type": "forward", "TargetGroupArn": arn}]}),
    )
    .await;
    let h = ok(
        &a,
        "DescribeTargetHealth",
        json!({"TargetGroupArn": arn, "Targets": [{"Id": "10.0.1.10"}, {"Id": "10.0.1.99"}]}),
    )
    .await;
    let h = h["TargetHealthDescriptions"].as_array().unwrap();
    assert_eq!(h[0]["TargetHealth"]["State"], "initial");
    assert_eq!(h[0]["TargetHealth"]["Reason"], "Elb.RegistrationInProgress");
    assert_eq!(h[0]["HealthCheckPort"], "8080");
    assert_eq!(h[1]["TargetHealth"]["State"], "unused");
    assert_eq!(h[1]["TargetHealth"]["Reason"], "Target.NotRegistered");
    let by_lb = ok(&a, "DescribeTargetGroups", json!({"LoadBalancerArn": lb})).await;
    assert_eq!(by_lb["TargetGroups"].as_array().unwrap().len(), 1);
    assert_eq!(by_lb["TargetGroups"][0]["LoadBalancerArns"][0], lb.as_str());

    assert_eq!(
        code(
            a.call(
                "DeregisterTargets",
                &json!({"TargetGroupArn": arn, "Targets": [{"Id": "10.0.1.10", "Port": 1}]})
            )
            .await
        ),
        "InvalidTarget"
    );
    ok(
        &a,
        "DeregisterTargets",
        json!({"TargetGroupArn": arn, "Targets": [{"Id": "10.0.1.10"}, {"Id": "10.0.9.9", "Port": 9090}]}),
    )
    .await;
    let h = ok(&a, "DescribeTargetHealth", json!({"TargetGroupArn": arn})).await;
    assert_eq!(h["TargetHealthDescriptions"].as_array().unwrap().len(), 1);
    assert_eq!(
        code(
            a.call("DeleteTargetGroup", &json!({"TargetGroupArn": arn}))
                .await
        ),
        "ResourceInUse"
    );
    env.server.stop().await;
}

#[tokio::test]
async fn listeners() {
    let env = env().await;
    let a = account(&env, "111111111111").await;
    let p = provider_network(&a, "gw").await;
    assert!(p.listener.starts_with(&format!(
        "arn:aws:elasticloadbalancing:us-east-1:111111111111:listener/net/gw/{}/",
        p.lb.rsplit('/').next().unwrap()
    )));
    let tg2 = ok(
        &a,
        "CreateTargetGroup",
        json!({"Name": "other", "Protocol": "TCP", "Port": 81, "VpcId": p.vpc}),
    )
    .await["TargetGroups"][0]["TargetGroupArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let far_vpc = vpc(&a, "10.5.0.0/16").await;
    let far_tg = ok(
        &a,
        "CreateTargetGroup",
        json!({"Name": "far", "Protocol": "TCP", "Port": 81, "VpcId": far_vpc}),
    )
    .await["TargetGroups"][0]["TargetGroupArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let far_subnet = subnet(&a, &far_vpc, "10.5.1.0/24", "us-east-1a").await;
    let lb2 = ok(
        &a,
        "CreateLoadBalancer",
        json!({"Name": "gw2", "Subnets": [far_subnet]}),
    )
    .await["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .unwrap()
        .to_owned();

    let listener = |lb: &str, port: Value, proto: &str, tg: &str| {
        json!({"LoadBalancerArn": lb, "Protocol": proto, "Port": port,
               "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}]})
    };
    let bad: Vec<(Value, &str)> = vec![
        (listener(&p.lb, json!(80), "TCP", &tg2), "DuplicateListener"),
        (listener(&p.lb, json!(0), "TCP", &tg2), "ValidationError"),
        (listener(&p.lb, json!(65536), "TCP", &tg2), "ValidationError"),
        (listener(&p.lb, json!(53), "UDP", &tg2), "UnsupportedProtocol"),
        (listener(&p.lb, json!(82), "TCP", &far_tg), "ValidationError"),
        (listener(&lb2, json!(82), "TCP", &p.tg), "ValidationError"),
        (listener(&p.lb, json!(82), "TCP", "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/nope/0000000000000000"), "TargetGroupNotFound"),
        (listener("arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/nope/0000000000000000", json!(82), "TCP", &tg2), "LoadBalancerNotFound"),
        (json!({"LoadBalancerArn": p.lb, "Protocol": "TCP", "Port": 82, "DefaultActions": []}), "ValidationError"),
        (json!({"LoadBalancerArn": p.lb, "Protocol": "TCP", "Port": 82, "DefaultActions": [{"Type": "redirect"}]}), "ValidationError"),
    ];
    for (params, want) in &bad {
        assert_eq!(
            code(a.call("CreateListener", params).await),
            *want,
            "{params}"
        );
    }
    // A target group serves one load balancer.
    ok(
        &a,
        "CreateListener",
        listener(&lb2, json!(81), "TCP", &far_tg),
    )
    .await;
    let far_lb3_subnet = subnet(&a, &far_vpc, "10.5.2.0/24", "us-east-1b").await;
    let lb3 = ok(
        &a,
        "CreateLoadBalancer",
        json!({"Name": "gw3", "Subnets": [far_lb3_subnet]}),
    )
    .await["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        code(
            a.call("CreateListener", &listener(&lb3, json!(81), "TCP", &far_tg))
                .await
        ),
        "TargetGroupAssociationLimit"
    );

    let l2 = ok(
        &a,
        "CreateListener",
        listener(&p.lb, json!(8443), "TCP", &tg2),
    )
    .await;
    let l2 = l2["Listeners"][0]["ListenerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let ls = ok(&a, "DescribeListeners", json!({"LoadBalancerArn": p.lb})).await;
    let ls = ls["Listeners"].as_array().unwrap();
    assert_eq!(ls.len(), 2);
    let first = ls.iter().find(|l| l["Port"] == 80).unwrap();
    assert_eq!(first["DefaultActions"][0]["TargetGroupArn"], p.tg.as_str());
    assert_eq!(
        code(a.call("DescribeListeners", &json!({})).await),
        "ValidationError"
    );
    let by_arn = ok(&a, "DescribeListeners", json!({"ListenerArns": [l2]})).await;
    assert_eq!(by_arn["Listeners"][0]["Port"], 8443);
    // Paging with ELBv2's Marker/PageSize.
    let page = ok(
        &a,
        "DescribeListeners",
        json!({"LoadBalancerArn": p.lb, "PageSize": 1}),
    )
    .await;
    let marker = page["NextMarker"].as_str().unwrap();
    let page2 = ok(
        &a,
        "DescribeListeners",
        json!({"LoadBalancerArn": p.lb, "PageSize": 1, "Marker": marker}),
    )
    .await;
    assert!(page2.get("NextMarker").is_none());
    assert_ne!(
        page["Listeners"][0]["ListenerArn"],
        page2["Listeners"][0]["ListenerArn"]
    );
    assert_eq!(
        code(
            a.call(
                "DescribeListeners",
                &json!({"LoadBalancerArn": p.lb, "PageSize": 1, "Marker": "x.y"})
            )
            .await
        ),
        "ValidationError"
    );

    ok(&a, "DeleteListener", json!({"ListenerArn": l2})).await;
    assert_eq!(
        code(a.call("DeleteListener", &json!({"ListenerArn": l2})).await),
        "ListenerNotFound"
    );
    ok(&a, "DeleteTargetGroup", json!({"TargetGroupArn": tg2})).await;
    assert_eq!(
        code(
            a.call("DeleteTargetGroup", &json!({"TargetGroupArn": tg2}))
                .await
        ),
        "TargetGroupNotFound"
    );
    // Deleting the load balancer takes its listeners; the target group is then free.
    ok(&a, "DeleteLoadBalancer", json!({"LoadBalancerArn": p.lb})).await;
    ok(&a, "DeleteTargetGroup", json!({"TargetGroupArn": p.tg})).await;
    env.server.stop().await;
}

#[tokio::test]
async fn other_accounts_cannot_see_or_touch_load_balancers() {
    let env = env().await;
    let a = account(&env, "111111111111").await;
    let b = account(&env, "222222222222").await;
    let p = provider_network(&a, "gw").await;
    // Describing by ARN: not found. Acting on another account's ARN: IAM refuses first (the
    // resource's account is not the caller's), which reveals nothing either.
    assert_eq!(
        code(
            b.call(
                "DescribeLoadBalancers",
                &json!({"LoadBalancerArns": [p.lb]})
            )
            .await
        ),
        "LoadBalancerNotFound"
    );
    assert_eq!(
        code(
            b.call("DescribeTargetGroups", &json!({"TargetGroupArns": [p.tg]}))
                .await
        ),
        "TargetGroupNotFound"
    );
    assert_eq!(
        code(
            b.call("DescribeTargetHealth", &json!({"TargetGroupArn": p.tg}))
                .await
        ),
        "TargetGroupNotFound"
    );
    for (action, params) in [
        ("DeleteLoadBalancer", json!({"LoadBalancerArn": p.lb})),
        (
            "RegisterTargets",
            json!({"TargetGroupArn": p.tg, "Targets": [{"Id": "10.0.1.5"}]}),
        ),
        ("DeleteListener", json!({"ListenerArn": p.listener})),
    ] {
        assert_eq!(
            code(b.call(action, &params).await),
            "UnauthorizedOperation",
            "{action}"
        );
    }
    assert!(
        ok(&b, "DescribeLoadBalancers", json!({})).await["LoadBalancers"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ok(&a, "DescribeLoadBalancers", json!({})).await["LoadBalancers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    env.server.stop().await;
}
