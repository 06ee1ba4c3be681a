//! Fuzz the PROXY protocol v2 parser: no panic, no over-read, and whatever parses
//! re-encodes to exactly the bytes it came from and parses back to the same header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use underpass_proto::proxy_v2::{parse_proxy_v2, SIGNATURE};
use underpass_proto::ParseError;

fuzz_target!(|data: &[u8]| {
    // Half the inputs get the signature for free, so the fuzzer spends its time past it.
    let mut with_signature = SIGNATURE.to_vec();
    with_signature.extend_from_slice(data);
    for input in [data, &with_signature[..]] {
        match parse_proxy_v2(input) {
            Ok((header, used)) => {
                assert!(used <= input.len());
                let encoded = header.encode().expect("a parsed header encodes");
                assert_eq!(encoded, input[..used], "re-encoding is byte-identical");
                assert_eq!(parse_proxy_v2(&encoded), Ok((header, used)));
            }
            Err(ParseError::Incomplete { needed }) => {
                assert!(
                    needed > 0 && input.len() + needed <= underpass_proto::proxy_v2::MAX_HEADER_LEN
                );
            }
            Err(ParseError::Invalid(_)) => {}
        }
    }
});
