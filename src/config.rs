//! Typed configuration, parsed and validated once at start.
//!
//! Every field is documented in `config/enrolld.example.toml`; this module gives each a default
//! so that `enrolld serve` with no file at all runs the embedded demo deployment.

use crate::ca::{KeyType, Profile};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ids::{Label, ProfileName};

/// Why a configuration was refused at start. It is the operator's, never a client's: the
/// composition root (`main`) reports it and does not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    Read {
        /// The file named on the command line.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The text is not TOML, or a field is unknown or of the wrong type.
    Syntax(String),
    /// The fields parse but contradict each other or name something that does not exist.
    Invalid(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Syntax(m) => write!(f, "config: {m}"),
            ConfigError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the HTTPS listener (EST, admin API, health).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Where the store, CA keys, TLS files, `ca-bundle.pem` and `admin-token` live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Public base URL clients use (directory, EST) and, without an HTTP listener, the one
    /// certificates name for CRL, OCSP and caIssuers. Defaults to `https://<listen>`.
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// Optional plain-HTTP listener serving only CRLs, OCSP and CA certificates
    /// (RFC 5280 §4.2.1.13, RFC 6960 Appendix A: relying parties fetch these over HTTP).
    #[serde(default)]
    pub http_listen: Option<SocketAddr>,
    /// Public URL of the plain-HTTP listener, used in certificates when it is configured.
    /// Defaults to `http://<http_listen>`.
    #[serde(default)]
    pub public_http_base_url: Option<String>,
    /// CRL and OCSP settings.
    #[serde(default)]
    pub status: StatusConfig,
    /// Registry (people and devices) settings.
    #[serde(default)]
    pub registry: RegistryConfig,
    /// Outgoing webhooks (signed events on issuance, revocation, expiry); off without a URL.
    #[serde(default)]
    pub webhooks: WebhookConfig,
    /// Signed checkpoints of the audit log.
    #[serde(default)]
    pub audit: AuditConfig,
    /// The TLS listener's certificate.
    #[serde(default)]
    pub tls: TlsConfig,
    /// How the CA is created on first start.
    #[serde(default)]
    pub ca: CaConfig,
    /// Request limits.
    #[serde(default)]
    pub limits: Limits,
    /// EST (RFC 7030) settings.
    #[serde(default)]
    pub est: EstConfig,
    /// ACME (RFC 8555) settings.
    #[serde(default)]
    pub acme: AcmeConfig,
    /// Certificate profiles by name; `device` and `person` exist unless overridden.
    #[serde(default)]
    pub profiles: BTreeMap<ProfileName, Profile>,
}

/// Registry settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// Suspending a subject puts its certificates on hold (RFC 5280 certificateHold); the hold
    /// is lifted on reactivation.
    #[serde(default = "yes")]
    pub hold_on_suspend: bool,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            hold_on_suspend: true,
        }
    }
}

/// When the server signs a checkpoint of the audit log (`src/audit/`); it also signs one at
/// start and at shutdown. Entries after the newest checkpoint are not yet authenticated.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// A checkpoint once this many entries wait for one.
    #[serde(default = "default_checkpoint_entries")]
    pub checkpoint_entries: u64,
    /// A checkpoint at most this many seconds after the first entry that waits for one.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_entries: default_checkpoint_entries(),
            checkpoint_interval_secs: default_checkpoint_interval(),
        }
    }
}

fn default_checkpoint_entries() -> u64 {
    100
}
fn default_checkpoint_interval() -> u64 {
    60
}

// --- [webhooks] (issue 4: notifications) -------------------------------------------------

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

// --- end [webhooks] -------------------------------------------------------------------------

/// Revocation status service settings (CRL, OCSP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusConfig {
    /// CRL lifetime (nextUpdate − thisUpdate) in seconds; regenerated at half-life.
    #[serde(default = "default_crl_validity")]
    pub crl_validity_secs: u64,
    /// OCSP response lifetime in seconds; cached responses are re-signed after a quarter.
    #[serde(default = "default_ocsp_validity")]
    pub ocsp_validity_secs: u64,
    /// Ignore OCSP nonces, so every response can come from the cache (RFC 8954 allows it).
    #[serde(default)]
    pub ocsp_ignore_nonces: bool,
    /// OCSP requests one client address may make per second, on either listener (0: no
    /// limit). Generous: relying parties behind one NAT share an address.
    #[serde(default = "default_ocsp_per_ip")]
    pub ocsp_requests_per_ip_per_second: u32,
    /// OCSP responses signed at the same time, each on a blocking thread (0: half the CPU
    /// cores, at least 1), so that signing never holds an async worker and a flood of
    /// requests that need a signature leaves cores for everything else.
    #[serde(default)]
    pub ocsp_signers: usize,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            crl_validity_secs: default_crl_validity(),
            ocsp_validity_secs: default_ocsp_validity(),
            ocsp_ignore_nonces: false,
            ocsp_requests_per_ip_per_second: default_ocsp_per_ip(),
            ocsp_signers: 0,
        }
    }
}

