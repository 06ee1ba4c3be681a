//! The real botocore signer against our verifier (RELIABILITY items 1, 3, 4, 13, 14 and 17).
//!
//! `tests/botocore_sign.py` signs each case with botocore (SigV4Auth, SigV4QueryAuth, the S3
//! signers, and a real EC2 client); every signed request must verify, with the same canonical
//! request botocore computed, and every one-byte mutant of it must be refused with the
//! precise code, without leaking the secret, a signature or the session token. The rule tests
//! (clock skew, unsigned headers, scope, presign expiry) live in `tests/botocore_rules.rs`.
//! These tests fail, never skip, when python3 or botocore is missing.

// Test code: a failed expectation is a failed test, so unwrap/expect are the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use aws_lc_rs::hmac;
use common::{botocore, cfg, t0, Case, Req, KEY, SECRET, TOKEN};
use serde_json::json;
use underpass_auth::sigv4::{uri_encode, SigV4Error, SignatureKind};

/// The corpus: odd paths, queries, headers and bodies, header-signed and presigned.
fn corpus() -> Vec<Case> {
    let host = "https://svc.us-east-1.amazonaws.com";
    vec![
        Case::new(
            "encoded-path",
            "header",
            "GET",
            &format!("{host}/a%20b/c%2Fd/%E1%88%B4/x"),
        ),
        Case::new(
            "raw-utf8-and-space-path",
            "header",
            "GET",
            &format!("{host}/a b/ሴ/ü~"),
        ),
        Case::new(
            "dot-segments",
            "header",
            "GET",
            &format!("{host}/a/./b/../c//d/"),
        ),
        Case::new("slashes-only", "header", "DELETE", &format!("{host}//x//")),
        Case::new("query-params", "header", "GET", &format!("{host}/q")).query(&[
            ("Filter.1.Value.1", "a b"),
            ("Filter.1.Value.1", "a+b"),
            ("empty", ""),
            ("eq", "k=v=w"),
            ("ünï", "ß ✓"),
            ("plus", "1+1"),
        ]),
        Case::new(
            "query-raw-url",
            "header",
            "GET",
            &format!("{host}/r?b=2&a=1&a=0&flag&empty=&x=%E2%9C%93&t=~"),
        ),
        Case::new("odd-headers", "header", "PUT", &format!("{host}/h"))
            .header("X-Custom", "  spaced   out  value ")
            .header("X-Multi", "one")
            .header("X-Multi", " two ")
            .header("X-Tab", "a\tb")
            .header("X-Unicode", "café ✓")
            .raw_body("{\"k\": \"v\"}")
            .header("Content-Type", "application/json"),
        Case::new(
            "query-protocol-post",
            "header",
            "POST",
            "https://ec2.us-east-1.amazonaws.com/",
        )
        .service("ec2")
        .token()
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .form(json!({
            "Action": "CreateVpcEndpoint",
            "Version": "2016-11-15",
            "VpcId": "vpc-0123456789abcdef0",
            "ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0123",
            "TagSpecification.1.Tag.1.Value": "naïve ✓ a+b=c & d",
        })),
        Case::new("session-token", "header", "GET", &format!("{host}/t?x=1")).token(),
        Case::new("date-header", "header", "POST", &format!("{host}/d"))
            .header("Date", "set by botocore")
            .raw_body("x"),
        Case::new(
            "s3-put",
            "s3-header",
            "PUT",
            "https://bucket.s3.us-east-1.amazonaws.com/key%20with%20space/a%2Fb/~x",
        )
        .raw_body("hello world"),
        Case::new(
            "presign-get",
            "presign",
            "GET",
            &format!("{host}/a%20b/x?a=1&flag"),
        ),
        Case::new("presign-token", "presign", "GET", &format!("{host}/p"))
            .token()
            .expires(json!(900)),
        Case::new(
            "presign-form-post",
            "presign",
            "POST",
            "https://ec2.us-east-1.amazonaws.com/",
        )
        .service("ec2")
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .form(json!({"Action": "DescribeVpcs", "Version": "2016-11-15", "VpcId.1": "vpc-1"})),
        Case::ec2(
            "ec2-describe-vpcs",
            "ec2-client",
            "describe_vpcs",
            json!({"Filters": [{"Name": "tag:Name", "Values": ["a b", "ü+=", "\u{202e}rtl"]}]}),
        )
        .token(),
        Case::ec2(
            "ec2-create-tags",
            "ec2-client",
            "create_tags",
            json!({"Resources": ["vpc-1"], "Tags": [{"Key": "Name", "Value": "x y+z=w ✓"}]}),
        ),
        Case::ec2(
            "ec2-presigned",
            "ec2-presign-url",
            "describe_vpcs",
            json!({"VpcIds": ["vpc-1"]}),
        )
        .expires(json!(300)),
    ]
}

