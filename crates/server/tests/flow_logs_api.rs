//! Flow logs as resources over the real API: CreateFlowLogs / DescribeFlowLogs / DeleteFlowLogs
//! with EC2's per-resource `Unsuccessful` items, the checks on formats, intervals and
//! destinations (no path ever leaves the flow-log root: RELIABILITY item 9), the per-resource
//! quota, ClientToken replays, other accounts, and the same calls through boto3.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{account, code, env, ok, provider_network, subnet, vpc};
use serde_json::{json, Value};
use underpass_cli::Client;

fn create(vpc: &str, extra: Value) -> Value {
    let mut p = json!({
        "ResourceType": "VPC", "ResourceIds": [vpc], "TrafficType": "ALL",
        "LogDestinationType": "file", "LogDestination": "dev", "MaxAggregationInterval": 60,
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = v.clone();
        }
    }
    p
}

async fn ids(c: &Client, params: Value) -> Vec<String> {
    ok(c, "DescribeFlowLogs", params).await["FlowLogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FlowLogId"].as_str().unwrap().to_owned())
        .collect()
}

fn unsuccessful(r: &Value) -> Vec<(String, String)> {
    r["Unsuccessful"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["ResourceId"].as_str().unwrap().to_owned(),
                u["Error"]["Code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn create_describe_delete() {
    let env = env().await;
    let a = account(&env, "111111111111").await;
    let v = vpc(&a, "10.0.0.0/16").await;
    let r = ok(&a, "CreateFlowLogs", create(&v, json!({}))).await;
    assert_eq!(unsuccessful(&r), vec![]);
    let id = r["FlowLogIds"][0].as_str().unwrap().to_owned();
    assert!(id.starts_with("fl-") && id.len() == 20, "{id}");

    let d = ok(&a, "DescribeFlowLogs", json!({"FlowLogIds": [id]})).await;
    let f = &d["FlowLogs"][0];
    assert_eq!(f["FlowLogId"], id.as_str());
    assert_eq!(f["ResourceId"], v.as_str());
    assert_eq!(f["TrafficType"], "ALL");
    assert_eq!(f["LogDestinationType"], "file");
    assert_eq!(f["LogDestination"], "dev");
    assert_eq!(f["LogFormat"], underpass_flowlogs::DEFAULT_FORMAT);
    assert_eq!(f["MaxAggregationInterval"], 60);
    assert_eq!(f["FlowLogStatus"], "ACTIVE");
    assert_eq!(f["DeliverLogsStatus"], "SUCCESS");
    assert!(f["CreationTime"].as_str().unwrap().starts_with("20"));
    assert_eq!(f["DestinationOptions"]["FileFormat"], "plain-text");
    assert_eq!(f["Tags"], json!([]));

    // An S3 destination with a custom format and the default interval (600).
    let fmt = "${version} ${vpc-id} ${subnet-id} ${interface-id} ${srcaddr} ${dstaddr} ${tcp-flags} ${flow-direction}";
    let r = ok(
        &a,
        "CreateFlowLogs",
        create(
            &v,
            json!({"LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::flow-bucket/vpc/", "LogFormat": fmt,
                   "TrafficType": "REJECT", "MaxAggregationInterval": null,
                   "DestinationOptions": {"FileFormat": "parquet", "HiveCompatiblePartitions": true},
                   "TagSpecifications": [{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "team", "Value": "net"}]}]}),
        ),
    )
    .await;
    let s3 = r["FlowLogIds"][0].as_str().unwrap().to_owned();
    let d = ok(&a, "DescribeFlowLogs", json!({"FlowLogIds": [s3]})).await;
    let f = &d["FlowLogs"][0];
    assert_eq!(f["LogDestination"], "arn:aws:s3:::flow-bucket/vpc");
    assert_eq!(f["LogFormat"], fmt);
    assert_eq!(f["MaxAggregationInterval"], 600);
    assert_eq!(f["DestinationOptions"]["FileFormat"], "parquet");
    assert_eq!(f["DestinationOptions"]["HiveCompatiblePartitions"], true);
    assert_eq!(f["DestinationOptions"]["PerHourPartition"], false);
    assert_eq!(f["DeliverLogsStatus"], "SUCCESS");
    assert_eq!(f["Tags"], json!([{"Key": "team", "Value": "net"}]));

    // Filters.
    let both = ids(&a, json!({})).await;
    assert_eq!(both.len(), 2);
    for (name, value, want) in [
        ("resource-id", v.as_str(), 2),
        ("log-destination-type", "s3", 1),
        ("log-destination-type", "file", 1),
        ("flow-log-id", id.as_str(), 1),
        ("traffic-type", "REJECT", 1),
        ("deliver-log-status", "SUCCESS", 2),
        ("tag:team", "net", 1),
        ("tag:team", "ops", 0),
        ("tag-key", "team", 1),
        ("resource-id", "vpc-*", 2),
        ("resource-id", "subnet-*", 0),
    ] {
        let got = ids(&a, json!({"Filter": [{"Name": name, "Values": [value]}]})).await;
        assert_eq!(got.len(), want, "{name}={value}: {got:?}");
    }
    assert_eq!(
        code(
            a.call(
                "DescribeFlowLogs",
                &json!({"Filter": [{"Name": "bogus", "Values": ["x"]}]})
            )
            .await
        ),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            a.call("DescribeFlowLogs", &json!({"FlowLogIds": ["fl-nope"]}))
                .await
        ),
        "InvalidFlowLogId.Malformed"
    );

    // Another account sees none of them and cannot delete them.
    let b = account(&env, "222222222222").await;
    assert!(ids(&b, json!({})).await.is_empty());
    let r = ok(&b, "DeleteFlowLogs", json!({"FlowLogIds": [id]})).await;
    assert_eq!(
        unsuccessful(&r),
        vec![(id.clone(), "InvalidFlowLogId.NotFound".into())]
    );

    // Delete: once, then it is gone; malformed ids are per-item failures.
    let r = ok(
        &a,
        "DeleteFlowLogs",
        json!({"FlowLogIds": [id, "fl-zz", "fl-00000000000000000"]}),
    )
    .await;
    assert_eq!(
        unsuccessful(&r),
        vec![
            ("fl-zz".into(), "InvalidFlowLogId.Malformed".into()),
            (
                "fl-00000000000000000".into(),
                "InvalidFlowLogId.NotFound".into()
            )
        ]
    );
    assert_eq!(ids(&a, json!({})).await, vec![s3.clone()]);
    let r = ok(&a, "DeleteFlowLogs", json!({"FlowLogIds": [id]})).await;
    assert_eq!(unsuccessful(&r).len(), 1);
    assert_eq!(
        code(a.call("DeleteFlowLogs", &json!({})).await),
        "MissingParameter"
    );
    env.server.stop().await;
}

