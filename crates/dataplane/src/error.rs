//! The data plane's one error enum, and the per-item problems an apply reports.

use std::fmt;
use std::net::SocketAddr;

use underpass_pki::PkiError;

/// Why an apply, or one item of it, failed.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// The trust bundle cannot be used (a CA certificate or a revoked serial does not parse).
    /// Nothing was changed: the previous state, revocations included, stays in force.
    #[error("trust bundle: {0}")]
    Trust(String),
    /// A certificate, the agent key or a TLS config for one item could not be built.
    #[error("{what}: {source}")]
    Tls {
        /// What the certificate is for.
        what: String,
        /// The PKI error.
        source: PkiError,
    },
    /// A SPIFFE id in the state does not parse.
    #[error("{what}: {source}")]
    Identity {
        /// Where the id was found.
        what: String,
        /// Why it does not parse.
        source: PkiError,
    },
    /// A listener address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// Two items of the state want the same address.
    #[error("{addr} is claimed by both {first} and {second}")]
    Conflict {
        /// The address.
        addr: SocketAddr,
        /// The item that claimed it first (and keeps it).
        first: String,
        /// The item that is refused.
        second: String,
    },
    /// A setting the data plane cannot carry out.
    #[error("{what}: {detail}")]
    Unsupported {
        /// Which setting.
        what: String,
        /// Why.
        detail: String,
    },
    /// The data plane is shutting down.
    #[error("the data plane is shut down")]
    ShutDown,
}

/// One item of an apply that is not (or not fully) served, and why.
#[derive(Debug)]
pub struct ApplyProblem {
    /// The item: `endpoint vpce-…`, `gateway <arn> at <addr>`, `target group <arn>`…
    pub item: String,
    /// What went wrong.
    pub error: DataplaneError,
}

impl fmt::Display for ApplyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.item, self.error)
    }
}
