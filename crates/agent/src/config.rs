//! Agent settings.

use std::fmt;
use std::path::PathBuf;

use zeroize::Zeroizing;

/// How the agent runs.
#[derive(Clone)]
pub struct AgentConfig {
    /// The control plane's API URL (for enrollment), e.g. `http://127.0.0.1:4510`.
    pub server_url: String,
    /// Where the key, certificates and the state cache live.
    pub data_dir: PathBuf,
    /// A one-time join token, needed only for the first start.
    pub join_token: Option<Zeroizing<String>>,
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentConfig")
            .field("server_url", &self.server_url)
            .field("data_dir", &self.data_dir)
            .field("join_token", &self.join_token.as_ref().map(|_| "***"))
            .finish()
    }
}
