//! Unit tests: hand-built bytes from the specification, edge cases and hostile headers.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use underpass_domain::EndpointId;

use super::*;
use crate::ParseError;

const VPCE: &str = "vpce-0123456789abcdef0";

fn vpce() -> EndpointId {
    VPCE.parse().unwrap()
}

fn v4_header() -> ProxyHeader {
    ProxyHeader::tcp(
        "192.0.2.10:51000".parse().unwrap(),
        "10.1.2.3:443".parse().unwrap(),
    )
}

/// A header by hand: signature, version/command, family/transport, then `body` with its length.
fn raw(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.push(ver_cmd);
    out.push(fam);
    out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The 12-byte TCP4 address block of `v4_header`.
const V4_BLOCK: [u8; 12] = [192, 0, 2, 10, 10, 1, 2, 3, 0xC7, 0x38, 0x01, 0xBB];

fn tlv_bytes(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn invalid(buf: &[u8]) -> &'static str {
    match parse_proxy_v2(buf) {
        Err(ParseError::Invalid(reason)) => reason,
        other => panic!("expected Invalid, got {other:?} for {buf:02x?}"),
    }
}

fn round_trip(h: &ProxyHeader) -> Vec<u8> {
    let bytes = h.encode().unwrap();
    assert_eq!(h.encoded_len().unwrap(), bytes.len());
    let (parsed, used) = parse_proxy_v2(&bytes).unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(&parsed, h);
    assert_eq!(
        parsed.encode().unwrap(),
        bytes,
        "re-encoding is byte-identical"
    );
    bytes
}

#[test]
fn v4_bytes_match_the_specification_layout() {
    let bytes = round_trip(&v4_header());
    assert_eq!(bytes, raw(0x21, 0x11, &V4_BLOCK));
}

#[test]
fn aws_vpce_tlv_matches_the_documented_layout() {
    // AWS: type 0xEA, 2-byte length, subtype 0x01 (PP2_SUBTYPE_AWS_VPCE_ID), then the ASCII id.
    let tlv = Tlv::aws_vpce_id(vpce());
    assert_eq!(tlv.kind, 0xEA);
    let mut expected_value = vec![0x01];
    expected_value.extend_from_slice(VPCE.as_bytes());
    assert_eq!(tlv.value, expected_value);

    let h = v4_header().with_vpce_id(vpce());
    let bytes = round_trip(&h);
    let mut body = V4_BLOCK.to_vec();
    body.extend_from_slice(&[0xEA, 0x00, 0x17, 0x01]);
    body.extend_from_slice(VPCE.as_bytes());
    assert_eq!(bytes, raw(0x21, 0x11, &body));
    assert_eq!(parse_proxy_v2(&bytes).unwrap().0.vpce_id(), Some(vpce()));
}

#[test]
fn round_trips_every_family_and_command() {
    let v6 = ProxyHeader {
        command: Command::Proxy,
        transport: Transport::Datagram,
        addresses: Addresses::Ipv6 {
            src: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
            dst: Ipv6Addr::LOCALHOST,
            src_port: 53,
            dst_port: 5353,
        },
        tlvs: vec![Tlv::new(kind::UNIQUE_ID, vec![7; 128])],
    };
    let mut unix_src = [0u8; UNIX_ADDR_LEN];
    unix_src[..9].copy_from_slice(b"/run/sock");
    let unix = ProxyHeader {
        command: Command::Proxy,
        transport: Transport::Stream,
        addresses: Addresses::Unix {
            src: Box::new(unix_src),
            dst: Box::new([0; UNIX_ADDR_LEN]),
        },
        tlvs: vec![],
    };
    let local = ProxyHeader {
        tlvs: vec![Tlv::new(kind::NOOP, vec![0; 5])],
        ..ProxyHeader::local()
    };
    let local_with_addresses = ProxyHeader {
        command: Command::Local,
        ..v4_header()
    };
    let unspec_proxy = ProxyHeader {
        command: Command::Proxy,
        ..ProxyHeader::local()
    };
    for h in [
        v6.clone(),
        unix,
        local,
        local_with_addresses,
        unspec_proxy,
        ProxyHeader::local(),
    ] {
        round_trip(&h);
    }
    let mut with_crc = v6;
    with_crc.tlvs.push(Tlv::crc32c());
    let (parsed, _) = parse_proxy_v2(&with_crc.encode().unwrap()).unwrap();
    assert!(parsed.has_crc32c());
    assert_eq!(parsed.unique_id(), Some(&[7u8; 128][..]));
    assert_eq!(raw(0x20, 0x00, &[]), ProxyHeader::local().encode().unwrap());
}

#[test]
fn round_trips_known_and_unknown_tlvs() {
    let mut ssl = vec![0x07, 0, 0, 0, 0];
    ssl.extend_from_slice(&tlv_bytes(0x21, b"TLSv1.3"));
    ssl.extend_from_slice(&tlv_bytes(0x22, b"client.example"));
    let h = ProxyHeader {
        tlvs: vec![
            Tlv::new(kind::ALPN, b"h2".to_vec()),
            Tlv::new(kind::AUTHORITY, b"svc.example.com".to_vec()),
            Tlv::new(kind::NOOP, Vec::new()),
            Tlv::new(kind::SSL, ssl),
            Tlv::new(kind::NETNS, b"ns1".to_vec()),
            Tlv::aws_vpce_id(vpce()),
            Tlv::new(kind::AWS, vec![0x02, 1, 2, 3]),
            Tlv::new(0xE1, b"custom".to_vec()),
            Tlv::new(0xE1, Vec::new()),
            Tlv::crc32c(),
        ],
        ..v4_header()
    };
    // The CRC32C value is only a placeholder before encoding; compare after filling it in.
    let bytes = h.encode().unwrap();
    let (parsed, used) = parse_proxy_v2(&bytes).unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(parsed.tlvs[..9], h.tlvs[..9]);
    assert_eq!(parsed.encode().unwrap(), bytes);
    assert_eq!(parsed.alpn(), Some(&b"h2"[..]));
    assert_eq!(parsed.authority(), Some("svc.example.com"));
    assert_eq!(parsed.vpce_id(), Some(vpce()));
    assert!(parsed.tlvs.iter().filter(|t| !t.is_known()).count() == 2);
}

#[test]
fn crc32c_is_written_big_endian_and_covers_the_whole_header() {
    let h = ProxyHeader {
        tlvs: vec![Tlv::crc32c()],
        ..v4_header()
    };
    let bytes = h.encode().unwrap();
    let at = bytes.len() - 4;
    let mut zeroed = bytes.clone();
    zeroed[at..].fill(0);
    assert_eq!(&bytes[at..], crate::crc32c::crc32c(&zeroed).to_be_bytes());
    // Any flipped bit from the address block on is caught (earlier bytes fail their own checks).
    for i in FIXED_LEN..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        assert!(
            matches!(parse_proxy_v2(&bad), Err(ParseError::Invalid(_))),
            "flip at {i} accepted"
        );
    }
}

