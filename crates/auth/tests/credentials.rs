//! Credentials end to end inside the crate: keys sealed at rest, requests signed with the real
//! signer and authenticated, AssumeRole sessions with their expiry, and every refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use underpass_auth::credentials::{
    assume_role, authenticate, authenticate_keeping, get_session_token, AssumeRoleRequest,
    CallerKind, KeyRing, KeyStatus, MasterKey, RoleInfo, SecretAccessKey, SessionTokenRequest,
    TemporaryCredentials,
};
use underpass_auth::iam::{Policy, PolicyKind, PrincipalContext, RequestContext};
use underpass_auth::sigv4::{
    parse_request, sign_request, DerivedKeys, HttpRequest, ParsedRequest, PayloadSigning,
    SigningParams, VerifierConfig,
};
use underpass_domain::PrincipalArn;

const T0: OffsetDateTime = datetime!(2026-11-26 12:00 UTC);

fn signed(key: &str, secret: &str, token: Option<&str>, at: OffsetDateTime) -> ParsedRequest {
    signed_in("us-east-1", key, secret, token, at)
}

fn signed_in(
    region: &str,
    key: &str,
    secret: &str,
    token: Option<&str>,
    at: OffsetDateTime,
) -> ParsedRequest {
    let body = b"{}";
    let base: Vec<(&str, &[u8])> = vec![
        ("host", b"127.0.0.1:4510"),
        ("content-type", b"application/json"),
    ];
    let params = SigningParams {
        access_key_id: key,
        secret_access_key: secret,
        session_token: token,
        region,
        service: "ec2",
        time: at,
        payload: PayloadSigning::Hash,
        path_mode: None,
    };
    let req = HttpRequest {
        method: "POST",
        path: "/api/DescribeVpcs",
        query: "",
        headers: &base,
        body,
    };
    let s = sign_request(&req, &params).unwrap();
    let mut headers: Vec<(String, Vec<u8>)> = base
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.to_vec()))
        .collect();
    headers.extend(
        s.headers()
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into_bytes())),
    );
    let refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    parse_request(
        &HttpRequest {
            method: "POST",
            path: "/api/DescribeVpcs",
            query: "",
            headers: &refs,
            body,
        },
        &VerifierConfig::default(),
    )
    .unwrap()
}

fn user(name: &str) -> PrincipalArn {
    format!("arn:aws:iam::111122223333:user/{name}")
        .parse()
        .unwrap()
}

#[test]
fn long_term_keys_authenticate_only_while_active() {
    let master = MasterKey::from_bytes(&[9; 32]).unwrap();
    let mut ring = KeyRing::new();
    let alice = user("alice");
    let k = ring.create(&master, &alice, T0).unwrap();
    let id = k.record.id.to_string();
    let req = signed(&id, k.secret.expose(), None, T0);
    let caller = authenticate(&req, ring.get(&k.record.id), &master, T0).unwrap();
    assert_eq!(caller.principal, alice);
    assert_eq!(caller.kind, CallerKind::LongTerm);

    // Wrong secret, unknown key, inactive key, a record of another key: all refused.
    let bad = signed(&id, "not-the-secret", None, T0);
    assert_eq!(
        authenticate(&bad, ring.get(&k.record.id), &master, T0)
            .unwrap_err()
            .code(),
        "SignatureDoesNotMatch"
    );
    assert_eq!(
        authenticate(&req, None, &master, T0).unwrap_err().code(),
        "InvalidClientTokenId"
    );
    let other = ring.create(&master, &alice, T0).unwrap();
    assert_eq!(
        authenticate(&req, ring.get(&other.record.id), &master, T0)
            .unwrap_err()
            .code(),
        "InvalidClientTokenId"
    );
    ring.set_status(&alice, &k.record.id, KeyStatus::Inactive)
        .unwrap();
    assert_eq!(
        authenticate(&req, ring.get(&k.record.id), &master, T0)
            .unwrap_err()
            .code(),
        "InvalidClientTokenId"
    );
    // A session token with a long-term key is not silently ignored.
    ring.set_status(&alice, &k.record.id, KeyStatus::Active)
        .unwrap();
    let with_token = signed(&id, k.secret.expose(), Some("v1.00000000.AAAA"), T0);
    assert_eq!(
        authenticate(&with_token, ring.get(&k.record.id), &master, T0)
            .unwrap_err()
            .code(),
        "InvalidClientTokenId"
    );
    // A different master key cannot open the stored secret (wrong key, not a wrong signature).
    let other_master = MasterKey::from_bytes(&[8; 32]).unwrap();
    assert_eq!(
        authenticate(&req, ring.get(&k.record.id), &other_master, T0)
            .unwrap_err()
            .code(),
        "InternalFailure"
    );
}

