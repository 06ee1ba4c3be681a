//! Fuzz the IAM policy parser: no panic and no stack overflow on any input, and whatever
//! parses serializes to JSON that parses back to the same policy and can be evaluated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use underpass_auth::iam::{
    evaluate, NamedPolicy, Policy, PolicyKind, PolicySet, PrincipalContext, RequestContext,
    ResourcePolicy,
};

const KINDS: [PolicyKind; 5] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Trust,
    PolicyKind::Endpoint,
    PolicyKind::Session,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in KINDS {
        let Ok(policy) = Policy::parse(text, kind) else {
            continue;
        };
        let json = policy.to_json();
        assert_eq!(
            Policy::parse(&json, kind).as_ref(),
            Ok(&policy),
            "round trip: {json}"
        );
        let named = NamedPolicy::new("fuzz", policy);
        let request = RequestContext::new(
            PrincipalContext::assumed_role("111122223333", "app", "s"),
            "ec2:CreateVpcEndpoint",
            "arn:aws:ec2:us-east-1:111122223333:vpc-endpoint/vpce-0123456789abcdef0",
        )
        .with_key("aws:SourceIp", "::ffff:10.0.0.1")
        .with_key("aws:CurrentTime", "2030-01-01T00:00:00Z");
        let identity = [named.clone()];
        let set = match kind {
            PolicyKind::Identity | PolicyKind::Session => PolicySet {
                identity: &identity,
                ..PolicySet::default()
            },
            _ => PolicySet {
                resource: Some(ResourcePolicy {
                    policy: &named,
                    owner_account: "111122223333",
                }),
                ..PolicySet::default()
            },
        };
        let decision = evaluate(&request, &set);
        assert_eq!(decision, evaluate(&request, &set));
        let _ = decision.to_string();
    }
});
