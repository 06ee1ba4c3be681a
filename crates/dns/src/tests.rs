//! The resolver's decisions without sockets: answers, negative answers, refusals, truncation,
//! malformed packets and relayed replies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query as Question, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, NS};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use underpass_proto::sync::{DnsConfig, DnsRecord};

use crate::answer::{answer, handle, relay, Answer, Handled};
use crate::wire::{parse_query, Query, Rejected, Transport};
use crate::zone::{ZoneError, ZoneSet};

const APEX: &str = "us-east-1.vpce.underpass.internal";
const REGIONAL: &str =
    "vpce-0123456789abcdef0-abcdefgh.vpce-svc-0fedcba9876543210.us-east-1.vpce.underpass.internal";
const ZONAL_A: &str = "vpce-0123456789abcdef0-abcdefgh-us-east-1a.vpce-svc-0fedcba9876543210.us-east-1.vpce.underpass.internal";
const ZONAL_B: &str = "vpce-0123456789abcdef0-abcdefgh-us-east-1b.vpce-svc-0fedcba9876543210.us-east-1.vpce.underpass.internal";
const PRIVATE: &str = "web.service.provider.local";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn config() -> DnsConfig {
    DnsConfig {
        resolver: ip("10.20.0.2"),
        vpc_cidrs: vec!["10.20.0.0/16".parse().unwrap()],
        zones: vec![APEX.into(), PRIVATE.into()],
        records: vec![
            DnsRecord {
                name: REGIONAL.into(),
                addrs: vec![ip("10.20.1.4"), ip("10.20.2.4")],
            },
            DnsRecord {
                name: ZONAL_A.into(),
                addrs: vec![ip("10.20.1.4")],
            },
            DnsRecord {
                name: ZONAL_B.into(),
                addrs: vec![ip("10.20.2.4")],
            },
            DnsRecord {
                name: PRIVATE.into(),
                addrs: vec![ip("10.20.1.4"), ip("10.20.2.4")],
            },
        ],
        upstreams: vec!["127.0.0.1:53".parse().unwrap()],
        serial: 7,
    }
}

fn zones() -> ZoneSet {
    let (z, rejected) = ZoneSet::build(&config());
    assert!(rejected.is_empty(), "{rejected:?}");
    z
}

fn name(s: &str) -> Name {
    Name::from_ascii(format!("{s}.")).unwrap()
}

const INSIDE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 20, 1, 50));

fn q(n: &str, t: RecordType) -> Query {
    Query::new(name(n), t, INSIDE, Transport::Udp)
}

fn reply(zones: &ZoneSet, query: &Query) -> crate::wire::Reply {
    match answer(zones, query) {
        Answer::Reply(r) => r,
        Answer::Forward => panic!("{} was forwarded", query.question.name()),
    }
}

fn addrs(r: &crate::wire::Reply) -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = r
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

#[test]
fn regional_name_answers_every_zone_zonal_names_their_own() {
    let z = zones();
    let r = reply(&z, &q(REGIONAL, RecordType::A));
    assert_eq!(r.rcode, ResponseCode::NoError);
    assert!(r.authoritative && r.recursion_available);
    assert_eq!(addrs(&r), vec![ip("10.20.1.4"), ip("10.20.2.4")]);
    assert!(r.answers.iter().all(|a| a.ttl == 60));
    assert_eq!(
        addrs(&reply(&z, &q(ZONAL_A, RecordType::A))),
        vec![ip("10.20.1.4")]
    );
    assert_eq!(
        addrs(&reply(&z, &q(ZONAL_B, RecordType::A))),
        vec![ip("10.20.2.4")]
    );
    // Names are matched without regard to case.
    let upper = REGIONAL.to_ascii_uppercase();
    assert_eq!(addrs(&reply(&z, &q(&upper, RecordType::A))).len(), 2);
}

