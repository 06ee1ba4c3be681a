//! Both machines driven against each other: every split, timeouts, refusals, hostile input.

use std::time::{Duration, Instant};

use underpass_domain::EndpointId;

use super::accept::{self, RejectReason, MAX_EARLY_PAYLOAD};
use super::connect::{self, ConnectFailure};
use super::frame_tests::preamble;
use super::*;

fn certified() -> EndpointId {
    preamble().endpoint
}

fn other_endpoint() -> EndpointId {
    "vpce-0fedcba9876543210".parse().unwrap()
}

struct Clock {
    start: Instant,
}

impl Clock {
    fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }
    fn deadline(&self) -> Instant {
        self.at(5_000)
    }
}

fn drain_accept(a: &mut TunnelAccept) -> Vec<accept::Output> {
    std::iter::from_fn(|| a.poll_output()).collect()
}

fn drain_connect(c: &mut TunnelConnect) -> Vec<connect::Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

/// The preamble bytes the connector sends first.
fn sent_preamble(c: &mut TunnelConnect) -> Vec<u8> {
    match drain_connect(c).as_slice() {
        [connect::Output::Send(bytes)] => bytes.clone(),
        other => panic!("expected one Send, got {other:?}"),
    }
}

/// Feeds `bytes` to the acceptor in the chunks `splits` cut them into.
fn feed_accept(
    a: &mut TunnelAccept,
    now: Instant,
    bytes: &[u8],
    splits: &[usize],
) -> Vec<accept::Output> {
    let mut out = Vec::new();
    let mut from = 0;
    for &to in splits.iter().chain(std::iter::once(&bytes.len())) {
        a.handle(now, accept::Input::Bytes(&bytes[from..to]));
        out.extend(drain_accept(a));
        from = to;
    }
    out
}

fn feed_connect(
    c: &mut TunnelConnect,
    now: Instant,
    bytes: &[u8],
    splits: &[usize],
) -> Vec<connect::Output> {
    let mut out = Vec::new();
    let mut from = 0;
    for &to in splits.iter().chain(std::iter::once(&bytes.len())) {
        c.handle(now, connect::Input::Bytes(&bytes[from..to]));
        out.extend(drain_connect(c));
        from = to;
    }
    out
}

/// The verdict bytes and the final output of an acceptor that has answered.
fn verdict_and_end(out: Vec<accept::Output>) -> (Vec<u8>, accept::Output) {
    match <[accept::Output; 2]>::try_from(out) {
        Ok([accept::Output::Send(verdict), end]) => (verdict, end),
        Ok(other) => panic!("expected Send then an end, got {other:?}"),
        Err(other) => panic!("expected two outputs, got {other:?}"),
    }
}

/// Runs a whole exchange with the preamble and the verdict cut at the given offsets.
fn exchange(
    preamble_splits: &[usize],
    verdict_splits: &[usize],
    decision: Result<(), Refusal>,
) -> (accept::Output, connect::Output) {
    let clock = Clock::new();
    let mut c = TunnelConnect::new(&preamble(), clock.deadline());
    let mut a = TunnelAccept::new(certified(), clock.deadline());
    let wire = sent_preamble(&mut c);
    assert_eq!(
        feed_accept(&mut a, clock.at(1), &wire, preamble_splits),
        vec![accept::Output::Check(preamble())]
    );
    assert_eq!(
        a.poll_timeout(),
        Some(clock.deadline()),
        "still waiting for the decision"
    );
    a.handle(clock.at(2), accept::Input::Decision(decision));
    let (verdict, a_end) = verdict_and_end(drain_accept(&mut a));
    assert!(a.is_done() && a.poll_timeout().is_none());
    let c_out = feed_connect(&mut c, clock.at(3), &verdict, verdict_splits);
    assert!(c.is_done() && c.poll_timeout().is_none());
    let [c_end] = <[connect::Output; 1]>::try_from(c_out).unwrap();
    (a_end, c_end)
}

