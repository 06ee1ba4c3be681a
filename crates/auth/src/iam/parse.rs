//! Policy text → [`Policy`]: size limits, strict JSON, then element-by-element validation.
//! Any problem refuses the whole document, so nothing half-parsed is ever evaluated.

use std::collections::{HashMap, HashSet};

use super::arn_match::ArnPattern;
use super::condition::{Condition, Operator, RawValue};
use super::error::PolicyError;
use super::glob::Glob;
use super::json::Json;
use super::policy::{
    ActionClause, ActionPattern, Effect, Policy, PolicyKind, PrincipalClause, ResourceClause,
    ResourcePattern, Statement, Version,
};
use super::principal::parse_principal;

/// Absolute cap on the raw text, checked before anything else (so 1 MB of whitespace is refused
/// without being scanned). Larger than every per-kind quota.
pub const MAX_POLICY_BYTES: usize = 128 * 1024;

/// Size quota of each kind: (limit, whether whitespace counts).
fn quota(kind: PolicyKind) -> (usize, bool) {
    match kind {
        // IAM managed policies: 6,144 characters, whitespace not counted.
        PolicyKind::Identity => (6_144, false),
        // Role trust policies: 2,048 by default, whitespace not counted.
        PolicyKind::Trust => (2_048, false),
        // Resource policies (S3-style) and VPC endpoint policies: 20,480 characters.
        PolicyKind::Resource | PolicyKind::Endpoint => (20_480, true),
        // Session policies: 2,048 characters of plain text.
        PolicyKind::Session => (2_048, true),
    }
}

impl Policy {
    /// Parses and validates a policy document of the given kind.
    ///
    /// `Version` is required (AWS would silently treat a missing Version as 2008-10-17, where
    /// policy variables are not substituted; Underpass refuses instead). `Resource` is refused
    /// in trust policies, whose resource is the role. `NotPrincipal` is accepted only in resource
    /// and endpoint policies and only with `Deny`.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        check_size(text, kind)?;
        let json = Json::parse(text).map_err(|e| PolicyError::Json(e.to_string()))?;
        build_policy(&json, kind)
    }
}

fn check_size(text: &str, kind: PolicyKind) -> Result<(), PolicyError> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLong {
            actual: text.len(),
            limit: MAX_POLICY_BYTES,
        });
    }
    let (limit, whitespace_counts) = quota(kind);
    let (actual, unit) = if whitespace_counts {
        (text.chars().count(), "characters")
    } else {
        let n = text.chars().filter(|c| !c.is_whitespace()).count();
        (n, "non-whitespace characters")
    };
    if actual > limit {
        return Err(PolicyError::TooLarge {
            kind,
            actual,
            limit,
            unit,
        });
    }
    Ok(())
}

fn build_policy(json: &Json, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let Json::Object(members) = json else {
        return Err(PolicyError::invalid(
            "policy",
            format!("expected a JSON object, found {}", json.type_name()),
        ));
    };
    let mut version = None;
    let mut id = None;
    let mut statement = None;
    for (key, value) in members {
        match key.as_str() {
            "Version" => version = Some(value),
            "Id" => id = Some(string(value, "Id")?.to_owned()),
            "Statement" => statement = Some(value),
            other => {
                return Err(PolicyError::invalid(
                    other,
                    "unknown element; a policy has only Version, Id and Statement",
                ))
            }
        }
    }
    let version = match version {
        None => {
            return Err(PolicyError::invalid(
                "Version",
                "required: \"2012-10-17\" (or the legacy \"2008-10-17\")",
            ))
        }
        Some(value) => match string(value, "Version")? {
            "2012-10-17" => Version::V2012_10_17,
            "2008-10-17" => Version::V2008_10_17,
            other => {
                return Err(PolicyError::invalid(
                    "Version",
                    format!("expected \"2012-10-17\" or \"2008-10-17\", found {other:?}"),
                ))
            }
        },
    };
    let statements: Vec<&Json> = match statement {
        None => return Err(PolicyError::invalid("Statement", "required")),
        Some(Json::Object(_)) => statement.into_iter().collect(),
        Some(Json::Array(items)) if !items.is_empty() => items.iter().collect(),
        Some(Json::Array(_)) => {
            return Err(PolicyError::invalid(
                "Statement",
                "must hold at least one statement",
            ))
        }
        Some(other) => {
            return Err(PolicyError::invalid(
                "Statement",
                format!(
                    "expected an object or an array of objects, found {}",
                    other.type_name()
                ),
            ))
        }
    };
    let mut sids: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(statements.len());
    for (i, json) in statements.into_iter().enumerate() {
        let path = format!("Statement[{i}]");
        let st = build_statement(json, &path, kind, version)?;
        if let Some(sid) = json_sid(json) {
            if let Some(first) = sids.insert(sid, i) {
                return Err(PolicyError::invalid(
                    format!("{path}.Sid"),
                    format!("duplicate Sid {sid:?} (also Statement[{first}]); Sids must be unique"),
                ));
            }
        }
        out.push(st);
    }
    Ok(Policy {
        kind,
        version,
        id,
        statements: out,
    })
}