#[test]
fn botocore_signed_requests_verify_with_botocores_canonical_request() {
    let cfg = cfg();
    for req in botocore(&corpus()) {
        let parsed = req
            .parse(&cfg)
            .unwrap_or_else(|e| panic!("{}: parse refused: {e}", req.name));
        if let Some(expected) = &req.botocore_canonical {
            assert_eq!(
                parsed.canonical_request(),
                expected,
                "{}: canonical request",
                req.name
            );
        }
        let verified = parsed
            .verify(SECRET, t0())
            .unwrap_or_else(|e| panic!("{}: refused: {e}", req.name));
        assert_eq!(verified.access_key_id(), KEY);
        assert_eq!(verified.request_time(), t0());
        let presigned = req.query.contains("X-Amz-Signature=");
        assert_eq!(
            verified.kind(),
            if presigned {
                SignatureKind::Presigned
            } else {
                SignatureKind::Header
            }
        );
        let with_token = req.header("x-amz-security-token").is_some()
            || req.query.contains("X-Amz-Security-Token=");
        assert_eq!(
            verified.session_token(),
            with_token.then_some(TOKEN),
            "{}",
            req.name
        );
        // Debug output leaves out the token and the signature.
        let debug = format!("{parsed:?} {verified:?}");
        assert!(
            !debug.contains(TOKEN) && !debug.contains(&req.sent_signature()),
            "{}: {debug}",
            req.name
        );
    }
}

/// A byte change that keeps the text well formed: a letter or digit moves to the next one.
fn flip(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => Some(b + 1),
        b'9' => Some(b'0'),
        b'z' => Some(b'a'),
        b'Z' => Some(b'A'),
        _ => None,
    }
}

/// A change of one lower-case hex digit to another.
fn flip_hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'8' | b'a'..=b'e' => Some(b + 1),
        b'9' => Some(b'a'),
        b'f' => Some(b'0'),
        _ => None,
    }
}

/// A change of one hex digit of a `%XX` escape to another, keeping its case.
fn flip_escape_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'8' | b'A'..=b'E' | b'a'..=b'e' => Some(b + 1),
        b'9' => Some(b'A'),
        b'F' => Some(b'0'),
        b'f' => Some(b'0'),
        _ => None,
    }
}

/// Up to six mutants of `s` within `range`, each with one byte changed by `f`, spread over
/// the range. Hex digits of `%XX` escapes only ever become other hex digits, so every mutant
/// stays well formed and is refused for its content, not its syntax.
fn mutants(s: &str, range: std::ops::Range<usize>, f: Flip) -> Vec<String> {
    let bytes = s.as_bytes();
    let in_escape = |i: usize| (1..=2).any(|back| i >= back && bytes.get(i - back) == Some(&b'%'));
    let change = |i: usize| {
        bytes
            .get(i)
            .copied()
            .and_then(if in_escape(i) { flip_escape_digit } else { f })
    };
    let spots: Vec<usize> = range.filter(|&i| change(i).is_some()).collect();
    let step = spots.len().div_ceil(6).max(1);
    spots
        .iter()
        .step_by(step)
        .map(|&i| {
            let mut m = bytes.to_vec();
            m[i] = change(i).expect("changeable");
            String::from_utf8(m).expect("still UTF-8: only ASCII letters and digits change")
        })
        .collect()
}

