//! Property tests: encode→parse round-trips for arbitrary headers; parse never panics.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use underpass_domain::EndpointId;
use underpass_proto::proxy_v2::{
    kind, parse_proxy_v2, Addresses, Command, ProxyHeader, Tlv, Transport, SIGNATURE, UNIX_ADDR_LEN,
};
use underpass_proto::ParseError;

fn any_addresses() -> impl Strategy<Value = (Transport, Addresses)> {
    let transport = prop_oneof![Just(Transport::Stream), Just(Transport::Datagram)];
    let v4 = (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(s, d, sp, dp)| Addresses::Ipv4 {
            src: Ipv4Addr::from(s),
            dst: Ipv4Addr::from(d),
            src_port: sp,
            dst_port: dp,
        });
    let v6 = (
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(s, d, sp, dp)| Addresses::Ipv6 {
            src: Ipv6Addr::from(s),
            dst: Ipv6Addr::from(d),
            src_port: sp,
            dst_port: dp,
        });
    let unix = (
        prop::collection::vec(any::<u8>(), UNIX_ADDR_LEN),
        prop::collection::vec(any::<u8>(), UNIX_ADDR_LEN),
    )
        .prop_map(|(s, d)| Addresses::Unix {
            src: Box::new(s.try_into().unwrap_or([0; UNIX_ADDR_LEN])),
            dst: Box::new(d.try_into().unwrap_or([0; UNIX_ADDR_LEN])),
        });
    prop_oneof![
        Just((Transport::Unspec, Addresses::Unspec)),
        (transport.clone(), v4),
        (transport.clone(), v6),
        (transport, unix),
    ]
}

/// TLVs the parser accepts: opaque types with any bytes, plus well-formed known ones.
fn any_tlv() -> impl Strategy<Value = Tlv> {
    let opaque_kind = any::<u8>().prop_filter("types with rules are generated below", |k| {
        ![
            kind::CRC32C,
            kind::AUTHORITY,
            kind::UNIQUE_ID,
            kind::SSL,
            kind::AWS,
        ]
        .contains(k)
    });
    prop_oneof![
        4 => (opaque_kind, prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(k, v)| Tlv::new(k, v)),
        1 => "[a-z0-9.-]{1,40}".prop_map(|s| Tlv::new(kind::AUTHORITY, s.into_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..=128).prop_map(|v| Tlv::new(kind::UNIQUE_ID, v)),
        1 => (any::<u8>(), any::<u32>(), "[A-Za-z0-9 -]{0,20}").prop_map(|(client, verify, cn)| {
            let mut v = vec![client];
            v.extend_from_slice(&verify.to_be_bytes());
            v.push(0x22);
            v.extend_from_slice(&u16::try_from(cn.len()).unwrap_or(0).to_be_bytes());
            v.extend_from_slice(cn.as_bytes());
            Tlv::new(kind::SSL, v)
        }),
        1 => (2u8.., prop::collection::vec(any::<u8>(), 0..16)).prop_map(|(sub, rest)| {
            Tlv::new(kind::AWS, [&[sub][..], &rest].concat())
        }),
    ]
}

fn any_header() -> impl Strategy<Value = ProxyHeader> {
    (
        prop_oneof![Just(Command::Local), Just(Command::Proxy)],
        any_addresses(),
        prop::collection::vec(any_tlv(), 0..8),
        proptest::option::of(any::<u128>()),
        proptest::option::of(0usize..9),
    )
        .prop_map(
            |(command, (transport, addresses), mut tlvs, vpce, crc_at)| {
                if let Some(r) = vpce {
                    tlvs.push(Tlv::aws_vpce_id(EndpointId::from_bits(r)));
                }
                if let Some(at) = crc_at {
                    tlvs.insert(at.min(tlvs.len()), Tlv::crc32c());
                }
                ProxyHeader {
                    command,
                    transport,
                    addresses,
                    tlvs,
                }
            },
        )
}

proptest! {
    #[test]
    fn encode_then_parse_round_trips(h in any_header(), trailing in prop::collection::vec(any::<u8>(), 0..32)) {
        let bytes = h.encode().unwrap();
        let mut stream = bytes.clone();
        stream.extend_from_slice(&trailing);
        let (parsed, used) = parse_proxy_v2(&stream).unwrap();
        prop_assert_eq!(used, bytes.len());
        // Equal except the CRC32C placeholder, which now holds the checksum.
        prop_assert_eq!(parsed.tlvs.len(), h.tlvs.len());
        for (p, o) in parsed.tlvs.iter().zip(&h.tlvs) {
            if o.kind != kind::CRC32C {
                prop_assert_eq!(p, o);
            }
        }
        prop_assert_eq!((&parsed.command, &parsed.transport, &parsed.addresses), (&h.command, &h.transport, &h.addresses));
        prop_assert_eq!(parsed.encode().unwrap(), bytes.clone());
        // Every strict prefix asks for more, never fails.
        for cut in [0, bytes.len() / 2, bytes.len() - 1] {
            let incomplete = matches!(parse_proxy_v2(&bytes[..cut]), Err(ParseError::Incomplete { .. }));
            prop_assert!(incomplete);
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        check_parse(&bytes)?;
    }

    #[test]
    fn parse_never_panics_after_a_valid_prefix(
        ver_cmd in prop_oneof![Just(0x20u8), Just(0x21u8), any::<u8>()],
        fam in prop_oneof![Just(0x11u8), Just(0x21u8), Just(0x00u8), any::<u8>()],
        len in prop_oneof![0u16..300, any::<u16>()],
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = SIGNATURE.to_vec();
        bytes.extend_from_slice(&[ver_cmd, fam]);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&body);
        check_parse(&bytes)?;
    }
}

/// Whatever parses re-encodes to exactly the bytes it was parsed from.
fn check_parse(bytes: &[u8]) -> Result<(), TestCaseError> {
    match parse_proxy_v2(bytes) {
        Ok((h, used)) => {
            prop_assert!(used <= bytes.len());
            prop_assert_eq!(h.encode(), Ok(bytes[..used].to_vec()));
        }
        Err(ParseError::Incomplete { needed }) => prop_assert!(needed > 0),
        Err(ParseError::Invalid(_)) => {}
    }
    Ok(())
}
