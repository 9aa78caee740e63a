//! Fixed-window rate limits keyed by account or client address.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Counts events per key per window.
pub struct RateLimiter {
    /// `ENROLLD_RATE_LIMIT=off` turns every limit off (benchmarks).
    enabled: bool,
    /// key → (window start, count).
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// Enabled unless `ENROLLD_RATE_LIMIT=off`.
    pub fn from_env() -> Self {
        let enabled = std::env::var("ENROLLD_RATE_LIMIT")
            .map(|v| v != "off")
            .unwrap_or(true);
        RateLimiter {
            enabled,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one event for `key`; refuses past `limit` per `window_secs`.
    pub fn check(&self, key: &str, limit: u32, window_secs: i64, now: i64) -> Result<()> {
        if !self.enabled || limit == 0 {
            return Ok(());
        }
        let mut w = self
            .windows
            .lock()
            .map_err(|_| Error::Internal("rate limiter poisoned".into()))?;
        if w.len() > 100_000 {
            w.retain(|_, (start, _)| now - *start < window_secs);
        }
        let e = w.entry(key.to_owned()).or_insert((now, 0));
        if now - e.0 >= window_secs {
            *e = (now, 0);
        }
        if e.1 >= limit {
            let retry = (e.0 + window_secs - now).max(1) as u64;
            return Err(Error::RateLimited(
                format!("rate limit of {limit} per {window_secs} s reached"),
                retry,
            ));
        }
        e.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_then_reset() {
        let r = RateLimiter {
            enabled: true,
            windows: Mutex::new(HashMap::new()),
        };
        r.check("a", 2, 60, 0).unwrap();
        r.check("a", 2, 60, 1).unwrap();
        match r.check("a", 2, 60, 2) {
            Err(Error::RateLimited(_, retry)) => assert_eq!(retry, 58),
            other => panic!("{other:?}"),
        }
        r.check("b", 2, 60, 2).unwrap();
        r.check("a", 2, 60, 61).unwrap();
    }
}
