//! DNS responses (RFC 1035) the dns-01 validator reads from a resolver: an attacker who
//! controls a zone or spoofs UDP chooses these bytes.
#![no_main]

use enrolld::acme::challenge::dns::{parse_response, txt_value, RecordType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The transaction id is taken from the input so the fuzzer gets past the id check.
    let id = match data {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    for rtype in [RecordType::Txt, RecordType::A, RecordType::Aaaa] {
        if let Ok(answers) = parse_response(data, id, rtype) {
            for rdata in &answers {
                let _ = txt_value(rdata);
            }
        }
    }
    let _ = txt_value(data);
});
