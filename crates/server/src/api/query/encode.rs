//! The service's XML around a handler's answer: the `<{Action}Response>` envelope with its
//! request id (EC2's `requestId`, the others' `ResponseMetadata` and `{Action}Result`
//! wrapper), and errors in each service's shape. The answer itself is written by
//! [`super::serialize`], walking the operation's output shape: element names from
//! `locationName` (else the member name), list items as `<item>` (EC2) or `<member>`, booleans
//! `true`/`false`, timestamps ISO 8601. Members the answer lacks are left out; fields the shape
//! does not name are dropped. Every text is escaped. IAM's policy documents travel
//! URL-encoded, as IAM sends them (the SDKs decode them).

use serde::Serialize;

use super::model::{Model, Protocol};
use super::serialize::{self, SerError};
use crate::api::ApiError;

/// The `xmlns` of a service's answers (EC2's model omits the trailing `/` its answers carry).
pub(crate) fn namespace(model: &Model) -> String {
    let ns = &model.metadata.xml_namespace;
    if ns.ends_with('/') {
        ns.clone()
    } else {
        format!("{ns}/")
    }
}

const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// The whole answer to `action`: the envelope in the service's shape, with `request_id`, around
/// `answer`'s members per the operation's output shape.
///
/// One buffer for all of it: the members were written into a buffer of their own and then
/// copied into the envelope's, a second copy of every byte of a page of 100 endpoints; and the
/// buffer starts as large as the last answer to the same action, rather than growing by
/// doubling (a copy of everything so far each time) up to it.
pub(crate) fn response<T: Serialize + ?Sized>(
    model: &Model,
    action: &str,
    answer: &T,
    request_id: &str,
) -> Result<String, SerError> {
    let mut out = String::with_capacity(size_hint(action));
    out.push_str(DECLARATION);
    let ns = namespace(model);
    let output = model
        .operations
        .get(action)
        .and_then(|op| op.output.as_ref());
    let shape = output.and_then(|o| model.output(o));
    open(&mut out, &format!("{action}Response"), Some(&ns));
    match model.protocol() {
        Protocol::Ec2 => {
            element(&mut out, "requestId", request_id);
            if let Some(shape) = shape {
                serialize::members(model, shape, answer, &mut out)?;
            }
        }
        Protocol::Query => {
            let wrapper = output
                .and_then(|o| o.result_wrapper.clone())
                .unwrap_or_else(|| format!("{action}Result"));
            open(&mut out, &wrapper, None);
            if let Some(shape) = shape {
                serialize::members(model, shape, answer, &mut out)?;
            }
            close(&mut out, &wrapper);
            out.push_str("<ResponseMetadata>");
            element(&mut out, "RequestId", request_id);
            out.push_str("</ResponseMetadata>");
        }
    }
    close(&mut out, &format!("{action}Response"));
    note_size(action, out.len());
    Ok(out)
}

/// Answers at most this large set the starting size of the next answer to the same action.
const LARGEST_HINT: usize = 4 << 20;

thread_local! {
    /// The length of the last answer to each action written on this thread.
    static LAST_SIZE: std::cell::RefCell<std::collections::HashMap<String, usize>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// A starting size for an answer to `action`: the last one's, at least 1 KiB.
fn size_hint(action: &str) -> usize {
    LAST_SIZE
        .with(|m| m.borrow().get(action).copied())
        .unwrap_or(0)
        .max(1024)
}

fn note_size(action: &str, len: usize) {
    if len > LARGEST_HINT {
        return;
    }
    LAST_SIZE.with(|m| {
        let mut m = m.borrow_mut();
        match m.get_mut(action) {
            Some(v) => *v = len,
            // The model's actions only: the map stays as small as the API.
            None => {
                m.insert(action.to_owned(), len);
            }
        }
    });
}

/// An error in the service's shape: EC2's `<Response><Errors>`, or `<ErrorResponse>`.
pub(crate) fn error(model: Option<&Model>, e: &ApiError, request_id: &str) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(DECLARATION);
    match model {
        Some(m) if m.protocol() == Protocol::Query => {
            open(&mut out, "ErrorResponse", Some(&namespace(m)));
            out.push_str("<Error>");
            let kind = if e.status.is_server_error() {
                "Receiver"
            } else {
                "Sender"
            };
            element(&mut out, "Type", kind);
            element(&mut out, "Code", &e.code);
            element(&mut out, "Message", &e.message);
            out.push_str("</Error>");
            element(&mut out, "RequestId", request_id);
            close(&mut out, "ErrorResponse");
        }
        // EC2's shape, also for requests whose service is not known.
        _ => {
            out.push_str("<Response><Errors><Error>");
            element(&mut out, "Code", &e.code);
            element(&mut out, "Message", &e.message);
            out.push_str("</Error></Errors>");
            element(&mut out, "RequestID", request_id);
            out.push_str("</Response>");
        }
    }
    out
}