#[test]
fn truncation_at_every_offset_is_incomplete_with_the_exact_need() {
    let h = ProxyHeader {
        tlvs: vec![Tlv::aws_vpce_id(vpce()), Tlv::crc32c()],
        ..v4_header()
    };
    let bytes = h.encode().unwrap();
    for cut in 0..bytes.len() {
        let needed = if cut < FIXED_LEN {
            FIXED_LEN - cut
        } else {
            bytes.len() - cut
        };
        assert_eq!(
            parse_proxy_v2(&bytes[..cut]),
            Err(ParseError::Incomplete { needed }),
            "cut at {cut}"
        );
    }
}

#[test]
fn trailing_payload_is_not_consumed() {
    let mut bytes = v4_header().encode().unwrap();
    let len = bytes.len();
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
    let (h, used) = parse_proxy_v2(&bytes).unwrap();
    assert_eq!((h, used), (v4_header(), len));
}

#[test]
fn wrong_signature_is_refused_from_the_first_wrong_byte() {
    let good = v4_header().encode().unwrap();
    for i in 0..SIGNATURE.len() {
        let mut bad = good[..=i].to_vec();
        bad[i] ^= 0x20;
        assert_eq!(invalid(&bad), "not a PROXY v2 signature", "byte {i}");
    }
    assert_eq!(
        invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
        "not a PROXY v2 signature"
    );
    assert_eq!(invalid(b"GET / HTTP/1.1\r\n"), "not a PROXY v2 signature");
}

#[test]
fn version_and_command_nibbles_are_checked() {
    for ver_cmd in [0x11, 0x01, 0x31, 0xF1, 0x10] {
        assert_eq!(
            invalid(&raw(ver_cmd, 0x11, &V4_BLOCK)),
            "PROXY protocol version is not 2"
        );
        // Refused as soon as byte 13 arrives.
        assert_eq!(
            invalid(&raw(ver_cmd, 0x11, &V4_BLOCK)[..13]),
            "PROXY protocol version is not 2"
        );
    }
    for ver_cmd in [0x22, 0x2F] {
        assert_eq!(
            invalid(&raw(ver_cmd, 0x11, &V4_BLOCK)),
            "unknown PROXY v2 command"
        );
    }
}

#[test]
fn family_and_transport_must_be_a_defined_pair() {
    for fam in [0x01, 0x02, 0x10, 0x13, 0x20, 0x23, 0x30, 0x41, 0xFF] {
        assert_eq!(
            invalid(&raw(0x21, fam, &V4_BLOCK)[..14]),
            "unknown PROXY v2 address family or transport"
        );
    }
}

