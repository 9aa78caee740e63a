//! Random certificate serial numbers (RFC 5280 §4.1.2.2, CA/B BR §7.1: ≥ 64 bits of entropy).

use crate::error::{Error, Result};
use crate::ids::Serial;

/// 16 random octets: top bit cleared (positive INTEGER), next bit set (no leading zero octet,
/// so every serial is exactly 16 octets). 126 bits of entropy.
pub fn random_serial() -> Result<Serial> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| Error::Internal("rng failure".into()))?;
    b[0] = (b[0] & 0x7f) | 0x40;
    Serial::from_bytes(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_positive_16_octets_and_distinct() {
        let a = random_serial().unwrap();
        let b = random_serial().unwrap();
        assert_ne!(a, b);
        for s in [a, b] {
            assert_eq!(s.as_bytes().len(), 16);
            assert_eq!(s.as_bytes()[0] & 0x80, 0);
        }
    }
}
