//! Real TLS handshakes over loopback TCP with the configs this crate builds (items 47-53, 59).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration as StdDuration;

use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError, ClientConfig, ProtocolVersion, ServerConfig};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use underpass_pki::{
    client_config, expect_identity, handshake_failure_hint, peer_identity, server_config,
    trust_roots, CertificateAuthority, ClientAuth, IssuedCert, LeafSpec, PkiError, RevocationSet,
    RevokedCert, Serial, ServerNameCheck, SpiffeId, TlsCredentials, TlsOptions, TlsVersions,
};

const AGENT: &str = "spiffe://underpass.internal/account/123456789012/vpc/vpc-0123456789abcdef0/zone/us-east-1a/agent/agent-0000000000000000a";
const ENDPOINT: &str =
    "spiffe://underpass.internal/account/210987654321/endpoint/vpce-0123456789abcdef0";
const SERVICE: &str =
    "spiffe://underpass.internal/account/123456789012/service/vpce-svc-0123456789abcdef0";
const OTHER_SERVICE: &str =
    "spiffe://underpass.internal/account/123456789012/service/vpce-svc-00000000000000000";
const SERVER: &str = "spiffe://underpass.internal/server";
const ALPN: &[u8] = b"underpass-tunnel/1";

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn id(s: &str) -> SpiffeId {
    s.parse().unwrap()
}

fn issue(
    ca: &CertificateAuthority,
    spec: LeafSpec,
    at: OffsetDateTime,
) -> (IssuedCert, TlsCredentials) {
    let (cert, key) = ca.issue_keypair(&spec, at).unwrap();
    let creds = cert.credentials(&key);
    (cert, creds)
}

fn options(versions: TlsVersions) -> TlsOptions {
    TlsOptions {
        versions,
        alpn: vec![ALPN.to_vec()],
    }
}

/// One CA, its roots, a revocation set, and the control plane's server certificate.
struct Pki {
    ca: CertificateAuthority,
    revoked: RevocationSet,
    server: TlsCredentials,
}

impl Pki {
    fn new() -> Self {
        let ca = CertificateAuthority::generate("handshake-test", now()).unwrap();
        let spec = LeafSpec::new(id(SERVER))
            .with_dns_name("localhost")
            .with_ip("127.0.0.1".parse().unwrap());
        let (_, server) = issue(&ca, spec, now());
        Self {
            ca,
            revoked: RevocationSet::new(),
            server,
        }
    }

    fn server_config(&self, auth: ClientAuth, versions: TlsVersions) -> Arc<ServerConfig> {
        let roots = trust_roots([self.ca.cert_der()]).unwrap();
        let cfg = server_config(
            self.server.clone(),
            roots,
            &self.revoked,
            auth,
            &options(versions),
        );
        Arc::new(cfg.unwrap())
    }

    fn client_config(&self, creds: Option<TlsCredentials>) -> Arc<ClientConfig> {
        let roots = trust_roots([self.ca.cert_der()]).unwrap();
        let opts = options(TlsVersions::Tls13Only);
        let cfg = client_config(
            creds,
            roots,
            &self.revoked,
            ServerNameCheck::Hostname,
            &opts,
        );
        Arc::new(cfg.unwrap())
    }

    fn agent(&self, at: OffsetDateTime) -> (IssuedCert, TlsCredentials) {
        issue(&self.ca, LeafSpec::new(id(AGENT)), at)
    }
}

/// What the server saw: the client's identity, serial and TLS version.
type ServerSide = Result<(SpiffeId, Serial, ProtocolVersion), std::io::Error>;
/// What the client saw: the server's identity once "pong" arrived.
type ClientSide = Result<(SpiffeId, Option<Vec<u8>>), std::io::Error>;

/// Runs one handshake over loopback TCP; the server writes "pong" and closes, the client reads it.
/// `check` runs on the client connection after the handshake (the caller's identity policy).
async fn run(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    name: &str,
    check: impl FnOnce(&rustls::ClientConnection) -> Result<(), PkiError>,
) -> (ServerSide, ClientSide) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = TlsAcceptor::from(server).accept(tcp).await?;
        let conn = tls.get_ref().1;
        let version = conn.protocol_version().unwrap();
        let identity = peer_identity(conn);
        tls.write_all(b"pong").await?;
        tls.shutdown().await?;
        let (who, serial) = identity.map_err(std::io::Error::other)?;
        Ok((who, serial, version))
    });
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let client_side = async {
        let tcp = TcpStream::connect(addr).await?;
        let mut tls = TlsConnector::from(client).connect(name, tcp).await?;
        let conn = tls.get_ref().1;
        check(conn).map_err(std::io::Error::other)?;
        let (server_id, _) = peer_identity(conn).map_err(std::io::Error::other)?;
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"pong");
        Ok((server_id, alpn))
    };
    let limit = StdDuration::from_secs(10);
    let client_result = tokio::time::timeout(limit, client_side)
        .await
        .expect("client hung");
    let server_result = tokio::time::timeout(limit, server_task)
        .await
        .expect("server hung")
        .unwrap();
    (server_result, client_result)
}

