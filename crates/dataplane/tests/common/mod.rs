//! Shared fixtures: a test CA, agent keys with certificates issued from CSRs, hand-made agent
//! states, loopback backends that count connections and record PROXY headers, bounded waits.
#![allow(dead_code, unreachable_pub)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use underpass_dataplane::{Dataplane, DataplaneConfig, FlowEvent, HealthTiming};
use underpass_domain::firewall::{IngressRule, PortRange, Protocol, Source};
use underpass_domain::{AgentId, ConnState, EndpointId, EniId, ServiceId, VpcId};
use underpass_pki::{CertificateAuthority, LeafSpec, Serial, SpiffeId, TrustDomain};
use underpass_proto::proxy_v2::{parse_proxy_v2, ProxyHeader};
use underpass_proto::sync::{
    AgentInfo, AgentState, EndpointConfig, GatewayAddr, GatewayConfig, HealthCheckConfig,
    IssuedIdentity, ListenerConfig, TargetConfig, TargetGroupConfig, TrustBundle,
};
use underpass_proto::ParseError;
use zeroize::Zeroizing;

pub const ZONE: &str = "us-east-1a";
pub const PROVIDER_ACCOUNT: &str = "111111111111";
pub const CONSUMER_ACCOUNT: &str = "222222222222";
pub const SERVICE_PORT: u16 = 8000;
pub const TUNNEL_PORT: u16 = 7443;
pub const TARGET_PORT: u16 = 9000;
pub const HEALTH_PORT: u16 = 9001;
pub const TG_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/web/0123456789abcdef";
pub const LB_ARN: &str =
    "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/net/web/0123456789abcdef";

/// The bound on every wait in these tests: a hang fails instead of blocking CI.
pub const LIMIT: Duration = Duration::from_secs(10);

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A test CA.
pub struct TestCa {
    pub ca: CertificateAuthority,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        Self {
            ca: CertificateAuthority::generate(name, now()).unwrap(),
        }
    }

    pub fn pem(&self) -> String {
        self.ca.cert_pem().to_owned()
    }

    /// A certificate for `id`, issued for `key` from a CSR, as the control plane issues them.
    pub fn issue(&self, id: &SpiffeId, key: &AgentKey) -> (IssuedIdentity, Serial) {
        let csr = CertificateParams::default()
            .serialize_request(&key.pair)
            .unwrap();
        let cert = self
            .ca
            .issue_from_csr(csr.der(), &LeafSpec::new(id.clone()), now())
            .unwrap();
        let issued = IssuedIdentity {
            spiffe_id: id.to_string(),
            cert_pem: cert.cert_pem,
        };
        (issued, cert.serial)
    }
}

/// An agent's private key.
pub struct AgentKey {
    pub pair: KeyPair,
}

impl AgentKey {
    pub fn new() -> Self {
        Self {
            pair: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
        }
    }

    pub fn pem(&self) -> Zeroizing<String> {
        Zeroizing::new(self.pair.serialize_pem())
    }
}

/// Short timeouts and fast health checks, so that the tests run in seconds.
pub fn test_config(key: &AgentKey) -> DataplaneConfig {
    let mut cfg = DataplaneConfig::new(key.pem());
    cfg.connect_timeout = Duration::from_secs(2);
    cfg.handshake_timeout = Duration::from_secs(1);
    cfg.preamble_timeout = Duration::from_secs(6);
    cfg.verdict_timeout = Duration::from_secs(3);
    cfg.pool_max_idle = Duration::from_secs(3);
    cfg.tunnel_pool_size = 2;
    // scripts/test runs these tests a second time over per-flow tunnels.
    cfg.multiplex = std::env::var("UNDERPASS_TEST_TUNNELS").as_deref() != Ok("per-flow");
    cfg.health_timing = Some(HealthTiming {
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(150),
    });
    cfg.shutdown_grace = Duration::from_secs(3);
    cfg
}

