//! Target health as ELBv2 defines it, as a sans-IO state machine (STYLE pattern 1).
//!
//! A target starts `initial`. `healthy_threshold` consecutive successful checks make it
//! `healthy`; `unhealthy_threshold` consecutive failures make it `unhealthy`. Once in a state, a
//! single result the other way changes nothing: only a full streak does (hysteresis, RELIABILITY
//! item 65), so a target that flaps every check never flaps in and out of the rotation. The
//! machine never reads a clock: the prober passes `now` and asks
//! [`HealthTracker::poll_timeout`] when to check next.

use std::fmt;
use std::time::{Duration, Instant};

/// A target's health state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthState {
    /// Registered, not yet judged.
    Initial,
    /// Passing its checks: receives new flows.
    Healthy,
    /// Failing its checks: receives new flows only when the whole group fails open.
    Unhealthy,
}

impl HealthState {
    /// `initial`, `healthy` or `unhealthy`, as `DescribeTargetHealth` spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeFailure {
    /// No connection or no answer before the check's timeout.
    Timeout,
    /// The connection was refused or broke.
    ConnectFailed,
    /// An HTTP check got a status outside 200-399.
    ResponseCodeMismatch(u16),
    /// An HTTP check got something that is not an HTTP response.
    BadResponse,
}

impl ProbeFailure {
    /// The ELBv2 reason code an unhealthy target reports after this failure.
    pub fn reason_code(self) -> &'static str {
        match self {
            Self::Timeout => "Target.Timeout",
            Self::ConnectFailed | Self::BadResponse => "Target.FailedHealthChecks",
            Self::ResponseCodeMismatch(_) => "Target.ResponseCodeMismatch",
        }
    }
}

/// The result of one check.
pub type ProbeOutcome = Result<(), ProbeFailure>;

/// The reason code of a target that is still `initial`.
pub const INITIAL_REASON: &str = "Elb.InitialHealthChecking";

/// A state change, for the health event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: HealthState,
    /// The state after.
    pub to: HealthState,
    /// The failure that completed an unhealthy streak.
    pub failure: Option<ProbeFailure>,
}

/// Thresholds and timing of one target's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthSettings {
    /// Consecutive successes to become healthy (at least 1).
    pub healthy_threshold: u32,
    /// Consecutive failures to become unhealthy (at least 1).
    pub unhealthy_threshold: u32,
    /// Time between the starts of two checks.
    pub interval: Duration,
}

/// One target's health, driven by check results.
#[derive(Debug, Clone)]
pub struct HealthTracker {
    settings: HealthSettings,
    state: HealthState,
    /// Successes (positive) or failures (negative) in a row.
    streak: i64,
    last_failure: Option<ProbeFailure>,
    next_check: Instant,
}

impl HealthTracker {
    /// A target in `initial` whose first check is due at `now`.
    pub fn new(settings: HealthSettings, now: Instant) -> Self {
        Self {
            settings: HealthSettings {
                healthy_threshold: settings.healthy_threshold.max(1),
                unhealthy_threshold: settings.unhealthy_threshold.max(1),
                interval: settings.interval,
            },
            state: HealthState::Initial,
            streak: 0,
            last_failure: None,
            next_check: now,
        }
    }

    /// When the next check is due.
    pub fn poll_timeout(&self) -> Instant {
        self.next_check
    }

    /// Records the result of the check that started at `started`; the next one is due one
    /// interval after it. Returns the state change, if this result completed a streak.
    pub fn record(&mut self, started: Instant, outcome: ProbeOutcome) -> Option<Transition> {
        self.next_check = started + self.settings.interval;
        let target = match outcome {
            Ok(()) => {
                self.streak = self.streak.max(0) + 1;
                (self.streak >= i64::from(self.settings.healthy_threshold))
                    .then_some(HealthState::Healthy)
            }
            Err(failure) => {
                self.streak = self.streak.min(0) - 1;
                self.last_failure = Some(failure);
                (-self.streak >= i64::from(self.settings.unhealthy_threshold))
                    .then_some(HealthState::Unhealthy)
            }
        };
        match target {
            Some(to) if to != self.state => {
                let from = std::mem::replace(&mut self.state, to);
                let failure = (to == HealthState::Unhealthy)
                    .then_some(self.last_failure)
                    .flatten();
                Some(Transition { from, to, failure })
            }
            _ => None,
        }
    }

