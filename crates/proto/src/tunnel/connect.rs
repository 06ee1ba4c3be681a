//! The consumer agent's side: send the preamble, wait for the gateway's verdict.
//! No sockets, no `Instant::now()`.

use std::collections::VecDeque;
use std::time::Instant;

use super::frame::{parse_verdict, Preamble, Verdict};
use super::Refusal;
use crate::ParseError;

/// What the driver feeds the connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// Bytes read from the tunnel stream (after the TLS handshake).
    Bytes(&'a [u8]),
    /// The gateway closed its sending side.
    Eof,
    /// The timer armed for [`TunnelConnect::poll_timeout`] fired.
    Timeout,
}

/// What the connector asks the driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write these bytes to the tunnel stream (the preamble, first thing after `new`).
    Send(Vec<u8>),
    /// Admitted: pipe the client's connection through, starting with `leftover` towards it.
    Established {
        /// Bytes from the provider's side that arrived right after the verdict.
        leftover: Vec<u8>,
    },
    /// Close the tunnel stream and the client's connection.
    Close(ConnectFailure),
}

/// Why a tunnel was not established.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectFailure {
    /// The gateway refused the flow.
    #[error("the gateway refused the flow: {0}")]
    Refused(Refusal),
    /// No verdict before the deadline.
    #[error("no verdict from the gateway before the deadline")]
    Timeout,
    /// The gateway's answer was not a verdict.
    #[error("malformed verdict from the gateway: {0}")]
    Malformed(&'static str),
    /// The gateway closed the stream without a verdict.
    #[error("the gateway closed the stream without a verdict")]
    PeerClosed,
}

#[derive(Debug)]
enum State {
    /// The preamble is queued or sent; buffering the verdict (at most 261 bytes between calls).
    Awaiting { buf: Vec<u8> },
    /// `Established` or `Close` was emitted; further input is ignored.
    Done,
}

/// The consumer agent's sans-IO connector for one tunnel stream.
#[derive(Debug)]
pub struct TunnelConnect {
    deadline: Instant,
    state: State,
    out: VecDeque<Output>,
}

impl TunnelConnect {
    /// A connector that sends `preamble` at once and waits for a verdict until `deadline`.
    pub fn new(preamble: &Preamble, deadline: Instant) -> Self {
        let out = VecDeque::from([Output::Send(preamble.encode())]);
        Self {
            deadline,
            state: State::Awaiting { buf: Vec::new() },
            out,
        }
    }

    /// Advances the machine; then drain [`poll_output`](Self::poll_output).
    pub fn handle(&mut self, now: Instant, input: Input<'_>) {
        let State::Awaiting { buf } = &mut self.state else {
            return;
        };
        if now >= self.deadline {
            return self.finish(Output::Close(ConnectFailure::Timeout));
        }
        match input {
            Input::Timeout => {} // Early timer: nothing is due yet.
            Input::Eof => self.finish(Output::Close(ConnectFailure::PeerClosed)),
            Input::Bytes(bytes) => {
                buf.extend_from_slice(bytes);
                match parse_verdict(buf) {
                    Ok((Verdict::Admitted, used)) => {
                        let leftover = buf.split_off(used);
                        self.finish(Output::Established { leftover });
                    }
                    Ok((Verdict::Refused(refusal), _)) => {
                        self.finish(Output::Close(ConnectFailure::Refused(refusal)));
                    }
                    Err(ParseError::Incomplete { .. }) => {}
                    Err(ParseError::Invalid(reason)) => {
                        self.finish(Output::Close(ConnectFailure::Malformed(reason)));
                    }
                }
            }
        }
    }

    /// The next thing for the driver to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call `handle(now, Input::Timeout)`; `None` once established or closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.is_done()).then_some(self.deadline)
    }

    /// Whether `Established` or `Close` has been emitted.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn finish(&mut self, output: Output) {
        self.out.push_back(output);
        self.state = State::Done;
    }
}
