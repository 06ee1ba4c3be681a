//! The gateway's side: read the preamble, check it against the client certificate, ask the
//! driver for an admission decision, answer with a verdict. No sockets, no `Instant::now()`.

use std::collections::VecDeque;
use std::time::Instant;

use underpass_domain::EndpointId;

use super::frame::{parse_preamble, Preamble, Verdict};
use super::{Refusal, RefusalCode};
use crate::ParseError;

/// The most payload a client may send after its preamble before the verdict; more is refused.
pub const MAX_EARLY_PAYLOAD: usize = 64 * 1024;

/// What the driver feeds the acceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// Bytes read from the tunnel stream (after the TLS handshake).
    Bytes(&'a [u8]),
    /// The peer closed its sending side.
    Eof,
    /// The timer armed for [`TunnelAccept::poll_timeout`] fired.
    Timeout,
    /// The answer to [`Output::Check`]: admit, or refuse with a reason sent to the client.
    Decision(Result<(), Refusal>),
}

/// What the acceptor asks the driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes to the tunnel stream.
    Send(Vec<u8>),
    /// Decide whether this flow is admitted (acceptance, policy, revocation, healthy targets),
    /// then call `handle(now, Input::Decision(..))`. The endpoint already matches the certificate.
    Check(Preamble),
    /// The flow is admitted: pipe the stream to a target, starting with `leftover_payload`.
    Admit {
        /// The client flow, as the consumer agent described it.
        preamble: Preamble,
        /// Payload bytes that arrived after the preamble, to forward first.
        leftover_payload: Vec<u8>,
    },
    /// Close the stream (after sending anything queued before this).
    Close(RejectReason),
}

/// Why the acceptor closed a tunnel stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The preamble or the decision did not arrive before the deadline.
    #[error("no complete preamble and decision before the deadline")]
    Timeout,
    /// The preamble was malformed, too large or of another version.
    #[error("malformed tunnel preamble: {0}")]
    Malformed(&'static str),
    /// The peer closed the stream before the flow was admitted.
    #[error("the peer closed the stream before it was admitted")]
    PeerClosed,
    /// The preamble claims another endpoint than the client certificate names.
    #[error("preamble names {claimed}, but the client certificate names {certified}")]
    EndpointMismatch {
        /// The endpoint named by the TLS client certificate.
        certified: EndpointId,
        /// The endpoint named by the preamble.
        claimed: EndpointId,
    },
    /// The injected decision refused the flow.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// More than [`MAX_EARLY_PAYLOAD`] bytes arrived before the verdict.
    #[error("more than {MAX_EARLY_PAYLOAD} payload bytes arrived before the verdict")]
    EarlyPayloadLimit,
}

impl RejectReason {
    /// The refusal sent to the client for this reason, if one is sent at all.
    fn refusal(&self) -> Option<Refusal> {
        let code = match self {
            Self::PeerClosed => return None,
            Self::Refused(refusal) => return Some(refusal.clone()),
            Self::Timeout => RefusalCode::TIMEOUT,
            Self::Malformed(_) | Self::EarlyPayloadLimit => RefusalCode::MALFORMED,
            Self::EndpointMismatch { .. } => RefusalCode::ENDPOINT_MISMATCH,
        };
        Some(Refusal::new(code, self.to_string()))
    }
}

#[derive(Debug)]
enum State {
    /// Buffering until a whole preamble has arrived (at most 512 bytes kept between calls).
    Preamble { buf: Vec<u8> },
    /// `Output::Check` was emitted; payload that arrives meanwhile is kept, up to a limit.
    Deciding { preamble: Preamble, early: Vec<u8> },
    /// `Admit` or `Close` was emitted; further input is ignored.
    Done,
}

/// The gateway's sans-IO acceptor for one tunnel stream.
#[derive(Debug)]
pub struct TunnelAccept {
    certified: EndpointId,
    deadline: Instant,
    state: State,
    out: VecDeque<Output>,
}

impl TunnelAccept {
    /// An acceptor for a stream whose TLS client certificate names `certified`; the preamble
    /// and the decision must both arrive before `deadline`.
    pub fn new(certified: EndpointId, deadline: Instant) -> Self {
        Self {
            certified,
            deadline,
            state: State::Preamble { buf: Vec::new() },
            out: VecDeque::new(),
        }
    }

    /// Advances the machine; then drain [`poll_output`](Self::poll_output).
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        if matches!(self.state, State::Done) {
            return;
        }
        if now >= self.deadline {
            return self.reject(RejectReason::Timeout);
        }
        match input {
            Input::Timeout => {} // Early timer: nothing is due yet.
            Input::Eof => self.reject(RejectReason::PeerClosed),
            Input::Bytes(bytes) => self.handle_bytes(bytes),
            Input::Decision(decision) => self.handle_decision(decision),
        }
    }

    /// The next thing for the driver to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call `handle(now, Input::Timeout)`; `None` once admitted or closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.is_done()).then_some(self.deadline)
    }

    /// Whether `Admit` or `Close` has been emitted.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn handle_bytes(&mut self, bytes: &[u8]) {
        match &mut self.state {
            State::Preamble { buf } => {
                buf.extend_from_slice(bytes);
                match parse_preamble(buf) {
                    Ok((preamble, used)) => {
                        let early = buf.split_off(used);
                        self.on_preamble(preamble, early);
                    }
                    Err(ParseError::Incomplete { .. }) => {}
                    Err(ParseError::Invalid(reason)) => {
                        self.reject(RejectReason::Malformed(reason))
                    }
                }
            }
            State::Deciding { early, .. } => {
                if early.len() + bytes.len() > MAX_EARLY_PAYLOAD {
                    return self.reject(RejectReason::EarlyPayloadLimit);
                }
                early.extend_from_slice(bytes);
            }
            State::Done => {}
        }
    }

    fn on_preamble(&mut self, preamble: Preamble, early: Vec<u8>) {
        if preamble.endpoint != self.certified {
            let reason = RejectReason::EndpointMismatch {
                certified: self.certified,
                claimed: preamble.endpoint,
            };
            return self.reject(reason);
        }
        if early.len() > MAX_EARLY_PAYLOAD {
            return self.reject(RejectReason::EarlyPayloadLimit);
        }
        self.out.push_back(Output::Check(preamble.clone()));
        self.state = State::Deciding { preamble, early };
    }

    fn handle_decision(&mut self, decision: Result<(), Refusal>) {
        let (preamble, early) = match std::mem::replace(&mut self.state, State::Done) {
            State::Deciding { preamble, early } => (preamble, early),
            other => {
                // A decision before any Check is a driver bug; ignoring it admits nothing.
                self.state = other;
                return;
            }
        };
        match decision {
            Ok(()) => {
                self.out.push_back(Output::Send(Verdict::Admitted.encode()));
                self.out.push_back(Output::Admit {
                    preamble,
                    leftover_payload: early,
                });
            }
            Err(refusal) => self.reject(RejectReason::Refused(refusal)),
        }
    }

    /// Queues the refusal verdict (when the peer can still read it) and the close.
    fn reject(&mut self, reason: RejectReason) {
        if let Some(refusal) = reason.refusal() {
            self.out
                .push_back(Output::Send(Verdict::Refused(refusal).encode()));
        }
        self.out.push_back(Output::Close(reason));
        self.state = State::Done;
    }
}
