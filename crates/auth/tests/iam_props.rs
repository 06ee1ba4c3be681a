//! Property tests: glob matching against a reference matcher, deny monotonicity, determinism,
//! literal substitution, and a parser that never panics.

mod iam_support;

use iam_support::*;
use proptest::prelude::*;
use underpass_auth::iam::{
    evaluate, Glob, NamedPolicy, Outcome, Policy, PolicyKind, PolicySet, PrincipalContext,
    RequestContext, ResourcePolicy,
};

/// Reference: dynamic programming over (pattern prefix, text prefix), written independently of
/// the segment algorithm under test.
fn reference_match(pattern: &[char], text: &[char]) -> bool {
    let mut dp = vec![vec![false; text.len() + 1]; pattern.len() + 1];
    dp[0][0] = true;
    for i in 1..=pattern.len() {
        for j in 0..=text.len() {
            dp[i][j] = match pattern[i - 1] {
                '*' => dp[i - 1][j] || (j > 0 && dp[i][j - 1]),
                '?' => j > 0 && dp[i - 1][j - 1],
                c => j > 0 && text[j - 1] == c && dp[i - 1][j - 1],
            };
        }
    }
    dp[pattern.len()][text.len()]
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn glob_agrees_with_reference(pattern in "[ab:/*?é]{0,12}", text in "[ab:/*?é]{0,16}") {
        prop_assert_eq!(
            Glob::new(&pattern).matches(&text),
            reference_match(&chars(&pattern), &chars(&text)),
            "{:?} ~ {:?}", pattern, text
        );
    }

    /// Texts built from the pattern itself (each `*` → a short run, each `?` → one character,
    /// then a few characters cut or changed), so near-misses such as overlapping prefix and
    /// suffix are common rather than rare.
    #[test]
    fn glob_agrees_on_near_misses(
        pattern in "[ab:/*?]{0,10}",
        fills in prop::collection::vec("[ab:/]{0,3}", 10),
        cut in 0usize..12,
        cut_len in 0usize..3,
    ) {
        let mut fill = fills.iter();
        let mut text = String::new();
        for c in pattern.chars() {
            match c {
                '*' => text.push_str(fill.next().map_or("", String::as_str)),
                '?' => text.push('b'),
                c => text.push(c),
            }
        }
        let cut = cut.min(text.len());
        let end = (cut + cut_len).min(text.len());
        let near_miss = format!("{}{}", &text[..cut], &text[end..]);
        for t in [&text, &near_miss] {
            prop_assert_eq!(
                Glob::new(&pattern).matches(t),
                reference_match(&chars(&pattern), &chars(t)),
                "{:?} ~ {:?}", pattern, t
            );
        }
        prop_assert!(Glob::new(&pattern).matches(&text));
    }

    #[test]
    fn glob_ignore_case_agrees_with_reference(pattern in "[aAbB:*?]{0,10}", text in "[aAbB:]{0,14}") {
        let lower = |s: &str| chars(&s.to_lowercase());
        prop_assert_eq!(
            Glob::new_ignore_case(&pattern).matches(&text),
            reference_match(&lower(&pattern), &lower(&text))
        );
    }

    #[test]
    fn glob_agrees_on_long_texts(pattern in "[ab*]{0,8}", text in "[ab]{0,200}") {
        prop_assert_eq!(
            Glob::new(&pattern).matches(&text),
            reference_match(&chars(&pattern), &chars(&text))
        );
    }

    /// A substituted value is literal: `${aws:username}` matches exactly that name.
    #[test]
    fn substituted_names_are_literal(name in "[a*?]{1,5}", other in "[a*?]{1,5}") {
        let p = [identity("Home", r#"{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"}"#)];
        let c = ctx(PrincipalContext::user(ACCT, &name), "s3:GetObject", &format!("arn:aws:s3:::home/{other}/x"));
        prop_assert_eq!(eval_identity(&c, &p).is_allowed(), name == other);
    }

    /// Adding a Deny never turns a deny into an allow; adding a Deny that matches decides.
    #[test]
    fn adding_a_deny_never_allows(
        world in any_world(),
        extra in any_statement(true),
        slot in 0usize..5,
    ) {
        let before = world.evaluate();
        let mut more = world.clone();
        more.add(slot, &extra);
        let after = more.evaluate();
        if before.outcome != Outcome::Allow {
            prop_assert_ne!(after.outcome, Outcome::Allow, "{}", after);
        }
        if before.outcome == Outcome::ExplicitDeny {
            prop_assert_eq!(after.outcome, Outcome::ExplicitDeny);
        }
        let mut denied = world.clone();
        denied.add(slot, &deny_all());
        let d = denied.evaluate();
        prop_assert_eq!(d.outcome, Outcome::ExplicitDeny);
        prop_assert!(d.statements.iter().any(|s| s.sid.as_deref() == Some("DenyAll")));
    }

    /// Serialization round-trips for every slot's policy.
    #[test]
    fn serialization_round_trips(world in any_world()) {
        for (slot, kind) in KINDS.into_iter().enumerate() {
            let policy = Policy::parse(&world.text(slot), kind);
            prop_assert!(policy.is_ok(), "{:?}", policy);
            if let Ok(policy) = policy {
                prop_assert_eq!(Policy::parse(&policy.to_json(), kind), Ok(policy));
            }
        }
    }

    #[test]
    fn evaluation_is_deterministic(world in any_world()) {
        let first = world.evaluate();
        prop_assert_eq!(&first, &world.clone().evaluate());
        prop_assert_eq!(first.to_string(), world.evaluate().to_string());
    }

    #[test]
    fn parser_never_panics(text in "\\PC{0,200}") {
        let _ = Policy::parse(&text, PolicyKind::Endpoint);
    }

    #[test]
    fn parser_never_panics_on_mangled_policies(world in any_world(), cut in 0usize..400, junk in "[\\[\\]{}\",:*$?a ]{0,4}") {
        let text = world.text(0);
        let cut = cut.min(text.len());
        if text.is_char_boundary(cut) {
            let mangled = format!("{}{}{}", &text[..cut], junk, &text[cut..]);
            let _ = Policy::parse(&mangled, PolicyKind::Identity);
        }
    }
}

/// A statement as (principal element, other elements); the principal is dropped in
/// identity-style slots.
type Stmt = (String, String);

/// A request and policy set described as JSON statement lists, so statements can be added.
#[derive(Debug, Clone)]
struct World {
    principal: PrincipalContext,
    action: String,
    resource: String,
    source_ip: Option<String>,
    /// identity, resource, boundary, session, endpoint
    statements: [Vec<Stmt>; 5],
    present: [bool; 5],
    owner: String,
}

const KINDS: [PolicyKind; 5] = [
    PolicyKind::Identity,
    PolicyKind::Resource,
    PolicyKind::Identity,
    PolicyKind::Session,
    PolicyKind::Endpoint,
];

fn render(kind: PolicyKind, (principal, rest): &Stmt) -> String {
    match kind {
        PolicyKind::Identity | PolicyKind::Session => format!("{{{rest}}}"),
        _ => format!("{{{principal}, {rest}}}"),
    }
}

impl World {
    /// Adds a statement to the policy in `slot`, creating the policy if the slot is empty.
    fn add(&mut self, slot: usize, statement: &Stmt) {
        if !self.present[slot] {
            self.statements[slot].clear();
            self.present[slot] = true;
        }
        self.statements[slot].push(statement.clone());
    }

    fn text(&self, slot: usize) -> String {
        let list: Vec<String> = self.statements[slot]
            .iter()
            .map(|s| render(KINDS[slot], s))
            .collect();
        doc(&list.join(","))
    }

    fn evaluate(&self) -> underpass_auth::iam::Decision {
        let policies: Vec<Option<NamedPolicy>> = (0..5)
            .map(|i| {
                (self.present[i] && !self.statements[i].is_empty())
                    .then(|| named(&format!("p{i}"), KINDS[i], &self.text(i)))
            })
            .collect();
        let identity: Vec<NamedPolicy> = policies[0].iter().cloned().collect();
        let mut c = RequestContext::new(self.principal.clone(), &self.action, &self.resource);
        if let Some(ip) = &self.source_ip {
            c = c.with_key("aws:SourceIp", ip);
        }
        evaluate(
            &c,
            &PolicySet {
                identity: &identity,
                resource: policies[1].as_ref().map(|policy| ResourcePolicy {
                    policy,
                    owner_account: &self.owner,
                }),
                permissions_boundary: policies[2].as_ref(),
                session: policies[3].as_ref(),
                endpoint: policies[4].as_ref(),
            },
        )
    }
}

fn deny_all() -> Stmt {
    (
        r#""Principal": "*""#.to_owned(),
        r#""Sid": "DenyAll", "Effect": "Deny", "Action": "*", "Resource": "*""#.to_owned(),
    )
}

fn any_statement(deny_only: bool) -> impl Strategy<Value = Stmt> {
    let effect = if deny_only {
        Just("Deny").boxed()
    } else {
        prop_oneof![Just("Allow"), Just("Deny")].boxed()
    };
    (
        effect,
        prop::sample::select(vec![
            r#""Principal": "*""#.to_owned(),
            format!(r#""Principal": {{"AWS": "{ACCT}"}}"#),
            format!(r#""Principal": {{"AWS": "arn:aws:iam::{ACCT}:user/alice"}}"#),
            format!(r#""Principal": {{"AWS": "arn:aws:iam::{ACCT}:role/app"}}"#),
            format!(r#""NotPrincipal": {{"AWS": ["{ACCT}", "arn:aws:iam::{ACCT}:user/alice"]}}"#),
        ]),
        prop::sample::select(vec![
            r#""*""#,
            r#""ec2:*""#,
            r#""ec2:*VpcEndpoint*""#,
            r#""s3:Get*""#,
            r#"["ec2:Describe?pc*", "s3:*"]"#,
        ]),
        any::<bool>(),
        prop::sample::select(vec![
            r#""*""#,
            r#""arn:aws:ec2:*:*:vpc-endpoint/*""#,
            r#""arn:aws:s3:::b/${aws:username}/*""#,
            r#""arn:aws:s3:::b/*""#,
        ]),
        any::<bool>(),
        prop::sample::select(vec![
            "",
            r#", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
            r#", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#,
            r#", "Condition": {"StringEqualsIfExists": {"aws:username": "alice"}}"#,
            r#", "Condition": {"ForAllValues:StringLike": {"aws:TagKeys": "x*"}}"#,
        ]),
    )
        .prop_map(
            |(effect, principal, action, not_action, resource, not_resource, condition)| {
                let a = if not_action { "NotAction" } else { "Action" };
                let r = if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                };
                // NotPrincipal is only valid with Deny.
                let principal = if effect == "Allow" && principal.starts_with(r#""NotPrincipal""#) {
                    r#""Principal": "*""#.to_owned()
                } else {
                    principal
                };
                (
                    principal,
                    format!(
                        r#""Effect": "{effect}", "{a}": {action}, "{r}": {resource}{condition}"#
                    ),
                )
            },
        )
}

fn any_world() -> impl Strategy<Value = World> {
    (
        prop::sample::select(vec![
            PrincipalContext::user(ACCT, "alice"),
            PrincipalContext::assumed_role(ACCT, "app", "s"),
            PrincipalContext::user(OTHER, "bob"),
            PrincipalContext::root(ACCT),
            PrincipalContext::anonymous(),
        ]),
        prop::sample::select(vec![
            "ec2:CreateVpcEndpoint",
            "ec2:DescribeVpcs",
            "s3:GetObject",
            "iam:CreateUser",
        ]),
        prop::sample::select(vec![
            EP,
            "arn:aws:s3:::b/alice/x",
            "*",
            "arn:aws:ec2:us-east-1:444455556666:vpc/vpc-1",
        ]),
        prop::option::of(prop::sample::select(vec![
            "10.1.2.3",
            "203.0.113.9",
            "::ffff:10.0.0.1",
        ])),
        prop::array::uniform5(prop::collection::vec(any_statement(false), 1..4)),
        prop::array::uniform5(any::<bool>()),
        prop::sample::select(vec![ACCT, OTHER]),
    )
        .prop_map(
            |(principal, action, resource, ip, statements, present, owner)| World {
                principal,
                action: action.to_owned(),
                resource: resource.to_owned(),
                source_ip: ip.map(str::to_owned),
                statements,
                present,
                owner: owner.to_owned(),
            },
        )
}
