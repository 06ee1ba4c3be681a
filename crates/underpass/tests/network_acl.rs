//! Network ACLs through the real binaries: an inbound entry of the endpoint subnet's ACL that
//! denies a client's source blocks that client at the endpoint while the security group admits
//! it (and other clients keep working); a new custom ACL denies everything until an entry
//! allows it, as EC2's `*` rule does. Addresses are in 127.80.0.0/16, apart from the other
//! end-to-end tests' networks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::{eventually, free_port, http_get, spawn, start_server, sub};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use underpass_cli::walkthrough::creds;
use underpass_cli::Client;

const ZONE: &str = "us-east-1a";
const BACKEND_IP: &str = "127.80.8.10";

async fn call(c: &Client, action: &str, params: Value) -> Value {
    match c.call(action, &params).await {
        Ok(v) => v,
        Err(e) => panic!("{action} {params} failed: {e}"),
    }
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {v}"))
        .to_owned()
}

async fn backend(port: u16) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind((BACKEND_IP, port))
        .await
        .expect("bind the backend");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 3\r\n\r\nok\n")
                    .await;
            });
        }
    })
}

/// What the set-up made: the consumer's client, its subnet and the endpoint's address, and the
/// two agents' join tokens.
struct Net {
    consumer: Client,
    consumer_vpc: String,
    consumer_subnet: String,
    endpoint: SocketAddr,
    provider_token: String,
    consumer_token: String,
}

