//! Principals: NotPrincipal in a Deny (item 27), endpoint-policy principals, trust policies.

mod iam_support;

use iam_support::*;
use underpass_auth::iam::{
    evaluate, evaluate_trust, NamedPolicy, Outcome, PolicyKind, PolicySet, PolicySource,
    PrincipalContext, PrincipalKind, Reason, ResourcePolicy,
};

use Outcome::{Allow, ExplicitDeny, ImplicitDeny};
use PolicyKind::{Endpoint, Trust};

/// Item 27: a Deny with NotPrincipal exempts a principal only if every identity AWS checks
/// (account, role, session) is listed.
#[test]
fn not_principal_in_a_deny() {
    let role = format!("arn:aws:iam::{ACCT}:role/app");
    let session_arn = format!("arn:aws:sts::{ACCT}:assumed-role/app/worker");
    let user = format!("arn:aws:iam::{ACCT}:user/alice");
    let root = format!("arn:aws:iam::{ACCT}:root");
    let session = PrincipalContext::assumed_role(ACCT, "app", "worker");
    let other_session = PrincipalContext::assumed_role(ACCT, "app", "other");
    let bob = PrincipalContext::user(ACCT, "bob");
    let cases: Vec<(Vec<&str>, PrincipalContext, Outcome)> = vec![
        (vec![&role], session.clone(), ExplicitDeny),
        (vec![&root, &role], session.clone(), ExplicitDeny),
        (vec![&root, &session_arn], session.clone(), ExplicitDeny),
        (vec![&root, &role, &session_arn], session.clone(), Allow),
        (vec![ACCT, &role, &session_arn], session.clone(), Allow),
        (
            vec![&root, &role, &session_arn],
            other_session,
            ExplicitDeny,
        ),
        (vec![&root, &user], alice(), Allow),
        (vec![&user], alice(), ExplicitDeny),
        (vec![&root, &user], bob.clone(), ExplicitDeny),
        (vec![&root], bob, ExplicitDeny),
        (vec![&root], PrincipalContext::root(ACCT), Allow),
        (
            vec![&root, &user],
            PrincipalContext::anonymous(),
            ExplicitDeny,
        ),
        (vec!["*"], PrincipalContext::anonymous(), Allow),
        (vec!["*"], session, Allow),
    ];
    for (listed, principal, expected) in cases {
        let aws = listed
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let endpoint = named(
            "ep",
            Endpoint,
            &doc(&format!(
                r#"{{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}},
                   {{"Sid": "OnlyListed", "Effect": "Deny", "NotPrincipal": {{"AWS": [{aws}]}}, "Action": "*", "Resource": "*"}}"#
            )),
        );
        let set = PolicySet {
            resource: Some(ResourcePolicy {
                policy: &endpoint,
                owner_account: ACCT,
            }),
            ..PolicySet::default()
        };
        let d = evaluate(&ctx(principal.clone(), "ec2:CreateVpcEndpoint", EP), &set);
        assert_eq!(
            d.outcome, expected,
            "NotPrincipal [{aws}] vs {}: {d}",
            principal.arn
        );
        if expected == ExplicitDeny {
            assert_eq!(
                d.statement().and_then(|s| s.sid.as_deref()),
                Some("OnlyListed")
            );
        }
    }
}

#[test]
fn not_principal_always_denies_principals_with_a_boundary() {
    // AWS: a NotPrincipal Deny applies to any principal that has a permissions boundary.
    let user = format!("arn:aws:iam::{ACCT}:user/alice");
    let endpoint = named(
        "ep",
        Endpoint,
        &doc(&format!(
            r#"{{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}},
               {{"Effect": "Deny", "NotPrincipal": {{"AWS": ["{ACCT}", "{user}"]}}, "Action": "*", "Resource": "*"}}"#
        )),
    );
    let admin = [identity("Admin", ALLOW_ALL)];
    let boundary = identity("Boundary", ALLOW_ALL);
    let mut set = PolicySet {
        identity: &admin,
        endpoint: Some(&endpoint),
        ..PolicySet::default()
    };
    assert_eq!(
        evaluate(&ctx(alice(), "ec2:CreateVpc", EP), &set).outcome,
        Allow
    );
    set.permissions_boundary = Some(&boundary);
    assert_eq!(
        evaluate(&ctx(alice(), "ec2:CreateVpc", EP), &set).outcome,
        ExplicitDeny
    );
}

#[test]
fn endpoint_policy_principals() {
    let endpoint = named(
        "only-our-account",
        Endpoint,
        &doc(&format!(
            r#"{{"Effect": "Allow", "Principal": {{"AWS": "{ACCT}"}}, "Action": "ec2:*", "Resource": "*"}}"#
        )),
    );
    let admin = [identity("Admin", ALLOW_ALL)];
    let set = PolicySet {
        identity: &admin,
        endpoint: Some(&endpoint),
        ..PolicySet::default()
    };
    assert_eq!(
        evaluate(&ctx(alice(), "ec2:CreateVpc", EP), &set).outcome,
        Allow
    );
    let stranger = PrincipalContext::user(OTHER, "mallory");
    let d = evaluate(&ctx(stranger, "ec2:CreateVpc", "*"), &set);
    assert_eq!(
        d.reason,
        Reason::NotAllowedBy {
            source: PolicySource::Endpoint,
            policy: "only-our-account".into()
        }
    );
}

