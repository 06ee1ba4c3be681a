//! Underpass agent: runs inside one VPC and zone. It enrolls with the control plane once (a
//! join token and a CSR buy a certificate), then follows its desired state over mTLS by
//! long-polling, keeps the last state it received on disk, and hands every state to the data
//! plane. With the control plane down it keeps serving the last state (static stability); a
//! restarted agent starts from its cache before it reaches the server. It also serves the
//! VPC's DNS resolver (endpoint names, private DNS names) from the same state, and writes the
//! flow logs that cover its ENIs.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod cache;
mod config;
mod dns;
mod enroll;
mod error;
mod flow_logs;
mod host;
mod sync;

pub use config::AgentConfig;
pub use dns::{DnsHost, DnsHostConfig};
pub use enroll::Enrollment;
pub use error::AgentError;
pub use flow_logs::{
    FlowLogSettings, FlowLogSink, FlowLogStats, FlowLogWriter, DEFAULT_SPOOL_RECORDS,
};
pub use host::DataplaneApplier;
pub use sync::{run, Applier, RunningAgent};
