//! Admin API input: a person or device as JSON (`POST /api/v1/people`, `/devices`, bulk rows)
//! through `validate`, and the CSV bulk import.
#![no_main]

use enrolld::registry::subjects::{parse_csv, validate, SubjectInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = serde_json::from_slice::<SubjectInput>(data) {
        let _ = validate("person", &input);
        let _ = validate("device", &input);
    }
    if let Ok(rows) = serde_json::from_slice::<Vec<SubjectInput>>(data) {
        for r in &rows {
            let _ = validate(r.kind.as_deref().unwrap_or("device"), r);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(rows) = parse_csv(text) {
            for r in rows.iter().flatten() {
                let _ = validate(r.kind.as_deref().unwrap_or("person"), r);
            }
        }
    }
});