/// ACME settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    /// RFC 8555 §7.3.4: accounts must be bound to an EAB key made through the admin API.
    #[serde(default = "yes")]
    pub external_account_required: bool,
    /// URL of the terms of service; clients must agree when set.
    #[serde(default)]
    pub terms_of_service: Option<String>,
    /// Profile of orders that name none and whose EAB key names none.
    #[serde(default = "default_profile")]
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
            default_profile: default_profile(),
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

/// The listener's certificate: issued by the issuing CA on first start unless files are given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain to serve instead of the generated one.
    pub cert_file: Option<PathBuf>,
    /// PEM private key matching `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Extra DNS names or IP addresses for the generated server certificate.
    #[serde(default)]
    pub names: Vec<String>,
}

/// CA creation on first start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaConfig {
    /// Key algorithm of the root and issuing CA.
    #[serde(default = "default_ca_key")]
    pub key_type: KeyType,
    /// Organisation name put in the CA subjects.
    #[serde(default = "default_org")]
    pub organization: String,
    /// Root CA lifetime in days.
    #[serde(default = "default_root_days")]
    pub root_validity_days: u32,
    /// Issuing CA lifetime in days.
    #[serde(default = "default_issuing_days")]
    pub issuing_validity_days: u32,
    /// File whose first line is the passphrase encrypting the CA keys at rest (AES-256-GCM
    /// under Argon2id). Without it, `ENROLLD_CA_PASSPHRASE` is used if set.
    #[serde(default)]
    pub key_passphrase_file: Option<PathBuf>,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            key_type: default_ca_key(),
            organization: default_org(),
            root_validity_days: default_root_days(),
            issuing_validity_days: default_issuing_days(),
            key_passphrase_file: None,
        }
    }
}

/// Limits that keep one client from exhausting the server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted by any endpoint, in bytes.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    /// Seconds a client may take to complete the TLS handshake.
    #[serde(default = "default_handshake")]
    pub handshake_timeout_secs: u64,
    /// Seconds a request may take from headers to response.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_secs: u64,
    /// Connections served at once on each listener; further ones wait in the accept queue.
    #[serde(default = "default_max_conns")]
    pub max_connections: usize,
    /// Seconds a new connection may take to send its first complete request head (from the
    /// end of the TLS handshake, or from accept on the plain-HTTP listener); a client that
    /// connects and sends nothing gives its connection slot back after this.
    #[serde(default = "default_first_request_timeout")]
    pub first_request_timeout_secs: u64,
    /// Seconds a connection may stay without a request in flight after its last answer
    /// (HTTP/1.1 keep-alive, HTTP/2) before it is closed.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Largest request head (request line and all header fields), in bytes; larger heads
    /// are answered 431 (RFC 6585 §5). On HTTP/2 this is SETTINGS_MAX_HEADER_LIST_SIZE.
    #[serde(default = "default_max_head")]
    pub max_request_head_bytes: usize,
    /// Largest request target or single header field, in bytes; larger ones are answered 431.
    #[serde(default = "default_max_header_line")]
    pub max_header_line_bytes: usize,
    /// Requests per second from one client address (EST, ACME, admin API, pickup); 0 = no
    /// limit. `ENROLLD_RATE_LIMIT=off` turns it off.
    #[serde(default = "default_per_ip")]
    pub requests_per_ip_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: default_body(),
            handshake_timeout_secs: default_handshake(),
            request_timeout_secs: default_request_timeout(),
            max_connections: default_max_conns(),
            first_request_timeout_secs: default_first_request_timeout(),
            idle_timeout_secs: default_idle_timeout(),
            max_request_head_bytes: default_max_head(),
            max_header_line_bytes: default_max_header_line(),
            requests_per_ip_per_second: default_per_ip(),
        }
    }
}

