//! Flow logs end to end through the built binary: `underpass dev` turns them on for both VPCs;
//! a request through the endpoint becomes ACCEPT records on the consumer's endpoint ENI and on
//! the provider's load-balancer node, with the right addresses, ports and byte counts; a
//! connection the security group refuses becomes a REJECT record (RELIABILITY item 94). The
//! objects are gzip text in AWS's S3 layout, every line one record (item 96).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{eventually, free_port, spawn, sub};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use underpass_auth::credentials::SecretAccessKey;
use underpass_cli::{Client, Credentials};
use underpass_flowlogs::{decode_text, Action, FlowRecord};

const REQUEST: &[u8] = b"GET / HTTP/1.0\r\nHost: flow-logs\r\n\r\n";

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

/// One HTTP request from `from`: (client address, bytes sent, bytes received, status line).
async fn request(
    to: SocketAddr,
    from: IpAddr,
) -> std::io::Result<(SocketAddr, usize, usize, String)> {
    let attempt = async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(from, 0))?;
        let mut s = socket.connect(to).await?;
        let local = s.local_addr()?;
        s.write_all(REQUEST).await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        let status = String::from_utf8_lossy(&buf)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        Ok((local, REQUEST.len(), buf.len(), status))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .map_err(|_| std::io::Error::other("timed out"))?
}

/// Every object under `dir`: (path relative to it, records). Each must decode whole.
fn objects(dir: &Path) -> Vec<(String, Vec<FlowRecord>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p: PathBuf = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue; // a temporary file being written right now
            }
            let bytes = std::fs::read(&p).unwrap();
            let (_, records) = decode_text(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
            // One record per line, after the header (RELIABILITY item 96).
            let mut text = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
                .unwrap();
            assert_eq!(text.lines().count(), records.len() + 1, "{rel}");
            out.push((rel, records));
        }
    }
    out
}

