//! Anti-replay nonces (RFC 8555 §6.5).
//!
//! A nonce is `base64url(issued_at ‖ start ‖ random ‖ HMAC(key, issued_at ‖ start ‖ random)[..16])`.
//! `start` is a random value drawn when the service starts: the replay set of nonces already
//! redeemed lives in memory and is lost on a restart, so a nonce issued before this start is
//! refused outright (`badNonce`; clients retry with the fresh nonce of the error) instead of
//! being accepted a second time. The HMAC tells a nonce this service issued from a forged one
//! without a lookup; the replay set (kept only for the validity window, since older nonces fail
//! the time check anyway) makes each one usable once. Several nodes therefore need sticky
//! routing, or a shared replay set and start value (docs/acme.md).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use aws_lc_rs::hmac;
use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::{AcmeProblem, Error, Result};

/// How long a nonce stays redeemable.
pub const NONCE_LIFETIME_SECS: u64 = 600;

/// issued_at (8) ‖ start (8) ‖ random (16).
const BODY_LEN: usize = 32;
/// The truncated HMAC-SHA256 tag.
const TAG_LEN: usize = 16;

/// Issues and redeems nonces.
pub struct Nonces {
    /// Authenticates nonces.
    key: hmac::Key,
    /// Drawn at start: nonces carrying another value were issued before it.
    start: [u8; 8],
    /// Redeemed nonces with their issue time, oldest first, for expiry.
    used: Mutex<Used>,
}

#[derive(Default)]
struct Used {
    set: HashMap<[u8; BODY_LEN], u64>,
    order: VecDeque<([u8; BODY_LEN], u64)>,
}

fn bad_nonce(m: &str) -> Error {
    Error::acme(AcmeProblem::BadNonce, m)
}

impl Nonces {
    /// A nonce service keyed with `key`, with a start value of its own.
    pub fn new(key: &[u8]) -> Result<Self> {
        let mut start = [0u8; 8];
        aws_lc_rs::rand::fill(&mut start)
            .map_err(|_| Error::Internal("no randomness for the nonce start value".into()))?;
        Ok(Nonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            start,
            used: Mutex::new(Used::default()),
        })
    }

    /// A fresh nonce.
    pub fn issue(&self, now: u64) -> String {
        let mut body = [0u8; BODY_LEN];
        body[..8].copy_from_slice(&now.to_be_bytes());
        body[8..16].copy_from_slice(&self.start);
        // The RNG cannot fail on supported platforms; a zero tail would still be unique-ish
        // per second but HMAC keeps it unforgeable.
        let _ = aws_lc_rs::rand::fill(&mut body[16..]);
        let tag = hmac::sign(&self.key, &body);
        let mut out = body.to_vec();
        out.extend_from_slice(&tag.as_ref()[..TAG_LEN]);
        Base64UrlUnpadded::encode_string(&out)
    }

    /// Redeems a nonce once: authentic, issued since this start, unexpired, not seen before.
    pub fn redeem(&self, nonce: &str, now: u64) -> Result<()> {
        let raw = Base64UrlUnpadded::decode_vec(nonce).map_err(|_| bad_nonce("malformed nonce"))?;
        if raw.len() != BODY_LEN + TAG_LEN {
            return Err(bad_nonce("malformed nonce"));
        }
        let (body, tag) = raw.split_at(BODY_LEN);
        let expected = hmac::sign(&self.key, body);
        if aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..TAG_LEN], tag)
            .is_err()
        {
            return Err(bad_nonce("nonce was not issued by this server"));
        }
        if body[8..16] != self.start {
            return Err(bad_nonce("nonce was issued before the server restarted"));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&body[..8]);
        let issued = u64::from_be_bytes(ts);
        if issued > now + 5 || now.saturating_sub(issued) > NONCE_LIFETIME_SECS {
            return Err(bad_nonce("nonce expired"));
        }
        let mut key = [0u8; BODY_LEN];
        key.copy_from_slice(body);
        let mut used = self
            .used
            .lock()
            .map_err(|_| Error::Internal("nonce lock poisoned".into()))?;
        // Forget nonces that can no longer pass the time check.
        while let Some((k, t)) = used.order.front().copied() {
            if now.saturating_sub(t) > NONCE_LIFETIME_SECS {
                used.order.pop_front();
                used.set.remove(&k);
            } else {
                break;
            }
        }
        if used.set.insert(key, issued).is_some() {
            return Err(bad_nonce("nonce already used"));
        }
        used.order.push_back((key, issued));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_accepted_once() {
        let n = Nonces::new(&[1; 32]).unwrap();
        let a = n.issue(1000);
        n.redeem(&a, 1001).unwrap();
        assert!(n.redeem(&a, 1002).is_err());
    }

    #[test]
    fn foreign_forged_and_expired_nonces_are_refused() {
        let n = Nonces::new(&[1; 32]).unwrap();
        let other = Nonces::new(&[2; 32]).unwrap();
        assert!(n.redeem(&other.issue(1000), 1000).is_err());
        assert!(n.redeem("AAAA", 1000).is_err());
        assert!(n.redeem("not base64!", 1000).is_err());
        let old = n.issue(1000);
        assert!(n.redeem(&old, 1000 + NONCE_LIFETIME_SECS + 1).is_err());
    }

    /// RFC 8555 §6.5: a nonce issued before a (re)start is refused with badNonce, even with the
    /// same key and within its lifetime: the replay set of the earlier start is gone.
    #[test]
    fn nonces_issued_before_a_start_are_refused() {
        let before = Nonces::new(&[1; 32]).unwrap();
        let nonce = before.issue(1000);
        let after = Nonces::new(&[1; 32]).unwrap();
        match after.redeem(&nonce, 1001) {
            Err(Error::Acme(p)) => assert_eq!(p.kind, AcmeProblem::BadNonce),
            other => panic!("a nonce of an earlier start must be badNonce, got {other:?}"),
        }
        after.redeem(&after.issue(1001), 1002).unwrap();
    }
}
