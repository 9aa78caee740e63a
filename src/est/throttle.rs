//! Backoff after failed EST Basic authentications, per (username, client address).
//!
//! Keyed on the pair, not on the username alone: a per-username lockout would let anyone block
//! a device by guessing wrong on its behalf. Unknown usernames are tracked exactly like known
//! ones, so the answers do not reveal whether a username exists.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Failures allowed before backoff starts.
pub const FREE_FAILURES: u32 = 5;
/// Longest backoff, seconds.
pub const MAX_BACKOFF_SECS: i64 = 900;

#[derive(Default, Clone, Copy)]
struct Entry {
    failures: u32,
    blocked_until: i64,
    last: i64,
}

/// The map key of a username (bounded, so a huge username cannot bloat the map).
fn key_user(user: &str) -> String {
    user.chars().take(64).collect()
}

/// The failure tracker.
pub struct Throttle {
    /// `ENROLLD_RATE_LIMIT=off` disables it (benchmarks).
    enabled: bool,
    /// (username, address) → failures.
    map: Mutex<HashMap<(String, IpAddr), Entry>>,
}

impl Throttle {
    /// Enabled unless `ENROLLD_RATE_LIMIT=off`.
    pub fn from_env() -> Self {
        Throttle {
            enabled: std::env::var("ENROLLD_RATE_LIMIT")
                .map(|v| v != "off")
                .unwrap_or(true),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses while the pair is backing off.
    pub fn check(&self, user: &str, ip: IpAddr, now: i64) -> Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let map = self
            .map
            .lock()
            .map_err(|_| Error::Internal("throttle poisoned".into()))?;
        if let Some(e) = map.get(&(key_user(user), ip)) {
            if e.blocked_until > now {
                return Err(Error::RateLimited(
                    "too many failed authentications; wait before retrying".into(),
                    (e.blocked_until - now) as u64,
                ));
            }
        }
        Ok(())
    }

    /// Records a failure: after [`FREE_FAILURES`], each further failure doubles the wait.
    pub fn failed(&self, user: &str, ip: IpAddr, now: i64) {
        if !self.enabled {
            return;
        }
        let Ok(mut map) = self.map.lock() else { return };
        if map.len() > 100_000 {
            map.retain(|_, e| now - e.last < MAX_BACKOFF_SECS);
        }
        let key = (key_user(user), ip);
        let e = map.entry(key).or_default();
        if now - e.last > MAX_BACKOFF_SECS {
            *e = Entry::default();
        }
        e.failures += 1;
        e.last = now;
        if e.failures >= FREE_FAILURES {
            let exp = (e.failures - FREE_FAILURES).min(10);
            e.blocked_until = now + (1i64 << exp).min(MAX_BACKOFF_SECS);
        }
    }

    /// A success clears the pair.
    pub fn succeeded(&self, user: &str, ip: IpAddr) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&(key_user(user), ip));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_per_user_and_address() {
        let t = Throttle {
            enabled: true,
            map: Mutex::new(HashMap::new()),
        };
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..FREE_FAILURES - 1 {
            t.failed("u", a, 100);
            t.check("u", a, 100).unwrap();
        }
        t.failed("u", a, 100);
        assert!(matches!(
            t.check("u", a, 100),
            Err(Error::RateLimited(_, 1))
        ));
        t.check("u", b, 100).unwrap();
        t.check("v", a, 100).unwrap();
        t.check("u", a, 101).unwrap();
        t.failed("u", a, 101);
        assert!(matches!(
            t.check("u", a, 101),
            Err(Error::RateLimited(_, 2))
        ));
        t.succeeded("u", a);
        t.check("u", a, 101).unwrap();
    }
}
