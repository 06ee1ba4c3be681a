//! The agent's error type.

/// What can stop the agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Not enrolled and no join token to enroll with.
    #[error(
        "this agent is not enrolled: give it a join token (--join-token or UNDERPASS_JOIN_TOKEN)"
    )]
    NotEnrolled,
    /// The control plane refused the enrollment.
    #[error("enrollment refused: {0}")]
    EnrollRefused(String),
    /// The control plane could not be reached.
    #[error("cannot reach the control plane at {url}: {detail}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// A file in the data dir is unusable.
    #[error("data dir: {0}")]
    DataDir(String),
    /// Certificates or keys are unusable.
    #[error("pki: {0}")]
    Pki(#[from] underpass_pki::PkiError),
    /// A sync request failed.
    #[error("sync: {0}")]
    Sync(String),
}
