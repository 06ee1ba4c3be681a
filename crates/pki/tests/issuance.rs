//! Issuing from CSRs (item 58: the CA ignores whatever a CSR asks for) and key files on disk
//! (item 57: 0600 from the first byte, refused when others can read them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType,
};
use time::{Duration, OffsetDateTime};
use underpass_pki::{fs, CertificateAuthority, LeafSpec, PkiError, SpiffeId};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

const AGENT_A: &str = "spiffe://underpass.internal/account/123456789012/vpc/vpc-0123456789abcdef0/zone/us-east-1a/agent/agent-0000000000000000a";
const AGENT_B: &str = "spiffe://underpass.internal/account/123456789012/vpc/vpc-0123456789abcdef0/zone/us-east-1a/agent/agent-0000000000000000b";

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

fn ca() -> CertificateAuthority {
    CertificateAuthority::generate("issuance-test", now()).unwrap()
}

fn agent_a() -> LeafSpec {
    LeafSpec::new(AGENT_A.parse::<SpiffeId>().unwrap())
}

/// A CSR for `key` asking for everything a CSR can ask for.
fn greedy_csr(key: &KeyPair) -> Vec<u8> {
    let mut params = CertificateParams::new(vec!["*.example.com".to_owned()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .subject_alt_names
        .push(SanType::URI(AGENT_B.try_into().unwrap()));
    params
        .subject_alt_names
        .push(SanType::IpAddress("10.0.0.1".parse().unwrap()));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::Any,
        ExtendedKeyUsagePurpose::CodeSigning,
    ];
    params.not_after = now() + Duration::days(3650);
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 99999, 1],
            vec![0x05, 0x00],
        ));
    params.serialize_request(key).unwrap().der().to_vec()
}

fn assert_only_identity(cert_der: &[u8], csr_key: &KeyPair, t: OffsetDateTime) {
    let (_, x) = X509Certificate::from_der(cert_der).unwrap();
    assert!(!x.is_ca(), "CA:TRUE leaked into the certificate");
    assert!(!x.basic_constraints().unwrap().unwrap().value.ca);
    let ku = x.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.crl_sign());
    let eku = x.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);
    assert!(!eku.any && !eku.code_signing);
    let names = &x
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(matches!(names[0], GeneralName::URI(AGENT_A)), "{names:?}");
    assert!(x
        .extensions()
        .iter()
        .all(|e| e.oid.to_id_string() != "1.3.6.1.4.1.99999.1"));
    assert_eq!(
        x.validity().not_after.to_datetime(),
        t + Duration::hours(24)
    );
    assert_eq!(
        x.validity().not_before.to_datetime(),
        t - Duration::minutes(5)
    );
    assert_eq!(
        x.public_key().raw,
        csr_key.subject_public_key_info().as_slice()
    );
    assert_ne!(
        x.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "rcgen self signed cert"
    );
}

#[test]
fn csr_abuse_gets_only_what_the_identity_allows() {
    let ca = ca();
    let t = now();
    for alg in [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_ED25519,
    ] {
        let key = KeyPair::generate_for(alg).unwrap();
        let csr = greedy_csr(&key);
        let issued = ca.issue_from_csr(&csr, &agent_a(), t).unwrap();
        assert_only_identity(&issued.cert_der, &key, t);
    }
}

#[test]
fn csr_in_pem_is_accepted() {
    let key = KeyPair::generate().unwrap();
    let pem = CertificateParams::default()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let t = now();
    let issued = ca().issue_from_csr(pem.as_bytes(), &agent_a(), t).unwrap();
    assert_eq!(issued.identity.to_string(), AGENT_A);
}

#[test]
fn rsa_2048_is_accepted() {
    let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
    let t = now();
    let issued = ca()
        .issue_from_csr(&greedy_csr(&key), &agent_a(), t)
        .unwrap();
    assert_only_identity(&issued.cert_der, &key, t);
}

#[test]
fn weak_and_unknown_keys_are_refused() {
    let ca = ca();
    let rsa1024 = include_bytes!("data/rsa1024.csr.pem");
    match ca.issue_from_csr(rsa1024, &agent_a(), now()) {
        Err(e @ PkiError::WeakKey { bits: 1024 }) => {
            assert!(e.to_string().contains("at least 2048"), "{e}");
        }
        other => panic!("RSA-1024 CSR: {other:?}"),
    }
    let ed448 = include_bytes!("data/ed448.csr.pem");
    match ca.issue_from_csr(ed448, &agent_a(), now()) {
        Err(e @ PkiError::UnsupportedKey(_)) => {
            assert!(e.to_string().contains("ECDSA P-256"), "{e}")
        }
        other => panic!("Ed448 CSR: {other:?}"),
    }
}

