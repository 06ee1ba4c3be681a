//! The tunnel preamble: the first bytes a consumer agent sends on an mTLS tunnel stream to a
//! provider's gateway, describing the client flow, and the gateway's one-frame verdict.
//!
//! ```text
//! agent (TunnelConnect)                       gateway (TunnelAccept)
//!   ── preamble "UPT1" len body ──────────▶   parse; endpoint == client cert's?
//!                                             Output::Check(preamble) → driver decides
//!   ◀───────────── verdict "UPV1" code text ─ Input::Decision(Ok | Err(refusal))
//!   payload ⇄ payload                         Output::Admit { preamble, leftover_payload }
//! ```
//! Both machines are sans-IO (STYLE pattern 1): the driver feeds bytes and `now`, drains
//! `poll_output()`, and arms a timer for `poll_timeout()`.

pub mod accept;
pub mod connect;
mod frame;

#[cfg(test)]
mod frame_tests;
#[cfg(test)]
mod tests;

use std::fmt;
use std::num::NonZeroU8;

pub use accept::TunnelAccept;
pub use connect::TunnelConnect;
pub use frame::{
    parse_preamble, parse_verdict, Preamble, Verdict, MAX_PREAMBLE_LEN, MAX_REFUSAL_MESSAGE_LEN,
    MAX_VERDICT_LEN, PREAMBLE_MAGIC, PREAMBLE_VERSION, VERDICT_MAGIC,
};

/// Why the gateway refused a tunnel, as a wire code (never 0, which means "admitted").
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefusalCode(NonZeroU8);

const fn code(n: u8) -> RefusalCode {
    match NonZeroU8::new(n) {
        Some(n) => RefusalCode(n),
        None => panic!("refusal code 0 means admitted"),
    }
}

impl RefusalCode {
    /// The endpoint connection is not accepted (pendingAcceptance, rejected, deleted…).
    pub const NOT_ACCEPTED: Self = code(1);
    /// The gateway does not know the endpoint, or it is not for this service.
    pub const UNKNOWN_ENDPOINT: Self = code(2);
    /// The preamble names another endpoint than the client certificate does.
    pub const ENDPOINT_MISMATCH: Self = code(3);
    /// The preamble was malformed, too large, of an unsupported version, or followed by too much.
    pub const MALFORMED: Self = code(4);
    /// The preamble, or the admission decision, did not arrive before the deadline.
    pub const TIMEOUT: Self = code(5);
    /// The service cannot take the flow now (no healthy target, overloaded).
    pub const UNAVAILABLE: Self = code(6);

    /// The code for a wire byte; `None` for 0, which means "admitted".
    pub fn new(byte: u8) -> Option<Self> {
        NonZeroU8::new(byte).map(Self)
    }

    /// The wire byte.
    pub fn get(self) -> u8 {
        self.0.get()
    }

    /// A stable name for the known codes (for logs and metrics).
    pub fn name(self) -> Option<&'static str> {
        Some(match self.get() {
            1 => "NotAccepted",
            2 => "UnknownEndpoint",
            3 => "EndpointMismatch",
            4 => "Malformed",
            5 => "Timeout",
            6 => "Unavailable",
            _ => return None,
        })
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "code {}", self.get()),
        }
    }
}

impl fmt::Debug for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefusalCode({self})")
    }
}

/// A refusal: a code for programs and a short printable message for people.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Refusal {
    /// What kind of refusal this is.
    pub code: RefusalCode,
    /// At most [`MAX_REFUSAL_MESSAGE_LEN`] bytes of UTF-8 with no control characters.
    pub message: String,
}

impl Refusal {
    /// A refusal whose message is made fit for the wire (control characters replaced, truncated).
    pub fn new(code: RefusalCode, message: impl AsRef<str>) -> Self {
        Self {
            code,
            message: frame::wire_message(message.as_ref()),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}
