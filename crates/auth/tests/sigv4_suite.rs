//! AWS's published SigV4 test suite, run as data: one case per directory under
//! `tests/data/aws-signing-test-suite/v4/` (see the README there for where it comes from).
//!
//! For every case and both signature locations (Authorization header, presigned query):
//! - our signer, fed `request.txt` and `context.json`, produces exactly the vector's canonical
//!   request, string to sign and signature;
//! - `parse_request` + `verify` on the vector's signed request, at the context's timestamp,
//!   accepts it, computes the same canonical request server-side, and refuses it with another
//!   secret. The few vectors a server must refuse are listed in `expected_refusal` with the reason.

// Test code: a failed expectation is a failed test, so unwrap/expect are the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use underpass_auth::sigv4::{
    parse_request, presign_url, sign_request, HttpRequest, PathMode, PayloadSigning, SignatureKind,
    SigningParams, VerifierConfig,
};

/// A request read from a `.txt` vector: `METHOD target [HTTP/1.1]`, header lines (obs-fold
/// continuation lines kept as on the wire, joined with CR LF), a blank line, the body.
struct RawRequest {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl RawRequest {
    fn parse(text: &str) -> Self {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let request_line = request_line
            .strip_suffix(" HTTP/1.1")
            .unwrap_or(request_line);
        // The target may hold raw spaces (get-space-unnormalized), so split on the first space only.
        let (method, target) = request_line.split_once(' ').expect("method and target");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let last = headers
                    .last_mut()
                    .expect("continuation line after a header");
                last.1.extend_from_slice(b"\r\n");
                last.1.extend_from_slice(line.as_bytes());
            } else {
                let (name, value) = line.split_once(':').expect("header line");
                headers.push((
                    name.to_owned(),
                    value.trim_matches([' ', '\t']).as_bytes().to_vec(),
                ));
            }
        }
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

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

    fn authorization_signature(&self) -> String {
        let (_, v) = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .expect("Authorization");
        let v = std::str::from_utf8(v).expect("utf-8");
        v.rsplit_once("Signature=")
            .expect("Signature=")
            .1
            .to_owned()
    }
}

#[derive(Deserialize)]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
}

#[derive(Deserialize)]
struct Context {
    credentials: Credentials,
    expiration_in_seconds: u32,
    normalize: bool,
    region: String,
    service: String,
    #[serde(default = "yes")]
    sign_body: bool,
    timestamp: String,
    #[serde(default)]
    omit_session_token: bool,
}

fn yes() -> bool {
    true
}

const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

impl Context {
    fn load(dir: &Path) -> Self {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        match fs::read_to_string(dir.join("context.json")) {
            Ok(text) => serde_json::from_str(&text).expect("context.json"),
            // The two older vectors have no context.json. Their values are the ones in their
            // signed requests and canonical requests (the secret is the suite's example key).
            Err(_) => {
                let (region, service) = match name {
                    "double-url-encode" => ("us-east-2", "lambda"),
                    "double-encode-path" => ("us-east-1", "service"),
                    other => panic!("{other}: no context.json"),
                };
                Self {
                    credentials: Credentials {
                        access_key_id: "AKIDEXAMPLE".into(),
                        secret_access_key: EXAMPLE_SECRET.into(),
                        token: None,
                    },
                    expiration_in_seconds: 3600,
                    normalize: true,
                    region: region.into(),
                    service: service.into(),
                    sign_body: false,
                    timestamp: "2021-05-11T15:40:45Z".into(),
                    omit_session_token: false,
                }
            }
        }
    }

    fn time(&self) -> OffsetDateTime {
        OffsetDateTime::parse(&self.timestamp, &Rfc3339).expect("timestamp")
    }
}

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/aws-signing-test-suite/v4")
}

/// Reads a vector file, without the trailing newline some of them carry.
fn read(dir: &Path, file: &str) -> Option<String> {
    fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_owned())
}

/// The path rule each vector was generated with.
fn path_mode(name: &str, ctx: &Context) -> PathMode {
    if name == "get-space-normalized" {
        // This vector's request.txt holds the path already encoded (`%20`) and its canonical
        // request encodes it once (CRT's use_double_uri_encode=false, which no context flag
        // says); every other normalised vector encodes twice. Its signed requests carry the
        // path decoded (a raw space), which the server's double encoding turns into the same
        // canonical URI, so they are verified like the others.
        PathMode {
            normalize: true,
            double_encode: false,
        }
    } else if ctx.normalize {
        PathMode::STANDARD
    } else {
        PathMode {
            normalize: false,
            double_encode: true,
        }
    }
}

