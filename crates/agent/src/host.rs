//! The agent hosts the data plane and the VPC's resolver: desired states go to
//! [`Dataplane::apply`] and to the [`DnsHost`], health comes back.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use underpass_dataplane::Dataplane;
use underpass_proto::sync::{AgentState, HealthReport};

use crate::dns::{DnsHost, DnsHostConfig};
use crate::flow_logs::FlowLogWriter;
use crate::Applier;

/// The data plane (and, when configured, the VPC's resolver and the flow-log writer) as the
/// sync loop's applier.
pub struct DataplaneApplier {
    dataplane: Dataplane,
    dns: Option<Arc<DnsHost>>,
    flow_logs: Option<FlowLogWriter>,
}

impl DataplaneApplier {
    /// The data plane alone.
    pub fn new(dataplane: Dataplane) -> Self {
        Self {
            dataplane,
            dns: None,
            flow_logs: None,
        }
    }

    /// Also writes flow logs (the data plane must have been built with `writer.sink()`).
    pub fn with_flow_logs(mut self, writer: FlowLogWriter) -> Self {
        writer.watch_drops(self.dataplane.dropped_flow_events_handle());
        writer.watch_live_flows(self.dataplane.live_flows_handle());
        self.flow_logs = Some(writer);
        self
    }

    /// Also serves the VPC's resolver.
    pub fn with_dns(mut self, cfg: DnsHostConfig) -> Self {
        self.dns = Some(Arc::new(DnsHost::new(cfg)));
        self
    }

    /// The resolver host, if DNS is served.
    pub fn dns(&self) -> Option<Arc<DnsHost>> {
        self.dns.clone()
    }
}

impl Applier for DataplaneApplier {
    fn apply(
        &self,
        state: AgentState,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            if let Some(dns) = &self.dns {
                dns.apply(state.dns.as_ref()).await;
            }
            // Before the data plane: flows on new ENIs are covered from their first byte.
            if let Some(writer) = &self.flow_logs {
                writer.apply(&state);
            }
            self.dataplane
                .apply(&state)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn health(&self) -> HealthReport {
        HealthReport {
            targets: self.dataplane.target_health(),
            flow_logs: self
                .flow_logs
                .as_ref()
                .map(FlowLogWriter::delivery)
                .unwrap_or_default(),
        }
    }
}