#[test]
fn a_kept_signing_key_spares_the_unsealing_and_is_kept_only_after_a_verified_signature() {
    let master = MasterKey::from_bytes(&[9; 32]).unwrap();
    let wrong_master = MasterKey::from_bytes(&[8; 32]).unwrap();
    let mut ring = KeyRing::new();
    let k = ring.create(&master, &user("alice"), T0).unwrap();
    let id = k.record.id.to_string();
    let record = ring.get(&k.record.id).unwrap();
    let kept = DerivedKeys::default();

    // A forged request derives a key from the real secret, but does not get it kept.
    let forged = signed(&id, "not-the-secret", None, T0);
    let e = authenticate_keeping(&forged, Some((record, Some(&kept))), &master, T0).unwrap_err();
    assert_eq!(e.code(), "SignatureDoesNotMatch");
    assert!(kept.is_empty());

    // The first good request unseals the secret and keeps the key for its scope.
    let req = signed(&id, k.secret.expose(), None, T0);
    let caller = authenticate_keeping(&req, Some((record, Some(&kept))), &master, T0).unwrap();
    assert_eq!(caller.kind, CallerKind::LongTerm);
    assert_eq!(kept.len(), 1);

    // The next in that scope needs no unsealing: a master key that cannot open the secret
    // does not matter any more.
    let later = T0 + Duration::seconds(30);
    let again = signed(&id, k.secret.expose(), None, later);
    let caller =
        authenticate_keeping(&again, Some((record, Some(&kept))), &wrong_master, later).unwrap();
    assert_eq!(caller.principal, user("alice"));
    // Without the kept key the same request does need it.
    assert_eq!(
        authenticate(&again, Some(record), &wrong_master, later)
            .unwrap_err()
            .code(),
        "InternalFailure"
    );

    // A kept key does not pass a wrong signature, nor a request out of its time window.
    let forged = signed(&id, "not-the-secret", None, later);
    let e = authenticate_keeping(&forged, Some((record, Some(&kept))), &master, later).unwrap_err();
    assert_eq!(e.code(), "SignatureDoesNotMatch");
    let stale = signed(&id, k.secret.expose(), None, T0);
    let e = authenticate_keeping(
        &stale,
        Some((record, Some(&kept))),
        &master,
        T0 + Duration::hours(1),
    )
    .unwrap_err();
    assert_eq!(e.code(), "RequestExpired");

    // Another scope (region) is another key: derived from the secret, then kept too.
    let west = signed_in("eu-west-1", &id, k.secret.expose(), None, later);
    assert_eq!(
        authenticate_keeping(&west, Some((record, Some(&kept))), &wrong_master, later)
            .unwrap_err()
            .code(),
        "InternalFailure"
    );
    authenticate_keeping(&west, Some((record, Some(&kept))), &master, later).unwrap();
    assert_eq!(kept.len(), 2);

    // At most four scopes are kept, the oldest going first.
    for region in ["eu-west-2", "eu-west-3", "eu-north-1"] {
        let r = signed_in(region, &id, k.secret.expose(), None, later);
        authenticate_keeping(&r, Some((record, Some(&kept))), &master, later).unwrap();
    }
    assert_eq!(kept.len(), 4);
    assert_eq!(
        authenticate_keeping(&again, Some((record, Some(&kept))), &wrong_master, later)
            .unwrap_err()
            .code(),
        "InternalFailure",
        "us-east-1's key, the oldest, went"
    );

    // The record's status is checked before any kept key is used.
    ring.set_status(&user("alice"), &k.record.id, KeyStatus::Inactive)
        .unwrap();
    let inactive = ring.get(&k.record.id).unwrap();
    let west = signed_in("eu-west-1", &id, k.secret.expose(), None, later);
    assert_eq!(
        authenticate_keeping(&west, Some((inactive, Some(&kept))), &master, later)
            .unwrap_err()
            .code(),
        "InvalidClientTokenId"
    );
    // Nothing secret is printed.
    assert!(!format!("{kept:?}").contains(k.secret.expose()));
}

fn role_arn() -> PrincipalArn {
    "arn:aws:iam::111122223333:role/deployer".parse().unwrap()
}

fn trust(principal: &str) -> Policy {
    Policy::parse(
        &format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}}}"#
        ),
        PolicyKind::Trust,
    )
    .unwrap()
}

