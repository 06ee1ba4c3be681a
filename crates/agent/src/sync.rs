//! The sync loop: long-poll the desired state over mTLS, cache it, apply it; report health.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::sync::watch;
use underpass_pki::{
    client_config, expect_identity, trust_roots, RevocationSet, ServerNameCheck, SpiffeId,
    TlsCredentials, TlsOptions,
};
use underpass_proto::sync::{AgentState, HealthReport};
use zeroize::Zeroizing;

use crate::enroll::{load_or_enroll, Enrollment, Identity};
use crate::{cache, AgentConfig, AgentError};

/// Where desired states go: the data plane, in a real agent.
pub trait Applier: Send + Sync + 'static {
    /// Reconciles to `state`.
    fn apply(
        &self,
        state: AgentState,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
    /// Target health as this agent's gateways see it.
    fn health(&self) -> HealthReport;
}

/// First and longest wait between failed syncs.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How often health is reported.
const HEALTH_EVERY: Duration = Duration::from_secs(2);
/// How often a full state is fetched even without a change (picks up renewed certificates).
const REFRESH_EVERY: Duration = Duration::from_secs(600);
/// Per-request timeout: above the server's long-poll wait.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A running agent.
pub struct RunningAgent {
    /// What enrollment established.
    pub enrollment: Enrollment,
    /// The revision applied last (0 before the first).
    pub applied: watch::Receiver<i64>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningAgent {
    /// Stops syncing and reporting (the applier keeps whatever it last applied).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Enrolls if needed, builds the applier for the agent's key, applies the cached state, then
/// follows the control plane.
pub async fn run(
    cfg: AgentConfig,
    make_applier: impl FnOnce(&Enrollment, Zeroizing<String>) -> Arc<dyn Applier>,
) -> Result<RunningAgent, AgentError> {
    let Identity {
        enrollment,
        key_pem,
    } = load_or_enroll(&cfg).await?;
    let applier = make_applier(&enrollment, key_pem.clone());
    let (applied_tx, applied) = watch::channel(0i64);
    if let Some(state) = cache::load(&cfg.data_dir) {
        let rev = state.revision;
        match applier.apply(state).await {
            Ok(()) => {
                tracing::info!(revision = rev, "serving the cached state");
                let _ = applied_tx.send(rev);
            }
            Err(e) => tracing::warn!(error = %e, "cached state could not be applied"),
        }
    }
    let tls = Arc::new(RwLock::new(tls_config(&enrollment, &key_pem)?));
    let server_id: SpiffeId = enrollment.server_identity.parse()?;
    let link = Link {
        addr: enrollment.agent_api.clone(),
        tls,
        server_id,
    };
    let renewal = Renewal {
        enrollment: enrollment.clone(),
        key_pem,
    };
    let (stop, stop_rx) = watch::channel(false);
    let sync_task = tokio::spawn(sync_loop(
        link.clone(),
        cfg.clone(),
        applier.clone(),
        applied_tx,
        stop_rx.clone(),
        renewal,
    ));
    let health_task = tokio::spawn(health_loop(link, applier, stop_rx));
    Ok(RunningAgent {
        enrollment,
        applied,
        stop,
        tasks: vec![sync_task, health_task],
    })
}

fn tls_config(
    enrollment: &Enrollment,
    key_pem: &str,
) -> Result<Arc<rustls::ClientConfig>, AgentError> {
    Ok(Arc::new(client_config(
        Some(TlsCredentials::from_pem(&enrollment.cert_pem, key_pem)?),
        trust_roots(&certs(&enrollment.ca_pems)?)?,
        &RevocationSet::new(),
        ServerNameCheck::CallerChecksIdentity,
        &TlsOptions::default(),
    )?))
}

/// What the agent needs to renew its own certificate.
struct Renewal {
    enrollment: Enrollment,
    key_pem: Zeroizing<String>,
}

impl Renewal {
    fn due(&self) -> bool {
        let Some(at) = &self.enrollment.renew_at else {
            return false;
        };
        match time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339) {
            Ok(t) => time::OffsetDateTime::now_utc() >= t,
            Err(_) => false,
        }
    }

    /// Asks for a fresh certificate, stores it, and swaps the link's TLS config.
    async fn renew(
        &mut self,
        link: &Link,
        sender: &mut SendRequest<Full<Bytes>>,
        dir: &std::path::Path,
    ) -> Result<(), AgentError> {
        let req = hyper::Request::post("/agent/v1/renew")
            .header("host", "underpass-server")
            .body(Full::new(Bytes::new()))
            .map_err(|e| AgentError::Sync(e.to_string()))?;
        let (status, body) = send(sender, req).await?;
        if status != 200 {
            return Err(AgentError::Sync(format!("renewal refused: HTTP {status}")));
        }
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| AgentError::Sync(e.to_string()))?;
        let (Some(cert), Some(at)) = (v["CertPem"].as_str(), v["RenewAt"].as_str()) else {
            return Err(AgentError::Sync(
                "renewal response lacks CertPem/RenewAt".into(),
            ));
        };
        let mut next = self.enrollment.clone();
        next.cert_pem = cert.to_owned();
        next.renew_at = Some(at.to_owned());
        let config = tls_config(&next, &self.key_pem)?;
        crate::enroll::save_renewed(dir, &next)?;
        *link.tls.write().unwrap_or_else(|p| p.into_inner()) = config;
        self.enrollment = next;
        tracing::info!(renew_at = at, "agent certificate renewed");
        Ok(())
    }
}

