//! Helpers shared by the IAM integration tests.
#![allow(dead_code)] // each test crate uses a different subset

use underpass_auth::iam::{
    evaluate, Decision, NamedPolicy, Outcome, Policy, PolicyKind, PolicySet, PrincipalContext,
    RequestContext,
};

pub(crate) const ACCT: &str = "111122223333";
pub(crate) const OTHER: &str = "444455556666";
pub(crate) const EP: &str = "arn:aws:ec2:us-east-1:111122223333:vpc-endpoint/vpce-0123456789abcdef0";

/// Parses or panics with the error (test input is ours, not outside input).
pub(crate) fn policy(kind: PolicyKind, text: &str) -> Policy {
    match Policy::parse(text, kind) {
        Ok(p) => p,
        Err(e) => panic!("test policy refused: {e}\n{text}"),
    }
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

pub(crate) const ALLOW_ALL: &str = r#"{"Effect": "Allow", "Action": "*", "Resource": "*"}"#;
