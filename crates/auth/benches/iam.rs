//! IAM evaluation cost (RELIABILITY item 32): hostile glob patterns across 1,000 statements,
//! the largest condition block the size limits allow, and a typical policy set.
#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn benches`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use underpass_auth::iam::{
    evaluate, NamedPolicy, Policy, PolicyKind, PolicySet, PrincipalContext, RequestContext,
};

fn parse(kind: PolicyKind, text: &str) -> Policy {
    match Policy::parse(text, kind) {
        Ok(p) => p,
        Err(e) => panic!("bench policy refused: {e}"),
    }
}

fn doc(statements: &[String]) -> String {
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
        statements.join(",")
    )
}

/// 1,000 statements of `*a*a*a*a*a*b` (100 identity policies of 10, each under the 6,144-character
/// quota), against a 4,096-character resource that does not end in `b`, and one that does.
fn hostile_globs(c: &mut Criterion) {
    let statement =
        r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::*a*a*a*a*a*b"}"#;
    let policies: Vec<NamedPolicy> = (0..100)
        .map(|i| {
            NamedPolicy::new(
                format!("p{i}"),
                parse(PolicyKind::Identity, &doc(&vec![statement.to_owned(); 10])),
            )
        })
        .collect();
    assert_eq!(
        policies
            .iter()
            .map(|p| p.policy.statements().len())
            .sum::<usize>(),
        1_000
    );
    let set = PolicySet {
        identity: &policies,
        ..PolicySet::default()
    };
    let user = PrincipalContext::user("111122223333", "alice");
    let miss = RequestContext::new(
        user.clone(),
        "s3:GetObject",
        &format!("arn:aws:s3:::{}", "a".repeat(4_096)),
    );
    let hit = RequestContext::new(
        user,
        "s3:GetObject",
        &format!("arn:aws:s3:::{}b", "a".repeat(4_096)),
    );
    assert!(!evaluate(&miss, &set).is_allowed());
    assert!(evaluate(&hit, &set).is_allowed());
    c.bench_function("1000 statements *a*a*a*a*a*b, no match", |b| {
        b.iter(|| evaluate(black_box(&miss), black_box(&set)))
    });
    c.bench_function("1000 statements *a*a*a*a*a*b, match", |b| {
        b.iter(|| evaluate(black_box(&hit), black_box(&set)))
    });
}

/// About the biggest condition block an endpoint policy (20,480 characters) can hold: 10 keys x
/// 220 StringLike patterns, against 10 request values per key. ("100 keys x 1,000 values" does not
/// fit in any policy the size limits accept.)
fn condition_bomb(c: &mut Criterion) {
    let keys: Vec<String> = (0..10)
        .map(|k| {
            let values: Vec<String> = (0..220).map(|v| format!(r#""*{v}x*""#)).collect();
            format!(r#""k{k}": [{}]"#, values.join(","))
        })
        .collect();
    let statement = format!(
        r#"{{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {{"ForAnyValue:StringLike": {{{}}}}}}}"#,
        keys.join(",")
    );
    let text = doc(&[statement]);
    let endpoint = NamedPolicy::new("bomb", parse(PolicyKind::Endpoint, &text));
    let admin = NamedPolicy::new(
        "admin",
        parse(
            PolicyKind::Identity,
            &doc(&[r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#.into()]),
        ),
    );
    let identity = [admin];
    let set = PolicySet {
        identity: &identity,
        endpoint: Some(&endpoint),
        ..PolicySet::default()
    };
    let mut request = RequestContext::new(
        PrincipalContext::user("111122223333", "alice"),
        "ec2:CreateVpc",
        "*",
    );
    let values: Vec<String> = (0..10)
        .map(|i| format!("value-{i}-{}", "y".repeat(64)))
        .collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    for k in 0..10 {
        request = request.with_values(&format!("k{k}"), &values);
    }
    assert!(!evaluate(&request, &set).is_allowed());
    let name = format!(
        "condition bomb ({} chars, 2,200 patterns x 10 values per key)",
        text.chars().count()
    );
    c.bench_function(&name, |b| {
        b.iter(|| evaluate(black_box(&request), black_box(&set)))
    });
}

/// A typical set: a 10-statement identity policy, a boundary and an endpoint policy.
fn typical(c: &mut Criterion) {
    let statements: Vec<String> = [
        r#"{"Sid": "Describe", "Effect": "Allow", "Action": ["ec2:Describe*", "ec2:Get*"], "Resource": "*"}"#,
        r#"{"Sid": "Endpoints", "Effect": "Allow", "Action": ["ec2:*VpcEndpoint*"], "Resource": "arn:aws:ec2:*:111122223333:vpc-endpoint/*"}"#,
        r#"{"Sid": "Tags", "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*", "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}}"#,
        r#"{"Sid": "Home", "Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"}"#,
        r#"{"Sid": "List", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::home", "Condition": {"StringLike": {"s3:prefix": "${aws:username}/*"}}}"#,
        r#"{"Sid": "Corp", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}, "Bool": {"aws:ViaAWSService": "false"}}}"#,
        r#"{"Sid": "Window", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2031-01-01T00:00:00Z"}}}"#,
        r#"{"Sid": "NoDelete", "Effect": "Deny", "Action": "ec2:Delete*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalTag/role": "admin"}}}"#,
        r#"{"Sid": "Region", "Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*", "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}}"#,
        r#"{"Sid": "Mfa", "Effect": "Deny", "Action": "iam:*", "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}"#,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let text = doc(&statements);
    c.bench_function("parse typical 10-statement identity policy", |b| {
        b.iter(|| Policy::parse(black_box(&text), PolicyKind::Identity))
    });
    let identity = [NamedPolicy::new(
        "typical",
        parse(PolicyKind::Identity, &text),
    )];
    let boundary = NamedPolicy::new(
        "boundary",
        parse(
            PolicyKind::Identity,
            &doc(&[r#"{"Effect": "Allow", "Action": ["ec2:*", "s3:*"], "Resource": "*"}"#.into()]),
        ),
    );
    let endpoint = NamedPolicy::new(
        "default",
        parse(
            PolicyKind::Endpoint,
            &doc(&[
                r#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}"#.into(),
            ]),
        ),
    );
    let set = PolicySet {
        identity: &identity,
        permissions_boundary: Some(&boundary),
        endpoint: Some(&endpoint),
        ..PolicySet::default()
    };
    let request = RequestContext::new(
        PrincipalContext::user("111122223333", "alice"),
        "ec2:CreateVpcEndpoint",
        "arn:aws:ec2:us-east-1:111122223333:vpc-endpoint/vpce-0123456789abcdef0",
    )
    .with_key("aws:SourceIp", "10.1.2.3")
    .with_key("aws:ViaAWSService", "false")
    .with_key("aws:CurrentTime", "2030-06-01T12:00:00Z")
    .with_key("aws:RequestedRegion", "us-east-1");
    assert!(evaluate(&request, &set).is_allowed());
    c.bench_function(
        "evaluate typical policy set (10 statements + boundary + endpoint)",
        |b| b.iter(|| evaluate(black_box(&request), black_box(&set))),
    );
}

criterion_group!(benches, hostile_globs, condition_bomb, typical);
criterion_main!(benches);
