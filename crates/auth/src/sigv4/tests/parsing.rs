//! Unit tests of encoding, normalisation, dates, header parsing and error codes.

use time::macros::datetime;

use super::super::date::{format_amz_date, parse_amz_date, parse_http_date, parse_scope_date};
use super::super::encode::{normalize_path, percent_decode};
use super::super::header::parse_expires;
use super::super::*;
use super::GOOD;

#[test]
fn uri_encode_keeps_only_unreserved_bytes() {
    assert_eq!(uri_encode(b"AZaz09-._~", false), "AZaz09-._~");
    assert_eq!(
        uri_encode(b"a b+c=d&e%f/g", false),
        "a%20b%2Bc%3Dd%26e%25f%2Fg"
    );
    assert_eq!(uri_encode(b"a/b", true), "a/b");
    assert_eq!(uri_encode("ሴ".as_bytes(), false), "%E1%88%B4");
    assert_eq!(uri_encode(&[0x00, 0xff], false), "%00%FF");
}

#[test]
fn percent_decode_is_strict_and_plus_is_literal() {
    let d = |s: &str| percent_decode(s).map(|c| c.into_owned());
    assert_eq!(d("%41%2f%2F+x").as_deref(), Some(&b"A//+x"[..]));
    assert_eq!(d("plain").as_deref(), Some(&b"plain"[..]));
    for bad in ["%", "%4", "%zz", "a%g0", "%%41"] {
        assert_eq!(d(bad), None, "{bad}");
    }
}

#[test]
fn path_normalisation_matches_botocore() {
    let cases = [
        ("", "/"),
        ("/", "/"),
        ("//", "/"),
        ("/./", "/"),
        ("/example/..", "/"),
        ("/example1/example2/../..", "/"),
        ("/./example", "/example"),
        ("//example//", "/example/"),
        ("/a/b/../c/", "/a/c/"),
        ("/a/.", "/a"),
        ("/../a", "/a"),
        ("a/b/", "a/b/"),
        ("/%2E%2E/x", "/%2E%2E/x"),
        ("/a%2Fb", "/a%2Fb"),
    ];
    for (input, expected) in cases {
        assert_eq!(normalize_path(input), expected, "{input:?}");
    }
}

#[test]
fn canonical_uri_double_encodes_except_for_s3() {
    let std = |p: &str| canonical_uri(p, PathMode::STANDARD).unwrap();
    assert_eq!(std("/example%20space/"), "/example%2520space/");
    assert_eq!(std("/example space/"), "/example%20space/");
    assert_eq!(std("/a%2Fb/../c"), "/c");
    assert_eq!(
        std("/test/@connections/JBDvjfGEIAMCERw%3D"),
        "/test/%40connections/JBDvjfGEIAMCERw%253D"
    );
    assert_eq!(std(""), "/");
    let s3 = |p: &str| canonical_uri(p, PathMode::S3);
    assert_eq!(
        s3("/key%20with%20space/a%2Fb/~x").unwrap(),
        "/key%20with%20space/a%2Fb/~x"
    );
    assert_eq!(s3("/a%2fb/%7E/./c//d").unwrap(), "/a%2Fb/~/./c//d");
    assert_eq!(s3("/a b+c").unwrap(), "/a%20b%2Bc");
    assert_eq!(s3("/a%zz").unwrap_err().code(), "InvalidParameterValue");
    assert_eq!(PathMode::for_service("s3"), PathMode::S3);
    assert_eq!(PathMode::for_service("ec2"), PathMode::STANDARD);
}

#[test]
fn canonical_query_sorts_encoded_pairs() {
    let q = |s: &str| canonical_query_string(s).unwrap();
    assert_eq!(q(""), "");
    assert_eq!(q("b=2&a=1"), "a=1&b=2");
    assert_eq!(q("a=2&a=1&a=10"), "a=1&a=10&a=2");
    assert_eq!(q("flag&x="), "flag=&x=");
    assert_eq!(q("a=b=c"), "a=b%3Dc");
    assert_eq!(q("a+b=c+d"), "a%2Bb=c%2Bd");
    assert_eq!(q("%7e=%7E&%41=%2f"), "A=%2F&~=~");
    assert_eq!(q("&&a=1&"), "a=1");
    assert_eq!(q("ሴ=bar"), "%E1%88%B4=bar");
    // Sorted by the encoded form: '%' (0x25) before 'P'.
    assert_eq!(
        q("Param-3=Value3&Param=Value2&%E1%88%B4=Value1"),
        "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"
    );
    assert_eq!(q("%FF=%00"), "%FF=%00");
    assert_eq!(
        canonical_query_string("a=%g0").unwrap_err().code(),
        "InvalidParameterValue"
    );
}

