//! AWS's policy evaluation logic, for one request against the policies that apply to it.
//!
//! 1. An applicable `Deny` in any policy (identity, resource, permissions boundary, session,
//!    endpoint) decides: explicit deny.
//! 2. Identity and resource policies grant:
//!    - same account: an `Allow` in an identity policy *or* in the resource policy suffices;
//!      but a resource-policy `Allow` whose `Principal` names only the account (id or `…:root`)
//!      grants to the account, which delegates to its identity policies: it needs an identity
//!      `Allow` too;
//!    - cross account (the principal's account is not the resource owner): both an identity
//!      `Allow` and a resource `Allow` are needed;
//!    - principals without an account (anonymous, services, web identities) hold no identity
//!      policies: only a resource-policy `Allow` that names them (or `*`) grants;
//!    - an account's root user holds every identity permission.
//! 3. A permissions boundary, a session policy and an endpoint policy, each when present, must
//!    also allow (intersection). A missing endpoint policy is AWS's default full-access policy.
//! 4. Otherwise: implicit deny.
//!
//! Underpass is stricter than AWS in one place: AWS lets a same-account resource policy that
//! names a user or session ARN grant past an implicit deny in a boundary or session policy;
//! here boundaries and session policies always intersect.

use super::arn_match::{split_arn, PatternMatch};
use super::context::{PrincipalKind, RequestContext};
use super::decision::{Decision, Outcome, PolicySource, Reason, StatementRef};
use super::error::PolicyError;
use super::glob::fold_case;
use super::policy::{Effect, Policy, PolicyKind, Statement};
use super::principal::{exempt_from_not_principal, match_principal, PrincipalMatch};

/// A policy with the name it is known by (shown in decisions).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedPolicy {
    /// The policy's name, e.g. `AdministratorAccess` or `default`.
    pub name: String,
    /// The parsed policy.
    pub policy: Policy,
}

impl NamedPolicy {
    /// Names a parsed policy.
    pub fn new(name: impl Into<String>, policy: Policy) -> Self {
        Self {
            name: name.into(),
            policy,
        }
    }

    /// Parses `text` as a policy of `kind` and names it.
    pub fn parse(
        name: impl Into<String>,
        text: &str,
        kind: PolicyKind,
    ) -> Result<Self, PolicyError> {
        Ok(Self::new(name, Policy::parse(text, kind)?))
    }
}

/// A resource-based policy and the account that owns the resource.
#[derive(Debug, Clone, Copy)]
pub struct ResourcePolicy<'a> {
    /// The policy (a resource policy, or a trust policy for `sts:AssumeRole*`).
    pub policy: &'a NamedPolicy,
    /// The 12-digit account id that owns the resource.
    pub owner_account: &'a str,
}

/// Every policy that applies to one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicySet<'a> {
    /// The principal's identity-based policies (user, group and role policies).
    pub identity: &'a [NamedPolicy],
    /// The resource's policy and owner. The request is same-account when the principal's account
    /// is the owner named here and the account component of the resource ARN (when it has one);
    /// with neither (e.g. an S3 ARN and no resource policy, or `*`), it counts as same-account.
    pub resource: Option<ResourcePolicy<'a>>,
    /// The principal's permissions boundary.
    pub permissions_boundary: Option<&'a NamedPolicy>,
    /// The session policy of a role session.
    pub session: Option<&'a NamedPolicy>,
    /// The VPC endpoint policy the request passes through; `None` = full access.
    pub endpoint: Option<&'a NamedPolicy>,
}

/// Per-request values computed once for all statements.
struct Request<'a> {
    ctx: &'a RequestContext,
    action: String,
    resource: Option<[&'a str; 6]>,
    boundary_present: bool,
}

/// A policy and its name, borrowed.
#[derive(Clone, Copy)]
struct NamedPolicyRef<'a> {
    name: &'a str,
    policy: &'a Policy,
}

impl<'a> From<&'a NamedPolicy> for NamedPolicyRef<'a> {
    fn from(p: &'a NamedPolicy) -> Self {
        Self {
            name: &p.name,
            policy: &p.policy,
        }
    }
}

/// The statements of one policy that apply to the request, by index.
struct Scan<'p> {
    source: PolicySource,
    policy: NamedPolicyRef<'p>,
    denies: Vec<usize>,
    allows: Vec<(usize, PrincipalMatch)>,
}

impl<'p> Scan<'p> {
    fn new(policy: impl Into<NamedPolicyRef<'p>>, source: PolicySource, req: &Request<'_>) -> Self {
        let policy = policy.into();
        let mut scan = Self {
            source,
            policy,
            denies: Vec::new(),
            allows: Vec::new(),
        };
        for (index, st) in policy.policy.statements().iter().enumerate() {
            match (applies(st, source, req), st.effect) {
                (None, _) => {}
                (Some(_), Effect::Deny) => scan.denies.push(index),
                (Some(principal), Effect::Allow) => scan.allows.push((index, principal)),
            }
        }
        scan
    }

