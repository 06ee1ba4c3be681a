//! Target selection for a gateway node: zones, health, fail-open, round-robin or
//! least-connections.
//!
//! Which targets a node may use ([`eligible`]) is a pure function of the target list, the
//! node's zone, the cross-zone switch and the health states:
//! - with cross-zone off, only targets in the node's zone (or with no zone) are candidates;
//! - the healthy candidates get the flow;
//! - if no candidate is healthy but some target in another zone is, the node refuses
//!   (`Unavailable`) and the consumer's agent tries a node in another zone, as NLB takes a zone
//!   out of DNS;
//! - if no target at all is healthy, the node **fails open**: every candidate is used, as NLB
//!   routes to all targets when all are unhealthy (RELIABILITY item 66);
//! - an empty group is refused at once, never left to hang.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use underpass_proto::sync::TargetConfig;

use crate::config::Balancing;

/// The targets a node may send a new flow to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Eligible {
    /// Pick one of these.
    Targets {
        /// The candidates, in configuration order.
        addrs: Vec<SocketAddr>,
        /// Whether these are unhealthy targets used because no target is healthy.
        fail_open: bool,
    },
    /// The group has no targets.
    Empty,
    /// Only targets this node may not use (another zone) are healthy, or are registered at all.
    OtherZonesOnly,
}

/// Which targets a node in `zone` may use; `healthy` says whether a target passes its checks.
pub(crate) fn eligible(
    targets: &[TargetConfig],
    zone: &str,
    cross_zone: bool,
    healthy: impl Fn(SocketAddr) -> bool,
) -> Eligible {
    if targets.is_empty() {
        return Eligible::Empty;
    }
    let local: Vec<SocketAddr> = targets
        .iter()
        .filter(|t| cross_zone || t.zone.as_deref().is_none_or(|z| z == zone))
        .map(|t| t.addr)
        .collect();
    let healthy_local: Vec<SocketAddr> = local.iter().copied().filter(|a| healthy(*a)).collect();
    if !healthy_local.is_empty() {
        return Eligible::Targets {
            addrs: healthy_local,
            fail_open: false,
        };
    }
    if local.is_empty() || targets.iter().any(|t| healthy(t.addr)) {
        return Eligible::OtherZonesOnly;
    }
    Eligible::Targets {
        addrs: local,
        fail_open: true,
    }
}

/// Per target group: the round-robin position and live flows per target.
#[derive(Debug, Default)]
pub(crate) struct BalancerState {
    next: AtomicUsize,
    active: Mutex<HashMap<SocketAddr, usize>>,
}

/// A live flow counted against its target; uncounted when dropped.
#[derive(Debug)]
pub(crate) struct Active {
    state: Arc<BalancerState>,
    addr: SocketAddr,
}

impl Drop for Active {
    fn drop(&mut self) {
        let mut active = self.state.lock();
        if let Some(n) = active.get_mut(&self.addr) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                active.remove(&self.addr);
            }
        }
    }
}

impl BalancerState {
    // Each update is one map operation; a poisoned lock still holds consistent counts.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, usize>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Picks one of `addrs` (not empty) and counts a flow against it.
    pub(crate) fn pick(
        self: &Arc<Self>,
        strategy: Balancing,
        addrs: &[SocketAddr],
    ) -> Option<(SocketAddr, Active)> {
        if addrs.is_empty() {
            return None;
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let mut active = self.lock();
        let index = match strategy {
            Balancing::RoundRobin => turn % addrs.len(),
            Balancing::LeastConnections => (0..addrs.len())
                .map(|i| (turn + i) % addrs.len())
                .min_by_key(|&i| active.get(&addrs[i]).copied().unwrap_or(0))
                .unwrap_or(0),
        };
        let addr = addrs[index];
        *active.entry(addr).or_insert(0) += 1;
        Some((
            addr,
            Active {
                state: self.clone(),
                addr,
            },
        ))
    }

    /// Live flows to `addr`.
    #[cfg(test)]
    pub(crate) fn active(&self, addr: SocketAddr) -> usize {
        self.lock().get(&addr).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn target(port: u16, zone: Option<&str>) -> TargetConfig {
        TargetConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            zone: zone.map(str::to_owned),
        }
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn healthy(ports: &[u16]) -> impl Fn(SocketAddr) -> bool + '_ {
        move |a| ports.contains(&a.port())
    }

    #[test]
    fn healthy_local_targets_are_used() {
        let ts = [target(1, Some("a")), target(2, Some("b")), target(3, None)];
        let got = eligible(&ts, "a", false, healthy(&[1, 2, 3]));
        assert_eq!(
            got,
            Eligible::Targets {
                addrs: vec![addr(1), addr(3)],
                fail_open: false
            },
            "cross-zone off: zone a and zone-less targets only"
        );
        let got = eligible(&ts, "a", true, healthy(&[1, 2, 3]));
        assert!(matches!(got, Eligible::Targets { addrs, .. } if addrs.len() == 3));
        let got = eligible(&ts, "a", false, healthy(&[3]));
        assert_eq!(
            got,
            Eligible::Targets {
                addrs: vec![addr(3)],
                fail_open: false
            }
        );
    }

    #[test]
    fn all_unhealthy_fails_open_over_the_candidates() {
        let ts = [target(1, Some("a")), target(2, Some("b"))];
        assert_eq!(
            eligible(&ts, "a", true, healthy(&[])),
            Eligible::Targets {
                addrs: vec![addr(1), addr(2)],
                fail_open: true
            }
        );
        assert_eq!(
            eligible(&ts, "a", false, healthy(&[])),
            Eligible::Targets {
                addrs: vec![addr(1)],
                fail_open: true
            }
        );
    }

    #[test]
    fn healthy_only_elsewhere_or_empty_refuses() {
        let ts = [target(1, Some("a")), target(2, Some("b"))];
        assert_eq!(
            eligible(&ts, "a", false, healthy(&[2])),
            Eligible::OtherZonesOnly
        );
        assert_eq!(
            eligible(&ts, "c", false, healthy(&[])),
            Eligible::OtherZonesOnly,
            "no candidate in this zone at all"
        );
        assert_eq!(eligible(&[], "a", true, healthy(&[])), Eligible::Empty);
    }

    #[test]
    fn round_robin_visits_every_target() {
        let state = Arc::new(BalancerState::default());
        let addrs = [addr(1), addr(2), addr(3)];
        let picked: HashSet<SocketAddr> = (0..3)
            .map(|_| state.pick(Balancing::RoundRobin, &addrs).unwrap().0)
            .collect();
        assert_eq!(picked.len(), 3);
        assert!(state.pick(Balancing::RoundRobin, &[]).is_none());
    }

    #[test]
    fn least_connections_prefers_the_idle_target() {
        let state = Arc::new(BalancerState::default());
        let addrs = [addr(1), addr(2)];
        let (first, keep) = state.pick(Balancing::LeastConnections, &addrs).unwrap();
        for _ in 0..5 {
            let (next, guard) = state.pick(Balancing::LeastConnections, &addrs).unwrap();
            assert_ne!(next, first, "the busy target is avoided");
            drop(guard);
        }
        assert_eq!(state.active(first), 1);
        drop(keep);
        assert_eq!(state.active(first), 0);
    }
}
