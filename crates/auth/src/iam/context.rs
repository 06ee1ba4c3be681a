//! The request context: who asks, for what action, on which resource, with which context keys.
//! The caller fills it in; nothing here reads clocks, sockets or headers. In particular
//! `aws:SourceIp` must be the real TCP peer (or a PROXY-protocol source from a trusted hop), never
//! an `X-Forwarded-For` value, and `aws:CurrentTime` / `aws:EpochTime` are whatever the caller
//! sets.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::variables::VarLookup;

/// What kind of principal makes the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An unauthenticated caller; matched only by `"*"`.
    Anonymous,
    /// The account's root user.
    Root,
    /// An IAM user.
    User {
        /// The user name (the value of `aws:username`).
        name: String,
    },
    /// A role session from AssumeRole.
    AssumedRole {
        /// The role's ARN, e.g. `arn:aws:iam::111122223333:role/Admin` (with its path).
        role_arn: String,
        /// The session name given to AssumeRole.
        session_name: String,
    },
    /// A federated user from GetFederationToken.
    FederatedUser {
        /// The federated user's name.
        name: String,
    },
    /// An AWS service acting on its own behalf, e.g. `ec2.amazonaws.com`.
    Service {
        /// The service principal name.
        name: String,
    },
    /// A web-identity or SAML caller of AssumeRoleWith*; matched by `{"Federated": provider}`.
    WebIdentity {
        /// The identity provider, e.g. `accounts.google.com` or a SAML provider ARN.
        provider: String,
    },
}

/// The authenticated principal behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalContext {
    /// The principal's 12-digit account id; empty for anonymous, service and web-identity callers.
    pub account: String,
    /// The principal's ARN (for a role session, the `assumed-role` session ARN); may be empty.
    pub arn: String,
    /// What kind of principal this is.
    pub kind: PrincipalKind,
    /// The value of `aws:userid`, if known (e.g. `AIDA…`, or `AROA…:session`).
    pub userid: Option<String>,
    /// Principal tags, for `aws:PrincipalTag/<key>` (keys compared without regard to case).
    pub tags: Vec<(String, String)>,
    /// The S3 canonical user id, matched by `{"CanonicalUser": …}`.
    pub canonical_user: Option<String>,
}

impl PrincipalContext {
    fn new(account: &str, arn: String, kind: PrincipalKind) -> Self {
        Self {
            account: account.to_owned(),
            arn,
            kind,
            userid: None,
            tags: Vec::new(),
            canonical_user: None,
        }
    }

    /// The root user of `account` (partition `aws`).
    pub fn root(account: &str) -> Self {
        Self::new(
            account,
            format!("arn:aws:iam::{account}:root"),
            PrincipalKind::Root,
        )
    }

    /// The IAM user `name` in `account`, without a path (partition `aws`).
    pub fn user(account: &str, name: &str) -> Self {
        let kind = PrincipalKind::User {
            name: name.to_owned(),
        };
        Self::new(account, format!("arn:aws:iam::{account}:user/{name}"), kind)
    }

    /// A session `session` of role `role` in `account`, without a path (partition `aws`).
    pub fn assumed_role(account: &str, role: &str, session: &str) -> Self {
        let kind = PrincipalKind::AssumedRole {
            role_arn: format!("arn:aws:iam::{account}:role/{role}"),
            session_name: session.to_owned(),
        };
        let arn = format!("arn:aws:sts::{account}:assumed-role/{role}/{session}");
        Self::new(account, arn, kind)
    }