#[test]
fn length_shorter_than_the_family_needs_is_refused_without_waiting() {
    // Only the fixed 16 bytes are given: the refusal must not wait for the body.
    assert_eq!(
        invalid(&raw(0x21, 0x11, &V4_BLOCK[..11])[..16]),
        "PROXY v2 length is shorter than the address block"
    );
    assert_eq!(
        invalid(&raw(0x21, 0x21, &[0; 35])[..16]),
        "PROXY v2 length is shorter than the address block"
    );
    assert_eq!(
        invalid(&raw(0x21, 0x31, &[0; 215])[..16]),
        "PROXY v2 length is shorter than the address block"
    );
    // An IPv4 family with an IPv6-sized block is not an IPv6 header: the rest is read as TLVs.
    let (h, _) = parse_proxy_v2(&raw(0x21, 0x11, &[0; 36])).unwrap();
    assert_eq!(h.tlvs, vec![Tlv::new(0, Vec::new()); 8]);
}

#[test]
fn lying_tlv_lengths_never_over_read() {
    // The TLV claims 40 bytes; 10 remain in the header, and payload follows that would "fit".
    let mut body = V4_BLOCK.to_vec();
    body.extend_from_slice(&[0xE1, 0x00, 40]);
    body.extend_from_slice(&[b'x'; 10]);
    let mut bytes = raw(0x21, 0x11, &body);
    bytes.extend_from_slice(&[b'y'; 100]);
    assert_eq!(invalid(&bytes), "PROXY v2 TLV length exceeds the header");

    // One or two bytes left after the last TLV: a truncated TLV header.
    for tail in [&[0x04][..], &[0x04, 0x00]] {
        let mut body = V4_BLOCK.to_vec();
        body.extend_from_slice(tail);
        let mut bytes = raw(0x21, 0x11, &body);
        bytes.extend_from_slice(&[0; 8]);
        assert_eq!(invalid(&bytes), "PROXY v2 TLV header is truncated");
    }

    // A length field of 0xFFFF on a header that ends much sooner.
    let mut body = V4_BLOCK.to_vec();
    body.extend_from_slice(&[0x01, 0xFF, 0xFF, b'h', b'2']);
    assert_eq!(
        invalid(&raw(0x21, 0x11, &body)),
        "PROXY v2 TLV length exceeds the header"
    );
}

#[test]
fn hostile_tlv_values_are_refused() {
    let with = |tlvs: &[Vec<u8>]| {
        let mut body = V4_BLOCK.to_vec();
        tlvs.iter().for_each(|t| body.extend_from_slice(t));
        raw(0x21, 0x11, &body)
    };
    let id = |s: &[u8]| [&[0x01][..], s].concat();
    let vpce_tlv = tlv_bytes(0xEA, &id(VPCE.as_bytes()));
    let cases: Vec<(Vec<Vec<u8>>, &str)> = vec![
        (
            vec![tlv_bytes(0xEA, &id(b"vpce-0123456789abcd\0f0"))],
            "AWS VPC endpoint id TLV does not hold a vpce- id",
        ),
        (
            vec![tlv_bytes(0xEA, &id(b"vpce-0123456789ABCDEF0"))],
            "AWS VPC endpoint id TLV does not hold a vpce- id",
        ),
        (
            vec![tlv_bytes(0xEA, &id(b"vpce-svc-0123456789abcdef0"))],
            "AWS VPC endpoint id TLV does not hold a vpce- id",
        ),
        (
            vec![tlv_bytes(0xEA, &id(b""))],
            "AWS VPC endpoint id TLV does not hold a vpce- id",
        ),
        (vec![tlv_bytes(0xEA, &[])], "AWS TLV has no subtype"),
        (
            vec![vpce_tlv.clone(), vpce_tlv],
            "more than one AWS VPC endpoint id TLV",
        ),
        (
            vec![tlv_bytes(0x02, b"evil\0.example")],
            "AUTHORITY TLV is not a printable UTF-8 host name",
        ),
        (
            vec![tlv_bytes(0x02, b"")],
            "AUTHORITY TLV is not a printable UTF-8 host name",
        ),
        (
            vec![tlv_bytes(0x02, &[0xC3, 0x28])],
            "AUTHORITY TLV is not a printable UTF-8 host name",
        ),
        (
            vec![tlv_bytes(0x05, &[1; 129])],
            "UNIQUE_ID TLV is longer than 128 bytes",
        ),
        (
            vec![tlv_bytes(0x03, &[0; 3])],
            "CRC32C TLV value is not 4 bytes",
        ),
        (
            vec![tlv_bytes(0x03, &[0; 4]), tlv_bytes(0x03, &[0; 4])],
            "more than one CRC32C TLV",
        ),
        (
            vec![tlv_bytes(0x03, &[0; 4])],
            "PROXY v2 CRC32C checksum mismatch",
        ),
        (
            vec![tlv_bytes(0x20, &[1, 0, 0, 0])],
            "SSL TLV is shorter than its 5 fixed bytes",
        ),
        (
            vec![tlv_bytes(0x20, &[1, 0, 0, 0, 0, 0x21, 0x00, 0x09, b'x'])],
            "SSL sub-TLV length exceeds its TLV",
        ),
        (
            vec![tlv_bytes(0x20, &[1, 0, 0, 0, 0, 0x21])],
            "SSL sub-TLV header is truncated",
        ),
    ];
    for (tlvs, reason) in cases {
        assert_eq!(invalid(&with(&tlvs)), reason);
    }
}

