//! `Principal` / `NotPrincipal`: parsing and matching against the requesting principal.

use super::arn_match::split_arn;
use super::context::{PrincipalContext, PrincipalKind};
use super::error::PolicyError;
use super::json::Json;
use super::policy::PrincipalEntry;

/// How a `Principal` element matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    No,
    /// Only through an account entry (account id or `…:root`) naming the principal's account,
    /// and the principal is not the root user: a grant to the account, which delegates the
    /// decision to that account's identity policies.
    ViaAccount,
    /// Through `*`, the principal's own ARN, its role's ARN, its service or provider, or its
    /// account when the principal is the root user.
    Direct,
}

/// Parses the value of `Principal` / `NotPrincipal`.
pub(crate) fn parse_principal(json: &Json, path: &str) -> Result<Vec<PrincipalEntry>, PolicyError> {
    let members = match json {
        Json::String(s) if s == "*" => return Ok(vec![PrincipalEntry::Any]),
        Json::Object(members) if !members.is_empty() => members,
        other => {
            let found = match other {
                Json::String(s) => format!("{s:?}"),
                Json::Object(_) => "an empty object".to_owned(),
                other => other.type_name().to_owned(),
            };
            return Err(PolicyError::invalid(
                path,
                format!("expected \"*\" or an object such as {{\"AWS\": \"123456789012\"}}, found {found}"),
            ));
        }
    };
    let mut entries = Vec::new();
    for (kind, value) in members {
        let path = format!("{path}.{kind}");
        let texts: Vec<(String, &str)> = match value {
            Json::String(s) => vec![(path.clone(), s.as_str())],
            Json::Array(items) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Json::String(s) => Ok((format!("{path}[{i}]"), s.as_str())),
                    other => Err(PolicyError::invalid(
                        format!("{path}[{i}]"),
                        format!("expected a string, found {}", other.type_name()),
                    )),
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(PolicyError::invalid(
                    &path,
                    format!(
                        "expected a string or a non-empty array of strings, found {}",
                        other.type_name()
                    ),
                ))
            }
        };
        for (path, text) in texts {
            let entry = match kind.as_str() {
                "AWS" => parse_aws(text),
                "Service" => parse_plain(text, "service principal").map(PrincipalEntry::Service),
                "Federated" => parse_plain(text, "federated provider").map(PrincipalEntry::Federated),
                "CanonicalUser" => parse_canonical(text),
                other => Err(format!(
                    "unknown principal type {other:?}: expected \"AWS\", \"Service\", \"Federated\" or \"CanonicalUser\""
                )),
            };
            entries.push(entry.map_err(|m| PolicyError::invalid(&path, m))?);
        }
    }
    Ok(entries)
}

fn parse_aws(text: &str) -> Result<PrincipalEntry, String> {
    if text == "*" {
        return Ok(PrincipalEntry::Any);
    }
    if is_account_id(text) {
        return Ok(PrincipalEntry::Account(text.to_owned()));
    }
    let invalid = || {
        format!(
            "invalid AWS principal {text:?}: expected \"*\", a 12-digit account id, or the ARN of an \
             account root, user, role, assumed-role session or federated user (no wildcards or \
             policy variables)"
        )
    };
    let [_, partition, service, region, account, resource] = split_arn(text).ok_or_else(invalid)?;
    let path_ok = |rest: &str, min_parts: usize| {
        let parts: Vec<&str> = rest.split('/').collect();
        parts.len() >= min_parts && parts.iter().all(|p| !p.is_empty())
    };
    let resource_ok = match service {
        "iam" => {
            resource == "root"
                || resource
                    .strip_prefix("user/")
                    .is_some_and(|r| path_ok(r, 1))
                || resource
                    .strip_prefix("role/")
                    .is_some_and(|r| path_ok(r, 1))
        }
        "sts" => {
            resource
                .strip_prefix("assumed-role/")
                .is_some_and(|r| r.split('/').count() == 2 && path_ok(r, 2))
                || resource
                    .strip_prefix("federated-user/")
                    .is_some_and(|r| path_ok(r, 1))
        }
        _ => false,
    };
    let valid = !partition.is_empty()
        && partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        && region.is_empty()
        && is_account_id(account)
        && resource_ok
        && !text.contains(['*', '?', '$', '{', '}']);
    if !valid {
        return Err(invalid());
    }
    if resource == "root" {
        Ok(PrincipalEntry::Account(account.to_owned()))
    } else {
        Ok(PrincipalEntry::Arn(text.to_owned()))
    }
}

