//! Several regions in one server (issue 9): each request acts in the region its signature names,
//! each region has its own resources (another region's ids answer NotFound, listings show only
//! the region's), zones and default VPCs are per region, and a region added later opens for
//! every account at the next start. A real server on loopback with a real SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{code, env_with, ok, subnet, vpc};
use serde_json::{json, Value};
use underpass_cli::Client;
use underpass_server::config::RegionConfig;
use underpass_server::{start, ServerConfig};

const EU: &str = "eu-west-1";
const US: &str = "us-east-1";

fn two_regions(cfg: &mut ServerConfig) {
    cfg.regions = vec![
        RegionConfig {
            name: US.into(),
            zones: vec!["us-east-1a".into(), "us-east-1b".into()],
        },
        RegionConfig::with_default_zones(EU),
    ];
}

fn strings(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {v}"))
        .iter()
        .map(|x| x[field].as_str().unwrap().to_owned())
        .collect()
}

/// The ids of the caller's default VPCs in the client's region.
async fn default_vpcs(c: &Client) -> Vec<String> {
    let r = ok(
        c,
        "DescribeVpcs",
        json!({"Filters": [{"Name": "is-default", "Values": ["true"]}]}),
    )
    .await;
    strings(&r, "Vpcs", "VpcId")
}

