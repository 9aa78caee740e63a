//! `application/x-www-form-urlencoded` bodies of the pickup page (`POST /pickup/{token}`) and
//! the percent-decoder under them.
#![no_main]

use enrolld::http::percent::decode;
use enrolld::http::pickup::parse_form;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_form(data);
    let _ = decode(data, false);
});