#[test]
fn broken_csrs_are_refused() {
    let ca = ca();
    let key = KeyPair::generate().unwrap();
    let good = CertificateParams::default()
        .serialize_request(&key)
        .unwrap()
        .der()
        .to_vec();
    let mut tampered = good.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    assert!(matches!(
        ca.issue_from_csr(&tampered, &agent_a(), now()),
        Err(PkiError::CsrSignature)
    ));
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        ca.issue_from_csr(&trailing, &agent_a(), now()),
        Err(PkiError::MalformedCsr(_))
    ));
    for junk in [
        &b""[..],
        b"not a csr",
        b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n",
    ] {
        assert!(matches!(
            ca.issue_from_csr(junk, &agent_a(), now()),
            Err(PkiError::MalformedCsr(_))
        ));
    }
    let huge = vec![0x30; 70 * 1024];
    assert!(matches!(
        ca.issue_from_csr(&huge, &agent_a(), now()),
        Err(PkiError::MalformedCsr(_))
    ));
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let n = OffsetDateTime::now_utc().unix_timestamp_nanos();
        let dir =
            std::env::temp_dir().join(format!("underpass-pki-{tag}-{}-{n}", std::process::id()));
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn private_keys_are_0600_in_a_0700_directory() {
    let tmp = TempDir::new("perm");
    let dir = tmp.0.join("keys");
    let path = dir.join("agent.key");
    let (_, key) = ca().issue_keypair(&agent_a(), now()).unwrap();
    fs::write_private_key(&path, &key.pem()).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(*fs::read_private_key(&path).unwrap(), *key.pem());

    // Replacing keeps the mode and leaves no temporary file behind.
    fs::write_private_key(&path, "second").unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(fs::read_private_key(&path).unwrap().as_str(), "second");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);

    chmod(&path, 0o400);
    assert!(fs::read_private_key(&path).is_ok());
    for bad in [0o644, 0o640, 0o604, 0o660] {
        chmod(&path, bad);
        match fs::read_private_key(&path) {
            Err(e @ PkiError::KeyFilePermissions { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&path.display().to_string()), "{msg}");
                assert!(msg.contains("chmod 600"), "{msg}");
            }
            other => panic!("mode {bad:o}: {other:?}"),
        }
    }
}

#[test]
fn saved_ca_loads_and_a_readable_key_stops_it() {
    let tmp = TempDir::new("ca");
    let ca = ca();
    fs::save_ca(&ca, &tmp.0).unwrap();
    assert_eq!(mode(&tmp.0.join(fs::CA_KEY_FILE)), 0o600);
    let loaded = fs::load_ca(&tmp.0).unwrap();
    assert_eq!(loaded.cert_der(), ca.cert_der());
    chmod(&tmp.0.join(fs::CA_KEY_FILE), 0o644);
    assert!(matches!(
        fs::load_ca(&tmp.0),
        Err(PkiError::KeyFilePermissions { mode: 0o644, .. })
    ));
}

#[test]
fn group_writable_key_directory_is_refused() {
    let tmp = TempDir::new("dir");
    fs::create_private_dir(&tmp.0).unwrap();
    chmod(&tmp.0, 0o770);
    let err = fs::write_private_key(&tmp.0.join("k.key"), "x").unwrap_err();
    assert!(
        matches!(err, PkiError::KeyDirPermissions { mode: 0o770, .. }),
        "{err}"
    );
    assert!(!tmp.0.join("k.key").exists());
}

#[test]
fn generated_csr_is_issued_for_its_key_only() {
    let (key, csr) = underpass_pki::LeafKey::generate_with_csr().unwrap();
    let ca = ca();
    let cert = ca
        .issue_from_csr(csr.as_bytes(), &agent_a(), now())
        .unwrap();
    // The key round-trips through PEM and pairs with the issued certificate in a TLS config.
    let again = underpass_pki::LeafKey::from_pem(&key.pem()).unwrap();
    assert_eq!(again.pem().as_str(), key.pem().as_str());
    let creds = cert.credentials(&again);
    let roots = underpass_pki::trust_roots([ca.cert_der()]).unwrap();
    underpass_pki::server_config(
        creds,
        roots,
        &underpass_pki::RevocationSet::new(),
        underpass_pki::ClientAuth::None,
        &underpass_pki::TlsOptions::default(),
    )
    .expect("the certificate matches the generated key");
    assert!(underpass_pki::LeafKey::from_pem("not a key").is_err());
}
