//! Underpass control plane: the API (JSON, SigV4-authenticated, IAM-authorized), its actions,
//! and the bootstrap of the data dir. `underpass server` runs [`start`].
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod actions;
mod agent_api;
pub mod api;
pub mod audit;
pub mod bootstrap;
pub mod config;
mod desired;
mod dns_names;
mod flow_log_state;
mod iam_cache;
pub mod metrics;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use actions::KNOWN as ACTIONS;
pub use config::ServerConfig;
use state::AppState;

/// A time as the APIs print it: RFC 3339, UTC (one formatter for every answer).
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The settings contradict themselves (regions and zones).
    #[error("configuration: {0}")]
    Config(String),
    /// The data dir or a file in it is unusable.
    #[error("data dir: {0}")]
    DataDir(String),
    /// The state database refused to open.
    #[error("state store: {0}")]
    Store(String),
    /// A listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running control plane.
pub struct RunningServer {
    /// Where the API listens.
    pub api_addr: SocketAddr,
    /// Where agents sync (mTLS).
    pub agent_addr: SocketAddr,
    /// Shared state (for in-process callers such as `underpass dev`).
    pub state: Arc<AppState>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    agent_task: tokio::task::JoinHandle<()>,
    audit_task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and closes the store.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        let _ = self.agent_task.await;
        self.state.audit.flush().await;
        self.audit_task.abort();
        self.state.store.close().await;
    }
}

/// Boots the data dir and serves the API until stopped.
pub async fn start(cfg: ServerConfig) -> Result<RunningServer, ServerError> {
    cfg.check().map_err(ServerError::Config)?;
    let booted = bootstrap::boot(&cfg).await?;
    let revision = booted
        .store
        .revision()
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let api_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let agent_listener = tokio::net::TcpListener::bind(cfg.agent_listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.agent_listen,
            source,
        })?;
    let agent_addr = agent_listener
        .local_addr()
        .map_err(|source| ServerError::Bind {
            addr: cfg.agent_listen,
            source,
        })?;
    // One revocation set, shared by the TLS verifier and the actions that revoke.
    let revocations = underpass_pki::RevocationSet::new();
    let tls = agent_tls(&booted.ca, &cfg, &booted.store, &revocations).await?;
    let (audit, audit_task) = audit::AuditLog::start(booted.store.clone());
    let state = Arc::new(AppState::new(
        booted.store,
        booted.master,
        booted.ca,
        revocations,
        cfg,
        revision,
        audit,
    ));
    state.set_agent_addr(agent_addr);
    actions::open_regions(&state)
        .await
        .map_err(|e| ServerError::Store(format!("default VPC: {e}")))?;
    let app = api::router(state.clone())
        .merge(agent_api::enroll_router(state.clone()))
        .into_make_service_with_connect_info::<SocketAddr>();
    let (shutdown, mut rx) = tokio::sync::watch::channel(false);
    let agent_task = tokio::spawn(agent_api::serve_agents(
        state.clone(),
        agent_listener,
        tls,
        shutdown.subscribe(),
    ));
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "API server stopped");
        }
    });
    tracing::info!(%api_addr, %agent_addr, "api listening");
    Ok(RunningServer {
        api_addr,
        agent_addr,
        state,
        shutdown,
        task,
        agent_task,
        audit_task,
    })
}

/// The agent listener's TLS config: a fresh server certificate from our CA, client
/// certificates required, and the revoked serials from the store.
async fn agent_tls(
    ca: &underpass_pki::CertificateAuthority,
    cfg: &ServerConfig,
    store: &underpass_store::Store,
    revocations: &underpass_pki::RevocationSet,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    use underpass_pki::{server_config, trust_roots, ClientAuth, LeafSpec, SpiffeId, TlsOptions};
    let pki =
        |e: underpass_pki::PkiError| ServerError::DataDir(format!("certificate authority: {e}"));
    let id: SpiffeId = format!("spiffe://{}/server", cfg.trust_domain)
        .parse()
        .map_err(pki)?;
    let (cert, key) = ca
        .issue_keypair(&LeafSpec::new(id), time::OffsetDateTime::now_utc())
        .map_err(pki)?;
    let roots = trust_roots([ca.cert_der()]).map_err(pki)?;
    let mut tx = store
        .read()
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?;
    let revoked: Vec<underpass_pki::Serial> = underpass_store::agents::revoked_serials(&mut tx)
        .await
        .map_err(|e| ServerError::Store(e.to_string()))?
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    drop(tx);
    revocations.revoke_all(revoked);
    let config = server_config(
        cert.credentials(&key),
        roots,
        revocations,
        ClientAuth::Required,
        &TlsOptions::default(),
    )
    .map_err(pki)?;
    Ok(Arc::new(config))
}