#[test]
fn trust_policies() {
    let trust = |statements: &str| policy_of(Trust, statements);
    let third_party = trust(&format!(
        r#"{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{OTHER}:root"}}, "Action": "sts:AssumeRole",
            "Condition": {{"StringEquals": {{"sts:ExternalId": "Example Corp 42"}}}}}}"#
    ));
    let caller = PrincipalContext::user(OTHER, "deployer");
    let assume = |p: &PrincipalContext| {
        ctx(
            p.clone(),
            "sts:AssumeRole",
            &format!("arn:aws:iam::{ACCT}:role/deploy"),
        )
    };
    assert!(evaluate_trust(
        &third_party,
        &assume(&caller).with_key("sts:ExternalId", "Example Corp 42")
    )
    .is_allowed());
    let d = evaluate_trust(&third_party, &assume(&caller));
    assert_eq!(d.outcome, ImplicitDeny);
    assert_eq!(
        d.to_string(),
        r#"implicitly denied: trust policy "AssumeRolePolicyDocument" has no statement that allows the request"#
    );
    assert!(!evaluate_trust(
        &third_party,
        &assume(&PrincipalContext::user(ACCT, "x")).with_key("sts:ExternalId", "Example Corp 42")
    )
    .is_allowed());
    assert!(!evaluate_trust(
        &third_party,
        &ctx(caller.clone(), "sts:TagSession", "*").with_key("sts:ExternalId", "Example Corp 42")
    )
    .is_allowed());

    let service = trust(
        r#"{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}"#,
    );
    assert!(evaluate_trust(
        &service,
        &assume(&PrincipalContext::service("ec2.amazonaws.com"))
    )
    .is_allowed());
    assert!(!evaluate_trust(
        &service,
        &assume(&PrincipalContext::service("lambda.amazonaws.com"))
    )
    .is_allowed());
    assert!(!evaluate_trust(&service, &assume(&caller)).is_allowed());

    // A role ARN in a trust policy matches that role's sessions (role chaining).
    let chain = trust(&format!(
        r#"{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{ACCT}:role/ci"}}, "Action": "sts:AssumeRole"}},
           {{"Sid": "NoNight", "Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole",
             "Condition": {{"DateGreaterThan": {{"aws:CurrentTime": "2030-01-01T00:00:00Z"}}}}}}"#
    ));
    let ci = PrincipalContext::assumed_role(ACCT, "ci", "build-7");
    let now = |t: &str| assume(&ci).with_key("aws:CurrentTime", t);
    assert!(evaluate_trust(&chain, &now("2029-12-31T23:59:59Z")).is_allowed());
    let d = evaluate_trust(&chain, &now("2030-01-01T00:00:01Z"));
    assert_eq!(
        d.to_string(),
        r#"explicitly denied by statement "NoNight" (Statement[1]) of trust policy "AssumeRolePolicyDocument""#
    );
    let web = trust(
        r#"{"Effect": "Allow", "Principal": {"Federated": "accounts.google.com"}, "Action": "sts:AssumeRoleWithWebIdentity"}"#,
    );
    let google = PrincipalContext {
        kind: PrincipalKind::WebIdentity {
            provider: "accounts.google.com".into(),
        },
        ..PrincipalContext::anonymous()
    };
    assert!(evaluate_trust(&web, &ctx(google, "sts:AssumeRoleWithWebIdentity", "*")).is_allowed());

    // Both halves at once: a cross-account caller needs its own identity Allow too.
    let trust_named = NamedPolicy::new("deploy-trust", third_party.clone());
    let may_assume = [identity(
        "MayAssume",
        &format!(
            r#"{{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::{ACCT}:role/deploy"}}"#
        ),
    )];
    let request = assume(&caller).with_key("sts:ExternalId", "Example Corp 42");
    let mut set = PolicySet {
        resource: Some(ResourcePolicy {
            policy: &trust_named,
            owner_account: ACCT,
        }),
        ..PolicySet::default()
    };
    let d = evaluate(&request, &set);
    assert_eq!(d.outcome, ImplicitDeny);
    assert!(matches!(
        d.reason,
        Reason::CrossAccountNeedsIdentityAllow { .. }
    ));
    assert_eq!(d.statements[0].source, PolicySource::Trust);
    set.identity = &may_assume;
    assert!(evaluate(&request, &set).is_allowed());
}

/// A policy of `kind` with the given statements.
fn policy_of(kind: PolicyKind, statements: &str) -> underpass_auth::iam::Policy {
    policy(kind, &doc(statements))
}