#[tokio::test]
async fn resources_are_checked_one_by_one() {
    let env = env().await;
    let a = account(&env, "111111111111").await;
    let b = account(&env, "222222222222").await;
    let v = vpc(&a, "10.0.0.0/16").await;
    let s = subnet(&a, &v, "10.0.1.0/24", "us-east-1a").await;
    let theirs = subnet(
        &b,
        &vpc(&b, "10.0.0.0/16").await,
        "10.0.1.0/24",
        "us-east-1a",
    )
    .await;
    let r = ok(
        &a,
        "CreateFlowLogs",
        create(
            "",
            json!({"ResourceType": "Subnet",
                   "ResourceIds": [s, "subnet-00000000000000001", v, theirs, "nonsense"]}),
        ),
    )
    .await;
    assert_eq!(r["FlowLogIds"].as_array().unwrap().len(), 1);
    assert_eq!(
        unsuccessful(&r),
        vec![
            (
                "subnet-00000000000000001".into(),
                "InvalidSubnetID.NotFound".into()
            ),
            (v.clone(), "InvalidSubnetID.Malformed".into()),
            (theirs.clone(), "InvalidSubnetID.NotFound".into()),
            ("nonsense".into(), "InvalidSubnetID.Malformed".into()),
        ]
    );

    // Network interfaces: the provider's load-balancer nodes are its ENIs.
    let p = provider_network(&a, "nlb").await;
    let enis = ok(&a, "DescribeNetworkInterfaces", json!({})).await;
    let eni = enis["NetworkInterfaces"][0]["NetworkInterfaceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = ok(
        &a,
        "CreateFlowLogs",
        create(
            "",
            json!({"ResourceType": "NetworkInterface", "ResourceIds": [eni, "eni-00000000000000001"]}),
        ),
    )
    .await;
    assert_eq!(r["FlowLogIds"].as_array().unwrap().len(), 1);
    assert_eq!(
        unsuccessful(&r),
        vec![(
            "eni-00000000000000001".into(),
            "InvalidNetworkInterfaceID.NotFound".into()
        )]
    );
    assert!(!p.subnets.is_empty());

    // At most two per resource; the same configuration twice is FlowLogAlreadyExists.
    let dup = ok(&a, "CreateFlowLogs", create(&v, json!({}))).await;
    assert_eq!(unsuccessful(&dup), vec![]);
    let again = ok(&a, "CreateFlowLogs", create(&v, json!({}))).await;
    assert_eq!(
        unsuccessful(&again),
        vec![(v.clone(), "FlowLogAlreadyExists".into())]
    );
    ok(
        &a,
        "CreateFlowLogs",
        create(&v, json!({"LogDestination": "other"})),
    )
    .await;
    let third = ok(
        &a,
        "CreateFlowLogs",
        create(&v, json!({"LogDestination": "third"})),
    )
    .await;
    assert_eq!(
        unsuccessful(&third),
        vec![(v.clone(), "FlowLogsLimitExceeded".into())]
    );
    env.server.stop().await;
}

