use super::*;
use crate::revocation::serials_from_crl;
use crate::tls::cert_identity;
use crate::RevokedCert;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::X509Certificate;

fn now() -> OffsetDateTime {
    whole_seconds(OffsetDateTime::now_utc())
}

fn ca() -> CertificateAuthority {
    CertificateAuthority::generate("test-install", now()).unwrap()
}

fn agent_id() -> SpiffeId {
    "spiffe://underpass.internal/account/123456789012/vpc/vpc-0123456789abcdef0/zone/us-east-1a/agent/agent-0000000000000000a"
        .parse()
        .unwrap()
}

fn server_id() -> SpiffeId {
    "spiffe://underpass.internal/server".parse().unwrap()
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    X509Certificate::from_der(der).unwrap().1
}

#[test]
fn ca_certificate_shape() {
    let t = now();
    let ca = CertificateAuthority::generate("test-install", t).unwrap();
    let x = parse(ca.cert_der());
    let bc = x.basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));
    let ku = x.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.crl_sign());
    assert!(!ku.digital_signature() && !ku.key_encipherment());
    let cn = x.subject().iter_common_name().next().unwrap();
    assert_eq!(cn.as_str().unwrap(), "Underpass CA test-install");
    assert_eq!(x.validity().not_before.to_datetime(), t - BACKDATE);
    assert_eq!(
        x.validity().not_after.to_datetime(),
        t + Duration::days(3650)
    );
    assert_eq!(
        x.public_key().algorithm.algorithm,
        OID_KEY_TYPE_EC_PUBLIC_KEY
    );
    assert_eq!(ca.not_after(), t + Duration::days(3650));
}

#[test]
fn install_id_is_checked() {
    for bad in ["", "has space", "a/b", &"x".repeat(49)] {
        assert!(matches!(
            CertificateAuthority::generate(bad, now()),
            Err(PkiError::InvalidInstallId(_))
        ));
    }
}

#[test]
fn leaf_has_only_what_the_identity_allows() {
    let ca = ca();
    let t = now();
    let (cert, _key) = ca.issue_keypair(&LeafSpec::new(agent_id()), t).unwrap();
    let x = parse(&cert.cert_der);
    assert!(!x.basic_constraints().unwrap().unwrap().value.ca);
    let ku = x.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature());
    assert!(!ku.key_cert_sign() && !ku.crl_sign());
    let eku = x.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth && !eku.any && !eku.code_signing);
    let names = &x
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert_eq!(names.len(), 1);
    assert!(matches!(names[0], GeneralName::URI(u) if u == agent_id().to_string()));
    assert_eq!(cert.not_before, t - Duration::minutes(5));
    assert_eq!(cert.not_after, t + Duration::hours(24));
    assert_eq!(x.validity().not_before.to_datetime(), cert.not_before);
    assert_eq!(x.validity().not_after.to_datetime(), cert.not_after);
    assert_eq!(x.issuer().as_raw(), parse(ca.cert_der()).subject().as_raw());
    let ca_cert = parse(ca.cert_der());
    x.verify_signature(Some(ca_cert.public_key())).unwrap();
    assert_eq!(
        cert_identity(&cert.cert_der).unwrap(),
        (agent_id(), cert.serial)
    );
}

#[test]
fn renewal_is_two_thirds_through() {
    let t = now();
    assert_eq!(
        renew_at(t, t + Duration::hours(24)),
        t + Duration::hours(16)
    );
    let (cert, _) = ca().issue_keypair(&LeafSpec::new(agent_id()), t).unwrap();
    let total = cert.not_after - cert.not_before;
    assert_eq!(cert.renew_at() - cert.not_before, total * 2 / 3);
}

#[test]
fn lifetimes_outside_the_range_are_refused() {
    let ca = ca();
    for lifetime in [Duration::ZERO, Duration::hours(-1), Duration::days(398)] {
        let spec = LeafSpec::new(agent_id()).with_lifetime(lifetime);
        assert!(matches!(
            ca.issue_keypair(&spec, now()),
            Err(PkiError::Lifetime(_))
        ));
    }
    let late = now() + Duration::days(3649);
    let spec = LeafSpec::new(agent_id()).with_lifetime(Duration::days(2));
    let err = ca.issue_keypair(&spec, late).unwrap_err();
    assert!(err.to_string().contains("outlive the CA"), "{err}");
    let spec = LeafSpec::new(agent_id()).with_lifetime(Duration::days(90));
    assert!(ca.issue_keypair(&spec, now()).is_ok());
}

