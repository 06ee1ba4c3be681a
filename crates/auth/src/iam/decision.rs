//! The result of an evaluation, with the statements that decided it and why.

use std::fmt;

use super::policy::Effect;

/// The role a policy plays in an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicySource {
    /// An identity-based policy of the principal.
    Identity,
    /// The resource's resource-based policy.
    Resource,
    /// The principal's permissions boundary.
    PermissionsBoundary,
    /// The session policy of a role session.
    Session,
    /// The VPC endpoint policy the request passes through.
    Endpoint,
    /// A role trust policy (the resource-based policy for `sts:AssumeRole*`).
    Trust,
}

impl fmt::Display for PolicySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Identity => "identity policy",
            Self::Resource => "resource policy",
            Self::PermissionsBoundary => "permissions boundary",
            Self::Session => "session policy",
            Self::Endpoint => "endpoint policy",
            Self::Trust => "trust policy",
        })
    }
}

/// Names one statement of one policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatementRef {
    /// The role of the policy in this evaluation.
    pub source: PolicySource,
    /// The policy's name (as given in [`super::NamedPolicy`]).
    pub policy: String,
    /// Index of the statement in the policy (`Statement[index]`).
    pub index: usize,
    /// The statement's `Sid`, if any.
    pub sid: Option<String>,
    /// The statement's effect.
    pub effect: Effect,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sid {
            Some(sid) => write!(f, "statement {sid:?} (Statement[{}])", self.index)?,
            None => write!(f, "Statement[{}]", self.index)?,
        }
        write!(f, " of {} {:?}", self.source, self.policy)
    }
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The request is allowed.
    Allow,
    /// A `Deny` statement applies; nothing can override it.
    ExplicitDeny,
    /// Nothing allows the request (the default).
    ImplicitDeny,
}

/// Why the evaluation came out as it did.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Every policy that had to allow the request did.
    Allowed {
        /// The principal is an account's root user, which holds every identity permission.
        root_user: bool,
    },
    /// At least one `Deny` statement applies.
    ExplicitDeny,
    /// No identity-based or resource-based statement allows the request.
    NoAllow,
    /// Cross-account: the resource policy allows, but no identity policy of the principal does.
    CrossAccountNeedsIdentityAllow {
        /// The principal's account.
        principal_account: String,
        /// The account that owns the resource.
        resource_account: String,
    },
    /// Cross-account: the principal's identity policies allow, but the resource policy does not
    /// (or the resource has none).
    CrossAccountNeedsResourceAllow {
        /// The principal's account.
        principal_account: String,
        /// The account that owns the resource.
        resource_account: String,
    },
    /// The resource policy grants only to the principal's account, which delegates the decision
    /// to the account's identity policies, and none of them allows the request.
    AccountGrantNeedsIdentityAllow {
        /// The account named in the resource policy.
        account: String,
    },
    /// A policy that must also allow (permissions boundary, session, endpoint, trust) does not.
    NotAllowedBy {
        /// The role of the policy.
        source: PolicySource,
        /// The policy's name.
        policy: String,
    },
}

/// The decision on a request, and the statements that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow, explicit deny or implicit deny.
    pub outcome: Outcome,
    /// Why.
    pub reason: Reason,
    /// For an explicit deny, every applicable `Deny` statement; otherwise every applicable
    /// `Allow` statement (for an implicit deny, those that were not enough). In policy order:
    /// identity, resource, boundary, session, endpoint.
    pub statements: Vec<StatementRef>,
}

impl Decision {
    /// True only for [`Outcome::Allow`].
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    /// The first deciding statement, if any.
    pub fn statement(&self) -> Option<&StatementRef> {
        self.statements.first()
    }
}

fn list(f: &mut fmt::Formatter<'_>, statements: &[StatementRef]) -> fmt::Result {
    for (i, st) in statements.iter().enumerate() {
        match i {
            0 => {}
            _ if i + 1 == statements.len() => f.write_str(" and ")?,
            _ => f.write_str(", ")?,
        }
        write!(f, "{st}")?;
    }
    Ok(())
}

/// One sentence that names the deciding statements, e.g. `explicitly denied by statement
/// "DenyDeletes" (Statement[1]) of endpoint policy "default"`.
impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Reason::ExplicitDeny => {
                f.write_str("explicitly denied by ")?;
                list(f, &self.statements)
            }
            Reason::Allowed { root_user } => {
                f.write_str("allowed")?;
                if *root_user {
                    f.write_str(" as the account's root user")?;
                }
                if !self.statements.is_empty() {
                    f.write_str(" by ")?;
                    list(f, &self.statements)?;
                }
                Ok(())
            }
            Reason::NoAllow => f.write_str(
                "implicitly denied: no statement in the identity-based or resource-based policies allows the request",
            ),
            Reason::CrossAccountNeedsIdentityAllow {
                principal_account,
                resource_account,
            } => {
                write!(
                    f,
                    "implicitly denied: cross-account request (principal in {principal_account}, \
                     resource owned by {resource_account}) is allowed by "
                )?;
                list(f, &self.statements)?;
                f.write_str(" but by no identity-based policy of the principal; both must allow")
            }
            Reason::CrossAccountNeedsResourceAllow {
                principal_account,
                resource_account,
            } => {
                write!(
                    f,
                    "implicitly denied: cross-account request (principal in {principal_account}, \
                     resource owned by {resource_account}) needs an Allow in the resource's policy \
                     as well as in the principal's identity-based policies, and the resource's \
                     policy has none"
                )
            }
            Reason::AccountGrantNeedsIdentityAllow { account } => {
                f.write_str("implicitly denied: ")?;
                list(f, &self.statements)?;
                write!(
                    f,
                    " grants to account {account} as a whole, which leaves the decision to the \
                     account's identity-based policies, and none of them allows the request"
                )
            }
            Reason::NotAllowedBy { source, policy } => {
                write!(f, "implicitly denied: {source} {policy:?} has no statement that allows the request")
            }
        }
    }
}
