//! CIDR rules for VPCs and subnets, and private-IP allocation inside a subnet.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::account::truncated;

/// Smallest VPC or subnet block AWS allows (/28: 16 addresses).
pub const MAX_PREFIX_LEN: u8 = 28;
/// Largest VPC or subnet block AWS allows (/16).
pub const MIN_PREFIX_LEN: u8 = 16;
/// Addresses AWS reserves in every subnet: the first four and the last.
pub const RESERVED_PER_SUBNET: u32 = 5;

/// Why a CIDR block or an allocation was refused; each maps to an EC2 error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// Not an IPv4 CIDR, or host bits are set.
    #[error("Value ({0}) for parameter cidrBlock is invalid. This is not a valid CIDR block.")]
    InvalidCidr(String),
    /// Prefix length outside /16../28.
    #[error(
        "The CIDR '{0}' is invalid: the block size must be between a /16 netmask and /28 netmask."
    )]
    BlockSize(String),
    /// A subnet block not inside any of the VPC's blocks.
    #[error("The CIDR '{0}' is invalid for this VPC: it is not inside the VPC's CIDR blocks.")]
    SubnetRange(String),
    /// A subnet block that overlaps another subnet of the VPC.
    #[error("The CIDR '{cidr}' conflicts with another subnet ({other}).")]
    SubnetConflict {
        /// The requested block.
        cidr: String,
        /// The subnet block it overlaps.
        other: String,
    },
    /// No free address left in the subnet.
    #[error("There are not enough free addresses in subnet '{0}' to satisfy the requested number of instances.")]
    InsufficientAddresses(String),
}

impl NetError {
    /// The EC2 error code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidCidr(_) | Self::BlockSize(_) => "InvalidParameterValue",
            Self::SubnetRange(_) => "InvalidSubnet.Range",
            Self::SubnetConflict { .. } => "InvalidSubnet.Conflict",
            Self::InsufficientAddresses(_) => "InsufficientFreeAddressesInSubnet",
        }
    }
}

/// Parses an IPv4 CIDR block whose host bits are all zero.
pub fn parse_cidr(s: &str) -> Result<Ipv4Net, NetError> {
    let net: Ipv4Net = s.parse().map_err(|_| NetError::InvalidCidr(truncated(s)))?;
    if net.network() != net.addr() {
        return Err(NetError::InvalidCidr(truncated(s)));
    }
    Ok(net)
}

/// Parses a VPC or subnet block and checks AWS's size limits (/16../28).
pub fn parse_block(s: &str) -> Result<Ipv4Net, NetError> {
    let net = parse_cidr(s)?;
    if !(MIN_PREFIX_LEN..=MAX_PREFIX_LEN).contains(&net.prefix_len()) {
        return Err(NetError::BlockSize(net.to_string()));
    }
    Ok(net)
}

/// Checks that a new subnet block lies inside one of the VPC's blocks and overlaps no other
/// subnet of the VPC.
pub fn check_subnet(
    vpc_blocks: &[Ipv4Net],
    existing: &[Ipv4Net],
    new: Ipv4Net,
) -> Result<(), NetError> {
    if !vpc_blocks.iter().any(|v| v.contains(&new)) {
        return Err(NetError::SubnetRange(new.to_string()));
    }
    if let Some(other) = existing.iter().find(|e| overlaps(e, &new)) {
        return Err(NetError::SubnetConflict {
            cidr: new.to_string(),
            other: other.to_string(),
        });
    }
    Ok(())
}

/// Whether two blocks share any address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The VPC's DNS resolver address: the block's base plus two, as AWS places it.
pub fn resolver_address(vpc_block: &Ipv4Net) -> Ipv4Addr {
    nth(vpc_block, 2)
}

fn nth(net: &Ipv4Net, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).wrapping_add(n))
}

/// Whether AWS reserves `addr` in `subnet` (network, router, DNS, future use, broadcast).
pub fn is_reserved(subnet: &Ipv4Net, addr: Ipv4Addr) -> bool {
    let offset = u32::from(addr).wrapping_sub(u32::from(subnet.network()));
    offset < 4 || addr == subnet.broadcast()
}

/// How many addresses of `subnet` can ever be allocated.
pub fn usable_addresses(subnet: &Ipv4Net) -> u32 {
    let size = 1u64 << (32 - u32::from(subnet.prefix_len()));
    u32::try_from(size.saturating_sub(u64::from(RESERVED_PER_SUBNET))).unwrap_or(u32::MAX)
}

