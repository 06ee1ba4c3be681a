//! The one parse error shared by every incremental parser in this crate.

/// Why an incremental parser could not return a value yet, or ever.
///
/// `Incomplete` means "read more and call again"; `Invalid` means "close the connection":
/// the input can never become valid, whatever follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The buffer is a valid prefix; at least `needed` more bytes are required.
    #[error("incomplete input: {needed} more bytes needed")]
    Incomplete {
        /// The minimum number of extra bytes before the parser can make progress.
        needed: usize,
    },
    /// The input is malformed; the reason is a short static label fit for a metric.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
}
