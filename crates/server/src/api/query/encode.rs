//! From a handler's JSON answer to the service's XML, walking the operation's output shape:
//! element names from `locationName` (else the member name), list items as `<item>` (EC2) or
//! `<member>`, booleans `true`/`false`, timestamps ISO 8601. Members the JSON lacks are left
//! out; JSON fields the shape does not name are dropped. Every text is escaped. IAM's policy
//! documents travel URL-encoded, as IAM sends them (the SDKs decode them).

use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use super::model::{Kind, Model, Protocol, Shape};
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

/// The whole answer to `action`.
pub(crate) fn response(model: &Model, action: &str, value: &Value, request_id: &str) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str(DECLARATION);
    let ns = namespace(model);
    let output = model
        .operations
        .get(action)
        .and_then(|op| op.output.as_ref());
    let body = |out: &mut String| {
        if let Some(shape) = output.and_then(|o| model.output(o)) {
            members(model, shape, value, out);
        }
    };
    open(&mut out, &format!("{action}Response"), Some(&ns));
    match model.protocol() {
        Protocol::Ec2 => {
            element(&mut out, "requestId", request_id);
            body(&mut out);
        }
        Protocol::Query => {
            let wrapper = output
                .and_then(|o| o.result_wrapper.clone())
                .unwrap_or_else(|| format!("{action}Result"));
            open(&mut out, &wrapper, None);
            body(&mut out);
            close(&mut out, &wrapper);
            out.push_str("<ResponseMetadata>");
            element(&mut out, "RequestId", request_id);
            out.push_str("</ResponseMetadata>");
        }
    }
    close(&mut out, &format!("{action}Response"));
    out
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

fn open(out: &mut String, name: &str, ns: Option<&str>) {
    out.push('<');
    out.push_str(name);
    if let Some(ns) = ns {
        out.push_str(" xmlns=\"");
        escape_attribute_into(out, ns);
        out.push('"');
    }
    out.push('>');
}

fn close(out: &mut String, name: &str) {
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

fn escape(out: &mut String, text: &str, quotes: bool) {
    // Runs of plain text are copied whole; only the bytes that may need escaping stop the
    // scan: ASCII specials and controls, and 0xEF, the lead byte of U+FFFE and U+FFFF.
    let special = |b: u8| {
        b < 0x20 || matches!(b, b'&' | b'<' | b'>' | 0xef) || (quotes && matches!(b, b'"' | b'\''))
    };
    let mut rest = text;
    while let Some(i) = rest.bytes().position(special) {
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

/// A structure's members that `value` carries, in the value's order (the answer struct's
/// field order): walking the value's fields and finding each in the shape's few members costs
/// less than looking every member of the shape up in the value.
fn members(model: &Model, shape: &Shape, value: &Value, out: &mut String) {
    let Value::Object(obj) = value else { return };
    for (name, v) in obj {
        if v.is_null() {
            continue;
        }
        let Some(r) = shape.members.get(name) else {
            continue;
        };
        let Some(member_shape) = model.target(r) else {
            continue;
        };
        let tag = r.location_name.as_deref().unwrap_or(name);
        let flattened = member_shape.kind == Kind::List && (r.flattened || member_shape.flattened);
        if flattened {
            // Each item is its own element named like the member.
            let (Value::Array(items), Some(m)) = (v, &member_shape.member) else {
                continue;
            };
            for item in items {
                open(out, tag, None);
                if let Some(s) = model.target(m) {
                    write_value(model, s, item, out);
                }
                close(out, tag);
            }
            continue;
        }
        open(out, tag, None);
        match v {
            Value::String(doc) if r.shape == POLICY_DOCUMENT => {
                escape_into(out, &percent_encode(doc));
            }
            v => write_value(model, member_shape, v, out),
        }
        close(out, tag);
    }
}

/// IAM's shape of policy documents in answers (`PolicyDocument`, `Document`,
/// `AssumeRolePolicyDocument`).
const POLICY_DOCUMENT: &str = "policyDocumentType";

/// RFC 3986 percent-encoding: everything but the unreserved characters.
fn percent_encode(text: &str) -> String {
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

fn write_value(model: &Model, shape: &Shape, value: &Value, out: &mut String) {
    match shape.kind {
        Kind::Structure => members(model, shape, value, out),
        Kind::List => {
            let (Value::Array(items), Some(m)) = (value, &shape.member) else {
                return;
            };
            let Some(item_shape) = model.target(m) else {
                return;
            };
            let tag = m.location_name.as_deref().unwrap_or("member");
            for item in items {
                open(out, tag, None);
                write_value(model, item_shape, item, out);
                close(out, tag);
            }
        }
        Kind::Map => {
            let (Value::Object(entries), Some(k), Some(v)) = (value, &shape.key, &shape.value)
            else {
                return;
            };
            let (Some(vs), kt, vt) = (
                model.target(v),
                k.location_name.as_deref().unwrap_or("key"),
                v.location_name.as_deref().unwrap_or("value"),
            ) else {
                return;
            };
            for (key, val) in entries {
                out.push_str("<entry>");
                element(out, kt, key);
                open(out, vt, None);
                write_value(model, vs, val, out);
                close(out, vt);
                out.push_str("</entry>");
            }
        }
        Kind::Timestamp => match value {
            Value::Number(n) => {
                let t = n
                    .as_i64()
                    .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                    .and_then(|t| t.format(&Rfc3339).ok())
                    .unwrap_or_default();
                escape_into(out, &t);
            }
            Value::String(s) => escape_into(out, s),
            _ => {}
        },
        _ => match value {
            Value::String(s) => escape_into(out, s),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.to_string()),
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::model;
    use super::*;

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
        let xml = response(m, "DescribeVpcs", &v, "rid");
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
        let xml = response(m, "GetCallerIdentity", &v, "rid");
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
        let xml = response(m, "GetUserPolicy", &v, "r");
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
        let xml = response(m, "CreateLoadBalancer", &v, "r");
        assert!(xml.contains("<CreateLoadBalancerResult><LoadBalancers><member><LoadBalancerName>a</LoadBalancerName><AvailabilityZones><member><ZoneName>z</ZoneName><SubnetId>s</SubnetId></member></AvailabilityZones></member></LoadBalancers></CreateLoadBalancerResult>"), "{xml}");
    }
}
