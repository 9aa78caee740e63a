//! OCSP requests (RFC 6960 §4.1) as the responder receives them over GET and POST.
#![no_main]

use enrolld::ca::ocsp::parse_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_request(data);
});
