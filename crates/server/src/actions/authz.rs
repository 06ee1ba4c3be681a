//! The per-action context: one transaction, and IAM authorization through the auth crate.

use time::format_description::well_known::Rfc3339;
use underpass_auth::iam::{
    evaluate, NamedPolicy, Outcome, PolicyKind, PolicySet, PrincipalContext, PrincipalKind,
    RequestContext, ResourcePolicy,
};
use underpass_domain::PrincipalArn;
use underpass_store::{iam as iam_store, Tx};

use super::Meta;
use crate::api::{ApiError, CallerInfo};
use crate::state::AppState;

/// One action's world: the caller, the transaction, the request facts.
pub(crate) struct Ctx<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) caller: &'a CallerInfo,
    pub(crate) tx: Tx,
    pub(crate) meta: Meta,
    writes: bool,
    identity: Option<std::sync::Arc<[NamedPolicy]>>,
}

impl<'a> Ctx<'a> {
    /// A context for an action that changes state (write lock taken now).
    pub(crate) async fn write(
        state: &'a AppState,
        caller: &'a CallerInfo,
        meta: Meta,
    ) -> Result<Self, ApiError> {
        // Writers take turns from here to the commit (see `Store::begin`).
        let tx = state.store.begin().await?;
        Ok(Self {
            state,
            caller,
            tx,
            meta,
            writes: true,
            identity: None,
        })
    }

    /// A context for a read-only action (a consistent snapshot, no write lock).
    pub(crate) async fn read(
        state: &'a AppState,
        caller: &'a CallerInfo,
        meta: Meta,
    ) -> Result<Self, ApiError> {
        let tx = state.store.read().await?;
        Ok(Self {
            state,
            caller,
            tx,
            meta,
            writes: false,
            identity: None,
        })
    }

    /// Turns a read action into a write one: the read snapshot ends and the write lock is
    /// taken now. For actions that must not hold the write lock across a slow outside call
    /// (a DNS lookup): read, call out, then upgrade and re-read what they change.
    pub(crate) async fn upgrade_to_write(&mut self) -> Result<(), ApiError> {
        // The snapshot is held while waiting for the turn (WAL readers block no writer); only
        // the rare actions that call out upgrade, so they cannot use up the pool.
        let tx = self.state.store.begin().await?;
        let read = std::mem::replace(&mut self.tx, tx);
        read.rollback().await?;
        self.writes = true;
        Ok(())
    }

    /// Commits (write actions) and tells agents about the new revision.
    pub(crate) async fn finish(mut self) -> Result<(), ApiError> {
        let state = self.state;
        if !self.writes {
            self.tx.commit().await?;
            return Ok(());
        }
        // Read inside the write, a statement each on the batch's connection, rather than a read
        // of its own each after the commit on a pooled connection, whose page cache the commit
        // has just made stale (two of them per write call, about 3% of CreateVpcEndpoint's CPU).
        let revision = underpass_store::revision_in(&mut self.tx).await?;
        let iam_generation = iam_store::generation(&mut self.tx).await?;
        self.tx.commit().await?;
        state.iam_cache.note_commit(iam_generation);
        state.publish_revision(revision);
        Ok(())
    }

    /// The region the request acts in: its credential scope's (the verifier admits only the
    /// regions served, but for the global services IAM and STS).
    pub(crate) fn region(&self) -> &str {
        &self.caller.region
    }

    /// The zones of the request's region.
    pub(crate) fn zones(&self) -> &[String] {
        self.state.cfg.zones(self.region())
    }

    /// `arn:aws:<service>:<region>:<caller account>:<resource>`.
    pub(crate) fn arn(&self, service: &str, resource: &str) -> String {
        let region = if service == "iam" { "" } else { self.region() };
        format!(
            "arn:aws:{service}:{region}:{}:{resource}",
            self.caller.account
        )
    }

    /// The principal in evaluation form.
    fn principal_context(&self) -> PrincipalContext {
        let c = self.caller;
        let kind = match &c.principal {
            PrincipalArn::Root { .. } => PrincipalKind::Root,
            PrincipalArn::User { name, .. } => PrincipalKind::User { name: name.clone() },
            PrincipalArn::AssumedRole { session_name, .. } => PrincipalKind::AssumedRole {
                role_arn: c.role_arn.clone().unwrap_or_default(),
                session_name: session_name.clone(),
            },
            PrincipalArn::Role { .. } => PrincipalKind::Anonymous,
        };
        let mut p = PrincipalContext::root(&c.account);
        p.arn = c.arn.clone();
        p.kind = kind;
        p.userid = c.userid.clone();
        p
    }

    /// The request context for `action` on `resource`, with the global condition keys.
    pub(crate) fn request_context(&self, action: &str, resource: &str) -> RequestContext {
        let now = self.meta.now;
        let mut ctx = RequestContext::new(self.principal_context(), action, resource)
            .with_key("aws:SourceIp", &self.meta.source_ip.to_string())
            .with_key("aws:CurrentTime", &now.format(&Rfc3339).unwrap_or_default())
            .with_key("aws:EpochTime", &now.unix_timestamp().to_string())
            .with_key("aws:SecureTransport", "false")
            .with_key("aws:RequestedRegion", self.region())
            .with_key("aws:PrincipalAccount", &self.caller.account)
            .with_key(
                "aws:PrincipalArn",
                self.caller.role_arn.as_deref().unwrap_or(&self.caller.arn),
            );
        if let Some(uid) = &self.caller.userid {
            ctx = ctx.with_key("aws:userid", uid);
        }
        if let PrincipalArn::User { name, .. } = &self.caller.principal {
            ctx = ctx.with_key("aws:username", name);
        }
        ctx
    }