/// EST settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstConfig {
    /// Profile used by `/.well-known/est/` without a label.
    #[serde(default = "default_profile")]
    pub default_profile: ProfileName,
    /// Lifetime of a new enrolment credential when the request names none, in seconds.
    #[serde(default = "default_cred_ttl")]
    pub credential_ttl_secs: u64,
    /// Policy for the default (unlabelled) path.
    #[serde(default)]
    pub require_channel_binding: bool,
    /// Labels (RFC 7030 §3.2.2), each selecting a profile and its policy.
    #[serde(default)]
    pub labels: BTreeMap<Label, EstLabel>,
}

impl Default for EstConfig {
    fn default() -> Self {
        EstConfig {
            default_profile: default_profile(),
            credential_ttl_secs: default_cred_ttl(),
            require_channel_binding: false,
            labels: BTreeMap::new(),
        }
    }
}

/// Policy of one EST label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstLabel {
    /// Certificate profile issued under this label.
    pub profile: ProfileName,
    /// PEM files of manufacturer (IDevID) CAs whose certificates may enrol under this label.
    #[serde(default)]
    pub bootstrap_ca_files: Vec<PathBuf>,
    /// Require the RFC 9266 tls-exporter value in the CSR's challengePassword.
    #[serde(default)]
    pub require_channel_binding: bool,
    /// Enrolments wait for an administrator's approval (RFC 7030 §4.2.3: 202 + Retry-After).
    #[serde(default)]
    pub require_approval: bool,
}

impl Config {
    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> std::result::Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and validates TOML text. A `[profiles.device]` or `[profiles.person]` table
    /// overrides only the fields it names; the rest keep the built-in values.
    pub fn parse(text: &str) -> std::result::Result<Self, ConfigError> {
        let mut value: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        if let Some(toml::Value::Table(profiles)) = value.get_mut("profiles") {
            for (name, builtin) in [("device", Profile::device()), ("person", Profile::person())] {
                if let Some(toml::Value::Table(user)) = profiles.get_mut(name) {
                    let mut merged = toml::Table::try_from(&builtin)
                        .map_err(|e| ConfigError::Invalid(format!("builtin profile: {e}")))?;
                    for (k, v) in std::mem::take(user) {
                        merged.insert(k, v);
                    }
                    *user = merged;
                }
            }
        }
        let mut cfg: Config = toml::Value::Table(value)
            .try_into()
            .map_err(|e| ConfigError::Syntax(e.to_string()))?;
        cfg.finish()?;
        Ok(cfg)
    }

