//! Shared by the SigV4 integration tests: running the real botocore signer
//! (`tests/botocore_sign.py`) and holding the requests it signed.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use underpass_auth::sigv4::{
    parse_request, HttpRequest, ParsedRequest, SigV4Error, VerifiedRequest, VerifierConfig,
};

/// The secret every case signs with; long and odd so a leak into a message is unmistakable.
pub(crate) const SECRET: &str = "uNdErPaSs/SeCrEt+KeY/4c1d9e0b7f2a6e5d8c3b";
/// The session token of the cases that carry one (with characters that need encoding).
pub(crate) const TOKEN: &str = "FwoGZXIvYXdzEUNDERPASS//////////wEaDSessionToken+With/Odd=Chars";
/// The access key id.
pub(crate) const KEY: &str = "AKIAUNDERPASSEXAMPLE";
/// The signing time of every case unless a test shifts it.
pub(crate) const T0: &str = "20260102T030405Z";

/// `T0` as a time.
pub(crate) fn t0() -> OffsetDateTime {
    time::macros::datetime!(2026-01-02 03:04:05 UTC)
}

/// One request for botocore to sign (see the docstring of botocore_sign.py).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Case {
    pub(crate) name: String,
    pub(crate) mode: &'static str,
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) params: Option<Vec<(String, String)>>,
    pub(crate) query_params: Option<Vec<(String, String)>>,
    pub(crate) data: Option<Value>,
    pub(crate) region: String,
    pub(crate) service: String,
    pub(crate) access_key: String,
    pub(crate) secret: String,
    pub(crate) token: Option<String>,
    pub(crate) time: String,
    pub(crate) expires: Value,
    pub(crate) unsigned_payload: bool,
    pub(crate) tweak: Option<Value>,
    pub(crate) operation: Option<String>,
    pub(crate) op_params: Option<Value>,
}

impl Case {
    /// A request signed by `mode` (header, presign, s3-header, s3-presign) at `T0`.
    pub(crate) fn new(name: &str, mode: &'static str, method: &str, url: &str) -> Self {
        let service = if mode.starts_with("s3") { "s3" } else { "svc" };
        Self {
            name: name.to_owned(),
            mode,
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            params: None,
            query_params: None,
            data: None,
            region: "us-east-1".to_owned(),
            service: service.to_owned(),
            access_key: KEY.to_owned(),
            secret: SECRET.to_owned(),
            token: None,
            time: T0.to_owned(),
            expires: Value::from(3600),
            unsigned_payload: false,
            tweak: None,
            operation: None,
            op_params: None,
        }
    }

