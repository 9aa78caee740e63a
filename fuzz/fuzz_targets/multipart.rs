//! `multipart/form-data` bodies of the console's import form (`POST /console/import`): the
//! boundary of a content type, the parts of a body, and the CSV parser each part's text goes
//! to.
#![no_main]

use enrolld::http::multipart::{boundary, parse};
use enrolld::registry::subjects::parse_csv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ct) = std::str::from_utf8(data) {
        let _ = boundary(ct);
    }
    if let Ok(parts) = parse(data, "----fuzzBoundary") {
        for p in parts {
            if let Ok(text) = std::str::from_utf8(&p.data) {
                let _ = parse_csv(text);
            }
        }
    }
});
