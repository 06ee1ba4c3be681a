//! The agent hosts the data plane: desired states go to [`Dataplane::apply`], health comes back.

use std::future::Future;
use std::pin::Pin;

use underpass_dataplane::Dataplane;
use underpass_proto::sync::{AgentState, HealthReport};

use crate::Applier;

/// The data plane as the sync loop's applier.
pub struct DataplaneApplier(pub Dataplane);

impl Applier for DataplaneApplier {
    fn apply(
        &self,
        state: AgentState,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            self.0
                .apply(&state)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn health(&self) -> HealthReport {
        HealthReport {
            targets: self.0.target_health(),
        }
    }
}
