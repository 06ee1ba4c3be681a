//! The kernel's segment counters of a TCP connection (`tcpi_segs_in` / `tcpi_segs_out` of
//! `struct tcp_info`), for the `packets` of flow records.
//!
//! `getsockopt(TCP_INFO)` needs `unsafe` (no small audited crate exposes it: `socket2` and
//! `rustix` do not, `nix` 0.32 does not), and this workspace forbids `unsafe`. The same
//! `tcp_info` is available through the `NETLINK_SOCK_DIAG` interface (`ss -ti` uses it): one
//! request naming the connection's 4-tuple, one answer carrying an `INET_DIAG_INFO` attribute.
//! The socket is opened through `socket2` (already in the tree, through tokio), and the messages
//! are built and parsed here as bytes; everything is safe code. Linux only; elsewhere, and on
//! any error, the counters are unknown (`None`) and records print `-`.
//!
//! The query runs inline (a send and a receive on a netlink socket kept per thread, a few
//! microseconds) once per flow end or live sample; the connection must still be open.

use std::net::{IpAddr, SocketAddr};
#[cfg(target_os = "linux")]
use std::time::Duration;

/// Segments (in, out) of the TCP connection from `local` to `peer`, or `None`.
pub(crate) fn segments(local: SocketAddr, peer: SocketAddr) -> Option<(u64, u64)> {
    #[cfg(target_os = "linux")]
    {
        query(local, peer).ok().flatten()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (local, peer);
        None
    }
}

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
/// `SOCK_DIAG_BY_FAMILY`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `INET_DIAG_INFO`: the attribute holding `struct tcp_info`.
const INET_DIAG_INFO: u16 = 2;
const NLMSG_HDR: usize = 16;
/// `struct inet_diag_msg`.
const DIAG_MSG: usize = 72;
/// Offsets of `tcpi_segs_out` and `tcpi_segs_in` in `struct tcp_info` (Linux ≥ 4.2, stable
/// ABI: 8 bytes of u8 fields, 24 u32, 4 u64).
const SEGS_OUT: usize = 136;
const SEGS_IN: usize = 140;

fn put_addr(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            out.extend_from_slice(&v4.octets());
            out.extend_from_slice(&[0; 12]);
        }
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
}

