//! Health checks at the edge: one prober task per (target group, target) drives a
//! [`HealthTracker`] with real TCP connects or HTTP GETs, and publishes the state on a board
//! that target selection and `target_health()` read.
//!
//! With Proxy Protocol v2 on, every check starts with a PROXY v2 `LOCAL` header (no client
//! addresses), so a target that requires the header can parse its checks; NLB documents that
//! health-check connections carry the header too [not verified here against a live NLB].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use underpass_proto::proxy_v2::ProxyHeader;
use underpass_proto::sync::{TargetGroupConfig, TargetHealth};

use crate::config::HealthTiming;
use crate::error::DataplaneError;
use crate::health::{
    HealthSettings, HealthState, HealthTracker, ProbeFailure, ProbeOutcome, INITIAL_REASON,
};
use crate::net::{Stop, StopRx, Tasks};

/// (target group ARN, target address).
pub(crate) type TargetKey = (String, SocketAddr);

/// The most of an HTTP response a check reads while looking for the status line.
const MAX_STATUS_LINE: usize = 1024;

/// How one target is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeSpec {
    /// Where the check connects.
    pub(crate) addr: SocketAddr,
    /// `Some(path)` for HTTP checks.
    pub(crate) http_path: Option<String>,
    /// Send a PROXY v2 LOCAL header first.
    pub(crate) proxy_v2: bool,
    /// Thresholds and interval.
    pub(crate) settings: HealthSettings,
    /// One check's timeout.
    pub(crate) timeout: Duration,
}

impl ProbeSpec {
    /// The checks of a target group, and a warning when they cannot run as configured (an
    /// unsupported protocol or an unusable path: the target is then checked with TCP).
    pub(crate) fn for_group(
        group: &TargetGroupConfig,
        timing: Option<HealthTiming>,
    ) -> (Vec<(TargetKey, ProbeSpec)>, Option<DataplaneError>) {
        let h = &group.health;
        let (interval, timeout) = match timing {
            Some(t) => (t.interval, t.timeout),
            None => (
                Duration::from_secs(u64::from(h.interval_secs.max(1))),
                Duration::from_secs(u64::from(h.timeout_secs.max(1))),
            ),
        };
        let interval = interval.max(Duration::from_millis(10));
        let mut warning = None;
        let http_path = match h.protocol.to_ascii_uppercase().as_str() {
            "TCP" => None,
            "HTTP" if valid_path(&h.path) => Some(h.path.clone()),
            "HTTP" => {
                warning = Some(format!("health-check path {:?} is not usable", h.path));
                None
            }
            other => {
                warning = Some(format!("health-check protocol {other:?} is not supported"));
                None
            }
        };
        let warning = warning.map(|detail| DataplaneError::Unsupported {
            what: format!("target group {}", group.arn),
            detail: detail + "; checking with TCP instead",
        });
        let specs = group
            .targets
            .iter()
            .map(|t| {
                let spec = ProbeSpec {
                    addr: SocketAddr::new(t.addr.ip(), h.port.unwrap_or(t.addr.port())),
                    http_path: http_path.clone(),
                    proxy_v2: group.proxy_protocol_v2,
                    settings: HealthSettings {
                        healthy_threshold: h.healthy_threshold,
                        unhealthy_threshold: h.unhealthy_threshold,
                        interval,
                    },
                    timeout: timeout.min(interval),
                };
                ((group.arn.clone(), t.addr), spec)
            })
            .collect();
        (specs, warning)
    }
}

/// A path fit for a request line: starts with `/`, visible ASCII only, at most 1024 bytes.
fn valid_path(path: &str) -> bool {
    path.starts_with('/') && path.len() <= 1024 && path.bytes().all(|b| b.is_ascii_graphic())
}

