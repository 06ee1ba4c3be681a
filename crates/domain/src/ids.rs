//! Resource ids in AWS's shapes: a prefix and 17 lowercase hex digits (`vpce-0a1b…`).

use std::fmt;
use std::str::FromStr;

use crate::account::truncated;

/// Why a resource id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceIdError {
    /// The id does not start with the expected prefix.
    #[error("invalid id {id:?}: expected the prefix {prefix:?}")]
    Prefix {
        /// The prefix of the expected kind, such as `vpce-`.
        prefix: &'static str,
        /// The refused input (at most 64 characters of it).
        id: String,
    },
    /// The part after the prefix is not 17 (or, for older ids, 8) lowercase hex digits.
    #[error("invalid id {0:?}: expected 17 lowercase hexadecimal digits after the prefix")]
    Malformed(String),
}

/// Number of hex digits in an id, as AWS issues them today.
pub const ID_HEX_LEN: usize = 17;

macro_rules! resource_ids {
    ($( $(#[$doc:meta])* $name:ident = $prefix:literal; )*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; ID_HEX_LEN]);

        impl $name {
            /// The id's prefix, including the dash.
            pub const PREFIX: &'static str = $prefix;

            /// Builds an id from the low 68 bits of `bits` (an [`IdClock`]'s for a new
            /// resource).
            pub fn from_bits(bits: u128) -> Self {
                Self(hex17(bits))
            }

            /// The 17 hex digits after the prefix.
            pub fn hex(&self) -> &str {
                // Only ASCII hex digits are ever stored.
                std::str::from_utf8(&self.0).unwrap_or("00000000000000000")
            }
        }

        impl FromStr for $name {
            type Err = ResourceIdError;
            fn from_str(s: &str) -> Result<Self, ResourceIdError> {
                let hex = s
                    .strip_prefix($prefix)
                    .ok_or_else(|| ResourceIdError::Prefix { prefix: $prefix, id: truncated(s) })?;
                parse_hex17(hex).map(Self).ok_or_else(|| ResourceIdError::Malformed(truncated(s)))
            }
        }

        impl TryFrom<String> for $name {
            type Error = ResourceIdError;
            fn try_from(s: String) -> Result<Self, ResourceIdError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.hex())
            }
        }
    )*};
}

resource_ids! {
    /// A VPC (a network registered with Underpass): `vpc-…`.
    VpcId = "vpc-";
    /// A subnet: `subnet-…`.
    SubnetId = "subnet-";
    /// A security group: `sg-…`.
    SecurityGroupId = "sg-";
    /// A security group rule: `sgr-…`.
    SecurityGroupRuleId = "sgr-";
    /// A network interface (an address an agent binds): `eni-…`.
    EniId = "eni-";
    /// An interface or gateway endpoint: `vpce-…`.
    EndpointId = "vpce-";
    /// An endpoint service: `vpce-svc-…`.
    ServiceId = "vpce-svc-";
    /// A route table: `rtb-…`.
    RouteTableId = "rtb-";
    /// A network ACL: `acl-…`.
    NetworkAclId = "acl-";
    /// A subnet's (or the main) association with a route table: `rtbassoc-…`.
    RouteTableAssociationId = "rtbassoc-";
    /// A subnet's association with a network ACL: `aclassoc-…`.
    NetworkAclAssociationId = "aclassoc-";
    /// A managed prefix list: `pl-…`.
    PrefixListId = "pl-";
    /// A flow log: `fl-…`.
    FlowLogId = "fl-";
    /// An endpoint connection notification: `vpce-nfn-…`.
    ConnectionNotificationId = "vpce-nfn-";
    /// An agent: `agent-…`.
    AgentId = "agent-";
}

/// Issues the bits of new resource ids in the order resources are created.
///
/// An id is `0`, then 13 hex digits of a ticket (milliseconds since 2020 times 1,024, plus a
/// count within the millisecond), then 3 random hex digits. Tickets only grow within a process,
/// even if the clock steps back, so each new id sorts after every id issued before it. The
/// store keys its tables and indexes by id: a new row then goes to the right-hand end of each
/// B-tree instead of a random leaf, and a batch of creations writes a few pages instead of a
/// page per row per index (the same reasoning as UUIDv7, RFC 9562). AWS promises nothing about
/// the digits of an id but their shape, which is unchanged.
#[derive(Debug, Default)]
pub struct IdClock {
    last: std::sync::atomic::AtomicU64,
}

/// 2020-01-01T00:00:00Z in Unix milliseconds: where id tickets count from.
const ID_EPOCH_MS: u64 = 1_577_836_800_000;
/// Ids within one millisecond: beyond that, tickets borrow from the next millisecond.
const ID_COUNT_BITS: u32 = 10;
/// Bits of a ticket: 42 of milliseconds (139 years from 2020) and the count.
const ID_TICKET_BITS: u32 = 52;
/// Random bits after the ticket: two processes issuing an id in the same millisecond (a server
/// and a restarted one, say) collide one time in 4,096 at most.
const ID_RANDOM_BITS: u32 = 12;

