//! Queries off the wire and replies onto it. Pure: no sockets, no clocks.
//!
//! A query is read strictly (STYLE pattern 2, RELIABILITY item 79): exactly one question, no
//! answer or authority records, at most two additional records of which at most one OPT, and
//! nothing after the last record. The header is checked before anything is allocated, so
//! QDCOUNT 65,535 costs no more than any other bad packet. A packet that is not a query (a
//! response, a runt) is dropped; anything else that is wrong gets FORMERR or NOTIMP.
//!
//! Replies over UDP fit the client's EDNS buffer, capped at 1232 bytes (512 without EDNS);
//! above that the reply is the question alone with TC=1 (RFC 2181 section 9), so the client
//! retries over TCP.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// Largest UDP reply (the DNS flag day 2020 figure, RELIABILITY item 80).
pub const MAX_UDP_PAYLOAD: u16 = 1232;
/// UDP reply size without EDNS (RFC 1035).
pub const MIN_UDP_PAYLOAD: u16 = 512;
/// Largest DNS message over TCP (the two-byte length prefix).
pub const MAX_TCP_MESSAGE: usize = 65_535;
/// Additional records a query may carry (OPT, and one more such as a cookie-less TSIG).
const MAX_ADDITIONAL: u16 = 2;

/// How the query arrived: it decides the reply size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Datagrams: replies are capped.
    Udp,
    /// A stream with a length prefix: replies up to 65,535 bytes.
    Tcp,
}

/// The EDNS(0) facts of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdnsInfo {
    /// The client's UDP buffer size.
    pub max_payload: u16,
    /// The EDNS version (only 0 exists).
    pub version: u8,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    /// The client's message id.
    pub id: u16,
    /// RD.
    pub recursion_desired: bool,
    /// CD, echoed back.
    pub checking_disabled: bool,
    /// The one question, with the client's spelling of the name.
    pub question: hickory_proto::op::Query,
    /// EDNS(0), if the query carried an OPT record.
    pub edns: Option<EdnsInfo>,
    /// Who asked.
    pub client: IpAddr,
    /// How.
    pub transport: Transport,
}

impl Query {
    /// A query as a client would send it (for tests, benches and the forwarder).
    pub fn new(
        name: hickory_proto::rr::Name,
        qtype: RecordType,
        client: IpAddr,
        transport: Transport,
    ) -> Self {
        Self {
            id: 0,
            recursion_desired: true,
            checking_disabled: false,
            question: hickory_proto::op::Query::query(name, qtype),
            edns: Some(EdnsInfo {
                max_payload: MAX_UDP_PAYLOAD,
                version: 0,
            }),
            client,
            transport,
        }
    }

    /// The largest reply this query may get.
    pub fn reply_limit(&self) -> usize {
        match self.transport {
            Transport::Tcp => MAX_TCP_MESSAGE,
            Transport::Udp => usize::from(
                self.edns
                    .map_or(MIN_UDP_PAYLOAD, |e| e.max_payload)
                    .clamp(MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD),
            ),
        }
    }
}

/// Why a packet gets no normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Not worth a reply: shorter than a header, or a response (never answer those: no loops,
    /// no reflection).
    Drop,
    /// A ready reply (FORMERR or NOTIMP).
    Reply(Vec<u8>),
}

fn error_reply(id: u16, op_code: u8, rd: bool, rcode: ResponseCode) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    out.extend_from_slice(&id.to_be_bytes());
    out.push(0x80 | ((op_code & 0x0f) << 3) | u8::from(rd));
    out.push(rcode.low());
    out.extend_from_slice(&[0; 8]);
    out
}

