//! Replay protection: a senderNonce (RFC 8894 §3.2.1.5) is accepted once. Remembered per node
//! for an hour; a message replayed later is answered, but the answer is sealed to the key
//! that made the request, so a replay learns nothing.

use std::collections::HashMap;
use std::sync::Mutex;

/// How long a nonce is remembered, in seconds.
const KEEP_SECS: i64 = 3600;
/// Most nonces remembered; past this the oldest hour is dropped early.
const MAX_NONCES: usize = 200_000;

/// The senderNonces seen lately, with when.
#[derive(Default)]
pub struct Nonces(Mutex<HashMap<Vec<u8>, i64>>);

impl Nonces {
    /// Records `nonce` at `now`; `false` if it was seen within the last hour.
    pub fn first_use(&self, nonce: &[u8], now: i64) -> bool {
        let key = nonce.to_vec();
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_NONCES {
            seen.retain(|_, at| now - *at < KEEP_SECS / 2);
            if seen.len() >= MAX_NONCES {
                seen.clear();
            }
        }
        match seen.get(&key) {
            Some(at) if now - *at < KEEP_SECS => false,
            _ => {
                seen.insert(key, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_accepted_once_within_the_hour() {
        let n = Nonces::default();
        assert!(n.first_use(&[1; 16], 100));
        assert!(!n.first_use(&[1; 16], 200));
        assert!(n.first_use(&[2; 16], 200));
        assert!(n.first_use(&[1; 16], 100 + KEEP_SECS));
    }
}
