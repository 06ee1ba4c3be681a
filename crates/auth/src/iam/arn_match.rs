//! Resource and `Arn*` condition patterns, matched one ARN component at a time.
//!
//! `arn:partition:service:region:account:resource` has six components; the last may itself
//! contain `:` and `/`. Pattern and ARN are both split into six and each component is globbed on
//! its own, so a `*` in the region can never swallow a `:`. A bare `*` matches anything, ARN or
//! not.

use super::policy::Version;
use super::variables::{split_on_colons, tokenize, Template, Token, VarLookup};

/// Splits an ARN into its six components; `None` if it has fewer than six or lacks the `arn`
/// prefix.
pub(crate) fn split_arn(arn: &str) -> Option<[&str; 6]> {
    let mut parts = arn.splitn(6, ':');
    let out = [
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    ];
    (out[0] == "arn").then_some(out)
}

/// A compiled resource pattern: `*` or a six-component ARN pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    /// A bare `*`: matches every resource.
    Any,
    /// Components 1..=5 (partition, service, region, account, resource); component 0 is `arn`.
    Arn(Box<[Template; 5]>),
}

/// The outcome of matching one pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatternMatch {
    Match,
    NoMatch,
    /// A policy variable had no value and no default: the pattern cannot be decided.
    Unresolved,
}

impl ArnPattern {
    /// Parses `*` or `arn:…` with exactly six components (the sixth may contain `:`).
    pub(crate) fn parse(text: &str, version: Version) -> Result<Self, String> {
        if text == "*" {
            return Ok(Self::Any);
        }
        let tokens = tokenize(text, version, true)?;
        let mut parts = split_on_colons(tokens, 5).into_iter();
        let first = parts.next().unwrap_or_default();
        if first != [Token::Literal("arn".to_owned())] {
            return Err(format!(
                "{text:?} is not an ARN: expected \"*\" or \"arn:partition:service:region:account:resource\""
            ));
        }
        let rest: Vec<Template> = parts.map(|p| Template::from_tokens(p, false)).collect();
        let components: Box<[Template; 5]> = rest.into_boxed_slice().try_into().map_err(|_| {
            format!(
                "{text:?} has fewer than six ARN components: expected \"arn:partition:service:region:account:resource\""
            )
        })?;
        Ok(Self::Arn(components))
    }

    /// Matches `resource` (already split when it is an ARN).
    pub(crate) fn matches(
        &self,
        resource: Option<&[&str; 6]>,
        vars: &dyn VarLookup,
    ) -> PatternMatch {
        let components = match self {
            Self::Any => return PatternMatch::Match,
            Self::Arn(components) => components,
        };
        let mut outcome = PatternMatch::Match;
        for (i, template) in components.iter().enumerate() {
            let Some(glob) = template.glob(vars) else {
                return PatternMatch::Unresolved;
            };
            let matched = resource
                .and_then(|r| r.get(i + 1))
                .is_some_and(|component| glob.matches_folded(component));
            if !matched {
                // Keep going: a later unresolved component still makes the result undecided.
                outcome = PatternMatch::NoMatch;
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    struct Vars;
    impl VarLookup for Vars {
        fn lookup(&self, key: &str) -> Option<Cow<'_, str>> {
            (key == "aws:username").then_some(Cow::Borrowed("bob"))
        }
    }

    fn check(pattern: &str, resource: &str) -> PatternMatch {
        match ArnPattern::parse(pattern, Version::V2012_10_17) {
            Ok(p) => p.matches(split_arn(resource).as_ref(), &Vars),
            Err(e) => panic!("{pattern}: {e}"),
        }
    }

    #[test]
    fn per_component() {
        use PatternMatch::*;
        let cases = [
            ("*", "not an arn", Match),
            (
                "arn:aws:ec2:*:*:vpc-endpoint/*",
                "arn:aws:ec2:us-east-1:111122223333:vpc-endpoint/vpce-1",
                Match,
            ),
            (
                "arn:aws:ec2:*:*:vpc-endpoint/*",
                "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-1",
                NoMatch,
            ),
            // `*` in the region does not swallow the account's colon.
            // (a whole-string glob would match: `*` = "us-east-1:x").
            (
                "arn:aws:ec2:*:111122223333:vpc-endpoint/*",
                "arn:aws:ec2:us-east-1:x:111122223333:vpc-endpoint/a",
                NoMatch,
            ),
            ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c", Match),
            ("arn:aws:s3:::bucket/*", "arn:aws:s3:::other/a", NoMatch),
            (
                "arn:aws:s3:::home/${aws:username}/*",
                "arn:aws:s3:::home/bob/x",
                Match,
            ),
            (
                "arn:aws:s3:::home/${aws:userid}/*",
                "arn:aws:s3:::home/bob/x",
                Unresolved,
            ),
            ("arn:aws:ec2:*:*:*", "*", NoMatch),
            ("arn:aws:ec2:*:*:*", "", NoMatch),
            (
                "arn:aws:iam::*:role/R",
                "arn:aws:iam::111122223333:role/r",
                NoMatch,
            ),
        ];
        for (pattern, resource, expected) in cases {
            assert_eq!(check(pattern, resource), expected, "{pattern} ~ {resource}");
        }
    }

    #[test]
    fn refuses_non_arns() {
        for bad in ["", "bucket/*", "arn:aws:s3", "arn:*", "ARN:aws:s3:::b"] {
            assert!(
                ArnPattern::parse(bad, Version::V2012_10_17).is_err(),
                "{bad}"
            );
        }
    }
}