#[test]
fn admitted_with_every_split_of_the_preamble_and_the_verdict() {
    let len = preamble().encode().len();
    for cut in 0..=len {
        let (a_end, c_end) = exchange(&[cut], &[], Ok(()));
        assert_eq!(
            a_end,
            accept::Output::Admit {
                preamble: preamble(),
                leftover_payload: vec![]
            }
        );
        assert_eq!(c_end, connect::Output::Established { leftover: vec![] });
    }
    for cut in 0..=6 {
        let (_, c_end) = exchange(&[], &[cut], Ok(()));
        assert_eq!(c_end, connect::Output::Established { leftover: vec![] });
    }
    // Byte by byte, both ways.
    let every: Vec<usize> = (1..len).collect();
    let (a_end, c_end) = exchange(&every, &[1, 2, 3, 4, 5], Ok(()));
    assert!(matches!(a_end, accept::Output::Admit { .. }));
    assert!(matches!(c_end, connect::Output::Established { .. }));
}

#[test]
fn refused_with_every_split_of_the_verdict() {
    let refusal = Refusal::new(
        RefusalCode::NOT_ACCEPTED,
        "vpce-0123456789abcdef0 is pendingAcceptance",
    );
    let len = Verdict::Refused(refusal.clone()).encode().len();
    for cut in 0..=len {
        let (a_end, c_end) = exchange(&[7], &[cut], Err(refusal.clone()));
        assert_eq!(
            a_end,
            accept::Output::Close(RejectReason::Refused(refusal.clone()))
        );
        assert_eq!(
            c_end,
            connect::Output::Close(ConnectFailure::Refused(refusal.clone()))
        );
    }
}

#[test]
fn payload_around_the_frames_is_handed_over_in_order() {
    let clock = Clock::new();
    let mut a = TunnelAccept::new(certified(), clock.deadline());
    let mut bytes = preamble().encode();
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
    assert_eq!(
        feed_accept(&mut a, clock.at(1), &bytes, &[]),
        vec![accept::Output::Check(preamble())]
    );
    a.handle(clock.at(2), accept::Input::Bytes(b"Host: x\r\n\r\n"));
    assert!(
        drain_accept(&mut a).is_empty(),
        "payload waits for the decision"
    );
    a.handle(clock.at(3), accept::Input::Decision(Ok(())));
    let (verdict, end) = verdict_and_end(drain_accept(&mut a));
    assert_eq!(
        end,
        accept::Output::Admit {
            preamble: preamble(),
            leftover_payload: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()
        }
    );

    // Server-first protocols: the provider's bytes may share a read with the verdict.
    let mut c = TunnelConnect::new(&preamble(), clock.deadline());
    drain_connect(&mut c);
    let mut reply = verdict;
    reply.extend_from_slice(b"220 smtp ready\r\n");
    let out = feed_connect(&mut c, clock.at(4), &reply, &[3]);
    assert_eq!(
        out,
        vec![connect::Output::Established {
            leftover: b"220 smtp ready\r\n".to_vec()
        }]
    );
    c.handle(clock.at(5), connect::Input::Bytes(b"more"));
    assert!(
        drain_connect(&mut c).is_empty(),
        "after Established the stream belongs to the driver"
    );
}