/// botocore's path normalisation (for deciding which path mutants are really the same request).
fn normalize(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    let trail = if path.ends_with('/') && !kept.is_empty() {
        "/"
    } else {
        ""
    };
    format!("/{}{trail}", kept.join("/"))
}

/// Changes one byte, or says the byte is not to be changed.
type Flip = fn(u8) -> Option<u8>;
/// The error codes a mutant may be refused with.
type Codes = &'static [&'static str];

const SDNM: &[&str] = &["SignatureDoesNotMatch"];
const SDNM_OR_INCOMPLETE: &[&str] = &["SignatureDoesNotMatch", "IncompleteSignature"];

/// Every one-byte mutant of `req` with the codes it may be refused with (`None`: must verify).
fn mutate(req: &Req) -> Vec<(String, Req, Option<Codes>)> {
    let mut out = Vec::new();
    let mut push = |label: String, m: Req, codes| out.push((label, m, codes));
    let parsed = req.parse(&cfg()).expect("original parses");
    let s3 = parsed.scope().service() == "s3";
    let body_code: Codes = if req.header("x-amz-content-sha256").is_some() {
        &["XAmzContentSHA256Mismatch"]
    } else {
        SDNM
    };

    for m in mutants(&req.method, 0..1, flip) {
        push(
            format!("method {m}"),
            Req {
                method: m,
                ..req.clone()
            },
            Some(SDNM),
        );
    }
    for m in mutants(&req.path, 0..req.path.len(), flip) {
        // SigV4 signs the normalised path: a change inside a segment that `..` removes is
        // the same request (the server must route on the normalised path too).
        let same = !s3 && normalize(&m) == normalize(&req.path);
        push(
            format!("path {m}"),
            Req {
                path: m,
                ..req.clone()
            },
            (!same).then_some(SDNM),
        );
    }
    let pairs: Vec<&str> = req.query.split('&').collect();
    for (i, pair) in pairs.iter().enumerate() {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (f, codes): (Flip, Codes) = match key {
            "X-Amz-Signature" => (flip_hex, SDNM),
            "X-Amz-Algorithm" => (flip, &["IncompleteSignature"]),
            "X-Amz-Credential" | "X-Amz-Date" | "X-Amz-SignedHeaders" => (flip, SDNM_OR_INCOMPLETE),
            "X-Amz-Expires" => (flip, &["SignatureDoesNotMatch", "InvalidParameterValue"]),
            _ => (flip, SDNM),
        };
        let new_values = if value.is_empty() {
            vec!["x".to_owned()]
        } else {
            mutants(value, 0..value.len(), f)
        };
        for v in new_values {
            let mut p: Vec<String> = pairs.iter().map(|s| (*s).to_owned()).collect();
            p[i] = format!("{key}={v}");
            push(
                format!("query {}", p[i]),
                Req {
                    query: p.join("&"),
                    ..req.clone()
                },
                Some(codes),
            );
        }
    }
    for name in parsed.signed_headers() {
        let value = req.header(name).expect("signed header present").to_owned();
        let (f, codes): (Flip, Codes) = match name.as_str() {
            "x-amz-content-sha256" => (flip_hex, &["XAmzContentSHA256Mismatch"]),
            "x-amz-date" | "date" => (flip, SDNM_OR_INCOMPLETE),
            _ => (flip, SDNM),
        };
        for v in mutants(&value, 0..value.len(), f) {
            let mut m = req.clone();
            m.set_header(name, &v);
            push(format!("header {name}: {v}"), m, Some(codes));
        }
    }
    if let Some(auth) = req.header("authorization") {
        let cred = auth.find("Credential=").expect("Credential=") + "Credential=".len();
        let cred_end = cred + auth[cred..].find(',').expect("comma after Credential");
        let sh = auth.find("SignedHeaders=").expect("SignedHeaders=") + "SignedHeaders=".len();
        let sh_end = sh + auth[sh..].find(',').expect("comma after SignedHeaders");
        let sig = auth.find("Signature=").expect("Signature=") + "Signature=".len();
        // The access key id is not signed: it only selects the secret. A changed one must
        // come out of parse_request changed, so the store looks up another key.
        let scope_start = cred + auth[cred..].find('/').expect("'/' after the key id");
        for v in mutants(auth, cred..scope_start, flip) {
            let mut m = req.clone();
            m.set_header("Authorization", &v);
            let key = m
                .parse(&cfg())
                .expect("key id mutant parses")
                .access_key_id()
                .to_owned();
            assert!(
                key != parsed.access_key_id() && v.contains(&key),
                "{}: key id mutant",
                req.name
            );
        }
        let parts: [(&str, std::ops::Range<usize>, Flip, Codes); 3] = [
            ("scope", scope_start..cred_end, flip, SDNM_OR_INCOMPLETE),
            ("signed headers", sh..sh_end, flip, SDNM_OR_INCOMPLETE),
            ("signature", sig..auth.len(), flip_hex, SDNM),
        ];
        for (what, range, f, codes) in parts {
            for v in mutants(auth, range, f) {
                let mut m = req.clone();
                m.set_header("Authorization", &v);
                push(format!("authorization {what}: {v}"), m, Some(codes));
            }
        }
    }
    let body = String::from_utf8_lossy(&req.body).into_owned();
    let body_mutants = if req.body.is_empty() {
        vec!["x".to_owned()]
    } else {
        mutants(&body, 0..body.len(), flip)
    };
    for b in body_mutants {
        push(
            format!("body {b}"),
            Req {
                body: b.into_bytes(),
                ..req.clone()
            },
            Some(body_code),
        );
    }
    out
}