fn assume(
    master: &MasterKey,
    caller: &PrincipalArn,
    trust: &Policy,
    duration: Option<u32>,
) -> Result<TemporaryCredentials, String> {
    let role = role_arn();
    let principal = match caller {
        PrincipalArn::User { name, .. } => PrincipalContext::user("111122223333", name),
        PrincipalArn::AssumedRole {
            role_name,
            session_name,
            ..
        } => PrincipalContext::assumed_role("111122223333", role_name, session_name),
        _ => PrincipalContext::root("111122223333"),
    };
    let ctx = RequestContext::new(principal, "sts:AssumeRole", &role.to_string());
    assume_role(
        master,
        &AssumeRoleRequest {
            caller,
            role: RoleInfo {
                arn: &role,
                role_id: "AROAEXAMPLEEXAMPLE1",
                trust_policy: trust,
                max_session_secs: 7200,
            },
            session_name: "build-42",
            duration_secs: duration,
        },
        ctx,
        T0,
    )
    .map_err(|e| e.code().to_owned())
}

#[test]
fn sessions_work_until_expiry_and_not_after() {
    let master = MasterKey::from_bytes(&[9; 32]).unwrap();
    let ci = user("ci");
    let creds = assume(
        &master,
        &ci,
        &trust("arn:aws:iam::111122223333:user/ci"),
        Some(900),
    )
    .unwrap();
    assert!(creds.access_key_id.as_str().starts_with("ASIA"));
    assert_eq!(creds.expiration, T0 + Duration::seconds(900));
    assert_eq!(
        creds.assumed_role_arn.to_string(),
        "arn:aws:sts::111122223333:assumed-role/deployer/build-42"
    );
    let id = creds.access_key_id.to_string();
    let token = creds.session_token.expose();
    let secret = creds.secret_access_key.expose();

    let req = signed(&id, secret, Some(token), T0 + Duration::seconds(60));
    let caller = authenticate(&req, None, &master, T0 + Duration::seconds(60)).unwrap();
    assert_eq!(caller.principal, creds.assumed_role_arn);
    match caller.kind {
        CallerKind::Session {
            role_arn,
            role_id,
            source,
            ..
        } => {
            assert_eq!(role_arn, role_arn_value());
            assert_eq!(role_id, "AROAEXAMPLEEXAMPLE1");
            assert_eq!(source, ci.to_string());
        }
        other => panic!("expected a session, got {other:?}"),
    }
    // Expired: the signature is fine, the session is not.
    let late = T0 + Duration::seconds(900);
    let req = signed(&id, secret, Some(token), late);
    assert_eq!(
        authenticate(&req, None, &master, late).unwrap_err().code(),
        "ExpiredToken"
    );
    // No token, a tampered token, another session's token: InvalidClientTokenId.
    let no_token = signed(&id, secret, None, T0);
    assert_eq!(
        authenticate(&no_token, None, &master, T0)
            .unwrap_err()
            .code(),
        "InvalidClientTokenId"
    );
    let mut tampered = token.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let req = signed(&id, secret, Some(&tampered), T0);
    assert_eq!(
        authenticate(&req, None, &master, T0).unwrap_err().code(),
        "InvalidClientTokenId"
    );
    let other = assume(
        &master,
        &ci,
        &trust("arn:aws:iam::111122223333:user/ci"),
        None,
    )
    .unwrap();
    let req = signed(&id, secret, Some(other.session_token.expose()), T0);
    assert_eq!(
        authenticate(&req, None, &master, T0).unwrap_err().code(),
        "InvalidClientTokenId"
    );
    // The token does not carry the secret in the clear.
    assert!(!token.contains(secret));
    assert_eq!(format!("{:?}", creds.session_token), "SessionToken(***)");
}

fn role_arn_value() -> PrincipalArn {
    role_arn()
}

#[test]
fn trust_and_duration_rules() {
    let master = MasterKey::from_bytes(&[9; 32]).unwrap();
    let ci = user("ci");
    assert_eq!(
        assume(
            &master,
            &user("mallory"),
            &trust("arn:aws:iam::111122223333:user/ci"),
            None
        )
        .unwrap_err(),
        "AccessDenied"
    );
    assert_eq!(
        assume(
            &master,
            &ci,
            &trust("arn:aws:iam::111122223333:user/ci"),
            Some(899)
        )
        .unwrap_err(),
        "ValidationError"
    );
    assert_eq!(
        assume(
            &master,
            &ci,
            &trust("arn:aws:iam::111122223333:user/ci"),
            Some(7201)
        )
        .unwrap_err(),
        "ValidationError"
    );
    assume(
        &master,
        &ci,
        &trust("arn:aws:iam::111122223333:user/ci"),
        Some(7200),
    )
    .unwrap();
    // Role chaining: a session assuming a role is capped at one hour.
    let session: PrincipalArn = "arn:aws:sts::111122223333:assumed-role/builder/s1"
        .parse()
        .unwrap();
    let t = trust("arn:aws:iam::111122223333:role/builder");
    assert_eq!(
        assume(&master, &session, &t, Some(3601)).unwrap_err(),
        "ValidationError"
    );
    assume(&master, &session, &t, Some(3600)).unwrap();
    // The account root in the trust policy admits the account's principals.
    assume(&master, &ci, &trust("111122223333"), None).unwrap();
    let _ = SecretAccessKey::new("unused");
}

