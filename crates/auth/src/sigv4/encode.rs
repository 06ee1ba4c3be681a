//! Percent-encoding and decoding, hex, path normalisation and the canonical query.

use std::borrow::Cow;

use super::{PathMode, SigV4Error};

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// `A-Za-z0-9-._~`: the bytes SigV4 never percent-encodes.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn push_encoded(out: &mut String, b: u8) {
    out.push('%');
    out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
    out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
}

/// SigV4 URI-encoding: every byte except `A-Za-z0-9-._~` (and `/` when `keep_slash`) becomes
/// `%XX` with upper-case hex.
pub fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    uri_encode_into(&mut out, bytes, keep_slash);
    out
}

pub(crate) fn uri_encode_into(out: &mut String, bytes: &[u8], keep_slash: bool) {
    for &b in bytes {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            push_encoded(out, b);
        }
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX_LOWER[usize::from(b >> 4)]));
        out.push(char::from(HEX_LOWER[usize::from(b & 0x0f)]));
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes exactly 64 lower-case hex characters into 32 bytes.
pub(crate) fn decode_hex32_lower(s: &str) -> Option<[u8; 32]> {
    let raw = s.as_bytes();
    if raw.len() != 64 || !raw.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(raw.chunks_exact(2)) {
        *o = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(out)
}

/// Decodes `%XX` escapes; every other byte, `+` included, stands for itself. A `%` not followed
/// by two hex digits is an error.
pub(crate) fn percent_decode(s: &str) -> Option<Cow<'_, [u8]>> {
    let raw = s.as_bytes();
    if !raw.contains(&b'%') {
        return Some(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let hi = hex_value(*raw.get(i + 1)?)?;
            let lo = hex_value(*raw.get(i + 2)?)?;
            out.push((hi << 4) | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(Cow::Owned(out))
}

/// Removes `.` and `..` segments and empty segments (repeated slashes), keeping a leading slash
/// and, when anything is left, a trailing one: what botocore and AWS's services do.
pub(crate) fn normalize_path(path: &str) -> Cow<'_, str> {
    if path.is_empty() {
        return Cow::Borrowed("/");
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    let lead = if path.starts_with('/') { "/" } else { "" };
    let trail = if path.ends_with('/') && !kept.is_empty() {
        "/"
    } else {
        ""
    };
    let joined = format!("{lead}{}{trail}", kept.join("/"));
    if joined == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(joined)
    }
}

/// The canonical URI of the raw wire `path` under `mode`.
pub fn canonical_uri(path: &str, mode: PathMode) -> Result<String, SigV4Error> {
    let path = if mode.normalize {
        normalize_path(path)
    } else {
        Cow::Borrowed(path)
    };
    let path: &str = if path.is_empty() { "/" } else { &path };
    if mode.double_encode {
        return Ok(uri_encode(path.as_bytes(), true));
    }
    // Single encoding: each `%XX` escape is decoded and the byte encoded once; a decoded `/`
    // is data, so it stays `%2F`.
    let raw = path.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let decoded = raw
                .get(i + 1)
                .and_then(|&h| hex_value(h))
                .zip(raw.get(i + 2).and_then(|&l| hex_value(l)))
                .map(|(h, l)| (h << 4) | l);
            let Some(d) = decoded else {
                return Err(SigV4Error::InvalidParameterValue(format!(
                    "The request path contains a '%' that does not start a %XX escape (at byte {i})."
                )));
            };
            uri_encode_into(&mut out, &[d], false);
            i += 3;
        } else {
            uri_encode_into(&mut out, &[b], true);
            i += 1;
        }
    }
    Ok(out)
}

/// One query parameter: decoded bytes and canonical (strictly re-encoded) text.
#[derive(Debug, Clone)]
pub(crate) struct QueryParam {
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
    pub(crate) enc_key: String,
    pub(crate) enc_value: String,
}

/// Splits a raw query on `&` and each part on its first `=`, decoding and re-encoding both
/// sides. Empty parts (`a=1&&b=2`, a trailing `&`) are skipped.
pub(crate) fn parse_query(query: &str, max_params: usize) -> Result<Vec<QueryParam>, SigV4Error> {
    let mut params = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        if params.len() >= max_params {
            return Err(SigV4Error::InvalidParameterValue(format!(
                "The query string has more than {max_params} parameters."
            )));
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        // Query text is never echoed: a parameter may have absorbed its neighbour (the token).
        let bad = || {
            SigV4Error::InvalidParameterValue(format!(
                "Query parameter {} contains a '%' that does not start a %XX escape.",
                params.len() + 1
            ))
        };
        let key = percent_decode(k).ok_or_else(bad)?.into_owned();
        let value = percent_decode(v).ok_or_else(bad)?.into_owned();
        params.push(QueryParam {
            enc_key: uri_encode(&key, false),
            enc_value: uri_encode(&value, false),
            key,
            value,
        });
    }
    Ok(params)
}

/// Joins already encoded pairs, sorted by key then value, into `k=v&k=v`.
pub(crate) fn join_sorted<'p>(pairs: impl Iterator<Item = (&'p str, &'p str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs.collect();
    pairs.sort_unstable();
    let mut out = String::new();
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The canonical query string of a raw query (no parameter dropped).
pub fn canonical_query_string(query: &str) -> Result<String, SigV4Error> {
    let params = parse_query(query, usize::MAX)?;
    Ok(join_sorted(
        params
            .iter()
            .map(|p| (p.enc_key.as_str(), p.enc_value.as_str())),
    ))
}
