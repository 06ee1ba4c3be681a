//! DNS names of PrivateLink: endpoint names (regional and zonal) in AWS's shapes, private DNS
//! names a provider claims (checked against hostname rules before they can reach a zone), and
//! the TXT record that proves control of one. No I/O.

use crate::account::truncated;
use crate::{EndpointId, ServiceId};

/// Longest name accepted, without a trailing dot (RFC 1035: 255 octets on the wire).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;
/// Length of the random part of endpoint names (`vpce-…-<8>.vpce-svc-…`).
pub const ENDPOINT_TOKEN_LEN: usize = 8;
/// Default base domain of endpoint names: `<region>.vpce.<domain>`.
pub const DEFAULT_DOMAIN: &str = "underpass.internal";

/// Why a private DNS name was refused (RELIABILITY item 86: nothing but a plain hostname may
/// reach a zone).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsNameError {
    /// Empty, too long, an empty label, a trailing dot.
    #[error("The private DNS name {0:?} is not a valid domain name: {1}")]
    Invalid(String, &'static str),
    /// An `xn--` label that does not decode to an internationalized label.
    #[error("The private DNS name {0:?} has a punycode label that does not decode: {1}")]
    Punycode(String, String),
}

/// Checks a private DNS name and returns it in lowercase: labels of 1-63 letters, digits and
/// hyphens (not at either end), at least two labels, at most 253 characters, no wildcard, no
/// trailing dot, a top-level label that is not all digits, and `xn--` labels that decode.
pub fn check_private_dns_name(input: &str) -> Result<String, DnsNameError> {
    let shown = truncated(input);
    let bad = |why: &'static str| DnsNameError::Invalid(shown.clone(), why);
    if input.is_empty() {
        return Err(bad("it is empty"));
    }
    if input.len() > MAX_NAME_LEN {
        return Err(bad("it is longer than 253 characters"));
    }
    if input.ends_with('.') {
        return Err(bad("a trailing dot is not allowed"));
    }
    let name = input.to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("it needs at least two labels"));
    }
    for label in &labels {
        check_label(label).map_err(bad)?;
        if let Some(encoded) = label.strip_prefix("xn--") {
            check_a_label(encoded)
                .map_err(|why| DnsNameError::Punycode(shown.clone(), why.to_owned()))?;
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("the top-level label is all digits"));
    }
    Ok(name)
}

fn check_label(label: &str) -> Result<(), &'static str> {
    if label.is_empty() {
        return Err("it has an empty label");
    }
    if label.len() > MAX_LABEL_LEN {
        return Err("a label is longer than 63 characters");
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err("labels may hold only letters, digits and hyphens");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("a label starts or ends with a hyphen");
    }
    // RFC 5891 4.2.3.1: "??--" is reserved for A-labels ("xn--").
    if label.get(2..4) == Some("--") && !label.starts_with("xn--") {
        return Err("hyphens in the third and fourth positions are reserved for xn-- labels");
    }
    Ok(())
}

/// An A-label's encoded part must decode (RFC 3492) to a label with at least one non-ASCII
/// character and no control or space characters.
fn check_a_label(encoded: &str) -> Result<(), &'static str> {
    let decoded = punycode_decode(encoded).ok_or("invalid punycode")?;
    if decoded.is_empty() {
        return Err("it decodes to nothing");
    }
    if decoded.is_ascii() {
        return Err("it decodes to plain ASCII");
    }
    if decoded
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '.')
    {
        return Err("it decodes to control, space or dot characters");
    }
    Ok(())
}