pub fn ip(net: u8, host: [u8; 2]) -> Ipv4Addr {
    Ipv4Addr::new(127, net, host[0], host[1])
}

pub fn spiffe_endpoint(endpoint: EndpointId) -> SpiffeId {
    SpiffeId::Endpoint {
        trust_domain: TrustDomain::default(),
        account: CONSUMER_ACCOUNT.parse().unwrap(),
        endpoint,
    }
}

pub fn spiffe_service(service: ServiceId) -> SpiffeId {
    SpiffeId::Service {
        trust_domain: TrustDomain::default(),
        account: PROVIDER_ACCOUNT.parse().unwrap(),
        service,
    }
}

pub fn allow_from(cidr: &str) -> Vec<IngressRule> {
    vec![IngressRule {
        protocol: Protocol::Tcp,
        ports: PortRange::ALL,
        source: Source::Cidr(cidr.parse().unwrap()),
    }]
}

pub fn tcp_health() -> HealthCheckConfig {
    HealthCheckConfig {
        protocol: "TCP".into(),
        port: Some(HEALTH_PORT),
        path: "/".into(),
        interval_secs: 10,
        timeout_secs: 5,
        healthy_threshold: 2,
        unhealthy_threshold: 2,
    }
}

/// One provider and one consumer on loopback network `127.<net>.0.0/16`.
pub struct World {
    pub net: u8,
    pub ca: TestCa,
    pub consumer_key: AgentKey,
    pub provider_key: AgentKey,
    pub service: ServiceId,
    pub endpoint: EndpointId,
    pub endpoint_serial: Serial,
    pub endpoint_identity: IssuedIdentity,
    pub gateway_identity: IssuedIdentity,
}

impl World {
    pub fn new(net: u8) -> Self {
        let ca = TestCa::new(&format!("dataplane-test-{net}"));
        let consumer_key = AgentKey::new();
        let provider_key = AgentKey::new();
        let service = ServiceId::from_bits(u128::from(net) << 8 | 1);
        let endpoint = EndpointId::from_bits(u128::from(net) << 8 | 2);
        let (endpoint_identity, endpoint_serial) =
            ca.issue(&spiffe_endpoint(endpoint), &consumer_key);
        let (gateway_identity, _) = ca.issue(&spiffe_service(service), &provider_key);
        Self {
            net,
            ca,
            consumer_key,
            provider_key,
            service,
            endpoint,
            endpoint_serial,
            endpoint_identity,
            gateway_identity,
        }
    }

    pub fn gateway_addr(&self) -> SocketAddr {
        SocketAddr::new(ip(self.net, [0, 1]).into(), TUNNEL_PORT)
    }

    pub fn eni_addr(&self) -> SocketAddr {
        SocketAddr::new(ip(self.net, [1, 1]).into(), SERVICE_PORT)
    }

    /// The i-th target's address (i from 1).
    pub fn target_ip(&self, i: u8) -> Ipv4Addr {
        ip(self.net, [2, i])
    }

    pub fn trust(&self) -> TrustBundle {
        TrustBundle {
            ca_pems: vec![self.ca.pem()],
            revoked_serials: vec![],
        }
    }

    fn agent(&self, n: u8) -> AgentInfo {
        AgentInfo {
            id: AgentId::from_bits(u128::from(self.net) << 8 | u128::from(n)),
            account: CONSUMER_ACCOUNT.into(),
            vpc: VpcId::from_bits(u128::from(self.net) << 8 | u128::from(n)),
            zone: ZONE.into(),
        }
    }