fn no_check(_: &rustls::ClientConnection) -> Result<(), PkiError> {
    Ok(())
}

fn tls_error(e: &std::io::Error) -> &rustls::Error {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a TLS error: {e:?}"))
}

fn cert_error(e: &std::io::Error) -> &CertificateError {
    match tls_error(e) {
        rustls::Error::InvalidCertificate(c) => c,
        other => panic!("not a certificate error: {other:?}"),
    }
}

fn alert(e: &std::io::Error) -> AlertDescription {
    match tls_error(e) {
        rustls::Error::AlertReceived(a) => *a,
        other => panic!("no alert received: {other:?}"),
    }
}

#[tokio::test]
async fn mutual_tls13_succeeds_and_both_identities_read_back() {
    let pki = Pki::new();
    let (agent, creds) = pki.agent(now());
    let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls13Only);
    let (s, c) = run(
        server,
        pki.client_config(Some(creds)),
        "localhost",
        no_check,
    )
    .await;
    let (who, serial, version) = s.unwrap();
    assert_eq!((who, serial), (id(AGENT), agent.serial));
    assert_eq!(version, ProtocolVersion::TLSv1_3);
    let (server_id, alpn) = c.unwrap();
    assert_eq!(server_id, id(SERVER));
    assert_eq!(alpn.as_deref(), Some(ALPN));
}

#[tokio::test]
async fn expired_client_cert_is_refused() {
    let pki = Pki::new();
    let (_, creds) = issue(
        &pki.ca,
        LeafSpec::new(id(AGENT)).with_lifetime(Duration::hours(1)),
        now() - Duration::days(2),
    );
    let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls13Only);
    let (s, c) = run(
        server,
        pki.client_config(Some(creds)),
        "localhost",
        no_check,
    )
    .await;
    let s = s.unwrap_err();
    assert!(matches!(
        cert_error(&s),
        CertificateError::Expired | CertificateError::ExpiredContext { .. }
    ));
    assert!(handshake_failure_hint(tls_error(&s))
        .unwrap()
        .contains("expired"));
    assert_eq!(alert(&c.unwrap_err()), AlertDescription::CertificateExpired);
}

#[tokio::test]
async fn mild_clock_skew_is_absorbed_by_the_backdate() {
    // Issued by a CA whose clock is 4 minutes ahead: still valid here.
    let pki = Pki::new();
    let (_, creds) = pki.agent(now() + Duration::minutes(4));
    let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls13Only);
    let (s, c) = run(
        server,
        pki.client_config(Some(creds)),
        "localhost",
        no_check,
    )
    .await;
    assert_eq!(s.unwrap().0, id(AGENT));
    c.unwrap();
}

#[tokio::test]
async fn not_yet_valid_beyond_the_backdate_is_refused_naming_clock_skew() {
    let pki = Pki::new();
    let (_, creds) = pki.agent(now() + Duration::minutes(15));
    let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls13Only);
    let (s, c) = run(
        server,
        pki.client_config(Some(creds)),
        "localhost",
        no_check,
    )
    .await;
    let s = s.unwrap_err();
    assert!(matches!(
        cert_error(&s),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
    ));
    assert!(handshake_failure_hint(tls_error(&s))
        .unwrap()
        .contains("clock skew"));
    assert!(c.is_err());
}

#[tokio::test]
async fn revocation_applies_to_the_next_handshake_without_new_configs() {
    let pki = Pki::new();
    let (agent, creds) = pki.agent(now());
    let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls13Only);
    let client = pki.client_config(Some(creds));
    let (s, c) = run(server.clone(), client.clone(), "localhost", no_check).await;
    assert_eq!(s.unwrap().1, agent.serial);
    c.unwrap();

    assert!(pki.revoked.clone().revoke(agent.serial));
    let (s, c) = run(server, client, "localhost", no_check).await;
    assert_eq!(*cert_error(&s.unwrap_err()), CertificateError::Revoked);
    assert_eq!(alert(&c.unwrap_err()), AlertDescription::CertificateRevoked);
}

#[tokio::test]
async fn revoked_server_cert_is_refused_by_the_client() {
    let pki = Pki::new();
    let (_, creds) = pki.agent(now());
    let (server_id, serial) = underpass_pki::cert_identity(&pki.server.chain()[0]).unwrap();
    assert_eq!(server_id, id(SERVER));
    pki.revoked.revoke(serial);
    let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls13Only);
    let (s, c) = run(
        server,
        pki.client_config(Some(creds)),
        "localhost",
        no_check,
    )
    .await;
    assert_eq!(*cert_error(&c.unwrap_err()), CertificateError::Revoked);
    assert_eq!(alert(&s.unwrap_err()), AlertDescription::CertificateRevoked);
}

