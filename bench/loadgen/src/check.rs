//! What an answer says, read from its bytes with the least work that is still exact for the
//! EC2 Query protocol's XML: no sockets, no clocks, unit-tested below.
//!
//! A full XML parse would cost more client CPU than a fast server spends on the call; the
//! harness checks one listing with a real XML parser before the timed loops
//! (`validate_paging` in `bench/api`), so these scans only need to find elements it has seen.

use memchr::memmem;

const ENDPOINT_ID_OPEN: &[u8] = b"<vpcEndpointId>";
const ENDPOINT_ID_CLOSE: &[u8] = b"</vpcEndpointId>";

/// The text of the first `<name>…</name>` element, raw (still XML-escaped).
fn element<'a>(body: &'a [u8], open: &[u8], close: &[u8]) -> Option<&'a [u8]> {
    let start = memmem::find(body, open)? + open.len();
    let len = memmem::find(&body[start..], close)?;
    Some(&body[start..start + len])
}

/// The id of the endpoint a CreateVpcEndpoint answer made (`vpce-` and alphanumerics).
pub(crate) fn created_endpoint_id(body: &[u8]) -> Option<&str> {
    let id = element(body, ENDPOINT_ID_OPEN, ENDPOINT_ID_CLOSE)?;
    let rest = id.strip_prefix(b"vpce-")?;
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    std::str::from_utf8(id).ok()
}

/// How many endpoints a DescribeVpcEndpoints page lists.
pub(crate) fn listed_endpoints(body: &[u8]) -> usize {
    memmem::find_iter(body, ENDPOINT_ID_OPEN).count()
}

/// The page's `nextToken`, unescaped; `None` when absent or empty (the last page).
pub(crate) fn next_token(body: &[u8]) -> Option<String> {
    let raw = element(body, b"<nextToken>", b"</nextToken>")?;
    if raw.is_empty() {
        return None;
    }
    Some(unescape(std::str::from_utf8(raw).ok()?))
}

/// Whether a DescribeRegions answer names a region.
pub(crate) fn names_a_region(body: &[u8]) -> bool {
    memmem::find(body, b"<regionName>").is_some()
}

/// The error code of an error answer (`<Code>…</Code>`), if it has one.
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    element(body, b"<Code>", b"</Code>").map(|c| String::from_utf8_lossy(c).into_owned())
}

/// Whether an error answer asks the client to slow down (EC2's and the other services' codes).
pub(crate) fn is_throttle(body: &[u8]) -> bool {
    matches!(
        error_code(body).as_deref(),
        Some("RequestLimitExceeded" | "Throttling" | "ThrottlingException")
    )
}

/// How a failed call is counted: the status and the code, or the first bytes of the body.
pub(crate) fn describe_error(status: u16, body: &[u8]) -> String {
    match error_code(body) {
        Some(code) => format!("HTTP {status} {code}"),
        None => {
            let head = &body[..body.len().min(80)];
            format!("HTTP {status} {:?}", String::from_utf8_lossy(head))
        }
    }
}

/// XML's five predefined entities and numeric character references; anything else is kept
/// as written (a token never holds one, and a wrong token fails the next page loudly).
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATED: &[u8] = b"<?xml version=\"1.0\"?><CreateVpcEndpointResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><vpcEndpoint><vpcEndpointId>vpce-0a1b2c3d4e5f60718</vpcEndpointId><vpcEndpointType>Interface</vpcEndpointType></vpcEndpoint></CreateVpcEndpointResponse>";

    #[test]
    fn a_created_endpoint_id_is_read_and_checked() {
        assert_eq!(created_endpoint_id(CREATED), Some("vpce-0a1b2c3d4e5f60718"));
        assert_eq!(
            created_endpoint_id(b"<vpcEndpointId>vpc-123</vpcEndpointId>"),
            None
        );
        assert_eq!(
            created_endpoint_id(b"<vpcEndpointId>vpce-</vpcEndpointId>"),
            None
        );
        assert_eq!(
            created_endpoint_id(b"<vpcEndpointId>vpce-12&lt;</vpcEndpointId>"),
            None
        );
        assert_eq!(created_endpoint_id(b"<vpcEndpointId>vpce-12"), None);
        assert_eq!(created_endpoint_id(b""), None);
    }

    #[test]
    fn a_page_is_counted_and_its_token_unescaped() {
        let page = b"<DescribeVpcEndpointsResponse><vpcEndpointSet>\
            <item><vpcEndpointId>vpce-1</vpcEndpointId></item>\
            <item><vpcEndpointId>vpce-2</vpcEndpointId></item>\
            </vpcEndpointSet><nextToken>a&amp;b&lt;c&#x41;&#66;=</nextToken></DescribeVpcEndpointsResponse>";
        assert_eq!(listed_endpoints(page), 2);
        assert_eq!(next_token(page).as_deref(), Some("a&b<cAB="));
        assert_eq!(next_token(b"<nextToken></nextToken>"), None);
        assert_eq!(next_token(b"<vpcEndpointSet/>"), None);
        assert_eq!(listed_endpoints(b"<vpcEndpointSet/>"), 0);
    }

    #[test]
    fn unknown_or_unterminated_entities_are_kept() {
        assert_eq!(unescape("x&bogus;y"), "x&bogus;y");
        assert_eq!(unescape("x&amp"), "x&amp");
        assert_eq!(unescape("plain"), "plain");
    }

    #[test]
    fn errors_and_throttling_are_told_apart() {
        let throttled = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow</Message></Error></Errors></Response>";
        let denied = b"<Response><Errors><Error><Code>UnauthorizedOperation</Code></Error></Errors></Response>";
        assert!(is_throttle(throttled));
        assert!(!is_throttle(denied));
        assert_eq!(
            describe_error(403, denied),
            "HTTP 403 UnauthorizedOperation"
        );
        assert_eq!(
            describe_error(502, b"bad gateway"),
            "HTTP 502 \"bad gateway\""
        );
        assert!(names_a_region(
            b"<regionInfo><item><regionName>us-east-1</regionName>"
        ));
        assert!(!names_a_region(denied));
    }
}