#[tokio::test]
async fn each_region_has_its_own_zones_resources_and_default_vpc() {
    let env = env_with(two_regions).await;
    let us = env.admin.clone();
    let eu = env.admin.with_region(EU);

    // The catalogue: both regions, each with its zones.
    let regions = ok(&us, "DescribeRegions", json!({})).await;
    assert_eq!(strings(&regions, "Regions", "RegionName"), [US, EU]);
    let zones = ok(&eu, "DescribeAvailabilityZones", json!({})).await;
    assert_eq!(
        strings(&zones, "AvailabilityZones", "ZoneName"),
        ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    );
    assert_eq!(
        strings(&zones, "AvailabilityZones", "RegionName"),
        [EU, EU, EU]
    );
    let zones = ok(&us, "DescribeAvailabilityZones", json!({})).await;
    assert_eq!(
        strings(&zones, "AvailabilityZones", "ZoneName"),
        ["us-east-1a", "us-east-1b"]
    );
    assert_eq!(
        code(
            us.call("DescribeRegions", &json!({"RegionNames": ["ap-south-1"]}))
                .await
        ),
        "InvalidParameterValue"
    );

    // A default VPC in each region, with a default subnet in each of that region's zones.
    let (us_default, eu_default) = (default_vpcs(&us).await, default_vpcs(&eu).await);
    assert_eq!(us_default.len(), 1);
    assert_eq!(eu_default.len(), 1);
    assert_ne!(us_default, eu_default);
    let eu_subnets = ok(
        &eu,
        "DescribeSubnets",
        json!({"Filters": [{"Name": "vpc-id", "Values": [eu_default[0]]}]}),
    )
    .await;
    let mut eu_zones = strings(&eu_subnets, "Subnets", "AvailabilityZone");
    eu_zones.sort();
    assert_eq!(eu_zones, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);

    // A VPC made in one region is invisible and unusable from the other.
    let eu_vpc = vpc(&eu, "10.9.0.0/16").await;
    let listed = ok(&us, "DescribeVpcs", json!({})).await;
    assert!(!strings(&listed, "Vpcs", "VpcId").contains(&eu_vpc));
    let listed = ok(&eu, "DescribeVpcs", json!({})).await;
    assert!(strings(&listed, "Vpcs", "VpcId").contains(&eu_vpc));
    assert_eq!(
        code(us.call("DescribeVpcs", &json!({"VpcIds": [eu_vpc]})).await),
        "InvalidVpcID.NotFound"
    );
    // The same subnet asked for from us-east-1 (the VPC is not there), then in eu-west-1 with
    // a us-east-1 zone (refused, and nothing is left behind: the block is free below).
    let in_us_zone =
        json!({"VpcId": eu_vpc, "CidrBlock": "10.9.1.0/24", "AvailabilityZone": "us-east-1a"});
    assert_eq!(
        code(us.call("CreateSubnet", &in_us_zone).await),
        "InvalidVpcID.NotFound"
    );
    assert_eq!(
        code(eu.call("CreateSubnet", &in_us_zone).await),
        "InvalidParameterValue"
    );
    let eu_subnet = subnet(&eu, &eu_vpc, "10.9.1.0/24", "eu-west-1b").await;
    assert_eq!(
        code(
            us.call("DescribeSubnets", &json!({"SubnetIds": [eu_subnet]}))
                .await
        ),
        "InvalidSubnetID.NotFound"
    );

    // The VPC's default security group, main route table and ACL are the region's too.
    let groups = ok(
        &eu,
        "DescribeSecurityGroups",
        json!({"Filters": [{"Name": "vpc-id", "Values": [eu_vpc]}]}),
    )
    .await;
    let eu_group = strings(&groups, "SecurityGroups", "GroupId");
    assert_eq!(eu_group.len(), 1);
    let us_groups = ok(&us, "DescribeSecurityGroups", json!({})).await;
    assert!(!strings(&us_groups, "SecurityGroups", "GroupId").contains(&eu_group[0]));
    let us_tables = ok(&us, "DescribeRouteTables", json!({})).await;
    for t in us_tables["RouteTables"].as_array().unwrap() {
        assert_ne!(t["VpcId"], json!(eu_vpc), "an eu route table listed in us");
    }
    let us_acls = ok(&us, "DescribeNetworkAcls", json!({})).await;
    for a in us_acls["NetworkAcls"].as_array().unwrap() {
        assert_ne!(a["VpcId"], json!(eu_vpc), "an eu ACL listed in us");
    }

    // Tags are listed in their resource's region.
    ok(
        &eu,
        "CreateTags",
        json!({"Resources": [eu_vpc], "Tags": [{"Key": "team", "Value": "eu"}]}),
    )
    .await;
    assert_eq!(
        code(
            us.call(
                "CreateTags",
                &json!({"Resources": [eu_vpc], "Tags": [{"Key": "team", "Value": "us"}]})
            )
            .await
        ),
        "InvalidVpcID.NotFound"
    );
    let tags = ok(&eu, "DescribeTags", json!({})).await;
    assert!(strings(&tags, "Tags", "ResourceId").contains(&eu_vpc));
    let tags = ok(&us, "DescribeTags", json!({})).await;
    assert!(!strings(&tags, "Tags", "ResourceId").contains(&eu_vpc));
}