    /// The consumer's endpoint, with an SG that admits `sg_cidr`.
    pub fn endpoint_config(&self, state: ConnState, sg_cidr: &str) -> EndpointConfig {
        EndpointConfig {
            endpoint_id: self.endpoint,
            service_id: self.service,
            state,
            eni_id: EniId::from_bits(u128::from(self.net) << 8 | 3),
            ip: ip(self.net, [1, 1]),
            ports: vec![SERVICE_PORT],
            ingress: allow_from(sg_cidr),
            acl: vec![],
            gateways: vec![GatewayAddr {
                zone: ZONE.into(),
                addr: self.gateway_addr(),
            }],
            gateway_identity: spiffe_service(self.service).to_string(),
            identity: self.endpoint_identity.clone(),
        }
    }

    pub fn consumer_state(&self, revision: i64, endpoints: Vec<EndpointConfig>) -> AgentState {
        AgentState {
            revision,
            agent: self.agent(1),
            trust: self.trust(),
            endpoints,
            gateways: vec![],
            dns: None,
            flow_logs: Vec::new(),
        }
    }

    pub fn target_group(&self, targets: &[u8], proxy_v2: bool) -> TargetGroupConfig {
        TargetGroupConfig {
            arn: TG_ARN.into(),
            targets: targets
                .iter()
                .map(|&i| TargetConfig {
                    addr: SocketAddr::new(self.target_ip(i).into(), TARGET_PORT),
                    zone: None,
                })
                .collect(),
            health: tcp_health(),
            proxy_protocol_v2: proxy_v2,
        }
    }

    pub fn gateway_config(
        &self,
        admitted: Vec<EndpointId>,
        group: TargetGroupConfig,
    ) -> GatewayConfig {
        GatewayConfig {
            load_balancer_arn: LB_ARN.into(),
            service_id: Some(self.service),
            eni_id: EniId::from_bits(u128::from(self.net) << 8 | 4),
            ip: ip(self.net, [0, 1]),
            tunnel_port: TUNNEL_PORT,
            cross_zone: true,
            listeners: vec![ListenerConfig {
                port: SERVICE_PORT,
                target_group: group,
            }],
            admitted,
            identity: self.gateway_identity.clone(),
            idle_timeout_secs: 350,
        }
    }

    pub fn provider_state(&self, revision: i64, gateway: GatewayConfig) -> AgentState {
        AgentState {
            revision,
            agent: self.agent(2),
            trust: self.trust(),
            endpoints: vec![],
            gateways: vec![gateway],
            dns: None,
            flow_logs: Vec::new(),
        }
    }
}

/// Flow events, as a sink and for assertions.
#[derive(Clone, Default)]
pub struct Events(pub Arc<Mutex<Vec<FlowEvent>>>);

impl Events {
    pub fn sink(&self) -> impl Fn(FlowEvent) + Send + Sync + 'static {
        let events = self.0.clone();
        move |ev| events.lock().unwrap().push(ev)
    }

    pub fn all(&self) -> Vec<FlowEvent> {
        self.0.lock().unwrap().clone()
    }

    /// Waits (bounded) for an event matching `pred`.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&FlowEvent) -> bool) -> FlowEvent {
        let found = eventually(what, || self.all().into_iter().find(|e| pred(e))).await;
        found
    }
}

/// Polls `probe` every 20 ms until it returns `Some`, for at most [`LIMIT`].
pub async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn dataplane(key: &AgentKey, events: &Events) -> Dataplane {
    Dataplane::new(test_config(key), events.sink())
}

/// A data plane whose consumer side opens a tunnel per flow (from a pool), whatever the
/// environment says.
pub fn per_flow_dataplane(key: &AgentKey, events: &Events) -> Dataplane {
    let mut cfg = test_config(key);
    cfg.multiplex = false;
    Dataplane::new(cfg, events.sink())
}

/// Each connection's PROXY header and the payload bytes that followed it.
pub type Seen = Arc<Mutex<Vec<(ProxyHeader, Vec<u8>)>>>;

/// A target: a traffic listener that echoes (after reading a PROXY v2 header, if told to) and
/// counts connections, and a health listener that accepts and closes.
pub struct Backend {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    /// Each connection's PROXY header and the payload bytes that followed it (proxy mode).
    pub seen: Seen,
    tasks: JoinSet<()>,
}