#[test]
fn negative_answers_follow_rfc_2308() {
    let z = zones();
    // AAAA of a name with A records: NODATA, SOA in authority.
    let r = reply(&z, &q(REGIONAL, RecordType::AAAA));
    assert_eq!(r.rcode, ResponseCode::NoError);
    assert!(r.answers.is_empty());
    assert_eq!(r.authorities.len(), 1);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(r.authorities[0].name, name(APEX));
    assert_eq!(r.authorities[0].ttl, 60);
    // An unknown type: NODATA too.
    let r = reply(&z, &q(REGIONAL, RecordType::Unknown(65_280)));
    assert_eq!((r.rcode, r.answers.len()), (ResponseCode::NoError, 0));
    // A name that does not exist: NXDOMAIN with the SOA.
    let r = reply(&z, &q(&format!("nope.{APEX}"), RecordType::A));
    assert_eq!(r.rcode, ResponseCode::NXDomain);
    assert!(r.authoritative);
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA);
    // The service's base name exists only as a parent: NODATA, not NXDOMAIN (RFC 8020).
    let r = reply(
        &z,
        &q(&format!("vpce-svc-0fedcba9876543210.{APEX}"), RecordType::A),
    );
    assert_eq!((r.rcode, r.answers.len()), (ResponseCode::NoError, 0));
    // The apex: its SOA when asked, NODATA for A.
    let r = reply(&z, &q(APEX, RecordType::SOA));
    assert_eq!(r.answers[0].record_type(), RecordType::SOA);
    let r = reply(&z, &q(APEX, RecordType::A));
    assert_eq!((r.rcode, r.answers.len()), (ResponseCode::NoError, 0));
}

#[test]
fn private_name_is_its_own_zone() {
    let z = zones();
    let r = reply(&z, &q(PRIVATE, RecordType::A));
    assert_eq!(addrs(&r), vec![ip("10.20.1.4"), ip("10.20.2.4")]);
    let r = reply(&z, &q(&format!("x.{PRIVATE}"), RecordType::A));
    assert_eq!(r.rcode, ResponseCode::NXDomain);
    assert_eq!(r.authorities[0].name, name(PRIVATE));
    // The provider's other names are not ours: forwarded.
    assert_eq!(
        answer(&z, &q("other.service.provider.local", RecordType::A)),
        Answer::Forward
    );
    assert_eq!(
        answer(&z, &q("example.com", RecordType::A)),
        Answer::Forward
    );
    assert_eq!(
        answer(&z, &q("example.com", RecordType::AAAA)),
        Answer::Forward
    );
}

#[test]
fn clients_outside_the_vpc_are_refused_everything() {
    let z = zones();
    for n in [REGIONAL, "example.com"] {
        let mut query = q(n, RecordType::A);
        query.client = IpAddr::V4(ip("10.21.0.9"));
        let r = reply(&z, &query);
        assert_eq!(r.rcode, ResponseCode::Refused);
        assert!(r.answers.is_empty() && !r.recursion_available);
    }
    // A loopback VPC admits any loopback client (dev mode), and no other.
    let mut cfg = config();
    cfg.vpc_cidrs = vec!["127.20.0.0/16".parse().unwrap()];
    let (z, _) = ZoneSet::build(&cfg);
    assert!(z.allows(IpAddr::V4(ip("127.0.0.1"))));
    assert!(!z.allows(IpAddr::V4(ip("10.20.1.50"))));
}

#[test]
fn any_is_minimal_transfers_are_refused_and_edns_versions_checked() {
    let z = zones();
    let r = reply(&z, &q(REGIONAL, RecordType::ANY));
    assert_eq!(addrs(&r).len(), 2);
    assert!(r.answers.iter().all(|a| a.record_type() == RecordType::A));
    assert_eq!(
        reply(&z, &q("example.com", RecordType::ANY)).rcode,
        ResponseCode::NotImp
    );
    for t in [RecordType::AXFR, RecordType::IXFR] {
        assert_eq!(reply(&z, &q(APEX, t)).rcode, ResponseCode::Refused);
        assert_eq!(reply(&z, &q("example.com", t)).rcode, ResponseCode::Refused);
    }
    let mut query = q(REGIONAL, RecordType::A);
    query.edns = Some(crate::wire::EdnsInfo {
        max_payload: 1232,
        version: 1,
    });
    assert_eq!(reply(&z, &query).rcode, ResponseCode::BADVERS);
    let mut query = q(REGIONAL, RecordType::A);
    query
        .question
        .set_query_class(hickory_proto::rr::DNSClass::CH);
    assert_eq!(reply(&z, &query).rcode, ResponseCode::Refused);
}