    /// A call through a real EC2 client (`ec2-client`) or its `generate_presigned_url`
    /// (`ec2-presign-url`).
    pub(crate) fn ec2(name: &str, mode: &'static str, operation: &str, op_params: Value) -> Self {
        let mut case = Self::new(name, mode, "", "");
        case.service = "ec2".to_owned();
        case.operation = Some(operation.to_owned());
        case.op_params = Some(op_params);
        case
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn params(mut self, params: &[(&str, &str)]) -> Self {
        self.params = Some(
            params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        self
    }

    /// Query parameters encoded into the URL the way botocore's serialisers do it
    /// (`percent_encode_sequence`: strict, `%20` for a space, `%2B` for a plus).
    pub(crate) fn query(mut self, params: &[(&str, &str)]) -> Self {
        self.query_params = Some(
            params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        self
    }

    pub(crate) fn form(mut self, form: Value) -> Self {
        self.data = Some(serde_json::json!({ "form": form }));
        self
    }

    pub(crate) fn raw_body(mut self, body: &str) -> Self {
        self.data = Some(serde_json::json!({ "raw": body }));
        self
    }

    pub(crate) fn service(mut self, service: &str) -> Self {
        self.service = service.to_owned();
        self
    }

    pub(crate) fn region(mut self, region: &str) -> Self {
        self.region = region.to_owned();
        self
    }

    pub(crate) fn token(mut self) -> Self {
        self.token = Some(TOKEN.to_owned());
        self
    }

    pub(crate) fn time(mut self, stamp: &str) -> Self {
        self.time = stamp.to_owned();
        self
    }

    pub(crate) fn expires(mut self, expires: Value) -> Self {
        self.expires = expires;
        self
    }

    pub(crate) fn tweak(mut self, tweak: Value) -> Self {
        self.tweak = Some(tweak);
        self
    }

    pub(crate) fn unsigned_payload(mut self) -> Self {
        self.unsigned_payload = true;
        self
    }
}

/// A request as botocore would send it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Signed {
    pub(crate) name: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body_b64: String,
    /// botocore's canonical request, for diagnostics.
    pub(crate) canonical_request: Option<String>,
    pub(crate) string_to_sign: Option<String>,
}

#[derive(Deserialize)]
struct Output {
    botocore_version: String,
    signed: Vec<Signed>,
}

/// Signs every case with botocore. Fails (never skips) when python3 or botocore is missing.
pub(crate) fn botocore(cases: &[Case]) -> Vec<Req> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/botocore_sign.py");
    let input = serde_json::to_vec(cases).expect("cases to JSON");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): these tests need python3 with botocore (`python3 -m pip install botocore`)")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write cases");
    let out = child.wait_with_output().expect("python3 output");
    assert!(
        out.status.success(),
        "botocore_sign.py failed; is botocore installed (`python3 -m pip install botocore`)?\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let output: Output = serde_json::from_slice(&out.stdout).expect("botocore_sign.py output");
    assert!(
        output.botocore_version.starts_with("1."),
        "botocore {}",
        output.botocore_version
    );
    assert_eq!(output.signed.len(), cases.len());
    output.signed.into_iter().map(Req::from).collect()
}

/// A signed request in the shape the verifier takes, owned so it can be mutated.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) name: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    pub(crate) botocore_canonical: Option<String>,
}

impl From<Signed> for Req {
    fn from(s: Signed) -> Self {
        Self {
            body: base64::engine::general_purpose::STANDARD
                .decode(&s.body_b64)
                .expect("base64 body"),
            name: s.name,
            method: s.method,
            path: s.path,
            query: s.query,
            headers: s
                .headers
                .into_iter()
                .map(|(n, v)| (n, v.into_bytes()))
                .collect(),
            botocore_canonical: s.canonical_request,
        }
    }
}

impl Req {
    pub(crate) fn with<R>(&self, f: impl FnOnce(&HttpRequest<'_>) -> R) -> R {
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

    pub(crate) fn parse(&self, cfg: &VerifierConfig) -> Result<ParsedRequest, SigV4Error> {
        self.with(|r| parse_request(r, cfg))
    }

    /// `parse_request` then `verify` with `SECRET` at `now`.
    pub(crate) fn verify(
        &self,
        cfg: &VerifierConfig,
        now: OffsetDateTime,
    ) -> Result<VerifiedRequest, SigV4Error> {
        self.parse(cfg)?.verify(SECRET, now)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| std::str::from_utf8(v).expect("utf-8 header"))
    }

    pub(crate) fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
    }

    /// The signature the client sent, from the Authorization header or X-Amz-Signature.
    pub(crate) fn sent_signature(&self) -> String {
        if let Some(auth) = self.header("authorization") {
            return auth
                .rsplit_once("Signature=")
                .expect("Signature=")
                .1
                .to_owned();
        }
        self.query
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-Signature="))
            .expect("X-Amz-Signature")
            .to_owned()
    }
}

/// The verifier settings of these tests: our region and the services the cases use.
pub(crate) fn cfg() -> VerifierConfig {
    VerifierConfig {
        regions: vec!["us-east-1".to_owned(), "eu-west-1".to_owned()],
        any_region_services: vec!["s3".to_owned()],
        services: ["svc", "ec2", "s3"].map(str::to_owned).to_vec(),
        ..VerifierConfig::default()
    }
}