/// The vectors a server must refuse, with the code it gives, and why.
fn expected_refusal(name: &str, kind: SignatureKind) -> Option<&'static str> {
    match name {
        // Signed without path normalisation (normalize=false) for service "service": our server
        // normalises the path for every service but s3, as AWS does, so the signature differs.
        "get-relative-unnormalized"
        | "get-relative-relative-unnormalized"
        | "get-slash-dot-slash-unnormalized"
        | "get-slash-pointless-dot-unnormalized"
        | "get-slash-unnormalized"
        | "get-slashes-unnormalized" => Some("SignatureDoesNotMatch"),
        // The session token is added after signing (omit_session_token). The server requires a
        // present x-amz-security-token header to be signed, and signs the whole query.
        "post-sts-header-after" => Some(match kind {
            SignatureKind::Header => "IncompleteSignature",
            SignatureKind::Presigned => "SignatureDoesNotMatch",
        }),
        _ => None,
    }
}

#[derive(Default, Debug)]
struct Counts {
    cases: usize,
    canonical_checked: BTreeMap<&'static str, usize>,
    signature_checked: BTreeMap<&'static str, usize>,
    accepted: BTreeMap<&'static str, usize>,
    refused_as_expected: BTreeMap<&'static str, usize>,
}

fn label(kind: SignatureKind) -> &'static str {
    match kind {
        SignatureKind::Header => "header",
        SignatureKind::Presigned => "query",
    }
}

fn run_case(dir: &Path, counts: &mut Counts) {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("case name")
        .to_owned();
    let ctx = Context::load(dir);
    let request =
        RawRequest::parse(&fs::read_to_string(dir.join("request.txt")).expect("request.txt"));
    let params = SigningParams {
        access_key_id: &ctx.credentials.access_key_id,
        secret_access_key: &ctx.credentials.secret_access_key,
        session_token: if ctx.omit_session_token {
            None
        } else {
            ctx.credentials.token.as_deref()
        },
        region: &ctx.region,
        service: &ctx.service,
        time: ctx.time(),
        payload: if ctx.sign_body {
            PayloadSigning::HashWithHeader
        } else {
            PayloadSigning::Hash
        },
        path_mode: Some(path_mode(&name, &ctx)),
    };
    for kind in [SignatureKind::Header, SignatureKind::Presigned] {
        let prefix = label(kind);
        let Some(expected_creq) = read(dir, &format!("{prefix}-canonical-request.txt")) else {
            // Only the two older vectors lack query files; asserted through the counts below.
            assert!(
                name.starts_with("double-") && kind == SignatureKind::Presigned,
                "{name}: no {prefix} vector"
            );
            continue;
        };
        let (creq, sts, signature) = match kind {
            SignatureKind::Header => {
                let s = request.with(|r| sign_request(r, &params)).expect("sign");
                (
                    s.canonical_request().to_owned(),
                    s.string_to_sign().to_owned(),
                    s.signature().to_owned(),
                )
            }
            SignatureKind::Presigned => {
                let p = request
                    .with(|r| presign_url(r, &params, ctx.expiration_in_seconds))
                    .expect("presign");
                (
                    p.canonical_request().to_owned(),
                    p.string_to_sign().to_owned(),
                    p.signature().to_owned(),
                )
            }
        };
        assert_eq!(creq, expected_creq, "{name} ({prefix}): canonical request");
        *counts.canonical_checked.entry(prefix).or_default() += 1;

        let signed_text = fs::read_to_string(dir.join(format!("{prefix}-signed-request.txt")))
            .expect("signed request");
        let signed = RawRequest::parse(&signed_text);
        if name == "double-encode-path" {
            // Its signed request was made with another key ("ANOTREAL", secret not published)
            // at another time than its canonical request, so only the canonical URI, which is
            // what the vector is about, can be checked server-side.
            let parsed = signed
                .with(|r| parse_request(r, &VerifierConfig::default()))
                .expect("parse");
            assert_eq!(
                parsed.canonical_request().lines().nth(1),
                expected_creq.lines().nth(1),
                "{name}: URI"
            );
            continue;
        }
        let expected_sts =
            read(dir, &format!("{prefix}-string-to-sign.txt")).expect("string to sign");
        assert_eq!(sts, expected_sts, "{name} ({prefix}): string to sign");
        let expected_sig = read(dir, &format!("{prefix}-signature.txt"))
            .unwrap_or_else(|| signed.authorization_signature());
        assert_eq!(signature, expected_sig, "{name} ({prefix}): signature");
        *counts.signature_checked.entry(prefix).or_default() += 1;

        verify_signed(&name, kind, &signed, &ctx, &expected_creq, counts);
    }
    counts.cases += 1;
}

