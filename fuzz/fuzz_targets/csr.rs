//! PKCS#10 decoding, signature and algorithm policy, then the naming policy (EST and ACME CSRs).
#![no_main]

use enrolld::ca::csr::Csr;
use enrolld::ca::profile::SanName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(csr) = Csr::parse(data) {
        let _ = csr.names_for("dev1.example", &[SanName::Dns("dev1.example".into())]);
    }
});