/// A certificate signed with the key of one of our leaves and sent with that leaf as its
/// intermediate: a leaf (CA:FALSE) trying to act as a CA.
fn forged_chain(pki: &Pki) -> TlsCredentials {
    let (leaf, leaf_key) = pki
        .ca
        .issue_keypair(&LeafSpec::new(id(AGENT)), now())
        .unwrap();
    let signer_key = rcgen::KeyPair::from_pem(&leaf_key.pem()).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_der(&leaf.cert_der, signer_key).unwrap();
    let forged_key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names = vec![rcgen::SanType::URI(ENDPOINT.try_into().unwrap())];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let forged = params.signed_by(&forged_key, &issuer).unwrap();
    TlsCredentials::new(
        vec![forged.der().clone(), leaf.cert_der.clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(forged_key.serialize_der().into()),
    )
}

#[tokio::test]
async fn wrong_ca_table() {
    let pki = Pki::new();
    let other_ca = CertificateAuthority::generate("another-install", now()).unwrap();
    let self_signed = {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.subject_alt_names = vec![rcgen::SanType::URI(AGENT.try_into().unwrap())];
        let cert = params.self_signed(&key).unwrap();
        TlsCredentials::new(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
    };
    let unknown_issuer = |e: &CertificateError| matches!(e, CertificateError::UnknownIssuer);
    let leaf_as_ca = |e: &CertificateError| format!("{e:?}").contains("EndEntityUsedAsCa");
    type Case = (
        &'static str,
        TlsCredentials,
        fn(&CertificateError) -> bool,
        AlertDescription,
    );
    let cases: [Case; 3] = [
        (
            "self-signed",
            self_signed,
            unknown_issuer,
            AlertDescription::UnknownCA,
        ),
        (
            "another install's CA",
            issue(&other_ca, LeafSpec::new(id(AGENT)), now()).1,
            unknown_issuer,
            AlertDescription::UnknownCA,
        ),
        (
            "our leaf used as an intermediate",
            forged_chain(&pki),
            leaf_as_ca,
            AlertDescription::CertificateUnknown,
        ),
    ];
    for (name, creds, expected, expected_alert) in cases {
        let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls13Only);
        let (s, c) = run(
            server,
            pki.client_config(Some(creds)),
            "localhost",
            no_check,
        )
        .await;
        let s = s.expect_err(name);
        assert!(expected(cert_error(&s)), "{name}: {s:?}");
        assert_eq!(alert(&c.expect_err(name)), expected_alert, "{name}");
    }
}

#[tokio::test]
async fn client_without_a_certificate_is_refused() {
    let pki = Pki::new();
    let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls13Only);
    let (s, c) = run(server, pki.client_config(None), "localhost", no_check).await;
    assert!(matches!(
        tls_error(&s.unwrap_err()),
        rustls::Error::NoCertificatesPresented
    ));
    assert_eq!(
        alert(&c.unwrap_err()),
        AlertDescription::CertificateRequired
    );

    // The same client is fine where no client certificate is asked for.
    let server = pki.server_config(ClientAuth::None, TlsVersions::Tls13Only);
    let (s, c) = run(server, pki.client_config(None), "localhost", no_check).await;
    assert!(matches!(
        s.unwrap_err().downcast::<PkiError>(),
        Ok(PkiError::NoPeerCertificate)
    ));
    assert_eq!(c.unwrap().0, id(SERVER));
}

/// A client that speaks only TLS 1.2, built directly with rustls (our builders never do that).
fn tls12_only_client(pki: &Pki) -> Arc<ClientConfig> {
    let (_, creds) = pki.agent(now());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.cert_der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots);
    let (chain, key) = creds.into_parts();
    Arc::new(cfg.with_client_auth_cert(chain, key).unwrap())
}

#[tokio::test]
async fn tls12_client_is_refused_by_a_tls13_only_server() {
    let pki = Pki::new();
    let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls13Only);
    let (s, c) = run(server, tls12_only_client(&pki), "localhost", no_check).await;
    assert!(matches!(
        tls_error(&s.unwrap_err()),
        rustls::Error::PeerIncompatible(_)
    ));
    assert_eq!(alert(&c.unwrap_err()), AlertDescription::ProtocolVersion);

    // Allowed when the config says so.
    let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls12And13);
    let (s, c) = run(server, tls12_only_client(&pki), "localhost", no_check).await;
    assert_eq!(s.unwrap().2, ProtocolVersion::TLSv1_2);
    c.unwrap();
}