#[tokio::test]
async fn bad_settings_are_refused_whole() {
    let env = env().await;
    let a = account(&env, "111111111111").await;
    let v = vpc(&a, "10.0.0.0/16").await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"LogFormat": "${version} ${nope}"}),
            "InvalidParameter",
        ),
        (json!({"LogFormat": "$version"}), "InvalidParameter"),
        (json!({"LogFormat": ""}), "InvalidParameter"),
        (
            json!({"LogFormat": "${version}  ${srcaddr}"}),
            "InvalidParameter",
        ),
        (
            json!({"LogFormat": "${srcaddr} ${srcaddr}"}),
            "InvalidParameter",
        ),
        (json!({"TrafficType": "SOME"}), "InvalidParameter"),
        (json!({"TrafficType": null}), "MissingParameter"),
        (json!({"MaxAggregationInterval": 300}), "InvalidParameter"),
        (json!({"ResourceType": null}), "MissingParameter"),
        (
            json!({"ResourceType": "TransitGateway"}),
            "InvalidParameter",
        ),
        (json!({"ResourceIds": []}), "MissingParameter"),
        (json!({"LogDestination": null}), "MissingParameter"),
        (json!({"LogDestinationType": null}), "InvalidParameter"),
        (
            json!({"LogDestinationType": "cloud-watch-logs"}),
            "InvalidParameter",
        ),
        (json!({"LogGroupName": "g"}), "InvalidParameter"),
        (
            json!({"DestinationOptions": {"FileFormat": "orc"}}),
            "InvalidParameter",
        ),
        (
            json!({"LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::b/x",
                   "DestinationOptions": {"FileFormat": "PARQUET"}}),
            "InvalidParameter",
        ),
        (
            json!({"LogDestinationType": "s3", "LogDestination": "my-bucket"}),
            "InvalidParameter",
        ),
        (
            json!({"LogDestinationType": "s3", "LogDestination": "arn:aws:s3:::bucket/../x"}),
            "InvalidParameter",
        ),
        // Path traversal and friends (RELIABILITY item 9).
        (json!({"LogDestination": "../x"}), "InvalidParameter"),
        (json!({"LogDestination": "../../etc"}), "InvalidParameter"),
        (json!({"LogDestination": "a/../../b"}), "InvalidParameter"),
        (json!({"LogDestination": "/etc"}), "InvalidParameter"),
        (json!({"LogDestination": "a\u{0}b"}), "InvalidParameter"),
        (json!({"LogDestination": "a\nb"}), "InvalidParameter"),
        (json!({"LogDestination": "."}), "InvalidParameter"),
        (json!({"LogDestination": ""}), "InvalidParameter"),
        (
            json!({"TagSpecifications": [{"ResourceType": "vpc", "Tags": [{"Key": "a", "Value": "b"}]}]}),
            "InvalidParameterValue",
        ),
        (
            json!({"TagSpecifications": [{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "aws:x", "Value": "b"}]}]}),
            "InvalidParameterValue",
        ),
    ];
    for (extra, want) in cases {
        let p = create(&v, extra.clone());
        assert_eq!(code(a.call("CreateFlowLogs", &p).await), want, "{extra}");
    }
    assert!(
        ids(&a, json!({})).await.is_empty(),
        "nothing half-made is left"
    );
    env.server.stop().await;
}

