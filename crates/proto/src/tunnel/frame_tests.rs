//! Preamble and verdict frames: layout, round trips, truncation and hostile input.

use std::net::SocketAddr;

use super::*;
use crate::ParseError;

pub(super) fn preamble() -> Preamble {
    Preamble {
        endpoint: "vpce-0123456789abcdef0".parse().unwrap(),
        service_port: 443,
        client: "192.0.2.7:40000".parse().unwrap(),
        eni: "10.0.1.5:443".parse().unwrap(),
        flow_id: 0x0102_0304_0506_0708,
    }
}

fn invalid_preamble(buf: &[u8]) -> &'static str {
    match parse_preamble(buf) {
        Err(ParseError::Invalid(reason)) => reason,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn preamble_layout_is_compact_and_exact() {
    let bytes = preamble().encode();
    let mut expected = b"UPT1".to_vec();
    expected.extend_from_slice(&[0x00, 42, 1]);
    expected.extend_from_slice(b"0123456789abcdef0");
    expected.extend_from_slice(&[0x01, 0xBB]);
    expected.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    expected.extend_from_slice(&[4, 192, 0, 2, 7, 0x9C, 0x40]);
    expected.extend_from_slice(&[4, 10, 0, 1, 5, 0x01, 0xBB]);
    assert_eq!(bytes, expected);
    assert_eq!(parse_preamble(&bytes), Ok((preamble(), 48)));
}

#[test]
fn preamble_round_trips_v6_and_mixed_families() {
    let v6: SocketAddr = "[2001:db8::7]:50000".parse().unwrap();
    for (client, eni) in [(v6, preamble().eni), (preamble().client, v6), (v6, v6)] {
        let p = Preamble {
            client,
            eni,
            ..preamble()
        };
        let mut bytes = p.encode();
        let len = bytes.len();
        assert!(len <= 72);
        bytes.extend_from_slice(b"payload");
        assert_eq!(parse_preamble(&bytes), Ok((p, len)));
    }
}

#[test]
fn preamble_truncated_anywhere_is_incomplete_with_the_exact_need() {
    let bytes = preamble().encode();
    for cut in 0..bytes.len() {
        let needed = if cut < 6 { 6 - cut } else { bytes.len() - cut };
        assert_eq!(
            parse_preamble(&bytes[..cut]),
            Err(ParseError::Incomplete { needed }),
            "cut {cut}"
        );
    }
}

#[test]
fn hostile_preambles_are_refused_early() {
    assert_eq!(invalid_preamble(b"G"), "not a tunnel preamble");
    assert_eq!(invalid_preamble(b"UPT2"), "not a tunnel preamble");
    assert_eq!(
        invalid_preamble(b"\r\n\r\n\0\r\nQUIT\n!\x11"),
        "not a tunnel preamble"
    );
    assert_eq!(
        invalid_preamble(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
        "not a tunnel preamble"
    );
    // Oversize is refused from the length field alone, before the body arrives.
    assert_eq!(
        invalid_preamble(b"UPT1\xFF\xFF"),
        "tunnel preamble is longer than 512 bytes"
    );
    assert_eq!(
        invalid_preamble(b"UPT1\x01\xFB"),
        "tunnel preamble is longer than 512 bytes"
    );
    assert!(matches!(
        parse_preamble(b"UPT1\x01\xFA"),
        Err(ParseError::Incomplete { needed: 506 })
    ));
    assert_eq!(
        invalid_preamble(b"UPT1\x00\x00payload"),
        "tunnel preamble has no version byte"
    );
    assert_eq!(
        invalid_preamble(b"UPT1\x00\x2A\x02"),
        "unsupported tunnel preamble version"
    );

    let good = preamble().encode();
    let with = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        edit(&mut b);
        b
    };
    let set_len = |b: &mut Vec<u8>, len: u16| b[4..6].copy_from_slice(&len.to_be_bytes());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            with(&|b| b[7] = b'A'),
            "tunnel preamble endpoint is not a vpce- id",
        ),
        (
            with(&|b| b[7] = 0),
            "tunnel preamble endpoint is not a vpce- id",
        ),
        (
            with(&|b| b[7] = 0xFF),
            "tunnel preamble endpoint is not a vpce- id",
        ),
        (
            with(&|b| b[34] = 5),
            "tunnel preamble address family is not 4 or 6",
        ),
        (
            with(&|b| b[34] = 6),
            "tunnel preamble body is too short for its fields",
        ),
        (
            with(&|b| set_len(b, 41)),
            "tunnel preamble body is too short for its fields",
        ),
        (
            with(&|b| {
                set_len(b, 43);
                b.push(0);
            }),
            "tunnel preamble has bytes after its last field",
        ),
    ];
    for (bytes, reason) in cases {
        assert_eq!(invalid_preamble(&bytes), reason);
    }
}

