//! aws:SourceIp (item 28), policy variables (item 30) and principal-derived context keys.

mod iam_support;

use iam_support::*;
use underpass_auth::iam::{Outcome, PrincipalContext};

/// Item 28.
#[test]
fn source_ip() {
    let v4_v6 = r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]}}"#;
    let all_v4 = r#"{"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}"#;
    let all_v6 = r#"{"IpAddress": {"aws:SourceIp": "::/0"}}"#;
    let not_ten = r#"{"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#;
    run(&[
        (v4_v6, &[("aws:SourceIp", &["10.1.2.3"])], true),
        (v4_v6, &[("aws:SourceIp", &["11.0.0.1"])], false),
        (v4_v6, &[("aws:SourceIp", &["192.0.2.7"])], true),
        (v4_v6, &[("aws:SourceIp", &["192.0.2.8"])], false),
        (v4_v6, &[("aws:SourceIp", &["2001:db8::5"])], true),
        (v4_v6, &[("aws:SourceIp", &["2001:db9::1"])], false),
        (v4_v6, &[("aws:SourceIp", &["::ffff:10.0.0.1"])], true), // IPv4-mapped IPv6
        (v4_v6, &[("aws:SourceIp", &["::ffff:11.0.0.1"])], false),
        (v4_v6, &[("aws:SourceIp", &["10.0.0.1/32"])], false), // an address, not a CIDR
        (v4_v6, &[("aws:SourceIp", &["not-an-ip"])], false),
        (v4_v6, &[], false),
        (all_v4, &[("aws:SourceIp", &["203.0.113.9"])], true),
        (all_v4, &[("aws:SourceIp", &["::ffff:203.0.113.9"])], true),
        (all_v4, &[("aws:SourceIp", &["2001:db8::1"])], false),
        (all_v6, &[("aws:SourceIp", &["2001:db8::1"])], true),
        (not_ten, &[("aws:SourceIp", &["203.0.113.9"])], true),
        (not_ten, &[("aws:SourceIp", &["10.9.9.9"])], false),
        (not_ten, &[("aws:SourceIp", &["::ffff:10.9.9.9"])], false),
        (not_ten, &[], true), // missing key: negated operators hold
    ]);
    // Only aws:SourceIp counts: an X-Forwarded-For value the client sent changes nothing.
    let spoofed = req()
        .with_key("aws:SourceIp", "203.0.113.9")
        .with_key("http:x-forwarded-for", "10.0.0.1")
        .with_key("aws:x-forwarded-for", "10.0.0.1");
    assert!(!allows(v4_v6, &spoofed));
    let deny_outside = [identity(
        "P",
        r#"{"Effect": "Allow", "Action": "*", "Resource": "*"},
           {"Sid": "OnlyCorp", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}"#,
    )];
    let d = eval_identity(&spoofed, &deny_outside);
    assert_eq!(d.outcome, Outcome::ExplicitDeny);
    assert_eq!(
        d.statement().and_then(|s| s.sid.as_deref()),
        Some("OnlyCorp")
    );
}

