//! The policy AST. Values are only made by [`Policy::parse`], so every `Policy` is complete and
//! valid: fields are private and read through accessors.

use std::fmt;

use super::arn_match::ArnPattern;
use super::condition::Condition;
use super::glob::Glob;

/// Which kind of policy a document is; decides required and forbidden elements and size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Attached to a user, group or role (also used for permissions boundaries). No `Principal`.
    Identity,
    /// Attached to a resource. `Principal` required.
    Resource,
    /// A role's trust policy (who may assume it). `Principal` required, `Resource` forbidden.
    Trust,
    /// A VPC endpoint policy. `Principal` required.
    Endpoint,
    /// A session policy passed to AssumeRole. No `Principal`.
    Session,
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Identity => "identity",
            Self::Resource => "resource",
            Self::Trust => "trust",
            Self::Endpoint => "endpoint",
            Self::Session => "session",
        })
    }
}

/// The policy language version (`Version` element).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2012-10-17`: the current version; policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17`: the old version; `${...}` is literal text.
    V2008_10_17,
}

impl Version {
    /// The version string as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2012_10_17 => "2012-10-17",
            Self::V2008_10_17 => "2008-10-17",
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Grants, subject to every other policy that applies.
    Allow,
    /// Refuses, whatever any other policy says.
    Deny,
}

impl Effect {
    /// `"Allow"` or `"Deny"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
        }
    }
}

/// A parsed, validated policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) kind: PolicyKind,
    pub(crate) version: Version,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
}

impl Policy {
    /// The kind the document was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Version` element.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The optional `Id` element.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements in document order (a single statement object counts as `Statement[0]`).
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) principal: Option<PrincipalClause>,
    pub(crate) action: ActionClause,
    pub(crate) resource: Option<ResourceClause>,
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    /// The optional `Sid`.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// `Allow` or `Deny`.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// `Principal` or `NotPrincipal`, if present.
    pub fn principal(&self) -> Option<&PrincipalClause> {
        self.principal.as_ref()
    }

    /// `Action` or `NotAction`.
    pub fn action(&self) -> &ActionClause {
        &self.action
    }

    /// `Resource` or `NotResource`; absent only in trust policies.
    pub fn resource(&self) -> Option<&ResourceClause> {
        self.resource.as_ref()
    }

    /// The `Condition` block flattened to one entry per (operator, key); all must hold.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

/// One entry of a `Principal` / `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    Any,
    /// `{"AWS": "123456789012"}` or `{"AWS": "arn:aws:iam::123456789012:root"}`: the account.
    Account(String),
    /// `{"AWS": "arn:…"}` naming a user, role, assumed-role session or federated user.
    Arn(String),
    /// `{"Service": "ec2.amazonaws.com"}`.
    Service(String),
    /// `{"Federated": "…"}`: an identity provider (web identity or SAML).
    Federated(String),
    /// `{"CanonicalUser": "…"}`: an S3 canonical user id.
    CanonicalUser(String),
}

/// A `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalClause {
    pub(crate) negated: bool,
    pub(crate) entries: Vec<PrincipalEntry>,
}

impl PrincipalClause {
    /// True for `NotPrincipal`.
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// The listed principals.
    pub fn entries(&self) -> &[PrincipalEntry] {
        &self.entries
    }
}

/// One action pattern such as `ec2:*VpcEndpoint*`; matched without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPattern {
    pub(crate) source: String,
    pub(crate) glob: Glob,
}

impl ActionPattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// An `Action` or `NotAction` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionClause {
    pub(crate) negated: bool,
    pub(crate) patterns: Vec<ActionPattern>,
}

impl ActionClause {
    /// True for `NotAction`.
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// The listed patterns.
    pub fn patterns(&self) -> &[ActionPattern] {
        &self.patterns
    }
}

/// One resource pattern: `*` or an ARN pattern, possibly with policy variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePattern {
    pub(crate) source: String,
    pub(crate) pattern: ArnPattern,
}

impl ResourcePattern {
    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// A `Resource` or `NotResource` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceClause {
    pub(crate) negated: bool,
    pub(crate) patterns: Vec<ResourcePattern>,
}

impl ResourceClause {
    /// True for `NotResource`.
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// The listed patterns.
    pub fn patterns(&self) -> &[ResourcePattern] {
        &self.patterns
    }
}