#[tokio::test]
async fn endpoint_services_are_offered_in_their_region_only() {
    let env = env_with(two_regions).await;
    let us = env.admin.clone();
    let eu = env.admin.with_region(EU);

    // A provider in eu-west-1: VPC, two subnets, a network load balancer, a service.
    let pvpc = vpc(&eu, "10.0.0.0/16").await;
    let subnets = [
        subnet(&eu, &pvpc, "10.0.1.0/24", "eu-west-1a").await,
        subnet(&eu, &pvpc, "10.0.2.0/24", "eu-west-1b").await,
    ];
    let lb = ok(
        &eu,
        "CreateLoadBalancer",
        json!({"Name": "eu-nlb", "Type": "network", "Scheme": "internal", "Subnets": subnets}),
    )
    .await["LoadBalancers"][0]
        .clone();
    let lb_arn = lb["LoadBalancerArn"].as_str().unwrap().to_owned();
    assert!(
        lb_arn.starts_with("arn:aws:elasticloadbalancing:eu-west-1:"),
        "{lb_arn}"
    );
    // The load balancer is not in us-east-1.
    let us_lbs = ok(&us, "DescribeLoadBalancers", json!({})).await;
    assert!(!strings(&us_lbs, "LoadBalancers", "LoadBalancerArn").contains(&lb_arn));
    assert_eq!(
        code(
            us.call(
                "CreateVpcEndpointServiceConfiguration",
                &json!({"NetworkLoadBalancerArns": [lb_arn], "AcceptanceRequired": false})
            )
            .await
        ),
        "InvalidParameter"
    );
    let svc = ok(
        &eu,
        "CreateVpcEndpointServiceConfiguration",
        json!({"NetworkLoadBalancerArns": [lb_arn], "AcceptanceRequired": false}),
    )
    .await["ServiceConfiguration"]
        .clone();
    let name = svc["ServiceName"].as_str().unwrap().to_owned();
    assert!(name.contains(".vpce.eu-west-1.vpce-svc-"), "{name}");
    let base = svc["BaseEndpointDnsNames"][0].as_str().unwrap();
    assert!(base.contains(".eu-west-1."), "{base}");

    // Offered in eu-west-1, not in us-east-1 (with us-east-1's own gateway services).
    let offered = ok(&eu, "DescribeVpcEndpointServices", json!({})).await;
    let names: Vec<String> = offered["ServiceNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&name));
    assert!(
        names.iter().any(|n| n.ends_with(".eu-west-1.s3")),
        "{names:?}"
    );
    let offered = ok(&us, "DescribeVpcEndpointServices", json!({})).await;
    let names: Vec<String> = offered["ServiceNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    assert!(!names.contains(&name), "{names:?}");
    assert!(names.iter().all(|n| !n.contains("eu-west-1")), "{names:?}");
    let configs = ok(&us, "DescribeVpcEndpointServiceConfigurations", json!({})).await;
    assert_eq!(configs["ServiceConfigurations"], json!([]));

    // A consumer VPC in us-east-1 cannot reach the eu service (no cross-region endpoints) ...
    let us_vpc = vpc(&us, "10.1.0.0/16").await;
    let us_subnet = subnet(&us, &us_vpc, "10.1.1.0/24", "us-east-1a").await;
    assert_eq!(
        code(
            us.call(
                "CreateVpcEndpoint",
                &json!({"VpcId": us_vpc, "ServiceName": name, "SubnetIds": [us_subnet],
                        "VpcEndpointType": "Interface"})
            )
            .await
        ),
        "InvalidServiceName"
    );
    // ... and a consumer in eu-west-1 can, with names in eu-west-1.
    let eu_vpc = vpc(&eu, "10.2.0.0/16").await;
    let eu_subnet = subnet(&eu, &eu_vpc, "10.2.1.0/24", "eu-west-1a").await;
    let ep = ok(
        &eu,
        "CreateVpcEndpoint",
        json!({"VpcId": eu_vpc, "ServiceName": name, "SubnetIds": [eu_subnet],
               "VpcEndpointType": "Interface"}),
    )
    .await["VpcEndpoint"]
        .clone();
    let ep_id = ep["VpcEndpointId"].as_str().unwrap().to_owned();
    let dns = ep["DnsEntries"][0]["DnsName"].as_str().unwrap();
    assert!(dns.contains(".eu-west-1.vpce."), "{dns}");
    let listed = ok(&eu, "DescribeVpcEndpoints", json!({})).await;
    assert_eq!(
        strings(&listed, "VpcEndpoints", "VpcEndpointId"),
        std::slice::from_ref(&ep_id)
    );
    let listed = ok(&us, "DescribeVpcEndpoints", json!({})).await;
    assert_eq!(listed["VpcEndpoints"], json!([]));
    assert_eq!(
        code(
            us.call("DescribeVpcEndpoints", &json!({"VpcEndpointIds": [ep_id]}))
                .await
        ),
        "InvalidVpcEndpointId.NotFound"
    );
    // Its ENI is listed in eu-west-1 only.
    let eni = ep["NetworkInterfaceIds"][0].as_str().unwrap().to_owned();
    let enis = ok(&eu, "DescribeNetworkInterfaces", json!({})).await;
    assert!(strings(&enis, "NetworkInterfaces", "NetworkInterfaceId").contains(&eni));
    let enis = ok(&us, "DescribeNetworkInterfaces", json!({})).await;
    assert!(!strings(&enis, "NetworkInterfaces", "NetworkInterfaceId").contains(&eni));
}

#[tokio::test]
async fn unserved_regions_are_refused_but_iam_answers_from_any() {
    let env = env_with(two_regions).await;
    let elsewhere = env.admin.with_region("ap-south-1");
    let err = elsewhere
        .call("DescribeVpcs", &json!({}))
        .await
        .expect_err("a region the server does not serve");
    assert_eq!(err.code(), Some("SignatureDoesNotMatch"), "{err}");
    assert!(
        err.to_string().contains("scoped to a valid region"),
        "{err}"
    );
    // IAM and STS are global: SDKs sign them for us-east-1 or for the client's region.
    let who = ok(&elsewhere, "GetCallerIdentity", json!({})).await;
    assert_eq!(who["Account"], json!(env.admin_account()));
    ok(&elsewhere, "ListUsers", json!({})).await;
}

#[tokio::test]
async fn an_added_region_opens_for_every_account_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServerConfig::with_data_dir(dir.path().join("data"));
    cfg.regions = vec![RegionConfig::with_default_zones(US)];
    let env = common::env_in(cfg.clone()).await;
    let other = common::account(&env, "222233334444").await;
    assert_eq!(default_vpcs(&other).await.len(), 1);
    // The admin deletes its default VPC in us-east-1: it stays deleted across restarts.
    let admin_default = default_vpcs(&env.admin).await;
    common::delete_vpc_with_subnets(&env.admin, &admin_default[0]).await;
    env.server.stop().await;

    let mut cfg2 = cfg.clone();
    cfg2.regions.push(RegionConfig::with_default_zones(EU));
    let env2 = common::env_in(cfg2.clone()).await;
    let other2 = env2.admin.with_credentials(other.credentials().clone());
    assert_eq!(default_vpcs(&env2.admin).await, Vec::<String>::new());
    assert_eq!(default_vpcs(&env2.admin.with_region(EU)).await.len(), 1);
    assert_eq!(default_vpcs(&other2.with_region(EU)).await.len(), 1);
    assert_eq!(default_vpcs(&other2).await.len(), 1);
    env2.server.stop().await;

    // A third start makes nothing new.
    let env3 = common::env_in(cfg2).await;
    assert_eq!(default_vpcs(&env3.admin.with_region(EU)).await.len(), 1);
    assert_eq!(default_vpcs(&env3.admin).await, Vec::<String>::new());
    env3.server.stop().await;
    drop(dir);
}

#[tokio::test]
async fn contradictory_region_settings_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<RegionConfig>, &str)> = vec![
        (vec![], "at least one region"),
        (
            vec![
                RegionConfig::with_default_zones(US),
                RegionConfig::with_default_zones(US),
            ],
            "listed twice",
        ),
        (
            vec![RegionConfig {
                name: EU.into(),
                zones: vec!["us-east-1a".into()],
            }],
            "a zone is the region's name",
        ),
        (
            vec![RegionConfig {
                name: "Bad Region".into(),
                zones: vec!["Bad Regiona".into()],
            }],
            "lower-case letters",
        ),
    ];
    for (regions, needle) in cases {
        let mut cfg = ServerConfig::with_data_dir(dir.path().join("data"));
        cfg.regions = regions;
        let err = match start(cfg).await {
            Ok(_) => panic!("started with bad regions ({needle})"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(needle), "{err} lacks {needle:?}");
    }
    // Nothing was made: the data dir was never created.
    assert!(!dir.path().join("data").exists());
}
