//! Underpass control plane: the API (JSON, SigV4-authenticated, IAM-authorized), its actions,
//! and the bootstrap of the data dir. `underpass server` runs [`start`].
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod actions;
pub mod api;
pub mod bootstrap;
pub mod config;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use actions::KNOWN as ACTIONS;
pub use config::ServerConfig;
use state::AppState;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
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
    /// Shared state (for in-process callers such as `underpass dev`).
    pub state: Arc<AppState>,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and closes the store.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        self.state.store.close().await;
    }
}

/// Boots the data dir and serves the API until stopped.
pub async fn start(cfg: ServerConfig) -> Result<RunningServer, ServerError> {
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
    let state = Arc::new(AppState::new(booted.store, booted.master, cfg, revision));
    let app = api::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (shutdown, mut rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "API server stopped");
        }
    });
    tracing::info!(%api_addr, "api listening");
    Ok(RunningServer {
        api_addr,
        state,
        shutdown,
        task,
    })
}
