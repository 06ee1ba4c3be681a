//! Server settings.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How the control plane runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the state, keys and CA live.
    pub data_dir: PathBuf,
    /// The API listener.
    pub listen: SocketAddr,
    /// The region name.
    pub region: String,
    /// Zones of the region, e.g. `us-east-1a`.
    pub zones: Vec<String>,
    /// The `<prefix>` of service names `com.<prefix>.vpce.<region>.vpce-svc-…`.
    pub service_name_prefix: String,
}

impl ServerConfig {
    /// Defaults for `data_dir`: loopback API on a free port, region `us-east-1` with three zones.
    pub fn with_data_dir(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "us-east-1".into(),
            zones: ["a", "b", "c"]
                .iter()
                .map(|z| format!("us-east-1{z}"))
                .collect(),
            service_name_prefix: "underpass".into(),
        }
    }
}
