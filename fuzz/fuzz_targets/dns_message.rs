//! Fuzz the resolver's query path (RELIABILITY item 79): any bytes, over UDP and TCP, against a
//! zone set with endpoint and private names. No panic; a reply echoes the id, has QR set and
//! fits the transport's limit; a query that is forwarded survives relaying the same bytes back
//! as if an upstream had sent them.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use underpass_dns::answer::{handle, relay, Handled};
use underpass_dns::wire::{Transport, MAX_TCP_MESSAGE, MAX_UDP_PAYLOAD};
use underpass_dns::ZoneSet;
use underpass_proto::sync::{DnsConfig, DnsRecord};

fn zones() -> &'static ZoneSet {
    static ZONES: OnceLock<ZoneSet> = OnceLock::new();
    ZONES.get_or_init(|| {
        let apex = "us-east-1.vpce.underpass.internal";
        let cfg = DnsConfig {
            resolver: Ipv4Addr::new(127, 20, 0, 2),
            vpc_cidrs: vec!["127.20.0.0/16".parse().expect("cidr")],
            zones: vec![apex.into(), "web.service.provider.local".into()],
            records: vec![
                DnsRecord {
                    name: format!(
                        "vpce-0123456789abcdef0-abcdefgh.vpce-svc-0fedcba9876543210.{apex}"
                    ),
                    addrs: vec![Ipv4Addr::new(127, 20, 1, 4), Ipv4Addr::new(127, 20, 2, 4)],
                },
                DnsRecord {
                    name: "web.service.provider.local".into(),
                    addrs: vec![Ipv4Addr::new(127, 20, 1, 4)],
                },
                DnsRecord {
                    name: format!("big.{apex}"),
                    addrs: (0..=255).map(|i| Ipv4Addr::new(127, 20, 3, i)).collect(),
                },
            ],
            upstreams: vec![],
            serial: 1,
        };
        ZoneSet::build(&cfg).0
    })
}

fuzz_target!(|data: &[u8]| {
    let client = IpAddr::V4(Ipv4Addr::LOCALHOST);
    for (transport, limit) in [
        (Transport::Udp, usize::from(MAX_UDP_PAYLOAD)),
        (Transport::Tcp, MAX_TCP_MESSAGE),
    ] {
        match handle(zones(), data, client, transport) {
            Handled::Reply(reply) => {
                assert!(reply.len() >= 12 && reply.len() <= limit);
                assert_eq!(reply[..2], data[..2], "the id is echoed");
                assert!(reply[2] & 0x80 != 0, "QR is set");
            }
            Handled::Forward(q) => {
                if let Ok(reply) = relay(&q, data) {
                    assert!(reply.len() <= limit);
                }
            }
            Handled::Drop => {}
        }
    }
});