    /// Adds the built-in profiles that are not overridden and checks cross references.
    pub fn finish(&mut self) -> std::result::Result<(), ConfigError> {
        self.profiles
            .entry(ProfileName("device".into()))
            .or_insert_with(Profile::device);
        self.profiles
            .entry(ProfileName("person".into()))
            .or_insert_with(Profile::person);
        let check = |p: &ProfileName, what: &str| -> std::result::Result<(), ConfigError> {
            if self.profiles.contains_key(p) {
                Ok(())
            } else {
                Err(ConfigError::Invalid(format!(
                    "{what} names unknown profile {p}"
                )))
            }
        };
        check(&self.est.default_profile, "est.default_profile")?;
        check(&self.acme.default_profile, "acme.default_profile")?;
        for p in &self.acme.profiles {
            check(p, "acme.profiles")?;
        }
        for (label, l) in &self.est.labels {
            check(&l.profile, &format!("est.labels.{label}"))?;
        }
        for (name, p) in &self.profiles {
            for ku in &p.key_usage {
                crate::ca::profile::parse_key_usage(ku).map_err(|e| {
                    ConfigError::Invalid(format!("profile {name}: {}", e.public_message()))
                })?;
            }
            for eku in &p.extended_key_usage {
                crate::ca::profile::parse_eku(eku).map_err(|e| {
                    ConfigError::Invalid(format!("profile {name}: {}", e.public_message()))
                })?;
            }
            if p.validity_days == 0 {
                return Err(ConfigError::Invalid(format!(
                    "profile {name}: validity_days must be > 0"
                )));
            }
            if p.key_types.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "profile {name}: key_types is empty"
                )));
            }
            if matches!(p.server_keygen_key_type, KeyType::Ed25519) {
                return Err(ConfigError::Invalid(format!(
                    "profile {name}: server_keygen_key_type must be an ECDSA or RSA type"
                )));
            }
            for t in &p.san_types {
                if !matches!(t.as_str(), "dns" | "email" | "uri" | "ip") {
                    return Err(ConfigError::Invalid(format!(
                        "profile {name}: unknown san_types entry {t:?} (dns, email, uri, ip)"
                    )));
                }
            }
        }
        let l = &self.limits;
        if l.handshake_timeout_secs == 0
            || l.request_timeout_secs == 0
            || l.first_request_timeout_secs == 0
            || l.idle_timeout_secs == 0
            || l.max_body_bytes < 1024
            || l.max_connections == 0
            || l.max_connections > u32::MAX as usize
        {
            return Err(ConfigError::Invalid(
                "limits: timeouts and max_connections must be > 0, max_body_bytes >= 1024".into(),
            ));
        }
        // hyper's HTTP/1 read buffer has a floor of 8 KiB; HTTP/2 carries the size in a u32.
        if l.max_request_head_bytes < 8192
            || l.max_request_head_bytes > u32::MAX as usize
            || l.max_header_line_bytes < 1024
            || l.max_header_line_bytes > l.max_request_head_bytes
        {
            return Err(ConfigError::Invalid(
                "limits: max_request_head_bytes must be >= 8192, max_header_line_bytes >= 1024 and at most max_request_head_bytes".into(),
            ));
        }
        if self.est.credential_ttl_secs == 0 || self.est.credential_ttl_secs > 366 * 24 * 3600 {
            return Err(ConfigError::Invalid(
                "est.credential_ttl_secs must be 1 second to 366 days".into(),
            ));
        }
        self.webhooks.validate()?;
        if self.audit.checkpoint_entries == 0 || self.audit.checkpoint_interval_secs == 0 {
            return Err(ConfigError::Invalid(
                "audit: checkpoint_entries and checkpoint_interval_secs must be > 0".into(),
            ));
        }
        if (self.tls.cert_file.is_some()) != (self.tls.key_file.is_some()) {
            return Err(ConfigError::Invalid(
                "tls.cert_file and tls.key_file go together".into(),
            ));
        }
        Ok(())
    }

    /// The base URL certificates and clients use.
    pub fn base_url(&self) -> String {
        match &self.public_base_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => {
                let host = if self.listen.ip().is_unspecified() || self.listen.ip().is_loopback() {
                    "localhost".to_owned()
                } else if self.listen.is_ipv6() {
                    format!("[{}]", self.listen.ip())
                } else {
                    self.listen.ip().to_string()
                };
                format!("https://{host}:{}", self.listen.port())
            }
        }
    }

    /// Base URL of the status endpoints (CRL, OCSP, CA certificates) named in certificates.
    pub fn status_base_url(&self) -> String {
        if let Some(u) = &self.public_http_base_url {
            return u.trim_end_matches('/').to_owned();
        }
        match self.http_listen {
            Some(a) => {
                let host = if a.ip().is_unspecified() || a.ip().is_loopback() {
                    "localhost".to_owned()
                } else if a.is_ipv6() {
                    format!("[{}]", a.ip())
                } else {
                    a.ip().to_string()
                };
                format!("http://{host}:{}", a.port())
            }
            None => self.base_url(),
        }
    }

    /// Gives every profile without explicit URLs the server's own CRL, OCSP and caIssuers
    /// URLs, so certificates from every channel carry working CDP and AIA extensions. An
    /// explicit empty string leaves the extension out.
    pub fn apply_status_defaults(&mut self) {
        let base = self.status_base_url();
        for p in self.profiles.values_mut() {
            p.crl_url
                .get_or_insert_with(|| format!("{base}/crl/issuing.crl"));
            p.ocsp_url.get_or_insert_with(|| format!("{base}/ocsp"));
            p.ca_issuers_url
                .get_or_insert_with(|| format!("{base}/ca/issuing.crt"));
        }
    }

    /// Profile by name.
    pub fn profile(&self, name: &ProfileName) -> Result<&Profile> {
        self.profiles
            .get(name)
            .ok_or_else(|| Error::NotFound(format!("unknown profile {name}")))
    }

    /// The embedded demo deployment, `enrolld serve` without a file: the defaults, plus the
    /// plain-HTTP status listener on 127.0.0.1:8080 so that certificates name `http://` CRL,
    /// OCSP and caIssuers URLs (RFC 5280 §4.2.1.13, RFC 6960 Appendix A).
    pub fn embedded() -> Self {
        Config {
            http_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            ..Config::default()
        }
    }

    /// The profile URLs (CRL, OCSP, caIssuers) that use `https`, as (profile, field, URL).
    /// Relying parties fetch these over plain HTTP; Windows does not follow `https` CDP or
    /// AIA URLs.
    pub fn https_status_urls(&self) -> Vec<(&ProfileName, &'static str, &str)> {
        let mut out = Vec::new();
        for (name, p) in &self.profiles {
            for (field, url) in [
                ("crl_url", &p.crl_url),
                ("ocsp_url", &p.ocsp_url),
                ("ca_issuers_url", &p.ca_issuers_url),
            ] {
                if let Some(u) = url {
                    if u.get(..8)
                        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
                    {
                        out.push((name, field, u.as_str()));
                    }
                }
            }
        }
        out
    }
}

