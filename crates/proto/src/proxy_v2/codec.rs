//! Parsing and encoding of version 2 headers.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::tlv::{kind, TlvRules};
use super::{
    Addresses, Command, EncodeError, ProxyHeader, Tlv, Transport, FIXED_LEN, SIGNATURE,
    UNIX_ADDR_LEN,
};
use crate::crc32c::Crc32c;
use crate::ParseError;

/// Protocol version 2 in the high nibble of byte 13.
const VERSION_2: u8 = 0x20;

/// The address family in the high nibble of byte 14.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Unspec,
    Inet,
    Inet6,
    Unix,
}

impl Family {
    fn addr_len(self) -> usize {
        match self {
            Self::Unspec => 0,
            Self::Inet => 12,
            Self::Inet6 => 36,
            Self::Unix => 2 * UNIX_ADDR_LEN,
        }
    }
}

/// Byte 13: version 2 and LOCAL or PROXY; anything else is refused.
fn decode_version_command(byte: u8) -> Result<Command, ParseError> {
    if byte & 0xF0 != VERSION_2 {
        return Err(ParseError::Invalid("PROXY protocol version is not 2"));
    }
    match byte & 0x0F {
        0x0 => Ok(Command::Local),
        0x1 => Ok(Command::Proxy),
        _ => Err(ParseError::Invalid("unknown PROXY v2 command")),
    }
}

/// Byte 14: one of the seven family/protocol pairs the specification defines.
fn decode_family_transport(byte: u8) -> Result<(Family, Transport), ParseError> {
    Ok(match byte {
        0x00 => (Family::Unspec, Transport::Unspec),
        0x11 => (Family::Inet, Transport::Stream),
        0x12 => (Family::Inet, Transport::Datagram),
        0x21 => (Family::Inet6, Transport::Stream),
        0x22 => (Family::Inet6, Transport::Datagram),
        0x31 => (Family::Unix, Transport::Stream),
        0x32 => (Family::Unix, Transport::Datagram),
        _ => {
            return Err(ParseError::Invalid(
                "unknown PROXY v2 address family or transport",
            ))
        }
    })
}

/// Parses one version 2 header from the start of `buf`; returns it and the bytes it took.
///
/// Every byte that has arrived is checked before asking for more, so garbage is refused
/// as soon as it is seen. `Incomplete { needed }` is exact once the fixed 16 bytes are in.
pub fn parse_proxy_v2(buf: &[u8]) -> Result<(ProxyHeader, usize), ParseError> {
    let seen = buf.len().min(SIGNATURE.len());
    if buf[..seen] != SIGNATURE[..seen] {
        return Err(ParseError::Invalid("not a PROXY v2 signature"));
    }
    let command = buf
        .get(12)
        .map(|&b| decode_version_command(b))
        .transpose()?;
    let family = buf
        .get(13)
        .map(|&b| decode_family_transport(b))
        .transpose()?;
    let (Some(command), Some((family, transport)), Some(&[hi, lo])) =
        (command, family, buf.get(14..16))
    else {
        return Err(ParseError::Incomplete {
            needed: FIXED_LEN - buf.len(),
        });
    };
    let body_len = usize::from(u16::from_be_bytes([hi, lo]));
    if body_len < family.addr_len() {
        return Err(ParseError::Invalid(
            "PROXY v2 length is shorter than the address block",
        ));
    }
    let total = FIXED_LEN + body_len;
    let Some(header) = buf.get(..total) else {
        return Err(ParseError::Incomplete {
            needed: total - buf.len(),
        });
    };
    let (addr, tlv_bytes) = header[FIXED_LEN..].split_at(family.addr_len());
    let addresses = decode_addresses(family, addr)?;
    let (tlvs, crc_at) = decode_tlvs(tlv_bytes, FIXED_LEN + addr.len())?;
    if let Some(at) = crc_at {
        verify_crc32c(header, at)?;
    }
    Ok((
        ProxyHeader {
            command,
            transport,
            addresses,
            tlvs,
        },
        total,
    ))
}

