//! Agents: join tokens, enrollment, the certificates issued to them, and revocation.

use time::OffsetDateTime;

use crate::db;
use crate::open::bump_revision;
use crate::{from_ms, to_ms, StoreError, Tx};

/// A stored join token (the secret itself is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinTokenRow {
    /// The token's public id.
    pub token_id: String,
    /// SHA-256 of the token, hex.
    pub hash_hex: String,
    /// Account, VPC and zone the token grants.
    pub account: String,
    /// The VPC.
    pub vpc: String,
    /// The zone.
    pub zone: String,
    /// Expiry.
    pub expires: OffsetDateTime,
    /// When it was used, if it was.
    pub used: Option<OffsetDateTime>,
}

/// Inserts a join token.
pub async fn insert_join_token(tx: &mut Tx, t: &JoinTokenRow) -> Result<(), StoreError> {
    db::query("INSERT INTO join_tokens (token_id, hash, account_id, vpc_id, zone, expires_ms) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&t.token_id)
        .bind(&t.hash_hex)
        .bind(&t.account)
        .bind(&t.vpc)
        .bind(&t.zone)
        .bind(to_ms(t.expires))
        .execute(tx)?;
    Ok(())
}

/// The join token `id`, if it exists.
pub async fn get_join_token(tx: &mut Tx, id: &str) -> Result<Option<JoinTokenRow>, StoreError> {
    let Some(r) = db::query("SELECT * FROM join_tokens WHERE token_id = ?")
        .bind(id)
        .fetch_optional(tx)?
    else {
        return Ok(None);
    };
    let used: Option<i64> = r.try_get("used_ms")?;
    Ok(Some(JoinTokenRow {
        token_id: r.try_get("token_id")?,
        hash_hex: r.try_get("hash")?,
        account: r.try_get("account_id")?,
        vpc: r.try_get("vpc_id")?,
        zone: r.try_get("zone")?,
        expires: from_ms(r.try_get("expires_ms")?),
        used: used.map(from_ms),
    }))
}

/// Marks a token used; `false` if someone else used it first (single use under races).
pub async fn consume_join_token(
    tx: &mut Tx,
    id: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let n = db::query("UPDATE join_tokens SET used_ms = ? WHERE token_id = ? AND used_ms IS NULL")
        .bind(to_ms(now))
        .bind(id)
        .execute(tx)?
        .rows_affected();
    Ok(n == 1)
}

/// An enrolled agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    /// `agent-…`.
    pub agent_id: String,
    /// Its account.
    pub account: String,
    /// Its VPC.
    pub vpc: String,
    /// Its zone.
    pub zone: String,
    /// The enrollment CSR (DER): the key every identity of this agent is issued for.
    pub csr_der: Vec<u8>,
    /// The serial of its agent certificate.
    pub cert_serial: String,
    /// Enrollment time.
    pub enrolled: OffsetDateTime,
    /// Last time it synced.
    pub last_seen: Option<OffsetDateTime>,
    /// Revoked agents get nothing.
    pub revoked: bool,
}

/// Inserts an agent.
pub async fn insert_agent(tx: &mut Tx, a: &AgentRow) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO agents (agent_id, account_id, vpc_id, zone, public_key, csr_der, cert_serial, enrolled_ms) VALUES (?, ?, ?, ?, x'', ?, ?, ?)",
    )
    .bind(&a.agent_id)
    .bind(&a.account)
    .bind(&a.vpc)
    .bind(&a.zone)
    .bind(&a.csr_der)
    .bind(&a.cert_serial)
    .bind(to_ms(a.enrolled))
    .execute(tx)?;
    Ok(())
}

fn agent_row(r: &crate::db::Row) -> Result<AgentRow, StoreError> {
    let seen: Option<i64> = r.try_get("last_seen_ms")?;
    Ok(AgentRow {
        agent_id: r.try_get("agent_id")?,
        account: r.try_get("account_id")?,
        vpc: r.try_get("vpc_id")?,
        zone: r.try_get("zone")?,
        csr_der: r
            .try_get::<Option<Vec<u8>>, _>("csr_der")?
            .unwrap_or_default(),
        cert_serial: r.try_get("cert_serial")?,
        enrolled: from_ms(r.try_get("enrolled_ms")?),
        last_seen: seen.map(from_ms),
        revoked: r.try_get("revoked")?,
    })
}

/// The agent `id`, if enrolled.
pub async fn get_agent(tx: &mut Tx, id: &str) -> Result<Option<AgentRow>, StoreError> {
    let r = db::query("SELECT * FROM agents WHERE agent_id = ?")
        .bind(id)
        .fetch_optional(tx)?;
    r.as_ref().map(agent_row).transpose()
}

/// Agents of an account (or all).
pub async fn list_agents(tx: &mut Tx, account: Option<&str>) -> Result<Vec<AgentRow>, StoreError> {
    let rows = db::query(
        "SELECT * FROM agents WHERE (?1 IS NULL OR account_id = ?1) ORDER BY enrolled_ms, agent_id",
    )
    .bind(account)
    .fetch_all(tx)?;
    rows.iter().map(agent_row).collect()
}