    /// The AWS service principal `name`, e.g. `ec2.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        let kind = PrincipalKind::Service {
            name: name.to_owned(),
        };
        Self::new("", String::new(), kind)
    }

    /// An unauthenticated caller.
    pub fn anonymous() -> Self {
        Self::new("", String::new(), PrincipalKind::Anonymous)
    }

    /// Sets `aws:userid`.
    pub fn with_userid(mut self, userid: &str) -> Self {
        self.userid = Some(userid.to_owned());
        self
    }

    /// Adds a principal tag.
    pub fn with_tag(mut self, key: &str, value: &str) -> Self {
        self.tags.push((key.to_owned(), value.to_owned()));
        self
    }

    /// True for principals that belong to an account and can hold identity policies.
    pub(crate) fn has_account(&self) -> bool {
        !self.account.is_empty()
            && matches!(
                self.kind,
                PrincipalKind::Root
                    | PrincipalKind::User { .. }
                    | PrincipalKind::AssumedRole { .. }
                    | PrincipalKind::FederatedUser { .. }
            )
    }

    /// The value of a principal-derived key (`aws:username`, `aws:userid`,
    /// `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:PrincipalType`, `aws:PrincipalTag/k`,
    /// `aws:PrincipalServiceName`); `key` is lower case.
    fn derived(&self, key: &str) -> Option<&str> {
        fn non_empty(s: &str) -> Option<&str> {
            Some(s).filter(|s| !s.is_empty())
        }
        match key {
            "aws:username" => match &self.kind {
                PrincipalKind::User { name } => Some(name),
                _ => None,
            },
            "aws:userid" => self.userid.as_deref(),
            "aws:principalaccount" if self.has_account() => non_empty(&self.account),
            // For a role session AWS sets aws:PrincipalArn to the role, not the session.
            "aws:principalarn" => match &self.kind {
                PrincipalKind::AssumedRole { role_arn, .. } => non_empty(role_arn),
                _ if self.has_account() => non_empty(&self.arn),
                _ => None,
            },
            "aws:principaltype" => match self.kind {
                PrincipalKind::Anonymous => Some("Anonymous"),
                PrincipalKind::Root => Some("Account"),
                PrincipalKind::User { .. } => Some("User"),
                PrincipalKind::AssumedRole { .. } => Some("AssumedRole"),
                PrincipalKind::FederatedUser { .. } => Some("FederatedUser"),
                PrincipalKind::Service { .. } | PrincipalKind::WebIdentity { .. } => None,
            },
            "aws:principalservicename" => match &self.kind {
                PrincipalKind::Service { name } => Some(name),
                _ => None,
            },
            _ => {
                let tag = key.strip_prefix("aws:principaltag/")?;
                self.tags
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(tag))
                    .map(|(_, v)| v.as_str())
            }
        }
    }
}

/// Context keys of a request: names compared without regard to case, each with one or more values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextKeys {
    /// Lower-cased name → values.
    map: BTreeMap<String, Vec<String>>,
}

impl ContextKeys {
    /// No keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `values`, replacing what it had.
    pub fn set<I, V>(&mut self, key: &str, values: I)
    where
        I: IntoIterator<Item = V>,
        V: Into<String>,
    {
        let values = values.into_iter().map(Into::into).collect();
        self.map.insert(key.to_ascii_lowercase(), values);
    }

    /// The values of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.map.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        self.map.remove(&key.to_ascii_lowercase());
    }

    /// All keys (lower case) and their values.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// Everything a policy is evaluated against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// Who makes the request.
    pub principal: PrincipalContext,
    /// The action, e.g. `ec2:CreateVpcEndpoint`.
    pub action: String,
    /// The resource ARN, or `*` for actions without resource-level permissions.
    pub resource: String,
    /// Context keys such as `aws:SourceIp`, `aws:CurrentTime`, `aws:SourceVpce`.
    pub keys: ContextKeys,
}

impl RequestContext {
    /// A request with no context keys.
    pub fn new(principal: PrincipalContext, action: &str, resource: &str) -> Self {
        Self {
            principal,
            action: action.to_owned(),
            resource: resource.to_owned(),
            keys: ContextKeys::new(),
        }
    }

    /// Sets a single-valued context key.
    pub fn with_key(mut self, key: &str, value: &str) -> Self {
        self.keys.set(key, [value]);
        self
    }

    /// Sets a multi-valued context key (an empty list counts as absent).
    pub fn with_values(mut self, key: &str, values: &[&str]) -> Self {
        self.keys.set(key, values.iter().copied());
        self
    }

    /// The values of a context key; `key` is lower case. Principal-derived keys come from
    /// [`PrincipalContext`] and take precedence over [`RequestContext::keys`].
    pub(crate) fn key_values(&self, key: &str) -> KeyValues<'_> {
        if let Some(v) = self.principal.derived(key) {
            return KeyValues::One(v);
        }
        match self.keys.map.get(key) {
            Some(values) if !values.is_empty() => KeyValues::Many(values),
            _ => KeyValues::Absent,
        }
    }
}

/// Substitution uses single-valued keys only: a multi-valued key as a variable is undefined.
impl VarLookup for RequestContext {
    fn lookup(&self, key: &str) -> Option<Cow<'_, str>> {
        match self.key_values(key) {
            KeyValues::One(v) => Some(Cow::Borrowed(v)),
            KeyValues::Many([v]) => Some(Cow::Borrowed(v.as_str())),
            KeyValues::Many(_) | KeyValues::Absent => None,
        }
    }
}

/// The values of one context key during evaluation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyValues<'a> {
    Absent,
    One(&'a str),
    Many(&'a [String]),
}

impl KeyValues<'_> {
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }

    pub(crate) fn any(&self, mut f: impl FnMut(&str) -> bool) -> bool {
        match self {
            Self::Absent => false,
            Self::One(v) => f(v),
            Self::Many(vs) => vs.iter().any(|v| f(v)),
        }
    }

    pub(crate) fn all(&self, mut f: impl FnMut(&str) -> bool) -> bool {
        match self {
            Self::Absent => true,
            Self::One(v) => f(v),
            Self::Many(vs) => vs.iter().all(|v| f(v)),
        }
    }
}
