//! The preamble and verdict frames: magic, bounded length, strict fields, incremental parsing.
//!
//! ```text
//! preamble: "UPT1" | body_len u16 | version u8 = 1 | endpoint 17 ASCII hex (the id after "vpce-")
//!           | service_port u16 | flow_id u64 | client addr | eni addr        (all big-endian)
//!     addr: family u8 (4 | 6) | 4 or 16 address bytes | port u16
//! verdict:  "UPV1" | code u8 (0 = admitted) | message_len u8 | message (UTF-8, empty if admitted)
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use underpass_domain::{EndpointId, ID_HEX_LEN};

use super::{Refusal, RefusalCode};
use crate::ParseError;

/// The first 4 bytes of a preamble.
pub const PREAMBLE_MAGIC: [u8; 4] = *b"UPT1";
/// The first 4 bytes of a verdict.
pub const VERDICT_MAGIC: [u8; 4] = *b"UPV1";
/// The preamble layout this crate writes and accepts.
pub const PREAMBLE_VERSION: u8 = 1;
/// The largest preamble frame a gateway buffers, magic and length included.
pub const MAX_PREAMBLE_LEN: usize = 512;
/// The longest refusal message a verdict carries.
pub const MAX_REFUSAL_MESSAGE_LEN: usize = u8::MAX as usize;
/// The largest verdict frame.
pub const MAX_VERDICT_LEN: usize = FRAME_HEAD_LEN + MAX_REFUSAL_MESSAGE_LEN;

/// Magic plus a 2-byte length (preamble) or a code and a 1-byte length (verdict).
const FRAME_HEAD_LEN: usize = 6;
const FAMILY_V4: u8 = 4;
const FAMILY_V6: u8 = 6;

/// The client flow a consumer agent asks the gateway to carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Preamble {
    /// The endpoint the flow is for; the gateway checks it against the client certificate.
    pub endpoint: EndpointId,
    /// The listener (service) port the client connected to.
    pub service_port: u16,
    /// The client's address and port (IPv6 flow info and scope id are not carried).
    pub client: SocketAddr,
    /// The endpoint ENI address and port the client connected to.
    pub eni: SocketAddr,
    /// The consumer agent's id for this flow, for flow records on both sides.
    pub flow_id: u64,
}

impl Preamble {
    /// The encoded frame (at most 72 bytes for version 1).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(72);
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoded frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&PREAMBLE_MAGIC);
        out.extend_from_slice(&[0, 0]); // body length, filled in below
        out.push(PREAMBLE_VERSION);
        out.extend_from_slice(self.endpoint.hex().as_bytes());
        out.extend_from_slice(&self.service_port.to_be_bytes());
        out.extend_from_slice(&self.flow_id.to_be_bytes());
        for addr in [self.client, self.eni] {
            match addr.ip() {
                IpAddr::V4(ip) => {
                    out.push(FAMILY_V4);
                    out.extend_from_slice(&ip.octets());
                }
                IpAddr::V6(ip) => {
                    out.push(FAMILY_V6);
                    out.extend_from_slice(&ip.octets());
                }
            }
            out.extend_from_slice(&addr.port().to_be_bytes());
        }
        // At most 66 bytes: the fields above are fixed-size.
        let body_len = (out.len() - start - FRAME_HEAD_LEN) as u16;
        out[start + 4..start + FRAME_HEAD_LEN].copy_from_slice(&body_len.to_be_bytes());
    }
}

/// Parses one preamble from the start of `buf`; returns it and the bytes it took.
///
/// Refuses as early as the bytes allow: a wrong magic byte, a length over
/// [`MAX_PREAMBLE_LEN`] or another version is `Invalid` before the rest arrives.
pub fn parse_preamble(buf: &[u8]) -> Result<(Preamble, usize), ParseError> {
    check_magic(buf, &PREAMBLE_MAGIC, "not a tunnel preamble")?;
    let Some(&[hi, lo]) = buf.get(4..FRAME_HEAD_LEN) else {
        return Err(ParseError::Incomplete {
            needed: FRAME_HEAD_LEN - buf.len(),
        });
    };
    let total = FRAME_HEAD_LEN + usize::from(u16::from_be_bytes([hi, lo]));
    if total > MAX_PREAMBLE_LEN {
        return Err(ParseError::Invalid(
            "tunnel preamble is longer than 512 bytes",
        ));
    }
    if total == FRAME_HEAD_LEN {
        return Err(ParseError::Invalid("tunnel preamble has no version byte"));
    }
    match buf.get(FRAME_HEAD_LEN) {
        Some(&PREAMBLE_VERSION) => {}
        Some(_) => return Err(ParseError::Invalid("unsupported tunnel preamble version")),
        None => {
            return Err(ParseError::Incomplete {
                needed: total - buf.len(),
            })
        }
    }
    let Some(frame) = buf.get(..total) else {
        return Err(ParseError::Incomplete {
            needed: total - buf.len(),
        });
    };
    let mut r = Reader(&frame[FRAME_HEAD_LEN + 1..]);
    let preamble = Preamble {
        endpoint: endpoint(r.take::<ID_HEX_LEN>()?)?,
        service_port: u16::from_be_bytes(r.take()?),
        flow_id: u64::from_be_bytes(r.take()?),
        client: r.socket_addr()?,
        eni: r.socket_addr()?,
    };
    if !r.0.is_empty() {
        return Err(ParseError::Invalid(
            "tunnel preamble has bytes after its last field",
        ));
    }
    Ok((preamble, total))
}

