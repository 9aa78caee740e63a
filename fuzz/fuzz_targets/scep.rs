//! SCEP pkiMessages (RFC 8894 §3): the BER reader, the SignedData and its attributes, the
//! signature check and the EnvelopedData structure (no RA key: every envelope is refused at
//! recipient selection, after its structure was read).
#![no_main]

use enrolld::scep::der::{self, Tlv};
use enrolld::scep::{envelope, message};
use libfuzzer_sys::fuzz_target;

fn walk(t: Tlv<'_>, depth: usize) {
    let _ = t.oid();
    let _ = t.text();
    let _ = t.small_uint();
    let _ = t.octets();
    if depth < 40 {
        if let Ok(kids) = t.children() {
            kids.into_iter().for_each(|k| walk(k, depth + 1));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = message::read_request(data) {
        let _ = req.signed.verify(true);
        let _ = req.signed.signer_certificate();
        if let Some(c) = &req.signed.content {
            let _ = envelope::open(c, &[], true);
        }
    }
    let _ = envelope::open(data, &[], true);
    if let Ok(t) = der::read_all(data) {
        walk(t, 0);
    }
});
