//! `[acme]`: the ACME service, its challenge validation and its rate limits.

use std::net::SocketAddr;

use serde::Deserialize;

use crate::ids::ProfileName;

/// ACME settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    /// RFC 8555 §7.3.4: accounts must be bound to an EAB key made through the admin API.
    #[serde(default = "super::yes")]
    pub external_account_required: bool,
    /// URL of the terms of service; clients must agree when set.
    #[serde(default)]
    pub terms_of_service: Option<String>,
    /// Profile of orders that name none and whose EAB key names none.
    #[serde(default = "super::default_profile")]
    pub default_profile: ProfileName,
    /// Profiles offered in the directory's `meta.profiles` (draft-ietf-acme-profiles).
    #[serde(default = "default_acme_profiles")]
    pub profiles: Vec<ProfileName>,
    /// DNS names (or `*.suffix`) any account may order after proving control with a challenge.
    #[serde(default)]
    pub allow_after_proof: Vec<String>,
    /// Seconds an order stays open.
    #[serde(default = "default_order_lifetime")]
    pub order_lifetime_secs: u64,
    /// Challenge validation (RFC 8555 §8, §10.4).
    #[serde(default)]
    pub validation: ValidationConfig,
    /// Rate limits; `ENROLLD_RATE_LIMIT=off` disables them.
    #[serde(default)]
    pub rate_limits: AcmeRateLimits,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        AcmeConfig {
            external_account_required: true,
            terms_of_service: None,
            default_profile: super::default_profile(),
            profiles: default_acme_profiles(),
            allow_after_proof: Vec::new(),
            order_lifetime_secs: default_order_lifetime(),
            validation: ValidationConfig::default(),
            rate_limits: AcmeRateLimits::default(),
        }
    }
}

/// Where and how challenges are validated. Anything but the defaults is for tests only,
/// and the server warns at start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    /// Port of http-01 validation (RFC 8555 §8.3: 80).
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    /// Port of tls-alpn-01 validation (RFC 8737 §3: 443).
    #[serde(default = "default_tls_port")]
    pub tls_port: u16,
    /// DNS server (ip:port) for dns-01 and address lookups; the system resolver otherwise.
    #[serde(default)]
    pub dns_resolver: Option<SocketAddr>,
    /// Allow loopback, private and link-local targets (RFC 8555 §10.4 says no).
    #[serde(default)]
    pub allow_private_addresses: bool,
    /// Seconds one validation may take.
    #[serde(default = "default_validation_timeout")]
    pub timeout_secs: u64,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            http_port: default_http_port(),
            tls_port: default_tls_port(),
            dns_resolver: None,
            allow_private_addresses: false,
            timeout_secs: default_validation_timeout(),
        }
    }
}

impl ValidationConfig {
    /// Whether any test-only setting is on.
    pub fn is_test_mode(&self) -> bool {
        self.http_port != 80
            || self.tls_port != 443
            || self.dns_resolver.is_some()
            || self.allow_private_addresses
    }
}

/// ACME rate limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeRateLimits {
    /// New orders per account per minute.
    #[serde(default = "default_orders_per_minute")]
    pub orders_per_account_per_minute: u32,
    /// New accounts per client IP per minute.
    #[serde(default = "default_accounts_per_minute")]
    pub new_accounts_per_ip_per_minute: u32,
}

impl Default for AcmeRateLimits {
    fn default() -> Self {
        AcmeRateLimits {
            orders_per_account_per_minute: default_orders_per_minute(),
            new_accounts_per_ip_per_minute: default_accounts_per_minute(),
        }
    }
}

fn default_acme_profiles() -> Vec<ProfileName> {
    vec![ProfileName("device".into()), ProfileName("person".into())]
}
fn default_order_lifetime() -> u64 {
    24 * 3600
}
fn default_http_port() -> u16 {
    80
}
fn default_tls_port() -> u16 {
    443
}
fn default_validation_timeout() -> u64 {
    10
}
fn default_orders_per_minute() -> u32 {
    600
}
fn default_accounts_per_minute() -> u32 {
    60
}
