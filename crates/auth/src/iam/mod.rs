//! IAM policy documents: parsing, validation and evaluation with AWS's logic.
//!
//! - [`Policy::parse`] turns text into a validated AST or a [`PolicyError`] naming the problem
//!   and where it is; a refused document is never evaluated.
//! - [`evaluate`] decides a [`RequestContext`] against a [`PolicySet`] (identity, resource,
//!   permissions boundary, session and endpoint policies) and returns a [`Decision`] that names
//!   the statements behind it. [`evaluate_trust`] decides a role trust policy.
//! - [`Policy`]'s `Display` (and [`Policy::to_json`]) writes compact JSON that parses back to
//!   an equal policy.
//! - Matching: actions without regard to case; resources case-sensitively, one ARN component at a
//!   time; `*`/`?` globs in linear-ish time ([`Glob`]); policy variables substituted as literal
//!   text (2012-10-17 only).
//!
//! Pure: no I/O and no clock. Time-dependent conditions read `aws:CurrentTime` /
//! `aws:EpochTime` from the context, which the caller sets.

mod arn_match;
mod condition;
mod context;
mod decision;
mod error;
mod evaluate;
mod glob;
mod json;
mod parse;
mod policy;
mod principal;
mod serialize;
mod values;
mod variables;

pub use condition::{BaseOperator, Condition, Operator, SetQualifier};
pub use context::{ContextKeys, PrincipalContext, PrincipalKind, RequestContext};
pub use decision::{Decision, Outcome, PolicySource, Reason, StatementRef};
pub use error::PolicyError;
pub use evaluate::{
    evaluate, evaluate_trust, NamedPolicy, PolicySet, ResourcePolicy, TRUST_POLICY_NAME,
};
pub use glob::Glob;
pub use parse::MAX_POLICY_BYTES;
pub use policy::{
    ActionClause, ActionPattern, Effect, Policy, PolicyKind, PrincipalClause, PrincipalEntry,
    ResourceClause, ResourcePattern, Statement, Version,
};
