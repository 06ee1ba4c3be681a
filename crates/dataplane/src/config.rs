//! Settings of one data plane: timeouts, pool and buffer sizes, the agent's private key.

use std::fmt;
use std::time::Duration;

use zeroize::Zeroizing;

/// The largest copy buffer per direction of a flow (RELIABILITY item 67).
pub const MAX_BUFFER_SIZE: usize = 256 * 1024;

/// The smallest copy buffer per direction; smaller settings are raised to it.
pub const MIN_BUFFER_SIZE: usize = 1024;

/// How a gateway spreads new flows over the targets it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Balancing {
    /// Each new flow goes to the next target in turn.
    #[default]
    RoundRobin,
    /// Each new flow goes to the target with the fewest live flows from this gateway
    /// (ties broken in turn).
    LeastConnections,
}

/// Health-check timing that replaces every target group's `interval_secs` and `timeout_secs`.
///
/// The control plane speaks whole seconds; tests and `underpass dev` use this to check every
/// few hundred milliseconds. Thresholds still come from the target group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthTiming {
    /// Time between the starts of two checks of one target.
    pub interval: Duration,
    /// Time before one check counts as failed (capped at `interval`).
    pub timeout: Duration,
}

/// Settings of a [`crate::Dataplane`].
///
/// The defaults keep [`pool_max_idle`](Self::pool_max_idle) plus
/// [`connect_timeout`](Self::connect_timeout) below the gateway's
/// [`preamble_timeout`](Self::preamble_timeout), so a pooled tunnel is never used after the
/// gateway stopped waiting for its preamble. Agents on both sides of a tunnel should use the
/// same values, or at least keep that inequality.
#[derive(Clone)]
pub struct DataplaneConfig {
    /// The agent's private key (PEM). Every `IssuedIdentity` certificate in the agent state is
    /// issued for this key.
    pub agent_key_pem: Zeroizing<String>,
    /// Carry flows as streams of one long-lived tunnel per (endpoint, gateway) (the default;
    /// see the `mux` module), rather than one pre-established tunnel per flow. Gateways accept
    /// both kinds of tunnel whatever this says.
    pub multiplex: bool,
    /// Multiplexed tunnels: an idle consumer pings its gateway this often, and closes the tunnel
    /// (its flows break, new ones open a fresh tunnel or go to another gateway) when an answer
    /// takes longer than this again: a gateway that vanished without a FIN is found in at
    /// most twice this, not at the flows' idle timeout.
    pub tunnel_keepalive: Duration,
    /// Per-flow tunnels only: pre-established tunnels kept per (endpoint, gateway address); 0
    /// turns pooling off and puts the TLS handshake on every flow's critical path.
    pub tunnel_pool_size: usize,
    /// A pooled tunnel older than this is closed instead of used.
    pub pool_max_idle: Duration,
    /// TCP connect timeout: consumer agent to gateway, and gateway to target.
    pub connect_timeout: Duration,
    /// TLS handshake timeout on both sides; a stalled handshake is closed when it expires
    /// (RELIABILITY item 60).
    pub handshake_timeout: Duration,
    /// Gateway: time after the handshake for the preamble to arrive and the flow to be decided
    /// (the target connect included).
    pub preamble_timeout: Duration,
    /// Consumer: time after the preamble is sent for the gateway's verdict.
    pub verdict_timeout: Duration,
    /// Consumer: a flow with no bytes either way for this long is closed (the gateway uses the
    /// load balancer's `idle_timeout_secs`).
    pub endpoint_idle_timeout: Duration,
    /// Copy buffer per direction of a flow when it starts moving bytes, clamped to
    /// [`MIN_BUFFER_SIZE`]..=[`MAX_BUFFER_SIZE`].
    pub buffer_size: usize,
    /// The copy buffer a direction grows to, doubling each time a read fills it, while bytes
    /// keep coming (bulk transfers); a read that fills a quarter or less halves it again, down
    /// to `buffer_size`. Clamped to `buffer_size`..=[`MAX_BUFFER_SIZE`].
    pub max_buffer_size: usize,
    /// Flow events queued for the [`crate::FlowSink`]; more are dropped and counted.
    pub flow_event_capacity: usize,
    /// The accept backlog of every listener.
    pub listen_backlog: u32,
    /// How gateways pick a target.
    pub balancing: Balancing,
    /// Replaces the health-check interval and timeout of every target group (tests, dev mode).
    pub health_timing: Option<HealthTiming>,
    /// How long [`crate::Dataplane::shutdown`] waits for flows and tasks to finish.
    pub shutdown_grace: Duration,
}