#[test]
fn largest_header_parses_and_one_byte_more_cannot_be_encoded() {
    let noop_len = u16::MAX as usize - 12 - 3;
    let h = ProxyHeader {
        tlvs: vec![Tlv::new(kind::NOOP, vec![0; noop_len])],
        ..v4_header()
    };
    let bytes = round_trip(&h);
    assert_eq!(bytes.len(), MAX_HEADER_LEN);
    let too_long = ProxyHeader {
        tlvs: vec![Tlv::new(kind::NOOP, vec![0; noop_len + 1])],
        ..v4_header()
    };
    assert_eq!(too_long.encode(), Err(EncodeError::TooLong { len: 65536 }));
    // Incomplete asks for the whole announced body, never more than the cap.
    assert_eq!(
        parse_proxy_v2(&bytes[..16]),
        Err(ParseError::Incomplete { needed: 65535 })
    );
}

#[test]
fn encode_refuses_what_parse_would_refuse() {
    let mismatch = ProxyHeader {
        transport: Transport::Unspec,
        ..v4_header()
    };
    assert!(matches!(
        mismatch.encode(),
        Err(EncodeError::TransportMismatch { .. })
    ));
    let mismatch = ProxyHeader {
        transport: Transport::Stream,
        ..ProxyHeader::local()
    };
    assert!(matches!(
        mismatch.encode(),
        Err(EncodeError::TransportMismatch { .. })
    ));
    let two_ids = v4_header().with_vpce_id(vpce()).with_vpce_id(vpce());
    assert!(matches!(
        two_ids.encode(),
        Err(EncodeError::InvalidTlv { kind: 0xEA, .. })
    ));
    let bad_authority = ProxyHeader {
        tlvs: vec![Tlv::new(kind::AUTHORITY, b"a\nb".to_vec())],
        ..v4_header()
    };
    assert!(matches!(
        bad_authority.encode(),
        Err(EncodeError::InvalidTlv { kind: 0x02, .. })
    ));
    let mut out = b"keep".to_vec();
    assert!(two_ids.encode_into(&mut out).is_err());
    assert_eq!(out, b"keep", "a failed encode leaves the buffer alone");
    let n = v4_header().encode_into(&mut out).unwrap();
    assert_eq!(out.len(), 4 + n);
    // A CRC32C TLV's stored value is ignored: the real checksum is written.
    let stale = ProxyHeader {
        tlvs: vec![Tlv::new(kind::CRC32C, vec![9; 7])],
        ..v4_header()
    };
    assert!(parse_proxy_v2(&stale.encode().unwrap()).is_ok());
}

#[test]
fn mixed_families_are_carried_as_v4_mapped_v6() {
    let src: SocketAddr = "192.0.2.1:1000".parse().unwrap();
    let dst: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
    let a = Addresses::from_sockets(src, dst);
    assert_eq!(
        a.source(),
        Some(SocketAddr::from((
            Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped(),
            1000
        )))
    );
    assert_eq!(a.destination(), Some(dst));
    assert_eq!(Addresses::Unspec.source(), None);
}

#[test]
fn detect_tells_v2_v1_and_payload_apart() {
    let v2 = v4_header().encode().unwrap();
    assert_eq!(detect(&v2), Detection::V2);
    assert_eq!(detect(&v2[..12]), Detection::V2);
    for cut in 0..12 {
        assert_eq!(detect(&v2[..cut]), Detection::NeedMore, "cut {cut}");
    }
    assert_eq!(detect(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), Detection::V1);
    assert_eq!(detect(b"PROX"), Detection::NeedMore);
    assert_eq!(detect(b"PROXYX"), Detection::NotProxy);
    assert_eq!(detect(b"GET / HTTP/1.1"), Detection::NotProxy);
    assert_eq!(detect(b"\r\n\r\nX"), Detection::NotProxy);
    assert_eq!(detect(b""), Detection::NeedMore);
}
