//! Typed configuration, parsed and validated once at start.
//!
//! Every field is documented in `config/enrolld.example.toml`; each section's file here gives
//! its fields defaults, so that `enrolld serve` with no file at all runs the embedded demo
//! deployment. This file holds `Config` itself, its loading and cross-checks, and the base URLs.

mod acme;
mod audit;
mod ca;
mod est;
mod limits;
mod mail;
mod registry;
mod scep;
pub mod scep_validation;
mod status;
mod store;
mod tls;
mod webhooks;

pub use acme::{AcmeConfig, AcmeRateLimits, ValidationConfig};
pub use audit::AuditConfig;
pub use ca::CaConfig;
pub use est::{EstConfig, EstLabel};
pub use limits::Limits;
pub use mail::{MailConfig, MailSecurity};
pub use registry::RegistryConfig;
pub use scep::{ScepConfig, ScepPath, SubjectPolicy};
pub use scep_validation::ChallengeValidation;
pub use status::StatusConfig;
pub use store::{StoreBackend, StoreConfig};
pub use tls::TlsConfig;
pub use webhooks::WebhookConfig;

use crate::ca::{KeyType, Profile};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ids::ProfileName;

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
    /// Pickup links and renewal reminders by e-mail; off without a relay.
    #[serde(default)]
    pub mail: MailConfig,
    /// Where the data is kept: sled in the data directory, or PostgreSQL.
    #[serde(default)]
    pub store: StoreConfig,
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
    /// SCEP (RFC 8894) settings.
    #[serde(default)]
    pub scep: ScepConfig,
    /// Certificate profiles by name; `device` and `person` exist unless overridden.
    #[serde(default)]
    pub profiles: BTreeMap<ProfileName, Profile>,
}
impl Config {
    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> std::result::Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg = Self::parse(&text)?;
        if cfg.mail.templates_dir.is_none() {
            let beside = path.parent().unwrap_or(Path::new(".")).join("mail");
            if beside.is_dir() {
                cfg.mail.templates_dir = Some(beside);
            }
        }
        Ok(cfg)
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
        check(&self.scep.profile, "scep.profile")?;
        for (label, l) in &self.scep.labels {
            check(&l.profile, &format!("scep.labels.{label}"))?;
        }
        let scep_paths = std::iter::once(("scep".to_owned(), self.scep.default_path())).chain(
            self.scep
                .labels
                .iter()
                .map(|(l, p)| (format!("scep.labels.{l}"), p.clone())),
        );
        for (name, p) in scep_paths {
            p.validation.validate()?;
            let registry = matches!(p.validation, ChallengeValidation::Registry);
            if p.require_approval && !registry {
                return Err(ConfigError::Invalid(format!(
                    "{name}: require_approval works with registry challenges only (approvals are kept per challenge)"
                )));
            }
        }
        if self.scep.profile_signing_cert.is_some() != self.scep.profile_signing_key.is_some() {
            return Err(ConfigError::Invalid(
                "scep.profile_signing_cert and scep.profile_signing_key go together".into(),
            ));
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
            if let Some(smime) = &p.smime {
                smime
                    .check(&p.extended_key_usage, &p.san_types, p.validity_days)
                    .map_err(|e| {
                        ConfigError::Invalid(format!("profile {name}: {}", e.public_message()))
                    })?;
                if p.windows_sid.in_san() {
                    return Err(ConfigError::Invalid(format!(
                        "profile {name}: an S/MIME profile carries mailbox names only; \
                         windows_sid may be \"extension\", not \"san\" or \"both\""
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
        self.mail.validate()?;
        self.store.validate()?;
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
        mail: MailConfig::default(),
        store: StoreConfig::default(),
        audit: AuditConfig::default(),
        tls: TlsConfig::default(),
        ca: CaConfig::default(),
        limits: Limits::default(),
        est: EstConfig::default(),
        acme: AcmeConfig::default(),
        scep: ScepConfig::default(),
        profiles: BTreeMap::new(),
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./enrolld-data")
}
fn default_profile() -> ProfileName {
    ProfileName("device".into())
}
fn yes() -> bool {
    true
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
    fn smime_settings_of_profiles() {
        use crate::ca::smime::{Generation, KeyUse, Validation};
        let cfg = Config::parse("").unwrap();
        let person = cfg.profiles[&ProfileName("person".into())]
            .smime
            .clone()
            .unwrap();
        assert_eq!(
            (person.validation, person.generation, person.key_use),
            (Validation::Mailbox, Generation::Multipurpose, KeyUse::Dual)
        );
        assert!(cfg.profiles[&ProfileName("device".into())].smime.is_none());
        // Strict allows emailProtection only: the person profile's clientAuth must go too.
        assert!(Config::parse("[profiles.person]\nsmime = { generation = \"strict\" }\n").is_err());
        let cfg = Config::parse(
            "[profiles.person]\nextended_key_usage = [\"emailProtection\"]\n\
             smime = { generation = \"strict\", validation = \"individual\", \
             policy_oids = [\"1.3.6.1.4.1.99999.1\"], cps_uri = \"http://pki.example/cps\" }\n\
             [profiles.person-sign]\nextended_key_usage = [\"emailProtection\"]\n\
             san_types = [\"email\"]\nsmime = { key_use = \"signing\" }\n",
        )
        .unwrap();
        let p = cfg.profiles[&ProfileName("person".into())]
            .smime
            .clone()
            .unwrap();
        assert_eq!(p.validation, Validation::Individual);
        assert_eq!(p.policy_oids, vec!["1.3.6.1.4.1.99999.1".to_owned()]);
        let sign = cfg.profiles[&ProfileName("person-sign".into())]
            .smime
            .clone()
            .unwrap();
        assert_eq!(sign.key_use, KeyUse::Signing);
        for bad in [
            "[profiles.person]\nvalidity_days = 826\n",
            "[profiles.person]\nsan_types = [\"email\", \"uri\"]\n",
            "[profiles.person]\nwindows_sid = \"san\"\n",
            "[profiles.person]\nsmime = { validation = \"sponsor\" }\n",
            "[profiles.person]\nsmime = { generation = \"legacy\" }\n",
            "[profiles.x]\nsan_types = [\"email\"]\nsmime = {}\n",
        ] {
            assert!(Config::parse(bad).is_err(), "{bad}");
        }
        assert!(Config::parse("[profiles.person]\nvalidity_days = 825\n").is_ok());
        // The example file's person profile, S/MIME table included, equals the built-in one.
        let example = Config::parse(include_str!("../../config/enrolld.example.toml")).unwrap();
        let (ex, builtin) = (
            &example.profiles[&ProfileName("person".into())],
            crate::ca::Profile::person(),
        );
        assert_eq!(ex.smime, builtin.smime);
        assert_eq!(ex.extended_key_usage, builtin.extended_key_usage);
    }

    #[test]
    fn bad_profile_words_are_refused() {
        assert!(Config::parse("[profiles.device]\nsan_types = [\"DNS\"]\n").is_err());
        assert!(Config::parse("[profiles.device]\nkey_types = []\n").is_err());
        assert!(Config::parse("[profiles.x]\nextended_key_usage = [\"anything\"]\n").is_err());
        assert!(Config::parse("[limits]\nrequest_timeout_secs = 0\n").is_err());
    }

    #[test]
    fn windows_sid_setting_defaults_to_off_and_takes_four_words() {
        use crate::ca::windows_sid::WindowsSidMapping;
        let cfg = Config::parse("[profiles.logon]\nwindows_sid = \"both\"\n").unwrap();
        assert_eq!(
            cfg.profiles[&ProfileName("logon".into())].windows_sid,
            WindowsSidMapping::Both
        );
        assert_eq!(
            cfg.profiles[&ProfileName("device".into())].windows_sid,
            WindowsSidMapping::Off
        );
        let e = Config::parse("[profiles.device]\nwindows_sid = \"on\"\n").unwrap_err();
        assert!(e.to_string().contains("extension"), "{e}");
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