impl IdClock {
    /// The bits of the next id (for a type's `from_bits`), at `unix_ms`, with `random`'s low
    /// 12 bits after the ticket.
    pub fn next(&self, unix_ms: u64, random: u128) -> u128 {
        use std::sync::atomic::Ordering;
        let mask = (1u64 << ID_TICKET_BITS) - 1;
        let floor = (unix_ms.saturating_sub(ID_EPOCH_MS) << ID_COUNT_BITS) & mask;
        // Capped at the last ticket: reached only in 2159.
        let step = |last: u64| floor.max(last.saturating_add(1)).min(mask);
        // `fetch_update` returns the value it replaced; the closure never declines.
        let prev = match self
            .last
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                Some(step(last))
            }) {
            Ok(v) | Err(v) => v,
        };
        (u128::from(step(prev)) << ID_RANDOM_BITS) | (random & ((1 << ID_RANDOM_BITS) - 1))
    }
}

fn hex17(bits: u128) -> [u8; ID_HEX_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; ID_HEX_LEN];
    for (i, b) in out.iter_mut().enumerate() {
        let shift = 4 * (ID_HEX_LEN - 1 - i);
        *b = HEX[((bits >> shift) & 0xf) as usize];
    }
    out
}

fn parse_hex17(hex: &str) -> Option<[u8; ID_HEX_LEN]> {
    let raw: [u8; ID_HEX_LEN] = hex.as_bytes().try_into().ok()?;
    raw.iter()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        .then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_and_print() {
        let id: EndpointId = "vpce-0123456789abcdef0".parse().unwrap();
        assert_eq!(id.to_string(), "vpce-0123456789abcdef0");
        assert_eq!(id.hex(), "0123456789abcdef0");
        let svc: ServiceId = "vpce-svc-0123456789abcdef0".parse().unwrap();
        assert_eq!(svc.to_string(), "vpce-svc-0123456789abcdef0");
        // A service id is not an endpoint id, even though both start with "vpce-".
        assert!("vpce-svc-0123456789abcdef0".parse::<EndpointId>().is_err());
    }

    #[test]
    fn bad_ids() {
        for bad in [
            "",
            "vpce-",
            "vpce-0123456789abcdef",
            "vpce-0123456789abcdef01",
            "vpce-0123456789ABCDEF0",
            "vpce-0123456789abcdeg0",
            "VPCE-0123456789abcdef0",
            "vpc-0123456789abcdef0",
        ] {
            assert!(bad.parse::<EndpointId>().is_err(), "{bad:?} accepted");
        }
        let e = "sg-zz".parse::<VpcId>().unwrap_err();
        assert!(e.to_string().contains("vpc-"), "{e}");
    }

    /// 2026-11-27T12:00:00Z.
    const NOON: u64 = 1_795_780_800_000;

    #[test]
    fn ids_from_the_clock_sort_in_the_order_they_were_issued() {
        let clock = IdClock::default();
        let mut ids = Vec::new();
        // 3,000 in one millisecond (past the 1,024 it counts), then the clock steps back a
        // second, then forward a minute.
        for n in 0..3000u128 {
            ids.push(EndpointId::from_bits(clock.next(NOON, n * 7919)).to_string());
        }
        ids.push(EndpointId::from_bits(clock.next(NOON - 1000, 5)).to_string());
        let later = EndpointId::from_bits(clock.next(NOON + 60_000, 5)).to_string();
        ids.push(later.clone());
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "strictly increasing");
        for id in &ids {
            let hex = id.strip_prefix("vpce-").unwrap();
            assert_eq!(hex.len(), ID_HEX_LEN);
            assert!(hex.starts_with('0'), "{id}: AWS's ids begin with 0");
            assert_eq!(id.parse::<EndpointId>().unwrap().to_string(), *id);
        }
        // The minute forward moved the ticket to the new time, not one past the last.
        let ticket = |id: &str| u64::from_str_radix(&id["vpce-".len()..id.len() - 3], 16).unwrap();
        assert_eq!(
            ticket(&later) >> ID_COUNT_BITS,
            (NOON + 60_000 - ID_EPOCH_MS)
        );
        assert_eq!(ticket(&ids[0]) >> ID_COUNT_BITS, NOON - ID_EPOCH_MS);
    }

    #[test]
    fn the_last_three_digits_of_a_clock_id_are_the_random_bits() {
        let clock = IdClock::default();
        let a = VpcId::from_bits(clock.next(NOON, 0xabc)).to_string();
        let b = VpcId::from_bits(clock.next(NOON, 0xfff_0123)).to_string();
        assert!(a.ends_with("abc"), "{a}");
        assert!(b.ends_with("123"), "{b}");
        // Two clocks (two processes) at the same instant differ only by those bits.
        let other = IdClock::default();
        let c = VpcId::from_bits(other.next(NOON, 0xabd)).to_string();
        assert_eq!(a[..a.len() - 3], c[..c.len() - 3]);
        assert_ne!(a, c);
    }

    #[test]
    fn random_ids_round_trip_and_serde() {
        for r in [0u128, 1, u128::MAX, 0x0123_4567_89ab_cdef_0123] {
            let id = VpcId::from_bits(r);
            assert_eq!(id.to_string().parse::<VpcId>().unwrap(), id);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{id}\""));
            assert_eq!(serde_json::from_str::<VpcId>(&json).unwrap(), id);
        }
        assert_eq!(VpcId::from_bits(0xabc).to_string(), "vpc-00000000000000abc");
        assert!(serde_json::from_str::<VpcId>("\"vpc-nothex\"").is_err());
    }
}
