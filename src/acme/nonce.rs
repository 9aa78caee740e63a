//! Anti-replay nonces (RFC 8555 §6.5).
//!
//! A nonce is `base64url(issued_at ‖ random ‖ HMAC(key, issued_at ‖ random)[..16])`. Any node
//! holding the shared nonce key can tell a nonce it could have issued from a forged one without
//! a lookup; a replay set of nonces already redeemed (kept only for the validity window, since
//! older nonces fail the time check anyway) makes each one usable once. With several nodes the
//! replay set moves into the shared store (docs/acme.md); here it is in memory, which for a
//! single node is exact.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use aws_lc_rs::hmac;
use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::{AcmeProblem, Error, Result};

/// How long a nonce stays redeemable.
pub const NONCE_LIFETIME_SECS: u64 = 600;

/// Issues and redeems nonces.
pub struct Nonces {
    /// Authenticates nonces (shared by all nodes of a deployment).
    key: hmac::Key,
    /// Redeemed nonces with their issue time, oldest first, for expiry.
    used: Mutex<Used>,
}

#[derive(Default)]
struct Used {
    set: HashMap<[u8; 24], u64>,
    order: VecDeque<([u8; 24], u64)>,
}

fn bad_nonce(m: &str) -> Error {
    Error::acme(AcmeProblem::BadNonce, m)
}

impl Nonces {
    /// A nonce service keyed with `key`.
    pub fn new(key: &[u8]) -> Self {
        Nonces {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            used: Mutex::new(Used::default()),
        }
    }

    /// A fresh nonce.
    pub fn issue(&self, now: u64) -> String {
        let mut body = [0u8; 24];
        body[..8].copy_from_slice(&now.to_be_bytes());
        // The RNG cannot fail on supported platforms; a zero tail would still be unique-ish
        // per second but HMAC keeps it unforgeable.
        let _ = aws_lc_rs::rand::fill(&mut body[8..]);
        let tag = hmac::sign(&self.key, &body);
        let mut out = body.to_vec();
        out.extend_from_slice(&tag.as_ref()[..16]);
        Base64UrlUnpadded::encode_string(&out)
    }

    /// Redeems a nonce once: authentic, unexpired, not seen before.
    pub fn redeem(&self, nonce: &str, now: u64) -> Result<()> {
        let raw = Base64UrlUnpadded::decode_vec(nonce).map_err(|_| bad_nonce("malformed nonce"))?;
        if raw.len() != 40 {
            return Err(bad_nonce("malformed nonce"));
        }
        let (body, tag) = raw.split_at(24);
        let expected = hmac::sign(&self.key, body);
        if aws_lc_rs::constant_time::verify_slices_are_equal(&expected.as_ref()[..16], tag).is_err()
        {
            return Err(bad_nonce("nonce was not issued by this server"));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&body[..8]);
        let issued = u64::from_be_bytes(ts);
        if issued > now + 5 || now.saturating_sub(issued) > NONCE_LIFETIME_SECS {
            return Err(bad_nonce("nonce expired"));
        }
        let mut key = [0u8; 24];
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
        let n = Nonces::new(&[1; 32]);
        let a = n.issue(1000);
        n.redeem(&a, 1001).unwrap();
        assert!(n.redeem(&a, 1002).is_err());
    }

    #[test]
    fn foreign_forged_and_expired_nonces_are_refused() {
        let n = Nonces::new(&[1; 32]);
        let other = Nonces::new(&[2; 32]);
        assert!(n.redeem(&other.issue(1000), 1000).is_err());
        assert!(n.redeem("AAAA", 1000).is_err());
        assert!(n.redeem("not base64!", 1000).is_err());
        let old = n.issue(1000);
        assert!(n.redeem(&old, 1000 + NONCE_LIFETIME_SECS + 1).is_err());
        // Two nodes sharing the key accept each other's nonces.
        let peer = Nonces::new(&[1; 32]);
        peer.redeem(&n.issue(2000), 2000).unwrap();
    }
}