/// The gateway's answer to a preamble.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The flow is admitted: payload follows in both directions.
    Admitted,
    /// The flow is refused; the gateway closes the stream.
    Refused(Refusal),
}

impl Verdict {
    /// The encoded frame; a refusal's message is made fit for the wire first.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = VERDICT_MAGIC.to_vec();
        match self {
            Self::Admitted => out.extend_from_slice(&[0, 0]),
            Self::Refused(refusal) => {
                let message = wire_message(&refusal.message);
                out.push(refusal.code.get());
                out.push(message.len() as u8); // wire_message keeps it under 256 bytes
                out.extend_from_slice(message.as_bytes());
            }
        }
        out
    }
}

/// Parses one verdict from the start of `buf`; returns it and the bytes it took.
pub fn parse_verdict(buf: &[u8]) -> Result<(Verdict, usize), ParseError> {
    check_magic(buf, &VERDICT_MAGIC, "not a tunnel verdict")?;
    let Some(&[code, len]) = buf.get(4..FRAME_HEAD_LEN) else {
        return Err(ParseError::Incomplete {
            needed: FRAME_HEAD_LEN - buf.len(),
        });
    };
    let Some(code) = RefusalCode::new(code) else {
        if len != 0 {
            return Err(ParseError::Invalid(
                "an admitting verdict carries a message",
            ));
        }
        return Ok((Verdict::Admitted, FRAME_HEAD_LEN));
    };
    let total = FRAME_HEAD_LEN + usize::from(len);
    let Some(message) = buf.get(FRAME_HEAD_LEN..total) else {
        return Err(ParseError::Incomplete {
            needed: total - buf.len(),
        });
    };
    let message = std::str::from_utf8(message)
        .ok()
        .filter(|m| !m.chars().any(char::is_control))
        .ok_or(ParseError::Invalid(
            "verdict message is not printable UTF-8",
        ))?;
    Ok((
        Verdict::Refused(Refusal {
            code,
            message: message.to_owned(),
        }),
        total,
    ))
}

/// A message fit for a verdict: control characters become `?`, cut to 255 bytes on a char boundary.
pub(super) fn wire_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_REFUSAL_MESSAGE_LEN));
    for c in message
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
    {
        if out.len() + c.len_utf8() > MAX_REFUSAL_MESSAGE_LEN {
            break;
        }
        out.push(c);
    }
    out
}

/// Checks the bytes that have arrived against the magic.
fn check_magic(buf: &[u8], magic: &[u8; 4], wrong: &'static str) -> Result<(), ParseError> {
    let n = buf.len().min(magic.len());
    if buf[..n] != magic[..n] {
        return Err(ParseError::Invalid(wrong));
    }
    Ok(())
}

fn endpoint(hex: [u8; ID_HEX_LEN]) -> Result<EndpointId, ParseError> {
    const PREFIX: &[u8] = b"vpce-";
    let mut text = [0u8; 5 + ID_HEX_LEN];
    text[..PREFIX.len()].copy_from_slice(PREFIX);
    text[PREFIX.len()..].copy_from_slice(&hex);
    std::str::from_utf8(&text)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ParseError::Invalid(
            "tunnel preamble endpoint is not a vpce- id",
        ))
}

/// Reads fixed-size fields from a frame body that has fully arrived.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(ParseError::Invalid(
            "tunnel preamble body is too short for its fields",
        ))?;
        self.0 = rest;
        Ok(*head)
    }

    fn socket_addr(&mut self) -> Result<SocketAddr, ParseError> {
        let ip = match self.take::<1>()? {
            [FAMILY_V4] => IpAddr::V4(Ipv4Addr::from(self.take::<4>()?)),
            [FAMILY_V6] => IpAddr::V6(Ipv6Addr::from(self.take::<16>()?)),
            _ => {
                return Err(ParseError::Invalid(
                    "tunnel preamble address family is not 4 or 6",
                ))
            }
        };
        Ok(SocketAddr::new(ip, u16::from_be_bytes(self.take()?)))
    }
}
