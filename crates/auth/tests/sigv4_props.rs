//! Property tests of the SigV4 verifier (RELIABILITY items 3, 8 and 17):
//! - a request signed by our signer verifies whatever the order of its query parameters and
//!   however (validly) they are percent-encoded;
//! - no input makes `parse_authorization_header`, `parse_request`, `verify` or
//!   `reject_unknown_key` panic;
//! - across random one-byte mutants, no error message or Debug output holds the secret, the
//!   session token, the true signature or the signature the server computed.

// Test code: a failed expectation is a failed test, so unwrap/expect are the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::hmac;
use proptest::prelude::*;
use time::OffsetDateTime;
use underpass_auth::sigv4::{
    parse_authorization_header, parse_request, presign_url, sign_request, uri_encode, HttpRequest,
    PayloadSigning, SigV4Error, SigningParams, VerifierConfig,
};

/// A small deterministic generator, seeded by proptest, for shuffles and encoding choices.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).expect("fits")).expect("fits")
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Percent-encodes `bytes` for a query, choosing per byte among the valid spellings: an
/// unreserved byte raw or escaped, escapes in upper or lower case.
fn encode_variant(bytes: &[u8], rng: &mut Rng) -> String {
    let mut out = String::new();
    for &b in bytes {
        let unreserved = b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        match (unreserved, rng.below(3)) {
            (true, 0 | 1) => out.push(char::from(b)),
            (_, 2) => out.push_str(&format!("%{b:02x}")),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The same parameters, shuffled and spelled differently.
fn respell(query: &str, rng: &mut Rng) -> String {
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let (k, v) = (
                encode_variant(&decode(k), rng),
                encode_variant(&decode(v), rng),
            );
            // A parameter without '=' has an empty value (an empty key needs its '=').
            if v.is_empty() && !k.is_empty() && rng.below(2) == 0 {
                k
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    rng.shuffle(&mut pairs);
    pairs.join("&")
}

const T: OffsetDateTime = time::macros::datetime!(2026-03-04 05:06:07 UTC);

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ._~+=&%/é✓ሴ-]{0,12}"
}

#[derive(Debug, Clone)]
struct Input {
    path: String,
    params: Vec<(String, String)>,
    custom: String,
    body: Vec<u8>,
    secret: String,
    token: Option<String>,
    presigned: bool,
    seed: u64,
}

fn input() -> impl Strategy<Value = Input> {
    (
        prop::collection::vec("[a-zA-Z0-9 ._~%é-]{0,6}", 0..4),
        prop::collection::vec((text(), text()), 0..8),
        "[ -~]{0,20}",
        prop::collection::vec(any::<u8>(), 0..64),
        "[A-Za-z0-9/+]{40}",
        prop::option::of("[A-Za-z0-9/+=]{24,48}"),
        any::<bool>(),
        1..u64::MAX,
    )
        .prop_map(
            |(segments, params, custom, body, secret, token, presigned, seed)| Input {
                path: format!("/{}", segments.join("/")),
                params,
                custom,
                body,
                secret,
                token,
                presigned,
                seed,
            },
        )
}

/// An owned request.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Req {
    fn with<R>(&self, f: impl FnOnce(&HttpRequest<'_>) -> R) -> R {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        f(&HttpRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        })
    }

    fn verify(&self, secret: &str, now: OffsetDateTime) -> Result<(), SigV4Error> {
        self.with(|r| parse_request(r, &VerifierConfig::default()))?
            .verify(secret, now)
            .map(drop)
    }
}

/// Signs `input` with our signer; returns the signed request and its signature.
fn signed(input: &Input) -> (Req, String) {
    let mut rng = Rng(input.seed);
    let query: Vec<String> = input
        .params
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                encode_variant(k.as_bytes(), &mut rng),
                encode_variant(v.as_bytes(), &mut rng)
            )
        })
        .collect();
    let mut req = Req {
        method: "POST".to_owned(),
        path: input.path.clone(),
        query: query.join("&"),
        headers: vec![
            ("Host".to_owned(), b"svc.example.internal".to_vec()),
            ("X-Custom".to_owned(), input.custom.clone().into_bytes()),
        ],
        body: input.body.clone(),
    };
    let params = SigningParams {
        access_key_id: "AKIAPROPTEST",
        secret_access_key: &input.secret,
        session_token: input.token.as_deref(),
        region: "us-east-1",
        service: "svc",
        time: T,
        payload: PayloadSigning::Hash,
        path_mode: None,
    };
    let debug = format!("{params:?}");
    assert!(
        !debug.contains(&input.secret),
        "SigningParams Debug leaks the secret"
    );
    if input.presigned {
        let p = req.with(|r| presign_url(r, &params, 600)).expect("presign");
        req.query = p.query().to_owned();
        (req, p.signature().to_owned())
    } else {
        let s = req.with(|r| sign_request(r, &params)).expect("sign");
        for (name, value) in s.headers() {
            req.headers.push((name.clone(), value.clone().into_bytes()));
        }
        (req, s.signature().to_owned())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn query_order_and_spelling_never_matter(input in input()) {
        let (mut req, _) = signed(&input);
        req.verify(&input.secret, T).map_err(|e| TestCaseError::fail(format!("as signed: {e}")))?;
        let mut rng = Rng(input.seed.rotate_left(17) | 1);
        req.query = respell(&req.query, &mut rng);
        req.verify(&input.secret, T).map_err(|e| TestCaseError::fail(format!("respelled {}: {e}", req.query)))?;
        prop_assert_eq!(req.verify("another secret", T).map_err(|e| e.code()), Err("SignatureDoesNotMatch"));
    }

    #[test]
    fn authorization_header_parser_never_panics(s in "\\PC{0,200}") {
        let _ = parse_authorization_header(&s);
    }

    #[test]
    fn authorization_header_token_soup_never_panics(parts in prop::collection::vec(prop_oneof![
        Just("AWS4-HMAC-SHA256".to_owned()), Just(" ".to_owned()), Just(", ".to_owned()),
        Just("Credential=".to_owned()), Just("SignedHeaders=".to_owned()), Just("Signature=".to_owned()),
        Just("/".to_owned()), Just(";".to_owned()), Just("=".to_owned()), Just("aws4_request".to_owned()),
        Just("20150830".to_owned()), Just("host".to_owned()), "[a-f0-9]{64}", "[a-zA-Z0-9]{0,8}", "\\PC{0,3}",
    ], 0..24)) {
        let _ = parse_authorization_header(&parts.concat());
    }

    #[test]
    fn request_parser_never_panics(
        method in "\\PC{0,8}",
        path in "\\PC{0,40}",
        query in prop::collection::vec(prop_oneof![
            Just("X-Amz-Algorithm=AWS4-HMAC-SHA256".to_owned()),
            Just("X-Amz-Credential=AK%2F99991231%2Fr%2Fs%2Faws4_request".to_owned()),
            Just("X-Amz-Date=99991231T235959Z".to_owned()),
            Just("X-Amz-Date=00000101T000000Z".to_owned()),
            Just("X-Amz-Expires=604800".to_owned()),
            Just("X-Amz-SignedHeaders=host".to_owned()),
            "X-Amz-Signature=[0-9a-f]{64}",
            "\\PC{0,12}",
        ], 0..10),
        headers in prop::collection::vec((
            prop_oneof![Just("Host"), Just("Authorization"), Just("X-Amz-Date"), Just("Date"),
                        Just("X-Amz-Security-Token"), Just("X-Amz-Content-SHA256"), Just("Content-Type"), Just("X-Other")],
            prop::collection::vec(any::<u8>(), 0..80),
        ), 0..8),
        body in prop::collection::vec(any::<u8>(), 0..32),
        now in -377_705_116_800i64..=253_402_300_799,
    ) {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let query = query.join("&");
        let req = HttpRequest { method: &method, path: &path, query: &query, headers: &headers, body: &body };
        if let Ok(parsed) = parse_request(&req, &VerifierConfig::default()) {
            let now = OffsetDateTime::from_unix_timestamp(now).expect("in range");
            let _ = parsed.verify("secret", now);
            let _ = parsed.reject_unknown_key();
        }
    }

    #[test]
    fn errors_never_leak_secrets(input in input(), field in 0usize..5, pick in any::<prop::sample::Index>(), byte in 0u8..0x80) {
        let (req, signature) = signed(&input);
        let mut m = req.clone();
        // Change one byte of a value: method, path, a query value, a header value or the body.
        // Names and the `&` between parameters are left alone: a renamed token parameter, or
        // one absorbed by its neighbour, is ordinary request data to the server, and the
        // canonical request in SignatureDoesNotMatch shows request data, as AWS's does.
        match field {
            0 => m.method.push(char::from(byte)),
            1 => m.path = replace_char(&m.path, pick.index(m.path.len().max(1)), byte),
            2 => {
                let spots = value_positions(&m.query);
                if !spots.is_empty() {
                    m.query = replace_char(&m.query, spots[pick.index(spots.len())], byte);
                }
            }
            3 => {
                let h = pick.index(m.headers.len());
                let v = &mut m.headers[h].1;
                let i = pick.index(v.len().max(1));
                if i < v.len() { v[i] = byte } else { v.push(byte) }
            }
            _ => m.body.push(byte),
        }
        let Err(err) = m.verify(&input.secret, T) else { return Ok(()) };
        let text = format!("{err}\n{err:?}");
        let mut forbidden = vec![input.secret.clone(), signature];
        if let Some(token) = &input.token {
            forbidden.push(token.clone());
            forbidden.push(uri_encode(token.as_bytes(), false));
        }
        if let SigV4Error::SignatureDoesNotMatch { string_to_sign, .. } = &err {
            forbidden.push(server_signature(&input.secret, string_to_sign));
        }
        for f in &forbidden {
            prop_assert!(!text.contains(f.as_str()), "leaks {:?}: {}", f, text);
        }
    }
}