/// The `SOCK_DIAG_BY_FAMILY` request for one TCP connection, with `tcp_info` asked for.
fn request(local: SocketAddr, peer: SocketAddr, seq: u32) -> Vec<u8> {
    let family = if local.is_ipv4() { AF_INET } else { AF_INET6 };
    let mut m = Vec::with_capacity(NLMSG_HDR + 56);
    m.extend_from_slice(&((NLMSG_HDR + 56) as u32).to_ne_bytes());
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // struct inet_diag_req_v2
    m.extend_from_slice(&[family, IPPROTO_TCP, 1 << (INET_DIAG_INFO - 1), 0]);
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
                                                  // struct inet_diag_sockid: ports and addresses in network order.
    m.extend_from_slice(&local.port().to_be_bytes());
    m.extend_from_slice(&peer.port().to_be_bytes());
    put_addr(&mut m, local.ip());
    put_addr(&mut m, peer.ip());
    m.extend_from_slice(&0u32.to_ne_bytes()); // any interface
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // INET_DIAG_NOCOOKIE
    m.extend_from_slice(&u32::MAX.to_ne_bytes());
    m
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// What an answer says: `Some(Some(counters))`, `Some(None)` (an error or no such socket),
/// or `None` when the buffer holds no complete message of ours. A socket whose remote port is
/// not `peer_port` is not the connection: for a 4-tuple that is gone, the kernel's lookup falls
/// back to the listening socket of the local port.
fn parse(answer: &[u8], seq: u32, peer_port: u16) -> Option<Option<(u64, u64)>> {
    let mut at = 0;
    while at + NLMSG_HDR <= answer.len() {
        let len = usize::try_from(u32_at(answer, at)?).ok()?;
        let kind = u16_at(answer, at + 4)?;
        if len < NLMSG_HDR || at + len > answer.len() {
            return None;
        }
        let msg = &answer[at..at + len];
        if u32_at(msg, 8)? == seq {
            match kind {
                NLMSG_ERROR | NLMSG_DONE => return Some(None),
                SOCK_DIAG_BY_FAMILY => return Some(info(&msg[NLMSG_HDR..], peer_port)),
                _ => {}
            }
        }
        at += (len + 3) & !3;
    }
    None
}

/// The segment counters in the attributes after an `inet_diag_msg` (of a connection to
/// `peer_port`, not a listener).
fn info(body: &[u8], peer_port: u16) -> Option<(u64, u64)> {
    const TCP_LISTEN: u8 = 10;
    let state = *body.get(1)?;
    let dport = u16::from_be_bytes(body.get(6..8)?.try_into().ok()?);
    if state == TCP_LISTEN || dport != peer_port {
        return None;
    }
    let mut at = DIAG_MSG;
    while at + 4 <= body.len() {
        let len = usize::from(u16_at(body, at)?);
        let kind = u16_at(body, at + 2)?;
        if len < 4 || at + len > body.len() {
            return None;
        }
        if kind == INET_DIAG_INFO {
            let tcp_info = &body[at + 4..at + len];
            let out = u32_at(tcp_info, SEGS_OUT)?;
            let inn = u32_at(tcp_info, SEGS_IN)?;
            return Some((u64::from(inn), u64::from(out)));
        }
        at += (len + 3) & !3;
    }
    None
}

#[cfg(target_os = "linux")]
fn query(local: SocketAddr, peer: SocketAddr) -> std::io::Result<Option<(u64, u64)>> {
    use std::cell::RefCell;
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicU32, Ordering};

    use socket2::{Domain, Protocol, Socket, Type};

    const AF_NETLINK: i32 = 16;
    const NETLINK_SOCK_DIAG: i32 = 4;
    static SEQ: AtomicU32 = AtomicU32::new(1);
    thread_local! {
        // One netlink socket per thread, kept: a query is then two syscalls.
        static NETLINK: RefCell<Option<Socket>> = const { RefCell::new(None) };
    }

    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    NETLINK.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.is_none() {
            let socket = Socket::new(
                Domain::from(AF_NETLINK),
                Type::DGRAM,
                Some(Protocol::from(NETLINK_SOCK_DIAG)),
            )?;
            socket.set_read_timeout(Some(Duration::from_millis(200)))?;
            *cell = Some(socket);
        }
        let Some(socket) = cell.as_ref() else {
            return Ok(None);
        };
        let outcome = (|| {
            (&*socket).write_all(&request(local, peer, seq))?;
            let mut buf = [0u8; 2048];
            // Answers to earlier queries that timed out may come first: skip them by seq.
            for _ in 0..8 {
                let n = (&*socket).read(&mut buf)?;
                if let Some(found) = parse(&buf[..n], seq, peer.port()) {
                    return Ok(found);
                }
            }
            Ok(None)
        })();
        if outcome.is_err() {
            // A broken socket is replaced on the next query.
            *cell = None;
        }
        outcome
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_laid_out_as_the_kernel_expects() {
        let r = request(
            "127.20.1.4:8080".parse().unwrap(),
            "127.0.0.55:41000".parse().unwrap(),
            7,
        );
        assert_eq!(r.len(), 72);
        assert_eq!(u32_at(&r, 0), Some(72));
        assert_eq!(u16_at(&r, 4), Some(SOCK_DIAG_BY_FAMILY));
        assert_eq!(u32_at(&r, 8), Some(7));
        assert_eq!(&r[16..20], &[AF_INET, IPPROTO_TCP, 2, 0]);
        assert_eq!(&r[24..26], &8080u16.to_be_bytes());
        assert_eq!(&r[26..28], &41000u16.to_be_bytes());
        assert_eq!(&r[28..32], &[127, 20, 1, 4]);
        assert_eq!(&r[44..48], &[127, 0, 0, 55]);
    }

    fn answer(seq: u32, segs: Option<(u32, u32)>) -> Vec<u8> {
        let mut body = vec![0u8; DIAG_MSG];
        body[1] = 1; // TCP_ESTABLISHED
        body[6..8].copy_from_slice(&41000u16.to_be_bytes());
        if let Some((inn, out)) = segs {
            let mut ti = vec![0u8; 160];
            ti[SEGS_OUT..SEGS_OUT + 4].copy_from_slice(&out.to_ne_bytes());
            ti[SEGS_IN..SEGS_IN + 4].copy_from_slice(&inn.to_ne_bytes());
            // Another attribute first, as the kernel may send (INET_DIAG_MEMINFO).
            body.extend_from_slice(&8u16.to_ne_bytes());
            body.extend_from_slice(&1u16.to_ne_bytes());
            body.extend_from_slice(&[0; 4]);
            body.extend_from_slice(&((4 + ti.len()) as u16).to_ne_bytes());
            body.extend_from_slice(&INET_DIAG_INFO.to_ne_bytes());
            body.extend_from_slice(&ti);
        }
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDR + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn answers_are_parsed_defensively() {
        assert_eq!(
            parse(&answer(3, Some((9, 11))), 3, 41000),
            Some(Some((9, 11)))
        );
        assert_eq!(parse(&answer(3, None), 3, 41000), Some(None));
        assert_eq!(parse(&answer(4, Some((9, 11))), 3, 41000), None, "not ours");
        assert_eq!(
            parse(&answer(3, Some((9, 11))), 3, 41001),
            Some(None),
            "another connection (a listener answering for a closed one)"
        );
        let mut listener = answer(3, Some((9, 11)));
        listener[NLMSG_HDR + 1] = 10;
        assert_eq!(parse(&listener, 3, 41000), Some(None));
        let full = answer(3, Some((9, 11)));
        for cut in [0, 10, 20, 100, full.len() - 1] {
            assert!(
                matches!(parse(&full[..cut], 3, 41000), None | Some(None)),
                "truncated at {cut}"
            );
        }
        let mut err = Vec::new();
        err.extend_from_slice(&20u32.to_ne_bytes());
        err.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err.extend_from_slice(&0u16.to_ne_bytes());
        err.extend_from_slice(&3u32.to_ne_bytes());
        err.extend_from_slice(&0u32.to_ne_bytes());
        err.extend_from_slice(&(-2i32).to_ne_bytes());
        assert_eq!(parse(&err, 3, 41000), Some(None));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_real_connection_has_segments() {
        use std::io::{Read, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        c.write_all(b"hello").unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(b"world").unwrap();
        c.read_exact(&mut buf).unwrap();
        let (local, peer) = (s.local_addr().unwrap(), s.peer_addr().unwrap());
        let (inn, out) = segments(local, peer).expect("NETLINK_SOCK_DIAG answers on Linux");
        // SYN, ACK and the data segment in; SYN-ACK and the data out (at least).
        assert!(inn >= 3 && out >= 2, "in {inn} out {out}");
        assert_eq!(
            segments(local, "127.0.0.1:1".parse().unwrap()),
            None,
            "no such connection"
        );
    }
}
