//! ACME payload JSON (newOrder identifiers, RFC 8555 §7.4) and the identifier policy: every
//! object in the payload that deserialises as an identifier goes through `normalise`; string
//! pairs go through the allow-list `matches`.
#![no_main]

use enrolld::acme::policy::{matches, normalise};
use enrolld::store::Identifier;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn walk(v: &Value, depth: usize) {
    if depth > 64 {
        return;
    }
    match v {
        Value::Object(m) => {
            if let Ok(id) = serde_json::from_value::<Identifier>(v.clone()) {
                if let Ok(n) = normalise(&id) {
                    // A normalised identifier must be stable under normalisation.
                    let _ = normalise(&n);
                    let _ = matches(&n.value, &id.value);
                }
            }
            m.values().for_each(|c| walk(c, depth + 1));
        }
        Value::Array(a) => {
            if let [Value::String(p), Value::String(s)] = a.as_slice() {
                let _ = matches(p, s);
            }
            a.iter().for_each(|c| walk(c, depth + 1));
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        walk(&v, 0);
    }
    let text = String::from_utf8_lossy(data);
    let (pattern, value) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = matches(pattern, value);
    let _ = matches(value, pattern);
});