#[test]
fn a_consumer_cannot_claim_another_endpoint() {
    let clock = Clock::new();
    let mut a = TunnelAccept::new(certified(), clock.deadline());
    let mut c = TunnelConnect::new(
        &Preamble {
            endpoint: other_endpoint(),
            ..preamble()
        },
        clock.deadline(),
    );
    let out = feed_accept(&mut a, clock.at(1), &sent_preamble(&mut c), &[]);
    let (verdict, end) = verdict_and_end(out);
    assert_eq!(
        end,
        accept::Output::Close(RejectReason::EndpointMismatch {
            certified: certified(),
            claimed: other_endpoint()
        })
    );
    match feed_connect(&mut c, clock.at(2), &verdict, &[]).as_slice() {
        [connect::Output::Close(ConnectFailure::Refused(r))] => {
            assert_eq!(r.code, RefusalCode::ENDPOINT_MISMATCH);
            assert!(r.message.contains("vpce-0fedcba9876543210"), "{r}");
        }
        other => panic!("{other:?}"),
    }
    // No Check was ever asked for, and a late decision admits nothing.
    a.handle(clock.at(3), accept::Input::Decision(Ok(())));
    assert!(drain_accept(&mut a).is_empty());
}

#[test]
fn acceptor_times_out_waiting_for_the_preamble_or_the_decision() {
    let clock = Clock::new();
    let wire = preamble().encode();
    // Partial preamble, then the timer: a spurious early fire does nothing, the real one closes.
    let mut a = TunnelAccept::new(certified(), clock.deadline());
    assert_eq!(a.poll_timeout(), Some(clock.deadline()));
    assert!(feed_accept(&mut a, clock.at(1), &wire[..10], &[]).is_empty());
    a.handle(clock.at(4_999), accept::Input::Timeout);
    assert!(drain_accept(&mut a).is_empty());
    a.handle(clock.deadline(), accept::Input::Timeout);
    let (verdict, end) = verdict_and_end(drain_accept(&mut a));
    assert_eq!(end, accept::Output::Close(RejectReason::Timeout));
    assert!(
        matches!(parse_verdict(&verdict), Ok((Verdict::Refused(r), _)) if r.code == RefusalCode::TIMEOUT)
    );
    assert_eq!(a.poll_timeout(), None);

    // A decision that comes too late is a timeout, not an admission.
    let mut a = TunnelAccept::new(certified(), clock.deadline());
    feed_accept(&mut a, clock.at(1), &wire, &[]);
    a.handle(clock.at(6_000), accept::Input::Decision(Ok(())));
    assert_eq!(
        verdict_and_end(drain_accept(&mut a)).1,
        accept::Output::Close(RejectReason::Timeout)
    );

    // Bytes that arrive after the deadline are not parsed at all.
    let mut a = TunnelAccept::new(certified(), clock.deadline());
    let out = feed_accept(&mut a, clock.at(5_001), &wire, &[]);
    assert_eq!(
        verdict_and_end(out).1,
        accept::Output::Close(RejectReason::Timeout)
    );
}

#[test]
fn connector_times_out_and_sees_the_gateway_close() {
    let clock = Clock::new();
    let mut c = TunnelConnect::new(&preamble(), clock.deadline());
    drain_connect(&mut c);
    assert!(feed_connect(&mut c, clock.at(1), b"UPV", &[]).is_empty());
    c.handle(clock.at(10), connect::Input::Timeout);
    assert!(drain_connect(&mut c).is_empty(), "early timer");
    c.handle(clock.deadline(), connect::Input::Timeout);
    assert_eq!(
        drain_connect(&mut c),
        vec![connect::Output::Close(ConnectFailure::Timeout)]
    );
    c.handle(clock.at(6_000), connect::Input::Bytes(b"1\0\0"));
    assert!(drain_connect(&mut c).is_empty(), "done is final");

    let mut c = TunnelConnect::new(&preamble(), clock.deadline());
    drain_connect(&mut c);
    c.handle(clock.at(1), connect::Input::Bytes(b"UPV1\x04"));
    c.handle(clock.at(2), connect::Input::Eof);
    assert_eq!(
        drain_connect(&mut c),
        vec![connect::Output::Close(ConnectFailure::PeerClosed)]
    );

    let mut c = TunnelConnect::new(&preamble(), clock.deadline());
    drain_connect(&mut c);
    let out = feed_connect(&mut c, clock.at(1), b"HTTP/1.1 400 Bad Request\r\n", &[]);
    assert_eq!(
        out,
        vec![connect::Output::Close(ConnectFailure::Malformed(
            "not a tunnel verdict"
        ))]
    );
}