fn parse_plain(text: &str, what: &str) -> Result<String, String> {
    if text.is_empty()
        || text.contains(['*', '?', '$', '{', '}'])
        || text.chars().any(char::is_whitespace)
    {
        return Err(format!(
            "invalid {what} {text:?}: wildcards, policy variables and spaces are not allowed"
        ));
    }
    Ok(text.to_owned())
}

fn parse_canonical(text: &str) -> Result<PrincipalEntry, String> {
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(PrincipalEntry::CanonicalUser(text.to_ascii_lowercase()))
    } else {
        Err(format!(
            "invalid canonical user id {text:?}: expected 64 hex digits"
        ))
    }
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Matches a `Principal` element.
pub(crate) fn match_principal(entries: &[PrincipalEntry], p: &PrincipalContext) -> PrincipalMatch {
    let mut best = PrincipalMatch::No;
    for entry in entries {
        let this = match entry {
            PrincipalEntry::Any => PrincipalMatch::Direct,
            PrincipalEntry::Account(a) if p.has_account() && p.account == *a => {
                if p.kind == PrincipalKind::Root {
                    PrincipalMatch::Direct
                } else {
                    PrincipalMatch::ViaAccount
                }
            }
            PrincipalEntry::Arn(arn) => {
                // A role ARN matches the role's sessions (AWS converts it to the role's unique id).
                let role = match &p.kind {
                    PrincipalKind::AssumedRole { role_arn, .. } => role_arn == arn,
                    _ => false,
                };
                if role || (p.has_account() && p.arn == *arn) {
                    PrincipalMatch::Direct
                } else {
                    PrincipalMatch::No
                }
            }
            PrincipalEntry::Service(s) => match &p.kind {
                PrincipalKind::Service { name } if name.eq_ignore_ascii_case(s) => {
                    PrincipalMatch::Direct
                }
                _ => PrincipalMatch::No,
            },
            PrincipalEntry::Federated(f) => match &p.kind {
                PrincipalKind::WebIdentity { provider } if provider == f => PrincipalMatch::Direct,
                _ => PrincipalMatch::No,
            },
            PrincipalEntry::CanonicalUser(c) => {
                if p.canonical_user
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(c))
                {
                    PrincipalMatch::Direct
                } else {
                    PrincipalMatch::No
                }
            }
            PrincipalEntry::Account(_) => PrincipalMatch::No,
        };
        best = best.max(this);
        if best == PrincipalMatch::Direct {
            break;
        }
    }
    best
}

/// One of the identities AWS checks a request against for `NotPrincipal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identity<'a> {
    Account(&'a str),
    Arn(&'a str),
    Service(&'a str),
    Federated(&'a str),
    Anonymous,
}

/// True if a `NotPrincipal` list exempts `p` from its Deny.
///
/// AWS checks a request against each identity in the principal's chain (account, then role,
/// then session): the Deny applies unless *every* identity is listed. So a role session is
/// exempt only when the account, the role ARN and the session ARN are all listed; naming only
/// the role denies its sessions, and naming only a user (without the account) denies the user.
pub(crate) fn exempt_from_not_principal(entries: &[PrincipalEntry], p: &PrincipalContext) -> bool {
    let mut chain: Vec<Identity<'_>> = Vec::with_capacity(3);
    match &p.kind {
        PrincipalKind::Anonymous => chain.push(Identity::Anonymous),
        PrincipalKind::Service { name } => chain.push(Identity::Service(name)),
        PrincipalKind::WebIdentity { provider } => chain.push(Identity::Federated(provider)),
        PrincipalKind::Root => chain.push(Identity::Account(&p.account)),
        PrincipalKind::User { .. } | PrincipalKind::FederatedUser { .. } => {
            chain.extend([Identity::Account(&p.account), Identity::Arn(&p.arn)]);
        }
        PrincipalKind::AssumedRole { role_arn, .. } => chain.extend([
            Identity::Account(&p.account),
            Identity::Arn(role_arn),
            Identity::Arn(&p.arn),
        ]),
    }
    chain.iter().all(|identity| {
        entries.iter().any(|entry| match (entry, identity) {
            (PrincipalEntry::Any, _) => true,
            (PrincipalEntry::Account(a), Identity::Account(b)) => !b.is_empty() && a == b,
            (PrincipalEntry::Arn(a), Identity::Arn(b)) => !b.is_empty() && a == b,
            (PrincipalEntry::Service(a), Identity::Service(b)) => a.eq_ignore_ascii_case(b),
            (PrincipalEntry::Federated(a), Identity::Federated(b)) => a == b,
            _ => false,
        })
    })
}
