//! A stub client: one question to one server, over UDP with a fresh random id from a fresh
//! socket (the OS picks a random port), connected so only the server's datagrams count; a reply
//! with another id or question is ignored, not taken (RELIABILITY item 81). A truncated reply
//! is asked again over TCP. The forwarder and the TXT verifier use it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::Query as Question;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{timeout_at, Instant};

use crate::answer::{check_reply, query_message};

/// Why an exchange gave no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Nothing (acceptable) arrived in time.
    #[error("no answer from {0} in time")]
    Timeout(SocketAddr),
    /// A socket error.
    #[error("{server}: {detail}")]
    Io {
        /// The server.
        server: SocketAddr,
        /// The error.
        detail: String,
    },
    /// The question could not be encoded, or the reply over TCP was not a reply to it.
    #[error("{0}")]
    Malformed(String),
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    // A failed random generator leaves zeros: the question check still guards the reply.
    let _ = aws_lc_rs::rand::fill(&mut b);
    u16::from_be_bytes(b)
}

/// Asks `server` the `question` and returns the raw reply (checked: a response to this id and
/// question), within `wait`.
pub async fn exchange(
    server: SocketAddr,
    question: &Question,
    wait: Duration,
) -> Result<Vec<u8>, ClientError> {
    let deadline = Instant::now() + wait;
    let id = random_id();
    let msg = query_message(id, question).map_err(|e| ClientError::Malformed(e.to_string()))?;
    let io = |e: std::io::Error| ClientError::Io {
        server,
        detail: e.to_string(),
    };
    let local: SocketAddr = match server.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local).await.map_err(io)?;
    sock.connect(server).await.map_err(io)?;
    sock.send(&msg).await.map_err(io)?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = match timeout_at(deadline, sock.recv(&mut buf)).await {
            Err(_) => return Err(ClientError::Timeout(server)),
            Ok(Err(e)) => return Err(io(e)),
            Ok(Ok(n)) => n,
        };
        let reply = &buf[..n];
        if check_reply(reply, question) != Ok(id) {
            tracing::debug!(%server, "ignored a datagram that does not answer our query");
            continue;
        }
        if reply[2] & 0x02 != 0 {
            return exchange_tcp(server, question, deadline).await;
        }
        return Ok(reply.to_vec());
    }
}

/// The same question over TCP (after a truncated UDP reply).
pub async fn exchange_tcp(
    server: SocketAddr,
    question: &Question,
    deadline: Instant,
) -> Result<Vec<u8>, ClientError> {
    let id = random_id();
    let msg = query_message(id, question).map_err(|e| ClientError::Malformed(e.to_string()))?;
    let io = |e: std::io::Error| ClientError::Io {
        server,
        detail: e.to_string(),
    };
    let work = async {
        let mut s = TcpStream::connect(server).await.map_err(io)?;
        let len = u16::try_from(msg.len()).map_err(|_| ClientError::Malformed("query".into()))?;
        let mut framed = len.to_be_bytes().to_vec();
        framed.extend_from_slice(&msg);
        s.write_all(&framed).await.map_err(io)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.map_err(io)?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut reply).await.map_err(io)?;
        match check_reply(&reply, question) {
            Ok(got) if got == id => Ok(reply),
            _ => Err(ClientError::Malformed(format!(
                "{server} answered another question over TCP"
            ))),
        }
    };
    timeout_at(deadline, work)
        .await
        .map_err(|_| ClientError::Timeout(server))?
}

/// The name servers of `/etc/resolv.conf` (port 53), without `exclude`; empty if none.
pub fn system_resolvers(exclude: &[SocketAddr]) -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    parse_resolv_conf(&text)
        .into_iter()
        .filter(|a| !exclude.contains(a))
        .collect()
}

/// The `nameserver` lines of a resolv.conf text.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            match (words.next(), words.next()) {
                (Some("nameserver"), Some(ip)) => ip.parse::<IpAddr>().ok(),
                _ => None,
            }
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}
