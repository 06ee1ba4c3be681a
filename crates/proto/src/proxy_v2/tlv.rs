//! TLVs (type, 16-bit length, value) after the address block, and the rules a header's TLVs obey.

use underpass_domain::EndpointId;

/// TLV type codes: those the PROXY protocol specification registers, and AWS's.
pub mod kind {
    /// `PP2_TYPE_ALPN`: the negotiated application protocol.
    pub const ALPN: u8 = 0x01;
    /// `PP2_TYPE_AUTHORITY`: the host name the client asked for (TLS SNI), UTF-8.
    pub const AUTHORITY: u8 = 0x02;
    /// `PP2_TYPE_CRC32C`: a CRC-32C of the whole header, big-endian.
    pub const CRC32C: u8 = 0x03;
    /// `PP2_TYPE_NOOP`: padding, ignored.
    pub const NOOP: u8 = 0x04;
    /// `PP2_TYPE_UNIQUE_ID`: an opaque connection id of at most 128 bytes.
    pub const UNIQUE_ID: u8 = 0x05;
    /// `PP2_TYPE_SSL`: client flags, verify result and TLS sub-TLVs.
    pub const SSL: u8 = 0x20;
    /// `PP2_TYPE_NETNS`: the network namespace name.
    pub const NETNS: u8 = 0x30;
    /// `PP2_TYPE_AWS`: AWS's custom TLV; the first value byte is a subtype.
    pub const AWS: u8 = 0xEA;
}

/// The AWS TLV subtype whose rest is the VPC endpoint id in ASCII (`vpce-…`).
pub const AWS_SUBTYPE_VPCE_ID: u8 = 0x01;

/// The longest UNIQUE_ID value the specification allows.
pub const MAX_UNIQUE_ID_LEN: usize = 128;

/// The fixed part of a `PP2_TYPE_SSL` value: one byte of client flags and a 32-bit verify result.
const SSL_FIXED_LEN: usize = 5;

/// One TLV. Known and unknown types alike keep their raw value, so a header round-trips.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlv {
    /// The type byte (see [`kind`]).
    pub kind: u8,
    /// The value bytes; at most 65535 (in practice less: the whole header shares that limit).
    pub value: Vec<u8>,
}

impl Tlv {
    /// A TLV of any type.
    pub fn new(kind: u8, value: impl Into<Vec<u8>>) -> Self {
        Self {
            kind,
            value: value.into(),
        }
    }

    /// AWS's endpoint-id TLV: type 0xEA, value = subtype 0x01 then the id in ASCII.
    pub fn aws_vpce_id(id: EndpointId) -> Self {
        let mut value = Vec::with_capacity(1 + EndpointId::PREFIX.len() + id.hex().len());
        value.push(AWS_SUBTYPE_VPCE_ID);
        value.extend_from_slice(EndpointId::PREFIX.as_bytes());
        value.extend_from_slice(id.hex().as_bytes());
        Self {
            kind: kind::AWS,
            value,
        }
    }

    /// A CRC32C TLV; its value is a placeholder that encoding replaces with the checksum.
    pub fn crc32c() -> Self {
        Self {
            kind: kind::CRC32C,
            value: vec![0; 4],
        }
    }

    /// The endpoint id, if this is a well-formed AWS endpoint-id TLV.
    pub fn as_aws_vpce_id(&self) -> Option<EndpointId> {
        if self.kind != kind::AWS {
            return None;
        }
        match self.value.split_first() {
            Some((&AWS_SUBTYPE_VPCE_ID, id)) => std::str::from_utf8(id).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// Whether the type is one this crate knows (registered by the specification, or AWS's).
    pub fn is_known(&self) -> bool {
        matches!(
            self.kind,
            kind::ALPN
                | kind::AUTHORITY
                | kind::CRC32C
                | kind::NOOP
                | kind::UNIQUE_ID
                | kind::SSL
                | kind::NETNS
                | kind::AWS
        )
    }
}

/// The rules one header's TLVs obey, checked in wire order by both the parser and the encoder.
#[derive(Debug, Default)]
pub(super) struct TlvRules {
    crc32c_seen: bool,
    vpce_id_seen: bool,
}

impl TlvRules {
    /// Checks one TLV against the rules and the TLVs seen before it.
    pub(super) fn check(&mut self, kind: u8, value: &[u8]) -> Result<(), &'static str> {
        match kind {
            kind::CRC32C => {
                if value.len() != 4 {
                    return Err("CRC32C TLV value is not 4 bytes");
                }
                if std::mem::replace(&mut self.crc32c_seen, true) {
                    return Err("more than one CRC32C TLV");
                }
            }
            kind::AUTHORITY => {
                let printable = std::str::from_utf8(value)
                    .is_ok_and(|s| !s.is_empty() && !s.chars().any(char::is_control));
                if !printable {
                    return Err("AUTHORITY TLV is not a printable UTF-8 host name");
                }
            }
            kind::UNIQUE_ID if value.len() > MAX_UNIQUE_ID_LEN => {
                return Err("UNIQUE_ID TLV is longer than 128 bytes");
            }
            kind::SSL => check_ssl(value)?,
            kind::AWS => match value.split_first() {
                None => return Err("AWS TLV has no subtype"),
                Some((&AWS_SUBTYPE_VPCE_ID, id)) => {
                    let valid =
                        std::str::from_utf8(id).is_ok_and(|s| s.parse::<EndpointId>().is_ok());
                    if !valid {
                        return Err("AWS VPC endpoint id TLV does not hold a vpce- id");
                    }
                    if std::mem::replace(&mut self.vpce_id_seen, true) {
                        return Err("more than one AWS VPC endpoint id TLV");
                    }
                }
                Some(_) => {}
            },
            _ => {}
        }
        Ok(())
    }
}

/// A `PP2_TYPE_SSL` value: flags, verify result, then sub-TLVs that exactly fill the value.
fn check_ssl(value: &[u8]) -> Result<(), &'static str> {
    let Some(mut rest) = value.get(SSL_FIXED_LEN..) else {
        return Err("SSL TLV is shorter than its 5 fixed bytes");
    };
    while !rest.is_empty() {
        let Some(&[_, hi, lo]) = rest.get(..3) else {
            return Err("SSL sub-TLV header is truncated");
        };
        let end = 3 + usize::from(u16::from_be_bytes([hi, lo]));
        let Some(next) = rest.get(end..) else {
            return Err("SSL sub-TLV length exceeds its TLV");
        };
        rest = next;
    }
    Ok(())
}