fn certs(pems: &[String]) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, AgentError> {
    use rustls_pki_types::pem::PemObject;
    pems.iter()
        .map(|p| {
            rustls_pki_types::CertificateDer::from_pem_slice(p.as_bytes())
                .map_err(|e| AgentError::DataDir(format!("CA certificate: {e}")))
        })
        .collect()
}

/// How to reach the control plane's mTLS listener.
#[derive(Clone)]
struct Link {
    addr: String,
    /// Swapped when the agent certificate is renewed.
    tls: Arc<RwLock<Arc<rustls::ClientConfig>>>,
    server_id: SpiffeId,
}

impl Link {
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, AgentError> {
        let err = |d: String| AgentError::Unreachable {
            url: self.addr.clone(),
            detail: d,
        };
        let tcp = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(&self.addr),
        )
        .await
        .map_err(|_| err("connect timed out".into()))?
        .map_err(|e| err(e.to_string()))?;
        let ip = tcp.peer_addr().map_err(|e| err(e.to_string()))?.ip();
        let config = self.tls.read().unwrap_or_else(|p| p.into_inner()).clone();
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(ServerName::IpAddress(ip.into()), tcp)
            .await
            .map_err(|e| err(format!("TLS: {e}")))?;
        // The name check is ours: the server must present the control plane's SPIFFE id.
        expect_identity(tls.get_ref().1, &self.server_id)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| err(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: hyper::Request<Full<Bytes>>,
) -> Result<(u16, Bytes), AgentError> {
    let resp = tokio::time::timeout(REQUEST_TIMEOUT, sender.send_request(req))
        .await
        .map_err(|_| AgentError::Sync("request timed out".into()))?
        .map_err(|e| AgentError::Sync(e.to_string()))?;
    let status = resp.status().as_u16();
    let body = tokio::time::timeout(REQUEST_TIMEOUT, resp.into_body().collect())
        .await
        .map_err(|_| AgentError::Sync("response timed out".into()))?
        .map_err(|e| AgentError::Sync(e.to_string()))?
        .to_bytes();
    Ok((status, body))
}

/// A delay in `[d/2, d)` so that agents restarted together do not retry together.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = aws_lc_rs::rand::fill(&mut b);
    let frac = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX);
    d.mul_f64(0.5 + frac / 2.0)
}