#[test]
fn user_sessions_authenticate_as_the_user_itself() {
    let master = MasterKey::from_bytes(&[9; 32]).unwrap();
    let ci = user("ci");
    let creds = get_session_token(
        &master,
        &SessionTokenRequest {
            caller: &ci,
            caller_id: "AIDAEXAMPLEEXAMPLE1",
            duration_secs: None,
        },
        T0,
    )
    .unwrap();
    assert!(creds.access_key_id.as_str().starts_with("ASIA"));
    // A user's session lasts 12 hours unless asked otherwise.
    assert_eq!(creds.expiration, T0 + Duration::hours(12));
    let id = creds.access_key_id.to_string();
    let (token, secret) = (
        creds.session_token.expose(),
        creds.secret_access_key.expose(),
    );
    let at = T0 + Duration::hours(1);
    let caller = authenticate(&signed(&id, secret, Some(token), at), None, &master, at).unwrap();
    // The same principal as the long-term key: the user, not a role session.
    assert_eq!(caller.principal, ci);
    match caller.kind {
        CallerKind::UserSession {
            user_id,
            issued,
            expires,
        } => {
            assert_eq!(user_id, "AIDAEXAMPLEEXAMPLE1");
            assert_eq!(issued, T0);
            assert_eq!(expires, creds.expiration);
        }
        other => panic!("expected a user session, got {other:?}"),
    }
    // Expired, without its token, with a tampered token: refused.
    let late = creds.expiration;
    assert_eq!(
        authenticate(&signed(&id, secret, Some(token), late), None, &master, late)
            .unwrap_err()
            .code(),
        "ExpiredToken"
    );
    assert_eq!(
        authenticate(&signed(&id, secret, None, at), None, &master, at)
            .unwrap_err()
            .code(),
        "InvalidClientTokenId"
    );
    let mut tampered = token.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        authenticate(&signed(&id, secret, Some(&tampered), at), None, &master, at)
            .unwrap_err()
            .code(),
        "InvalidClientTokenId"
    );
    // Another master key cannot open it.
    let other = MasterKey::from_bytes(&[7; 32]).unwrap();
    assert_eq!(
        authenticate(&signed(&id, secret, Some(token), at), None, &other, at)
            .unwrap_err()
            .code(),
        "InvalidClientTokenId"
    );

    // The root gets sessions of at most an hour (the default).
    let root: PrincipalArn = "arn:aws:iam::111122223333:root".parse().unwrap();
    let root_req = |d| SessionTokenRequest {
        caller: &root,
        caller_id: "111122223333",
        duration_secs: d,
    };
    let r = get_session_token(&master, &root_req(None), T0).unwrap();
    assert_eq!(r.expiration, T0 + Duration::hours(1));
    let caller = authenticate(
        &signed(
            r.access_key_id.as_str(),
            r.secret_access_key.expose(),
            Some(r.session_token.expose()),
            T0,
        ),
        None,
        &master,
        T0,
    )
    .unwrap();
    assert_eq!(caller.principal, root);
    assert_eq!(
        get_session_token(&master, &root_req(Some(3601)), T0)
            .unwrap_err()
            .code(),
        "ValidationError"
    );

    // Durations: 900 s to 36 h for users.
    let ask = |d| {
        get_session_token(
            &master,
            &SessionTokenRequest {
                caller: &ci,
                caller_id: "AIDAEXAMPLEEXAMPLE1",
                duration_secs: Some(d),
            },
            T0,
        )
        .map(|c| c.expiration)
        .map_err(|e| e.code())
    };
    assert_eq!(ask(899), Err("ValidationError"));
    assert_eq!(ask(129_601), Err("ValidationError"));
    assert_eq!(ask(129_600), Ok(T0 + Duration::hours(36)));
    assert_eq!(ask(900), Ok(T0 + Duration::seconds(900)));

    // Role sessions may not ask for one.
    let session: PrincipalArn = "arn:aws:sts::111122223333:assumed-role/builder/s1"
        .parse()
        .unwrap();
    let e = get_session_token(
        &master,
        &SessionTokenRequest {
            caller: &session,
            caller_id: "AROAEXAMPLEEXAMPLE1:s1",
            duration_secs: None,
        },
        T0,
    )
    .unwrap_err();
    assert_eq!(e.code(), "AccessDenied");
    assert_eq!(e.http_status(), 403);
}