/// Reads one HTTP/1.1 response (headers and a `content-length` body); returns its length.
async fn read_response(s: &mut tokio::net::TcpStream) -> usize {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed mid-response");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_lowercase();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf.len();
            }
        }
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_and_refusals_become_flow_records() {
    let dir = tempfile::tempdir().unwrap();
    let data = sub(dir.path(), "dev");
    let port = free_port().to_string();
    let dns_port = free_port().to_string();
    let dev = spawn(
        &[
            "dev",
            "--data-dir",
            &data,
            "--json",
            "--tunnel-port",
            &port,
            "--dns-port",
            &dns_port,
            "--flow-log-interval-secs",
            "2",
        ],
        &[],
    );
    let info: Value =
        serde_json::from_str(&dev.line(Duration::from_secs(90))).expect("one JSON line");
    let flow_dir = PathBuf::from(info["flow_log_dir"].as_str().expect("flow_log_dir"));
    assert_eq!(flow_dir, Path::new(&data).join("flow-logs"));
    let endpoint: SocketAddr = info["endpoint_address"].as_str().unwrap().parse().unwrap();
    let consumer = client(&info, "consumer");
    let provider = client(&info, "provider");

    // Both VPCs have a flow log on the file destination.
    for (c, vpc) in [
        (&consumer, info["consumer_vpc_id"].as_str().unwrap()),
        (&provider, info["provider_vpc_id"].as_str().unwrap()),
    ] {
        let d = c.call("DescribeFlowLogs", &json!({})).await.unwrap();
        let f = &d["FlowLogs"][0];
        assert_eq!(f["ResourceId"], vpc, "{d}");
        assert_eq!(f["LogDestinationType"], "file");
        assert_eq!(f["TrafficType"], "ALL");
        assert_eq!(f["MaxAggregationInterval"], 60);
    }
    let ep = consumer
        .call(
            "DescribeVpcEndpoints",
            &json!({"VpcEndpointIds": [info["endpoint_id"]]}),
        )
        .await
        .unwrap();
    let ep0 = &ep["VpcEndpoints"][0];
    let endpoint_eni = ep0["NetworkInterfaceIds"][0].as_str().unwrap().to_owned();
    let nodes = provider
        .call("DescribeNetworkInterfaces", &json!({}))
        .await
        .unwrap();
    let node = &nodes["NetworkInterfaces"][0];
    let node_eni = node["NetworkInterfaceId"].as_str().unwrap().to_owned();
    let node_ip = ip(node["PrivateIpAddress"].as_str().unwrap());

    // A request through the endpoint from a source of its own.
    let (client_addr, sent, received, status) = request(endpoint, ip("127.0.0.55")).await.unwrap();
    assert!(status.contains("200"), "{status}");

    // A long flow: two requests on one connection, windows apart.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(ip("127.0.0.56"), 0)).unwrap();
    let mut long = socket.connect(endpoint).await.unwrap();
    let long_addr = long.local_addr().unwrap();
    let keep = b"GET / HTTP/1.1\r\nHost: flow-logs\r\n\r\n";
    long.write_all(keep).await.unwrap();
    let mut long_received = read_response(&mut long).await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    long.write_all(keep).await.unwrap();
    long_received += read_response(&mut long).await;
    long.shutdown().await.unwrap();
    let mut rest = Vec::new();
    long.read_to_end(&mut rest).await.unwrap();
    long_received += rest.len();
    let long_sent = 2 * keep.len();

    // The security group now admits 127.0.0.9 only: a client from 127.0.0.66 is refused.
    let sg = ep0["Groups"][0]["GroupId"].as_str().unwrap();
    common::admit_only(&consumer, sg, endpoint.port(), "127.0.0.9/32").await;
    assert!(
        eventually(Duration::from_secs(10), async || {
            !matches!(request(endpoint, ip("127.0.0.66")).await, Ok((_, _, _, s)) if s.contains("200"))
        })
        .await,
        "the refused client still got through"
    );

    // SIGUSR1 flushes at once (the 2 s interval would too).
    let pid = dev.child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-USR1", &pid])
        .status();

    let consumer_acct = "222222222222";
    let provider_acct = "111111111111";
    let mut records: Vec<FlowRecord> = Vec::new();
    let found = eventually(Duration::from_secs(30), async || {
        records = objects(&flow_dir)
            .into_iter()
            .flat_map(|(_, r)| r)
            .collect();
        let ok = |r: &&FlowRecord| r.action == Some(Action::Accept);
        let has = |iface: &str, dir: &str, pred: &dyn Fn(&FlowRecord) -> bool| {
            records.iter().filter(ok).any(|r| {
                r.interface_id.as_deref() == Some(iface)
                    && r.flow_direction.as_deref() == Some(dir)
                    && pred(r)
            })
        };
        let consumer_in = has(&endpoint_eni, "ingress", &|r| {
            r.srcport == Some(client_addr.port()) && r.srcaddr == Some(client_addr.ip())
        });
        let provider_in = has(&node_eni, "ingress", &|r| {
            r.pkt_srcaddr == Some(client_addr.ip()) && r.bytes == Some(sent as u64)
        });
        let rejected = records
            .iter()
            .any(|r| r.action == Some(Action::Reject) && r.srcaddr == Some(ip("127.0.0.66")));
        let long_in: u64 = records
            .iter()
            .filter(|r| {
                r.srcaddr == Some(long_addr.ip())
                    && r.srcport == Some(long_addr.port())
                    && r.interface_id.as_deref() == Some(endpoint_eni.as_str())
            })
            .filter_map(|r| r.bytes)
            .sum();
        consumer_in && provider_in && rejected && long_in == long_sent as u64
    })
    .await;
    assert!(found, "records missing: {records:#?}");

    // The consumer's endpoint ENI: the client's request in, the answer out.
    let find = |iface: &str, dir: &str, pred: &dyn Fn(&FlowRecord) -> bool| -> FlowRecord {
        records
            .iter()
            .find(|r| {
                r.interface_id.as_deref() == Some(iface)
                    && r.flow_direction.as_deref() == Some(dir)
                    && pred(r)
            })
            .unwrap_or_else(|| panic!("no {dir} record on {iface}"))
            .clone()
    };
    let ci = find(&endpoint_eni, "ingress", &|r| {
        r.srcport == Some(client_addr.port()) && r.action == Some(Action::Accept)
    });
    assert_eq!(ci.account_id.as_deref(), Some(consumer_acct));
    assert_eq!(ci.srcaddr, Some(client_addr.ip()));
    assert_eq!(ci.dstaddr, Some(endpoint.ip()));
    assert_eq!(ci.dstport, Some(endpoint.port()));
    assert_eq!(ci.protocol, Some(6));
    assert_eq!(ci.bytes, Some(sent as u64));
    assert_eq!(ci.vpc_id.as_deref(), info["consumer_vpc_id"].as_str());
    assert_eq!(ci.region.as_deref(), Some("us-east-1"));
    assert_eq!(ci.az_id.as_deref(), Some("us-east-1a"));
    assert_eq!(ci.traffic_type.as_deref(), Some("IPv4"));
    assert_eq!(ci.tcp_flags.map(|f| f & 2), Some(2), "SYN in: {ci:?}");
    // The kernel's segment counters: SYN, ACK and the request at least.
    assert!(ci.packets.is_some_and(|p| p >= 3), "packets: {ci:?}");
    assert!(ci.start.unwrap() <= ci.end.unwrap());
    let co = find(&endpoint_eni, "egress", &|r| {
        r.dstport == Some(client_addr.port()) && r.action == Some(Action::Accept)
    });
    assert_eq!(co.srcaddr, Some(endpoint.ip()));
    assert_eq!(co.srcport, Some(endpoint.port()));
    assert_eq!(co.dstaddr, Some(client_addr.ip()));
    assert_eq!(co.bytes, Some(received as u64));
    assert_eq!(
        co.tcp_flags.map(|f| f & 18),
        Some(18),
        "SYN-ACK out: {co:?}"
    );
    assert!(co.packets.is_some_and(|p| p >= 2), "packets: {co:?}");

    // The provider's node: the same flow, from the consumer agent's tunnel, for that client.
    let pi = find(&node_eni, "ingress", &|r| {
        r.pkt_srcaddr == Some(client_addr.ip()) && r.action == Some(Action::Accept)
    });
    assert_eq!(pi.account_id.as_deref(), Some(provider_acct));
    assert_eq!(pi.dstaddr, Some(node_ip));
    assert_eq!(pi.dstport, Some(port.parse::<u16>().unwrap()));
    assert_eq!(pi.bytes, Some(sent as u64));
    // The flow was a stream of the multiplexed tunnel (the agents' default): it has no TCP
    // connection of its own, so no segment count; its source port is the client's.
    assert_eq!(pi.packets, None, "{pi:?}");
    assert_eq!(pi.srcport, Some(client_addr.port()));
    assert_eq!(pi.vpc_id.as_deref(), info["provider_vpc_id"].as_str());
    let po = find(&node_eni, "egress", &|r| {
        r.pkt_dstaddr == Some(client_addr.ip()) && r.action == Some(Action::Accept)
    });
    assert_eq!(po.bytes, Some(received as u64));
    assert_eq!(po.srcaddr, Some(node_ip));

    // The long flow: its bytes in the windows they moved in, SYN in the first, FIN in the last;
    // both directions add up to what the client sent and received.
    let mut long_in: Vec<&FlowRecord> = records
        .iter()
        .filter(|r| {
            r.interface_id.as_deref() == Some(endpoint_eni.as_str())
                && r.srcaddr == Some(long_addr.ip())
                && r.srcport == Some(long_addr.port())
        })
        .collect();
    long_in.sort_by_key(|r| r.start);
    assert!(long_in.len() >= 2, "one record per window: {long_in:#?}");
    let sum = |rs: &[&FlowRecord]| rs.iter().filter_map(|r| r.bytes).sum::<u64>();
    assert_eq!(sum(&long_in), long_sent as u64);
    assert!(long_in[0].bytes.unwrap() > 0 && long_in[long_in.len() - 1].bytes.unwrap() > 0);
    assert_eq!(
        long_in[0].tcp_flags.unwrap() & 2,
        2,
        "SYN first: {long_in:#?}"
    );
    assert!(long_in[1..].iter().all(|r| r.tcp_flags.unwrap() & 2 == 0));
    assert_eq!(
        long_in[long_in.len() - 1].tcp_flags.unwrap() & 1,
        1,
        "FIN last"
    );
    assert!(long_in.windows(2).all(|w| w[0].end <= w[1].start));
    assert!(
        long_in.iter().all(|r| r.packets.is_some_and(|p| p > 0)),
        "{long_in:#?}"
    );
    let long_out: Vec<&FlowRecord> = records
        .iter()
        .filter(|r| {
            r.interface_id.as_deref() == Some(endpoint_eni.as_str())
                && r.dstaddr == Some(long_addr.ip())
                && r.dstport == Some(long_addr.port())
        })
        .collect();
    assert_eq!(sum(&long_out), long_received as u64);

    // The refusal: a REJECT on the endpoint ENI, inbound only, nothing reached the provider.
    let rej: Vec<&FlowRecord> = records
        .iter()
        .filter(|r| r.action == Some(Action::Reject))
        .collect();
    assert!(!rej.is_empty());
    for r in &rej {
        assert_eq!(r.interface_id.as_deref(), Some(endpoint_eni.as_str()));
        assert_eq!(r.srcaddr, Some(ip("127.0.0.66")));
        assert_eq!(r.dstport, Some(endpoint.port()));
        assert_eq!(r.flow_direction.as_deref(), Some("ingress"));
    }
    assert!(!records
        .iter()
        .any(|r| r.interface_id.as_deref() == Some(node_eni.as_str())
            && r.pkt_srcaddr == Some(ip("127.0.0.66"))
            && r.action == Some(Action::Reject)));

    // AWS's layout: <dest>/AWSLogs/<account>/vpcflowlogs/<region>/<yyyy>/<mm>/<dd>/<file>.
    for (path, _) in objects(&flow_dir) {
        let parts: Vec<&str> = path.split('/').collect();
        assert_eq!(parts.len(), 9, "{path}");
        assert_eq!(parts[..2], ["dev", "AWSLogs"], "{path}");
        assert!([consumer_acct, provider_acct].contains(&parts[2]), "{path}");
        assert_eq!(parts[3..5], ["vpcflowlogs", "us-east-1"], "{path}");
        let file = parts[8];
        let prefix = format!("{}_vpcflowlogs_us-east-1_fl-", parts[2]);
        assert!(
            file.starts_with(&prefix) && file.ends_with(".log.gz"),
            "{path}"
        );
        assert!(
            file.contains(&format!("_{}{}{}T", parts[5], parts[6], parts[7])),
            "{path}"
        );
    }

    // A flow log the agents cannot deliver (an S3 bucket, and `underpass dev`'s agents have no
    // S3 settings): its records stay spooled, the agent says so in its health reports, and
    // DescribeFlowLogs shows FAILED with EC2's message; the file flow log stays SUCCESS.
    let created = consumer
        .call(
            "CreateFlowLogs",
            &json!({"ResourceIds": [info["consumer_vpc_id"]], "ResourceType": "VPC",
                    "TrafficType": "ALL", "LogDestinationType": "s3",
                    "LogDestination": "arn:aws:s3:::no-settings-bucket"}),
        )
        .await
        .unwrap();
    let s3_log = created["FlowLogIds"][0].as_str().unwrap().to_owned();
    let failed = eventually(Duration::from_secs(60), async || {
        let d = consumer.call("DescribeFlowLogs", &json!({})).await.unwrap();
        let logs = d["FlowLogs"].as_array().unwrap();
        let status = |id: &str| {
            logs.iter().find(|f| f["FlowLogId"] == id).map(|f| {
                (
                    f["DeliverLogsStatus"].clone(),
                    f["DeliverLogsErrorMessage"].clone(),
                )
            })
        };
        let others_ok = logs
            .iter()
            .filter(|f| f["FlowLogId"] != s3_log.as_str())
            .all(|f| f["DeliverLogsStatus"] == "SUCCESS");
        others_ok && status(&s3_log) == Some((json!("FAILED"), json!("Access error")))
    })
    .await;
    assert!(failed, "the S3 flow log never showed FAILED");
    let by_status = consumer
        .call(
            "DescribeFlowLogs",
            &json!({"Filter": [{"Name": "deliver-log-status", "Values": ["FAILED"]}]}),
        )
        .await
        .unwrap();
    assert_eq!(by_status["FlowLogs"].as_array().unwrap().len(), 1);
    assert_eq!(by_status["FlowLogs"][0]["FlowLogId"], s3_log.as_str());
}
