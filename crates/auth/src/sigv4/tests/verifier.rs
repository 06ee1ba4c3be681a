//! Unit tests of the verifier and the signer together: time, token, payload and limits.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::super::*;
use super::super::{canonical, encode};
use super::GOOD;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const T: OffsetDateTime = datetime!(2015-08-30 12:36:00 UTC);

/// An owned request for the verifier tests.
struct Req {
    method: &'static str,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Req {
    fn get() -> Self {
        Self {
            method: "GET",
            path: "/".into(),
            query: String::new(),
            headers: vec![("Host".into(), b"example.amazonaws.com".to_vec())],
            body: Vec::new(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&HttpRequest<'_>) -> R) -> R {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        f(&HttpRequest {
            method: self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        })
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.as_bytes().to_vec()));
        self
    }

    fn params<'a>(token: Option<&'a str>, service: &'a str) -> SigningParams<'a> {
        SigningParams {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: SECRET,
            session_token: token,
            region: "us-east-1",
            service,
            time: T,
            payload: PayloadSigning::Hash,
            path_mode: None,
        }
    }

    /// Signed with our signer, headers applied.
    fn signed(mut self, params: &SigningParams<'_>) -> Self {
        let s = self.with(|r| sign_request(r, params)).unwrap();
        for (n, v) in s.headers() {
            self.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(n));
            self.headers.push((n.clone(), v.clone().into_bytes()));
        }
        self
    }

    fn presigned(mut self, params: &SigningParams<'_>, expires: u32) -> Self {
        self.query = self
            .with(|r| presign_url(r, params, expires))
            .unwrap()
            .query()
            .to_owned();
        self
    }

    fn parse(&self, cfg: &VerifierConfig) -> Result<ParsedRequest, SigV4Error> {
        self.with(|r| parse_request(r, cfg))
    }

    fn verify(&self, now: OffsetDateTime) -> Result<VerifiedRequest, SigV4Error> {
        self.parse(&VerifierConfig::default())?.verify(SECRET, now)
    }
}

