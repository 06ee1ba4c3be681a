//! The Authorization-header parser never panics, and what it accepts names a well-formed scope.
#![no_main]

use libfuzzer_sys::fuzz_target;
use underpass_auth::sigv4::parse_authorization_header;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(h) = parse_authorization_header(text) {
        // Whatever parsed must print a scope that ends like AWS's.
        assert!(h.credential.scope.to_string().ends_with("/aws4_request"));
        assert!(!h.signed_headers.is_empty());
    }
});
