//! DNS from the outside, as a client on the host sees it: one question over UDP or TCP to a
//! VPC resolver (hickory-proto's wire format), and curl by name.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Asks `server` for the A records of `name`: (rcode, addresses); (255, []) when nothing came.
pub(crate) async fn resolve(server: SocketAddr, name: &str, tcp: bool) -> (u8, Vec<IpAddr>) {
    let mut qname = Name::from_ascii(name).expect("a name");
    qname.set_fqdn(true);
    let mut m = Message::new(0x5151, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(qname, RecordType::A));
    let q = m.to_vec().expect("encodes");
    let attempt = async {
        if tcp {
            let mut s = tokio::net::TcpStream::connect(server).await.ok()?;
            let mut framed = u16::try_from(q.len()).ok()?.to_be_bytes().to_vec();
            framed.extend_from_slice(&q);
            s.write_all(&framed).await.ok()?;
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await.ok()?;
            let mut r = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut r).await.ok()?;
            Some(r)
        } else {
            let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
            s.connect(server).await.ok()?;
            s.send(&q).await.ok()?;
            let mut r = vec![0u8; 4096];
            let n = s.recv(&mut r).await.ok()?;
            r.truncate(n);
            Some(r)
        }
    };
    let Ok(Some(bytes)) = tokio::time::timeout(Duration::from_secs(5), attempt).await else {
        return (255, vec![]);
    };
    let Ok(reply) = Message::from_vec(&bytes) else {
        return (254, vec![]);
    };
    let addrs = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect();
    (reply.metadata.response_code.low(), addrs)
}

/// GET http://name:port/ connecting to `ip` (what a resolver gave): with curl when installed,
/// else a plain HTTP/1.0 request with the name as Host. Returns the response, or the failure.
pub(crate) async fn curl_by_name(name: &str, ip: IpAddr, port: u16) -> String {
    let url = format!("http://{name}:{port}/");
    let resolve = format!("{name}:{port}:{ip}");
    if let Ok(out) = tokio::process::Command::new("curl")
        .args(["-s", "--max-time", "5", "--resolve", &resolve, &url])
        .output()
        .await
    {
        return String::from_utf8_lossy(&out.stdout).into_owned();
    }
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect((ip, port)).await?;
        s.write_all(format!("GET / HTTP/1.0\r\nHost: {name}\r\n\r\n").as_bytes())
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf).into_owned())
    };
    match tokio::time::timeout(Duration::from_secs(5), attempt).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".into(),
    }
}