fn packet(n: &str, t: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(4242, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Question::query(name(n), t));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn reply_bytes(z: &ZoneSet, p: &[u8], t: Transport) -> Vec<u8> {
    match handle(z, p, INSIDE, t) {
        Handled::Reply(b) => b,
        other => panic!("no reply: {other:?}"),
    }
}

#[test]
fn big_answers_are_truncated_over_udp_and_whole_over_tcp() {
    let mut cfg = config();
    let big = format!("big.{APEX}");
    cfg.records.push(DnsRecord {
        name: big.clone(),
        addrs: (0..200u8).map(|i| Ipv4Addr::new(10, 20, 3, i)).collect(),
    });
    let (z, _) = ZoneSet::build(&cfg);
    for (edns, limit) in [
        (None, 512),
        (Some(4096), 1232),
        (Some(65_535), 1232),
        (Some(1), 512),
    ] {
        let p = packet(&big, RecordType::A, edns);
        let out = reply_bytes(&z, &p, Transport::Udp);
        assert!(out.len() <= limit, "{} > {limit}", out.len());
        let m = Message::from_vec(&out).unwrap();
        assert!(m.metadata.truncation, "TC not set for {edns:?}");
        assert!(m.answers.is_empty());
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.metadata.id, 4242);
        // Amplification stays below the cap's ratio.
        assert!(out.len() <= p.len() * 20);
    }
    let out = reply_bytes(&z, &packet(&big, RecordType::A, None), Transport::Tcp);
    let m = Message::from_vec(&out).unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 200);
    // A normal answer fits and is not truncated.
    let out = reply_bytes(
        &z,
        &packet(REGIONAL, RecordType::A, Some(1232)),
        Transport::Udp,
    );
    let m = Message::from_vec(&out).unwrap();
    assert!(!m.metadata.truncation && m.metadata.authoritative);
    assert_eq!(m.answers.len(), 2);
    assert!(m.edns.is_some(), "an EDNS query gets an OPT back");
}

fn rcode_of(bytes: &[u8]) -> u8 {
    bytes[3] & 0x0f
}

#[test]
fn malformed_packets_get_formerr_or_nothing() {
    let good = packet(REGIONAL, RecordType::A, Some(1232));
    let mut cases: Vec<(&str, Vec<u8>, Option<u8>)> = Vec::new();
    cases.push(("empty", vec![], None));
    cases.push(("runt header", good[..11].to_vec(), None));
    let mut response = good.clone();
    response[2] |= 0x80;
    cases.push(("a response", response, None));
    let mut no_question = good[..12].to_vec();
    no_question[5] = 0;
    cases.push(("no question", no_question, Some(1)));
    let mut many = good[..12].to_vec();
    many[4] = 0xff;
    many[5] = 0xff;
    cases.push(("QDCOUNT 65535, no questions", many, Some(1)));
    cases.push(("truncated question", good[..20].to_vec(), Some(1)));
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"garbage");
    cases.push(("trailing garbage", trailing, Some(1)));
    // A label of 64 bytes.
    let mut long_label = good[..12].to_vec();
    long_label[10] = 0;
    long_label[11] = 0;
    long_label.push(64);
    long_label.extend_from_slice(&[b'a'; 64]);
    long_label.extend_from_slice(&[0, 0, 1, 0, 1]);
    cases.push(("label over 63", long_label, Some(1)));
    // A name over 255 bytes: five labels of 60.
    let mut long_name = good[..12].to_vec();
    long_name[11] = 0;
    for _ in 0..5 {
        long_name.push(60);
        long_name.extend_from_slice(&[b'a'; 60]);
    }
    long_name.extend_from_slice(&[0, 0, 1, 0, 1]);
    cases.push(("name over 255", long_name, Some(1)));
    // A compression pointer to itself.
    let mut looped = good[..12].to_vec();
    looped[11] = 0;
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    cases.push(("pointer loop", looped, Some(1)));
    // A pointer forward past the end.
    let mut forward = good[..12].to_vec();
    forward[11] = 0;
    forward.extend_from_slice(&[0xc0, 200, 0, 1, 0, 1]);
    cases.push(("pointer past the end", forward, Some(1)));
    // Two OPT records.
    let opt = &good[good.len() - 11..];
    let mut two_opt = good.clone();
    two_opt[11] = 2;
    two_opt.extend_from_slice(opt);
    cases.push(("two OPT records", two_opt, Some(1)));
    // An answer record in a query.
    let mut with_answer = good.clone();
    with_answer[7] = 1;
    cases.push(("ANCOUNT 1", with_answer, Some(1)));
    // OPT as the question type.
    cases.push((
        "qtype OPT",
        packet(REGIONAL, RecordType::OPT, None),
        Some(1),
    ));
    // Opcodes other than QUERY.
    let mut update = good.clone();
    update[2] = (5 << 3) | 1;
    cases.push(("UPDATE", update, Some(4)));
    let mut status = good.clone();
    status[2] = 2 << 3;
    cases.push(("STATUS", status, Some(4)));

    let z = zones();
    for (what, p, want) in cases {
        for t in [Transport::Udp, Transport::Tcp] {
            match (handle(&z, &p, INSIDE, t), want) {
                (Handled::Drop, None) => {}
                (Handled::Reply(b), Some(code)) => {
                    assert_eq!(rcode_of(&b), code, "{what}");
                    assert_eq!(&b[..2], &p[..2], "{what}: id echoed");
                    assert!(b[2] & 0x80 != 0, "{what}: QR set");
                }
                (other, _) => panic!("{what}: {other:?}, wanted {want:?}"),
            }
        }
    }
    assert!(matches!(
        parse_query(&good, INSIDE, Transport::Udp),
        Ok(Query { id: 4242, .. })
    ));
    assert_eq!(
        parse_query(&good[..3], INSIDE, Transport::Udp).unwrap_err(),
        Rejected::Drop
    );
}