/// Reads one query (see the module documentation for what is refused).
pub fn parse_query(packet: &[u8], client: IpAddr, transport: Transport) -> Result<Query, Rejected> {
    let Some(header) = packet.get(..12) else {
        return Err(Rejected::Drop);
    };
    if header[2] & 0x80 != 0 {
        return Err(Rejected::Drop);
    }
    let id = u16::from_be_bytes([header[0], header[1]]);
    let op_code = (header[2] >> 3) & 0x0f;
    let rd = header[2] & 0x01 != 0;
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let formerr = || Rejected::Reply(error_reply(id, op_code, rd, ResponseCode::FormErr));
    if op_code != u8::from(OpCode::Query) {
        return Err(Rejected::Reply(error_reply(
            id,
            op_code,
            rd,
            ResponseCode::NotImp,
        )));
    }
    if count(4) != 1 || count(6) != 0 || count(8) != 0 || count(10) > MAX_ADDITIONAL {
        return Err(formerr());
    }
    let mut decoder = BinDecoder::new(packet);
    decoder.read_slice(12).map_err(|_| formerr())?;
    let question = hickory_proto::op::Query::read(&mut decoder).map_err(|_| formerr())?;
    if matches!(question.query_type(), RecordType::OPT) {
        return Err(formerr());
    }
    let mut edns = None;
    for _ in 0..count(10) {
        let record = Record::read(&mut decoder).map_err(|_| formerr())?;
        if record.record_type() == RecordType::OPT {
            // RFC 6891 6.1.1: one OPT, owned by the root.
            if edns.is_some() || !record.name.is_root() {
                return Err(formerr());
            }
            edns = Some(EdnsInfo {
                max_payload: u16::from(record.dns_class),
                version: u8::try_from((record.ttl >> 16) & 0xff).unwrap_or(u8::MAX),
            });
        }
    }
    if !decoder.is_empty() {
        return Err(formerr());
    }
    Ok(Query {
        id,
        recursion_desired: rd,
        checking_disabled: header[3] & 0x10 != 0,
        question,
        edns,
        client,
        transport,
    })
}

/// A reply before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The response code.
    pub rcode: ResponseCode,
    /// AA: the name is in one of the resolver's zones.
    pub authoritative: bool,
    /// RA: this client may recurse.
    pub recursion_available: bool,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section (the SOA of negative answers).
    pub authorities: Vec<Record>,
}

impl Reply {
    /// An empty reply with `rcode`.
    pub fn rcode(rcode: ResponseCode) -> Self {
        Self {
            rcode,
            authoritative: false,
            recursion_available: false,
            answers: Vec::new(),
            authorities: Vec::new(),
        }
    }
}

fn response_message(q: &Query, reply: &Reply) -> Message {
    let mut m = Message::response(q.id, OpCode::Query);
    m.metadata.message_type = MessageType::Response;
    m.metadata.authoritative = reply.authoritative;
    m.metadata.recursion_desired = q.recursion_desired;
    m.metadata.recursion_available = reply.recursion_available;
    m.metadata.checking_disabled = q.checking_disabled;
    m.metadata.response_code = reply.rcode;
    m.add_query(q.question.clone());
    if q.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP_PAYLOAD);
        edns.set_version(0);
        m.set_edns(edns);
    }
    m
}

/// Encodes `reply` to `q`, truncated (TC=1, question only) when it exceeds the query's limit.
pub fn encode_reply(q: &Query, reply: &Reply) -> Vec<u8> {
    let mut m = response_message(q, reply);
    m.add_answers(reply.answers.iter().cloned());
    m.add_authorities(reply.authorities.iter().cloned());
    finish(q, &m)
}

/// Encodes a complete message for `q`, truncating to the query's limit.
pub(crate) fn finish(q: &Query, m: &Message) -> Vec<u8> {
    let limit = q.reply_limit();
    match m.to_vec() {
        Ok(bytes) if bytes.len() <= limit => bytes,
        Ok(_) => {
            let mut t = response_message(
                q,
                &Reply {
                    rcode: m.metadata.response_code,
                    authoritative: m.metadata.authoritative,
                    recursion_available: m.metadata.recursion_available,
                    answers: Vec::new(),
                    authorities: Vec::new(),
                },
            );
            t.metadata.truncation = true;
            t.to_vec().unwrap_or_else(|_| servfail(q))
        }
        Err(_) => servfail(q),
    }
}

/// SERVFAIL for `q`, without sections (a last resort that cannot fail to encode).
pub fn servfail(q: &Query) -> Vec<u8> {
    error_reply(q.id, 0, q.recursion_desired, ResponseCode::ServFail)
}

/// Whether a query's class is one the resolver serves.
pub(crate) fn is_internet(q: &Query) -> bool {
    q.question.query_class() == DNSClass::IN
}