/// The signature the server computed, recomputed from the string to sign in the error.
fn server_signature(string_to_sign: &str) -> (String, String) {
    let scope = string_to_sign.lines().nth(2).expect("scope line");
    let mut key = format!("AWS4{SECRET}").into_bytes();
    for part in scope.split('/') {
        key = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), part.as_bytes())
            .as_ref()
            .to_vec();
    }
    let sig = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &key),
        string_to_sign.as_bytes(),
    );
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    (hex(sig.as_ref()), hex(&key))
}

/// RELIABILITY item 17: nothing secret in the message or the Debug output of `err`.
fn assert_leaks_nothing(err: &SigV4Error, original_signature: &str, label: &str) {
    let text = format!("{err}\n{err:?}");
    let encoded_token = uri_encode(TOKEN.as_bytes(), false);
    for secret in [SECRET, TOKEN, &encoded_token, original_signature] {
        assert!(
            !text.contains(secret),
            "{label}: error leaks {secret:?}: {text}"
        );
    }
    if let SigV4Error::SignatureDoesNotMatch { string_to_sign, .. } = err {
        let (computed, key) = server_signature(string_to_sign);
        assert!(
            !text.contains(&computed) && !text.contains(&key),
            "{label}: leaks the computed signature"
        );
    }
}

#[test]
fn every_one_byte_mutant_is_refused_with_the_precise_code() {
    let cfg = cfg();
    let signed = botocore(&corpus());
    let started = Instant::now();
    let (mut refused, mut same_request) = (0, 0);
    for req in &signed {
        let original_signature = req.sent_signature();
        for (label, mutant, codes) in mutate(req) {
            let label = format!("{}: {label}", req.name);
            let result = mutant.verify(&cfg, t0());
            match (codes, result) {
                (None, Ok(_)) => same_request += 1,
                (None, Err(e)) => {
                    panic!("{label}: the same request after normalisation, refused: {e}")
                }
                (Some(codes), Ok(_)) => panic!("{label}: mutant accepted, expected {codes:?}"),
                (Some(codes), Err(e)) => {
                    assert!(
                        codes.contains(&e.code()),
                        "{label}: {} ({e}), expected {codes:?}",
                        e.code()
                    );
                    assert_leaks_nothing(&e, &original_signature, &label);
                    refused += 1;
                }
            }
        }
    }
    let elapsed = started.elapsed();
    println!("{refused} mutants refused, {same_request} equivalent paths accepted, in {elapsed:?}");
    assert!(refused >= 600, "only {refused} mutants: the corpus shrank");
    assert!(
        same_request >= 1,
        "the dot-segment case must produce an equivalent path"
    );
}