/// Records that an agent synced.
pub async fn touch_agent(
    store: &crate::Store,
    id: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    // A write of its own, grouped with the actions' commits like any other.
    let mut tx = store.begin().await?;
    db::query("UPDATE agents SET last_seen_ms = ? WHERE agent_id = ?")
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut tx)?;
    tx.commit().await?;
    Ok(())
}

/// A certificate issued to an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRow {
    /// Serial (32 hex digits).
    pub serial: String,
    /// The agent holding the key.
    pub agent_id: String,
    /// The SPIFFE id.
    pub identity: String,
    /// The certificate.
    pub cert_pem: String,
    /// Validity start.
    pub not_before: OffsetDateTime,
    /// Validity end.
    pub not_after: OffsetDateTime,
}

/// Records an issued certificate.
pub async fn insert_issued(tx: &mut Tx, c: &IssuedRow) -> Result<(), StoreError> {
    db::query("INSERT INTO issued_certs (serial, agent_id, identity, cert_pem, not_before_ms, not_after_ms) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&c.serial)
        .bind(&c.agent_id)
        .bind(&c.identity)
        .bind(&c.cert_pem)
        .bind(to_ms(c.not_before))
        .bind(to_ms(c.not_after))
        .execute(tx)?;
    Ok(())
}

/// The newest unrevoked certificate of `identity` held by `agent`, if any.
pub async fn latest_issued(
    tx: &mut Tx,
    agent: &str,
    identity: &str,
) -> Result<Option<IssuedRow>, StoreError> {
    let r = db::query(
        "SELECT * FROM issued_certs WHERE agent_id = ? AND identity = ? AND serial NOT IN (SELECT serial FROM revoked_certs) ORDER BY not_after_ms DESC LIMIT 1",
    )
    .bind(agent)
    .bind(identity)
    .fetch_optional(tx)?;
    r.map(|r| {
        Ok(IssuedRow {
            serial: r.try_get("serial")?,
            agent_id: r.try_get("agent_id")?,
            identity: r.try_get("identity")?,
            cert_pem: r.try_get("cert_pem")?,
            not_before: from_ms(r.try_get("not_before_ms")?),
            not_after: from_ms(r.try_get("not_after_ms")?),
        })
    })
    .transpose()
}

/// Revokes an agent and every certificate issued to it.
pub async fn revoke_agent(
    tx: &mut Tx,
    id: &str,
    reason: &str,
    now: OffsetDateTime,
) -> Result<usize, StoreError> {
    let n = db::query("UPDATE agents SET revoked = 1 WHERE agent_id = ?")
        .bind(id)
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound {
            kind: "agent",
            id: id.to_owned(),
        });
    }
    let serials: Vec<String> = db::query_scalar(
        "SELECT serial FROM issued_certs WHERE agent_id = ?1 UNION SELECT cert_serial FROM agents WHERE agent_id = ?1",
    )
    .bind(id)
    .fetch_all(tx)?;
    for s in &serials {
        db::query(
            "INSERT OR IGNORE INTO revoked_certs (serial, revoked_ms, reason) VALUES (?, ?, ?)",
        )
        .bind(s)
        .bind(to_ms(now))
        .bind(reason)
        .execute(tx)?;
    }
    bump_revision(tx).await?;
    Ok(serials.len())
}

/// Every revoked serial.
pub async fn revoked_serials(tx: &mut Tx) -> Result<Vec<String>, StoreError> {
    db::query_scalar("SELECT serial FROM revoked_certs ORDER BY serial").fetch_all(tx)
}

/// Replaces what one agent reports about target health.
pub async fn put_target_health(
    tx: &mut Tx,
    agent: &str,
    reports: &[(String, String, u16, String, Option<String>)],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("DELETE FROM target_health WHERE agent_id = ?")
        .bind(agent)
        .execute(tx)?;
    for (tg, ip, port, state, reason) in reports {
        db::query(
            "INSERT OR REPLACE INTO target_health (target_group_arn, ip, port, agent_id, state, reason, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tg)
        .bind(ip)
        .bind(i64::from(*port))
        .bind(agent)
        .bind(state)
        .bind(reason)
        .bind(to_ms(now))
        .execute(tx)?;
    }
    Ok(())
}

/// The current revision, read inside a transaction.
pub async fn revision_in(tx: &mut Tx) -> Result<i64, StoreError> {
    db::query_scalar("SELECT value FROM revision WHERE singleton = 1").fetch_one(tx)
}

/// Records an agent's renewed certificate (the old serial stops being accepted for sync).
pub async fn set_agent_cert(tx: &mut Tx, id: &str, serial: &str) -> Result<(), StoreError> {
    db::query("UPDATE agents SET cert_serial = ? WHERE agent_id = ? AND revoked = 0")
        .bind(serial)
        .bind(id)
        .execute(tx)?;
    Ok(())
}
