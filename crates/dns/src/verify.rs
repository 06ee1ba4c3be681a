//! TXT verification of a private DNS name: the provider publishes `_<random>.<name>` with the
//! value `vpce:<random>`; the control plane looks it up through the resolvers it is configured
//! with and compares the value exactly.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, Query as Question, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::time::Instant;

use crate::client::{exchange, system_resolvers, ClientError};

/// What the lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtCheck {
    /// A TXT record with exactly the expected value.
    Verified,
    /// TXT records, none with the expected value (their values, at most a few).
    WrongValue(Vec<String>),
    /// The name has no TXT record (NXDOMAIN or NODATA).
    Missing(String),
    /// No resolver answered in time, or every one failed.
    NoAnswer(String),
}

impl TxtCheck {
    /// Whether the name is proven.
    pub fn is_verified(&self) -> bool {
        matches!(self, Self::Verified)
    }

    /// One line for logs and API messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Verified => "the TXT record has the expected value".into(),
            Self::WrongValue(v) => format!("the TXT record has other values: {v:?}"),
            Self::Missing(why) => format!("no TXT record ({why})"),
            Self::NoAnswer(why) => format!("no answer ({why})"),
        }
    }
}

/// Looks up the TXT records of `name` through `resolvers` (the host's resolv.conf if empty),
/// within `wait` overall, and compares them with `expected`.
pub async fn check_txt(
    resolvers: &[SocketAddr],
    name: &str,
    expected: &str,
    wait: Duration,
) -> TxtCheck {
    let Ok(mut qname) = Name::from_ascii(name) else {
        return TxtCheck::Missing(format!("{name:?} is not a name"));
    };
    qname.set_fqdn(true);
    let question = Question::query(qname.clone(), RecordType::TXT);
    let resolvers = if resolvers.is_empty() {
        system_resolvers(&[])
    } else {
        resolvers.to_vec()
    };
    if resolvers.is_empty() {
        return TxtCheck::NoAnswer("no resolver configured".into());
    }
    let deadline = Instant::now() + wait;
    let mut last = String::from("no resolver tried");
    for (i, server) in resolvers.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        // A silent resolver takes its share of the wait, not all of it.
        let share = left / u32::try_from(resolvers.len() - i).unwrap_or(1);
        let reply = match exchange(*server, &question, share).await {
            Ok(r) => r,
            Err(e @ ClientError::Timeout(_)) => {
                last = e.to_string();
                continue;
            }
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        let Ok(m) = Message::from_vec(&reply) else {
            last = format!("{server} sent an unreadable reply");
            continue;
        };
        match m.metadata.response_code {
            ResponseCode::NoError => {}
            ResponseCode::NXDomain => return TxtCheck::Missing("NXDOMAIN".into()),
            other => {
                last = format!("{server} answered {other}");
                continue;
            }
        }
        let values: Vec<String> = m
            .answers
            .iter()
            .filter(|r| r.name == qname)
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect();
        if values.iter().any(|v| v == expected) {
            return TxtCheck::Verified;
        }
        if values.is_empty() {
            return TxtCheck::Missing("NODATA".into());
        }
        return TxtCheck::WrongValue(values.into_iter().take(4).collect());
    }
    TxtCheck::NoAnswer(last)
}
