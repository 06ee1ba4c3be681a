//! `application/x-www-form-urlencoded` parameters, bounded (RELIABILITY items 7 and 8): at most
//! [`MAX_PARAMS`] pairs, values of at most [`MAX_VALUE_BYTES`], names of at most
//! [`MAX_NAME_BYTES`], every name and value valid UTF-8 after decoding, no name twice.

/// Most parameters in one request.
pub(crate) const MAX_PARAMS: usize = 1000;
/// Longest value, in bytes after decoding.
pub(crate) const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Longest name, in bytes after decoding.
pub(crate) const MAX_NAME_BYTES: usize = 256;

/// The SigV4 parameters of presigned URLs: authentication, not the action's parameters.
const AUTH_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// Why parameters could not be read. Messages never echo a value (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FormError {
    /// More than [`MAX_PARAMS`] pairs.
    #[error("The request has more than {MAX_PARAMS} parameters.")]
    TooMany,
    /// A value or a name over its limit.
    #[error("The value of parameter {0} is longer than {MAX_VALUE_BYTES} bytes.")]
    TooLong(String),
    /// A broken `%` escape.
    #[error("The request has a malformed percent-encoding.")]
    BadEscape,
    /// Decoded bytes that are not UTF-8 (overlong forms and surrogates included).
    #[error("The request has a parameter that is not valid UTF-8.")]
    NotUtf8,
    /// A name given twice.
    #[error("The parameter {0} is given more than once.")]
    Repeated(String),
}

/// The decoded `name=value` pairs, in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    /// The value of `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `text` (a body or a query string), appending to `into`. Presigned-URL parameters
/// are skipped when `skip_auth` is set.
pub(crate) fn parse_into(text: &[u8], skip_auth: bool, into: &mut Params) -> Result<(), FormError> {
    for pair in text.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        if into.0.len() >= MAX_PARAMS {
            return Err(FormError::TooMany);
        }
        let (raw_name, raw_value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        if raw_name.len() > 3 * MAX_NAME_BYTES {
            return Err(FormError::TooLong("(name)".into()));
        }
        let name = decode(raw_name)?;
        if name.len() > MAX_NAME_BYTES {
            return Err(FormError::TooLong("(name)".into()));
        }
        if raw_value.len() > 3 * MAX_VALUE_BYTES {
            return Err(FormError::TooLong(printable(&name)));
        }
        let value = decode(raw_value)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(FormError::TooLong(printable(&name)));
        }
        if skip_auth && AUTH_PARAMS.contains(&name.as_str()) {
            continue;
        }
        into.0.push((name, value));
    }
    // Repeats: sort a copy of the names (n log n over at most MAX_PARAMS).
    let mut names: Vec<&str> = into.0.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(FormError::Repeated(printable(w[0])));
    }
    Ok(())
}

/// A name for a message: printable ASCII, at most 64 characters.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decoding with `+` as a space, then strict UTF-8.
fn decode(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex);
                let lo = raw.get(i + 2).copied().and_then(hex);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(FormError::BadEscape);
                };
                out.push(hi << 4 | lo);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<(String, String)>, FormError> {
        let mut p = Params::default();
        parse_into(text.as_bytes(), true, &mut p).map(|()| p.0)
    }

    #[test]
    fn decodes_pairs() {
        let p =
            parse("Action=DescribeVpcs&Version=2016-11-15&Filter.1.Value.1=a+b%2Fc&Empty=&Bare")
                .unwrap();
        assert_eq!(
            p,
            [
                ("Action", "DescribeVpcs"),
                ("Version", "2016-11-15"),
                ("Filter.1.Value.1", "a b/c"),
                ("Empty", ""),
                ("Bare", "")
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        assert_eq!(parse("X-Amz-Signature=abc&A=1").unwrap().len(), 1);
        assert_eq!(parse("Tag=%F0%9F%A6%80").unwrap()[0].1, "\u{1f980}");
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(parse("A=%zz"), Err(FormError::BadEscape));
        assert_eq!(parse("A=%4"), Err(FormError::BadEscape));
        // Invalid UTF-8, an overlong '/', a surrogate.
        for bad in ["A=%ff", "A=%C0%AF", "A=%ED%A0%80"] {
            assert_eq!(parse(bad), Err(FormError::NotUtf8), "{bad}");
        }
        assert_eq!(parse("A=1&A=2"), Err(FormError::Repeated("A".into())));
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("P{i}=x")).collect();
        assert_eq!(parse(&many.join("&")), Err(FormError::TooMany));
        let long = format!("A={}", "x".repeat(MAX_VALUE_BYTES + 1));
        assert_eq!(parse(&long), Err(FormError::TooLong("A".into())));
    }
}