/// Writes `<name>` (with `xmlns` if given).
pub(crate) fn open(out: &mut String, name: &str, ns: Option<&str>) {
    out.push('<');
    out.push_str(name);
    if let Some(ns) = ns {
        out.push_str(" xmlns=\"");
        escape_attribute_into(out, ns);
        out.push('"');
    }
    out.push('>');
}

/// Writes `</name>`.
pub(crate) fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn element(out: &mut String, name: &str, text: &str) {
    open(out, name, None);
    escape_into(out, text);
    close(out, name);
}

/// Escapes text for element content. Characters XML 1.0 cannot carry (most C0 controls,
/// U+FFFE, U+FFFF) become U+FFFD; tab, LF and CR are kept as references so parsers do not
/// normalize them away. Quotes stay as they are: content does not need them escaped, and
/// policy documents, full of them, are in every endpoint of a listing.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    escape(out, text, false);
}

/// Escapes a double-quoted attribute value: as content, and the quotes too.
fn escape_attribute_into(out: &mut String, text: &str) {
    escape(out, text, true);
}

/// The bytes that stop the copy of plain text: ASCII controls and specials, and 0xEF (the lead
/// byte of U+FFFE and U+FFFF); the quotes too in attributes. A table: one load per byte of a
/// page of answers, the encoder's hottest loop.
const fn stops(quotes: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'&' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[0xef] = true;
    table[b'"' as usize] = quotes;
    table[b'\'' as usize] = quotes;
    table
}

static CONTENT_STOPS: [bool; 256] = stops(false);
static ATTRIBUTE_STOPS: [bool; 256] = stops(true);

fn escape(out: &mut String, text: &str, quotes: bool) {
    // Runs of plain text are copied whole; only the bytes that may need escaping stop the scan.
    let table = if quotes {
        &ATTRIBUTE_STOPS
    } else {
        &CONTENT_STOPS
    };
    let mut rest = text;
    while let Some(i) = rest.bytes().position(|b| table[usize::from(b)]) {
        out.push_str(&rest[..i]);
        let Some(c) = rest[i..].chars().next() else {
            return;
        };
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
        rest = &rest[i + c.len_utf8()..];
    }
    out.push_str(rest);
}

/// IAM's shape of policy documents in answers (`PolicyDocument`, `Document`,
/// `AssumeRolePolicyDocument`).
pub(crate) const POLICY_DOCUMENT: &str = "policyDocumentType";