#[test]
fn dates_parse_strictly() {
    assert_eq!(
        parse_amz_date("20150830T123600Z"),
        Some(datetime!(2015-08-30 12:36:00 UTC))
    );
    for bad in [
        "20150830T123600",
        "20150830t123600Z",
        "20151330T123600Z",
        "20150230T123600Z",
        "20150830T246000Z",
        "2015083T123600Z",
        "+0150830T123600Z",
        "２0150830T123600Z",
    ] {
        assert_eq!(parse_amz_date(bad), None, "{bad}");
    }
    assert_eq!(
        parse_scope_date("20150830"),
        Some(time::macros::date!(2015 - 08 - 30))
    );
    assert_eq!(parse_scope_date("2015083"), None);
    let t = datetime!(2015-08-30 12:36:00 UTC);
    for ok in [
        "Sun, 30 Aug 2015 12:36:00 GMT",
        "Sun, 30 Aug 2015 12:36:00 -0000",
        "Sun, 30 Aug 2015 12:36:00 +0000",
        "Sun, 30 Aug 2015 12:36:00 UTC",
    ] {
        assert_eq!(parse_http_date(ok), Some(t), "{ok}");
    }
    assert_eq!(
        parse_http_date("Sun, 6 Sep 2015 01:02:03 GMT"),
        Some(datetime!(2015-09-06 01:02:03 UTC))
    );
    for bad in [
        "Mon, 30 Aug 2015 12:36:00 GMT",
        "Sun, 30 Aug 2015 12:36:00",
        "Sun 30 Aug 2015 12:36:00 GMT",
        "Sun, 30 aug 2015 12:36:00 GMT",
        "Sun, 30 Aug 2015 12:36:00 +0100",
        "Sun, 30 Aug 15 12:36:00 GMT",
        "Sun, 30 Aug 2015 12:36 GMT",
    ] {
        assert_eq!(parse_http_date(bad), None, "{bad}");
    }
    let offset = datetime!(2015-08-30 14:36:00 +02:00);
    assert_eq!(format_amz_date(offset), "20150830T123600Z");
}

#[test]
fn authorization_header_parses_in_any_order() {
    let h = parse_authorization_header(GOOD).unwrap();
    assert_eq!(h.credential.access_key_id, "AKIDEXAMPLE");
    assert_eq!(
        h.credential.scope.to_string(),
        "20150830/us-east-1/service/aws4_request"
    );
    assert_eq!(h.signed_headers, ["host", "x-amz-date"]);
    let reordered = "AWS4-HMAC-SHA256  Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31,SignedHeaders=host;x-amz-date,\tCredential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request ";
    assert_eq!(parse_authorization_header(reordered).unwrap(), h);
    assert!(
        !format!("{h:?}").contains("5fa00fa3"),
        "Debug shows the signature"
    );
}

