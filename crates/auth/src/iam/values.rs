//! Typed condition values: numbers, dates, booleans, IP networks and base64 binaries. The same
//! parsers read policy values (at parse time, where failure refuses the policy) and request
//! context values (at evaluation time, where failure means "no match").

use std::net::IpAddr;
use std::str::FromStr;

use base64::Engine as _;
use ipnet::IpNet;
use time::format_description::well_known::Iso8601;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

/// A decimal number: `-?digits(.digits)?([eE][+-]?digits)?`. No `inf`, `NaN`, `+`, or spaces.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return None;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A date as nanoseconds since the Unix epoch. Accepts epoch seconds (`1561852800`) or ISO 8601:
/// a date (`2019-06-30`), or a date-time with or without an offset (`2019-06-30T00:00:00Z`,
/// `2019-06-30T02:00:00+02:00`, `2019-06-30T00:00:00.5Z`); a date-time without an offset is UTC.
pub(crate) fn parse_date(text: &str) -> Option<i128> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: i64 = text.parse().ok()?;
        // Same range as the ISO forms: years -9999..=9999.
        return OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .map(OffsetDateTime::unix_timestamp_nanos);
    }
    if let Ok(t) = OffsetDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(t) = PrimitiveDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(t.assume_utc().unix_timestamp_nanos());
    }
    let date = Date::parse(text, &Iso8601::DEFAULT).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp_nanos())
}

/// `true` / `false`, in any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A CIDR block (`10.0.0.0/8`, `2001:db8::/32`, `0.0.0.0/0`) or a bare address (`/32`, `/128`).
pub(crate) fn parse_cidr(text: &str) -> Option<IpNet> {
    if let Ok(net) = IpNet::from_str(text) {
        return Some(net.trunc());
    }
    IpAddr::from_str(text).ok().map(IpNet::from)
}

/// The source address from the request context.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    IpAddr::from_str(text).ok()
}

/// True if `net` contains `addr`, treating an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) and
/// its IPv4 address as the same host.
pub(crate) fn net_contains(net: &IpNet, addr: IpAddr) -> bool {
    if net.contains(&addr) {
        return true;
    }
    let alias = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
    };
    alias.is_some_and(|a| net.contains(&a))
}

/// Standard base64 with padding.
pub(crate) fn parse_base64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (text, expected) in [
            ("0", Some(0.0)),
            ("-12.5", Some(-12.5)),
            ("1e3", Some(1000.0)),
            ("1E-1", Some(0.1)),
            ("", None),
            ("-", None),
            ("1.", None),
            (".5", None),
            ("+1", None),
            ("inf", None),
            ("NaN", None),
            (" 1", None),
            ("1e999", None),
            ("0x10", None),
        ] {
            assert_eq!(parse_number(text), expected, "{text:?}");
        }
    }

    #[test]
    fn dates() {
        let midnight = Some(1_561_852_800_000_000_000_i128);
        for text in [
            "1561852800",
            "2019-06-30",
            "2019-06-30T00:00:00Z",
            "2019-06-30T02:00:00+02:00",
            "2019-06-30T00:00:00",
            "2019-06-30T00:00Z",
            "2019-06-29T19:00:00-05:00",
        ] {
            assert_eq!(parse_date(text), midnight, "{text:?}");
        }
        assert_eq!(
            parse_date("2019-06-30T00:00:00.5Z"),
            midnight.map(|n| n + 500_000_000)
        );
        for bad in [
            "",
            "yesterday",
            "2019-13-01",
            "2019-06-30T25:00:00Z",
            "99999999999999999999",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cidrs() {
        for good in [
            "10.0.0.0/8",
            "0.0.0.0/0",
            "::/0",
            "2001:db8::/32",
            "192.0.2.1",
            "::1",
            "10.1.2.3/8",
        ] {
            assert!(parse_cidr(good).is_some(), "{good}");
        }
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "300.0.0.0/8",
            "10.0.0.0/",
            "",
            " 10.0.0.0/8",
            "2001:db8::/129",
        ] {
            assert!(parse_cidr(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn mapped_addresses() {
        let ten = parse_cidr("10.0.0.0/8");
        let mapped = parse_ip("::ffff:10.0.0.1");
        assert!(matches!((ten, mapped), (Some(n), Some(a)) if net_contains(&n, a)));
        let mapped_net = parse_cidr("::ffff:10.0.0.0/104");
        let v4 = parse_ip("10.9.9.9");
        assert!(matches!((mapped_net, v4), (Some(n), Some(a)) if net_contains(&n, a)));
        let other = parse_ip("::ffff:11.0.0.1");
        assert!(matches!((ten, other), (Some(n), Some(a)) if !net_contains(&n, a)));
    }
}
