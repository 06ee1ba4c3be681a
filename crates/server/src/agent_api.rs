//! The agents' side of the control plane.
//!
//! - `POST /agent/v1/enroll` on the API listener: a one-time join token and a CSR buy an agent
//!   certificate (the token is the credential; it is single-use under races).
//! - An mTLS listener (client certificate required, revocation checked on every handshake) with
//!   `GET /agent/v1/state?after=REV` (long-poll: answers when the revision passes `after`, or
//!   204 after a wait), `POST /agent/v1/health` (target health as the agent's gateways see it)
//!   and `POST /agent/v1/renew` (a fresh agent certificate for the enrolled key).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use time::OffsetDateTime;
use underpass_pki::{peer_identity, JoinScope, JoinToken, LeafSpec, SpiffeId, StoredJoinToken};
use underpass_proto::sync::HealthReport;
use underpass_store::agents::{self, AgentRow, IssuedRow};

use crate::api::ApiError;
use crate::state::AppState;

/// How long a state long-poll waits for a change before answering 204.
const LONG_POLL: Duration = Duration::from_secs(20);
/// How long a TLS handshake on the agent listener may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct EnrollRequest {
    join_token: String,
    csr_pem: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct EnrollResponse {
    agent_id: String,
    account: String,
    vpc_id: String,
    zone: String,
    cert_pem: String,
    ca_pems: Vec<String>,
    agent_api: String,
    server_identity: String,
    renew_at: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct RenewResponse {
    cert_pem: String,
    renew_at: String,
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        let hi = char::from(b[2 * i]).to_digit(16)?;
        let lo = char::from(b[2 * i + 1]).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

fn bad_token(detail: impl std::fmt::Display) -> ApiError {
    tracing::warn!(%detail, "enrollment refused");
    ApiError::client(
        "InvalidJoinToken",
        "The join token is invalid, expired or already used.",
    )
    .with_status(StatusCode::UNAUTHORIZED)
}

/// `POST /agent/v1/enroll`.
async fn enroll(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match enroll_inner(&state, &body).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn enroll_inner(state: &AppState, body: &[u8]) -> Result<EnrollResponse, ApiError> {
    let req: EnrollRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("invalid request: {e}")))?;
    let now = OffsetDateTime::now_utc();
    let token = JoinToken::parse(&req.join_token).map_err(bad_token)?;
    let mut tx = state.store.begin().await?;
    let row = agents::get_join_token(&mut tx, &token.id().to_string())
        .await?
        .ok_or_else(|| bad_token("unknown token id"))?;
    let scope = JoinScope {
        account: row.account.parse()?,
        vpc: row.vpc.parse()?,
        zone: row.zone.parse().map_err(ApiError::internal)?,
        role: underpass_pki::JoinRole::Agent,
    };
    let stored = StoredJoinToken {
        id: token.id(),
        hash: decode_hex32(&row.hash_hex)
            .ok_or_else(|| ApiError::internal("stored token hash is corrupt"))?,
        scope: scope.clone(),
        expires: row.expires,
        used: row.used.is_some(),
    };
    stored.check(&req.join_token, now).map_err(bad_token)?;
    // Single use: the conditional update lets exactly one racing enrollment through.
    if !agents::consume_join_token(&mut tx, &row.token_id, now).await? {
        return Err(bad_token("token already used"));
    }
    let agent_id = underpass_domain::AgentId::from_bits(random()?);
    let identity: SpiffeId = format!(
        "spiffe://{}/account/{}/vpc/{}/zone/{}/agent/{}",
        state.cfg.trust_domain, scope.account, scope.vpc, scope.zone, agent_id
    )
    .parse()
    .map_err(ApiError::internal)?;
    let csr = req.csr_pem.as_bytes();
    let cert = state
        .ca
        .issue_from_csr(
            csr,
            &LeafSpec::new(identity.clone()).with_lifetime(state.cfg.cert_lifetime),
            now,
        )
        .map_err(|e| ApiError::invalid(format!("the CSR was refused: {e}")))?;
    let csr_der = csr_der(&req.csr_pem)?;
    agents::insert_agent(
        &mut tx,
        &AgentRow {
            agent_id: agent_id.to_string(),
            account: scope.account.to_string(),
            vpc: scope.vpc.to_string(),
            zone: scope.zone.to_string(),
            csr_der,
            cert_serial: cert.serial.to_string(),
            enrolled: now,
            last_seen: None,
            revoked: false,
        },
    )
    .await?;
    agents::insert_issued(
        &mut tx,
        &IssuedRow {
            serial: cert.serial.to_string(),
            agent_id: agent_id.to_string(),
            identity: identity.to_string(),
            cert_pem: cert.cert_pem.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
        },
    )
    .await?;
    tx.commit().await?;
    state.iam_cache.note_write();
    tracing::info!(agent = %agent_id, %scope, "agent enrolled");
    let renew_at = rfc3339(cert.renew_at());
    Ok(EnrollResponse {
        renew_at,
        agent_id: agent_id.to_string(),
        account: scope.account.to_string(),
        vpc_id: scope.vpc.to_string(),
        zone: scope.zone.to_string(),
        cert_pem: cert.cert_pem,
        ca_pems: vec![state.ca.cert_pem().to_owned()],
        agent_api: state
            .agent_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        server_identity: format!("spiffe://{}/server", state.cfg.trust_domain),
    })
}

use crate::rfc3339;

/// `POST /agent/v1/renew`: a fresh agent certificate for the key the agent enrolled with.
async fn renew(
    State(state): State<Arc<AppState>>,
    Extension(AgentPeer(agent, serial)): Extension<AgentPeer>,
) -> Response {
    // A connection outlives its handshake: re-check the serial on every request.
    if state.revocations.is_revoked(serial) {
        return ApiError::client("AgentRevoked", "this agent's certificate has been revoked")
            .with_status(StatusCode::FORBIDDEN)
            .into_response();
    }
    match renew_inner(&state, &agent).await {
        Ok(r) => Json(r).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn renew_inner(state: &AppState, agent: &AgentRow) -> Result<RenewResponse, ApiError> {
    let now = OffsetDateTime::now_utc();
    let identity: SpiffeId = format!(
        "spiffe://{}/account/{}/vpc/{}/zone/{}/agent/{}",
        state.cfg.trust_domain, agent.account, agent.vpc, agent.zone, agent.agent_id
    )
    .parse()
    .map_err(ApiError::internal)?;
    let mut tx = state.store.begin().await?;
    // Under the write lock: a revocation cannot land between this check and the issuance.
    if agents::get_agent(&mut tx, &agent.agent_id)
        .await?
        .is_none_or(|a| a.revoked)
    {
        return Err(
            ApiError::client("AgentRevoked", "this agent's certificate has been revoked")
                .with_status(StatusCode::FORBIDDEN),
        );
    }
    let cert = state
        .ca
        .issue_from_csr(
            &agent.csr_der,
            &LeafSpec::new(identity.clone()).with_lifetime(state.cfg.cert_lifetime),
            now,
        )
        .map_err(ApiError::internal)?;
    agents::insert_issued(
        &mut tx,
        &IssuedRow {
            serial: cert.serial.to_string(),
            agent_id: agent.agent_id.clone(),
            identity: identity.to_string(),
            cert_pem: cert.cert_pem.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
        },
    )
    .await?;
    agents::set_agent_cert(&mut tx, &agent.agent_id, &cert.serial.to_string()).await?;
    tx.commit().await?;
    state.iam_cache.note_write();
    tracing::info!(agent = %agent.agent_id, "agent certificate renewed");
    Ok(RenewResponse {
        renew_at: rfc3339(cert.renew_at()),
        cert_pem: cert.cert_pem,
    })
}

/// The DER inside a `CERTIFICATE REQUEST` PEM block.
fn csr_der(pem: &str) -> Result<Vec<u8>, ApiError> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| ApiError::invalid("CsrPem is not a PEM certificate request"))
}

fn random() -> Result<u128, ApiError> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b)
        .map_err(|_| ApiError::internal("system random generator failed"))?;
    Ok(u128::from_le_bytes(b))
}

