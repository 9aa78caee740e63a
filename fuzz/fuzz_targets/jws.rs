//! ACME flattened JWS (RFC 8555 §6.2): parsing, JWK decoding, signature verification with the
//! embedded key, the payload as JSON, and the EAB inner JWS (RFC 8555 §7.3.4).
#![no_main]

use enrolld::acme::jws::{parse_eab, Jwk, Jws};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(jws) = Jws::parse(data) {
        if let Some(jwk) = &jws.protected.jwk {
            let _ = jws.verify(jwk);
        }
        let _ = jws.payload_json::<Value>();
    }
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        let _ = Jwk::from_json(&v);
        if let Some(jwk) = v.get("jwk") {
            let _ = Jwk::from_json(jwk);
        }
        if let Ok(inner) = Jws::from_value(&v) {
            if let Some(jwk) = &inner.protected.jwk {
                let _ = inner.verify(jwk);
            }
        }
        if let Ok(eab) = parse_eab(&v) {
            let _ = eab.verify_hs256(b"fuzz-mac-key");
        }
    }
});