/// Byte offsets inside query values (after a parameter's first `=`, before the next `&`).
fn value_positions(query: &str) -> Vec<usize> {
    let mut spots = Vec::new();
    let mut in_value = false;
    for (i, b) in query.bytes().enumerate() {
        match b {
            b'&' => in_value = false,
            b'=' if !in_value => in_value = true,
            _ if in_value => spots.push(i),
            _ => {}
        }
    }
    spots
}

/// Replaces the character at byte offset `i` (or the one it falls in) with `byte`.
fn replace_char(s: &str, i: usize, byte: u8) -> String {
    let mut out = String::new();
    let mut done = false;
    for (at, c) in s.char_indices() {
        if !done && at + c.len_utf8() > i {
            out.push(char::from(byte));
            done = true;
        } else {
            out.push(c);
        }
    }
    if !done {
        out.push(char::from(byte));
    }
    out
}

/// HMAC-SHA256 of the string to sign with the key derived from `secret`, as hex.
fn server_signature(secret: &str, string_to_sign: &str) -> String {
    let scope = string_to_sign.lines().nth(2).unwrap_or_default();
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in scope.split('/') {
        key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), part.as_bytes())
            .as_ref()
            .to_vec();
    }
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &key),
        string_to_sign.as_bytes(),
    );
    tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn respell_really_changes_spelling() {
    // Guards the property above against a respell that silently returns its input.
    let mut rng = Rng(42);
    let variants: std::collections::BTreeSet<String> = (0..20)
        .map(|_| respell("a=1&b=x%2Fy&c", &mut rng))
        .collect();
    assert!(variants.len() > 5, "{variants:?}");
}
