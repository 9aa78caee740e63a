//! `[mail]`: pickup links and renewal reminders sent through the organisation's SMTP relay.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailSecurity {
    /// Plain connection upgraded with STARTTLS (RFC 3207), required: port 587.
    #[default]
    Starttls,
    /// TLS from the first byte (RFC 8314 implicit TLS): port 465.
    Tls,
    /// No TLS: only for a relay on this machine (loopback), or with `allow_plaintext`.
    None,
}

/// The mail section. Mail is off without a `relay`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// `host:port` of the relay; no mail is sent without it.
    #[serde(default)]
    pub relay: Option<String>,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default)]
    pub security: MailSecurity,
    /// Lets `security = "none"` reach a relay that is not on this machine (the mail, pickup
    /// links included, crosses the network in the clear).
    #[serde(default)]
    pub allow_plaintext: bool,
    /// The sender, `Name <address>` or an address. Required with `relay`.
    #[serde(default)]
    pub from: Option<String>,
    /// Where replies go, if not to `from`.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// SMTP AUTH user name, if the relay wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the SMTP AUTH password (a trailing newline is not part of it); required
    /// with `username`. Never in this file or the logs.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PEM CA certificates trusted for the relay's certificate; the system's otherwise.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Largest message, in bytes, enrolld sends (the relay's own limit may be lower).
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Seconds one delivery may take, connection included.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// The language of mail to a subject without one: `en` or `ja`.
    #[serde(default = "default_language")]
    pub language: String,
    /// Directory of template files that replace the built-in ones
    /// (`<template>.<lang>.subject`, `.txt`, `.html`); by default `mail/` beside the
    /// configuration file, if it exists.
    #[serde(default)]
    pub templates_dir: Option<PathBuf>,
    /// Days before expiry at which a reminder is sent, once each.
    #[serde(default = "default_reminder_days")]
    pub reminder_days: Vec<u32>,
    /// Where reminders for a device without an owner's address go; none are sent without it.
    #[serde(default)]
    pub operations_address: Option<String>,
    /// Seconds between two looks for certificates that need a reminder.
    #[serde(default = "default_reminder_scan_secs")]
    pub reminder_scan_secs: u64,
    /// Seconds before the first retry after a temporary failure; doubled on every further one.
    #[serde(default = "default_retry_initial_secs")]
    pub retry_initial_secs: u64,
    /// The longest wait between two retries.
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: u64,
    /// A mail that has failed temporarily for this long is given up.
    #[serde(default = "default_give_up_after_secs")]
    pub give_up_after_secs: u64,
}

fn default_max_message_bytes() -> usize {
    1024 * 1024
}
fn default_timeout_secs() -> u64 {
    30
}
fn default_language() -> String {
    "en".into()
}
fn default_reminder_days() -> Vec<u32> {
    vec![30, 7, 1]
}
fn default_reminder_scan_secs() -> u64 {
    3600
}
fn default_retry_initial_secs() -> u64 {
    60
}
fn default_retry_max_secs() -> u64 {
    3600
}
fn default_give_up_after_secs() -> u64 {
    3 * 86_400
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            relay: None,
            security: MailSecurity::default(),
            allow_plaintext: false,
            from: None,
            reply_to: None,
            username: None,
            password_file: None,
            ca_file: None,
            max_message_bytes: default_max_message_bytes(),
            timeout_secs: default_timeout_secs(),
            language: default_language(),
            templates_dir: None,
            reminder_days: default_reminder_days(),
            operations_address: None,
            reminder_scan_secs: default_reminder_scan_secs(),
            retry_initial_secs: default_retry_initial_secs(),
            retry_max_secs: default_retry_max_secs(),
            give_up_after_secs: default_give_up_after_secs(),
        }
    }
}

impl MailConfig {
    /// Whether mail is on.
    pub fn enabled(&self) -> bool {
        self.relay.is_some()
    }

    /// The relay's host and port.
    pub fn relay_host_port(&self) -> Option<(String, u16)> {
        let relay = self.relay.as_deref()?;
        let (host, port) = relay.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port.parse().ok()?;
        (!host.is_empty()).then(|| (host.to_owned(), port))
    }

    /// Whether the relay is on this machine.
    fn relay_is_local(&self) -> bool {
        self.relay_host_port().is_some_and(|(h, _)| {
            h == "localhost"
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
    }

    /// Checks the section on its own (files and templates are read at start).
    pub fn validate(&self) -> std::result::Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(format!("mail: {m}")));
        if !matches!(self.language.as_str(), "en" | "ja") {
            return bad("language must be en or ja");
        }
        if self.reminder_days.iter().any(|d| *d == 0 || *d > 366) {
            return bad("reminder_days must be 1 to 366 days each");
        }
        if self.retry_initial_secs == 0 || self.retry_max_secs < self.retry_initial_secs {
            return bad("retry_initial_secs must be > 0 and at most retry_max_secs");
        }
        if self.timeout_secs == 0 || self.reminder_scan_secs == 0 {
            return bad("timeout_secs and reminder_scan_secs must be > 0");
        }
        if self.max_message_bytes < 4096 {
            return bad("max_message_bytes must be at least 4096");
        }
        if !self.enabled() {
            return Ok(());
        }
        if self.relay_host_port().is_none() {
            return bad("relay must be host:port");
        }
        if self.from.is_none() {
            return bad("from is required with relay");
        }
        if self.security == MailSecurity::None && !self.relay_is_local() && !self.allow_plaintext {
            return bad(
                "security = \"none\" sends mail, pickup links included, in the clear: only to a relay on \
                 this machine (localhost, 127.0.0.1, ::1), or set allow_plaintext = true",
            );
        }
        if self.username.is_some() != self.password_file.is_some() {
            return bad("username and password_file go together");
        }
        if self.username.is_some() && self.security == MailSecurity::None && !self.allow_plaintext {
            return bad("a password is not sent without TLS (security = \"none\")");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(toml: &str) -> MailConfig {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn a_plaintext_relay_off_this_machine_needs_opting_in() {
        let base = "from = \"pki@example.com\"\nsecurity = \"none\"\n";
        assert!(cfg(&format!("{base}relay = \"127.0.0.1:25\""))
            .validate()
            .is_ok());
        assert!(cfg(&format!("{base}relay = \"localhost:25\""))
            .validate()
            .is_ok());
        assert!(cfg(&format!("{base}relay = \"[::1]:25\""))
            .validate()
            .is_ok());
        let e = cfg(&format!("{base}relay = \"smtp.example.com:25\""))
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("allow_plaintext"), "{e}");
        assert!(cfg(&format!(
            "{base}relay = \"smtp.example.com:25\"\nallow_plaintext = true"
        ))
        .validate()
        .is_ok());
    }

    #[test]
    fn bad_sections_are_refused_with_the_reason() {
        for (toml, says) in [
            ("relay = \"smtp.example.com\"\nfrom = \"a@b\"", "host:port"),
            ("relay = \"smtp.example.com:587\"", "from"),
            ("language = \"fr\"", "language"),
            ("reminder_days = [0]", "reminder_days"),
            (
                "relay = \"smtp.example.com:587\"\nfrom = \"a@b\"\nusername = \"u\"",
                "password_file",
            ),
        ] {
            let e = cfg(toml).validate().unwrap_err().to_string();
            assert!(e.contains(says), "{toml}: {e}");
        }
        assert!(MailConfig::default().validate().is_ok());
        assert!(!MailConfig::default().enabled());
    }
}
