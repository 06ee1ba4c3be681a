//! Evaluation logic: explicit deny, default deny, same vs cross account, wildcards,
//! NotAction/NotResource, NotPrincipal, boundaries, session and endpoint policies, trust
//! policies (RELIABILITY items 21-24, 26, 27). Conditions and variables: `iam_conditions.rs`.

mod iam_support;

use iam_support::*;
use underpass_auth::iam::{
    evaluate, evaluate_trust, Decision, Effect, NamedPolicy, Outcome, PolicyKind, PolicySet,
    PolicySource, PrincipalContext, PrincipalKind, Reason, ResourcePolicy, StatementRef,
};

use Outcome::{Allow, ExplicitDeny, ImplicitDeny};
use PolicyKind::{Endpoint, Identity, Resource, Session, Trust};

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
        let slots: [NamedPolicy; 5] = std::array::from_fn(|i| slot_policy(SOURCES[i], allows(i), false));
        assert_eq!(eval_slots(&delete, &slots).outcome, Allow, "{granting:?} without a Deny");
        // Every policy that allows is paired with a Deny in every policy type, its own included.
        for (d, deny_src) in SOURCES.iter().enumerate() {
            let slots: [NamedPolicy; 5] = std::array::from_fn(|i| slot_policy(SOURCES[i], allows(i), i == d));
            let decision = eval_slots(&delete, &slots);
            assert_eq!(decision.outcome, ExplicitDeny, "{granting:?}, deny in {deny_src}");
            assert_eq!(decision.reason, Reason::ExplicitDeny);
            let expected = StatementRef {
                source: *deny_src,
                policy: format!("{deny_src:?}"),
                index: 1 + usize::from(allows(d)), // after "Unrelated" and "AllowEc2"
                sid: Some("DenyDeletes".into()),
                effect: Effect::Deny,
            };
            assert_eq!(decision.statements, vec![expected], "{granting:?}, deny in {deny_src}");
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
        &doc(&format!(
            r#"{{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}},
               {{"Sid": "DenyDeletes", "Effect": "Deny", "Principal": "*", "Action": "ec2:Delete*", "Resource": "*"}}"#
        )),
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
    let ep_policy = named("s3-only", Endpoint, &doc(r#"{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}"#));
    let admin = [identity("Admin", ALLOW_ALL)];
    let set = PolicySet { identity: &admin, endpoint: Some(&ep_policy), ..PolicySet::default() };
    let d = evaluate(&request, &set);
    assert_eq!(d.outcome, ImplicitDeny);
    assert_eq!(d.reason, Reason::NotAllowedBy { source: PolicySource::Endpoint, policy: "s3-only".into() });
    assert_eq!(d.to_string(), r#"implicitly denied: endpoint policy "s3-only" has no statement that allows the request"#);
}

/// A resource policy of the endpoint owned by `owner`, granting ec2:* to `principal`.
fn resource_policy(principal: &str) -> NamedPolicy {
    named(
        "vpce-policy",
        Resource,
        &doc(&format!(r#"{{"Sid": "Grant", "Effect": "Allow", "Principal": {principal}, "Action": "ec2:*", "Resource": "*"}}"#)),
    )
}

#[test]
fn same_account_versus_cross_account() {
    let allow_ec2 = identity("AllowEc2", r#"{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}"#);
    let nothing = identity("Nothing", r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#);
    let silent = resource_policy(r#"{"AWS": "999999999999"}"#);
    let to_alice = resource_policy(&format!(r#"{{"AWS": "arn:aws:iam::{ACCT}:user/alice"}}"#));
    let to_account_root = resource_policy(&format!(r#"{{"AWS": "arn:aws:iam::{ACCT}:root"}}"#));
    let to_account_id = resource_policy(&format!(r#"{{"AWS": "{ACCT}"}}"#));
    let to_everyone = resource_policy(r#""*""#);
    let to_role = resource_policy(&format!(r#"{{"AWS": "arn:aws:iam::{ACCT}:role/app"}}"#));
    let other_ep = EP.replace(ACCT, OTHER);
    let session = PrincipalContext::assumed_role(ACCT, "app", "s1");
    type Case<'a> = (&'a str, PrincipalContext, &'a str, &'a NamedPolicy, Option<(&'a NamedPolicy, &'a str)>, Outcome, &'a str);
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
            resource: res.map(|(policy, owner_account)| ResourcePolicy { policy, owner_account }),
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
        resource: Some(ResourcePolicy { policy: &by_service, owner_account: ACCT }),
        ..PolicySet::default()
    };
    assert_eq!(evaluate(&ctx(svc, "ec2:CreateVpcEndpoint", EP), &set).outcome, Allow);
    let other = PrincipalContext::service("ec2.amazonaws.com");
    assert_eq!(evaluate(&ctx(other, "ec2:CreateVpcEndpoint", EP), &set).outcome, ImplicitDeny);
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
        &doc(r#"{"Sid": "AllowCarlosLogs", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/carlossalazar"}, "Action": "s3:*", "Resource": "arn:aws:s3:::carlossalazar-logs/*"}"#),
    );
    let set = PolicySet {
        identity: &identity_policy,
        resource: Some(ResourcePolicy { policy: &bucket_policy, owner_account: "123456789012" }),
        ..PolicySet::default()
    };
    let put_log = evaluate(&ctx(carlos.clone(), "s3:PutObject", "arn:aws:s3:::carlossalazar-logs/a"), &set);
    assert_eq!(put_log.outcome, ExplicitDeny);
    assert_eq!(put_log.statement().and_then(|s| s.sid.as_deref()), Some("DenyS3Logs"));
    let put_own = evaluate(&ctx(carlos.clone(), "s3:PutObject", "arn:aws:s3:::carlossalazar/a"), &set);
    assert_eq!(put_own.outcome, Allow);
    let list = eval_identity(&ctx(carlos, "s3:ListAllMyBuckets", "*"), &identity_policy);
    assert_eq!(list.statement().and_then(|s| s.sid.as_deref()), Some("AllowS3ListRead"));
}

#[test]
fn boundaries_and_session_policies_intersect() {
    let admin = [identity("Admin", ALLOW_ALL)];
    let boundary = identity("Boundary", r#"{"Effect": "Allow", "Action": ["s3:*", "ec2:*"], "Resource": "*"}"#);
    let session_policy = named("SessionPolicy", Session, &doc(r#"{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}"#));
    let session = PrincipalContext::assumed_role(ACCT, "app", "s1");
    let set = PolicySet {
        identity: &admin,
        permissions_boundary: Some(&boundary),
        session: Some(&session_policy),
        ..PolicySet::default()
    };
    let cases = [
        ("iam:CreateUser", ImplicitDeny, Some((PolicySource::PermissionsBoundary, "Boundary"))),
        ("ec2:CreateVpcEndpoint", ImplicitDeny, Some((PolicySource::Session, "SessionPolicy"))),
        ("ec2:DescribeVpcEndpoints", Allow, None),
    ];
    for (action, expected, gate) in cases {
        let d = evaluate(&ctx(session.clone(), action, EP), &set);
        assert_eq!(d.outcome, expected, "{action}: {d}");
        if let Some((source, policy)) = gate {
            assert_eq!(d.reason, Reason::NotAllowedBy { source, policy: policy.into() });
        }
    }
    // A boundary alone grants nothing.
    let only_boundary = PolicySet { permissions_boundary: Some(&boundary), ..PolicySet::default() };
    assert_eq!(evaluate(&ctx(alice(), "ec2:CreateVpc", EP), &only_boundary).outcome, ImplicitDeny);
    // A same-account resource-policy grant is still limited by the boundary here (stricter than AWS).
    let to_alice = resource_policy(&format!(r#"{{"AWS": "arn:aws:iam::{ACCT}:user/alice"}}"#));
    let s3_boundary = identity("S3Boundary", r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}"#);
    let set = PolicySet {
        resource: Some(ResourcePolicy { policy: &to_alice, owner_account: ACCT }),
        permissions_boundary: Some(&s3_boundary),
        ..PolicySet::default()
    };
    assert_eq!(evaluate(&ctx(alice(), "ec2:CreateVpcEndpoint", EP), &set).outcome, ImplicitDeny);
}

/// Item 24: wildcards in Action and Resource, evaluated through an identity policy.
#[test]
fn wildcards() {
    let cases: &[(&str, &str, &str, &str, bool)] = &[
        // (action pattern, resource pattern, action, resource, allowed)
        ("ec2:*VpcEndpoint*", "*", "ec2:CreateVpcEndpoint", EP, true),
        ("ec2:*VpcEndpoint*", "*", "ec2:DescribeVpcEndpointServices", EP, true),
        ("ec2:*VpcEndpoint*", "*", "ec2:CreateVpc", EP, false),
        ("ec2:Describe?pc*", "*", "ec2:DescribeVpcs", EP, true),
        ("ec2:Describe?pc*", "*", "ec2:DescribeVpcEndpoints", EP, true),
        ("ec2:Describe?pc*", "*", "ec2:DescribeSubnets", EP, false),
        ("ec2:Describe?pc*", "*", "ec2:Describepc", EP, false),
        ("EC2:describevpcs", "*", "ec2:DescribeVpcs", EP, true), // actions ignore case
        ("ec2:*", "*", "ec2", EP, false),
        ("ec2:*", "*", "", EP, false),
        ("*", "*", "", "", true), // a bare * matches the empty string
        ("*", "*", "anything:at/all", "not an arn", true),
        ("*", "arn:aws:ec2:*:*:vpc-endpoint/*", "ec2:x", EP, true),
        ("*", "arn:aws:ec2:*:*:vpc-endpoint/*", "ec2:x", "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-1", false),
        ("*", "arn:aws:ec2:*:*:vpc-endpoint/*", "ec2:x", "arn:aws:ec2:us-east-1:111122223333:vpc-endpoint-service/vpce-svc-1", false),
        ("*", "arn:aws:ec2:*:*:vpc-endpoint/*", "ec2:x", "*", false),
        ("*", "arn:aws:ec2:*:*:vpc-endpoint/*", "ec2:x", "", false),
        // `*` matches `/` and `:` inside the resource component...
        ("*", "arn:aws:s3:::bucket/*", "s3:GetObject", "arn:aws:s3:::bucket/a/b:c", true),
        // ...but never crosses into another component.
        ("*", "arn:aws:ec2:*:111122223333:*", "ec2:x", "arn:aws:ec2:us-east-1:444455556666:111122223333:x", false),
        ("*", "arn:aws:ec2:us-*-1:*:*", "ec2:x", EP, true),
        ("*", "arn:aws:ec2:us-*-1:*:*", "ec2:x", "arn:aws:ec2:us-east-2:1:x", false),
        // `*` matches an empty component; `?` does not.
        ("*", "arn:aws:s3:*:*:bucket", "s3:x", "arn:aws:s3:::bucket", true),
        ("*", "arn:aws:s3:?:*:bucket", "s3:x", "arn:aws:s3:::bucket", false),
        ("*", "arn:aws:s3:::bucket?", "s3:x", "arn:aws:s3:::bucket", false),
        // Resources are case-sensitive.
        ("*", "arn:aws:s3:::Bucket/*", "s3:x", "arn:aws:s3:::bucket/a", false),
        ("*", "arn:aws:ec2:*:*:VPC-ENDPOINT/*", "ec2:x", EP, false),
    ];
    for (action_pat, resource_pat, action, resource, expected) in cases {
        let p = [identity("P", &format!(r#"{{"Effect": "Allow", "Action": "{action_pat}", "Resource": "{resource_pat}"}}"#))];
        let d = eval_identity(&ctx(alice(), action, resource), &p);
        assert_eq!(d.is_allowed(), *expected, "{action_pat} / {resource_pat} vs {action} on {resource:?}");
    }
}

/// Item 26.
#[test]
fn not_action_and_not_resource() {
    let not_delete = [identity("AllButDelete", r#"{"Effect": "Allow", "NotAction": "ec2:Delete*", "Resource": "*"}"#)];
    for (action, expected) in [
        ("ec2:CreateVpcEndpoint", Allow),
        ("iam:CreateAccessKey", Allow), // key management included: NotAction grants everything else
        ("iam:PutUserPolicy", Allow),
        ("ec2:DeleteVpcEndpoints", ImplicitDeny),
        ("EC2:deletevpcendpoints", ImplicitDeny), // case-insensitive exclusion
    ] {
        assert_eq!(eval_identity(&ctx(alice(), action, EP), &not_delete).outcome, expected, "{action}");
    }
    let deny_all_but_describe = [identity(
        "ReadOnly",
        r#"{"Effect": "Allow", "Action": "*", "Resource": "*"},
           {"Sid": "DenyAllButDescribe", "Effect": "Deny", "NotAction": ["ec2:Describe*", "ec2:Get*"], "Resource": "*"}"#,
    )];
    for (action, expected) in [
        ("ec2:DescribeVpcEndpoints", Allow),
        ("ec2:GetConsoleOutput", Allow),
        ("ec2:CreateVpcEndpoint", ExplicitDeny),
        ("iam:CreateAccessKey", ExplicitDeny),
    ] {
        let d = eval_identity(&ctx(alice(), action, EP), &deny_all_but_describe);
        assert_eq!(d.outcome, expected, "{action}");
        if expected == ExplicitDeny {
            assert_eq!(d.statement().and_then(|s| s.sid.as_deref()), Some("DenyAllButDescribe"));
        }
    }
    let protected = EP.replace("vpce-0123456789abcdef0", "vpce-protected");
    let not_resource = [identity(
        "AllButProtected",
        &format!(r#"{{"Effect": "Allow", "Action": "ec2:*", "NotResource": "{protected}"}}"#),
    )];
    assert_eq!(eval_identity(&ctx(alice(), "ec2:DeleteVpcEndpoints", EP), &not_resource).outcome, Allow);
    assert_eq!(eval_identity(&ctx(alice(), "ec2:DeleteVpcEndpoints", &protected), &not_resource).outcome, ImplicitDeny);
    let deny_not_resource = [identity(
        "OnlyEndpoints",
        r#"{"Effect": "Allow", "Action": "*", "Resource": "*"},
           {"Effect": "Deny", "Action": "*", "NotResource": ["arn:aws:ec2:*:*:vpc-endpoint/*", "arn:aws:ec2:*:*:vpc/*"]}"#,
    )];
    assert_eq!(eval_identity(&ctx(alice(), "ec2:ModifyVpcEndpoint", EP), &deny_not_resource).outcome, Allow);
    let subnet = "arn:aws:ec2:us-east-1:111122223333:subnet/subnet-1";
    assert_eq!(eval_identity(&ctx(alice(), "ec2:DeleteSubnet", subnet), &deny_not_resource).outcome, ExplicitDeny);
}

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
        (vec![&root, &role, &session_arn], other_session, ExplicitDeny),
        (vec![&root, &user], alice(), Allow),
        (vec![&user], alice(), ExplicitDeny),
        (vec![&root, &user], bob.clone(), ExplicitDeny),
        (vec![&root], bob, ExplicitDeny),
        (vec![&root], PrincipalContext::root(ACCT), Allow),
        (vec![&root, &user], PrincipalContext::anonymous(), ExplicitDeny),
        (vec!["*"], PrincipalContext::anonymous(), Allow),
        (vec!["*"], session, Allow),
    ];
    for (listed, principal, expected) in cases {
        let aws = listed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ");
        let endpoint = named(
            "ep",
            Endpoint,
            &doc(&format!(
                r#"{{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}},
                   {{"Sid": "OnlyListed", "Effect": "Deny", "NotPrincipal": {{"AWS": [{aws}]}}, "Action": "*", "Resource": "*"}}"#
            )),
        );
        let set = PolicySet {
            resource: Some(ResourcePolicy { policy: &endpoint, owner_account: ACCT }),
            ..PolicySet::default()
        };
        let d = evaluate(&ctx(principal.clone(), "ec2:CreateVpcEndpoint", EP), &set);
        assert_eq!(d.outcome, expected, "NotPrincipal [{aws}] vs {}: {d}", principal.arn);
        if expected == ExplicitDeny {
            assert_eq!(d.statement().and_then(|s| s.sid.as_deref()), Some("OnlyListed"));
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
    let mut set = PolicySet { identity: &admin, endpoint: Some(&endpoint), ..PolicySet::default() };
    assert_eq!(evaluate(&ctx(alice(), "ec2:CreateVpc", EP), &set).outcome, Allow);
    set.permissions_boundary = Some(&boundary);
    assert_eq!(evaluate(&ctx(alice(), "ec2:CreateVpc", EP), &set).outcome, ExplicitDeny);
}

#[test]
fn endpoint_policy_principals() {
    let endpoint = named(
        "only-our-account",
        Endpoint,
        &doc(&format!(r#"{{"Effect": "Allow", "Principal": {{"AWS": "{ACCT}"}}, "Action": "ec2:*", "Resource": "*"}}"#)),
    );
    let admin = [identity("Admin", ALLOW_ALL)];
    let set = PolicySet { identity: &admin, endpoint: Some(&endpoint), ..PolicySet::default() };
    assert_eq!(evaluate(&ctx(alice(), "ec2:CreateVpc", EP), &set).outcome, Allow);
    let stranger = PrincipalContext::user(OTHER, "mallory");
    let d = evaluate(&ctx(stranger, "ec2:CreateVpc", "*"), &set);
    assert_eq!(d.reason, Reason::NotAllowedBy { source: PolicySource::Endpoint, policy: "only-our-account".into() });
}

#[test]
fn trust_policies() {
    let trust = |statements: &str| super_policy(Trust, statements);
    let third_party = trust(&format!(
        r#"{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{OTHER}:root"}}, "Action": "sts:AssumeRole",
            "Condition": {{"StringEquals": {{"sts:ExternalId": "Example Corp 42"}}}}}}"#
    ));
    let caller = PrincipalContext::user(OTHER, "deployer");
    let assume = |p: &PrincipalContext| ctx(p.clone(), "sts:AssumeRole", &format!("arn:aws:iam::{ACCT}:role/deploy"));
    assert!(evaluate_trust(&third_party, &assume(&caller).with_key("sts:ExternalId", "Example Corp 42")).is_allowed());
    let d = evaluate_trust(&third_party, &assume(&caller));
    assert_eq!(d.outcome, ImplicitDeny);
    assert_eq!(d.to_string(), r#"implicitly denied: trust policy "AssumeRolePolicyDocument" has no statement that allows the request"#);
    assert!(!evaluate_trust(&third_party, &assume(&PrincipalContext::user(ACCT, "x")).with_key("sts:ExternalId", "Example Corp 42")).is_allowed());
    assert!(!evaluate_trust(&third_party, &ctx(caller.clone(), "sts:TagSession", "*").with_key("sts:ExternalId", "Example Corp 42")).is_allowed());

    let service = trust(r#"{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}"#);
    assert!(evaluate_trust(&service, &assume(&PrincipalContext::service("ec2.amazonaws.com"))).is_allowed());
    assert!(!evaluate_trust(&service, &assume(&PrincipalContext::service("lambda.amazonaws.com"))).is_allowed());
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
    assert_eq!(d.to_string(), r#"explicitly denied by statement "NoNight" (Statement[1]) of trust policy "AssumeRolePolicyDocument""#);
    let web = trust(r#"{"Effect": "Allow", "Principal": {"Federated": "accounts.google.com"}, "Action": "sts:AssumeRoleWithWebIdentity"}"#);
    let google = PrincipalContext {
        kind: PrincipalKind::WebIdentity { provider: "accounts.google.com".into() },
        ..PrincipalContext::anonymous()
    };
    assert!(evaluate_trust(&web, &ctx(google, "sts:AssumeRoleWithWebIdentity", "*")).is_allowed());

    // Both halves at once: a cross-account caller needs its own identity Allow too.
    let trust_named = NamedPolicy::new("deploy-trust", third_party.clone());
    let may_assume = [identity("MayAssume", &format!(r#"{{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::{ACCT}:role/deploy"}}"#))];
    let request = assume(&caller).with_key("sts:ExternalId", "Example Corp 42");
    let mut set = PolicySet { resource: Some(ResourcePolicy { policy: &trust_named, owner_account: ACCT }), ..PolicySet::default() };
    let d = evaluate(&request, &set);
    assert_eq!(d.outcome, ImplicitDeny);
    assert!(matches!(d.reason, Reason::CrossAccountNeedsIdentityAllow { .. }));
    assert_eq!(d.statements[0].source, PolicySource::Trust);
    set.identity = &may_assume;
    assert!(evaluate(&request, &set).is_allowed());
}

fn super_policy(kind: PolicyKind, statements: &str) -> underpass_auth::iam::Policy {
    policy(kind, &doc(statements))
}
