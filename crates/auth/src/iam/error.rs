//! Why a policy document is refused.

use super::policy::PolicyKind;

/// Why a policy document was refused. A refused document yields no [`super::Policy`], so nothing
/// of it can ever be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The raw text is longer than the absolute cap that applies before any other check.
    #[error("policy document is {actual} bytes; no policy document may exceed {limit} bytes")]
    TooLong {
        /// Length of the raw text in bytes.
        actual: usize,
        /// The absolute cap in bytes.
        limit: usize,
    },
    /// The document exceeds the size quota of its kind.
    #[error("{kind} policy is {actual} {unit}; the limit is {limit}")]
    TooLarge {
        /// Which kind of policy the quota belongs to.
        kind: PolicyKind,
        /// Measured size, in `unit`.
        actual: usize,
        /// The quota, in `unit`.
        limit: usize,
        /// What is counted: "characters" or "non-whitespace characters".
        unit: &'static str,
    },
    /// The text is not strict JSON: bad syntax, a duplicate key, or nesting deeper than 128 levels.
    #[error("policy document is not valid JSON: {0}")]
    Json(String),
    /// Valid JSON but not a valid policy; `path` names the element, e.g. `Statement[2].Effect`.
    #[error("{path}: {message}")]
    Invalid {
        /// Where the problem is, e.g. `Statement[0].Condition.IpAddress.aws:SourceIp[1]`.
        path: String,
        /// What is wrong there.
        message: String,
    },
}

impl PolicyError {
    /// The AWS error code for this error: `LimitExceeded` for size, else `MalformedPolicyDocument`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLong { .. } | Self::TooLarge { .. } => "LimitExceeded",
            Self::Json(_) | Self::Invalid { .. } => "MalformedPolicyDocument",
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}