#[test]
fn host_names_only_for_servers_and_services() {
    let ca = ca();
    let ip = "127.0.0.1".parse().unwrap();
    let agent = LeafSpec::new(agent_id()).with_dns_name("agent.example");
    assert!(matches!(
        ca.issue_keypair(&agent, now()),
        Err(PkiError::SanNotAllowed("agent"))
    ));
    let agent = LeafSpec::new(agent_id()).with_ip(ip);
    assert!(matches!(
        ca.issue_keypair(&agent, now()),
        Err(PkiError::SanNotAllowed("agent"))
    ));
    for bad in ["*.example.com", "bad name", ""] {
        let spec = LeafSpec::new(server_id()).with_dns_name(bad);
        assert!(matches!(
            ca.issue_keypair(&spec, now()),
            Err(PkiError::InvalidDnsName(_))
        ));
    }
    let spec = LeafSpec::new(server_id())
        .with_dns_name("cp.example.com")
        .with_ip(ip);
    let (cert, _) = ca.issue_keypair(&spec, now()).unwrap();
    let x = parse(&cert.cert_der);
    let names = &x
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert_eq!(names.len(), 3);
    assert!(names
        .iter()
        .any(|n| matches!(n, GeneralName::DNSName("cp.example.com"))));
    assert!(names
        .iter()
        .any(|n| matches!(n, GeneralName::IPAddress([127, 0, 0, 1]))));
}

#[test]
fn loaded_ca_signs_leaves_that_chain_to_the_original() {
    let ca = ca();
    let loaded = CertificateAuthority::from_pem(ca.cert_pem(), &ca.key_pem()).unwrap();
    assert_eq!(loaded.cert_der(), ca.cert_der());
    assert_eq!(loaded.not_after(), ca.not_after());
    let (cert, _) = loaded
        .issue_keypair(&LeafSpec::new(agent_id()), now())
        .unwrap();
    let x = parse(&cert.cert_der);
    let ca_cert = parse(ca.cert_der());
    assert_eq!(x.issuer().as_raw(), ca_cert.subject().as_raw());
    x.verify_signature(Some(ca_cert.public_key())).unwrap();
}

#[test]
fn loading_refuses_a_foreign_key_or_a_leaf() {
    let (a, b) = (ca(), ca());
    let err = CertificateAuthority::from_pem(a.cert_pem(), &b.key_pem()).unwrap_err();
    assert!(err.to_string().contains("does not belong"), "{err}");
    let (leaf, key) = a.issue_keypair(&LeafSpec::new(agent_id()), now()).unwrap();
    let err = CertificateAuthority::from_pem(&leaf.cert_pem, &key.pem()).unwrap_err();
    assert!(err.to_string().contains("not a CA"), "{err}");
    assert!(CertificateAuthority::from_pem("garbage", &a.key_pem()).is_err());
}

#[test]
fn crl_lists_the_revoked_serials_and_verifies() {
    let ca = ca();
    let t = now();
    let revoked = [Serial::from(5), Serial::random().unwrap()];
    let entries: Vec<_> = revoked
        .iter()
        .map(|&serial| RevokedCert {
            serial,
            revoked_at: t,
        })
        .collect();
    let crl = ca.crl(&entries, 1, t, t + Duration::hours(1)).unwrap();
    assert!(crl.pem.starts_with("-----BEGIN X509 CRL-----"));
    let mut got = serials_from_crl(&crl.der, ca.cert_der()).unwrap();
    got.sort_unstable();
    let mut want = revoked.to_vec();
    want.sort_unstable();
    assert_eq!(got, want);
    let other = CertificateAuthority::generate("other", t).unwrap();
    assert!(serials_from_crl(&crl.der, other.cert_der()).is_err());
    assert!(
        ca.crl(&entries, 2, t, t).is_err(),
        "next_update must follow this_update"
    );
}

#[test]
fn leaf_key_pem_round_trips() {
    let (cert, key) = ca()
        .issue_keypair(&LeafSpec::new(agent_id()), now())
        .unwrap();
    let pem = key.pem();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(pem.lines().all(|l| l.len() <= 64));
    let creds = crate::TlsCredentials::from_pem(&cert.cert_pem, &pem).unwrap();
    assert_eq!(creds.chain(), std::slice::from_ref(&cert.cert_der));
    assert_eq!(format!("{key:?}"), "LeafKey(***)");
}
