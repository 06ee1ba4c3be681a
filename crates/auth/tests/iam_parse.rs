//! Policy parsing: malformed documents are refused with a message that names the problem and
//! where it is (RELIABILITY items 31, 28); size limits; nesting. Valid documents:
//! `iam_parse_valid.rs`.

mod iam_support;

use iam_support::{accept, doc, refuse, V};
use underpass_auth::iam::{PolicyError, PolicyKind, MAX_POLICY_BYTES};

use PolicyKind::{Endpoint, Identity, Resource, Session, Trust};

#[test]
fn malformed_documents_name_the_problem() {
    let allow_all = r#""Effect": "Allow", "Action": "*", "Resource": "*""#;
    let ep = r#""Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*""#;
    let cond = |c: &str| doc(&format!(r#"{{{allow_all}, "Condition": {c}}}"#));
    let cases: Vec<(&str, String, PolicyKind, &str)> = vec![
        (
            "duplicate key",
            format!(r#"{{{V}, "Statement": {{"Effect": "Deny", "Effect": "Allow", "Action": "*", "Resource": "*"}}}}"#),
            Identity,
            r#"not valid JSON: duplicate key "Effect" at line 1"#,
        ),
        (
            "duplicate top-level key",
            format!(r#"{{{V}, {V}, "Statement": {{{allow_all}}}}}"#),
            Identity,
            r#"duplicate key "Version""#,
        ),
        (
            "lower-case effect",
            doc(r#"{"Effect": "allow", "Action": "*", "Resource": "*"}"#),
            Identity,
            r#"Statement[0].Effect: expected "Allow" or "Deny", found "allow""#,
        ),
        (
            "effect missing",
            doc(r#"{"Action": "*", "Resource": "*"}"#),
            Identity,
            "Statement[0].Effect: required",
        ),
        (
            "no Version",
            format!(r#"{{"Statement": {{{allow_all}}}}}"#),
            Identity,
            r#"Version: required: "2012-10-17""#,
        ),
        (
            "unknown Version",
            format!(r#"{{"Version": "2012-10-18", "Statement": {{{allow_all}}}}}"#),
            Identity,
            r#"Version: expected "2012-10-17" or "2008-10-17", found "2012-10-18""#,
        ),
        (
            "Version as a number",
            format!(r#"{{"Version": 2012, "Statement": {{{allow_all}}}}}"#),
            Identity,
            "Version: expected a string, found a number",
        ),
        (
            "Statement as a string",
            format!(r#"{{{V}, "Statement": "Allow everything"}}"#),
            Identity,
            "Statement: expected an object or an array of objects, found a string",
        ),
        ("Statement missing", format!("{{{V}}}"), Identity, "Statement: required"),
        ("Statement empty", format!(r#"{{{V}, "Statement": []}}"#), Identity, "Statement: must hold at least one"),
        ("statement not an object", doc(r#""x""#), Identity, "Statement[0]: expected a statement object, found a string"),
        ("document not an object", "[]".into(), Identity, "policy: expected a JSON object, found an array"),
        ("empty text", String::new(), Identity, "not valid JSON: EOF"),
        ("syntax error", doc(&format!("{{{allow_all},}}")), Identity, "not valid JSON: trailing comma"),
        ("trailing data", format!("{} {{}}", doc(&format!("{{{allow_all}}}"))), Identity, "not valid JSON: trailing characters"),
        ("lone surrogate", doc(r#"{"Sid": "\ud800", "Effect": "Allow", "Action": "*", "Resource": "*"}"#), Identity, "not valid JSON"),
        (
            "unknown top-level element",
            format!(r#"{{{V}, "Statements": [{{{allow_all}}}]}}"#),
            Identity,
            "Statements: unknown element",
        ),
        (
            "unknown statement element",
            doc(&format!(r#"{{{allow_all}, "Conditions": {{}}}}"#)),
            Identity,
            "Statement[0].Conditions: unknown element",
        ),
        (
            "unknown condition operator",
            cond(r#"{"StringEqualz": {"aws:username": "bob"}}"#),
            Identity,
            r#"Statement[0].Condition.StringEqualz: unknown condition operator "StringEqualz""#,
        ),
        (
            "operator in the wrong case",
            cond(r#"{"stringEquals": {"aws:username": "bob"}}"#),
            Identity,
            r#"unknown condition operator "stringEquals""#,
        ),
        (
            "unknown qualifier",
            cond(r#"{"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}"#),
            Identity,
            "unknown condition operator",
        ),
        (
            "Null with IfExists",
            cond(r#"{"NullIfExists": {"aws:TokenIssueTime": "true"}}"#),
            Identity,
            "Null takes no IfExists suffix",
        ),
        (
            "Null with a qualifier",
            cond(r#"{"ForAllValues:Null": {"aws:TagKeys": "true"}}"#),
            Identity,
            "Null takes no IfExists suffix and no ForAnyValue/ForAllValues prefix",
        ),
        (
            "invalid CIDR (prefix too long)",
            cond(r#"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "10.0.0.0/33"]}}"#),
            Identity,
            r#"Statement[0].Condition.IpAddress.aws:SourceIp[1]: "10.0.0.0/33" is not an IP address or CIDR block"#,
        ),
        (
            "invalid CIDR (bad address)",
            cond(r#"{"NotIpAddress": {"aws:SourceIp": "300.1.2.3/24"}}"#),
            Identity,
            r#"Statement[0].Condition.NotIpAddress.aws:SourceIp: "300.1.2.3/24" is not an IP address"#,
        ),
        (
            "invalid IPv6 CIDR",
            cond(r#"{"IpAddress": {"aws:SourceIp": "2001:db8::/129"}}"#),
            Identity,
            "is not an IP address or CIDR block",
        ),
        (
            "number that is not a number",
            cond(r#"{"NumericLessThan": {"s3:max-keys": "ten"}}"#),
            Identity,
            r#"Statement[0].Condition.NumericLessThan.s3:max-keys: "ten" is not a number"#,
        ),
        (
            "date that is not a date",
            cond(r#"{"DateGreaterThan": {"aws:CurrentTime": "yesterday"}}"#),
            Identity,
            r#""yesterday" is not a date"#,
        ),
        (
            "bool that is not a bool",
            cond(r#"{"Bool": {"aws:SecureTransport": "yes"}}"#),
            Identity,
            r#""yes" is not a boolean"#,
        ),
        (
            "binary that is not base64",
            cond(r#"{"BinaryEquals": {"key": "not base64!"}}"#),
            Identity,
            "is not base64",
        ),
        (
            "ARN condition value that is not an ARN",
            cond(r#"{"ArnLike": {"aws:SourceArn": "my-bucket"}}"#),
            Identity,
            "is not an ARN",
        ),
        (
            "condition value null",
            cond(r#"{"StringEquals": {"aws:username": null}}"#),
            Identity,
            "Statement[0].Condition.StringEquals.aws:username: expected a string, number or boolean, found null",
        ),
        (
            "condition value empty array",
            cond(r#"{"StringEquals": {"aws:username": []}}"#),
            Identity,
            "aws:username: expected at least one value",
        ),
        (
            "condition block not an object",
            cond(r#"{"StringEquals": "aws:username"}"#),
            Identity,
            "Statement[0].Condition.StringEquals: expected an object of condition keys",
        ),
        (
            "condition keys differing only in case",
            cond(r#"{"StringEquals": {"aws:username": "a", "AWS:UserName": "b"}}"#),
            Identity,
            "Statement[0].Condition.StringEquals.AWS:UserName: duplicate condition key",
        ),
        (
            "unterminated policy variable",
            doc(r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username"}"#),
            Identity,
            "Statement[0].Resource: unterminated policy variable",
        ),
        (
            "Action and NotAction",
            doc(r#"{"Effect": "Allow", "Action": "ec2:*", "NotAction": "ec2:Delete*", "Resource": "*"}"#),
            Identity,
            "Statement[0]: Action and NotAction cannot both be present",
        ),
        (
            "missing Action",
            doc(r#"{"Effect": "Allow", "Resource": "*"}"#),
            Identity,
            "Statement[0]: Action or NotAction is required",
        ),
        ("empty Action list", doc(r#"{"Effect": "Allow", "Action": [], "Resource": "*"}"#), Identity, "Statement[0].Action: expected at least one value"),
        ("Action not a string", doc(r#"{"Effect": "Allow", "Action": ["ec2:*", 7], "Resource": "*"}"#), Identity, "Statement[0].Action[1]: expected a string, found a number"),
        ("action without a service", doc(r#"{"Effect": "Allow", "Action": "DescribeVpcs", "Resource": "*"}"#), Identity, r#"Statement[0].Action: invalid action "DescribeVpcs""#),
        ("empty action", doc(r#"{"Effect": "Allow", "Action": [""], "Resource": "*"}"#), Identity, r#"Statement[0].Action[0]: invalid action """#),
        ("action with a space", doc(r#"{"Effect": "Allow", "Action": "ec2:Describe Vpcs", "Resource": "*"}"#), Identity, "invalid action"),
        (
            "Resource and NotResource",
            doc(r#"{"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "arn:aws:s3:::b"}"#),
            Identity,
            "Statement[0]: Resource and NotResource cannot both be present",
        ),
        ("missing Resource", doc(r#"{"Effect": "Allow", "Action": "*"}"#), Identity, "Statement[0]: Resource or NotResource is required"),
        ("Resource not an ARN", doc(r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "bucket/*"}"#), Identity, r#"Statement[0].Resource: "bucket/*" is not an ARN"#),
        ("Resource too short", doc(r#"{"Effect": "Allow", "Action": "s3:*", "Resource": ["*", "arn:aws:s3"]}"#), Identity, "Statement[0].Resource[1]: \"arn:aws:s3\" has fewer than six ARN components"),
        ("empty Resource", doc(r#"{"Effect": "Allow", "Action": "s3:*", "Resource": ""}"#), Identity, "is not an ARN"),
        (
            "Principal in an identity policy",
            doc(r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}"#),
            Identity,
            "Statement[0].Principal: not allowed in an identity policy",
        ),
        (
            "NotPrincipal in a session policy",
            doc(r#"{"Effect": "Deny", "NotPrincipal": "*", "Action": "*", "Resource": "*"}"#),
            Session,
            "Statement[0].NotPrincipal: not allowed in a session policy",
        ),
        ("Principal missing in an endpoint policy", doc(&format!("{{{allow_all}}}")), Endpoint, "Statement[0]: Principal is required in an endpoint policy"),
        ("Principal missing in a resource policy", doc(&format!("{{{allow_all}}}")), Resource, "Principal is required in a resource policy"),
        ("Principal missing in a trust policy", doc(r#"{"Effect": "Allow", "Action": "sts:AssumeRole"}"#), Trust, "Principal is required in a trust policy"),
        ("Resource in a trust policy", doc(r#"{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Resource": "*"}"#), Trust, "Statement[0].Resource: not allowed in a trust policy"),
        ("NotPrincipal in a trust policy", doc(r#"{"Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}"#), Trust, "Statement[0].NotPrincipal: not allowed in a trust policy"),
        (
            "Principal and NotPrincipal",
            doc(r#"{"Effect": "Deny", "Principal": "*", "NotPrincipal": "*", "Action": "*", "Resource": "*"}"#),
            Endpoint,
            "Statement[0]: Principal and NotPrincipal cannot both be present",
        ),
        (
            "NotPrincipal with Allow",
            doc(r#"{"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:user/Bob"}, "Action": "*", "Resource": "*"}"#),
            Endpoint,
            r#"Statement[0].NotPrincipal: not allowed with "Effect": "Allow": it would grant to every other principal, anonymous callers included"#,
        ),
        ("Principal as a plain string", doc(r#"{"Effect": "Allow", "Principal": "111122223333", "Action": "*", "Resource": "*"}"#), Endpoint, r#"Statement[0].Principal: expected "*" or an object"#),
        ("Principal empty object", doc(r#"{"Effect": "Allow", "Principal": {}, "Action": "*", "Resource": "*"}"#), Endpoint, "found an empty object"),
        ("unknown principal type", doc(r#"{"Effect": "Allow", "Principal": {"Aws": "*"}, "Action": "*", "Resource": "*"}"#), Endpoint, r#"Statement[0].Principal.Aws: unknown principal type "Aws""#),
        ("wildcard in a principal ARN", doc(r#"{"Effect": "Allow", "Principal": {"AWS": ["111122223333", "arn:aws:iam::111122223333:user/*"]}, "Action": "*", "Resource": "*"}"#), Endpoint, r#"Statement[0].Principal.AWS[1]: invalid AWS principal "arn:aws:iam::111122223333:user/*""#),
        ("short account id", doc(r#"{"Effect": "Allow", "Principal": {"AWS": "11112222333"}, "Action": "*", "Resource": "*"}"#), Endpoint, "invalid AWS principal"),
        ("principal ARN with a region", doc(r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam:us-east-1:111122223333:root"}, "Action": "*", "Resource": "*"}"#), Endpoint, "invalid AWS principal"),
        ("policy variable in a principal", doc(r#"{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/${aws:username}"}, "Action": "*", "Resource": "*"}"#), Endpoint, "(no wildcards or policy variables)"),
        ("service principal wildcard", doc(r#"{"Effect": "Allow", "Principal": {"Service": "*.amazonaws.com"}, "Action": "*", "Resource": "*"}"#), Endpoint, "invalid service principal"),
        (
            "duplicate Sid",
            doc(&format!(r#"{{"Sid": "A", {allow_all}}}, {{"Sid": "B", {allow_all}}}, {{"Sid": "A", {allow_all}}}"#)),
            Identity,
            r#"Statement[2].Sid: duplicate Sid "A" (also Statement[0])"#,
        ),
        ("Sid not a string", doc(&format!(r#"{{"Sid": 1, {ep}}}"#)), Endpoint, "Statement[0].Sid: expected a string, found a number"),
    ];
    for (name, text, kind, expected) in &cases {
        let err = refuse(text, *kind);
        let message = err.to_string();
        assert!(
            message.contains(expected),
            "{name}: expected {expected:?} in {message:?}"
        );
        assert_eq!(err.code(), "MalformedPolicyDocument", "{name}");
    }
}

/// Pads a valid endpoint policy with a long Sid up to exactly `len` characters.
fn endpoint_policy_of_len(len: usize) -> String {
    let head = format!(r#"{{{V}, "Statement": [{{"Sid": ""#);
    let tail = r#"", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}"#;
    let filler = len - head.len() - tail.len();
    format!("{head}{}{tail}", "z".repeat(filler))
}

#[test]
fn endpoint_policy_size_limit_is_20480_characters() {
    let at_limit = endpoint_policy_of_len(20_480);
    assert_eq!(at_limit.chars().count(), 20_480);
    accept(&at_limit, Endpoint);
    let over = endpoint_policy_of_len(20_481);
    let err = refuse(&over, Endpoint);
    assert_eq!(
        err.to_string(),
        "endpoint policy is 20481 characters; the limit is 20480"
    );
    assert_eq!(err.code(), "LimitExceeded");
    // For endpoint policies whitespace counts too.
    let padded = format!("{}{}", endpoint_policy_of_len(20_000), " ".repeat(481));
    assert!(matches!(
        refuse(&padded, Endpoint),
        PolicyError::TooLarge { actual: 20_481, .. }
    ));
    // Characters, not bytes: 20,480 two-byte characters are within the limit.
    let wide = endpoint_policy_of_len(20_480).replace('z', "é");
    assert!(wide.len() > 20_480);
    accept(&wide, Endpoint);
}

#[test]
fn identity_and_trust_limits_ignore_whitespace() {
    let statement = r#"{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}"#;
    let spaced = format!("{}{}", doc(statement), " ".repeat(10_000));
    accept(&spaced, Identity);
    let big_sid = format!(
        r#"{{"Sid": "{}", "Effect": "Allow", "Action": "*", "Resource": "*"}}"#,
        "s".repeat(6_144)
    );
    let err = refuse(&doc(&big_sid), Identity);
    assert!(err.to_string().starts_with("identity policy is 6"), "{err}");
    assert!(
        err.to_string()
            .ends_with("non-whitespace characters; the limit is 6144"),
        "{err}"
    );

    let trust = |sid_len: usize| {
        doc(&format!(
            r#"{{"Sid": "{}", "Effect": "Allow", "Principal": {{"Service": "ec2.amazonaws.com"}}, "Action": "sts:AssumeRole"}}"#,
            "t".repeat(sid_len)
        ))
    };
    let base = trust(0).chars().filter(|c| !c.is_whitespace()).count();
    accept(&trust(2_048 - base), Trust);
    assert!(matches!(
        refuse(&trust(2_049 - base), Trust),
        PolicyError::TooLarge {
            kind: Trust,
            actual: 2_049,
            limit: 2_048,
            ..
        }
    ));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let text = format!(r#"{{{V}, "Statement": {nested}}}"#);
    assert!(text.len() < 20_480);
    let err = refuse(&text, Endpoint);
    assert!(
        err.to_string().contains("recursion limit exceeded"),
        "{err}"
    );
    assert_eq!(err.code(), "MalformedPolicyDocument");
    // Nesting inside a condition value, and objects instead of arrays.
    let objects = format!("{}1{}", r#"{"a":"#.repeat(3_000), "}".repeat(3_000));
    let err = refuse(&format!(r#"{{{V}, "Statement": {objects}}}"#), Endpoint);
    assert!(
        err.to_string().contains("recursion limit exceeded"),
        "{err}"
    );
}

#[test]
fn a_megabyte_of_whitespace_is_refused_fast() {
    let text = format!(
        "{}{}",
        " ".repeat(1 << 20),
        doc(r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#)
    );
    // Refused by the raw-length cap before any JSON is read (see benches/iam.rs for cost).
    let err = refuse(&text, Identity);
    assert!(
        matches!(
            err,
            PolicyError::TooLong {
                limit: MAX_POLICY_BYTES,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("no policy document may exceed 131072 bytes"),
        "{err}"
    );
    assert_eq!(err.code(), "LimitExceeded");
}

#[test]
fn aws_default_endpoint_policy_needs_a_version_here() {
    // AWS's published default endpoint policy has no Version; Underpass requires one (item 31),
    // and a missing endpoint policy already means full access.
    let aws_default =
        r#"{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}"#;
    assert!(refuse(aws_default, Endpoint)
        .to_string()
        .starts_with("Version: required"));
}