impl DataplaneConfig {
    /// The defaults, with the agent's key.
    pub fn new(agent_key_pem: Zeroizing<String>) -> Self {
        Self {
            agent_key_pem,
            multiplex: true,
            tunnel_keepalive: Duration::from_secs(10),
            tunnel_pool_size: 4,
            pool_max_idle: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            preamble_timeout: Duration::from_secs(30),
            verdict_timeout: Duration::from_secs(10),
            endpoint_idle_timeout: Duration::from_secs(350),
            buffer_size: 16 * 1024,
            // Measured with `bench/ab` (W1, one stream through a multiplexed tunnel, variants
            // side by side): 16 KiB reads and frames 5.6 Gbit/s, 64 KiB 6.5-8.6; 128 and
            // 256 KiB saved a little more CPU per byte but moved no more bytes.
            max_buffer_size: 64 * 1024,
            flow_event_capacity: 4096,
            listen_backlog: 1024,
            balancing: Balancing::default(),
            health_timing: None,
            shutdown_grace: Duration::from_secs(5),
        }
    }

    /// The copy buffer sizes actually used: (first, largest).
    pub(crate) fn buffers(&self) -> (usize, usize) {
        let first = self.buffer_size.clamp(MIN_BUFFER_SIZE, MAX_BUFFER_SIZE);
        (first, self.max_buffer_size.clamp(first, MAX_BUFFER_SIZE))
    }
}

impl fmt::Debug for DataplaneConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataplaneConfig")
            .field("agent_key_pem", &"***")
            .field("multiplex", &self.multiplex)
            .field("tunnel_keepalive", &self.tunnel_keepalive)
            .field("tunnel_pool_size", &self.tunnel_pool_size)
            .field("pool_max_idle", &self.pool_max_idle)
            .field("connect_timeout", &self.connect_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("preamble_timeout", &self.preamble_timeout)
            .field("verdict_timeout", &self.verdict_timeout)
            .field("endpoint_idle_timeout", &self.endpoint_idle_timeout)
            .field("buffer_size", &self.buffer_size)
            .field("max_buffer_size", &self.max_buffer_size)
            .field("flow_event_capacity", &self.flow_event_capacity)
            .field("listen_backlog", &self.listen_backlog)
            .field("balancing", &self.balancing)
            .field("health_timing", &self.health_timing)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_the_key_and_buffers_are_clamped() {
        let mut cfg = DataplaneConfig::new(Zeroizing::new("-----BEGIN PRIVATE KEY-----".into()));
        assert!(!format!("{cfg:?}").contains("BEGIN"));
        assert!(cfg.pool_max_idle + cfg.connect_timeout < cfg.preamble_timeout);
        assert_eq!(cfg.buffers(), (16 * 1024, 64 * 1024));
        cfg.buffer_size = 0;
        cfg.max_buffer_size = 0;
        assert_eq!(cfg.buffers(), (MIN_BUFFER_SIZE, MIN_BUFFER_SIZE));
        cfg.buffer_size = 1 << 30;
        assert_eq!(cfg.buffers(), (MAX_BUFFER_SIZE, MAX_BUFFER_SIZE));
        cfg.buffer_size = 4096;
        cfg.max_buffer_size = 1 << 30;
        assert_eq!(cfg.buffers(), (4096, MAX_BUFFER_SIZE));
    }
}
