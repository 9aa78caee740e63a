//! Names and identifiers from URLs, JSON and CSV: subject alternative names, hex serials
//! (revocation, OCSP-by-serial), profile/credential labels and credential ids.
#![no_main]

use enrolld::ca::profile::SanName;
use enrolld::ids::{CredentialId, Label, Serial};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = SanName::parse(s);
    let _ = Serial::parse_hex(s);
    let _ = Label::parse(s);
    let _ = CredentialId::parse(s);
});