#[tokio::test]
async fn client_tokens_replay() {
    let env = env().await;
    let a = account(&env, "111111111111").await;
    let v = vpc(&a, "10.0.0.0/16").await;
    let p = create(&v, json!({"ClientToken": "tok-1"}));
    let first = ok(&a, "CreateFlowLogs", p.clone()).await;
    let second = ok(&a, "CreateFlowLogs", p).await;
    assert_eq!(first["FlowLogIds"], second["FlowLogIds"]);
    assert_eq!(second["ClientToken"], "tok-1");
    assert_eq!(ids(&a, json!({})).await.len(), 1);
    assert_eq!(
        code(
            a.call(
                "CreateFlowLogs",
                &create(&v, json!({"ClientToken": "tok-1", "TrafficType": "REJECT"}))
            )
            .await
        ),
        "IdempotentParameterMismatch"
    );
    env.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_creates_describes_and_deletes_flow_logs() {
    let env = env().await;
    let r = env
        .admin
        .call(
            "CreateAccount",
            &json!({"AccountId": "333333333333", "Name": "acct"}),
        )
        .await
        .unwrap();
    let key = r["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned();
    let secret = r["AccessKey"]["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("query")
        .join("flow_logs_boto3.py");
    let endpoint = format!("http://{}", env.server.api_addr);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .env("UP_ENDPOINT", endpoint)
            .env("UP_KEY", key)
            .env("UP_SECRET", secret)
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .output()
            .expect("python3 with boto3 (scripts/test installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    env.server.stop().await;
}

#[tokio::test]
async fn flow_logs_go_with_their_resource() {
    let env = env().await;
    let a = account(&env, "111111111111").await;
    let v = vpc(&a, "10.9.0.0/16").await;
    let s = subnet(&a, &v, "10.9.1.0/24", "us-east-1a").await;
    let on_vpc = ok(&a, "CreateFlowLogs", create(&v, json!({}))).await["FlowLogIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let on_subnet = ok(
        &a,
        "CreateFlowLogs",
        create(
            &s,
            json!({"ResourceType": "Subnet", "TagSpecifications": [{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "k", "Value": "v"}]}]}),
        ),
    )
    .await["FlowLogIds"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ids(&a, json!({})).await.len(), 2);

    // The subnet goes, and its flow log (and that one's tags) with it; the VPC's stays.
    ok(&a, "DeleteSubnet", json!({"SubnetId": s})).await;
    assert_eq!(ids(&a, json!({})).await, vec![on_vpc.clone()]);
    let tags = ok(
        &a,
        "DescribeTags",
        json!({"Filters": [{"Name": "resource-id", "Values": [on_subnet]}]}),
    )
    .await;
    assert_eq!(tags["Tags"], json!([]), "{tags}");

    ok(&a, "DeleteVpc", json!({"VpcId": v})).await;
    assert!(ids(&a, json!({})).await.is_empty());
    let r = ok(&a, "DeleteFlowLogs", json!({"FlowLogIds": [on_vpc]})).await;
    assert_eq!(
        r["Unsuccessful"][0]["Error"]["Code"],
        "InvalidFlowLogId.NotFound"
    );
    env.server.stop().await;
}