/// Decodes an address block whose length already matches `family`.
fn decode_addresses(family: Family, addr: &[u8]) -> Result<Addresses, ParseError> {
    const SHORT: ParseError = ParseError::Invalid("PROXY v2 address block is truncated");
    Ok(match family {
        Family::Unspec => Addresses::Unspec,
        Family::Inet => {
            let a: [u8; 12] = addr.try_into().map_err(|_| SHORT)?;
            Addresses::Ipv4 {
                src: Ipv4Addr::new(a[0], a[1], a[2], a[3]),
                dst: Ipv4Addr::new(a[4], a[5], a[6], a[7]),
                src_port: u16::from_be_bytes([a[8], a[9]]),
                dst_port: u16::from_be_bytes([a[10], a[11]]),
            }
        }
        Family::Inet6 => {
            let a: [u8; 36] = addr.try_into().map_err(|_| SHORT)?;
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            src.copy_from_slice(&a[..16]);
            dst.copy_from_slice(&a[16..32]);
            Addresses::Ipv6 {
                src: Ipv6Addr::from(src),
                dst: Ipv6Addr::from(dst),
                src_port: u16::from_be_bytes([a[32], a[33]]),
                dst_port: u16::from_be_bytes([a[34], a[35]]),
            }
        }
        Family::Unix => {
            let (src, dst) = addr.split_at_checked(UNIX_ADDR_LEN).ok_or(SHORT)?;
            Addresses::Unix {
                src: Box::new(src.try_into().map_err(|_| SHORT)?),
                dst: Box::new(dst.try_into().map_err(|_| SHORT)?),
            }
        }
    })
}

/// Decodes TLVs that must exactly fill `bytes`; returns them and the header offset of a
/// CRC32C value, if any. `base` is the offset of `bytes` within the header.
fn decode_tlvs(mut bytes: &[u8], base: usize) -> Result<(Vec<Tlv>, Option<usize>), ParseError> {
    let mut rules = TlvRules::default();
    let mut tlvs = Vec::new();
    let mut crc_at = None;
    let mut offset = base;
    while !bytes.is_empty() {
        let Some(&[kind, hi, lo]) = bytes.get(..3) else {
            return Err(ParseError::Invalid("PROXY v2 TLV header is truncated"));
        };
        let end = 3 + usize::from(u16::from_be_bytes([hi, lo]));
        let Some(value) = bytes.get(3..end) else {
            return Err(ParseError::Invalid(
                "PROXY v2 TLV length exceeds the header",
            ));
        };
        rules.check(kind, value).map_err(ParseError::Invalid)?;
        if kind == kind::CRC32C {
            crc_at = Some(offset + 3);
        }
        tlvs.push(Tlv::new(kind, value));
        bytes = &bytes[end..];
        offset += end;
    }
    Ok((tlvs, crc_at))
}

/// Checks the CRC-32C stored at `header[at..at + 4]`, computed with those 4 bytes zeroed.
fn verify_crc32c(header: &[u8], at: usize) -> Result<(), ParseError> {
    const BAD: ParseError = ParseError::Invalid("PROXY v2 CRC32C TLV is malformed");
    let (before, rest) = header.split_at_checked(at).ok_or(BAD)?;
    let (stored, after) = rest.split_at_checked(4).ok_or(BAD)?;
    let stored: [u8; 4] = stored.try_into().map_err(|_| BAD)?;
    let mut crc = Crc32c::new();
    crc.update(before);
    crc.update(&[0; 4]);
    crc.update(after);
    if crc.finish() != u32::from_be_bytes(stored) {
        return Err(ParseError::Invalid("PROXY v2 CRC32C checksum mismatch"));
    }
    Ok(())
}

