//! EC2 network actions end to end over loopback HTTP: VPCs, subnets, security groups, network
//! interfaces, filters and pagination, with the real signer and a real SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{account, code, env, env_with, free_ips, group, ok, subnet, vpc, Env};
use serde_json::{json, Value};
use underpass_cli::Client;

/// A server whose new accounts start empty (no default VPC): these tests count what they make.
/// `default_vpcs_come_with_accounts_and_come_back` tests the default VPCs.
async fn bare_env() -> Env {
    env_with(|c| c.default_vpc = false).await
}

async fn vpc_ids(c: &Client) -> Vec<String> {
    let r = ok(c, "DescribeVpcs", json!({})).await;
    r["Vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["VpcId"].as_str().unwrap().to_owned())
        .collect()
}

async fn subnet_count(c: &Client) -> usize {
    ok(c, "DescribeSubnets", json!({})).await["Subnets"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn vpc_subnet_lifecycle_and_attributes() {
    let env = bare_env().await;
    let a = account(&env, "111111111111").await;
    let r = ok(&a, "CreateVpc", json!({"CidrBlock": "10.0.0.0/16"})).await;
    let v = &r["Vpc"];
    let id = v["VpcId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("vpc-") && id.len() == 21, "{id}");
    assert_eq!(v["CidrBlock"], "10.0.0.0/16");
    assert_eq!(v["State"], "available");
    assert_eq!(v["OwnerId"], "111111111111");

    for (attr, key) in [
        ("enableDnsSupport", "EnableDnsSupport"),
        ("enableDnsHostnames", "EnableDnsHostnames"),
    ] {
        let r = ok(
            &a,
            "DescribeVpcAttribute",
            json!({"VpcId": id, "Attribute": attr}),
        )
        .await;
        assert_eq!(r[key]["Value"], true, "{attr} defaults to true");
    }
    ok(
        &a,
        "ModifyVpcAttribute",
        json!({"VpcId": id, "EnableDnsHostnames": {"Value": false}}),
    )
    .await;
    let r = ok(
        &a,
        "DescribeVpcAttribute",
        json!({"VpcId": id, "Attribute": "enableDnsHostnames"}),
    )
    .await;
    assert_eq!(r["EnableDnsHostnames"]["Value"], false);
    assert!(r.get("EnableDnsSupport").is_none());
    assert_eq!(
        code(
            a.call(
                "ModifyVpcAttribute",
                &json!({"VpcId": id, "EnableDnsHostnames": {"Value": true}, "EnableDnsSupport": {"Value": true}})
            )
            .await
        ),
        "InvalidParameterCombination"
    );
    assert_eq!(
        code(
            a.call(
                "DescribeVpcAttribute",
                &json!({"VpcId": id, "Attribute": "enableEverything"})
            )
            .await
        ),
        "InvalidParameterValue"
    );

    // A /28 subnet has 11 usable addresses (AWS reserves 5).
    let r = ok(
        &a,
        "CreateSubnet",
        json!({"VpcId": id, "CidrBlock": "10.0.0.0/28", "AvailabilityZone": "us-east-1b"}),
    )
    .await;
    let s = &r["Subnet"];
    assert_eq!(s["AvailableIpAddressCount"], 11);
    assert_eq!(s["AvailabilityZone"], "us-east-1b");
    assert_eq!(s["VpcId"], id.as_str());
    let sid = s["SubnetId"].as_str().unwrap().to_owned();
    // Without a zone, the first zone of the region.
    let r = ok(
        &a,
        "CreateSubnet",
        json!({"VpcId": id, "CidrBlock": "10.0.1.0/24"}),
    )
    .await;
    assert_eq!(r["Subnet"]["AvailabilityZone"], "us-east-1a");
    assert_eq!(r["Subnet"]["AvailableIpAddressCount"], 251);

    // Filters with wildcards.
    let r = ok(
        &a,
        "DescribeSubnets",
        json!({"Filters": [{"Name": "vpc-id", "Values": [id]}, {"Name": "cidr-block", "Values": ["10.0.0.*"]}]}),
    )
    .await;
    assert_eq!(r["Subnets"].as_array().unwrap().len(), 1);
    assert_eq!(r["Subnets"][0]["SubnetId"], sid.as_str());

    // The VPC is in use: DependencyViolation, until the subnets are gone.
    assert_eq!(
        code(a.call("DeleteVpc", &json!({"VpcId": id})).await),
        "DependencyViolation"
    );
    ok(&a, "DeleteSubnet", json!({"SubnetId": sid})).await;
    let other = r["Subnets"][0]["SubnetId"].as_str().unwrap().to_owned();
    assert_eq!(
        code(a.call("DeleteSubnet", &json!({"SubnetId": other})).await),
        "InvalidSubnetID.NotFound"
    );
    for s in ok(&a, "DescribeSubnets", json!({})).await["Subnets"]
        .as_array()
        .unwrap()
    {
        ok(&a, "DeleteSubnet", json!({"SubnetId": s["SubnetId"]})).await;
    }
    ok(&a, "DeleteVpc", json!({"VpcId": id})).await;
    assert_eq!(
        code(a.call("DescribeVpcs", &json!({"VpcIds": [id]})).await),
        "InvalidVpcID.NotFound"
    );
    env.server.stop().await;
}

#[tokio::test]
async fn bad_network_input_is_refused_and_leaves_nothing() {
    let env = bare_env().await;
    let a = account(&env, "111111111111").await;
    let id = vpc(&a, "10.0.0.0/16").await;
    subnet(&a, &id, "10.0.1.0/24", "us-east-1a").await;

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "CreateVpc",
            json!({"CidrBlock": "10.0.0.0/8"}),
            "InvalidParameterValue",
        ),
        (
            "CreateVpc",
            json!({"CidrBlock": "10.0.0.0/29"}),
            "InvalidParameterValue",
        ),
        (
            "CreateVpc",
            json!({"CidrBlock": "10.0.0.1/16"}),
            "InvalidParameterValue",
        ),
        (
            "CreateVpc",
            json!({"CidrBlock": "10.0.0.0/33"}),
            "InvalidParameterValue",
        ),
        (
            "CreateVpc",
            json!({"CidrBlock": "not a cidr"}),
            "InvalidParameterValue",
        ),
        (
            "CreateVpc",
            json!({"CidrBlock": "fd00::/48"}),
            "InvalidParameterValue",
        ),
        ("CreateVpc", json!({}), "MissingParameter"),
        (
            "CreateVpc",
            json!({"CidrBlock": "10.0.0.0/16", "Color": "red"}),
            "InvalidParameterValue",
        ),
        (
            "CreateSubnet",
            json!({"VpcId": id, "CidrBlock": "10.1.0.0/24", "AvailabilityZone": "us-east-1a"}),
            "InvalidSubnet.Range",
        ),
        (
            "CreateSubnet",
            json!({"VpcId": id, "CidrBlock": "10.0.1.128/25", "AvailabilityZone": "us-east-1a"}),
            "InvalidSubnet.Conflict",
        ),
        (
            "CreateSubnet",
            json!({"VpcId": id, "CidrBlock": "10.0.0.0/20", "AvailabilityZone": "us-east-1a"}),
            "InvalidSubnet.Conflict",
        ),
        (
            "CreateSubnet",
            json!({"VpcId": id, "CidrBlock": "10.0.2.0/29", "AvailabilityZone": "us-east-1a"}),
            "InvalidParameterValue",
        ),
        (
            "CreateSubnet",
            json!({"VpcId": id, "CidrBlock": "10.0.2.0/24", "AvailabilityZone": "mars-1a"}),
            "InvalidParameterValue",
        ),
        (
            "CreateSubnet",
            json!({"VpcId": "vpc-00000000000000000", "CidrBlock": "10.0.2.0/24"}),
            "InvalidVpcID.NotFound",
        ),
        (
            "CreateSubnet",
            json!({"VpcId": "vpc-xyz", "CidrBlock": "10.0.2.0/24"}),
            "InvalidVpcID.Malformed",
        ),
        (
            "DeleteVpc",
            json!({"VpcId": "vpc-00000000000000000"}),
            "InvalidVpcID.NotFound",
        ),
        (
            "DeleteSubnet",
            json!({"SubnetId": "subnet-00000000000000000"}),
            "InvalidSubnetID.NotFound",
        ),
        (
            "DescribeVpcs",
            json!({"Filters": [{"Name": "colour", "Values": ["x"]}]}),
            "InvalidParameterValue",
        ),
        (
            "DescribeVpcs",
            json!({"VpcIds": [id, id]}),
            "InvalidParameterValue",
        ),
        (
            "DescribeVpcs",
            json!({"MaxResults": 0}),
            "InvalidParameterValue",
        ),
        (
            "DescribeVpcs",
            json!({"MaxResults": 4}),
            "InvalidParameterValue",
        ),
        (
            "DescribeVpcs",
            json!({"MaxResults": 1001}),
            "InvalidParameterValue",
        ),
        (
            "DescribeVpcs",
            json!({"NextToken": "garbage"}),
            "InvalidPaginationToken",
        ),
        (
            "CreateSecurityGroup",
            json!({"GroupName": "g", "Description": "d"}),
            "MissingParameter",
        ),
        (
            "CreateSecurityGroup",
            json!({"GroupName": "sg-1", "Description": "d", "VpcId": id}),
            "InvalidParameterValue",
        ),
        (
            "CreateSecurityGroup",
            json!({"GroupName": "g", "Description": "", "VpcId": id}),
            "InvalidParameterValue",
        ),
    ];
    for (action, params, want) in &cases {
        assert_eq!(
            code(a.call(action, params).await),
            *want,
            "{action} {params}"
        );
    }
    assert_eq!(vpc_ids(&a).await, vec![id.clone()], "no VPC was half-made");
    assert_eq!(subnet_count(&a).await, 1, "no subnet was half-made");
    // Only the VPC's default group, which CreateVpc makes.
    let groups = ok(&a, "DescribeSecurityGroups", json!({})).await;
    let names: Vec<&str> = groups["SecurityGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["GroupName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default"]);
    env.server.stop().await;
}

#[tokio::test]
async fn paging_is_bounded_and_tokens_are_bound() {
    let env = bare_env().await;
    let a = account(&env, "111111111111").await;
    let b = account(&env, "222222222222").await;
    let mut made = Vec::new();
    for i in 0..12 {
        made.push(vpc(&a, &format!("10.{i}.0.0/16")).await);
    }
    vpc(&b, "10.0.0.0/16").await;

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut p = json!({"MaxResults": 5});
        if let Some(t) = &token {
            p["NextToken"] = json!(t);
        }
        let r = ok(&a, "DescribeVpcs", p).await;
        pages += 1;
        for v in r["Vpcs"].as_array().unwrap() {
            seen.push(v["VpcId"].as_str().unwrap().to_owned());
        }
        match r["NextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    made.sort();
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, made, "every VPC once, none of the other account's");

    let first = ok(&a, "DescribeVpcs", json!({"MaxResults": 5})).await;
    let t = first["NextToken"].as_str().unwrap().to_owned();
    // Edited, replayed under other filters, or by another account: refused.
    let mut edited = t.clone().into_bytes();
    edited[3] = if edited[3] == b'a' { b'b' } else { b'a' };
    let edited = String::from_utf8(edited).unwrap();
    assert_eq!(
        code(
            a.call(
                "DescribeVpcs",
                &json!({"MaxResults": 5, "NextToken": edited})
            )
            .await
        ),
        "InvalidPaginationToken"
    );
    assert_eq!(
        code(
            a.call(
                "DescribeVpcs",
                &json!({"MaxResults": 5, "NextToken": t, "Filters": [{"Name": "cidr", "Values": ["10.*"]}]})
            )
            .await
        ),
        "InvalidPaginationToken"
    );
    assert_eq!(
        code(
            b.call("DescribeVpcs", &json!({"MaxResults": 5, "NextToken": t}))
                .await
        ),
        "InvalidPaginationToken"
    );
    // The same token, same parameters, works (and with another page size).
    let r = ok(&a, "DescribeVpcs", json!({"MaxResults": 6, "NextToken": t})).await;
    assert_eq!(r["Vpcs"].as_array().unwrap().len(), 6);
    env.server.stop().await;
}

#[tokio::test]
async fn other_accounts_resources_are_invisible() {
    let env = bare_env().await;
    let a = account(&env, "111111111111").await;
    let b = account(&env, "222222222222").await;
    let id = vpc(&a, "10.0.0.0/16").await;
    let sid = subnet(&a, &id, "10.0.1.0/24", "us-east-1a").await;
    let gid = group(&a, &id, "web").await;

    // The same CIDR in another account is fine (overlapping consumers, item 33).
    let own = vpc(&b, "10.0.0.0/16").await;
    assert_eq!(vpc_ids(&b).await, vec![own.clone()]);
    for (action, params, want) in [
        (
            "DescribeVpcs",
            json!({"VpcIds": [id]}),
            "InvalidVpcID.NotFound",
        ),
        ("DeleteVpc", json!({"VpcId": id}), "InvalidVpcID.NotFound"),
        (
            "DescribeVpcAttribute",
            json!({"VpcId": id, "Attribute": "enableDnsSupport"}),
            "InvalidVpcID.NotFound",
        ),
        (
            "ModifyVpcAttribute",
            json!({"VpcId": id, "EnableDnsSupport": {"Value": false}}),
            "InvalidVpcID.NotFound",
        ),
        (
            "CreateSubnet",
            json!({"VpcId": id, "CidrBlock": "10.0.2.0/24"}),
            "InvalidVpcID.NotFound",
        ),
        (
            "DescribeSubnets",
            json!({"SubnetIds": [sid]}),
            "InvalidSubnetID.NotFound",
        ),
        (
            "DeleteSubnet",
            json!({"SubnetId": sid}),
            "InvalidSubnetID.NotFound",
        ),
        (
            "CreateSecurityGroup",
            json!({"GroupName": "x", "Description": "x", "VpcId": id}),
            "InvalidVpcID.NotFound",
        ),
        (
            "DescribeSecurityGroups",
            json!({"GroupIds": [gid]}),
            "InvalidGroup.NotFound",
        ),
        (
            "DeleteSecurityGroup",
            json!({"GroupId": gid}),
            "InvalidGroup.NotFound",
        ),
        (
            "AuthorizeSecurityGroupIngress",
            json!({"GroupId": gid, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}),
            "InvalidGroup.NotFound",
        ),
    ] {
        assert_eq!(code(b.call(action, &params).await), want, "{action}");
    }
    // A's resources are untouched.
    assert_eq!(vpc_ids(&a).await, vec![id.clone()]);
    assert_eq!(subnet_count(&a).await, 1);
    let own_group = group(&b, &own, "web").await;
    // Referencing another account's group as a source is refused too.
    assert_eq!(
        code(
            b.call(
                "AuthorizeSecurityGroupIngress",
                &json!({"GroupId": own_group, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "UserIdGroupPairs": [{"GroupId": gid}]}]})
            )
            .await
        ),
        "InvalidGroup.NotFound"
    );
    env.server.stop().await;
}

#[tokio::test]
async fn security_group_rules() {
    let env = bare_env().await;
    let a = account(&env, "111111111111").await;
    let id = vpc(&a, "10.0.0.0/16").await;
    let web = group(&a, &id, "web").await;
    let lb = group(&a, &id, "lb").await;
    assert_eq!(
        code(
            a.call(
                "CreateSecurityGroup",
                &json!({"GroupName": "web", "Description": "again", "VpcId": id})
            )
            .await
        ),
        "InvalidGroup.Duplicate"
    );

    let r = ok(
        &a,
        "AuthorizeSecurityGroupIngress",
        json!({"GroupId": web, "IpPermissions": [
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
             "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "internal"}, {"CidrIp": "192.168.0.0/16"}],
             "Ipv6Ranges": [{"CidrIpv6": "fd00::/8"}]},
            {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8100, "UserIdGroupPairs": [{"GroupId": lb}]},
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}
        ]}),
    )
    .await;
    assert_eq!(r["Return"], true);
    let rules = r["SecurityGroupRules"].as_array().unwrap();
    assert_eq!(rules.len(), 5);
    assert!(rules.iter().all(|r| r["SecurityGroupRuleId"]
        .as_str()
        .unwrap()
        .starts_with("sgr-")));
    assert_eq!(rules[0]["CidrIpv4"], "10.0.0.0/8");
    assert_eq!(rules[0]["Description"], "internal");
    assert_eq!(rules[3]["ReferencedGroupInfo"]["GroupId"], lb.as_str());
    assert_eq!(
        (rules[4]["FromPort"].as_i64(), rules[4]["ToPort"].as_i64()),
        (Some(-1), Some(-1))
    );

    // Bad permissions: nothing is added, not even the valid rules of the same request.
    let bad: Vec<(Value, &str)> = vec![
        (
            json!([{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 70000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            "InvalidParameterValue",
        ),
        (
            json!([{"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            "InvalidParameterValue",
        ),
        (
            json!([{"IpProtocol": "tcp", "FromPort": -5, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            "InvalidParameterValue",
        ),
        (
            json!([{"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            "InvalidParameterValue",
        ),
        (
            json!([{"IpProtocol": "gre", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            "InvalidParameterValue",
        ),
        (
            json!([{"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
            "InvalidParameterValue",
        ),
        (
            json!([{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "10.0.0.1/8"}]}]),
            "InvalidParameterValue",
        ),
        (
            json!([{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "IpRanges": [{"CidrIp": "fd00::/8"}]}]),
            "InvalidParameterValue",
        ),
        (
            json!([{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2}]),
            "MissingParameter",
        ),
        (
            json!([{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2, "UserIdGroupPairs": [{"GroupId": "sg-00000000000000000"}]}]),
            "InvalidGroup.NotFound",
        ),
        (
            json!([
                {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
            ]),
            "InvalidPermission.Duplicate",
        ),
        (
            json!([
                {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "10.0.0.0/8"}]}
            ]),
            "InvalidPermission.Duplicate",
        ),
    ];
    for (perms, want) in &bad {
        assert_eq!(
            code(
                a.call(
                    "AuthorizeSecurityGroupIngress",
                    &json!({"GroupId": web, "IpPermissions": perms})
                )
                .await
            ),
            *want,
            "{perms}"
        );
    }
    let rules = ok(
        &a,
        "DescribeSecurityGroupRules",
        json!({"Filters": [{"Name": "group-id", "Values": [web]}, {"Name": "is-egress", "Values": ["false"]}]}),
    )
    .await;
    assert_eq!(rules["SecurityGroupRules"].as_array().unwrap().len(), 5);

    // Outbound: a new group starts with EC2's allow-all rule; it can be revoked and replaced.
    let out = ok(
        &a,
        "DescribeSecurityGroupRules",
        json!({"Filters": [{"Name": "group-id", "Values": [web]}, {"Name": "is-egress", "Values": ["true"]}]}),
    )
    .await;
    let out = out["SecurityGroupRules"].as_array().unwrap().clone();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["IpProtocol"], "-1");
    assert_eq!(out[0]["CidrIpv4"], "0.0.0.0/0");
    assert_eq!(out[0]["IsEgress"], true);
    let all_out = json!([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]);
    assert_eq!(
        code(
            a.call(
                "AuthorizeSecurityGroupEgress",
                &json!({"GroupId": web, "IpPermissions": all_out})
            )
            .await
        ),
        "InvalidPermission.Duplicate"
    );
    ok(
        &a,
        "RevokeSecurityGroupEgress",
        json!({"GroupId": web, "IpPermissions": all_out}),
    )
    .await;
    // An inbound rule's id is not an outbound one.
    let inbound_id = rules["SecurityGroupRules"][0]["SecurityGroupRuleId"].clone();
    assert_eq!(
        code(
            a.call(
                "RevokeSecurityGroupEgress",
                &json!({"GroupId": web, "SecurityGroupRuleIds": [inbound_id]})
            )
            .await
        ),
        "InvalidSecurityGroupRuleId.NotFound"
    );
    let added = ok(
        &a,
        "AuthorizeSecurityGroupEgress",
        json!({"GroupId": web, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "to the VPC"}]}]}),
    )
    .await;
    assert_eq!(added["SecurityGroupRules"][0]["IsEgress"], true);
    let g = ok(&a, "DescribeSecurityGroups", json!({"GroupIds": [web]})).await;
    let egress = &g["SecurityGroups"][0]["IpPermissionsEgress"];
    assert_eq!(egress.as_array().unwrap().len(), 1, "{egress}");
    assert_eq!(egress[0]["FromPort"], 443);
    assert_eq!(egress[0]["IpRanges"][0]["Description"], "to the VPC");

    // IpPermissions fold rules by protocol and ports.
    let g = ok(&a, "DescribeSecurityGroups", json!({"GroupIds": [web]})).await;
    let perms = g["SecurityGroups"][0]["IpPermissions"].as_array().unwrap();
    assert_eq!(perms.len(), 3);
    let https = perms.iter().find(|p| p["FromPort"] == 443).unwrap();
    assert_eq!(https["IpRanges"].as_array().unwrap().len(), 2);
    assert_eq!(https["Ipv6Ranges"][0]["CidrIpv6"], "fd00::/8");

    // The lb group is referenced by a rule of web: it cannot be deleted yet.
    assert_eq!(
        code(a.call("DeleteSecurityGroup", &json!({"GroupId": lb})).await),
        "DependencyViolation"
    );
    // Revoke by permission, then by id.
    ok(
        &a,
        "RevokeSecurityGroupIngress",
        json!({"GroupId": web, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8100, "UserIdGroupPairs": [{"GroupId": lb}]}]}),
    )
    .await;
    assert_eq!(
        code(
            a.call(
                "RevokeSecurityGroupIngress",
                &json!({"GroupId": web, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8100, "UserIdGroupPairs": [{"GroupId": lb}]}]})
            )
            .await
        ),
        "InvalidPermission.NotFound"
    );
    ok(&a, "DeleteSecurityGroup", json!({"GroupId": lb})).await;
    let remaining = ok(&a, "DescribeSecurityGroupRules", json!({})).await;
    // The rules of `web` (the VPC's default group has its own self-referencing rule).
    let ids: Vec<String> = remaining["SecurityGroupRules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["GroupId"] == web.as_str() && r["IsEgress"] == false)
        .map(|r| r["SecurityGroupRuleId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(
        code(
            a.call(
                "RevokeSecurityGroupIngress",
                &json!({"GroupId": web, "SecurityGroupRuleIds": [ids[0], "sgr-00000000000000000"]})
            )
            .await
        ),
        "InvalidSecurityGroupRuleId.NotFound"
    );
    ok(
        &a,
        "RevokeSecurityGroupIngress",
        json!({"GroupId": web, "SecurityGroupRuleIds": ids}),
    )
    .await;
    let g = ok(&a, "DescribeSecurityGroups", json!({"GroupNames": ["web"]})).await;
    assert!(g["SecurityGroups"][0]["IpPermissions"]
        .as_array()
        .unwrap()
        .is_empty());
    env.server.stop().await;
}

#[tokio::test]
async fn iam_users_need_ec2_permissions() {
    let env = bare_env().await;
    let a = account(&env, "111111111111").await;
    ok(&a, "CreateUser", json!({"UserName": "net"})).await;
    let k = ok(&a, "CreateAccessKey", json!({"UserName": "net"})).await;
    let net = a.with_credentials(common::key_creds(&k["AccessKey"]));
    let err = net
        .call("CreateVpc", &json!({"CidrBlock": "10.0.0.0/16"}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UnauthorizedOperation"));
    assert!(err.to_string().contains("ec2:CreateVpc"), "{err}");
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ec2:CreateVpc", "ec2:Describe*"], "Resource": "*"}
    ]});
    ok(
        &a,
        "PutUserPolicy",
        json!({"UserName": "net", "PolicyName": "vpcs", "PolicyDocument": policy.to_string()}),
    )
    .await;
    let id = vpc(&net, "10.0.0.0/16").await;
    assert_eq!(vpc_ids(&net).await, vec![id.clone()]);
    assert_eq!(
        code(net.call("DeleteVpc", &json!({"VpcId": id})).await),
        "UnauthorizedOperation"
    );
    assert_eq!(
        free_ips(&a, &subnet(&a, &id, "10.0.0.0/24", "us-east-1c").await).await,
        251
    );
    env.server.stop().await;
}

/// CreateVpc makes the VPC's default security group, as EC2 does: named `default`, all traffic
/// in from its own members, undeletable alone, gone with the VPC.
#[tokio::test]
async fn a_vpc_comes_with_its_default_security_group() {
    let env = bare_env().await;
    let a = account(&env, "111111111111").await;
    let id = vpc(&a, "10.9.0.0/16").await;
    let groups = ok(
        &a,
        "DescribeSecurityGroups",
        json!({"Filters": [{"Name": "vpc-id", "Values": [id]}]}),
    )
    .await;
    let g = &groups["SecurityGroups"][0];
    assert_eq!(groups["SecurityGroups"].as_array().unwrap().len(), 1);
    assert_eq!(g["GroupName"], "default");
    assert_eq!(g["Description"], "default VPC security group");
    assert_eq!(g["VpcId"], id.as_str());
    let gid = g["GroupId"].as_str().unwrap().to_owned();
    assert_eq!(g["IpPermissions"][0]["IpProtocol"], "-1");
    assert_eq!(
        g["IpPermissions"][0]["UserIdGroupPairs"][0]["GroupId"],
        gid.as_str()
    );
    assert_eq!(
        code(
            a.call("DeleteSecurityGroup", &json!({"GroupId": gid}))
                .await
        ),
        "CannotDelete"
    );
    assert_eq!(
        code(
            a.call(
                "CreateSecurityGroup",
                &json!({"GroupName": "default", "Description": "d", "VpcId": id})
            )
            .await
        ),
        "InvalidGroup.Duplicate"
    );
    // Another group keeps the VPC; the default one does not.
    let other = group(&a, &id, "other").await;
    assert_eq!(
        code(a.call("DeleteVpc", &json!({"VpcId": id})).await),
        "DependencyViolation"
    );
    ok(&a, "DeleteSecurityGroup", json!({"GroupId": other})).await;
    ok(&a, "DeleteVpc", json!({"VpcId": id})).await;
    let groups = ok(&a, "DescribeSecurityGroups", json!({})).await;
    assert!(groups["SecurityGroups"].as_array().unwrap().is_empty());
    env.server.stop().await;
}

#[tokio::test]
async fn default_vpcs_come_with_accounts_and_come_back() {
    let env = env().await;
    let c = account(&env, "121212121212").await;
    let defaults = ok(
        &c,
        "DescribeVpcs",
        json!({"Filters": [{"Name": "is-default", "Values": ["true"]}]}),
    )
    .await;
    let all = ok(&c, "DescribeVpcs", json!({})).await;
    assert_eq!(
        defaults["Vpcs"], all["Vpcs"],
        "a new account has its default VPC only"
    );
    let v = &defaults["Vpcs"][0];
    assert_eq!(defaults["Vpcs"].as_array().unwrap().len(), 1, "{defaults}");
    assert_eq!(v["CidrBlock"], "172.31.0.0/16");
    assert_eq!(v["IsDefault"], true);
    assert_eq!(v["OwnerId"], "121212121212");
    let vpc_id = v["VpcId"].as_str().unwrap().to_owned();
    // One default subnet per zone: /20s, public addresses on launch.
    let subnets = ok(
        &c,
        "DescribeSubnets",
        json!({"Filters": [{"Name": "default-for-az", "Values": ["true"]}]}),
    )
    .await;
    let mut got: Vec<(String, String)> = subnets["Subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["VpcId"], vpc_id.as_str());
            assert_eq!(s["DefaultForAz"], true);
            assert_eq!(s["MapPublicIpOnLaunch"], true);
            (
                s["AvailabilityZone"].as_str().unwrap().to_owned(),
                s["CidrBlock"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("us-east-1a".to_owned(), "172.31.0.0/20".to_owned()),
            ("us-east-1b".to_owned(), "172.31.16.0/20".to_owned()),
            ("us-east-1c".to_owned(), "172.31.32.0/20".to_owned()),
        ]
    );
    // What every VPC has: its default group, main route table and default network ACL.
    let vpc_filter = json!({"Filters": [{"Name": "vpc-id", "Values": [vpc_id]}]});
    let groups = ok(&c, "DescribeSecurityGroups", vpc_filter.clone()).await;
    assert_eq!(groups["SecurityGroups"][0]["GroupName"], "default");
    let tables = ok(&c, "DescribeRouteTables", vpc_filter.clone()).await;
    assert_eq!(tables["RouteTables"].as_array().unwrap().len(), 1);
    let acls = ok(&c, "DescribeNetworkAcls", vpc_filter.clone()).await;
    assert_eq!(acls["NetworkAcls"][0]["IsDefault"], true);
    assert_eq!(
        acls["NetworkAcls"][0]["Associations"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "the default subnets use the default ACL"
    );

    // One default VPC at a time.
    assert_eq!(
        code(c.call("CreateDefaultVpc", &json!({})).await),
        "DefaultVpcAlreadyExists"
    );
    // It can be deleted like any VPC (subnets first), and made again.
    assert_eq!(
        code(c.call("DeleteVpc", &json!({"VpcId": vpc_id})).await),
        "DependencyViolation"
    );
    for s in subnets["Subnets"].as_array().unwrap() {
        ok(&c, "DeleteSubnet", json!({"SubnetId": s["SubnetId"]})).await;
    }
    ok(&c, "DeleteVpc", json!({"VpcId": vpc_id})).await;
    assert_eq!(vpc_ids(&c).await, Vec::<String>::new());
    let again = ok(&c, "CreateDefaultVpc", json!({})).await;
    assert_eq!(again["Vpc"]["IsDefault"], true);
    assert_eq!(again["Vpc"]["CidrBlock"], "172.31.0.0/16");
    assert_ne!(again["Vpc"]["VpcId"], vpc_id.as_str());
    assert_eq!(subnet_count(&c).await, 3);

    // The administrator's account, made at first start, has one too.
    let admin = ok(
        &env.admin,
        "DescribeVpcs",
        json!({"Filters": [{"Name": "is-default", "Values": ["true"]}]}),
    )
    .await;
    assert_eq!(admin["Vpcs"].as_array().unwrap().len(), 1, "{admin}");
}

#[tokio::test]
async fn without_default_vpcs_accounts_start_empty_and_can_ask_for_one() {
    let env = bare_env().await;
    let c = account(&env, "131313131313").await;
    assert_eq!(vpc_ids(&c).await, Vec::<String>::new());
    assert_eq!(vpc_ids(&env.admin).await, Vec::<String>::new());
    let made = ok(&c, "CreateDefaultVpc", json!({})).await;
    assert_eq!(made["Vpc"]["IsDefault"], true);
    assert_eq!(subnet_count(&c).await, 3);
}