/// RFC 3986 percent-encoding: everything but the unreserved characters.
pub(crate) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::model;
    use super::*;

    /// The whole answer to `action` with `value` as the handler's answer.
    fn answer<T: Serialize + ?Sized>(m: &Model, action: &str, value: &T, rid: &str) -> String {
        response(m, action, value, rid).unwrap()
    }

    #[test]
    fn an_answer_starts_as_large_as_the_last_one_to_its_action() {
        // On a thread of its own: the sizes are kept per thread.
        std::thread::spawn(|| {
            assert_eq!(size_hint("DescribeThings"), 1024, "nothing known yet");
            note_size("DescribeThings", 150_000);
            note_size("CreateThing", 700);
            assert_eq!(size_hint("DescribeThings"), 150_000);
            assert_eq!(size_hint("CreateThing"), 1024, "never below 1 KiB");
            // A smaller answer lowers it again; an outsized one is not a guide.
            note_size("DescribeThings", 90_000);
            note_size("DescribeThings", LARGEST_HINT + 1);
            assert_eq!(size_hint("DescribeThings"), 90_000);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn escaping_covers_specials_controls_and_non_characters() {
        let mut out = String::new();
        escape_into(
            &mut out,
            "plain é→ a&b <c> \"d\" 'e'\tf\ng\rh\u{1}i\u{fffe}j\u{ffff}k\u{efff}",
        );
        assert_eq!(
            out,
            "plain é→ a&amp;b &lt;c&gt; \"d\" 'e'&#9;f&#10;g&#13;h\u{fffd}i\u{fffd}j\u{fffd}k\u{efff}"
        );
        let mut attribute = String::new();
        escape_attribute_into(&mut attribute, "a\"b'c&d\u{1}");
        assert_eq!(attribute, "a&quot;b&apos;c&amp;d\u{fffd}");
        let mut empty = String::new();
        escape_into(&mut empty, "");
        assert_eq!(empty, "");
    }

    #[test]
    fn ec2_answer() {
        let m = model::for_service("ec2").unwrap();
        let v = json!({"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "IsDefault": false, "Extra": 1}],
                       "NextToken": "a<b"});
        let xml = answer(m, "DescribeVpcs", &v, "rid");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
             <requestId>rid</requestId><vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock>\
             <isDefault>false</isDefault></item></vpcSet><nextToken>a&lt;b</nextToken></DescribeVpcsResponse>"
        );
    }

    #[test]
    fn query_answer_and_errors() {
        let m = model::for_service("sts").unwrap();
        let v = json!({"Account": "111122223333", "Arn": "arn:aws:iam::111122223333:root", "UserId": "111122223333"});
        let xml = answer(m, "GetCallerIdentity", &v, "rid");
        assert!(xml.contains("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Account>111122223333</Account>"), "{xml}");
        assert!(xml.ends_with("</GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetCallerIdentityResponse>"), "{xml}");
        let e = ApiError::client("ValidationError", "bad <thing> & \u{0}");
        let xml = error(Some(m), &e, "rid");
        assert!(xml.contains("<Error><Type>Sender</Type><Code>ValidationError</Code><Message>bad &lt;thing&gt; &amp; \u{fffd}</Message></Error><RequestId>rid</RequestId></ErrorResponse>"), "{xml}");
        let xml = error(model::for_service("ec2"), &e, "rid");
        assert!(xml.ends_with("<Response><Errors><Error><Code>ValidationError</Code><Message>bad &lt;thing&gt; &amp; \u{fffd}</Message></Error></Errors><RequestID>rid</RequestID></Response>"), "{xml}");
    }

    #[test]
    fn iam_policy_documents_are_url_encoded() {
        let m = model::for_service("iam").unwrap();
        let v = json!({"UserName": "a", "PolicyName": "p", "PolicyDocument": "{\"Effect\": \"Allow\"}"});
        let xml = answer(m, "GetUserPolicy", &v, "r");
        assert!(
            xml.contains("<PolicyDocument>%7B%22Effect%22%3A%20%22Allow%22%7D</PolicyDocument>"),
            "{xml}"
        );
        assert!(xml.contains("<UserName>a</UserName>"), "{xml}");
    }

    #[test]
    fn elbv2_lists_use_member() {
        let m = model::for_service("elasticloadbalancing").unwrap();
        let v = json!({"LoadBalancers": [{"LoadBalancerName": "a", "AvailabilityZones": [{"ZoneName": "z", "SubnetId": "s"}]}]});
        let xml = answer(m, "CreateLoadBalancer", &v, "r");
        assert!(xml.contains("<CreateLoadBalancerResult><LoadBalancers><member><LoadBalancerName>a</LoadBalancerName><AvailabilityZones><member><ZoneName>z</ZoneName><SubnetId>s</SubnetId></member></AvailabilityZones></member></LoadBalancers></CreateLoadBalancerResult>"), "{xml}");
    }
}