impl ProxyHeader {
    /// Encodes the header; the result parses back to an equal header (CRC32C value filled in).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the encoded header to `out` and returns its length; on error `out` is unchanged.
    ///
    /// A CRC32C TLV's value is ignored: the checksum of the encoded header is written there.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        let body_len = self.check()?;
        let len = u16::try_from(body_len).map_err(|_| EncodeError::TooLong { len: body_len })?;
        let start = out.len();
        out.reserve(FIXED_LEN + body_len);
        out.extend_from_slice(&SIGNATURE);
        out.push(match self.command {
            Command::Local => VERSION_2,
            Command::Proxy => VERSION_2 | 0x1,
        });
        out.push(self.family_transport_byte());
        out.extend_from_slice(&len.to_be_bytes());
        match &self.addresses {
            Addresses::Unspec => {}
            Addresses::Ipv4 {
                src,
                dst,
                src_port,
                dst_port,
            } => {
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
                out.extend_from_slice(&src_port.to_be_bytes());
                out.extend_from_slice(&dst_port.to_be_bytes());
            }
            Addresses::Ipv6 {
                src,
                dst,
                src_port,
                dst_port,
            } => {
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
                out.extend_from_slice(&src_port.to_be_bytes());
                out.extend_from_slice(&dst_port.to_be_bytes());
            }
            Addresses::Unix { src, dst } => {
                out.extend_from_slice(&src[..]);
                out.extend_from_slice(&dst[..]);
            }
        }
        let mut crc_at = None;
        for tlv in &self.tlvs {
            let value: &[u8] = if tlv.kind == kind::CRC32C {
                &[0; 4]
            } else {
                &tlv.value
            };
            out.push(tlv.kind);
            // Fits: `check` bounded the whole body by u16::MAX.
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
            if tlv.kind == kind::CRC32C {
                crc_at = Some(out.len());
            }
            out.extend_from_slice(value);
        }
        if let Some(at) = crc_at {
            let mut crc = Crc32c::new();
            crc.update(&out[start..]);
            out[at..at + 4].copy_from_slice(&crc.finish().to_be_bytes());
        }
        Ok(out.len() - start)
    }

    /// The length of the encoded header, if it can be encoded.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        self.check().map(|body| FIXED_LEN + body)
    }

    /// Everything the parser would refuse; returns the body length (address block and TLVs).
    fn check(&self) -> Result<usize, EncodeError> {
        let family = match self.addresses {
            Addresses::Unspec => "unspecified",
            Addresses::Ipv4 { .. } => "IPv4",
            Addresses::Ipv6 { .. } => "IPv6",
            Addresses::Unix { .. } => "UNIX",
        };
        let unspec_addresses = matches!(self.addresses, Addresses::Unspec);
        if unspec_addresses != (self.transport == Transport::Unspec) {
            return Err(EncodeError::TransportMismatch {
                transport: self.transport,
                family,
            });
        }
        let mut rules = TlvRules::default();
        let mut len = self.addresses.wire_len();
        for tlv in &self.tlvs {
            let value: &[u8] = if tlv.kind == kind::CRC32C {
                &[0; 4]
            } else {
                &tlv.value
            };
            rules
                .check(tlv.kind, value)
                .map_err(|reason| EncodeError::InvalidTlv {
                    kind: tlv.kind,
                    reason,
                })?;
            len = len.saturating_add(3 + value.len());
        }
        if len > usize::from(u16::MAX) {
            return Err(EncodeError::TooLong { len });
        }
        Ok(len)
    }

    fn family_transport_byte(&self) -> u8 {
        let family = match self.addresses {
            Addresses::Unspec => 0x00,
            Addresses::Ipv4 { .. } => 0x10,
            Addresses::Ipv6 { .. } => 0x20,
            Addresses::Unix { .. } => 0x30,
        };
        let transport = match self.transport {
            Transport::Unspec => 0x0,
            Transport::Stream => 0x1,
            Transport::Datagram => 0x2,
        };
        family | transport
    }
}