    /// The caller's identity policies: a user's inline policies and the default versions of
    /// the managed policies attached to it, or its role's for a session. Remembered across
    /// requests while IAM is unchanged (see `iam_cache`).
    async fn identity_policies(&mut self) -> Result<std::sync::Arc<[NamedPolicy]>, ApiError> {
        if let Some(p) = &self.identity {
            return Ok(std::sync::Arc::clone(p));
        }
        let owner = self
            .caller
            .role_arn
            .clone()
            .unwrap_or_else(|| self.caller.arn.clone());
        let cache = &self.state.iam_cache;
        let current = cache.generation(&self.state.store).await?;
        let parsed = match cache.policies(&owner, current) {
            Some(p) => p,
            None => {
                // Stamped with this transaction's own generation: what it reads is of that one.
                let gen = iam_store::generation(&mut self.tx).await?;
                let mut docs = iam_store::policies_of(&mut self.tx, &owner).await?;
                // Named by their ARN, so a decision's explanation says which policy decided.
                docs.extend(
                    underpass_store::policies::attached_documents(&mut self.tx, &owner).await?,
                );
                let mut parsed = Vec::with_capacity(docs.len());
                for (name, doc) in docs {
                    // Policies were validated when written; one that no longer parses is a bug.
                    parsed.push(
                        NamedPolicy::parse(name, &doc, PolicyKind::Identity)
                            .map_err(ApiError::internal)?,
                    );
                }
                let parsed: std::sync::Arc<[NamedPolicy]> = parsed.into();
                // Only a read snapshot is committed state: a write transaction may have moved
                // the generation itself and still roll back, leaving its number to another
                // change.
                if !self.writes {
                    cache.put_policies(&owner, gen, std::sync::Arc::clone(&parsed));
                }
                parsed
            }
        };
        self.identity = Some(std::sync::Arc::clone(&parsed));
        Ok(parsed)
    }

    /// Authorizes `action` (e.g. `ec2:CreateVpc`) on `resource` (an ARN or `*`), or fails with
    /// `UnauthorizedOperation` naming the decision.
    pub(crate) async fn authorize(&mut self, action: &str, resource: &str) -> Result<(), ApiError> {
        self.authorize_with(action, resource, None).await
    }

    /// As [`Ctx::authorize`], with a resource-based policy owned by `owner`.
    pub(crate) async fn authorize_with(
        &mut self,
        action: &str,
        resource: &str,
        resource_policy: Option<(&NamedPolicy, &str)>,
    ) -> Result<(), ApiError> {
        let rctx = self.request_context(action, resource);
        // The account root may do anything to its own account's resources, as in AWS, unless a
        // resource policy denies it explicitly.
        let resource_account = resource.split(':').nth(4).unwrap_or("");
        let own_root = matches!(self.caller.principal, PrincipalArn::Root { .. })
            && (resource_account == self.caller.account || resource_account.is_empty());
        if own_root && resource_policy.is_none() {
            return self.authorized();
        }
        let identity = self.identity_policies().await?;
        let set = PolicySet {
            identity: &identity,
            resource: resource_policy.map(|(policy, owner_account)| ResourcePolicy {
                policy,
                owner_account,
            }),
            ..PolicySet::default()
        };
        let decision = evaluate(&rctx, &set);
        if decision.is_allowed() || (own_root && decision.outcome != Outcome::ExplicitDeny) {
            return self.authorized();
        }
        Err(ApiError::unauthorized(format!(
            "You are not authorized to perform this operation. User: {} is not authorized to perform: {action} on resource: {resource} because {decision}",
            self.caller.arn
        )))
    }

    /// After a successful authorization: go on, or stop a dry run with `DryRunOperation`.
    fn authorized(&self) -> Result<(), ApiError> {
        if self.meta.dry_run {
            Err(ApiError::dry_run())
        } else {
            Ok(())
        }
    }

    /// The bits of a new resource's id (`VpcId::from_bits` and the like): in creation order,
    /// so that the store's indexes grow at one end (see `IdClock`).
    pub(crate) fn new_id(&self) -> Result<u128, ApiError> {
        let ms = self.meta.now.unix_timestamp_nanos() / 1_000_000;
        Ok(self
            .state
            .ids
            .next(u64::try_from(ms).unwrap_or(0), self.random()?))
    }

    /// Fresh random bits (tokens, names; ids come from [`Ctx::new_id`]).
    pub(crate) fn random(&self) -> Result<u128, ApiError> {
        let mut b = [0u8; 16];
        aws_lc_rs::rand::fill(&mut b)
            .map_err(|_| ApiError::internal("system random generator failed"))?;
        Ok(u128::from_le_bytes(b))
    }
}

/// Whether the caller is the install's administrator (the root of the admin account).
pub(crate) fn is_admin(ctx: &Ctx<'_>) -> bool {
    matches!(ctx.caller.principal, PrincipalArn::Root { .. })
        && ctx.caller.account == ctx.state.cfg.admin_account
}

/// Parses an identity policy document for storage.
pub(crate) fn check_identity_policy(doc: &str) -> Result<(), ApiError> {
    underpass_auth::iam::Policy::parse(doc, PolicyKind::Identity)?;
    Ok(())
}
