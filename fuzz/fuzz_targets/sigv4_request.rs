//! Whole requests into the verifier: parsing, verification and the unknown-key path never
//! panic, and no error message echoes the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use underpass_auth::sigv4::{parse_request, HttpRequest, VerifierConfig};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fuzz_target!(|data: &[u8]| {
    // Split the input into method, path, query, two headers and a body.
    let mut parts = data.splitn(6, |b| *b == 0);
    let mut next = || parts.next().unwrap_or(&[]);
    let (method, path, query, auth, date, body) = (next(), next(), next(), next(), next(), next());
    let (Ok(method), Ok(path), Ok(query)) = (std::str::from_utf8(method), std::str::from_utf8(path), std::str::from_utf8(query)) else {
        return;
    };
    let headers = [("host", b"example.amazonaws.com".as_slice()), ("authorization", auth), ("x-amz-date", date)];
    let req = HttpRequest { method, path, query, headers: &headers, body };
    if let Ok(parsed) = parse_request(&req, &VerifierConfig::default()) {
        let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(16_000);
        if let Err(e) = parsed.verify(SECRET, now) {
            assert!(!e.to_string().contains(SECRET));
        }
        let _ = parsed.reject_unknown_key();
    }
});
