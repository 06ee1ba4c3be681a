//! Property tests for the tunnel preamble: round trips, no panics, machines under any chunking.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use underpass_domain::EndpointId;
use underpass_proto::tunnel::{
    accept, connect, parse_preamble, parse_verdict, Preamble, Refusal, RefusalCode, TunnelAccept,
    TunnelConnect, Verdict,
};
use underpass_proto::ParseError;

fn any_socket() -> impl Strategy<Value = SocketAddr> {
    let ip = prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ];
    (ip, any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip, port))
}

fn any_preamble() -> impl Strategy<Value = Preamble> {
    (
        any::<u128>(),
        any::<u16>(),
        any_socket(),
        any_socket(),
        any::<u64>(),
    )
        .prop_map(|(id, service_port, client, eni, flow_id)| Preamble {
            endpoint: EndpointId::from_bits(id),
            service_port,
            client,
            eni,
            flow_id,
        })
}

/// Cuts `bytes` into chunks at the given (sorted, deduplicated) offsets.
fn chunks(bytes: &[u8], mut cuts: Vec<usize>) -> Vec<&[u8]> {
    cuts.retain(|&c| c < bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut from = 0;
    for to in cuts.into_iter().chain(std::iter::once(bytes.len())) {
        out.push(&bytes[from..to]);
        from = to;
    }
    out
}

proptest! {
    #[test]
    fn preamble_round_trips(p in any_preamble(), trailing in prop::collection::vec(any::<u8>(), 0..16)) {
        let mut bytes = p.encode();
        let len = bytes.len();
        prop_assert!(len <= 72);
        bytes.extend_from_slice(&trailing);
        prop_assert_eq!(parse_preamble(&bytes), Ok((p, len)));
    }

    #[test]
    fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), magic in 0u8..3) {
        let mut input = match magic {
            0 => b"UPT1".to_vec(),
            1 => b"UPV1".to_vec(),
            _ => Vec::new(),
        };
        input.extend_from_slice(&bytes);
        for result in [parse_preamble(&input).map(|(_, n)| n), parse_verdict(&input).map(|(_, n)| n)] {
            match result {
                Ok(used) => prop_assert!(used <= input.len()),
                Err(ParseError::Incomplete { needed }) => prop_assert!(needed > 0 && input.len() + needed <= 512),
                Err(ParseError::Invalid(_)) => {}
            }
        }
    }

    #[test]
    fn machines_agree_under_any_chunking(
        p in any_preamble(),
        preamble_cuts in prop::collection::vec(0usize..80, 0..6),
        verdict_cuts in prop::collection::vec(0usize..300, 0..6),
        refuse in proptest::option::of((1u8.., ".{0,80}")),
        early in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(5);
        let mut c = TunnelConnect::new(&p, deadline);
        let Some(connect::Output::Send(mut wire)) = c.poll_output() else { panic!("preamble first") };
        wire.extend_from_slice(&early);
        let mut a = TunnelAccept::new(p.endpoint, deadline);
        let mut outputs = Vec::new();
        for chunk in chunks(&wire, preamble_cuts) {
            a.handle(now, accept::Input::Bytes(chunk));
            outputs.extend(std::iter::from_fn(|| a.poll_output()));
        }
        prop_assert_eq!(outputs, vec![accept::Output::Check(p.clone())]);
        let refusal = refuse.and_then(|(code, text)| Some(Refusal::new(RefusalCode::new(code)?, text)));
        a.handle(now, accept::Input::Decision(refusal.clone().map_or(Ok(()), Err)));
        let Some(accept::Output::Send(verdict)) = a.poll_output() else { panic!("verdict first") };
        let a_end = a.poll_output();
        for chunk in chunks(&verdict, verdict_cuts) {
            c.handle(now, connect::Input::Bytes(chunk));
        }
        let c_end = c.poll_output();
        match refusal {
            None => {
                prop_assert_eq!(a_end, Some(accept::Output::Admit { preamble: p, leftover_payload: early }));
                prop_assert_eq!(c_end, Some(connect::Output::Established { leftover: vec![] }));
            }
            Some(r) => {
                prop_assert_eq!(a_end, Some(accept::Output::Close(accept::RejectReason::Refused(r.clone()))));
                prop_assert_eq!(c_end, Some(connect::Output::Close(connect::ConnectFailure::Refused(r))));
            }
        }
        prop_assert_eq!(parse_verdict(&Verdict::Admitted.encode()).map(|(v, _)| v), Ok(Verdict::Admitted));
    }

    #[test]
    fn acceptor_survives_garbage_in_any_chunks(
        bytes in prop::collection::vec(any::<u8>(), 0..1200),
        cuts in prop::collection::vec(0usize..1200, 0..8),
        prefix_magic in any::<bool>(),
    ) {
        let now = Instant::now();
        let endpoint: EndpointId = "vpce-0123456789abcdef0".parse().unwrap();
        let mut a = TunnelAccept::new(endpoint, now + Duration::from_secs(1));
        let mut input = if prefix_magic { b"UPT1".to_vec() } else { Vec::new() };
        input.extend_from_slice(&bytes);
        let mut outputs = Vec::new();
        for chunk in chunks(&input, cuts) {
            a.handle(now, accept::Input::Bytes(chunk));
            outputs.extend(std::iter::from_fn(|| a.poll_output()));
        }
        // At most: one Check, or a refusal verdict and a Close; never an Admit without a decision.
        prop_assert!(outputs.len() <= 2);
        let admitted = outputs.iter().any(|o| matches!(o, accept::Output::Admit { .. }));
        prop_assert!(!admitted, "admitted without a decision: {:?}", outputs);
    }
}