/// The enrollment route, mounted on the API listener.
pub(crate) fn enroll_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/agent/v1/enroll", post(enroll))
        .with_state(state)
}

/// The authenticated agent behind an mTLS connection.
#[derive(Clone)]
struct AgentPeer(AgentRow, underpass_pki::Serial);

#[derive(serde::Deserialize)]
struct StateQuery {
    after: Option<i64>,
}

async fn get_state(
    State(state): State<Arc<AppState>>,
    Extension(AgentPeer(agent, serial)): Extension<AgentPeer>,
    Query(q): Query<StateQuery>,
) -> Response {
    // A connection outlives its handshake: re-check the serial on every request.
    if state.revocations.is_revoked(serial) {
        return ApiError::client("AgentRevoked", "this agent's certificate has been revoked")
            .with_status(StatusCode::FORBIDDEN)
            .into_response();
    }
    let after = q.after.unwrap_or(0);
    let mut rx = state.revision.subscribe();
    // The watch guard must not live across the awaits below (it is not Send).
    let changed = matches!(
        tokio::time::timeout(LONG_POLL, rx.wait_for(|rev| *rev > after)).await,
        Ok(Ok(_))
    );
    if !changed {
        return StatusCode::NO_CONTENT.into_response();
    }
    // The wait may have ended because this very agent was revoked (RevokeAgent fills the
    // revocation set before it commits and wakes the long-polls).
    if state.revocations.is_revoked(serial) {
        return ApiError::client("AgentRevoked", "this agent's certificate has been revoked")
            .with_status(StatusCode::FORBIDDEN)
            .into_response();
    }
    let now = OffsetDateTime::now_utc();
    if let Err(e) = agents::touch_agent(&state.store, &agent.agent_id, now).await {
        tracing::warn!(error = %e, "could not record agent sync");
    }
    match crate::desired::agent_state(&state, &agent, now).await {
        Ok(s) => Json(s).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn put_health(
    State(state): State<Arc<AppState>>,
    Extension(AgentPeer(agent, serial)): Extension<AgentPeer>,
    Json(report): Json<HealthReport>,
) -> Response {
    // A connection outlives its handshake: re-check the serial on every request.
    if state.revocations.is_revoked(serial) {
        return ApiError::client("AgentRevoked", "this agent's certificate has been revoked")
            .with_status(StatusCode::FORBIDDEN)
            .into_response();
    }
    let rows: Vec<_> = report
        .targets
        .into_iter()
        .take(10_000)
        .map(|t| {
            (
                t.target_group_arn,
                t.addr.ip().to_string(),
                t.addr.port(),
                t.state,
                t.reason,
            )
        })
        .collect();
    // Only well-formed flow-log ids and EC2's messages are kept: the report comes from an
    // authenticated agent, and is still bounded and checked like any input.
    let deliveries: Vec<(String, Option<String>)> = report
        .flow_logs
        .into_iter()
        .take(1_000)
        .filter_map(|d| {
            let id: underpass_domain::FlowLogId = d.flow_log_id.parse().ok()?;
            let error = d
                .error
                .map(|e| crate::actions::delivery_error(&e).to_owned());
            Some((id.to_string(), error))
        })
        .collect();
    let r = async {
        let mut tx = state.store.begin().await?;
        let now = OffsetDateTime::now_utc();
        agents::put_target_health(&mut tx, &agent.agent_id, &rows, now).await?;
        underpass_store::flow_logs::put_delivery(&mut tx, &agent.agent_id, &deliveries, now)
            .await?;
        tx.commit().await?;
        state.iam_cache.note_write();
        Ok::<_, underpass_store::StoreError>(())
    }
    .await;
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Serves the mTLS agent listener until `shutdown` flips.
pub(crate) async fn serve_agents(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let routes = Router::new()
        .route("/agent/v1/state", get(get_state))
        .route("/agent/v1/health", post(put_health))
        .route("/agent/v1/renew", post(renew))
        .with_state(state.clone());
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "agent listener accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let routes = routes.clone();
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_one(state, acceptor, routes, tcp, peer).await {
                tracing::info!(%peer, error = %e, "agent connection refused");
            }
        });
    }
}

async fn serve_one(
    state: Arc<AppState>,
    acceptor: tokio_rustls::TlsAcceptor,
    routes: Router,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
) -> Result<(), String> {
    let tls = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp))
        .await
        .map_err(|_| "handshake timed out".to_owned())?
        .map_err(|e| format!("handshake failed: {e}"))?;
    let (identity, serial) = peer_identity(tls.get_ref().1).map_err(|e| e.to_string())?;
    let SpiffeId::Agent { agent, .. } = identity else {
        return Err(format!("{identity} is not an agent identity"));
    };
    let row = {
        let mut tx = state.store.read().await.map_err(|e| e.to_string())?;
        agents::get_agent(&mut tx, &agent.to_string())
            .await
            .map_err(|e| e.to_string())?
    };
    let Some(row) = row.filter(|r| !r.revoked && r.cert_serial == serial.to_string()) else {
        return Err(format!(
            "agent {agent} is unknown, revoked, or presented an old certificate"
        ));
    };
    tracing::debug!(%peer, agent = %row.agent_id, "agent connected");
    let svc = TowerToHyperService::new(routes.layer(Extension(AgentPeer(row, serial))));
    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), svc)
        .await
        .map_err(|e| e.to_string())
}