    fn statement(&self, index: usize) -> StatementRef {
        let st = self.policy.policy.statements().get(index);
        StatementRef {
            source: self.source,
            policy: self.policy.name.to_owned(),
            index,
            sid: st.and_then(|s| s.sid.clone()),
            effect: st.map_or(Effect::Allow, |s| s.effect),
        }
    }

    fn deny_refs(&self) -> impl Iterator<Item = StatementRef> + '_ {
        self.denies.iter().map(|&i| self.statement(i))
    }

    fn allow_refs(&self) -> impl Iterator<Item = StatementRef> + '_ {
        self.allows.iter().map(|&(i, _)| self.statement(i))
    }
}

/// Decides a request with AWS's evaluation logic; see the module documentation.
pub fn evaluate(ctx: &RequestContext, set: &PolicySet<'_>) -> Decision {
    let req = Request::new(ctx, set.permissions_boundary.is_some());
    let identity: Vec<Scan<'_>> = set
        .identity
        .iter()
        .map(|p| Scan::new(p, PolicySource::Identity, &req))
        .collect();
    let resource = set.resource.map(|r| {
        let source = match r.policy.policy.kind() {
            PolicyKind::Trust => PolicySource::Trust,
            _ => PolicySource::Resource,
        };
        Scan::new(r.policy, source, &req)
    });
    let gates: Vec<Scan<'_>> = [
        (PolicySource::PermissionsBoundary, set.permissions_boundary),
        (PolicySource::Session, set.session),
        (PolicySource::Endpoint, set.endpoint),
    ]
    .into_iter()
    .filter_map(|(source, p)| p.map(|p| Scan::new(p, source, &req)))
    .collect();
    let scans: Vec<&Scan<'_>> = identity.iter().chain(&resource).chain(&gates).collect();

    // 1. An applicable Deny anywhere decides.
    let denies: Vec<StatementRef> = scans.iter().flat_map(|s| s.deny_refs()).collect();
    if !denies.is_empty() {
        return Decision {
            outcome: Outcome::ExplicitDeny,
            reason: Reason::ExplicitDeny,
            statements: denies,
        };
    }
    let implicit = |reason: Reason, statements: Vec<StatementRef>| Decision {
        outcome: Outcome::ImplicitDeny,
        reason,
        statements,
    };
    let all_allows = || {
        scans
            .iter()
            .flat_map(|s| s.allow_refs())
            .collect::<Vec<_>>()
    };

    // 2. Identity and resource policies grant.
    let principal = &ctx.principal;
    let root_user = principal.kind == PrincipalKind::Root && principal.has_account();
    let identity_allows = identity.iter().any(|s| !s.allows.is_empty());
    let identity_ok = principal.has_account() && (root_user || identity_allows);
    let resource_allows = resource.as_ref().map_or(&[][..], |s| s.allows.as_slice());
    let resource_direct = resource_allows
        .iter()
        .any(|(_, m)| *m == PrincipalMatch::Direct);
    let resource_refs = || {
        resource
            .iter()
            .flat_map(Scan::allow_refs)
            .collect::<Vec<_>>()
    };
    // Same account only if every owner we know of (the ARN's account component, the resource
    // policy's owner) is the principal's account. If they disagree the request is treated as
    // cross-account, the stricter case: what cross-account evaluation allows, same-account does.
    let arn_account = req.resource.map(|arn| arn[4]).filter(|a| !a.is_empty());
    let foreign_owner = [arn_account, set.resource.map(|r| r.owner_account)]
        .into_iter()
        .flatten()
        .find(|o| *o != principal.account);

    if !principal.has_account() {
        // Anonymous callers, services and web identities hold no identity policies.
        if !resource_direct {
            return implicit(Reason::NoAllow, all_allows());
        }
    } else if let Some(owner) = foreign_owner {
        let principal_account = principal.account.clone();
        let resource_account = owner.to_owned();
        match (identity_ok, !resource_allows.is_empty()) {
            (true, true) => {}
            (false, false) => return implicit(Reason::NoAllow, all_allows()),
            (false, true) => {
                let reason = Reason::CrossAccountNeedsIdentityAllow {
                    principal_account,
                    resource_account,
                };
                return implicit(reason, resource_refs());
            }
            (true, false) => {
                let reason = Reason::CrossAccountNeedsResourceAllow {
                    principal_account,
                    resource_account,
                };
                let identity_refs = identity.iter().flat_map(Scan::allow_refs).collect();
                return implicit(reason, identity_refs);
            }
        }
    } else if !identity_ok && !resource_direct {
        if resource_allows.is_empty() {
            return implicit(Reason::NoAllow, all_allows());
        }
        let reason = Reason::AccountGrantNeedsIdentityAllow {
            account: principal.account.clone(),
        };
        return implicit(reason, resource_refs());
    }

    // 3. Boundary, session and endpoint policies must also allow.
    if let Some(gate) = gates.iter().find(|g| g.allows.is_empty()) {
        let reason = Reason::NotAllowedBy {
            source: gate.source,
            policy: gate.policy.name.to_owned(),
        };
        return implicit(reason, all_allows());
    }
    Decision {
        outcome: Outcome::Allow,
        reason: Reason::Allowed { root_user },
        statements: all_allows(),
    }
}