fn verify_signed(
    name: &str,
    kind: SignatureKind,
    signed: &RawRequest,
    ctx: &Context,
    expected_creq: &str,
    counts: &mut Counts,
) {
    let prefix = label(kind);
    let cfg = VerifierConfig::default();
    let now = ctx.time();
    let secret = ctx.credentials.secret_access_key.as_str();
    let outcome = signed
        .with(|r| parse_request(r, &cfg))
        .and_then(|p| p.verify(secret, now).map(|v| (p, v)));
    if let Some(code) = expected_refusal(name, kind) {
        let err = outcome.expect_err(&format!("{name} ({prefix}) must be refused"));
        assert_eq!(err.code(), code, "{name} ({prefix}): {err}");
        *counts.refused_as_expected.entry(prefix).or_default() += 1;
        return;
    }
    let (parsed, verified) = outcome.unwrap_or_else(|e| panic!("{name} ({prefix}) refused: {e}"));
    assert_eq!(
        parsed.canonical_request(),
        expected_creq,
        "{name} ({prefix}): server-side canonical request"
    );
    assert_eq!(parsed.kind(), kind);
    assert_eq!(verified.kind(), kind);
    assert_eq!(verified.access_key_id(), ctx.credentials.access_key_id);
    assert_eq!(verified.scope().region(), ctx.region);
    assert_eq!(verified.scope().service(), ctx.service);
    assert_eq!(verified.request_time(), now);
    assert_eq!(
        verified.session_token(),
        ctx.credentials.token.as_deref(),
        "{name} ({prefix}): token"
    );
    assert!(verified.signed_headers().iter().any(|h| h == "host"));
    assert!(verified.body_signed());
    // Another secret, and the unknown-key path, are refused.
    let mut other = secret.to_owned();
    other.push('x');
    let err = parsed.verify(&other, now).expect_err("another secret");
    assert_eq!(err.code(), "SignatureDoesNotMatch", "{name} ({prefix})");
    assert_eq!(parsed.reject_unknown_key().code(), "InvalidClientTokenId");
    *counts.accepted.entry(prefix).or_default() += 1;
}

#[test]
fn aws_sigv4_test_suite() {
    let mut dirs: Vec<PathBuf> = fs::read_dir(suite_dir())
        .expect("suite directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut counts = Counts::default();
    for dir in &dirs {
        run_case(dir, &mut counts);
    }
    println!("{counts:#?}");
    // Every directory ran; nothing was skipped silently.
    assert_eq!(dirs.len(), 40);
    assert_eq!(counts.cases, 40);
    let n = |m: &BTreeMap<&str, usize>, k: &str| m.get(k).copied().unwrap_or(0);
    // Canonical requests: all 40 header vectors, the 38 with query vectors.
    assert_eq!(
        (
            n(&counts.canonical_checked, "header"),
            n(&counts.canonical_checked, "query")
        ),
        (40, 38)
    );
    // Signatures: double-encode-path has no usable one.
    assert_eq!(
        (
            n(&counts.signature_checked, "header"),
            n(&counts.signature_checked, "query")
        ),
        (39, 38)
    );
    // Verification: 7 refusals per location as listed in expected_refusal, the rest accepted.
    assert_eq!(
        (
            n(&counts.refused_as_expected, "header"),
            n(&counts.refused_as_expected, "query")
        ),
        (7, 7)
    );
    assert_eq!(
        (n(&counts.accepted, "header"), n(&counts.accepted, "query")),
        (32, 31)
    );
}