#[test]
fn zone_never_holds_injected_names() {
    let mut cfg = config();
    for bad in [
        "evil.example.com",
        "web.service.provider.local\n.x",
        "a b.us-east-1.vpce.underpass.internal",
        "*.us-east-1.vpce.underpass.internal",
        "a\\.b.us-east-1.vpce.underpass.internal",
        "UPPER.us-east-1.vpce.underpass.internal",
        "",
    ] {
        cfg.records.push(DnsRecord {
            name: bad.into(),
            addrs: vec![ip("6.6.6.6")],
        });
    }
    cfg.zones.push("bad zone".into());
    let (z, rejected) = ZoneSet::build(&cfg);
    assert_eq!(rejected.len(), 8, "{rejected:?}");
    assert!(rejected.contains(&ZoneError::OutOfZone("evil.example.com".into())));
    let dump = z.dump();
    assert_eq!(dump.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), {
        let mut v = vec![PRIVATE, REGIONAL, ZONAL_A, ZONAL_B];
        v.sort();
        v
    });
    assert!(dump.iter().all(|(_, a)| !a.contains(&ip("6.6.6.6"))));
}

fn upstream_reply(q: &Query, edit: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut m = Message::response(999, OpCode::Query);
    m.metadata.recursion_available = true;
    m.add_query(q.question.clone());
    edit(&mut m);
    m.to_vec().unwrap()
}

#[test]
fn relayed_replies_keep_only_what_answers_the_question() {
    let mut query = q("www.example.com", RecordType::A);
    query.id = 77;
    let up = upstream_reply(&query, |m| {
        m.add_answer(Record::from_rdata(
            name("www.example.com"),
            300,
            RData::CNAME(CNAME(name("web.example.net"))),
        ));
        m.add_answer(Record::from_rdata(
            name("web.example.net"),
            300,
            RData::A(A(ip("192.0.2.10"))),
        ));
        // Not reached from the question: dropped.
        m.add_answer(Record::from_rdata(
            name("bank.example.org"),
            300,
            RData::A(A(ip("192.0.2.66"))),
        ));
        // Out-of-bailiwick NS (the sibling-zone trick): dropped; the parent's NS is kept.
        m.add_authority(Record::from_rdata(
            name("example.org"),
            300,
            RData::NS(NS(name("ns.evil.example"))),
        ));
        m.add_authority(Record::from_rdata(
            name("example.com"),
            300,
            RData::NS(NS(name("ns.example.com"))),
        ));
        m.add_additional(Record::from_rdata(
            name("ns.evil.example"),
            300,
            RData::A(A(ip("192.0.2.99"))),
        ));
    });
    let out = relay(&query, &up).unwrap();
    let m = Message::from_vec(&out).unwrap();
    assert_eq!(m.metadata.id, 77);
    assert!(!m.metadata.authoritative && m.metadata.recursion_available);
    let names: Vec<String> = m.answers.iter().map(|r| r.name.to_string()).collect();
    assert_eq!(names, vec!["www.example.com.", "web.example.net."]);
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(m.authorities[0].name, name("example.com"));
    assert!(m.additionals.is_empty());
    // A reply to another question is refused.
    let other = q("www.example.org", RecordType::A);
    assert!(relay(&query, &upstream_reply(&other, |_| {})).is_err());
    // So is a query, and garbage.
    assert!(relay(&query, &packet("www.example.com", RecordType::A, None)).is_err());
    assert!(relay(&query, b"\x00\x01").is_err());
    // NXDOMAIN passes through.
    let nx = upstream_reply(&query, |m| {
        m.metadata.response_code = ResponseCode::NXDomain;
    });
    let m = Message::from_vec(&relay(&query, &nx).unwrap()).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}
