//! PROXY protocol version 2: the binary header a proxy puts before a relayed stream so the
//! receiver learns the original client address, plus TLVs such as AWS's VPC endpoint id (0xEA).
//!
//! Written from the protocol specification (HAProxy's `doc/proxy-protocol.txt`). The parser is
//! strict: every value the specification says to reject is rejected, no byte outside the
//! header the length field announces is ever read, and a header that parses re-encodes to the
//! same bytes. Whether to *accept* PROXY bytes at all is the caller's decision, made from
//! configuration and peer authentication, never from [`detect`] alone.

mod codec;
mod tlv;

#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use underpass_domain::EndpointId;

pub use codec::parse_proxy_v2;
pub use tlv::{kind, Tlv, AWS_SUBTYPE_VPCE_ID, MAX_UNIQUE_ID_LEN};

/// The 12 bytes every version 2 header starts with.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The first bytes of a version 1 (text) header, with the space that always follows.
pub const V1_PREFIX: &[u8; 6] = b"PROXY ";

/// The fixed part of a version 2 header: signature, version/command, family/protocol, length.
pub const FIXED_LEN: usize = 16;

/// The longest possible version 2 header: the fixed part plus a 16-bit length.
pub const MAX_HEADER_LEN: usize = FIXED_LEN + u16::MAX as usize;

/// The length of one AF_UNIX address in the address block.
pub const UNIX_ADDR_LEN: usize = 108;

/// What the connection is, in the sender's words (the low nibble of byte 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// The proxy opened the connection itself (a health check); the addresses are to be ignored.
    Local,
    /// The connection is relayed on behalf of the client named in the address block.
    Proxy,
}

/// The relayed connection's transport protocol (the low nibble of byte 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Unknown or unspecified; only valid with [`Addresses::Unspec`].
    Unspec,
    /// A stream protocol: TCP, or a UNIX stream socket.
    Stream,
    /// A datagram protocol: UDP, or a UNIX datagram socket.
    Datagram,
}

/// The address block: the relayed connection's source and destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addresses {
    /// No address information (AF_UNSPEC).
    Unspec,
    /// IPv4 addresses and ports.
    Ipv4 {
        /// The client's address.
        src: Ipv4Addr,
        /// The address the client connected to.
        dst: Ipv4Addr,
        /// The client's port.
        src_port: u16,
        /// The port the client connected to.
        dst_port: u16,
    },
    /// IPv6 addresses and ports.
    Ipv6 {
        /// The client's address.
        src: Ipv6Addr,
        /// The address the client connected to.
        dst: Ipv6Addr,
        /// The client's port.
        src_port: u16,
        /// The port the client connected to.
        dst_port: u16,
    },
    /// AF_UNIX socket paths, 108 raw bytes each (kept so that a header round-trips).
    Unix {
        /// The client's socket path bytes.
        src: Box<[u8; UNIX_ADDR_LEN]>,
        /// The server's socket path bytes.
        dst: Box<[u8; UNIX_ADDR_LEN]>,
    },
}

impl Addresses {
    /// IP addresses for a relayed TCP/UDP flow; a v4/v6 mix is carried as v4-mapped IPv6.
    pub fn from_sockets(src: SocketAddr, dst: SocketAddr) -> Self {
        match (src, dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => Self::Ipv4 {
                src: *s.ip(),
                dst: *d.ip(),
                src_port: s.port(),
                dst_port: d.port(),
            },
            _ => Self::Ipv6 {
                src: to_v6(src),
                dst: to_v6(dst),
                src_port: src.port(),
                dst_port: dst.port(),
            },
        }
    }

    /// The client's socket address, for the IP families.
    pub fn source(&self) -> Option<SocketAddr> {
        match *self {
            Self::Ipv4 { src, src_port, .. } => Some(SocketAddr::from((src, src_port))),
            Self::Ipv6 { src, src_port, .. } => Some(SocketAddr::from((src, src_port))),
            Self::Unspec | Self::Unix { .. } => None,
        }
    }

    /// The socket address the client connected to, for the IP families.
    pub fn destination(&self) -> Option<SocketAddr> {
        match *self {
            Self::Ipv4 { dst, dst_port, .. } => Some(SocketAddr::from((dst, dst_port))),
            Self::Ipv6 { dst, dst_port, .. } => Some(SocketAddr::from((dst, dst_port))),
            Self::Unspec | Self::Unix { .. } => None,
        }
    }

    /// The number of bytes this block takes on the wire.
    pub fn wire_len(&self) -> usize {
        match self {
            Self::Unspec => 0,
            Self::Ipv4 { .. } => 12,
            Self::Ipv6 { .. } => 36,
            Self::Unix { .. } => 2 * UNIX_ADDR_LEN,
        }
    }
}