#[test]
fn verdicts_round_trip_and_bound_their_message() {
    for v in [
        Verdict::Admitted,
        Verdict::Refused(Refusal::new(
            RefusalCode::NOT_ACCEPTED,
            "endpoint connection is pendingAcceptance",
        )),
        Verdict::Refused(Refusal::new(RefusalCode::new(200).unwrap(), "")),
        Verdict::Refused(Refusal::new(RefusalCode::UNAVAILABLE, "é".repeat(200))),
    ] {
        let mut bytes = v.encode();
        let len = bytes.len();
        assert!(len <= MAX_VERDICT_LEN);
        bytes.extend_from_slice(b"data");
        assert_eq!(parse_verdict(&bytes), Ok((v, len)));
    }
    assert_eq!(Verdict::Admitted.encode(), b"UPV1\0\0");
    let long = Refusal::new(RefusalCode::TIMEOUT, "é".repeat(200));
    assert_eq!(long.message.len(), 254, "cut on a char boundary");
    assert_eq!(
        Refusal::new(RefusalCode::MALFORMED, "a\nb\x1b[31m").message,
        "a?b?[31m"
    );
    // A refusal built field by field is still made fit for the wire.
    let raw = Refusal {
        code: RefusalCode::MALFORMED,
        message: "x\u{0}".repeat(300),
    };
    let (parsed, _) = parse_verdict(&Verdict::Refused(raw).encode()).unwrap();
    assert!(
        matches!(parsed, Verdict::Refused(r) if r.message.len() == 255 && !r.message.contains('\0'))
    );
}

#[test]
fn verdict_truncation_and_hostile_verdicts() {
    let bytes = Verdict::Refused(Refusal::new(RefusalCode::ENDPOINT_MISMATCH, "no")).encode();
    for cut in 0..bytes.len() {
        let needed = if cut < 6 { 6 - cut } else { bytes.len() - cut };
        assert_eq!(
            parse_verdict(&bytes[..cut]),
            Err(ParseError::Incomplete { needed }),
            "cut {cut}"
        );
    }
    assert_eq!(
        parse_verdict(b"HTTP/1.1 200 OK"),
        Err(ParseError::Invalid("not a tunnel verdict"))
    );
    assert_eq!(
        parse_verdict(b"UPV1\0\x01x"),
        Err(ParseError::Invalid(
            "an admitting verdict carries a message"
        ))
    );
    let bad = Err(ParseError::Invalid(
        "verdict message is not printable UTF-8",
    ));
    assert_eq!(parse_verdict(b"UPV1\x04\x01\x07"), bad);
    assert_eq!(parse_verdict(b"UPV1\x04\x02\xC3\x28"), bad);
}

#[test]
fn refusal_codes() {
    assert_eq!(RefusalCode::new(0), None);
    assert_eq!(RefusalCode::new(3), Some(RefusalCode::ENDPOINT_MISMATCH));
    assert_eq!(
        RefusalCode::ENDPOINT_MISMATCH.to_string(),
        "EndpointMismatch"
    );
    assert_eq!(RefusalCode::new(99).unwrap().to_string(), "code 99");
    let names: Vec<_> = (1..=6)
        .filter_map(|n| RefusalCode::new(n)?.name())
        .collect();
    assert_eq!(names.len(), 6);
}