    /// The current state.
    pub fn state(&self) -> HealthState {
        self.state
    }

    /// The ELBv2 reason code for the current state (`None` when healthy).
    pub fn reason(&self) -> Option<&'static str> {
        match self.state {
            HealthState::Initial => Some(INITIAL_REASON),
            HealthState::Healthy => None,
            HealthState::Unhealthy => Some(
                self.last_failure
                    .map_or("Target.FailedHealthChecks", ProbeFailure::reason_code),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAIL: ProbeOutcome = Err(ProbeFailure::ConnectFailed);

    fn tracker(healthy: u32, unhealthy: u32) -> (HealthTracker, Instant) {
        let t0 = Instant::now();
        let settings = HealthSettings {
            healthy_threshold: healthy,
            unhealthy_threshold: unhealthy,
            interval: Duration::from_secs(10),
        };
        (HealthTracker::new(settings, t0), t0)
    }

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    #[test]
    fn initial_until_a_full_streak() {
        let (mut h, t0) = tracker(3, 2);
        assert_eq!(h.state(), HealthState::Initial);
        assert_eq!(h.reason(), Some(INITIAL_REASON));
        assert_eq!(h.poll_timeout(), t0, "the first check is due at once");
        assert_eq!(h.record(at(t0, 0), Ok(())), None);
        assert_eq!(h.poll_timeout(), at(t0, 10));
        assert_eq!(h.record(at(t0, 10), Ok(())), None);
        let t = h.record(at(t0, 20), Ok(())).unwrap();
        assert_eq!(
            (t.from, t.to, t.failure),
            (HealthState::Initial, HealthState::Healthy, None)
        );
        assert_eq!(h.reason(), None);
    }

    #[test]
    fn initial_to_unhealthy_names_the_failure() {
        let (mut h, t0) = tracker(3, 2);
        assert_eq!(h.record(t0, Err(ProbeFailure::Timeout)), None);
        let t = h.record(at(t0, 10), Err(ProbeFailure::Timeout)).unwrap();
        assert_eq!(t.to, HealthState::Unhealthy);
        assert_eq!(t.failure, Some(ProbeFailure::Timeout));
        assert_eq!(h.reason(), Some("Target.Timeout"));
    }

    #[test]
    fn flapping_never_changes_state_hysteresis() {
        let (mut h, t0) = tracker(2, 2);
        h.record(t0, Ok(()));
        assert!(h.record(at(t0, 10), Ok(())).is_some());
        // Up, down, up, down…: no streak ever reaches a threshold.
        for i in 0..20 {
            let outcome = if i % 2 == 0 { FAIL } else { Ok(()) };
            assert_eq!(h.record(at(t0, 20 + i * 10), outcome), None, "check {i}");
            assert_eq!(h.state(), HealthState::Healthy);
        }
    }

    #[test]
    fn recovery_needs_the_healthy_threshold() {
        let (mut h, t0) = tracker(3, 2);
        h.record(t0, FAIL);
        h.record(at(t0, 10), FAIL);
        assert_eq!(h.state(), HealthState::Unhealthy);
        h.record(at(t0, 20), Ok(()));
        h.record(at(t0, 30), Ok(()));
        assert_eq!(h.state(), HealthState::Unhealthy, "two of three");
        h.record(at(t0, 40), FAIL);
        h.record(at(t0, 50), Ok(()));
        h.record(at(t0, 60), Ok(()));
        assert_eq!(
            h.state(),
            HealthState::Unhealthy,
            "a failure restarts the streak"
        );
        let t = h.record(at(t0, 70), Ok(())).unwrap();
        assert_eq!(
            (t.from, t.to),
            (HealthState::Unhealthy, HealthState::Healthy)
        );
    }

    #[test]
    fn response_code_mismatch_reason_and_zero_thresholds() {
        let (mut h, t0) = tracker(0, 0);
        let t = h
            .record(t0, Err(ProbeFailure::ResponseCodeMismatch(503)))
            .unwrap();
        assert_eq!(
            t.to,
            HealthState::Unhealthy,
            "thresholds below 1 count as 1"
        );
        assert_eq!(h.reason(), Some("Target.ResponseCodeMismatch"));
        assert!(h.record(at(t0, 10), Ok(())).is_some());
    }
}
