//! OCSP requests (RFC 6960 §4.1) as the responder receives them over GET and POST: the input
//! as a POST body (DER), and as the path of a GET (percent-decoded, then base64).
#![no_main]

use enrolld::ca::ocsp::parse_request;
use enrolld::http::status::decode_get_path;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_request(data);
    if let Ok(der) = decode_get_path(data) {
        let _ = parse_request(&der);
    }
});
