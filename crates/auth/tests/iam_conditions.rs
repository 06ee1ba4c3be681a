//! Condition operators, aws:SourceIp and policy variables (RELIABILITY items 28, 30, and the
//! condition semantics every other item relies on).

mod iam_support;

use iam_support::*;
use underpass_auth::iam::{Outcome, PrincipalContext, RequestContext};

/// Does an identity `Allow * on *` with `condition` allow `ctx`?
fn allows(condition: &str, ctx: &RequestContext) -> bool {
    let p = [identity(
        "P",
        &format!(r#"{{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {condition}}}"#),
    )];
    eval_identity(ctx, &p).is_allowed()
}

fn req() -> RequestContext {
    ctx(alice(), "ec2:CreateVpcEndpoint", EP)
}

/// (condition, context keys as (key, values), expected); `[]` values = key absent.
type Case = (&'static str, &'static [(&'static str, &'static [&'static str])], bool);

fn run(cases: &[Case]) {
    for (condition, keys, expected) in cases {
        let mut c = req();
        for (k, vs) in *keys {
            c = c.with_values(k, vs);
        }
        assert_eq!(allows(condition, &c), *expected, "{condition} with {keys:?}");
    }
}

#[test]
fn string_operators() {
    run(&[
        (r#"{"StringEquals": {"ec2:Region": "us-east-1"}}"#, &[("ec2:Region", &["us-east-1"])], true),
        (r#"{"StringEquals": {"ec2:Region": "us-east-1"}}"#, &[("ec2:Region", &["US-EAST-1"])], false),
        (r#"{"StringEquals": {"ec2:Region": ["eu-west-1", "us-east-1"]}}"#, &[("ec2:Region", &["us-east-1"])], true),
        (r#"{"StringEquals": {"ec2:Region": "us-east-1"}}"#, &[], false),
        (r#"{"StringEquals": {"ec2:Region": "us-*"}}"#, &[("ec2:Region", &["us-east-1"])], false),
        (r#"{"StringEquals": {"k": ""}}"#, &[("k", &[""])], true),
        (r#"{"StringEquals": {"k": 42}}"#, &[("k", &["42"])], true),
        (r#"{"StringEquals": {"k": true}}"#, &[("k", &["true"])], true),
        (r#"{"StringNotEquals": {"ec2:Region": "us-east-1"}}"#, &[("ec2:Region", &["eu-west-1"])], true),
        (r#"{"StringNotEquals": {"ec2:Region": "us-east-1"}}"#, &[("ec2:Region", &["us-east-1"])], false),
        (r#"{"StringNotEquals": {"ec2:Region": ["a", "b"]}}"#, &[("ec2:Region", &["b"])], false),
        (r#"{"StringNotEquals": {"ec2:Region": "us-east-1"}}"#, &[], true), // missing key: negated = true
        (r#"{"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}"#, &[], true),
        (r#"{"StringEqualsIgnoreCase": {"k": "Ünïcode"}}"#, &[("k", &["üNÏCODE"])], true),
        (r#"{"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}"#, &[], false),
        (r#"{"StringNotEqualsIgnoreCase": {"aws:username": "bob"}}"#, &[], true),
        (r#"{"StringLike": {"s3:prefix": "home/*"}}"#, &[("s3:prefix", &["home/a/b"])], true),
        (r#"{"StringLike": {"s3:prefix": "home/?"}}"#, &[("s3:prefix", &["home/ab"])], false),
        (r#"{"StringLike": {"s3:prefix": "Home/*"}}"#, &[("s3:prefix", &["home/a"])], false),
        (r#"{"StringLike": {"s3:prefix": "*"}}"#, &[("s3:prefix", &[""])], true),
        (r#"{"StringLike": {"s3:prefix": "*"}}"#, &[], false),
        (r#"{"StringNotLike": {"s3:prefix": ["tmp/*", "*.log"]}}"#, &[("s3:prefix", &["a.log"])], false),
        (r#"{"StringNotLike": {"s3:prefix": ["tmp/*", "*.log"]}}"#, &[("s3:prefix", &["a.txt"])], true),
        (r#"{"StringNotLike": {"s3:prefix": "tmp/*"}}"#, &[], true),
        // Key names are not case-sensitive, on either side.
        (r#"{"StringEquals": {"EC2:REGION": "us-east-1"}}"#, &[("ec2:region", &["us-east-1"])], true),
    ]);
}

#[test]
fn numeric_operators() {
    run(&[
        (r#"{"NumericEquals": {"n": 10}}"#, &[("n", &["10"])], true),
        (r#"{"NumericEquals": {"n": "10"}}"#, &[("n", &["10.0"])], true),
        (r#"{"NumericEquals": {"n": 10}}"#, &[("n", &["11"])], false),
        (r#"{"NumericEquals": {"n": 10}}"#, &[("n", &["ten"])], false),
        (r#"{"NumericNotEquals": {"n": 10}}"#, &[("n", &["11"])], true),
        (r#"{"NumericNotEquals": {"n": 10}}"#, &[("n", &["10"])], false),
        (r#"{"NumericNotEquals": {"n": 10}}"#, &[], true),
        (r#"{"NumericLessThan": {"n": 10}}"#, &[("n", &["9.5"])], true),
        (r#"{"NumericLessThan": {"n": 10}}"#, &[("n", &["10"])], false),
        (r#"{"NumericLessThanEquals": {"n": 10}}"#, &[("n", &["10"])], true),
        (r#"{"NumericGreaterThan": {"n": -1}}"#, &[("n", &["0"])], true),
        (r#"{"NumericGreaterThan": {"n": 1e3}}"#, &[("n", &["1000"])], false),
        (r#"{"NumericGreaterThanEquals": {"n": 1e3}}"#, &[("n", &["1000"])], true),
        (r#"{"NumericLessThan": {"n": [1, 100]}}"#, &[("n", &["50"])], true), // values OR
        (r#"{"NumericLessThan": {"n": 10}}"#, &[], false),
        (r#"{"NumericLessThanIfExists": {"n": 10}}"#, &[], true),
        (r#"{"NumericLessThanIfExists": {"n": 10}}"#, &[("n", &["11"])], false),
    ]);
}

#[test]
fn date_operators() {
    run(&[
        (r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", &["2029-12-31T23:59:59Z"])], true),
        (r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", &["2030-01-01T00:00:00Z"])], false),
        (r#"{"DateLessThanEquals": {"aws:CurrentTime": "2030-01-01"}}"#, &[("aws:CurrentTime", &["2030-01-01T00:00:00Z"])], true),
        (r#"{"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T02:00:00+02:00"}}"#, &[("aws:CurrentTime", &["2030-01-01T00:00:01Z"])], true),
        (r#"{"DateGreaterThanEquals": {"aws:EpochTime": 1893456000}}"#, &[("aws:EpochTime", &["1893456000"])], true),
        (r#"{"DateGreaterThan": {"aws:EpochTime": "2030-01-01T00:00:00Z"}}"#, &[("aws:EpochTime", &["1893455999"])], false),
        (r#"{"DateEquals": {"aws:CurrentTime": "1893456000"}}"#, &[("aws:CurrentTime", &["2030-01-01T00:00:00Z"])], true),
        (r#"{"DateNotEquals": {"aws:CurrentTime": "2030-01-01"}}"#, &[("aws:CurrentTime", &["2030-01-02"])], true),
        (r#"{"DateNotEquals": {"aws:CurrentTime": "2030-01-01"}}"#, &[], true),
        (r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}"#, &[("aws:CurrentTime", &["garbage"])], false),
        (r#"{"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}"#, &[], false),
        // AWS's example: access only within a window.
        (
            r#"{"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"}, "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}"#,
            &[("aws:CurrentTime", &["2020-05-15T12:00:00Z"])],
            true,
        ),
        (
            r#"{"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"}, "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}"#,
            &[("aws:CurrentTime", &["2020-07-01T00:00:00Z"])],
            false,
        ),
    ]);
}

#[test]
fn bool_binary_arn_null() {
    run(&[
        (r#"{"Bool": {"aws:SecureTransport": "true"}}"#, &[("aws:SecureTransport", &["true"])], true),
        (r#"{"Bool": {"aws:SecureTransport": true}}"#, &[("aws:SecureTransport", &["TRUE"])], true),
        (r#"{"Bool": {"aws:SecureTransport": "true"}}"#, &[("aws:SecureTransport", &["false"])], false),
        (r#"{"Bool": {"aws:SecureTransport": "false"}}"#, &[("aws:SecureTransport", &["yes"])], false),
        (r#"{"Bool": {"aws:SecureTransport": "false"}}"#, &[], false),
        (r#"{"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}"#, &[], true),
        (r#"{"BinaryEquals": {"b": "AAEC"}}"#, &[("b", &["AAEC"])], true),
        (r#"{"BinaryEquals": {"b": "AAEC"}}"#, &[("b", &["AAED"])], false),
        (r#"{"BinaryEquals": {"b": "AAEC"}}"#, &[("b", &["%%%"])], false),
        (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:vpc-endpoint/*"}}"#, &[("aws:SourceArn", &[EP])], true),
        (r#"{"ArnEquals": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:vpc-endpoint/*"}}"#, &[("aws:SourceArn", &[EP])], true),
        (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:444455556666:*"}}"#, &[("aws:SourceArn", &[EP])], false),
        // Per component: `*` in the region cannot absorb the account.
        (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:*"}}"#, &[("aws:SourceArn", &["arn:aws:ec2:r:1:111122223333:x"])], false),
        (r#"{"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:*:*"}}"#, &[("aws:SourceArn", &["not-an-arn"])], false),
        (r#"{"ArnNotLike": {"aws:SourceArn": "arn:aws:ec2:*:444455556666:*"}}"#, &[("aws:SourceArn", &[EP])], true),
        (r#"{"ArnNotEquals": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:*"}}"#, &[("aws:SourceArn", &[EP])], false),
        (r#"{"ArnNotEquals": {"aws:SourceArn": "arn:aws:ec2:*:111122223333:*"}}"#, &[], true),
        (r#"{"Null": {"aws:TokenIssueTime": "true"}}"#, &[], true),
        (r#"{"Null": {"aws:TokenIssueTime": "true"}}"#, &[("aws:TokenIssueTime", &["2024-01-01T00:00:00Z"])], false),
        (r#"{"Null": {"aws:TokenIssueTime": false}}"#, &[("aws:TokenIssueTime", &["2024-01-01T00:00:00Z"])], true),
        (r#"{"Null": {"aws:TokenIssueTime": "false"}}"#, &[], false),
        (r#"{"Null": {"k": "true"}}"#, &[("k", &[])], true), // an empty set counts as absent
    ]);
}

#[test]
fn set_qualifiers_and_combination() {
    run(&[
        (r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#, &[("aws:TagKeys", &["env"])], true),
        (r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#, &[("aws:TagKeys", &["env", "owner"])], false),
        (r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#, &[], true), // empty set: true
        (r#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#, &[("aws:TagKeys", &[])], true),
        (r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#, &[("aws:TagKeys", &["owner", "team"])], true),
        (r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#, &[("aws:TagKeys", &["owner"])], false),
        (r#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}"#, &[], false), // empty set: false
        (r#"{"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "env"}}"#, &[], true),
        (r#"{"ForAnyValue:StringLike": {"aws:TagKeys": "env*"}}"#, &[("aws:TagKeys", &["x", "environment"])], true),
        (r#"{"ForAllValues:StringLike": {"aws:TagKeys": "env*"}}"#, &[("aws:TagKeys", &["x", "environment"])], false),
        (r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": "secret"}}"#, &[("aws:TagKeys", &["a", "b"])], true),
        (r#"{"ForAllValues:StringNotEquals": {"aws:TagKeys": "secret"}}"#, &[("aws:TagKeys", &["a", "secret"])], false),
        (r#"{"ForAnyValue:StringNotEquals": {"aws:TagKeys": "secret"}}"#, &[("aws:TagKeys", &["a", "secret"])], true),
        (r#"{"ForAnyValue:NumericGreaterThan": {"n": 5}}"#, &[("n", &["1", "9"])], true),
        (r#"{"ForAllValues:NumericGreaterThan": {"n": 5}}"#, &[("n", &["1", "9"])], false),
        // Without a qualifier a positive operator needs one request value; a negated one needs all.
        (r#"{"StringEquals": {"aws:TagKeys": "env"}}"#, &[("aws:TagKeys", &["x", "env"])], true),
        (r#"{"StringNotEquals": {"aws:TagKeys": "env"}}"#, &[("aws:TagKeys", &["x", "env"])], false),
        // Keys AND, operators AND, values OR.
        (r#"{"StringEquals": {"a": "1", "b": "2"}}"#, &[("a", &["1"]), ("b", &["2"])], true),
        (r#"{"StringEquals": {"a": "1", "b": "2"}}"#, &[("a", &["1"]), ("b", &["3"])], false),
        (r#"{"StringEquals": {"a": "1"}, "StringLike": {"b": "x*"}}"#, &[("a", &["1"]), ("b", &["xy"])], true),
        (r#"{"StringEquals": {"a": "1"}, "StringLike": {"b": "x*"}}"#, &[("a", &["1"]), ("b", &["y"])], false),
        (r#"{"StringEquals": {"a": ["0", "1"]}}"#, &[("a", &["1"])], true),
        (r#"{}"#, &[], true),
    ]);
}

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
    assert_eq!(d.statement().and_then(|s| s.sid.as_deref()), Some("OnlyCorp"));
}

/// Item 30.
#[test]
fn policy_variables() {
    let home = |version: &str| {
        let text = format!(
            r#"{{"Version": "{version}", "Statement": [{{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${{aws:username}}/*"}}]}}"#
        );
        [named("Home", underpass_auth::iam::PolicyKind::Identity, &text)]
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
        (PrincipalContext::assumed_role(ACCT, "r", "bob"), "arn:aws:s3:::home/bob/x", false),
        (PrincipalContext::assumed_role(ACCT, "r", "bob"), "arn:aws:s3:::home//x", false),
    ];
    for (p, resource, expected) in cases {
        let who = p.arn.clone();
        assert_eq!(eval_identity(&get(p, resource), &v12).is_allowed(), expected, "{who} on {resource}");
    }
    // Version 2008-10-17: no substitution, the text is literal.
    let v08 = home("2008-10-17");
    assert!(!eval_identity(&get(user("bob"), "arn:aws:s3:::home/bob/x"), &v08).is_allowed());
    assert!(eval_identity(&get(user("bob"), "arn:aws:s3:::home/${aws:username}/x"), &v08).is_allowed());

    let with = |resource_pattern: &str| {
        [identity("P", &format!(r#"{{"Effect": "Allow", "Action": "*", "Resource": "{resource_pattern}"}}"#))]
    };
    let session = PrincipalContext::assumed_role(ACCT, "r", "s");
    let cases: Vec<(&str, PrincipalContext, &str, bool)> = vec![
        ("arn:aws:s3:::home/${aws:username, 'shared'}/*", session.clone(), "arn:aws:s3:::home/shared/x", true),
        ("arn:aws:s3:::home/${aws:username, 'shared'}/*", user("bob"), "arn:aws:s3:::home/bob/x", true),
        ("arn:aws:s3:::b/${*}", user("bob"), "arn:aws:s3:::b/*", true),
        ("arn:aws:s3:::b/${*}", user("bob"), "arn:aws:s3:::b/x", false),
        ("arn:aws:s3:::b/${?}", user("bob"), "arn:aws:s3:::b/?", true),
        ("arn:aws:s3:::b/${?}", user("bob"), "arn:aws:s3:::b/x", false),
        ("arn:aws:s3:::b/${$}{x}", user("bob"), "arn:aws:s3:::b/${x}", true),
        ("arn:aws:s3:::b/${AWS:UserName}", user("bob"), "arn:aws:s3:::b/bob", true), // names ignore case
        ("arn:aws:ec2:*:${aws:PrincipalAccount}:vpc-endpoint/*", user("bob"), EP, true),
        ("arn:aws:ec2:*:${aws:PrincipalAccount}:vpc-endpoint/*", PrincipalContext::user(OTHER, "bob"), EP, false),
        ("arn:aws:ec2:*:*:vpc-endpoint/${aws:PrincipalTag/team}-*", user("bob").with_tag("Team", "vpce"), EP, true),
        ("arn:aws:ec2:*:*:vpc-endpoint/${aws:PrincipalTag/team}-*", user("bob"), EP, false),
        ("arn:aws:s3:::b/${aws:userid}", user("bob").with_userid("AIDAEXAMPLE"), "arn:aws:s3:::b/AIDAEXAMPLE", true),
        ("arn:aws:s3:::b/${s3:prefix}", user("bob"), "arn:aws:s3:::b/", false),
    ];
    for (pattern, p, resource, expected) in cases {
        let who = p.arn.clone();
        assert_eq!(eval_identity(&get(p, resource), &with(pattern)).is_allowed(), expected, "{pattern} for {who} on {resource}");
    }
    // Any context key works; a multi-valued key is not a variable.
    let by_key = with("arn:aws:s3:::b/${s3:prefix}");
    assert!(eval_identity(&get(user("bob"), "arn:aws:s3:::b/p").with_key("S3:Prefix", "p"), &by_key).is_allowed());
    assert!(!eval_identity(&get(user("bob"), "arn:aws:s3:::b/p").with_values("s3:prefix", &["p", "q"]), &by_key).is_allowed());

    // An undefined variable never widens a statement: not in NotResource, not in a negated condition.
    let not_resource = [identity("P", r#"{"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::home/${aws:username}/*"}"#)];
    assert!(!eval_identity(&get(session.clone(), "arn:aws:s3:::anything"), &not_resource).is_allowed());
    assert!(eval_identity(&get(user("bob"), "arn:aws:s3:::anything"), &not_resource).is_allowed());
    assert!(!eval_identity(&get(user("bob"), "arn:aws:s3:::home/bob/x"), &not_resource).is_allowed());
    let negated = r#"{"StringNotEquals": {"s3:prefix": "${aws:username}/"}}"#;
    assert!(!allows(negated, &get(session.clone(), "*").with_key("s3:prefix", "x/")));
    assert!(allows(negated, &get(user("bob"), "*").with_key("s3:prefix", "x/")));
    assert!(!allows(negated, &get(user("bob"), "*").with_key("s3:prefix", "bob/")));
}

#[test]
fn variables_in_condition_values() {
    let like = r#"{"StringLike": {"s3:prefix": ["${aws:username}/*", "public/*"]}}"#;
    let bob = |prefix: &str| ctx(PrincipalContext::user(ACCT, "bob"), "s3:ListBucket", "*").with_key("s3:prefix", prefix);
    assert!(allows(like, &bob("bob/docs")));
    assert!(allows(like, &bob("public/x")));
    assert!(!allows(like, &bob("alice/docs")));
    let starry = ctx(PrincipalContext::user(ACCT, "*"), "s3:ListBucket", "*").with_key("s3:prefix", "alice/docs");
    assert!(!allows(like, &starry), "a user named * must not match every prefix");
    let session = ctx(PrincipalContext::assumed_role(ACCT, "r", "bob"), "s3:ListBucket", "*").with_key("s3:prefix", "public/x");
    assert!(allows(like, &session), "other values still match when one variable is undefined");
    let equals = r#"{"StringEquals": {"aws:PrincipalTag/project": "${aws:ResourceTag/project}"}}"#;
    let tagged = |resource_tag: &str| {
        ctx(PrincipalContext::user(ACCT, "bob").with_tag("project", "blue"), "ec2:StartInstances", "*")
            .with_key("aws:ResourceTag/project", resource_tag)
    };
    assert!(allows(equals, &tagged("blue")));
    assert!(!allows(equals, &tagged("red")));
    let arn = r#"{"ArnLike": {"aws:SourceArn": "arn:aws:ec2:*:${aws:PrincipalAccount}:*"}}"#;
    assert!(allows(arn, &req().with_key("aws:SourceArn", EP)));
    assert!(!allows(arn, &req().with_key("aws:SourceArn", &EP.replace(ACCT, OTHER))));
}

#[test]
fn principal_derived_keys() {
    let session = PrincipalContext::assumed_role(ACCT, "app", "s").with_tag("env", "prod");
    let c = ctx(session, "ec2:CreateVpc", "*");
    assert!(allows(r#"{"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/app"}}"#, &c));
    assert!(allows(r#"{"StringEquals": {"aws:PrincipalAccount": "111122223333", "aws:PrincipalType": "AssumedRole"}}"#, &c));
    assert!(allows(r#"{"StringEquals": {"aws:PrincipalTag/ENV": "prod"}}"#, &c));
    assert!(allows(r#"{"Null": {"aws:username": "true"}}"#, &c));
    let root = ctx(PrincipalContext::root(ACCT), "ec2:CreateVpc", "*");
    assert!(allows(r#"{"StringEquals": {"aws:PrincipalType": "Account"}}"#, &root));
    // Derived keys win over a caller-supplied key of the same name.
    let spoof = ctx(alice(), "ec2:CreateVpc", "*").with_key("aws:username", "admin");
    assert!(!allows(r#"{"StringEquals": {"aws:username": "admin"}}"#, &spoof));
}