/// The addresses of `subnet` an interface may take (all but the reserved ones), as numbers in
/// ascending order.
pub fn assignable(subnet: &Ipv4Net) -> std::ops::Range<u32> {
    u32::from(subnet.network()).saturating_add(4)..u32::from(subnet.broadcast())
}

/// Picks the lowest free, unreserved address of `subnet`, given the addresses in use.
pub fn allocate(subnet: &Ipv4Net, in_use: &BTreeSet<Ipv4Addr>) -> Result<Ipv4Addr, NetError> {
    assignable(subnet)
        .map(Ipv4Addr::from)
        .find(|a| !in_use.contains(a))
        .ok_or_else(|| NetError::InsufficientAddresses(subnet.to_string()))
}

/// Checks a requested address: inside the subnet, not reserved, not in use.
pub fn check_requested(
    subnet: &Ipv4Net,
    in_use: &BTreeSet<Ipv4Addr>,
    addr: Ipv4Addr,
) -> Result<(), String> {
    if !subnet.contains(&addr) {
        return Err(format!(
            "Address {addr} does not fall within the subnet's address range {subnet}"
        ));
    }
    if is_reserved(subnet, addr) {
        return Err(format!("Address {addr} is reserved in subnet {subnet}"));
    }
    if in_use.contains(&addr) {
        return Err(format!("Address {addr} is in use"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn blocks() {
        assert_eq!(parse_block("10.0.0.0/16").unwrap(), net("10.0.0.0/16"));
        assert_eq!(
            parse_block("10.0.0.1/16").unwrap_err().code(),
            "InvalidParameterValue"
        );
        assert_eq!(
            parse_block("10.0.0.0/15").unwrap_err(),
            NetError::BlockSize("10.0.0.0/15".into())
        );
        assert!(parse_block("10.0.0.0/29").is_err());
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0.0/33",
            "300.0.0.0/16",
            "::/0",
            "10.0.0.0/16 ",
            "10.0.0.0/-1",
        ] {
            assert!(parse_block(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn subnets_inside_and_disjoint() {
        let vpc = [net("10.0.0.0/16")];
        check_subnet(&vpc, &[], net("10.0.1.0/24")).unwrap();
        assert_eq!(
            check_subnet(&vpc, &[], net("10.1.0.0/24"))
                .unwrap_err()
                .code(),
            "InvalidSubnet.Range"
        );
        let e = check_subnet(&vpc, &[net("10.0.0.0/20")], net("10.0.1.0/24")).unwrap_err();
        assert_eq!(e.code(), "InvalidSubnet.Conflict");
        // Containment in either direction is an overlap.
        assert!(check_subnet(&vpc, &[net("10.0.1.0/28")], net("10.0.0.0/20")).is_err());
        check_subnet(&vpc, &[net("10.0.0.0/24")], net("10.0.1.0/24")).unwrap();
    }

    #[test]
    fn allocation_skips_reserved_and_exhausts() {
        let s = net("10.0.0.0/28");
        assert_eq!(usable_addresses(&s), 11);
        assert_eq!(
            resolver_address(&net("10.0.0.0/16")),
            Ipv4Addr::new(10, 0, 0, 2)
        );
        let mut used = BTreeSet::new();
        for i in 0..11 {
            let a = allocate(&s, &used).unwrap();
            assert_eq!(a, Ipv4Addr::new(10, 0, 0, 4 + i));
            assert!(!is_reserved(&s, a));
            used.insert(a);
        }
        let e = allocate(&s, &used).unwrap_err();
        assert_eq!(e.code(), "InsufficientFreeAddressesInSubnet");
        // A freed address is reused first.
        used.remove(&Ipv4Addr::new(10, 0, 0, 7));
        assert_eq!(allocate(&s, &used).unwrap(), Ipv4Addr::new(10, 0, 0, 7));
        for r in [0, 1, 2, 3, 15] {
            assert!(is_reserved(&s, Ipv4Addr::new(10, 0, 0, r)));
            assert!(check_requested(&s, &BTreeSet::new(), Ipv4Addr::new(10, 0, 0, r)).is_err());
        }
        assert!(check_requested(&s, &BTreeSet::new(), Ipv4Addr::new(10, 0, 1, 5)).is_err());
        check_requested(&s, &BTreeSet::new(), Ipv4Addr::new(10, 0, 0, 5)).unwrap();
    }
}