fn json_sid(json: &Json) -> Option<&str> {
    let Json::Object(members) = json else {
        return None;
    };
    members.iter().find_map(|(k, v)| match (k.as_str(), v) {
        ("Sid", Json::String(s)) => Some(s.as_str()),
        _ => None,
    })
}

#[derive(Default)]
struct Elements<'a> {
    sid: Option<&'a Json>,
    effect: Option<&'a Json>,
    principal: Option<&'a Json>,
    not_principal: Option<&'a Json>,
    action: Option<&'a Json>,
    not_action: Option<&'a Json>,
    resource: Option<&'a Json>,
    not_resource: Option<&'a Json>,
    condition: Option<&'a Json>,
}

fn build_statement(
    json: &Json,
    path: &str,
    kind: PolicyKind,
    version: Version,
) -> Result<Statement, PolicyError> {
    let Json::Object(members) = json else {
        return Err(PolicyError::invalid(
            path,
            format!("expected a statement object, found {}", json.type_name()),
        ));
    };
    let mut e = Elements::default();
    for (key, value) in members {
        let slot =
            match key.as_str() {
                "Sid" => &mut e.sid,
                "Effect" => &mut e.effect,
                "Principal" => &mut e.principal,
                "NotPrincipal" => &mut e.not_principal,
                "Action" => &mut e.action,
                "NotAction" => &mut e.not_action,
                "Resource" => &mut e.resource,
                "NotResource" => &mut e.not_resource,
                "Condition" => &mut e.condition,
                other => return Err(PolicyError::invalid(
                    format!("{path}.{other}"),
                    "unknown element; a statement has only Sid, Effect, Principal, NotPrincipal, \
                     Action, NotAction, Resource, NotResource and Condition",
                )),
            };
        *slot = Some(value);
    }

    let sid = e
        .sid
        .map(|s| string(s, &format!("{path}.Sid")))
        .transpose()?
        .map(str::to_owned);
    let effect_path = format!("{path}.Effect");
    let effect = match e.effect.map(|v| string(v, &effect_path)).transpose()? {
        None => {
            return Err(PolicyError::invalid(
                effect_path,
                "required: \"Allow\" or \"Deny\"",
            ))
        }
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            return Err(PolicyError::invalid(
                effect_path,
                format!("expected \"Allow\" or \"Deny\", found {other:?}"),
            ))
        }
    };

    let principal = build_principal(&e, path, kind, effect)?;
    let action = match (e.action, e.not_action) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::invalid(
                path,
                "Action and NotAction cannot both be present",
            ))
        }
        (None, None) => {
            return Err(PolicyError::invalid(
                path,
                "Action or NotAction is required",
            ))
        }
        (Some(v), None) => build_actions(v, &format!("{path}.Action"), false)?,
        (None, Some(v)) => build_actions(v, &format!("{path}.NotAction"), true)?,
    };
    let resource = match (e.resource, e.not_resource, kind) {
        (Some(_), Some(_), _) => {
            return Err(PolicyError::invalid(
                path,
                "Resource and NotResource cannot both be present",
            ))
        }
        (Some(_), None, PolicyKind::Trust) | (None, Some(_), PolicyKind::Trust) => {
            let name = if e.resource.is_some() {
                "Resource"
            } else {
                "NotResource"
            };
            return Err(PolicyError::invalid(
                format!("{path}.{name}"),
                "not allowed in a trust policy: its resource is the role itself",
            ));
        }
        (None, None, PolicyKind::Trust) => None,
        (None, None, _) => {
            return Err(PolicyError::invalid(
                path,
                "Resource or NotResource is required",
            ))
        }
        (Some(v), None, _) => Some(build_resources(
            v,
            &format!("{path}.Resource"),
            false,
            version,
        )?),
        (None, Some(v), _) => Some(build_resources(
            v,
            &format!("{path}.NotResource"),
            true,
            version,
        )?),
    };
    let conditions = match e.condition {
        None => Vec::new(),
        Some(v) => build_conditions(v, &format!("{path}.Condition"), version)?,
    };
    Ok(Statement {
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

fn build_principal(
    e: &Elements<'_>,
    path: &str,
    kind: PolicyKind,
    effect: Effect,
) -> Result<Option<PrincipalClause>, PolicyError> {
    let (name, value, negated) = match (e.principal, e.not_principal) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::invalid(
                path,
                "Principal and NotPrincipal cannot both be present",
            ))
        }
        (Some(v), None) => ("Principal", v, false),
        (None, Some(v)) => ("NotPrincipal", v, true),
        (None, None) => {
            return match kind {
                PolicyKind::Identity | PolicyKind::Session => Ok(None),
                _ => Err(PolicyError::invalid(
                    path,
                    format!("Principal is required in {}", a_policy(kind)),
                )),
            }
        }
    };
    let here = format!("{path}.{name}");
    match kind {
        PolicyKind::Identity | PolicyKind::Session => {
            return Err(PolicyError::invalid(
                here,
                format!(
                    "not allowed in {}: the principal is the identity it is attached to",
                    a_policy(kind)
                ),
            ))
        }
        PolicyKind::Trust if negated => {
            return Err(PolicyError::invalid(
                here,
                "not allowed in a trust policy; use Principal",
            ))
        }
        _ => {}
    }
    if negated && effect == Effect::Allow {
        return Err(PolicyError::invalid(
            here,
            "not allowed with \"Effect\": \"Allow\": it would grant to every other principal, \
             anonymous callers included; use Principal, or NotPrincipal with Deny",
        ));
    }
    Ok(Some(PrincipalClause {
        negated,
        entries: parse_principal(value, &here)?,
    }))
}