/// Item 30.
#[test]
fn policy_variables() {
    let home = |version: &str| {
        let text = format!(
            r#"{{"Version": "{version}", "Statement": [{{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${{aws:username}}/*"}}]}}"#
        );
        [named(
            "Home",
            underpass_auth::iam::PolicyKind::Identity,
            &text,
        )]
    };
    let get = |p: PrincipalContext, resource: &str| ctx(p, "s3:GetObject", resource);
    let user = |name: &str| PrincipalContext::user(ACCT, name);
    let v12 = home("2012-10-17");
    let cases: Vec<(PrincipalContext, &str, bool)> = vec![
        (user("bob"), "arn:aws:s3:::home/bob/notes", true),
        (user("bob"), "arn:aws:s3:::home/alice/notes", false),
        (user("a*"), "arn:aws:s3:::home/a*/x", true),
        (user("a*"), "arn:aws:s3:::home/abc/x", false), // no wildcard injection
        (user("a?"), "arn:aws:s3:::home/ab/x", false),
        (user("a?"), "arn:aws:s3:::home/a?/x", true),
        (user("x/y"), "arn:aws:s3:::home/x/y/z", true),
        // A role session has no aws:username: the statement does not apply.
        (
            PrincipalContext::assumed_role(ACCT, "r", "bob"),
            "arn:aws:s3:::home/bob/x",
            false,
        ),
        (
            PrincipalContext::assumed_role(ACCT, "r", "bob"),
            "arn:aws:s3:::home//x",
            false,
        ),
    ];
    for (p, resource, expected) in cases {
        let who = p.arn.clone();
        assert_eq!(
            eval_identity(&get(p, resource), &v12).is_allowed(),
            expected,
            "{who} on {resource}"
        );
    }
    // Version 2008-10-17: no substitution, the text is literal.
    let v08 = home("2008-10-17");
    assert!(!eval_identity(&get(user("bob"), "arn:aws:s3:::home/bob/x"), &v08).is_allowed());
    assert!(eval_identity(
        &get(user("bob"), "arn:aws:s3:::home/${aws:username}/x"),
        &v08
    )
    .is_allowed());

    let with = |resource_pattern: &str| {
        [identity(
            "P",
            &format!(r#"{{"Effect": "Allow", "Action": "*", "Resource": "{resource_pattern}"}}"#),
        )]
    };
    let session = PrincipalContext::assumed_role(ACCT, "r", "s");
    let cases: Vec<(&str, PrincipalContext, &str, bool)> = vec![
        (
            "arn:aws:s3:::home/${aws:username, 'shared'}/*",
            session.clone(),
            "arn:aws:s3:::home/shared/x",
            true,
        ),
        (
            "arn:aws:s3:::home/${aws:username, 'shared'}/*",
            user("bob"),
            "arn:aws:s3:::home/bob/x",
            true,
        ),
        ("arn:aws:s3:::b/${*}", user("bob"), "arn:aws:s3:::b/*", true),
        (
            "arn:aws:s3:::b/${*}",
            user("bob"),
            "arn:aws:s3:::b/x",
            false,
        ),
        ("arn:aws:s3:::b/${?}", user("bob"), "arn:aws:s3:::b/?", true),
        (
            "arn:aws:s3:::b/${?}",
            user("bob"),
            "arn:aws:s3:::b/x",
            false,
        ),
        (
            "arn:aws:s3:::b/${$}{x}",
            user("bob"),
            "arn:aws:s3:::b/${x}",
            true,
        ),
        (
            "arn:aws:s3:::b/${AWS:UserName}",
            user("bob"),
            "arn:aws:s3:::b/bob",
            true,
        ), // names ignore case
        (
            "arn:aws:ec2:*:${aws:PrincipalAccount}:vpc-endpoint/*",
            user("bob"),
            EP,
            true,
        ),
        (
            "arn:aws:ec2:*:${aws:PrincipalAccount}:vpc-endpoint/*",
            PrincipalContext::user(OTHER, "bob"),
            EP,
            false,
        ),
        (
            "arn:aws:ec2:*:*:vpc-endpoint/${aws:PrincipalTag/team}-*",
            user("bob").with_tag("Team", "vpce"),
            EP,
            true,
        ),
        (
            "arn:aws:ec2:*:*:vpc-endpoint/${aws:PrincipalTag/team}-*",
            user("bob"),
            EP,
            false,
        ),
        (
            "arn:aws:s3:::b/${aws:userid}",
            user("bob").with_userid("AIDAEXAMPLE"),
            "arn:aws:s3:::b/AIDAEXAMPLE",
            true,
        ),
        (
            "arn:aws:s3:::b/${s3:prefix}",
            user("bob"),
            "arn:aws:s3:::b/",
            false,
        ),
    ];
    for (pattern, p, resource, expected) in cases {
        let who = p.arn.clone();
        assert_eq!(
            eval_identity(&get(p, resource), &with(pattern)).is_allowed(),
            expected,
            "{pattern} for {who} on {resource}"
        );
    }
    // Any context key works; a multi-valued key is not a variable.
    let by_key = with("arn:aws:s3:::b/${s3:prefix}");
    assert!(eval_identity(
        &get(user("bob"), "arn:aws:s3:::b/p").with_key("S3:Prefix", "p"),
        &by_key
    )
    .is_allowed());
    assert!(!eval_identity(
        &get(user("bob"), "arn:aws:s3:::b/p").with_values("s3:prefix", &["p", "q"]),
        &by_key
    )
    .is_allowed());

    // An undefined variable never widens a statement: not in NotResource, not in a negated condition.
    let not_resource = [identity(
        "P",
        r#"{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::home/${aws:username}/*"}"#,
    )];
    assert!(!eval_identity(
        &get(session.clone(), "arn:aws:s3:::anything"),
        &not_resource
    )
    .is_allowed());
    assert!(eval_identity(&get(user("bob"), "arn:aws:s3:::anything"), &not_resource).is_allowed());
    assert!(
        !eval_identity(&get(user("bob"), "arn:aws:s3:::home/bob/x"), &not_resource).is_allowed()
    );
    let negated = r#"{"StringNotEquals": {"s3:prefix": "${aws:username}/"}}"#;
    assert!(!allows(
        negated,
        &get(session.clone(), "*").with_key("s3:prefix", "x/")
    ));
    assert!(allows(
        negated,
        &get(user("bob"), "*").with_key("s3:prefix", "x/")
    ));
    assert!(!allows(
        negated,
        &get(user("bob"), "*").with_key("s3:prefix", "bob/")
    ));
}

#[test]
fn variables_in_condition_values() {
    let like = r#"{"StringLike": {"s3:prefix": ["${aws:username}/*", "public/*"]}}"#;
    let bob = |prefix: &str| {
        ctx(PrincipalContext::user(ACCT, "bob"), "s3:ListBucket", "*").with_key("s3:prefix", prefix)
    };
    assert!(allows(like, &bob("bob/docs")));
    assert!(allows(like, &bob("public/x")));
    assert!(!allows(like, &bob("alice/docs")));
    let starry = ctx(PrincipalContext::user(ACCT, "*"), "s3:ListBucket", "*")
        .with_key("s3:prefix", "alice/docs");
    assert!(
        !allows(like, &starry),
        "a user named * must not match every prefix"
    );
    let session = ctx(
        PrincipalContext::assumed_role(ACCT, "r", "bob"),
        "s3:ListBucket",
        "*",
    )
    .with_key("s3:prefix", "public/x");
    assert!(
        allows(like, &session),
        "other values still match when one variable is undefined"
    );
    let equals = r#"{"StringEquals": {"aws:PrincipalTag/project": "${aws:ResourceTag/project}"}}"#;
    let tagged = |resource_tag: &str| {
        ctx(
            PrincipalContext::user(ACCT, "bob").with_tag("project", "blue"),
            "ec2:StartInstances",
            "*",
        )
        .with_key("aws:ResourceTag/project", resource_tag)
    };
    assert!(allows(equals, &tagged("blue")));
    assert!(!allows(equals, &tagged("red")));
    let arn = r#"{"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:${aws:PrincipalAccount}:*"}}"#;
    assert!(allows(arn, &req().with_key("aws:SourceArn", EP)));
    assert!(!allows(
        arn,
        &req().with_key("aws:SourceArn", &EP.replace(ACCT, OTHER))
    ));
}

#[test]
fn principal_derived_keys() {
    let session = PrincipalContext::assumed_role(ACCT, "app", "s").with_tag("env", "prod");
    let c = ctx(session, "ec2:CreateVpc", "*");
    assert!(allows(
        r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/app"}}"#,
        &c
    ));
    assert!(allows(
        r#"{"StringEquals": {"aws:PrincipalAccount": "111122223333", "aws:PrincipalType": "AssumedRole"}}"#,
        &c
    ));
    assert!(allows(
        r#"{"StringEquals": {"aws:PrincipalTag/ENV": "prod"}}"#,
        &c
    ));
    assert!(allows(r#"{"Null": {"aws:username": "true"}}"#, &c));
    let root = ctx(PrincipalContext::root(ACCT), "ec2:CreateVpc", "*");
    assert!(allows(
        r#"{"StringEquals": {"aws:PrincipalType": "Account"}}"#,
        &root
    ));
    // Derived keys win over a caller-supplied key of the same name.
    let spoof = ctx(alice(), "ec2:CreateVpc", "*").with_key("aws:username", "admin");
    assert!(!allows(
        r#"{"StringEquals": {"aws:username": "admin"}}"#,
        &spoof
    ));
}