#[test]
fn signer_output_verifies_and_matches_the_suite() {
    let req = Req::get().signed(&Req::params(None, "service"));
    let auth = req
        .headers
        .iter()
        .find(|(n, _)| n == "Authorization")
        .unwrap();
    // get-vanilla's signature from AWS's suite.
    assert!(String::from_utf8_lossy(&auth.1)
        .ends_with("Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
    let v = req.verify(T).unwrap();
    assert_eq!(
        (v.access_key_id(), v.kind(), v.request_time()),
        ("AKIDEXAMPLE", SignatureKind::Header, T)
    );
    assert_eq!(v.signed_headers(), ["host", "x-amz-date"]);
    assert_eq!(
        req.parse(&VerifierConfig::default())
            .unwrap()
            .reject_unknown_key(),
        SigV4Error::InvalidClientTokenId
    );
    // Re-signing replaces the old X-Amz-Date and Authorization instead of adding more.
    let later = SigningParams {
        time: T + Duration::hours(1),
        ..Req::params(None, "service")
    };
    let resigned = req.signed(&later);
    assert_eq!(resigned.headers.len(), 3);
    resigned.verify(T + Duration::hours(1)).unwrap();
}

#[test]
fn skew_boundaries() {
    let req = Req::get().signed(&Req::params(None, "service"));
    for secs in [-900, 0, 900] {
        req.verify(T + Duration::seconds(secs)).unwrap();
    }
    for secs in [-901, 901] {
        assert_eq!(
            req.verify(T + Duration::seconds(secs)).unwrap_err().code(),
            "RequestExpired"
        );
    }
    let p = Req::get().presigned(&Req::params(None, "service"), 60);
    p.verify(T - Duration::seconds(900)).unwrap();
    p.verify(T + Duration::seconds(60)).unwrap();
    assert_eq!(
        p.verify(T + Duration::seconds(61)).unwrap_err().code(),
        "RequestExpired"
    );
    assert_eq!(
        p.verify(T - Duration::seconds(901)).unwrap_err().code(),
        "RequestExpired"
    );
}

#[test]
fn extreme_clocks_never_panic() {
    let req = Req::get().signed(&Req::params(None, "service"));
    let presigned = Req::get().presigned(&Req::params(None, "service"), 604_800);
    let clocks = [
        datetime!(9999-12-31 23:59:59 -23:59),
        datetime!(9999-12-31 23:59:59 UTC),
        datetime!(-9999-01-01 00:00:00 +23:59),
        datetime!(-9999-01-01 00:00:00 UTC),
        OffsetDateTime::UNIX_EPOCH,
    ];
    for now in clocks {
        assert_eq!(
            req.verify(now).unwrap_err().code(),
            "RequestExpired",
            "{now}"
        );
        assert_eq!(
            presigned.verify(now).unwrap_err().code(),
            "RequestExpired",
            "{now}"
        );
    }
    // A presigned URL from the last week of year 9999 ends past the calendar: never expired.
    let late = SigningParams {
        time: datetime!(9999-12-30 00:00:00 UTC),
        ..Req::params(None, "service")
    };
    let p = Req::get().presigned(&late, 604_800);
    p.verify(datetime!(9999-12-31 23:59:59 UTC)).unwrap();
}

#[test]
fn the_session_token_is_redacted_in_signature_errors() {
    let token = "SeSsIoNtOkEn/with+odd=chars";
    for req in [
        Req::get().signed(&Req::params(Some(token), "service")),
        Req::get().presigned(&Req::params(Some(token), "service"), 60),
    ] {
        let parsed = req.parse(&VerifierConfig::default()).unwrap();
        assert_eq!(parsed.session_token(), Some(token));
        assert!(parsed.canonical_request().contains("SeSsIoNtOkEn"));
        let err = parsed.verify("wrong", T).unwrap_err();
        let text = format!("{err} {err:?} {parsed:?}");
        assert!(
            text.contains("<redacted>") && !text.contains("SeSsIoNtOkEn"),
            "{text}"
        );
    }
}

#[test]
fn where_the_time_and_the_token_come_from() {
    // The Date header, in botocore's format, gives the time when there is no X-Amz-Date.
    let dated = Req::get().header("Date", "Sun, 30 Aug 2015 12:36:00 -0000");
    let scope = CredentialScope::new(T.date(), "us-east-1", "service").unwrap();
    let sign_with = |signed: &[&str]| {
        let opts = CanonicalOptions {
            path_mode: PathMode::STANDARD,
            signed_headers: signed,
            payload_hash: &canonical::sha256_hex(b""),
            kind: SignatureKind::Header,
        };
        let creq = dated.with(|r| canonical_request(r, &opts)).unwrap();
        let sig = encode::hex_lower(
            &canonical::SigningKey::derive(SECRET, &scope).sign(&string_to_sign(&creq, T, &scope)),
        );
        let auth = format!(
            "{ALGORITHM} Credential=AKIDEXAMPLE/{scope}, SignedHeaders={}, Signature={sig}",
            signed.join(";")
        );
        Req {
            headers: dated.headers.clone(),
            ..Req::get()
        }
        .header("Authorization", &auth)
    };
    let v = sign_with(&["date", "host"]).verify(T).unwrap();
    assert_eq!(v.request_time(), T);
    let unsigned_date = sign_with(&["host"]).verify(T).unwrap_err();
    assert!(
        unsigned_date.to_string().contains("'date'"),
        "{unsigned_date}"
    );
    // A header named in SignedHeaders but absent is an IncompleteSignature: here X-Amz-Date,
    // dropped after signing while Date still gives a time.
    let signed = Req::get()
        .header("Date", "Sun, 30 Aug 2015 12:36:00 GMT")
        .signed(&Req::params(None, "service"));
    let missing = Req {
        headers: signed
            .headers
            .into_iter()
            .filter(|(n, _)| n != "X-Amz-Date")
            .collect(),
        ..Req::get()
    };
    let err = missing.verify(T).unwrap_err();
    assert!(
        err.code() == "IncompleteSignature" && err.to_string().contains("'x-amz-date'"),
        "{err}"
    );
    let bare = Req::get().header("Authorization", GOOD);
    assert!(bare
        .verify(T)
        .unwrap_err()
        .to_string()
        .contains("'X-Amz-Date' or a 'Date'"));
    let bad_date = Req::get()
        .header("X-Amz-Date", "2015-08-30T12:36:00Z")
        .header("Authorization", GOOD);
    assert!(bad_date
        .verify(T)
        .unwrap_err()
        .to_string()
        .contains("ISO 8601"));
    // The token travels in one place only.
    let header_signed = Req::get().signed(&Req::params(Some("tok"), "service"));
    let both = Req {
        query: "X-Amz-Security-Token=tok".into(),
        ..Req::get().signed(&Req::params(Some("tok"), "service"))
    };
    assert_eq!(both.verify(T).unwrap_err().code(), "InvalidParameterValue");
    header_signed.verify(T).unwrap();
    let presigned = Req::get()
        .presigned(&Req::params(Some("tok"), "service"), 60)
        .header("X-Amz-Security-Token", "tok");
    assert_eq!(
        presigned.verify(T).unwrap_err().code(),
        "InvalidParameterValue"
    );
    let empty = Req::get()
        .header("X-Amz-Security-Token", "")
        .signed(&Req::params(None, "service"));
    assert_eq!(empty.verify(T).unwrap_err().code(), "InvalidParameterValue");
    // Both mechanisms at once.
    let mixed = Req {
        query: Req::get()
            .presigned(&Req::params(None, "service"), 60)
            .query,
        ..Req::get().signed(&Req::params(None, "service"))
    };
    assert!(mixed
        .verify(T)
        .unwrap_err()
        .to_string()
        .contains("Only one auth mechanism"));
    assert_eq!(
        Req::get().verify(T).unwrap_err(),
        SigV4Error::MissingAuthenticationToken
    );
}

#[test]
fn content_sha256_must_match_the_body() {
    let params = SigningParams {
        payload: PayloadSigning::HashWithHeader,
        ..Req::params(None, "service")
    };
    let mut req = Req {
        method: "PUT",
        body: b"hello".to_vec(),
        ..Req::get()
    }
    .signed(&params);
    let v = req.verify(T).unwrap();
    assert!(
        v.signed_headers()
            .iter()
            .any(|h| h == "x-amz-content-sha256")
            && v.body_signed()
    );
    req.body = b"hellO".to_vec();
    let err = req.verify(T).unwrap_err();
    assert_eq!(
        (err.code(), err.http_status()),
        ("XAmzContentSHA256Mismatch", 400)
    );
    // Without the header the body's hash is signed directly.
    let mut plain = Req {
        method: "PUT",
        body: b"hello".to_vec(),
        ..Req::get()
    }
    .signed(&Req::params(None, "service"));
    plain.body.push(b'!');
    assert_eq!(plain.verify(T).unwrap_err().code(), "SignatureDoesNotMatch");
}

#[test]
fn signer_refuses_what_cannot_be_verified() {
    let no_host = Req {
        headers: Vec::new(),
        ..Req::get()
    };
    assert!(no_host
        .with(|r| sign_request(r, &Req::params(None, "service")))
        .is_err());
    let bad_key = SigningParams {
        access_key_id: "AK/ID",
        ..Req::params(None, "service")
    };
    assert!(Req::get().with(|r| sign_request(r, &bad_key)).is_err());
    for expires in [0, 604_801] {
        assert!(Req::get()
            .with(|r| presign_url(r, &Req::params(None, "service"), expires))
            .is_err());
    }
    let already = Req {
        query: "X-Amz-Date=1".into(),
        ..Req::get()
    };
    assert!(already
        .with(|r| presign_url(r, &Req::params(None, "service"), 60))
        .is_err());
    // A signing time whose UTC equivalent is past year 9999 is an error, not a panic.
    let far = SigningParams {
        time: datetime!(9999-12-31 23:30:00 -01:00),
        ..Req::params(None, "service")
    };
    assert!(Req::get().with(|r| sign_request(r, &far)).is_err());
    let debug = format!("{:?}", Req::params(Some("tok3n"), "service"));
    assert!(
        !debug.contains(SECRET) && !debug.contains("tok3n"),
        "{debug}"
    );
}

#[test]
fn limits_are_enforced_before_work() {
    let many = (0..1001)
        .map(|i| format!("p{i}=1"))
        .collect::<Vec<_>>()
        .join("&");
    let req = Req {
        query: many,
        ..Req::get()
    }
    .signed(&Req::params(None, "service"));
    assert!(req
        .verify(T)
        .unwrap_err()
        .to_string()
        .contains("more than 1000"));
    let cfg = VerifierConfig {
        max_query_params: 2000,
        ..VerifierConfig::default()
    };
    req.parse(&cfg).unwrap().verify(SECRET, T).unwrap();
    let defaults = VerifierConfig::default();
    assert_eq!(
        (
            defaults.max_skew,
            defaults.allow_unsigned_payload,
            defaults.max_presign_expires_secs
        ),
        (Duration::minutes(15), false, 604_800)
    );
}
