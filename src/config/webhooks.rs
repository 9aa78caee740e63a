//! `[webhooks]`: signed event notifications.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// Outgoing webhooks: the notifier (`src/notify/`) POSTs a JSON event, signed with
/// HMAC-SHA256, for every subscribed audit action and for certificates about to expire.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Receiver URL, `https://` (or `http://`, with a warning at start); no webhooks if unset.
    #[serde(default)]
    pub url: Option<String>,
    /// File holding the HMAC key that signs every delivery (at least 16 bytes; a trailing
    /// newline is not part of the key). Required with `url`.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// PEM CA certificates trusted for an `https` receiver; the system's bundle otherwise.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Event types sent: audit actions (`certificate.issue`, `subject.offboarded`, …) and
    /// `certificate.expiring`.
    #[serde(default = "default_webhook_events")]
    pub events: Vec<String>,
    /// `certificate.expiring` is sent this many days before a good certificate expires.
    #[serde(default = "default_expiry_warning_days")]
    pub expiry_warning_days: u32,
    /// Seconds between two looks for expiring certificates.
    #[serde(default = "default_expiry_scan_secs")]
    pub expiry_scan_secs: u64,
    /// Seconds one delivery attempt may take, connection included.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
    /// Milliseconds before the first retry of a failed delivery; doubled on every further
    /// failure, up to five minutes.
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            url: None,
            secret_file: None,
            ca_file: None,
            events: default_webhook_events(),
            expiry_warning_days: default_expiry_warning_days(),
            expiry_scan_secs: default_expiry_scan_secs(),
            timeout_secs: default_webhook_timeout(),
            retry_initial_ms: default_retry_initial_ms(),
        }
    }
}

impl WebhookConfig {
    /// Checks the section on its own (the secret and CA files are read at start).
    pub fn validate(&self) -> std::result::Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(format!("webhooks: {m}")));
        if let Some(url) = &self.url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return bad("url must start with https:// or http://");
            }
            if url
                .parse::<axum::http::Uri>()
                .map_or(true, |u| u.host().is_none())
            {
                return bad("url is not a valid URL");
            }
            if self.secret_file.is_none() {
                return bad("secret_file is required when url is set");
            }
        }
        if self.events.is_empty()
            || self.events.iter().any(|e| {
                e.is_empty()
                    || !e
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
            })
        {
            return bad("events must list event types such as \"certificate.issue\"");
        }
        if self.expiry_warning_days == 0 || self.expiry_warning_days > 366 {
            return bad("expiry_warning_days must be 1 to 366");
        }
        if self.expiry_scan_secs == 0 || self.timeout_secs == 0 || self.retry_initial_ms == 0 {
            return bad("expiry_scan_secs, timeout_secs and retry_initial_ms must be > 0");
        }
        if self.retry_initial_ms > 300_000 {
            return bad("retry_initial_ms must be at most 300000 (five minutes)");
        }
        Ok(())
    }
}

fn default_webhook_events() -> Vec<String> {
    vec![
        "certificate.issue".into(),
        "certificate.revoke".into(),
        "certificate.expiring".into(),
    ]
}
fn default_expiry_warning_days() -> u32 {
    14
}
fn default_expiry_scan_secs() -> u64 {
    3600
}
fn default_webhook_timeout() -> u64 {
    10
}
fn default_retry_initial_ms() -> u64 {
    1000
}
