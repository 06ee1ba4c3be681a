//! The resolver's decisions, without I/O: [`answer`] says what a query gets from a
//! [`ZoneSet`], [`handle`] takes a packet to bytes (or to "forward this"), and [`relay`] turns
//! an upstream's reply into the client's.
//!
//! - Clients outside the VPC get REFUSED for everything: no recursion, and no look at the
//!   VPC's names either.
//! - A name inside one of the zones is answered here, authoritatively, and never forwarded: A
//!   records with TTL 60; NODATA (NOERROR, empty answer) for other types and for names that
//!   exist only as parents of others (RFC 8020); NXDOMAIN otherwise; the zone's SOA in the
//!   authority section of both negative answers (RFC 2308). ANY gets the A records alone (a
//!   minimal answer, RFC 8482); zone transfers are refused.
//! - Other names are forwarded, except ANY (NOTIMP: no amplification through us) and transfers.

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use crate::wire::{self, encode_reply, is_internet, parse_query, Query, Rejected, Reply};
use crate::zone::{Found, ZoneSet};

/// What a query gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// This reply.
    Reply(Reply),
    /// Whatever the upstream resolvers say (through [`relay`]).
    Forward,
}

/// Decides what `q` gets from `zones` (see the module documentation).
pub fn answer(zones: &ZoneSet, q: &Query) -> Answer {
    if !zones.allows(q.client) {
        return Answer::Reply(Reply::rcode(ResponseCode::Refused));
    }
    let refused_or = |rcode| {
        let mut r = Reply::rcode(rcode);
        r.recursion_available = true;
        Answer::Reply(r)
    };
    if q.edns.is_some_and(|e| e.version > 0) {
        return refused_or(ResponseCode::BADVERS);
    }
    if !is_internet(q) {
        return refused_or(ResponseCode::Refused);
    }
    let name = q.question.name();
    let qtype = q.question.query_type();
    if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
        return refused_or(ResponseCode::Refused);
    }
    let Some(zone) = zones.zone_of(name) else {
        return match qtype {
            RecordType::ANY => refused_or(ResponseCode::NotImp),
            _ => Answer::Forward,
        };
    };
    let mut r = Reply::rcode(ResponseCode::NoError);
    r.authoritative = true;
    r.recursion_available = true;
    match zones.find(zone, name) {
        Found::Records(rs) if matches!(qtype, RecordType::A | RecordType::ANY) => {
            r.answers = rs.to_vec();
        }
        Found::Records(_) | Found::NoData => {
            if qtype == RecordType::SOA && name == zone.apex() {
                r.answers.push(zone.soa().clone());
            } else {
                r.authorities.push(zone.soa().clone());
            }
        }
        Found::NxDomain => {
            r.rcode = ResponseCode::NXDomain;
            r.authorities.push(zone.soa().clone());
        }
    }
    Answer::Reply(r)
}

/// What to do with one packet.
#[derive(Debug, Clone)]
pub enum Handled {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Forward this query upstream, then [`relay`] the answer.
    Forward(Query),
    /// Send nothing.
    Drop,
}

/// Takes one packet from `client` to its reply, or to a forwarding decision.
pub fn handle(
    zones: &ZoneSet,
    packet: &[u8],
    client: std::net::IpAddr,
    transport: wire::Transport,
) -> Handled {
    match parse_query(packet, client, transport) {
        Err(Rejected::Drop) => Handled::Drop,
        Err(Rejected::Reply(bytes)) => Handled::Reply(bytes),
        Ok(q) => match answer(zones, &q) {
            Answer::Reply(r) => Handled::Reply(encode_reply(&q, &r)),
            Answer::Forward => Handled::Forward(q),
        },
    }
}

/// Why an upstream's reply was not relayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// Not a reply to this question.
    #[error("upstream reply does not answer the question: {0}")]
    Mismatch(&'static str),
    /// Not a readable DNS message.
    #[error("upstream reply does not parse")]
    Malformed,
}

/// Checks that `reply` is a response with one question equal to `question` (name without
/// regard to case, type, class); returns the id. Cheap: the header is checked before any
/// allocation.
pub fn check_reply(reply: &[u8], question: &hickory_proto::op::Query) -> Result<u16, RelayError> {
    let header = reply.get(..12).ok_or(RelayError::Malformed)?;
    if header[2] & 0x80 == 0 {
        return Err(RelayError::Mismatch("not a response"));
    }
    if u16::from_be_bytes([header[4], header[5]]) != 1 {
        return Err(RelayError::Mismatch("not exactly one question"));
    }
    let mut d = BinDecoder::new(reply);
    d.read_slice(12).map_err(|_| RelayError::Malformed)?;
    let q = hickory_proto::op::Query::read(&mut d).map_err(|_| RelayError::Malformed)?;
    if q.name() != question.name()
        || q.query_type() != question.query_type()
        || q.query_class() != question.query_class()
    {
        return Err(RelayError::Mismatch("another question"));
    }
    Ok(u16::from_be_bytes([header[0], header[1]]))
}

/// Turns an upstream's reply into the reply to `q`: the client's id, question and flags, the
/// upstream's code; only answers that belong to the question (the name, and CNAME targets
/// reached from it) and SOA/NS records of zones above the name are kept; the additional
/// section is dropped (RELIABILITY item 81: nothing out of bailiwick reaches a client). The
/// result fits the client's size limit (TC=1 otherwise).
pub fn relay(q: &Query, upstream: &[u8]) -> Result<Vec<u8>, RelayError> {
    check_reply(upstream, &q.question)?;
    let up = Message::from_vec(upstream).map_err(|_| RelayError::Malformed)?;
    let qtype = q.question.query_type();
    let mut names: Vec<Name> = vec![q.question.name().clone()];
    let mut keep = vec![false; up.answers.len()];
    // CNAME chains may come in any order: repeat until nothing new is reached (bounded).
    for _ in 0..8 {
        let mut grew = false;
        for (i, rec) in up.answers.iter().enumerate() {
            if keep[i] || rec.dns_class != DNSClass::IN || !names.contains(&rec.name) {
                continue;
            }
            match &rec.data {
                RData::CNAME(target) => {
                    keep[i] = true;
                    if !names.contains(&target.0) {
                        names.push(target.0.clone());
                        grew = true;
                    }
                }
                _ if rec.record_type() == qtype || qtype == RecordType::ANY => keep[i] = true,
                _ => {}
            }
        }
        if !grew {
            break;
        }
    }
    let answers: Vec<Record> = up
        .answers
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(r, _)| r.clone())
        .collect();
    let authorities: Vec<Record> = up
        .authorities
        .iter()
        .filter(|r| {
            matches!(r.record_type(), RecordType::SOA | RecordType::NS)
                && r.name.zone_of(q.question.name())
        })
        .cloned()
        .collect();
    let reply = Reply {
        rcode: up.metadata.response_code,
        authoritative: false,
        recursion_available: true,
        answers,
        authorities,
    };
    Ok(encode_reply(q, &reply))
}

/// A query message for `question` with `id` (RD set, EDNS with our buffer size), as the
/// forwarder and the verifier send it.
pub fn query_message(id: u16, question: &hickory_proto::op::Query) -> Result<Vec<u8>, RelayError> {
    let mut m = Message::new(id, hickory_proto::op::MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(question.clone());
    let mut edns = hickory_proto::op::Edns::new();
    edns.set_max_payload(wire::MAX_UDP_PAYLOAD);
    m.set_edns(edns);
    m.to_vec().map_err(|_| RelayError::Malformed)
}