/// Decodes the part of an A-label after `xn--` (RFC 3492, section 6.2). `None` for anything
/// that is not valid punycode; work is bounded by the label length.
pub fn punycode_decode(input: &str) -> Option<String> {
    const BASE: u32 = 36;
    const TMIN: u32 = 1;
    const TMAX: u32 = 26;
    if !input.is_ascii() {
        return None;
    }
    let (basic, rest) = match input.rfind('-') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => ("", input),
    };
    let mut out: Vec<char> = basic.chars().collect();
    let (mut n, mut i, mut bias) = (128u32, 0u32, 72u32);
    let mut digits = rest.bytes();
    let mut pending = digits.len();
    while pending > 0 {
        let old_i = i;
        let mut w = 1u32;
        let mut k = BASE;
        loop {
            let b = digits.next()?;
            pending -= 1;
            let digit = match b {
                b'a'..=b'z' => u32::from(b - b'a'),
                b'A'..=b'Z' => u32::from(b - b'A'),
                b'0'..=b'9' => u32::from(b - b'0') + 26,
                _ => return None,
            };
            i = i.checked_add(digit.checked_mul(w)?)?;
            let t = k.saturating_sub(bias).clamp(TMIN, TMAX);
            if digit < t {
                break;
            }
            w = w.checked_mul(BASE - t)?;
            k += BASE;
            if pending == 0 {
                return None;
            }
        }
        let len = u32::try_from(out.len()).ok()? + 1;
        bias = adapt(i - old_i, len, old_i == 0);
        n = n.checked_add(i / len)?;
        i %= len;
        let c = char::from_u32(n)?;
        out.insert(usize::try_from(i).ok()?, c);
        i += 1;
    }
    Some(out.into_iter().collect())
}

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((36 - 1) * 26) / 2 {
        delta /= 36 - 1;
        k += 36;
    }
    k + (36 * delta) / (delta + 38)
}

/// Whether `name` is `zone` or a name under it (both lowercase, no trailing dot).
pub fn is_within(name: &str, zone: &str) -> bool {
    name == zone
        || name
            .strip_suffix(zone)
            .is_some_and(|head| head.ends_with('.'))
}

/// The apex of the endpoint names of a region: `<region>.vpce.<domain>`.
pub fn endpoint_zone(region: &str, domain: &str) -> String {
    format!("{region}.vpce.{domain}")
}

/// A service's base endpoint name: `vpce-svc-….<region>.vpce.<domain>` (EC2's
/// `BaseEndpointDnsNames`).
pub fn service_base_name(service: &ServiceId, region: &str, domain: &str) -> String {
    format!("{service}.{}", endpoint_zone(region, domain))
}

/// An endpoint's regional name: `vpce-<id>-<token>.vpce-svc-<id>.<region>.vpce.<domain>`.
pub fn regional_endpoint_name(
    endpoint: &EndpointId,
    token: &str,
    service: &ServiceId,
    region: &str,
    domain: &str,
) -> String {
    format!(
        "{endpoint}-{token}.{}",
        service_base_name(service, region, domain)
    )
}

/// The zonal name for `zone` of an endpoint whose regional name is `regional`: the zone is
/// appended to the first label (`vpce-…-<token>-us-east-1a.vpce-svc-…`).
pub fn zonal_endpoint_name(regional: &str, zone: &str) -> String {
    match regional.split_once('.') {
        Some((first, rest)) => format!("{first}-{zone}.{rest}"),
        None => format!("{regional}-{zone}"),
    }
}

/// `len` lowercase letters and digits from random bits (for endpoint names and TXT records).
pub fn random_token(mut random: u128, len: usize) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| {
            let c = ALPHABET[usize::try_from(random % 36).unwrap_or(0)];
            random /= 36;
            char::from(c)
        })
        .collect()
}

/// The state of a private DNS name, as EC2 spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PrivateDnsState {
    /// Set, not yet proven.
    PendingVerification,
    /// The TXT record was found with the right value.
    Verified,
    /// The last verification found no record, a wrong value, or no answer.
    Failed,
}

impl PrivateDnsState {
    /// EC2's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingVerification => "pendingVerification",
            Self::Verified => "verified",
            Self::Failed => "failed",
        }
    }
}

impl std::str::FromStr for PrivateDnsState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pendingVerification" => Ok(Self::PendingVerification),
            "verified" => Ok(Self::Verified),
            "failed" => Ok(Self::Failed),
            other => Err(format!("unknown private DNS state {other:?}")),
        }
    }
}

