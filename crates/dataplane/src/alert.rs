//! Alerts on refused and unauthenticated connection attempts (seed 001: "set up alerts for any
//! unauthenticated or unexpected connection attempts"; RELIABILITY item 94).
//!
//! Every refused flow is already a REJECT flow record. On top of that, the flow-event thread
//! raises an alert: one structured `WARN` event with target `underpass::alert` and counters per
//! kind ([`AlertCounts`]). A scan must not flood the log, so [`AlertLimiter`] (sans-IO, the
//! clock passed in) lets the first attempt of each (kind, interface) through at once and then at
//! most one line per window, which carries how many attempts it stands for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::flow::{FlowAction, FlowEvent, FlowReason};

/// What kind of attempt an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// A peer failed the mutual-TLS authentication (a bad, unknown or revoked certificate, a
    /// handshake that did not finish).
    Unauthenticated,
    /// A security group or network ACL refused the flow.
    Denied,
    /// The endpoint's connection is not (or no longer) accepted by the provider.
    NotAccepted,
}

impl AlertKind {
    /// The kind of a refused flow, or `None` for ordinary endings.
    pub fn of(ev: &FlowEvent) -> Option<Self> {
        if ev.action != FlowAction::Reject {
            return None;
        }
        match ev.reason {
            FlowReason::Tls | FlowReason::HandshakeTimeout | FlowReason::Revoked => {
                Some(Self::Unauthenticated)
            }
            FlowReason::SecurityGroup | FlowReason::NetworkAcl => Some(Self::Denied),
            FlowReason::NotAccepted | FlowReason::NotAvailable | FlowReason::Refused(_) => {
                Some(Self::NotAccepted)
            }
            _ => None,
        }
    }

    /// A short stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Denied => "denied",
            Self::NotAccepted => "not-accepted",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Unauthenticated => 0,
            Self::Denied => 1,
            Self::NotAccepted => 2,
        }
    }
}

/// One alert to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// What it is about.
    pub kind: AlertKind,
    /// The interface that refused (an endpoint ENI or a gateway node).
    pub interface: String,
    /// Attempts it stands for (1, or the attempts held back since the last line).
    pub attempts: u64,
}

/// Rate-limits alerts per (kind, interface): the first at once, then one per `window`.
#[derive(Debug)]
pub struct AlertLimiter {
    window: Duration,
    max_keys: usize,
    open: HashMap<(AlertKind, String), (Instant, u64)>,
}

impl AlertLimiter {
    /// A limiter with `window` between lines per key, tracking at most `max_keys` keys (the
    /// oldest are forgotten first: a forgotten key just alerts again).
    pub fn new(window: Duration, max_keys: usize) -> Self {
        Self {
            window,
            max_keys: max_keys.max(1),
            open: HashMap::new(),
        }
    }

    /// Counts one attempt; returns the alert to raise now, if any.
    pub fn observe(&mut self, kind: AlertKind, interface: &str, now: Instant) -> Option<Alert> {
        let key = (kind, interface.to_owned());
        match self.open.get_mut(&key) {
            Some((since, held)) if now.saturating_duration_since(*since) < self.window => {
                *held += 1;
                None
            }
            Some((since, held)) => {
                let attempts = *held + 1;
                *since = now;
                *held = 0;
                Some(Alert {
                    kind,
                    interface: key.1,
                    attempts,
                })
            }
            None => {
                if self.open.len() >= self.max_keys {
                    if let Some(oldest) = self
                        .open
                        .iter()
                        .min_by_key(|(_, (since, _))| *since)
                        .map(|(k, _)| k.clone())
                    {
                        self.open.remove(&oldest);
                    }
                }
                self.open.insert(key.clone(), (now, 0));
                Some(Alert {
                    kind,
                    interface: key.1,
                    attempts: 1,
                })
            }
        }
    }
}

/// Attempts seen per kind, whether or not a line was written for each.
#[derive(Debug, Clone, Default)]
pub struct AlertCounts(Arc<[AtomicU64; 3]>);

impl AlertCounts {
    /// Attempts of `kind` so far.
    pub fn get(&self, kind: AlertKind) -> u64 {
        self.0[kind.index()].load(Ordering::Relaxed)
    }

    pub(crate) fn add(&self, kind: AlertKind) {
        self.0[kind.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// The event thread's alerting: counts every refused attempt, logs what the limiter lets out.
#[derive(Debug)]
pub(crate) struct Alerting {
    limiter: AlertLimiter,
    counts: AlertCounts,
}

/// Time between two lines about the same kind and interface.
const WINDOW: Duration = Duration::from_secs(10);
/// Keys the limiter remembers.
const MAX_KEYS: usize = 4096;

impl Alerting {
    pub(crate) fn new(counts: AlertCounts) -> Self {
        Self {
            limiter: AlertLimiter::new(WINDOW, MAX_KEYS),
            counts,
        }
    }

    pub(crate) fn observe(&mut self, ev: &FlowEvent) {
        let Some(kind) = AlertKind::of(ev) else {
            return;
        };
        self.counts.add(kind);
        let interface = ev.interface_id.to_string();
        if let Some(a) = self.limiter.observe(kind, &interface, ev.end_instant) {
            tracing::warn!(
                target: "underpass::alert",
                kind = a.kind.as_str(),
                interface = %a.interface,
                src = %ev.src,
                dst = %ev.dst,
                reason = %ev.reason,
                attempts = a.attempts,
                "refused connection attempt"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_attempt_alerts_then_one_line_per_window_with_the_count() {
        let t0 = Instant::now();
        let mut l = AlertLimiter::new(Duration::from_secs(10), 16);
        let first = l.observe(AlertKind::Denied, "eni-1", t0).unwrap();
        assert_eq!(first.attempts, 1);
        for i in 1..=5 {
            assert_eq!(
                l.observe(AlertKind::Denied, "eni-1", t0 + Duration::from_secs(i)),
                None
            );
        }
        // Another kind or interface is its own key.
        assert!(l.observe(AlertKind::Unauthenticated, "eni-1", t0).is_some());
        assert!(l.observe(AlertKind::Denied, "eni-2", t0).is_some());
        let next = l
            .observe(AlertKind::Denied, "eni-1", t0 + Duration::from_secs(10))
            .unwrap();
        assert_eq!(next.attempts, 6, "five held back and this one");
        assert_eq!(
            l.observe(AlertKind::Denied, "eni-1", t0 + Duration::from_secs(11)),
            None
        );
    }

    #[test]
    fn the_key_table_is_bounded() {
        let t0 = Instant::now();
        let mut l = AlertLimiter::new(Duration::from_secs(10), 3);
        for i in 0..100u64 {
            let at = t0 + Duration::from_millis(i);
            assert!(l
                .observe(AlertKind::Denied, &format!("eni-{i}"), at)
                .is_some());
            assert!(l.open.len() <= 3);
        }
    }
}