fn listen(addr: SocketAddr) -> tokio::net::TcpListener {
    let s = TcpSocket::new_v4().unwrap();
    s.set_reuseaddr(true).unwrap();
    s.bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    s.listen(128).unwrap()
}

impl Backend {
    pub fn start(ip: Ipv4Addr, proxy: bool) -> Self {
        Self::start_with_health(ip, proxy, true)
    }

    pub fn start_with_health(ip: Ipv4Addr, proxy: bool, health: bool) -> Self {
        let addr = SocketAddr::new(ip.into(), TARGET_PORT);
        let traffic = listen(addr);
        let accepted = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = JoinSet::new();
        let (count, record) = (accepted.clone(), seen.clone());
        tasks.spawn(async move {
            let mut conns = JoinSet::new();
            while let Ok((s, _)) = traffic.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                conns.spawn(echo(s, proxy.then(|| record.clone())));
            }
        });
        if health {
            let checks = listen(SocketAddr::new(ip.into(), HEALTH_PORT));
            tasks.spawn(async move {
                while let Ok((s, _)) = checks.accept().await {
                    drop(s);
                }
            });
        }
        Self {
            addr,
            accepted,
            seen,
            tasks,
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Stops listening (both ports) and drops every connection.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}

async fn echo(mut s: TcpStream, record: Option<Seen>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    if let Some(record) = record {
        let (header, used) = loop {
            match parse_proxy_v2(&buf) {
                Ok(found) => break found,
                Err(ParseError::Incomplete { .. }) => {}
                Err(ParseError::Invalid(why)) => panic!("target got no PROXY v2 header: {why}"),
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let payload = buf.split_off(used);
        let index = {
            let mut seen = record.lock().unwrap();
            seen.push((header, payload.clone()));
            seen.len() - 1
        };
        if s.write_all(&payload).await.is_err() {
            return;
        }
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    record.lock().unwrap()[index]
                        .1
                        .extend_from_slice(&chunk[..n]);
                    if s.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
    loop {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&chunk[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A TCP client bound to `src` (any port).
pub async fn connect_from(src: Ipv4Addr, dst: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::new(src.into(), 0)).unwrap();
    tokio::time::timeout(LIMIT, s.connect(dst))
        .await
        .expect("connect hung")
        .unwrap_or_else(|e| panic!("connect {dst}: {e}"))
}

/// Sends `msg` and reads the same number of bytes back.
pub async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(msg).await?;
    let mut back = vec![0u8; msg.len()];
    tokio::time::timeout(LIMIT, s.read_exact(&mut back))
        .await
        .map_err(|_| std::io::Error::other("no echo in time"))??;
    Ok(back)
}

/// A client from `src` is accepted and then closed or reset without receiving a byte (the
/// reset may even beat `connect` itself).
pub async fn refused(src: Ipv4Addr, dst: SocketAddr) -> bool {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::new(src.into(), 0)).unwrap();
    let connected = tokio::time::timeout(LIMIT, s.connect(dst))
        .await
        .expect("connect hung");
    match connected {
        Ok(mut c) => {
            let _ = c.write_all(b"anyone there?").await;
            closed_without_data(&mut c).await
        }
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

/// Waits until the peer closes or resets `s` (bounded); true if it did, after reading nothing.
pub async fn closed_without_data(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(LIMIT, s.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => false,
        Err(_) => panic!("connection neither closed nor answered"),
    }
}

/// A client connects, says hello, and is echoed back: the whole path works.
pub async fn works(eni: SocketAddr) {
    let mut c = connect_from(Ipv4Addr::LOCALHOST, eni).await;
    let back = round_trip(&mut c, b"hello through the tunnel")
        .await
        .unwrap();
    assert_eq!(back, b"hello through the tunnel");
}