#[test]
fn authorization_header_errors_name_the_missing_part() {
    let err = |s: &str| parse_authorization_header(s).unwrap_err();
    let msg = err("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host").to_string();
    assert_eq!(msg, "Authorization header requires 'Signature' parameter.");
    let msg = err("AWS4-HMAC-SHA256").to_string();
    for part in ["'Credential'", "'SignedHeaders'", "'Signature'"] {
        assert!(msg.contains(part), "{msg}");
    }
    let cases = [
        (
            GOOD.replace("AWS4-HMAC-SHA256", "aws4-hmac-sha256"),
            "IncompleteSignature",
            "algorithm",
        ),
        (
            GOOD.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
            "IncompleteSignature",
            "algorithm",
        ),
        (
            format!("{GOOD}, Signature=00"),
            "IncompleteSignature",
            "repeats",
        ),
        (
            format!("{GOOD}, Extra=1"),
            "IncompleteSignature",
            "unknown parameter",
        ),
        (format!("{GOOD}, junk"), "IncompleteSignature", "key=value"),
        (
            GOOD.replace("/aws4_request", "/aws4_reques"),
            "IncompleteSignature",
            "terminator",
        ),
        (
            GOOD.replace("/aws4_request", ""),
            "IncompleteSignature",
            "form",
        ),
        (
            GOOD.replace("20150830", "20151330"),
            "IncompleteSignature",
            "YYYYMMDD",
        ),
        (
            GOOD.replace("us-east-1", "us east"),
            "IncompleteSignature",
            "region",
        ),
        (
            GOOD.replace("AKIDEXAMPLE", "AKID-EXAMPLE"),
            "AuthFailure",
            "validate",
        ),
        (GOOD.replace("AKIDEXAMPLE/", "/"), "AuthFailure", "validate"),
        (
            GOOD.replace("host;x-amz-date", "x-amz-date;host"),
            "IncompleteSignature",
            "sorted",
        ),
        (
            GOOD.replace("host;x-amz-date", "host;host"),
            "IncompleteSignature",
            "sorted",
        ),
        (
            GOOD.replace("host;x-amz-date", "Host;x-amz-date"),
            "IncompleteSignature",
            "lower-case",
        ),
        (
            GOOD.replace("host;x-amz-date", "host;;x-amz-date"),
            "IncompleteSignature",
            "lower-case",
        ),
        (
            GOOD.replace("host;x-amz-date", ""),
            "IncompleteSignature",
            "'host'",
        ),
        (
            GOOD.replace("5fa00fa3", "5FA00FA3"),
            "IncompleteSignature",
            "hexadecimal",
        ),
        (
            GOOD.replace("5fa00fa3", "5fa00fa"),
            "IncompleteSignature",
            "hexadecimal",
        ),
        (
            format!("{GOOD}{}", " ".repeat(MAX_AUTHORIZATION_LEN)),
            "IncompleteSignature",
            "longer",
        ),
        (
            GOOD.replace("AKIDEXAMPLE", &"A".repeat(600)),
            "IncompleteSignature",
            "longer",
        ),
    ];
    for (value, code, needle) in cases {
        let e = err(&value);
        assert_eq!(e.code(), code, "{value}: {e}");
        assert!(e.to_string().contains(needle), "{value}: {e}");
    }
    let many = (0..=MAX_SIGNED_HEADERS)
        .map(|i| format!("h{i:04}"))
        .collect::<Vec<_>>()
        .join(";");
    assert!(err(&GOOD.replace("host;x-amz-date", &many))
        .to_string()
        .contains("more than"));
}

#[test]
fn presign_expires_is_a_whole_number_from_1_to_a_week() {
    assert_eq!(parse_expires("1", MAX_PRESIGN_EXPIRES_SECS), Ok(1));
    assert_eq!(
        parse_expires("604800", MAX_PRESIGN_EXPIRES_SECS),
        Ok(604_800)
    );
    assert_eq!(parse_expires("0060", 3600), Ok(60));
    for bad in [
        "0",
        "-1",
        "+1",
        "abc",
        "",
        "1.5",
        " 1",
        "604801",
        "99999999999",
        "3601",
    ] {
        let max = if bad == "3601" {
            3600
        } else {
            MAX_PRESIGN_EXPIRES_SECS
        };
        assert_eq!(
            parse_expires(bad, max).unwrap_err().code(),
            "InvalidParameterValue",
            "{bad}"
        );
    }
    // The cap is a week whatever the configuration says.
    assert!(parse_expires("604801", u32::MAX).is_err());
}

#[test]
fn error_codes_and_statuses() {
    let sdnm = SigV4Error::SignatureDoesNotMatch {
        canonical_request: "CR".into(),
        string_to_sign: "STS".into(),
    };
    assert_eq!(
        sdnm.to_string(),
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'CR'\n\nThe String-to-Sign should have been\n'STS'\n"
    );
    let table = [
        (
            SigV4Error::MissingAuthenticationToken,
            "MissingAuthenticationToken",
            403,
        ),
        (
            SigV4Error::IncompleteSignature(String::new()),
            "IncompleteSignature",
            400,
        ),
        (sdnm, "SignatureDoesNotMatch", 403),
        (
            SigV4Error::ScopeMismatch(String::new()),
            "SignatureDoesNotMatch",
            403,
        ),
        (
            SigV4Error::InvalidClientTokenId,
            "InvalidClientTokenId",
            403,
        ),
        (SigV4Error::AuthFailure, "AuthFailure", 401),
        (
            SigV4Error::RequestExpired(String::new()),
            "RequestExpired",
            403,
        ),
        (
            SigV4Error::ContentSha256Mismatch {
                claimed: String::new(),
                computed: String::new(),
            },
            "XAmzContentSHA256Mismatch",
            400,
        ),
        (
            SigV4Error::InvalidParameterValue(String::new()),
            "InvalidParameterValue",
            400,
        ),
    ];
    for (e, code, status) in table {
        assert_eq!((e.code(), e.http_status()), (code, status), "{e:?}");
    }
}
