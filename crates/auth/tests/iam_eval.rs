//! Evaluation logic: explicit deny (item 21), default deny (22), same vs cross account (23),
//! boundaries and session policies, and the cost bound (32). Matching: `iam_eval_matching.rs`;
//! principals and trust: `iam_eval_principals.rs`; conditions: `iam_conditions.rs`.

mod iam_support;

use iam_support::*;
use underpass_auth::iam::{
    evaluate, Decision, Effect, NamedPolicy, Outcome, PolicyKind, PolicySet, PolicySource,
    PrincipalContext, Reason, ResourcePolicy, StatementRef,
};

use Outcome::{Allow, ExplicitDeny, ImplicitDeny};
use PolicyKind::{Endpoint, Identity, Resource, Session};

const SOURCES: [PolicySource; 5] = [
    PolicySource::Identity,
    PolicySource::Resource,
    PolicySource::PermissionsBoundary,
    PolicySource::Session,
    PolicySource::Endpoint,
];

/// One policy per slot, each allowing (if `allow`) and/or denying (if `deny`) ec2:* on EP.
fn slot_policy(source: PolicySource, allow: bool, deny: bool) -> NamedPolicy {
    let principal = match source {
        PolicySource::Resource | PolicySource::Endpoint => r#""Principal": "*","#,
        _ => "",
    };
    let kind = match source {
        PolicySource::Resource => Resource,
        PolicySource::Endpoint => Endpoint,
        PolicySource::Session => Session,
        _ => Identity,
    };
    let mut statements = vec![format!(
        r#"{{"Sid": "Unrelated", "Effect": "Allow", {principal} "Action": "s3:GetObject", "Resource": "*"}}"#
    )];
    if allow {
        statements.push(format!(r#"{{"Sid": "AllowEc2", "Effect": "Allow", {principal} "Action": "ec2:*", "Resource": "*"}}"#));
    }
    if deny {
        statements.push(format!(
            r#"{{"Sid": "DenyDeletes", "Effect": "Deny", {principal} "Action": "ec2:Delete*", "Resource": "{EP}"}}"#
        ));
    }
    named(&format!("{source:?}"), kind, &doc(&statements.join(",")))
}

fn eval_slots(ctx: &underpass_auth::iam::RequestContext, slots: &[NamedPolicy; 5]) -> Decision {
    let [identity, resource, boundary, session, endpoint] = slots;
    evaluate(
        ctx,
        &PolicySet {
            identity: std::slice::from_ref(identity),
            resource: Some(ResourcePolicy {
                policy: resource,
                owner_account: ACCT,
            }),
            permissions_boundary: Some(boundary),
            session: Some(session),
            endpoint: Some(endpoint),
        },
    )
}

#[test]
fn explicit_deny_wins_across_every_pair_of_policy_types() {
    let session = PrincipalContext::assumed_role(ACCT, "app", "worker");
    let delete = ctx(session.clone(), "ec2:DeleteVpcEndpoints", EP);
    // `granting`: which of identity (0) and resource (1) grant; gates (2..5) always allow.
    for granting in [[true, true], [true, false], [false, true]] {
        let allows = |i: usize| i >= 2 || granting[i];
        let slots: [NamedPolicy; 5] =
            std::array::from_fn(|i| slot_policy(SOURCES[i], allows(i), false));
        assert_eq!(
            eval_slots(&delete, &slots).outcome,
            Allow,
            "{granting:?} without a Deny"
        );
        // Every policy that allows is paired with a Deny in every policy type, its own included.
        for (d, deny_src) in SOURCES.iter().enumerate() {
            let slots: [NamedPolicy; 5] =
                std::array::from_fn(|i| slot_policy(SOURCES[i], allows(i), i == d));
            let decision = eval_slots(&delete, &slots);
            assert_eq!(
                decision.outcome, ExplicitDeny,
                "{granting:?}, deny in {deny_src}"
            );
            assert_eq!(decision.reason, Reason::ExplicitDeny);
            let expected = StatementRef {
                source: *deny_src,
                policy: format!("{deny_src:?}"),
                index: 1 + usize::from(allows(d)), // after "Unrelated" and "AllowEc2"
                sid: Some("DenyDeletes".into()),
                effect: Effect::Deny,
            };
            assert_eq!(
                decision.statements,
                vec![expected],
                "{granting:?}, deny in {deny_src}"
            );
        }
    }
    // Denies in every policy at once: all are named, in policy order.
    let slots: [NamedPolicy; 5] = std::array::from_fn(|i| slot_policy(SOURCES[i], true, true));
    let decision = eval_slots(&delete, &slots);
    let sources: Vec<PolicySource> = decision.statements.iter().map(|s| s.source).collect();
    assert_eq!(sources, SOURCES);
    // A request the Deny does not cover is allowed.
    let describe = ctx(session, "ec2:DescribeVpcEndpoints", EP);
    assert_eq!(eval_slots(&describe, &slots).outcome, Allow);
}

#[test]
fn explicit_deny_display_names_the_statement() {
    let endpoint = named(
        "default",
        Endpoint,
        &doc(
            r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
               {"Sid": "DenyDeletes", "Effect": "Deny", "Principal": "*", "Action": "ec2:Delete*", "Resource": "*"}"#,
        ),
    );
    let admin = [identity("Admin", ALLOW_ALL)];
    let set = PolicySet {
        identity: &admin,
        endpoint: Some(&endpoint),
        ..PolicySet::default()
    };
    let d = evaluate(&ctx(alice(), "ec2:DeleteVpcEndpoints", EP), &set);
    assert_eq!(
        d.to_string(),
        r#"explicitly denied by statement "DenyDeletes" (Statement[1]) of endpoint policy "default""#
    );
    let d = evaluate(&ctx(alice(), "ec2:CreateVpcEndpoint", EP), &set);
    assert_eq!(
        d.to_string(),
        r#"allowed by Statement[0] of identity policy "Admin" and Statement[0] of endpoint policy "default""#
    );
}

#[test]
fn default_deny() {
    let request = ctx(alice(), "ec2:CreateVpcEndpoint", EP);
    let d = evaluate(&request, &PolicySet::default());
    assert_eq!((d.outcome, &d.reason), (ImplicitDeny, &Reason::NoAllow));
    assert!(d.statements.is_empty());
    assert_eq!(
        d.to_string(),
        "implicitly denied: no statement in the identity-based or resource-based policies allows the request"
    );
    let unrelated = [identity(
        "S3Only",
        r#"{"Effect": "Allow", "Action": ["s3:*", "ec2:Describe*"], "Resource": "*"}"#,
    )];
    assert_eq!(eval_identity(&request, &unrelated).outcome, ImplicitDeny);
    // An empty endpoint policy slot means full access; an endpoint policy that allows only other
    // actions is a gate that says no.
    let ep_policy = named(
        "s3-only",
        Endpoint,
        &doc(r#"{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}"#),
    );
    let admin = [identity("Admin", ALLOW_ALL)];
    let set = PolicySet {
        identity: &admin,
        endpoint: Some(&ep_policy),
        ..PolicySet::default()
    };
    let d = evaluate(&request, &set);
    assert_eq!(d.outcome, ImplicitDeny);
    assert_eq!(
        d.reason,
        Reason::NotAllowedBy {
            source: PolicySource::Endpoint,
            policy: "s3-only".into()
        }
    );
    assert_eq!(
        d.to_string(),
        r#"implicitly denied: endpoint policy "s3-only" has no statement that allows the request"#
    );
}

/// A resource policy of the endpoint owned by `owner`, granting ec2:* to `principal`.
fn resource_policy(principal: &str) -> NamedPolicy {
    named(
        "vpce-policy",
        Resource,
        &doc(&format!(
            r#"{{"Sid": "Grant", "Effect": "Allow", "Principal": {principal}, "Action": "ec2:*", "Resource": "*"}}"#
        )),
    )
}

#[test]
fn same_account_versus_cross_account() {
    let allow_ec2 = identity(
        "AllowEc2",
        r#"{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}"#,
    );
    let nothing = identity(
        "Nothing",
        r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#,
    );
    let silent = resource_policy(r#"{"AWS": "999999999999"}"#);
    let to_alice = resource_policy(&format!(r#"{{"AWS": "arn:aws:iam::{ACCT}:user/alice"}}"#));
    let to_account_root = resource_policy(&format!(r#"{{"AWS": "arn:aws:iam::{ACCT}:root"}}"#));
    let to_account_id = resource_policy(&format!(r#"{{"AWS": "{ACCT}"}}"#));
    let to_everyone = resource_policy(r#""*""#);
    let to_role = resource_policy(&format!(r#"{{"AWS": "arn:aws:iam::{ACCT}:role/app"}}"#));
    let other_ep = EP.replace(ACCT, OTHER);
    let session = PrincipalContext::assumed_role(ACCT, "app", "s1");
    type Case<'a> = (
        &'a str,
        PrincipalContext,
        &'a str,
        &'a NamedPolicy,
        Option<(&'a NamedPolicy, &'a str)>,
        Outcome,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        ("same account, identity allows, no resource policy", alice(), EP, &allow_ec2, None, Allow, "allowed by"),
        ("same account, identity allows, resource policy silent", alice(), EP, &allow_ec2, Some((&silent, ACCT)), Allow, "allowed by"),
        ("same account, resource policy names the user", alice(), EP, &nothing, Some((&to_alice, ACCT)), Allow, "resource policy"),
        ("same account, resource policy names everyone", alice(), EP, &nothing, Some((&to_everyone, ACCT)), Allow, "resource policy"),
        ("same account, resource names the role, caller is a session", session.clone(), EP, &nothing, Some((&to_role, ACCT)), Allow, "resource policy"),
        ("same account, resource grants only to the account (root ARN)", alice(), EP, &nothing, Some((&to_account_root, ACCT)), ImplicitDeny, "grants to account 111122223333 as a whole"),
        ("same account, resource grants only to the account (id)", alice(), EP, &nothing, Some((&to_account_id, ACCT)), ImplicitDeny, "leaves the decision to the account's identity-based policies"),
        ("same account, account grant plus identity allow", alice(), EP, &allow_ec2, Some((&to_account_id, ACCT)), Allow, "allowed"),
        ("same account, nothing allows", alice(), EP, &nothing, Some((&silent, ACCT)), ImplicitDeny, "no statement"),
        ("cross account, identity allows, no resource policy", alice(), &other_ep, &allow_ec2, None, ImplicitDeny, "(principal in 111122223333, resource owned by 444455556666) needs an Allow in the resource's policy"),
        ("cross account, identity allows, resource policy silent", alice(), EP, &allow_ec2, Some((&silent, OTHER)), ImplicitDeny, "needs an Allow in the resource's policy"),
        ("cross account, resource allows, identity silent", alice(), EP, &nothing, Some((&to_alice, OTHER)), ImplicitDeny, r#"is allowed by statement "Grant" (Statement[0]) of resource policy "vpce-policy" but by no identity-based policy"#),
        ("cross account, both allow (user named)", alice(), EP, &allow_ec2, Some((&to_alice, OTHER)), Allow, "allowed"),
        ("cross account, both allow (account named)", alice(), EP, &allow_ec2, Some((&to_account_root, OTHER)), Allow, "allowed"),
        ("cross account, both allow (everyone)", alice(), EP, &allow_ec2, Some((&to_everyone, OTHER)), Allow, "allowed"),
        ("cross account, other account named", alice(), EP, &allow_ec2, Some((&silent, OTHER)), ImplicitDeny, "cross-account"),
        // The ARN and the resource policy disagree about the owner: treated as cross-account.
        ("owner in the ARN differs", alice(), &other_ep, &nothing, Some((&to_alice, ACCT)), ImplicitDeny, "resource owned by 444455556666"),
        ("owner in the policy differs", alice(), EP, &nothing, Some((&to_alice, OTHER)), ImplicitDeny, "resource owned by 444455556666"),
        ("root user, own account, no policies", PrincipalContext::root(ACCT), EP, &nothing, None, Allow, "allowed as the account's root user"),
        ("root user, cross account, account named", PrincipalContext::root(ACCT), EP, &nothing, Some((&to_account_id, OTHER)), Allow, "allowed as the account's root user by"),
        ("root user, cross account, not named", PrincipalContext::root(ACCT), EP, &nothing, Some((&silent, OTHER)), ImplicitDeny, "cross-account"),
        ("anonymous, resource allows everyone", PrincipalContext::anonymous(), EP, &nothing, Some((&to_everyone, ACCT)), Allow, "allowed"),
        ("anonymous, resource allows the account", PrincipalContext::anonymous(), EP, &allow_ec2, Some((&to_account_id, ACCT)), ImplicitDeny, "no statement"),
        ("anonymous, identity policies do not count", PrincipalContext::anonymous(), "*", &allow_ec2, None, ImplicitDeny, "no statement"),
    ];
    for (name, principal, resource, identity_policy, res, expected, text) in cases {
        let identity = [identity_policy.clone()];
        let set = PolicySet {
            identity: &identity,
            resource: res.map(|(policy, owner_account)| ResourcePolicy {
                policy,
                owner_account,
            }),
            ..PolicySet::default()
        };
        let d = evaluate(&ctx(principal, "ec2:CreateVpcEndpoint", resource), &set);
        assert_eq!(d.outcome, expected, "{name}: {d}");
        assert!(d.to_string().contains(text), "{name}: {d}");
    }
}

#[test]
fn service_principals_are_granted_only_by_resource_policies() {
    let by_service = resource_policy(r#"{"Service": "vpce.amazonaws.com"}"#);
    let svc = PrincipalContext::service("vpce.amazonaws.com");
    let set = PolicySet {
        resource: Some(ResourcePolicy {
            policy: &by_service,
            owner_account: ACCT,
        }),
        ..PolicySet::default()
    };
    assert_eq!(
        evaluate(&ctx(svc, "ec2:CreateVpcEndpoint", EP), &set).outcome,
        Allow
    );
    let other = PrincipalContext::service("ec2.amazonaws.com");
    assert_eq!(
        evaluate(&ctx(other, "ec2:CreateVpcEndpoint", EP), &set).outcome,
        ImplicitDeny
    );
}

#[test]
fn aws_documented_example_carlos() {
    // After "Example identity-based and resource-based policy evaluation" in the IAM User Guide.
    let carlos = PrincipalContext::user("123456789012", "carlossalazar");
    let identity_policy = [identity(
        "CarlosPolicy",
        r#"{"Sid": "AllowS3ListRead", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetObjectVersion", "s3:ListAllMyBuckets"], "Resource": "*"},
           {"Sid": "AllowS3Self", "Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]},
           {"Sid": "DenyS3Logs", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::*log*"}"#,
    )];
    let bucket_policy = named(
        "carlossalazar-logs",
        Resource,
        &doc(
            r#"{"Sid": "AllowCarlosLogs", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/carlossalazar"}, "Action": "s3:*", "Resource": "arn:aws:s3:::carlossalazar-logs/*"}"#,
        ),
    );
    let set = PolicySet {
        identity: &identity_policy,
        resource: Some(ResourcePolicy {
            policy: &bucket_policy,
            owner_account: "123456789012",
        }),
        ..PolicySet::default()
    };
    let put_log = evaluate(
        &ctx(
            carlos.clone(),
            "s3:PutObject",
            "arn:aws:s3:::carlossalazar-logs/a",
        ),
        &set,
    );
    assert_eq!(put_log.outcome, ExplicitDeny);
    assert_eq!(
        put_log.statement().and_then(|s| s.sid.as_deref()),
        Some("DenyS3Logs")
    );
    let put_own = evaluate(
        &ctx(
            carlos.clone(),
            "s3:PutObject",
            "arn:aws:s3:::carlossalazar/a",
        ),
        &set,
    );
    assert_eq!(put_own.outcome, Allow);
    let list = eval_identity(&ctx(carlos, "s3:ListAllMyBuckets", "*"), &identity_policy);
    assert_eq!(
        list.statement().and_then(|s| s.sid.as_deref()),
        Some("AllowS3ListRead")
    );
}

#[test]
fn boundaries_and_session_policies_intersect() {
    let admin = [identity("Admin", ALLOW_ALL)];
    let boundary = identity(
        "Boundary",
        r#"{"Effect": "Allow", "Action": ["s3:*", "ec2:*"], "Resource": "*"}"#,
    );
    let session_policy = named(
        "SessionPolicy",
        Session,
        &doc(r#"{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}"#),
    );
    let session = PrincipalContext::assumed_role(ACCT, "app", "s1");
    let set = PolicySet {
        identity: &admin,
        permissions_boundary: Some(&boundary),
        session: Some(&session_policy),
        ..PolicySet::default()
    };
    let cases = [
        (
            "iam:CreateUser",
            ImplicitDeny,
            Some((PolicySource::PermissionsBoundary, "Boundary")),
        ),
        (
            "ec2:CreateVpcEndpoint",
            ImplicitDeny,
            Some((PolicySource::Session, "SessionPolicy")),
        ),
        ("ec2:DescribeVpcEndpoints", Allow, None),
    ];
    for (action, expected, gate) in cases {
        let d = evaluate(&ctx(session.clone(), action, EP), &set);
        assert_eq!(d.outcome, expected, "{action}: {d}");
        if let Some((source, policy)) = gate {
            assert_eq!(
                d.reason,
                Reason::NotAllowedBy {
                    source,
                    policy: policy.into()
                }
            );
        }
    }
    // A boundary alone grants nothing.
    let only_boundary = PolicySet {
        permissions_boundary: Some(&boundary),
        ..PolicySet::default()
    };
    assert_eq!(
        evaluate(&ctx(alice(), "ec2:CreateVpc", EP), &only_boundary).outcome,
        ImplicitDeny
    );
    // A same-account resource-policy grant is still limited by the boundary here (stricter than AWS).
    let to_alice = resource_policy(&format!(r#"{{"AWS": "arn:aws:iam::{ACCT}:user/alice"}}"#));
    let s3_boundary = identity(
        "S3Boundary",
        r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#,
    );
    let set = PolicySet {
        resource: Some(ResourcePolicy {
            policy: &to_alice,
            owner_account: ACCT,
        }),
        permissions_boundary: Some(&s3_boundary),
        ..PolicySet::default()
    };
    assert_eq!(
        evaluate(&ctx(alice(), "ec2:CreateVpcEndpoint", EP), &set).outcome,
        ImplicitDeny
    );
}

/// Item 32 as a test: 1,000 hostile statements stay cheap even in a debug build (an exponential
/// glob would take hours here). `cargo bench -p underpass-auth --bench iam` measures release.
#[test]
fn hostile_globs_stay_cheap() {
    let statement =
        r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*a*a*a*a*a*b"}"#;
    let ten = [statement; 10].join(",");
    let policies: Vec<NamedPolicy> = (0..100).map(|i| identity(&format!("p{i}"), &ten)).collect();
    let set = PolicySet {
        identity: &policies,
        ..PolicySet::default()
    };
    let miss = ctx(
        alice(),
        "s3:GetObject",
        &format!("arn:aws:s3:::{}", "a".repeat(4_096)),
    );
    let hit = ctx(
        alice(),
        "s3:GetObject",
        &format!("arn:aws:s3:::{}b", "a".repeat(4_096)),
    );
    // Correctness only: the cost is measured in benches/iam.rs ("1000 statements …"), where timings
    // belong; an exponential glob would not finish here at all.
    for (request, allowed) in [(&miss, false), (&hit, true)] {
        let d = evaluate(request, &set);
        assert_eq!(d.is_allowed(), allowed);
        assert_eq!(d.statements.len(), if allowed { 1_000 } else { 0 });
    }
}