#[test]
fn garbage_and_proxy_headers_are_refused_at_the_first_wrong_byte() {
    let clock = Clock::new();
    let inputs: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
        b"\r\n\r\n\0\r\nQUIT\n!\x11\0\x0c",
        b"\x16\x03\x01\x02\x00",
    ];
    for input in inputs {
        let mut a = TunnelAccept::new(certified(), clock.deadline());
        a.handle(clock.at(1), accept::Input::Bytes(&input[..1]));
        let (verdict, end) = verdict_and_end(drain_accept(&mut a));
        assert_eq!(
            end,
            accept::Output::Close(RejectReason::Malformed("not a tunnel preamble"))
        );
        assert!(
            matches!(parse_verdict(&verdict), Ok((Verdict::Refused(r), _)) if r.code == RefusalCode::MALFORMED)
        );
        a.handle(clock.at(2), accept::Input::Bytes(&input[1..]));
        assert!(drain_accept(&mut a).is_empty(), "nothing after Close");
    }
}

#[test]
fn oversize_preambles_and_early_payload_are_bounded() {
    let clock = Clock::new();
    let mut a = TunnelAccept::new(certified(), clock.deadline());
    let out = feed_accept(&mut a, clock.at(1), b"UPT1\x40\x00", &[]);
    assert_eq!(
        verdict_and_end(out).1,
        accept::Output::Close(RejectReason::Malformed(
            "tunnel preamble is longer than 512 bytes"
        ))
    );

    // Early payload in the preamble's own read, just over the limit.
    let mut a = TunnelAccept::new(certified(), clock.deadline());
    let mut bytes = preamble().encode();
    bytes.resize(bytes.len() + MAX_EARLY_PAYLOAD + 1, b'x');
    let out = feed_accept(&mut a, clock.at(1), &bytes, &[]);
    assert_eq!(
        verdict_and_end(out).1,
        accept::Output::Close(RejectReason::EarlyPayloadLimit)
    );

    // Early payload while the decision is pending: exactly the limit is kept, one more is refused.
    let mut a = TunnelAccept::new(certified(), clock.deadline());
    feed_accept(&mut a, clock.at(1), &preamble().encode(), &[]);
    a.handle(
        clock.at(2),
        accept::Input::Bytes(&vec![b'x'; MAX_EARLY_PAYLOAD]),
    );
    assert!(drain_accept(&mut a).is_empty());
    a.handle(clock.at(3), accept::Input::Bytes(b"y"));
    assert_eq!(
        verdict_and_end(drain_accept(&mut a)).1,
        accept::Output::Close(RejectReason::EarlyPayloadLimit)
    );
}

#[test]
fn eof_before_admission_closes_without_a_verdict() {
    let clock = Clock::new();
    let wire = preamble().encode();
    for sent in [0, 10, wire.len()] {
        let mut a = TunnelAccept::new(certified(), clock.deadline());
        feed_accept(&mut a, clock.at(1), &wire[..sent], &[]);
        a.handle(clock.at(2), accept::Input::Eof);
        let out = drain_accept(&mut a);
        assert_eq!(
            out,
            vec![accept::Output::Close(RejectReason::PeerClosed)],
            "after {sent} bytes"
        );
        assert!(a.is_done());
    }
}

#[test]
fn a_decision_without_a_check_is_ignored() {
    let clock = Clock::new();
    let mut a = TunnelAccept::new(certified(), clock.deadline());
    a.handle(clock.at(1), accept::Input::Decision(Ok(())));
    assert!(drain_accept(&mut a).is_empty());
    assert!(!a.is_done());
    let out = feed_accept(&mut a, clock.at(2), &preamble().encode(), &[]);
    assert_eq!(out, vec![accept::Output::Check(preamble())]);
}