/// A provider service behind a load balancer in 127.80.0.0/20 and a consumer endpoint in
/// 127.80.16.0/20 whose security group admits all of 127/8 on the service port.
async fn set_up(admin: &Client, port: u16) -> Net {
    let key = |v: &Value| {
        (
            text(v, "/AccessKey/AccessKeyId"),
            text(v, "/AccessKey/SecretAccessKey"),
        )
    };
    let p = admin.with_credentials(creds(&key(&call(
        admin,
        "CreateAccount",
        json!({"AccountId": "808080808080", "Name": "acl-provider"}),
    )
    .await)));
    let c = admin.with_credentials(creds(&key(&call(
        admin,
        "CreateAccount",
        json!({"AccountId": "818181818181", "Name": "acl-consumer"}),
    )
    .await)));

    let pvpc = text(
        &call(&p, "CreateVpc", json!({"CidrBlock": "127.80.0.0/20"})).await,
        "/Vpc/VpcId",
    );
    let psub = text(
        &call(
            &p,
            "CreateSubnet",
            json!({"VpcId": pvpc, "CidrBlock": "127.80.1.0/24", "AvailabilityZone": ZONE}),
        )
        .await,
        "/Subnet/SubnetId",
    );
    let lb = text(
        &call(
            &p,
            "CreateLoadBalancer",
            json!({"Name": "acl-nlb", "Type": "network", "Scheme": "internal", "Subnets": [psub]}),
        )
        .await,
        "/LoadBalancers/0/LoadBalancerArn",
    );
    let tg = text(
        &call(
            &p,
            "CreateTargetGroup",
            json!({"Name": "acl-targets", "Protocol": "TCP", "Port": port, "VpcId": pvpc, "TargetType": "ip",
                   "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 4,
                   "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2}),
        )
        .await,
        "/TargetGroups/0/TargetGroupArn",
    );
    call(
        &p,
        "RegisterTargets",
        json!({"TargetGroupArn": tg, "Targets": [{"Id": BACKEND_IP, "Port": port}]}),
    )
    .await;
    call(
        &p,
        "CreateListener",
        json!({"LoadBalancerArn": lb, "Protocol": "TCP", "Port": port,
               "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}]}),
    )
    .await;
    let svc = call(
        &p,
        "CreateVpcEndpointServiceConfiguration",
        json!({"NetworkLoadBalancerArns": [lb], "AcceptanceRequired": false}),
    )
    .await;
    let service_id = text(&svc, "/ServiceConfiguration/ServiceId");
    let service_name = text(&svc, "/ServiceConfiguration/ServiceName");
    call(
        &p,
        "ModifyVpcEndpointServicePermissions",
        json!({"ServiceId": service_id, "AddAllowedPrincipals": ["arn:aws:iam::818181818181:root"]}),
    )
    .await;

    let cvpc = text(
        &call(&c, "CreateVpc", json!({"CidrBlock": "127.80.16.0/20"})).await,
        "/Vpc/VpcId",
    );
    let csub = text(
        &call(
            &c,
            "CreateSubnet",
            json!({"VpcId": cvpc, "CidrBlock": "127.80.17.0/24", "AvailabilityZone": ZONE}),
        )
        .await,
        "/Subnet/SubnetId",
    );
    let sg = text(
        &call(
            &c,
            "CreateSecurityGroup",
            json!({"GroupName": "clients", "Description": "all of loopback", "VpcId": cvpc}),
        )
        .await,
        "/GroupId",
    );
    call(
        &c,
        "AuthorizeSecurityGroupIngress",
        json!({"GroupId": sg, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
               "IpRanges": [{"CidrIp": "127.0.0.0/8"}]}]}),
    )
    .await;
    let ep = call(
        &c,
        "CreateVpcEndpoint",
        json!({"VpcEndpointType": "Interface", "VpcId": cvpc, "ServiceName": service_name,
               "SubnetIds": [csub], "SecurityGroupIds": [sg]}),
    )
    .await;
    assert_eq!(text(&ep, "/VpcEndpoint/State"), "available");
    let eni = text(&ep, "/VpcEndpoint/NetworkInterfaceIds/0");
    let enis = call(
        &c,
        "DescribeNetworkInterfaces",
        json!({"NetworkInterfaceIds": [eni]}),
    )
    .await;
    let ip = text(&enis, "/NetworkInterfaces/0/PrivateIpAddress");
    let token = |client: &Client, vpc: &str| {
        let client = client.clone();
        let vpc = vpc.to_owned();
        async move {
            text(
                &call(
                    &client,
                    "CreateAgentJoinToken",
                    json!({"VpcId": vpc, "AvailabilityZone": ZONE}),
                )
                .await,
                "/JoinToken",
            )
        }
    };
    Net {
        provider_token: token(&p, &pvpc).await,
        consumer_token: token(&c, &cvpc).await,
        consumer: c,
        consumer_vpc: cvpc,
        consumer_subnet: csub,
        endpoint: format!("{ip}:{port}").parse().unwrap(),
    }
}

async fn answers(endpoint: SocketAddr, from: IpAddr) -> bool {
    matches!(http_get(endpoint, Some(from)).await, Ok((s, _)) if s.contains("200"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_entries_block_sources_the_security_group_admits() {
    let dir = tempfile::tempdir().unwrap();
    let tunnel = free_port().to_string();
    let server = start_server(&sub(dir.path(), "server"), &["--tunnel-port", &tunnel]);
    let port = free_port();
    let net = set_up(&server.admin(), port).await;
    let _backend = backend(port).await;
    let agent = |name: &str, token: &str| {
        spawn(
            &[
                "agent",
                "--server",
                &server.url,
                "--data-dir",
                &sub(dir.path(), name),
                "--join-token",
                token,
            ],
            &[],
        )
    };
    let _p = agent("p", &net.provider_token);
    let _c = agent("c", &net.consumer_token);
    let blocked: IpAddr = "127.80.30.5".parse().unwrap();
    let other: IpAddr = "127.80.30.6".parse().unwrap();

    // The default ACL allows everything: both clients get through.
    assert!(
        eventually(Duration::from_secs(30), async || answers(
            net.endpoint,
            blocked
        )
        .await
            && answers(net.endpoint, other).await)
        .await,
        "the endpoint never carried traffic"
    );

    // A deny entry for one source, numbered before the default ACL's allow-all rule 100.
    let c = &net.consumer;
    let acls = call(
        c,
        "DescribeNetworkAcls",
        json!({"Filters": [{"Name": "association.subnet-id", "Values": [net.consumer_subnet]}]}),
    )
    .await;
    let default_acl = text(&acls, "/NetworkAcls/0/NetworkAclId");
    assert_eq!(acls["NetworkAcls"][0]["IsDefault"], true);
    let assoc = acls["NetworkAcls"][0]["Associations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["SubnetId"] == net.consumer_subnet.as_str())
        .map(|a| text(a, "/NetworkAclAssociationId"))
        .unwrap();
    call(
        c,
        "CreateNetworkAclEntry",
        json!({"NetworkAclId": default_acl, "RuleNumber": 50, "Protocol": "6", "RuleAction": "deny",
               "Egress": false, "CidrBlock": format!("{blocked}/32"),
               "PortRange": {"From": port, "To": port}}),
    )
    .await;
    assert!(
        eventually(Duration::from_secs(15), async || !answers(
            net.endpoint,
            blocked
        )
        .await)
        .await,
        "the ACL's deny entry never blocked the client"
    );
    assert!(
        answers(net.endpoint, other).await,
        "another source is still admitted"
    );
    // An outbound entry does not touch inbound flows.
    call(
        c,
        "DeleteNetworkAclEntry",
        json!({"NetworkAclId": default_acl, "RuleNumber": 50, "Egress": false}),
    )
    .await;
    call(
        c,
        "CreateNetworkAclEntry",
        json!({"NetworkAclId": default_acl, "RuleNumber": 50, "Protocol": "-1", "RuleAction": "deny",
               "Egress": true, "CidrBlock": "0.0.0.0/0"}),
    )
    .await;
    assert!(
        eventually(Duration::from_secs(15), async || answers(
            net.endpoint,
            blocked
        )
        .await)
        .await,
        "removing the deny entry never readmitted the client"
    );

    // A new custom ACL has only the `*` rule: moving the subnet to it denies every client.
    let custom = text(
        &call(c, "CreateNetworkAcl", json!({"VpcId": net.consumer_vpc})).await,
        "/NetworkAcl/NetworkAclId",
    );
    let assoc = text(
        &call(
            c,
            "ReplaceNetworkAclAssociation",
            json!({"AssociationId": assoc, "NetworkAclId": custom}),
        )
        .await,
        "/NewAssociationId",
    );
    assert!(
        eventually(Duration::from_secs(15), async || !answers(
            net.endpoint,
            other
        )
        .await
            && !answers(net.endpoint, blocked).await)
        .await,
        "an ACL without entries still admitted clients"
    );
    call(
        c,
        "CreateNetworkAclEntry",
        json!({"NetworkAclId": custom, "RuleNumber": 10, "Protocol": "tcp", "RuleAction": "allow",
               "Egress": false, "CidrBlock": format!("{other}/32"),
               "PortRange": {"From": port, "To": port}}),
    )
    .await;
    assert!(
        eventually(Duration::from_secs(15), async || answers(
            net.endpoint,
            other
        )
        .await)
        .await,
        "the custom ACL's allow entry never admitted the client"
    );
    assert!(
        !answers(net.endpoint, blocked).await,
        "a source no entry allows is denied"
    );
    // Back to the default ACL: everyone again.
    call(
        c,
        "ReplaceNetworkAclAssociation",
        json!({"AssociationId": assoc, "NetworkAclId": default_acl}),
    )
    .await;
    assert!(
        eventually(Duration::from_secs(15), async || answers(
            net.endpoint,
            blocked
        )
        .await)
        .await,
        "the default ACL never readmitted the client"
    );
}
