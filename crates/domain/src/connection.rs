//! The endpoint-connection state machine: which states exist and which moves between them are
//! legal. The control plane applies every change through [`ConnState::apply`], so an illegal
//! transition can never be written, whatever order concurrent calls arrive in.

use std::fmt;
use std::str::FromStr;

/// The state of an endpoint connection (the `VpcEndpointState` of EC2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ConnState {
    /// Created against a service that requires acceptance; waits for the provider.
    PendingAcceptance,
    /// Accepted (or needing no acceptance) and being provisioned on the agents.
    Pending,
    /// Carries traffic.
    Available,
    /// The provider rejected it; it carries nothing and can only be deleted.
    Rejected,
    /// The consumer is deleting it.
    Deleting,
    /// Gone; kept for a while for Describe calls.
    Deleted,
    /// Provisioning failed; it can only be deleted.
    Failed,
    /// The provider never answered the request in time.
    Expired,
}

/// What can happen to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnEvent {
    /// The endpoint was created against a service that requires acceptance.
    CreateWithAcceptance,
    /// The endpoint was created against a service that accepts automatically.
    CreateAutoAccept,
    /// The provider accepted (`AcceptVpcEndpointConnections`).
    Accept,
    /// The provider rejected (`RejectVpcEndpointConnections`).
    Reject,
    /// The agents report the endpoint ready.
    Provisioned,
    /// Provisioning failed.
    ProvisionFailed,
    /// The request waited too long for the provider.
    Expire,
    /// The consumer deleted the endpoint (`DeleteVpcEndpoints`).
    Delete,
    /// The agents finished tearing it down.
    Removed,
}

/// A refused transition: the state it was in, and what was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the connection is in state '{from}', which does not allow {event:?}")]
pub struct IllegalTransition {
    /// The state at the time.
    pub from: ConnState,
    /// The event that was refused.
    pub event: ConnEvent,
}

impl ConnState {
    /// The state a freshly created endpoint starts in (the `Create*` events).
    pub fn initial(acceptance_required: bool) -> Self {
        if acceptance_required {
            Self::PendingAcceptance
        } else {
            Self::Pending
        }
    }

    /// Applies `event`, returning the new state, or why it is not allowed now.
    pub fn apply(self, event: ConnEvent) -> Result<Self, IllegalTransition> {
        use ConnEvent as E;
        use ConnState as S;
        let next = match (self, event) {
            (S::PendingAcceptance, E::Accept) => S::Pending,
            // The provider may reject a request, or cut a connection that was already live.
            (S::PendingAcceptance | S::Pending | S::Available, E::Reject) => S::Rejected,
            (S::Pending, E::Provisioned) => S::Available,
            (S::Pending, E::ProvisionFailed) => S::Failed,
            (S::PendingAcceptance, E::Expire) => S::Expired,
            (
                S::PendingAcceptance
                | S::Pending
                | S::Available
                | S::Rejected
                | S::Failed
                | S::Expired,
                E::Delete,
            ) => S::Deleting,
            (S::Deleting, E::Removed) => S::Deleted,
            _ => return Err(IllegalTransition { from: self, event }),
        };
        Ok(next)
    }

    /// Whether traffic may flow: only `available` connections carry anything.
    pub fn carries_traffic(self) -> bool {
        self == Self::Available
    }

    /// Whether no further event except deletion can change it.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Deleted)
    }

    /// EC2's spelling of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingAcceptance => "pendingAcceptance",
            Self::Pending => "pending",
            Self::Available => "available",
            Self::Rejected => "rejected",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    /// Every state, for exhaustive tests and listings.
    pub const ALL: [ConnState; 8] = [
        Self::PendingAcceptance,
        Self::Pending,
        Self::Available,
        Self::Rejected,
        Self::Deleting,
        Self::Deleted,
        Self::Failed,
        Self::Expired,
    ];
}

impl ConnEvent {
    /// Every event, for exhaustive tests.
    pub const ALL: [ConnEvent; 9] = [
        Self::CreateWithAcceptance,
        Self::CreateAutoAccept,
        Self::Accept,
        Self::Reject,
        Self::Provisioned,
        Self::ProvisionFailed,
        Self::Expire,
        Self::Delete,
        Self::Removed,
    ];
}

impl fmt::Display for ConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConnState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown endpoint connection state {:?}",
                    crate::account::truncated(s)
                )
            })
    }
}

impl TryFrom<String> for ConnState {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ConnState> for String {
    fn from(s: ConnState) -> String {
        s.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnEvent as E;
    use ConnState as S;

    /// The whole table of legal moves; everything else must be refused.
    const LEGAL: &[(ConnState, ConnEvent, ConnState)] = &[
        (S::PendingAcceptance, E::Accept, S::Pending),
        (S::PendingAcceptance, E::Reject, S::Rejected),
        (S::PendingAcceptance, E::Expire, S::Expired),
        (S::PendingAcceptance, E::Delete, S::Deleting),
        (S::Pending, E::Provisioned, S::Available),
        (S::Pending, E::ProvisionFailed, S::Failed),
        (S::Pending, E::Reject, S::Rejected),
        (S::Pending, E::Delete, S::Deleting),
        (S::Available, E::Reject, S::Rejected),
        (S::Available, E::Delete, S::Deleting),
        (S::Rejected, E::Delete, S::Deleting),
        (S::Failed, E::Delete, S::Deleting),
        (S::Expired, E::Delete, S::Deleting),
        (S::Deleting, E::Removed, S::Deleted),
    ];

    #[test]
    fn every_pair_is_legal_exactly_when_listed() {
        let mut legal = 0;
        for from in S::ALL {
            for event in E::ALL {
                let expected = LEGAL
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                match (from.apply(event), expected) {
                    (Ok(to), Some(want)) => {
                        assert_eq!(to, want, "{from} --{event:?}-->");
                        legal += 1;
                    }
                    (Err(e), None) => assert_eq!(e, IllegalTransition { from, event }),
                    (got, want) => panic!("{from} --{event:?}--> gave {got:?}, expected {want:?}"),
                }
            }
        }
        assert_eq!(legal, LEGAL.len());
    }

    #[test]
    fn only_available_carries_traffic_and_accepting_twice_fails() {
        assert_eq!(S::ALL.iter().filter(|s| s.carries_traffic()).count(), 1);
        let s = S::initial(true)
            .apply(E::Accept)
            .unwrap()
            .apply(E::Provisioned)
            .unwrap();
        assert!(s.carries_traffic());
        let err = s.apply(E::Accept).unwrap_err();
        assert!(err.to_string().contains("available"), "{err}");
        assert_eq!(S::initial(false), S::Pending);
        assert!(S::Rejected.apply(E::Accept).is_err());
        assert!(S::Deleted.is_terminal());
    }

    #[test]
    fn names_round_trip() {
        for s in S::ALL {
            assert_eq!(s.as_str().parse::<ConnState>().unwrap(), s);
        }
        assert!("PendingAcceptance".parse::<ConnState>().is_err());
    }
}
