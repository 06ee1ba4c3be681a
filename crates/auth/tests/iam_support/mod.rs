//! Helpers shared by the IAM integration tests.
#![allow(dead_code)] // each test crate uses a different subset

use underpass_auth::iam::{
    evaluate, Decision, NamedPolicy, Outcome, Policy, PolicyError, PolicyKind, PolicySet,
    PrincipalContext, RequestContext,
};

pub(crate) const ACCT: &str = "111122223333";
pub(crate) const OTHER: &str = "444455556666";
pub(crate) const EP: &str =
    "arn:aws:ec2:us-east-1:111122223333:vpc-endpoint/vpce-0123456789abcdef0";

/// `"Version": "2012-10-17"`, for building documents by hand.
pub(crate) const V: &str = r#""Version": "2012-10-17""#;

/// Parses or panics with the error (test input is ours, not outside input).
pub(crate) fn accept(text: &str, kind: PolicyKind) -> Policy {
    match Policy::parse(text, kind) {
        Ok(p) => p,
        Err(e) => panic!("refused as {kind}: {e}\n{}", short(text)),
    }
}

/// The parse error, or a panic if the document was accepted.
pub(crate) fn refuse(text: &str, kind: PolicyKind) -> PolicyError {
    match Policy::parse(text, kind) {
        Ok(p) => panic!("accepted as {kind}: {}\n{p:?}", short(text)),
        Err(e) => e,
    }
}

fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

pub(crate) fn policy(kind: PolicyKind, text: &str) -> Policy {
    accept(text, kind)
}

pub(crate) fn named(name: &str, kind: PolicyKind, text: &str) -> NamedPolicy {
    NamedPolicy::new(name, policy(kind, text))
}

/// An identity policy with the given statements (JSON objects, comma-separated).
pub(crate) fn identity(name: &str, statements: &str) -> NamedPolicy {
    named(name, PolicyKind::Identity, &doc(statements))
}

/// A policy document with the given statements.
pub(crate) fn doc(statements: &str) -> String {
    format!(r#"{{"Version": "2012-10-17", "Statement": [{statements}]}}"#)
}

pub(crate) fn alice() -> PrincipalContext {
    PrincipalContext::user(ACCT, "alice")
}

pub(crate) fn ctx(principal: PrincipalContext, action: &str, resource: &str) -> RequestContext {
    RequestContext::new(principal, action, resource)
}

/// Evaluates with identity policies only.
pub(crate) fn eval_identity(ctx: &RequestContext, policies: &[NamedPolicy]) -> Decision {
    evaluate(
        ctx,
        &PolicySet {
            identity: policies,
            ..PolicySet::default()
        },
    )
}

pub(crate) fn outcome(d: &Decision) -> Outcome {
    d.outcome
}

/// Does an identity `Allow * on *` with `condition` allow `ctx`?
pub(crate) fn allows(condition: &str, ctx: &RequestContext) -> bool {
    let p = [identity(
        "P",
        &format!(
            r#"{{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {condition}}}"#
        ),
    )];
    eval_identity(ctx, &p).is_allowed()
}

/// alice calling ec2:CreateVpcEndpoint on EP.
pub(crate) fn req() -> RequestContext {
    ctx(alice(), "ec2:CreateVpcEndpoint", EP)
}

pub(crate) const ALLOW_ALL: &str = r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#;

/// (condition, context keys as (key, values), expected); `[]` values = key absent.
pub(crate) type Case = (
    &'static str,
    &'static [(&'static str, &'static [&'static str])],
    bool,
);

pub(crate) fn run(cases: &[Case]) {
    for (condition, keys, expected) in cases {
        let mut c = req();
        for (k, vs) in *keys {
            c = c.with_values(k, vs);
        }
        assert_eq!(
            allows(condition, &c),
            *expected,
            "{condition} with {keys:?}"
        );
    }
}
