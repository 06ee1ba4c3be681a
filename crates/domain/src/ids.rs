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

            /// Builds an id from random bytes (the low 68 bits are used).
            pub fn from_random(random: u128) -> Self {
                Self(hex17(random))
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

fn hex17(random: u128) -> [u8; ID_HEX_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; ID_HEX_LEN];
    for (i, b) in out.iter_mut().enumerate() {
        let shift = 4 * (ID_HEX_LEN - 1 - i);
        *b = HEX[((random >> shift) & 0xf) as usize];
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

    #[test]
    fn random_ids_round_trip_and_serde() {
        for r in [0u128, 1, u128::MAX, 0x0123_4567_89ab_cdef_0123] {
            let id = VpcId::from_random(r);
            assert_eq!(id.to_string().parse::<VpcId>().unwrap(), id);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{id}\""));
            assert_eq!(serde_json::from_str::<VpcId>(&json).unwrap(), id);
        }
        assert_eq!(
            VpcId::from_random(0xabc).to_string(),
            "vpc-00000000000000abc"
        );
        assert!(serde_json::from_str::<VpcId>("\"vpc-nothex\"").is_err());
    }
}