fn to_v6(addr: SocketAddr) -> Ipv6Addr {
    match addr {
        SocketAddr::V4(a) => a.ip().to_ipv6_mapped(),
        SocketAddr::V6(a) => *a.ip(),
    }
}

/// A decoded PROXY protocol version 2 header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyHeader {
    /// LOCAL (health check) or PROXY (relayed).
    pub command: Command,
    /// The relayed connection's transport; must agree with `addresses` (see [`EncodeError`]).
    pub transport: Transport,
    /// The relayed connection's endpoints.
    pub addresses: Addresses,
    /// The TLVs after the address block, in wire order.
    pub tlvs: Vec<Tlv>,
}

impl ProxyHeader {
    /// A LOCAL header with no addresses and no TLVs, as a proxy's health check sends it.
    pub fn local() -> Self {
        Self {
            command: Command::Local,
            transport: Transport::Unspec,
            addresses: Addresses::Unspec,
            tlvs: Vec::new(),
        }
    }

    /// A PROXY header for a relayed TCP connection from `src` to `dst`, with no TLVs.
    pub fn tcp(src: SocketAddr, dst: SocketAddr) -> Self {
        Self {
            command: Command::Proxy,
            transport: Transport::Stream,
            addresses: Addresses::from_sockets(src, dst),
            tlvs: Vec::new(),
        }
    }

    /// Adds AWS's VPC endpoint id TLV (type 0xEA, subtype 0x01), as an NLB behind PrivateLink does.
    pub fn with_vpce_id(mut self, id: EndpointId) -> Self {
        self.tlvs.push(Tlv::aws_vpce_id(id));
        self
    }

    /// The first TLV of type `kind`, if any.
    pub fn tlv(&self, kind: u8) -> Option<&Tlv> {
        self.tlvs.iter().find(|t| t.kind == kind)
    }

    /// The VPC endpoint id from the AWS TLV; a parsed header carries at most one.
    pub fn vpce_id(&self) -> Option<EndpointId> {
        self.tlvs.iter().find_map(Tlv::as_aws_vpce_id)
    }

    /// The AUTHORITY TLV (the client's TLS SNI host name), if present and valid UTF-8.
    pub fn authority(&self) -> Option<&str> {
        self.tlv(kind::AUTHORITY)
            .and_then(|t| std::str::from_utf8(&t.value).ok())
    }

    /// The ALPN TLV's raw bytes, if present.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.tlv(kind::ALPN).map(|t| t.value.as_slice())
    }

    /// The UNIQUE_ID TLV's bytes (at most 128), if present.
    pub fn unique_id(&self) -> Option<&[u8]> {
        self.tlv(kind::UNIQUE_ID).map(|t| t.value.as_slice())
    }

    /// Whether the header carries (and, once parsed, passed) a CRC32C checksum.
    pub fn has_crc32c(&self) -> bool {
        self.tlv(kind::CRC32C).is_some()
    }
}

/// Why a header could not be encoded: it would be refused by [`parse_proxy_v2`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The transport does not fit the address family (UNSPEC goes only with UNSPEC).
    #[error("transport {transport:?} cannot carry {family} addresses")]
    TransportMismatch {
        /// The header's transport.
        transport: Transport,
        /// The header's address family.
        family: &'static str,
    },
    /// Addresses and TLVs exceed the 65535 bytes the length field can describe.
    #[error("header body of {len} bytes exceeds the 65535-byte limit")]
    TooLong {
        /// The body length the header would need.
        len: usize,
    },
    /// A TLV breaks a rule the parser enforces (duplicate, bad AWS endpoint id, …).
    #[error("TLV type {kind:#04x} would be refused by a receiver: {reason}")]
    InvalidTlv {
        /// The TLV's type.
        kind: u8,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// What the first bytes of a connection look like; see [`detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    /// The 12-byte version 2 signature.
    V2,
    /// The version 1 text prefix `PROXY `.
    V1,
    /// Neither: these bytes are not a PROXY protocol header.
    NotProxy,
    /// Too few bytes to tell: what arrived is a prefix of a signature.
    NeedMore,
}

/// Classifies the first bytes of a stream that is *configured* to start with a PROXY header.
///
/// This never decides whether PROXY bytes are trusted: on a listener that does not expect a
/// header, bytes that look like one are plain payload (a client cannot spoof its address).
pub fn detect(buf: &[u8]) -> Detection {
    for (signature, found) in [
        (&SIGNATURE[..], Detection::V2),
        (&V1_PREFIX[..], Detection::V1),
    ] {
        let n = buf.len().min(signature.len());
        if buf[..n] == signature[..n] {
            return if n == signature.len() {
                found
            } else {
                Detection::NeedMore
            };
        }
    }
    Detection::NotProxy
}
