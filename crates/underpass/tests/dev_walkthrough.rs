//! The seed-003 walkthrough through the built binary: `underpass dev --json`, then traffic
//! through the endpoint, pending endpoints refused, accept, reject cutting live flows, security
//! groups, and the CLI against the running dev install.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod dns;

use std::net::SocketAddr;
use std::time::Duration;

use common::{cli, eventually, free_port, http_get, spawn, sub};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use underpass_auth::credentials::SecretAccessKey;
use underpass_cli::{Client, Credentials};

fn client(info: &Value, who: &str) -> Client {
    let (id, secret) = match who {
        "provider" => ("access_key_id", "secret_access_key"),
        _ => ("consumer_access_key_id", "consumer_secret_access_key"),
    };
    Client::new(
        info["api_url"].as_str().unwrap(),
        "us-east-1",
        Credentials {
            access_key_id: info[id].as_str().unwrap().into(),
            secret_access_key: SecretAccessKey::new(info[secret].as_str().unwrap()),
            session_token: None,
        },
    )
    .unwrap()
}

/// Logs written to a file or a pipe (as under systemd, or `2> server.log`) are plain text: no
/// terminal colour codes.
#[test]
fn logs_to_a_pipe_are_plain_text() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_underpass"))
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--agent-listen",
            "127.0.0.1:0",
        ])
        .args(["--data-dir", &sub(dir.path(), "server"), "--json"])
        .env("UNDERPASS_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The JSON line comes once the server accepts requests, after its start-up log lines.
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("api_url"), "{line}");
    server.kill().unwrap();
    server.wait().unwrap();
    let mut logs = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("INFO"), "no log lines to check: {logs}");
    assert!(
        !logs.contains('\x1b'),
        "colour codes in piped logs: {logs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_walkthrough_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let data = sub(dir.path(), "dev");
    let port = free_port().to_string();
    let dns_port = free_port().to_string();
    let dev_args = [
        "dev",
        "--data-dir",
        &data,
        "--json",
        "--tunnel-port",
        &port,
        "--dns-port",
        &dns_port,
    ];
    let mut dev = spawn(&dev_args, &[]);
    let info: Value =
        serde_json::from_str(&dev.line(Duration::from_secs(90))).expect("one JSON line");
    for field in [
        "api_url",
        "region",
        "access_key_id",
        "secret_access_key",
        "consumer_access_key_id",
        "consumer_secret_access_key",
        "service_name",
        "service_id",
        "endpoint_id",
        "endpoint_address",
        "backend_address",
        "dns_server",
        "endpoint_dns_name",
        "private_dns_name",
    ] {
        assert!(info[field].is_string(), "missing {field} in {info}");
    }
    let endpoint: SocketAddr = info["endpoint_address"].as_str().unwrap().parse().unwrap();

    // The consumer reaches the provider's service through its own private address.
    let (status, body) = http_get(endpoint, None).await.unwrap();
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("hello from the provider"), "{body}");

    // DNS: the consumer VPC's resolver answers the verified private name and the endpoint's
    // regional name with the endpoint's address, over UDP and TCP.
    let dns_server: SocketAddr = info["dns_server"].as_str().unwrap().parse().unwrap();
    assert_eq!(dns_server.ip().to_string(), "127.20.0.2");
    let private_name = info["private_dns_name"].as_str().unwrap().to_owned();
    assert_eq!(private_name, "web.service.provider.local");
    let regional = info["endpoint_dns_name"].as_str().unwrap().to_owned();
    assert!(
        regional.starts_with(&format!("{}-", info["endpoint_id"].as_str().unwrap()))
            && regional.ends_with(".us-east-1.vpce.underpass.internal"),
        "{regional}"
    );
    for tcp in [false, true] {
        for name in [&private_name, &regional] {
            let (rcode, addrs) = dns::resolve(dns_server, name, tcp).await;
            assert_eq!(rcode, 0, "{name} over {}", if tcp { "TCP" } else { "UDP" });
            assert_eq!(addrs, vec![endpoint.ip()], "{name}");
        }
    }
    // Resolve, then connect by name: curl with the address the resolver gave.
    let (_, addrs) = dns::resolve(dns_server, &private_name, false).await;
    let by_name = dns::curl_by_name(&private_name, addrs[0], endpoint.port()).await;
    assert!(by_name.contains("hello from the provider"), "{by_name}");
    // Isolation: the provider's VPC resolver does not know the consumer's names.
    let provider_dns: SocketAddr = info["provider_dns_server"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for name in [&private_name, &regional] {
        let (rcode, addrs) = dns::resolve(provider_dns, name, false).await;
        assert!(
            addrs.is_empty(),
            "{name} resolved in the provider's VPC: {rcode} {addrs:?}"
        );
    }

    // The CLI, as the consumer, sees its endpoint available (exit code 0, JSON output).
    let env = [
        ("UNDERPASS_ENDPOINT_URL", info["api_url"].as_str().unwrap()),
        (
            "AWS_ACCESS_KEY_ID",
            info["consumer_access_key_id"].as_str().unwrap(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY",
            info["consumer_secret_access_key"].as_str().unwrap(),
        ),
    ];
    let (code, out, err) = cli(&["ec2", "describe-vpc-endpoints", "--output", "json"], &env);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["VpcEndpoints"][0]["State"], "available", "{v}");
    assert_eq!(v["VpcEndpoints"][0]["PrivateDnsEnabled"], true, "{v}");
    let entries: Vec<&str> = v["VpcEndpoints"][0]["DnsEntries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["DnsName"].as_str().unwrap())
        .collect();
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert_eq!(entries[0], regional);
    assert!(entries[1].contains("-us-east-1a."), "{entries:?}");
    assert_eq!(entries[2], private_name);
    // Bad input through the CLI: a clear AWS error and exit code 1; a usage error is 2.
    let (code, _, err) = cli(&["ec2", "describe-vpcs", "--vpc-ids", "vpc-nothex"], &env);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("InvalidParameterValue") || err.contains("Malformed"),
        "{err}"
    );
    let (code, _, _) = cli(&["ec2", "no-such-action"], &env);
    assert_eq!(code, 2);
    let (code, _, err) = cli(&["--worker-threads", "0", "agent"], &env);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--worker-threads"), "{err}");

    // An account the provider never allowed can neither see the service nor create an endpoint.
    let admin_file = format!("{data}/server/admin-credentials.json");
    let admin_keys: Value =
        serde_json::from_str(&std::fs::read_to_string(admin_file).unwrap()).unwrap();
    let admin = Client::new(
        info["api_url"].as_str().unwrap(),
        "us-east-1",
        Credentials {
            access_key_id: admin_keys["access_key_id"].as_str().unwrap().into(),
            secret_access_key: SecretAccessKey::new(
                admin_keys["secret_access_key"].as_str().unwrap(),
            ),
            session_token: None,
        },
    )
    .unwrap();
    let key = admin
        .call(
            "CreateAccount",
            &json!({"AccountId": "555555555555", "Name": "stranger"}),
        )
        .await
        .unwrap();
    let stranger = admin.with_credentials(Credentials {
        access_key_id: key["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret_access_key: SecretAccessKey::new(
            key["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
        ),
        session_token: None,
    });
    let err = stranger
        .call(
            "DescribeVpcEndpointServices",
            &json!({"ServiceNames": [info["service_name"]]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidServiceName"), "{err}");
    let svpc = stranger
        .call("CreateVpc", &json!({"CidrBlock": "127.50.0.0/16"}))
        .await
        .unwrap();
    let svpc = svpc["Vpc"]["VpcId"].as_str().unwrap();
    let ssub = stranger
        .call(
            "CreateSubnet",
            &json!({"VpcId": svpc, "CidrBlock": "127.50.1.0/24", "AvailabilityZone": "us-east-1a"}),
        )
        .await
        .unwrap();
    let ssg = stranger
        .call(
            "CreateSecurityGroup",
            &json!({"GroupName": "g", "Description": "d", "VpcId": svpc}),
        )
        .await
        .unwrap();
    let err = stranger
        .call(
            "CreateVpcEndpoint",
            &json!({"VpcEndpointType": "Interface", "VpcId": svpc, "ServiceName": info["service_name"],
                    "SubnetIds": [ssub["Subnet"]["SubnetId"]], "SecurityGroupIds": [ssg["GroupId"]]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidServiceName"), "{err}");

    let provider = client(&info, "provider");
    let consumer = client(&info, "consumer");
    let service_id = info["service_id"].as_str().unwrap();

    // A second endpoint to the same service waits in pendingAcceptance and carries nothing.
    let first = consumer
        .call("DescribeVpcEndpoints", &json!({}))
        .await
        .unwrap();
    let ep0 = &first["VpcEndpoints"][0];
    let second = consumer
        .call(
            "CreateVpcEndpoint",
            &json!({"VpcEndpointType": "Interface", "VpcId": ep0["VpcId"], "ServiceName": info["service_name"],
                    "SubnetIds": ep0["SubnetIds"], "SecurityGroupIds": [ep0["Groups"][0]["GroupId"]]}),
        )
        .await
        .unwrap();
    assert_eq!(second["VpcEndpoint"]["State"], "pendingAcceptance");
    let second_id = second["VpcEndpoint"]["VpcEndpointId"]
        .as_str()
        .unwrap()
        .to_owned();
    // A new endpoint's regional name appears in DNS within a second or so (long-poll, apply).
    let second_name = second["VpcEndpoint"]["DnsEntries"][0]["DnsName"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        eventually(Duration::from_millis(1500), async || !dns::resolve(
            dns_server,
            &second_name,
            false
        )
        .await
        .1
        .is_empty())
        .await,
        "the new endpoint's name did not appear in DNS"
    );
    let eni = second["VpcEndpoint"]["NetworkInterfaceIds"][0]
        .as_str()
        .unwrap();
    let enis = consumer
        .call(
            "DescribeNetworkInterfaces",
            &json!({"NetworkInterfaceIds": [eni]}),
        )
        .await
        .unwrap();
    let second_addr: SocketAddr = format!(
        "{}:{}",
        enis["NetworkInterfaces"][0]["PrivateIpAddress"]
            .as_str()
            .unwrap(),
        endpoint.port()
    )
    .parse()
    .unwrap();
    // Give the agent time to learn about it, then: no 200 while pending.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..3 {
        let r = http_get(second_addr, None).await;
        assert!(
            !matches!(&r, Ok((s, _)) if s.contains("200")),
            "pending endpoint carried traffic: {r:?}"
        );
    }
    // The provider accepts: traffic flows.
    let acc = provider
        .call(
            "AcceptVpcEndpointConnections",
            &json!({"ServiceId": service_id, "VpcEndpointIds": [second_id]}),
        )
        .await
        .unwrap();
    assert_eq!(
        acc["Unsuccessful"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "{acc}"
    );
    assert!(
        eventually(
            Duration::from_secs(10),
            async || matches!(http_get(second_addr, None).await, Ok((s, _)) if s.contains("200"))
        )
        .await,
        "accepted endpoint never carried traffic"
    );

    // Security groups: allow only 127.0.0.9; a client from 127.0.0.1 is refused, 127.0.0.9 passes.
    let sg = ep0["Groups"][0]["GroupId"].as_str().unwrap();
    common::admit_only(&consumer, sg, endpoint.port(), "127.0.0.9/32").await;
    let allowed_src = Some("127.0.0.9".parse().unwrap());
    assert!(
        eventually(
            Duration::from_secs(10),
            async || !matches!(http_get(endpoint, None).await, Ok((s, _)) if s.contains("200"))
        )
        .await,
        "a client outside the security group still got through"
    );
    let (status, _) = http_get(endpoint, allowed_src).await.unwrap();
    assert!(
        status.contains("200"),
        "the allowed source was refused: {status}"
    );

    // Reject with a live flow: the flow is cut within seconds, and new flows are refused.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.9:0".parse().unwrap()).unwrap();
    let mut live = socket.connect(endpoint).await.unwrap();
    live.write_all(b"GET / HTTP/1.1\r\nHost: demo\r\n")
        .await
        .unwrap(); // unfinished request keeps it open
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rej = provider
        .call(
            "RejectVpcEndpointConnections",
            &json!({"ServiceId": service_id, "VpcEndpointIds": [info["endpoint_id"]]}),
        )
        .await
        .unwrap();
    assert_eq!(
        rej["Unsuccessful"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "{rej}"
    );
    // The rejected endpoint's private name leaves DNS at once.
    assert!(
        eventually(Duration::from_millis(1500), async || dns::resolve(
            dns_server,
            &private_name,
            false
        )
        .await
        .1
        .is_empty())
        .await,
        "a rejected endpoint's private name still resolves"
    );
    let mut buf = [0u8; 64];
    let cut = tokio::time::timeout(Duration::from_secs(5), live.read(&mut buf)).await;
    assert!(
        matches!(cut, Ok(Ok(0)) | Ok(Err(_))),
        "the live flow was not cut: {cut:?}"
    );
    assert!(
        eventually(Duration::from_secs(5), async || !matches!(http_get(endpoint, allowed_src).await, Ok((s, _)) if s.contains("200"))).await,
        "a rejected endpoint still carried new flows"
    );
    // The other (accepted) endpoint is unaffected.
    let (status, _) = http_get(second_addr, allowed_src).await.unwrap();
    assert!(status.contains("200"), "{status}");

    // Ctrl-C/SIGTERM stops cleanly; a second start reuses the state (same ids, same endpoints).
    let status = dev.terminate().expect("dev did not stop within 10 s");
    assert!(status.success(), "{status:?}");
    let dev = spawn(&dev_args, &[]);
    let again: Value =
        serde_json::from_str(&dev.line(Duration::from_secs(90))).expect("one JSON line");
    assert_eq!(again["endpoint_id"], info["endpoint_id"]);
    assert_eq!(again["service_id"], info["service_id"]);
    assert!(
        eventually(Duration::from_secs(20), async || matches!(http_get(second_addr, allowed_src).await, Ok((s, _)) if s.contains("200"))).await,
        "after a restart the accepted endpoint does not carry traffic"
    );
    drop(dev);
}