/// "an identity policy", "a trust policy", …
fn a_policy(kind: PolicyKind) -> String {
    match kind {
        PolicyKind::Identity | PolicyKind::Endpoint => format!("an {kind} policy"),
        _ => format!("a {kind} policy"),
    }
}

fn build_actions(json: &Json, path: &str, negated: bool) -> Result<ActionClause, PolicyError> {
    let patterns = strings(json, path)?
        .into_iter()
        .map(|(path, text)| {
            if !is_valid_action(text) {
                return Err(PolicyError::invalid(
                    path,
                    format!("invalid action {text:?}: expected \"*\" or \"service:Action\" (wildcards * and ? allowed)"),
                ));
            }
            Ok(ActionPattern {
                source: text.to_owned(),
                glob: Glob::new_ignore_case(text),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(ActionClause { negated, patterns })
}

fn is_valid_action(text: &str) -> bool {
    if text == "*" {
        return true;
    }
    let Some((service, action)) = text.split_once(':') else {
        return false;
    };
    let service_ok = !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'*' | b'?'));
    let action_ok = !action.is_empty()
        && action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*' | b'?'));
    service_ok && action_ok
}

fn build_resources(
    json: &Json,
    path: &str,
    negated: bool,
    version: Version,
) -> Result<ResourceClause, PolicyError> {
    let patterns = strings(json, path)?
        .into_iter()
        .map(|(path, text)| {
            let pattern =
                ArnPattern::parse(text, version).map_err(|m| PolicyError::invalid(path, m))?;
            Ok(ResourcePattern {
                source: text.to_owned(),
                pattern,
            })
        })
        .collect::<Result<_, PolicyError>>()?;
    Ok(ResourceClause { negated, patterns })
}

fn build_conditions(
    json: &Json,
    path: &str,
    version: Version,
) -> Result<Vec<Condition>, PolicyError> {
    let Json::Object(operators) = json else {
        return Err(PolicyError::invalid(
            path,
            format!(
                "expected an object of condition operators, found {}",
                json.type_name()
            ),
        ));
    };
    let mut out = Vec::new();
    for (op_name, block) in operators {
        let op_path = format!("{path}.{op_name}");
        let operator: Operator = op_name
            .parse()
            .map_err(|m: String| PolicyError::invalid(&op_path, m))?;
        let Json::Object(keys) = block else {
            return Err(PolicyError::invalid(
                op_path,
                format!(
                    "expected an object of condition keys, found {}",
                    block.type_name()
                ),
            ));
        };
        let mut seen = HashSet::new();
        for (key, value) in keys {
            let key_path = format!("{op_path}.{key}");
            if key.is_empty() {
                return Err(PolicyError::invalid(key_path, "empty condition key"));
            }
            if !seen.insert(key.to_ascii_lowercase()) {
                return Err(PolicyError::invalid(
                    key_path,
                    "duplicate condition key (key names are not case-sensitive)",
                ));
            }
            let values = condition_values(value, &key_path)?;
            out.push(Condition::parse(operator, key, values, version)?);
        }
    }
    Ok(out)
}

/// A condition value or non-empty array of values: strings, numbers or booleans, as text.
fn condition_values(json: &Json, path: &str) -> Result<Vec<RawValue>, PolicyError> {
    let scalar = |json: &Json, path: String| {
        let (text, quoted) = match json {
            Json::String(s) => (s.clone(), true),
            Json::Number(n) => (n.clone(), false),
            Json::Bool(b) => (b.to_string(), false),
            other => {
                return Err(PolicyError::invalid(
                    path,
                    format!(
                        "expected a string, number or boolean, found {}",
                        other.type_name()
                    ),
                ))
            }
        };
        Ok(RawValue { path, text, quoted })
    };
    match json {
        Json::Array(items) if items.is_empty() => {
            Err(PolicyError::invalid(path, "expected at least one value"))
        }
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| scalar(item, format!("{path}[{i}]")))
            .collect(),
        other => Ok(vec![scalar(other, path.to_owned())?]),
    }
}

fn string<'a>(json: &'a Json, path: &str) -> Result<&'a str, PolicyError> {
    match json {
        Json::String(s) => Ok(s),
        other => Err(PolicyError::invalid(
            path,
            format!("expected a string, found {}", other.type_name()),
        )),
    }
}

/// A string or a non-empty array of strings, each with its path.
fn strings<'a>(json: &'a Json, path: &str) -> Result<Vec<(String, &'a str)>, PolicyError> {
    match json {
        Json::String(s) => Ok(vec![(path.to_owned(), s.as_str())]),
        Json::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let path = format!("{path}[{i}]");
                string(item, &path).map(|s| (path, s))
            })
            .collect(),
        Json::Array(_) => Err(PolicyError::invalid(path, "expected at least one value")),
        other => Err(PolicyError::invalid(
            path,
            format!(
                "expected a string or an array of strings, found {}",
                other.type_name()
            ),
        )),
    }
}