impl std::fmt::Display for PrivateDnsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The TXT record that proves control of `name`: `_<token>.<name>` with the value
/// `vpce:<secret>` (both random, per service).
pub fn verification_record(name: &str, token: &str, secret: &str) -> (String, String) {
    (format!("_{token}.{name}"), format!("vpce:{secret}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_hostnames_and_lowercases() {
        assert_eq!(
            check_private_dns_name("Web.Service.Provider.LOCAL").unwrap(),
            "web.service.provider.local"
        );
        check_private_dns_name("a-b.c9.example").unwrap();
        let label = "a".repeat(63);
        check_private_dns_name(&format!("{label}.example")).unwrap();
        // 253 characters exactly: four labels of 63 and one of 1 = 4*63 + 1 + 4 dots.
        let long = format!("{label}.{label}.{label}.{label}.a");
        assert_eq!(long.len(), 257);
        let ok = format!("{label}.{label}.{label}.{}.a", "b".repeat(59));
        assert_eq!(ok.len(), 253);
        check_private_dns_name(&ok).unwrap();
        check_private_dns_name("xn--bcher-kva.example").unwrap();
    }

    #[test]
    fn refuses_injection_and_tricks() {
        let too_long = format!("{}.example", "a".repeat(246));
        assert_eq!(too_long.len(), 254);
        for bad in [
            "",
            "web.service.provider.local.",
            "example",
            "web\n.example",
            "web;.example",
            "web .example",
            " web.example",
            "*.example.com",
            "a.*.example.com",
            "a..example.com",
            ".example.com",
            "-a.example.com",
            "a-.example.com",
            "web.example.com\0",
            "web.example.com\nevil.example. 60 IN A 1.2.3.4",
            "a_b.example.com",
            "1.2.3.4",
            &too_long,
            &format!("{}.example", "a".repeat(64)),
            "ab--cd.example.com",
            "xn--.example.com",
            "xn--abc.example.com",
            "xn--ls8h-.example.com",
            "xn--a-.example.com",
            "xn--zzzzzzzzzzzzzzzzzzzzzzzzzz.example.com",
            "exa\u{e9}mple.com",
        ] {
            assert!(check_private_dns_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn punycode_vectors() {
        assert_eq!(punycode_decode("bcher-kva").as_deref(), Some("bücher"));
        assert_eq!(punycode_decode("mnchen-3ya").as_deref(), Some("münchen"));
        // RFC 3492 7.1 (A): Arabic (Egyptian).
        assert_eq!(
            punycode_decode("egbpdaj6bu4bxfgehfvwxn").as_deref(),
            Some("\u{644}\u{64a}\u{647}\u{645}\u{627}\u{628}\u{62a}\u{643}\u{644}\u{645}\u{648}\u{634}\u{639}\u{631}\u{628}\u{64a}\u{61f}")
        );
        // RFC 3492 7.1 (B): Chinese (simplified).
        assert_eq!(
            punycode_decode("ihqwcrb4cv8a8dqg056pqjye").as_deref(),
            Some("他们为什么不说中文")
        );
        assert_eq!(punycode_decode("abc-").as_deref(), Some("abc"));
        assert_eq!(punycode_decode(""), Some(String::new()));
        for bad in ["99999999999", "bcher-kv!", "ü"] {
            assert!(punycode_decode(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn endpoint_names() {
        let ep: EndpointId = "vpce-0123456789abcdef0".parse().unwrap();
        let svc: ServiceId = "vpce-svc-0fedcba9876543210".parse().unwrap();
        let regional =
            regional_endpoint_name(&ep, "a1b2c3d4", &svc, "us-east-1", "underpass.internal");
        assert_eq!(
            regional,
            "vpce-0123456789abcdef0-a1b2c3d4.vpce-svc-0fedcba9876543210.us-east-1.vpce.underpass.internal"
        );
        assert_eq!(
            zonal_endpoint_name(&regional, "us-east-1a"),
            "vpce-0123456789abcdef0-a1b2c3d4-us-east-1a.vpce-svc-0fedcba9876543210.us-east-1.vpce.underpass.internal"
        );
        assert!(is_within(&regional, "us-east-1.vpce.underpass.internal"));
        assert!(!is_within(
            "xus-east-1.vpce.underpass.internal",
            "us-east-1.vpce.underpass.internal"
        ));
        assert_eq!(random_token(0, 8), "aaaaaaaa");
        assert_eq!(random_token(u128::MAX, 8).len(), 8);
        let (n, v) = verification_record("web.example.com", "abc", "xyz");
        assert_eq!(n, "_abc.web.example.com");
        assert_eq!(v, "vpce:xyz");
        for s in [
            PrivateDnsState::PendingVerification,
            PrivateDnsState::Verified,
            PrivateDnsState::Failed,
        ] {
            assert_eq!(s.as_str().parse::<PrivateDnsState>().unwrap(), s);
        }
    }
}