#[tokio::test]
async fn server_must_match_the_dialled_host_name() {
    let pki = Pki::new();
    let (_, creds) = pki.agent(now());
    let server = pki.server_config(ClientAuth::Required, TlsVersions::Tls13Only);
    let (s, c) = run(
        server,
        pki.client_config(Some(creds)),
        "cp.example.com",
        no_check,
    )
    .await;
    assert!(matches!(
        cert_error(&c.unwrap_err()),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
    ));
    assert_eq!(alert(&s.unwrap_err()), AlertDescription::BadCertificate);
}

/// The data path: the consumer's agent presents the endpoint's certificate to the provider's
/// gateway, which presents the service's; both sides check names by SPIFFE id (item 53).
#[tokio::test]
async fn tunnel_identities_are_checked_by_spiffe_id() {
    let pki = Pki::new();
    let roots = trust_roots([pki.ca.cert_der()]).unwrap();
    let (_, gateway) = issue(&pki.ca, LeafSpec::new(id(SERVICE)), now());
    let (endpoint, consumer) = issue(&pki.ca, LeafSpec::new(id(ENDPOINT)), now());
    let opts = options(TlsVersions::Tls13Only);
    let server = server_config(
        gateway,
        roots.clone(),
        &pki.revoked,
        ClientAuth::Required,
        &opts,
    )
    .unwrap();
    let server = Arc::new(server);
    let client = client_config(
        Some(consumer),
        roots,
        &pki.revoked,
        ServerNameCheck::CallerChecksIdentity,
        &opts,
    )
    .unwrap();
    let client = Arc::new(client);
    let name = "vpce-svc-0123456789abcdef0";

    let (s, c) = run(server.clone(), client.clone(), name, |conn| {
        expect_identity(conn, &id(SERVICE)).map(drop)
    })
    .await;
    let (who, serial, _) = s.unwrap();
    assert_eq!((who, serial), (id(ENDPOINT), endpoint.serial));
    assert_eq!(c.unwrap().0, id(SERVICE));

    // The same gateway, but the consumer expected another service: refused before any data.
    let (_, c) = run(server, client, name, |conn| {
        expect_identity(conn, &id(OTHER_SERVICE)).map(drop)
    })
    .await;
    let err = c.unwrap_err().downcast::<PkiError>().unwrap();
    assert!(matches!(err, PkiError::WrongIdentity { .. }), "{err}");
    assert!(
        err.to_string().contains("vpce-svc-00000000000000000"),
        "{err}"
    );
}

/// CA rotation (item 59): while both CAs are trusted, certificates from either work; once the
/// old CA is dropped from the roots, its certificates are refused.
#[tokio::test]
async fn ca_rotation_overlap_then_cutover() {
    let pki = Pki::new();
    let new_ca = CertificateAuthority::generate("handshake-test-2", now()).unwrap();
    let (_, old_agent) = pki.agent(now());
    let (_, new_agent) = issue(&new_ca, LeafSpec::new(id(AGENT)), now());
    let opts = options(TlsVersions::Tls13Only);
    let both = trust_roots([pki.ca.cert_der(), new_ca.cert_der()]).unwrap();
    let server = |roots| {
        Arc::new(
            server_config(
                pki.server.clone(),
                roots,
                &pki.revoked,
                ClientAuth::Required,
                &opts,
            )
            .unwrap(),
        )
    };
    for creds in [old_agent.clone(), new_agent] {
        let (s, c) = run(
            server(both.clone()),
            pki.client_config(Some(creds)),
            "localhost",
            no_check,
        )
        .await;
        assert_eq!(s.unwrap().0, id(AGENT));
        c.unwrap();
    }
    let only_new = trust_roots([new_ca.cert_der()]).unwrap();
    let (s, _) = run(
        server(only_new),
        pki.client_config(Some(old_agent)),
        "localhost",
        no_check,
    )
    .await;
    assert_eq!(
        *cert_error(&s.unwrap_err()),
        CertificateError::UnknownIssuer
    );
}

/// The CRL this CA signs is one that stock webpki accepts and enforces.
#[tokio::test]
async fn crl_is_enforced_by_a_stock_webpki_verifier() {
    let pki = Pki::new();
    let (agent, creds) = pki.agent(now());
    let t = now();
    let revoked = [RevokedCert {
        serial: agent.serial,
        revoked_at: t,
    }];
    let crl = pki.ca.crl(&revoked, 1, t, t + Duration::hours(1)).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        trust_roots([pki.ca.cert_der()]).unwrap(),
        provider.clone(),
    )
    .with_crls([crl.der])
    .build()
    .unwrap();
    let (chain, key) = pki.server.clone().into_parts();
    let server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    let (s, _) = run(
        Arc::new(server),
        pki.client_config(Some(creds)),
        "localhost",
        no_check,
    )
    .await;
    assert_eq!(*cert_error(&s.unwrap_err()), CertificateError::Revoked);
}