impl Default for Config {
    fn default() -> Self {
        let mut cfg: Config = toml::from_str("").unwrap_or_else(|_| unreachable_default());
        // finish() cannot fail on the built-in defaults.
        let _ = cfg.finish();
        cfg
    }
}

fn unreachable_default() -> Config {
    Config {
        listen: default_listen(),
        data_dir: default_data_dir(),
        public_base_url: None,
        http_listen: None,
        public_http_base_url: None,
        status: StatusConfig::default(),
        registry: RegistryConfig::default(),
        webhooks: WebhookConfig::default(),
        audit: AuditConfig::default(),
        tls: TlsConfig::default(),
        ca: CaConfig::default(),
        limits: Limits::default(),
        est: EstConfig::default(),
        acme: AcmeConfig::default(),
        profiles: BTreeMap::new(),
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./enrolld-data")
}
fn default_ca_key() -> KeyType {
    KeyType::P256
}
fn default_org() -> String {
    "enrolld demo".into()
}
fn default_root_days() -> u32 {
    3650
}
fn default_issuing_days() -> u32 {
    1825
}
fn default_body() -> usize {
    64 * 1024
}
fn default_handshake() -> u64 {
    10
}
fn default_request_timeout() -> u64 {
    30
}
fn default_max_conns() -> usize {
    1024
}
fn default_first_request_timeout() -> u64 {
    10
}
fn default_idle_timeout() -> u64 {
    30
}
fn default_max_head() -> usize {
    32 * 1024
}
fn default_max_header_line() -> usize {
    16 * 1024
}
fn default_per_ip() -> u32 {
    500
}
fn default_profile() -> ProfileName {
    ProfileName("device".into())
}
fn default_cred_ttl() -> u64 {
    7 * 24 * 3600
}
fn default_crl_validity() -> u64 {
    24 * 3600
}
fn default_ocsp_validity() -> u64 {
    24 * 3600
}
fn default_ocsp_per_ip() -> u32 {
    200
}
fn yes() -> bool {
    true
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
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_has_builtin_profiles() {
        let cfg = Config::parse("").unwrap();
        assert!(cfg.profiles.contains_key(&ProfileName("device".into())));
        assert!(cfg.profiles.contains_key(&ProfileName("person".into())));
        assert_eq!(cfg.base_url(), "https://localhost:8443");
    }

    #[test]
    fn overriding_one_field_of_a_builtin_profile_keeps_the_rest() {
        let cfg = Config::parse("[profiles.person]\nvalidity_days = 30\n").unwrap();
        let p = &cfg.profiles[&ProfileName("person".into())];
        assert_eq!(p.validity_days, 30);
        assert_eq!(p.san_types, vec!["email".to_owned()]);
        assert!(p.extended_key_usage.contains(&"emailProtection".to_owned()));
    }

    #[test]
    fn bad_profile_words_are_refused() {
        assert!(Config::parse("[profiles.device]\nsan_types = [\"DNS\"]\n").is_err());
        assert!(Config::parse("[profiles.device]\nkey_types = []\n").is_err());
        assert!(Config::parse("[profiles.x]\nextended_key_usage = [\"anything\"]\n").is_err());
        assert!(Config::parse("[limits]\nrequest_timeout_secs = 0\n").is_err());
    }

    #[test]
    fn unknown_field_is_refused() {
        assert!(Config::parse("lissen = \"x\"").is_err());
    }

    #[test]
    fn label_with_unknown_profile_is_refused() {
        let e = Config::parse("[est.labels.x]\nprofile = \"nope\"\n").unwrap_err();
        assert!(e.to_string().contains("unknown profile"));
    }

    /// An unreadable file, bad TOML and contradicting settings are told apart, each with the
    /// message the operator sees.
    #[test]
    fn config_errors_say_which_kind_of_mistake() {
        let e = Config::load(Path::new("/nonexistent/enrolld.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
        assert!(e
            .to_string()
            .starts_with("cannot read /nonexistent/enrolld.toml"));
        let e = Config::parse("listen = ").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax(_)), "{e:?}");
        assert!(e.to_string().starts_with("config: "), "{e}");
        let e = Config::parse("[limits]\nrequest_timeout_secs = 0\n").unwrap_err();
        assert!(matches!(e, ConfigError::Invalid(_)), "{e:?}");
    }
}