async fn sync_loop(
    link: Link,
    cfg: AgentConfig,
    applier: Arc<dyn Applier>,
    applied: watch::Sender<i64>,
    mut stop: watch::Receiver<bool>,
    mut renewal: Renewal,
) {
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    let mut backoff = BACKOFF_MIN;
    let mut last_full = tokio::time::Instant::now();
    loop {
        let rev = *applied.borrow();
        let after = if last_full.elapsed() >= REFRESH_EVERY {
            0
        } else {
            rev
        };
        let step = async {
            if conn.is_none() {
                conn = Some(link.connect().await?);
            }
            if renewal.due() {
                let sender = conn
                    .as_mut()
                    .ok_or_else(|| AgentError::Sync("no connection".into()))?;
                renewal.renew(&link, sender, &cfg.data_dir).await?;
                // The next connection presents the new certificate.
                conn = Some(link.connect().await?);
            }
            let sender = conn
                .as_mut()
                .ok_or_else(|| AgentError::Sync("no connection".into()))?;
            let req = hyper::Request::get(format!("/agent/v1/state?after={after}"))
                .header("host", "underpass-server")
                .body(Full::new(Bytes::new()))
                .map_err(|e| AgentError::Sync(e.to_string()))?;
            send(sender, req).await
        };
        let outcome = tokio::select! {
            r = step => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match outcome {
            Ok((200, body)) => {
                backoff = BACKOFF_MIN;
                let state: AgentState = match serde_json::from_slice(&body) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "unreadable state from the control plane");
                        continue;
                    }
                };
                if after == 0 {
                    last_full = tokio::time::Instant::now();
                }
                let new_rev = state.revision;
                // Cache first: what was applied must survive a crash.
                if let Err(e) = cache::save(&cfg.data_dir, &state) {
                    tracing::warn!(error = %e, "could not cache the state");
                }
                match applier.apply(state).await {
                    Ok(()) => {
                        tracing::info!(revision = new_rev, "applied desired state");
                        let _ = applied.send(new_rev);
                    }
                    Err(e) => {
                        tracing::warn!(revision = new_rev, error = %e, "desired state not fully applied")
                    }
                }
            }
            Ok((204, _)) => backoff = BACKOFF_MIN,
            Ok((status, body)) => {
                tracing::warn!(status, body = %String::from_utf8_lossy(&body[..body.len().min(256)]), "control plane refused the sync");
                conn = None;
                sleep_or_stop(jitter(backoff), &mut stop).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
            Err(e) => {
                // Static stability: keep serving the last state; retry with jittered backoff.
                tracing::warn!(error = %e, retry_in = ?backoff, "control plane unreachable; serving the last state");
                conn = None;
                if sleep_or_stop(jitter(backoff), &mut stop).await {
                    return;
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Sleeps; true if asked to stop meanwhile.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stop.wait_for(|s| *s) => true,
    }
}

async fn health_loop(link: Link, applier: Arc<dyn Applier>, mut stop: watch::Receiver<bool>) {
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        if sleep_or_stop(HEALTH_EVERY, &mut stop).await {
            return;
        }
        let report = applier.health();
        if report.targets.is_empty() && report.flow_logs.is_empty() {
            continue;
        }
        let r = async {
            if conn.is_none() {
                conn = Some(link.connect().await?);
            }
            let sender = conn
                .as_mut()
                .ok_or_else(|| AgentError::Sync("no connection".into()))?;
            let body = serde_json::to_vec(&report).map_err(|e| AgentError::Sync(e.to_string()))?;
            let req = hyper::Request::post("/agent/v1/health")
                .header("host", "underpass-server")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| AgentError::Sync(e.to_string()))?;
            send(sender, req).await
        }
        .await;
        if let Err(e) = r {
            tracing::debug!(error = %e, "health report not delivered");
            conn = None;
        }
    }
}