/// The name decisions give a trust policy passed to [`evaluate_trust`], after IAM's
/// `AssumeRolePolicyDocument`.
pub const TRUST_POLICY_NAME: &str = "AssumeRolePolicyDocument";

/// Decides the trust-policy half of `sts:AssumeRole*`: may `ctx.principal` assume the role?
/// `ctx.action` is the STS action (`sts:AssumeRole`, `sts:AssumeRoleWithWebIdentity`,
/// `sts:TagSession`, …). Only the trust policy is consulted: a trust `Allow` that names the
/// caller's account (rather than the caller) delegates to that account, and a cross-account
/// caller also needs its own identity policies to allow `sts:AssumeRole`; to decide both halves
/// at once, call [`evaluate`] with the trust policy as the resource policy.
pub fn evaluate_trust(trust: &Policy, ctx: &RequestContext) -> Decision {
    let trust = NamedPolicyRef {
        name: TRUST_POLICY_NAME,
        policy: trust,
    };
    let req = Request::new(ctx, false);
    let scan = Scan::new(trust, PolicySource::Trust, &req);
    let (outcome, reason, statements) = if !scan.denies.is_empty() {
        (
            Outcome::ExplicitDeny,
            Reason::ExplicitDeny,
            scan.deny_refs().collect(),
        )
    } else if scan.allows.is_empty() {
        let reason = Reason::NotAllowedBy {
            source: PolicySource::Trust,
            policy: TRUST_POLICY_NAME.to_owned(),
        };
        (Outcome::ImplicitDeny, reason, Vec::new())
    } else {
        let reason = Reason::Allowed { root_user: false };
        (Outcome::Allow, reason, scan.allow_refs().collect())
    };
    Decision {
        outcome,
        reason,
        statements,
    }
}

impl<'a> Request<'a> {
    fn new(ctx: &'a RequestContext, boundary_present: bool) -> Self {
        Self {
            ctx,
            action: fold_case(&ctx.action),
            resource: split_arn(&ctx.resource),
            boundary_present,
        }
    }
}

/// If the statement applies to the request, how its principal matched.
fn applies(st: &Statement, source: PolicySource, req: &Request<'_>) -> Option<PrincipalMatch> {
    let action = &st.action;
    let action_hit = action
        .patterns
        .iter()
        .any(|p| p.glob.matches_folded(&req.action));
    if action_hit == action.negated {
        return None;
    }
    if let Some(resource) = &st.resource {
        if !resource_applies(resource, req) {
            return None;
        }
    }
    let principal = match &st.principal {
        // Identity-style policies: the principal is whoever holds the policy.
        None => match source {
            PolicySource::Identity | PolicySource::PermissionsBoundary | PolicySource::Session => {
                PrincipalMatch::Direct
            }
            // A resource-style policy without Principal names nobody: its Allow grants nothing,
            // but its Deny (stricter) applies to everyone. Parsing never produces this; it only
            // happens when an identity policy is put in a resource slot.
            _ if st.effect == Effect::Deny => PrincipalMatch::Direct,
            _ => return None,
        },
        Some(clause) if clause.negated => {
            // AWS: a NotPrincipal Deny always applies to principals with a permissions boundary.
            if !req.boundary_present
                && exempt_from_not_principal(&clause.entries, &req.ctx.principal)
            {
                return None;
            }
            PrincipalMatch::Direct
        }
        Some(clause) => match match_principal(&clause.entries, &req.ctx.principal) {
            PrincipalMatch::No => return None,
            m => m,
        },
    };
    if !st.conditions.iter().all(|c| c.evaluate(req.ctx)) {
        return None;
    }
    Some(principal)
}

/// `Resource`: some pattern matches. `NotResource`: no pattern matches and every pattern could be
/// resolved (an undefined policy variable must not widen a statement).
fn resource_applies(clause: &super::policy::ResourceClause, req: &Request<'_>) -> bool {
    let mut unresolved = false;
    for p in &clause.patterns {
        match p.pattern.matches(req.resource.as_ref(), req.ctx) {
            PatternMatch::Match => return !clause.negated,
            PatternMatch::NoMatch => {}
            PatternMatch::Unresolved => unresolved = true,
        }
    }
    clause.negated && !unresolved
}