/// One target's published health: the owning prober's generation, the state, the reason.
type Entry = (u64, HealthState, Option<&'static str>);

/// Health states by target group, then target; each tagged with the prober that owns it.
#[derive(Debug, Default)]
pub(crate) struct HealthBoard(RwLock<HashMap<String, HashMap<SocketAddr, Entry>>>);

impl HealthBoard {
    /// The state of a target; `Initial` if it is not checked (yet).
    pub(crate) fn state(&self, group: &str, addr: SocketAddr) -> HealthState {
        self.read()
            .get(group)
            .and_then(|g| g.get(&addr))
            .map_or(HealthState::Initial, |e| e.1)
    }

    /// Every checked target, sorted by group and address.
    pub(crate) fn snapshot(&self) -> Vec<TargetHealth> {
        let mut out: Vec<TargetHealth> = self
            .read()
            .iter()
            .flat_map(|(group, targets)| {
                targets
                    .iter()
                    .map(|(addr, (_, state, reason))| TargetHealth {
                        target_group_arn: group.clone(),
                        addr: *addr,
                        state: state.as_str().to_owned(),
                        reason: reason.map(str::to_owned),
                    })
            })
            .collect();
        out.sort_by(|a, b| (&a.target_group_arn, a.addr).cmp(&(&b.target_group_arn, b.addr)));
        out
    }

    fn set(
        &self,
        key: &TargetKey,
        generation: u64,
        state: HealthState,
        reason: Option<&'static str>,
    ) {
        let mut map = self.write();
        // Only the prober that owns the entry writes it; a stopped one finds it gone or taken.
        if let Some(entry) = map.get_mut(&key.0).and_then(|g| g.get_mut(&key.1)) {
            if entry.0 == generation {
                *entry = (generation, state, reason);
            }
        }
    }

    fn start(&self, key: &TargetKey, generation: u64) {
        let entry = (generation, HealthState::Initial, Some(INITIAL_REASON));
        self.write()
            .entry(key.0.clone())
            .or_default()
            .insert(key.1, entry);
    }

    fn remove(&self, key: &TargetKey) {
        let mut map = self.write();
        if let Some(group) = map.get_mut(&key.0) {
            group.remove(&key.1);
            if group.is_empty() {
                map.remove(&key.0);
            }
        }
    }

    // Each update is one map operation; a poisoned lock still holds whole entries.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, HashMap<SocketAddr, Entry>>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<String, HashMap<SocketAddr, Entry>>> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running probers, reconciled on every apply.
#[derive(Default)]
pub(crate) struct Probers {
    running: HashMap<TargetKey, (ProbeSpec, Stop)>,
    generation: AtomicU64,
}

impl Probers {
    /// Starts, restarts (changed settings: the target goes back to `initial`) and stops probers
    /// so that exactly `desired` run.
    pub(crate) fn reconcile(
        &mut self,
        desired: HashMap<TargetKey, ProbeSpec>,
        board: &Arc<HealthBoard>,
        tasks: &Tasks,
    ) {
        self.running.retain(|key, (spec, _)| {
            let keep = desired.get(key) == Some(spec);
            if !keep {
                board.remove(key);
            }
            keep
        });
        for (key, spec) in desired {
            if self.running.contains_key(&key) {
                continue;
            }
            let generation = self.generation.fetch_add(1, Ordering::Relaxed);
            board.start(&key, generation);
            let (stop, stop_rx) = Stop::new();
            let task = run(
                key.clone(),
                generation,
                spec.clone(),
                board.clone(),
                stop_rx,
            );
            tasks.spawn(task);
            self.running.insert(key, (spec, stop));
        }
    }

    /// Stops every prober.
    pub(crate) fn clear(&mut self, board: &HealthBoard) {
        for key in self.running.keys() {
            board.remove(key);
        }
        self.running.clear();
    }
}

async fn run(
    key: TargetKey,
    generation: u64,
    spec: ProbeSpec,
    board: Arc<HealthBoard>,
    mut stop: StopRx,
) {
    let mut tracker = HealthTracker::new(spec.settings, Instant::now().into_std());
    loop {
        let due = Instant::from_std(tracker.poll_timeout());
        tokio::select! {
            () = stop.stopped() => return,
            () = tokio::time::sleep_until(due) => {}
        }
        let started = Instant::now();
        let outcome = tokio::select! {
            () = stop.stopped() => return,
            outcome = probe(&spec) => outcome,
        };
        if let Some(t) = tracker.record(started.into_std(), outcome) {
            tracing::info!(
                target_group = %key.0, target = %key.1, from = %t.from, to = %t.to,
                reason = tracker.reason().unwrap_or(""), "target health changed"
            );
        }
        board.set(&key, generation, tracker.state(), tracker.reason());
    }
}

/// One check, bounded by the spec's timeout.
pub(crate) async fn probe(spec: &ProbeSpec) -> ProbeOutcome {
    match tokio::time::timeout(spec.timeout, probe_once(spec)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(ProbeFailure::Timeout),
    }
}

async fn probe_once(spec: &ProbeSpec) -> ProbeOutcome {
    let broken = |_| ProbeFailure::ConnectFailed;
    let mut stream = TcpStream::connect(spec.addr).await.map_err(broken)?;
    if spec.proxy_v2 {
        if let Ok(local) = ProxyHeader::local().encode() {
            stream.write_all(&local).await.map_err(broken)?;
        }
    }
    let Some(path) = &spec.http_path else {
        return Ok(());
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: underpass-health-check\r\n\
         Connection: close\r\nAccept: */*\r\n\r\n",
        spec.addr
    );
    stream.write_all(request.as_bytes()).await.map_err(broken)?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        if buf.len() >= MAX_STATUS_LINE {
            return Err(ProbeFailure::BadResponse);
        }
        let n = stream.read(&mut chunk).await.map_err(broken)?;
        if n == 0 {
            return Err(ProbeFailure::BadResponse);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    match status_code(&buf) {
        Some(code) if (200..=399).contains(&code) => Ok(()),
        Some(code) => Err(ProbeFailure::ResponseCodeMismatch(code)),
        None => Err(ProbeFailure::BadResponse),
    }
}

/// The status code of an `HTTP/1.x NNN …` status line at the start of `buf`.
fn status_code(buf: &[u8]) -> Option<u16> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let digits = rest.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit)
        || rest.get(3).is_some_and(|b| *b != b' ' && *b != b'\r')
    {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(status_code(b"HTTP/1.0 302\r\n"), Some(302));
        assert_eq!(status_code(b"HTTP/1.1 2000 OK\r\n"), None);
        assert_eq!(status_code(b"HTTP/2 200\r\n"), None);
        assert_eq!(status_code(b"SSH-2.0-OpenSSH\r\n"), None);
    }

    #[test]
    fn paths_that_could_inject_are_refused() {
        assert!(valid_path("/healthz?x=1"));
        assert!(!valid_path("healthz"));
        assert!(!valid_path("/a b"));
        assert!(!valid_path("/a\r\nX-Evil: 1"));
    }
}
