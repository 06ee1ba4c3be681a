//! Valid policy documents: AWS's published examples parse, the AST matches the text, every
//! condition operator is accepted, and serialization round-trips.

mod iam_support;

use iam_support::{accept, doc, V};
use underpass_auth::iam::{
    BaseOperator, Effect, PolicyKind, PrincipalEntry, SetQualifier, Version,
};

use PolicyKind::{Endpoint, Identity, Resource, Session, Trust};

/// Published examples (IAM User Guide, PrivateLink Guide), lightly adapted (example account ids).
const VALID: &[(&str, PolicyKind, &str)] = &[
    (
        "IAM: allow EC2 in one Region within dates",
        Identity,
        r#"{
          "Version": "2012-10-17",
          "Statement": [{
            "Effect": "Allow",
            "Action": "ec2:*",
            "Resource": "*",
            "Condition": {
              "StringEquals": {"aws:RequestedRegion": "us-east-2"},
              "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
              "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}
            }
          }]
        }"#,
    ),
    (
        "IAM: deny all outside requested Regions except global services (NotAction)",
        Identity,
        r#"{
          "Version": "2012-10-17",
          "Statement": [{
            "Sid": "DenyAllOutsideRequestedRegions",
            "Effect": "Deny",
            "NotAction": ["cloudfront:*", "iam:*", "route53:*", "support:*"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3"]}}
          }]
        }"#,
    ),
    (
        "IAM: block most access unless signed in with MFA (NotAction + BoolIfExists)",
        Identity,
        r#"{
          "Version": "2012-10-17",
          "Statement": [
            {"Sid": "AllowViewAccountInfo", "Effect": "Allow", "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"], "Resource": "*"},
            {"Sid": "AllowManageOwnVirtualMFADevice", "Effect": "Allow", "Action": ["iam:CreateVirtualMFADevice"], "Resource": "arn:aws:iam::*:mfa/*"},
            {"Sid": "AllowManageOwnUserMFA", "Effect": "Allow",
             "Action": ["iam:DeactivateMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices", "iam:ResyncMFADevice"],
             "Resource": "arn:aws:iam::*:user/${aws:username}"},
            {"Sid": "DenyAllExceptListedIfNoMFA", "Effect": "Deny",
             "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices", "iam:ListVirtualMFADevices", "iam:ResyncMFADevice", "sts:GetSessionToken"],
             "Resource": "*",
             "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}
          ]
        }"#,
    ),
    (
        "IAM: deny by source IP unless via an AWS service",
        Identity,
        r#"{
          "Version": "2012-10-17",
          "Statement": {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {
              "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
              "Bool": {"aws:ViaAWSService": "false"}
            }
          }
        }"#,
    ),
    (
        "IAM: S3 home directory with policy variables",
        Identity,
        r#"{
          "Version": "2012-10-17",
          "Statement": [
            {"Action": ["s3:ListBucket"], "Effect": "Allow", "Resource": ["arn:aws:s3:::mybucket"],
             "Condition": {"StringLike": {"s3:prefix": ["${aws:username}/*"]}}},
            {"Action": ["s3:GetObject", "s3:PutObject"], "Effect": "Allow",
             "Resource": ["arn:aws:s3:::mybucket/${aws:username}/*"]}
          ]
        }"#,
    ),
    (
        "IAM: tag keys with ForAllValues / ForAnyValue",
        Identity,
        r#"{
          "Version": "2012-10-17",
          "Statement": [
            {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "arn:aws:ec2:*:*:vpc-endpoint/*",
             "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]},
                           "ForAnyValue:StringLike": {"aws:TagKeys": "env*"}}},
            {"Effect": "Deny", "Action": "ec2:*", "Resource": "*",
             "Condition": {"Null": {"aws:TokenIssueTime": "true"}, "NumericGreaterThanIfExists": {"aws:MultiFactorAuthAge": 3600}}}
          ]
        }"#,
    ),
    (
        "PrivateLink: default endpoint policy (with a Version)",
        Endpoint,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}"#,
    ),
    (
        "PrivateLink: endpoint policy for one service's actions",
        Endpoint,
        r#"{"Version": "2012-10-17", "Statement": [{"Principal": "*", "Effect": "Allow", "Action": ["cloudformation:*"], "Resource": "*"}]}"#,
    ),
    (
        "PrivateLink: gateway endpoint limited to one bucket",
        Endpoint,
        r#"{
          "Version": "2012-10-17",
          "Statement": [{
            "Sid": "Access-to-specific-bucket-only",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Effect": "Allow",
            "Resource": ["arn:aws:s3:::my_secure_bucket", "arn:aws:s3:::my_secure_bucket/*"]
          }]
        }"#,
    ),
    (
        "PrivateLink: organization's identities to organization's resources",
        Endpoint,
        r#"{
          "Version": "2012-10-17",
          "Statement": [{
            "Sid": "AllowRequestsByOrgsIdentitiesToOrgsResources",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcd1234", "aws:ResourceOrgID": "o-abcd1234"}}
          }]
        }"#,
    ),
    (
        "PrivateLink: deny everyone but listed principals (NotPrincipal + Deny)",
        Endpoint,
        r#"{
          "Version": "2012-10-17",
          "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
            {"Sid": "OnlyOurRole", "Effect": "Deny",
             "NotPrincipal": {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/app",
                                      "arn:aws:sts::111122223333:assumed-role/app/worker"]},
             "Action": "*", "Resource": "*"}
          ]
        }"#,
    ),
    (
        "IAM: role trust policy for a third party with an external id",
        Trust,
        r#"{
          "Version": "2012-10-17",
          "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "Unique ID Assigned by Example Corp"}}
          }]
        }"#,
    ),
    (
        "IAM: service role trust policy",
        Trust,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]}, "Action": "sts:AssumeRole"}]}"#,
    ),
    (
        "IAM: web identity trust policy",
        Trust,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:12345678-abcd-abcd-abcd-123456789012"},
                          "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]}"#,
    ),
    (
        "S3: bucket policy with every principal form",
        Resource,
        r#"{
          "Version": "2008-10-17",
          "Id": "PolicyForDestinationBucket",
          "Statement": [{
            "Sid": "Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": ["111122223333", "arn:aws:iam::444455556666:user/Division/Bob", "arn:aws:iam::444455556666:role/app"],
                          "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
            "Action": ["s3:GetObject*", "s3:List?ucket"],
            "Resource": "arn:aws:s3:::DOC-EXAMPLE-BUCKET/*",
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudfront::111122223333:distribution/*"},
                          "BinaryEquals": {"s3:x-amz-meta-digest": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
                          "IpAddress": {"aws:SourceIp": ["0.0.0.0/0", "::/0", "2001:db8::1"]}}
          }]
        }"#,
    ),
    (
        "session policy",
        Session,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*",
            "Condition": {"NumericLessThanEquals": {"ec2:MaxResults": [5, "1000", 1.5]}, "Bool": {"aws:SecureTransport": true}}}]}"#,
    ),
];

#[test]
fn published_examples_parse() {
    for (name, kind, text) in VALID {
        let policy = accept(text, *kind);
        assert_eq!(policy.kind(), *kind, "{name}");
        assert!(!policy.statements().is_empty(), "{name}");
    }
}

#[test]
fn parsed_structure_matches_the_text() {
    let p = accept(VALID[10].2, Endpoint);
    assert_eq!(p.version(), Version::V2012_10_17);
    let deny = &p.statements()[1];
    assert_eq!(deny.sid(), Some("OnlyOurRole"));
    assert_eq!(deny.effect(), Effect::Deny);
    let principal = deny
        .principal()
        .map(|c| (c.is_negated(), c.entries().to_vec()));
    assert_eq!(
        principal,
        Some((
            true,
            vec![
                PrincipalEntry::Account("111122223333".into()),
                PrincipalEntry::Arn("arn:aws:iam::111122223333:role/app".into()),
                PrincipalEntry::Arn("arn:aws:sts::111122223333:assumed-role/app/worker".into()),
            ]
        ))
    );

    let p = accept(VALID[14].2, Resource);
    assert_eq!(p.version(), Version::V2008_10_17);
    assert_eq!(p.id(), Some("PolicyForDestinationBucket"));
    let st = &p.statements()[0];
    let actions: Vec<&str> = st.action().patterns().iter().map(|a| a.as_str()).collect();
    assert_eq!(actions, ["s3:GetObject*", "s3:List?ucket"]);
    assert!(!st.action().is_negated());
    let ops: Vec<String> = st
        .conditions()
        .iter()
        .map(|c| format!("{} {}", c.operator(), c.key()))
        .collect();
    assert_eq!(
        ops,
        [
            "ArnLike aws:SourceArn",
            "BinaryEquals s3:x-amz-meta-digest",
            "IpAddress aws:SourceIp"
        ]
    );
    assert_eq!(
        st.conditions()[2].values(),
        ["0.0.0.0/0", "::/0", "2001:db8::1"]
    );

    let p = accept(VALID[5].2, Identity);
    let op = p.statements()[0].conditions()[0].operator();
    assert_eq!(op.qualifier, Some(SetQualifier::ForAllValues));
    assert_eq!(op.base, BaseOperator::StringEquals);
    assert!(!op.if_exists);
    let op = p.statements()[1].conditions()[1].operator();
    assert_eq!(
        (op.base, op.if_exists),
        (BaseOperator::NumericGreaterThan, true)
    );
    // JSON numbers and booleans are kept as text.
    let p = accept(VALID[15].2, Session);
    assert_eq!(
        p.statements()[0].conditions()[0].values(),
        ["5", "1000", "1.5"]
    );
    assert_eq!(p.statements()[0].conditions()[1].values(), ["true"]);
}

#[test]
fn every_condition_operator_is_accepted() {
    let value = |op: BaseOperator| match op.name() {
        n if n.starts_with("String") => "\"x\"",
        n if n.starts_with("Numeric") => "1",
        n if n.starts_with("Date") => "\"2024-01-01\"",
        n if n.starts_with("Arn") => "\"arn:aws:iam::*:role/*\"",
        n if n.contains("IpAddress") => "\"10.0.0.0/8\"",
        "BinaryEquals" => "\"AAEC\"",
        _ => "true",
    };
    for &op in BaseOperator::ALL {
        let mut names = vec![op.name().to_owned()];
        if op != BaseOperator::Null {
            names.extend([
                format!("{}IfExists", op.name()),
                format!("ForAnyValue:{}", op.name()),
                format!("ForAllValues:{}IfExists", op.name()),
            ]);
        }
        for name in names {
            let text = doc(&format!(
                r#"{{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {{"{name}": {{"k": {}}}}}}}"#,
                value(op)
            ));
            let p = accept(&text, Identity);
            assert_eq!(
                p.statements()[0].conditions()[0].operator().to_string(),
                name
            );
        }
    }
}

#[test]
fn principal_forms() {
    let p = accept(
        &doc(
            r#"{"Effect": "Allow", "Principal": {"AWS": ["*", "111122223333", "arn:aws:iam::444455556666:root", "arn:aws-cn:iam::444455556666:user/a/b", "arn:aws:sts::444455556666:federated-user/f"]}, "Action": "*", "Resource": "*"}"#,
        ),
        Resource,
    );
    let entries = p.statements()[0]
        .principal()
        .map(|c| c.entries().to_vec())
        .unwrap_or_default();
    assert_eq!(
        entries,
        vec![
            PrincipalEntry::Any,
            PrincipalEntry::Account("111122223333".into()),
            PrincipalEntry::Account("444455556666".into()),
            PrincipalEntry::Arn("arn:aws-cn:iam::444455556666:user/a/b".into()),
            PrincipalEntry::Arn("arn:aws:sts::444455556666:federated-user/f".into()),
        ]
    );
}

#[test]
fn serialization_round_trips() {
    for (name, kind, text) in VALID {
        let policy = accept(text, *kind);
        let json = policy.to_json();
        assert_eq!(accept(&json, *kind), policy, "{name}: {json}");
        let compact = text.chars().filter(|c| !c.is_whitespace()).count();
        assert!(json.chars().count() <= compact, "{name}: {json}");
    }
    // Escapes, a single statement object, NotPrincipal, numbers and booleans keep their form.
    let text = format!(
        r#"{{{V}, "Id": "q\"\\\n\u0001é", "Statement": {{"Effect": "Deny", "NotPrincipal": {{"AWS": ["*", "arn:aws:iam::111122223333:root"], "Service": "s.amazonaws.com"}},
            "NotAction": "ec2:*", "NotResource": ["arn:aws:s3:::b/${{*}}", "*"],
            "Condition": {{"NumericLessThan": {{"n": [1.5, -0.0, 2e3, "7"]}}, "Bool": {{"b": true}}, "StringLike": {{"k": "${{aws:username, 'x'}}*"}}}}}}}}"#
    );
    let policy = accept(&text, Endpoint);
    let json = policy.to_string();
    assert_eq!(
        json,
        r#"{"Version":"2012-10-17","Id":"q\"\\\n\u0001é","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["*","111122223333"],"Service":"s.amazonaws.com"},"NotAction":"ec2:*","NotResource":["arn:aws:s3:::b/${*}","*"],"Condition":{"NumericLessThan":{"n":[1.5,0,2000,"7"]},"Bool":{"b":true},"StringLike":{"k":"${aws:username, 'x'}*"}}}}"#
    );
    assert_eq!(accept(&json, Endpoint), policy);
}
