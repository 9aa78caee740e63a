//! EST request bodies (RFC 8951 §3: base64 with or without line breaks, PEM tolerated) and the
//! HTTP Basic header (RFC 7617) EST clients authenticate with.
#![no_main]

use enrolld::ca::csr::Csr;
use enrolld::est::wire::decode_body;
use enrolld::http::est::parse_basic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(der) = decode_body(data) {
        // What the handlers do next with a decoded body.
        let _ = Csr::parse(&der);
    }
    let _ = parse_basic(data);
});
