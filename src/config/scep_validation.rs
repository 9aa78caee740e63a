//! How a SCEP profile checks the challenge password of a request: against enrolld's own
//! registry (one-time credentials), a challenge validation webhook, or Microsoft Intune's SCEP
//! validation service. The validators themselves are in `src/scep/validation/`; this file holds
//! their settings and the checks that can be made without reading a file.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;

/// Which authority decides whether a SCEP request's challenge is good, and whose certificate
/// it becomes. Written as a table with a `kind` key, e.g.
/// `challenge_validation = { kind = "webhook", url = "https://…", secret_file = "…" }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "Tagged")]
pub enum ChallengeValidation {
    /// The challenge is an enrolld one-time credential of a registered subject
    /// (`POST /api/v1/subjects/{id}/credentials {"kind":"scep"}`); the registry names the
    /// subject.
    #[default]
    Registry,
    /// enrolld POSTs the request (challenge, CSR, transaction id) to a receiver, signed with
    /// HMAC-SHA256, and issues only when the answer allows it (the shape of step-ca's SCEP
    /// challenge webhook).
    Webhook {
        /// Receiver URL: `https://`, or `http://` to a loopback address only.
        url: String,
        /// File holding the HMAC key (at least 16 bytes; a trailing newline is not part of
        /// the key; owner-readable only).
        secret_file: PathBuf,
        /// PEM CA certificates trusted for the receiver; the system's bundle otherwise.
        ca_file: Option<PathBuf>,
        /// Seconds the receiver may take to answer, connection included (default 10).
        timeout_secs: u64,
    },
    /// Intune connector mode: the challenge was made by Microsoft Intune, which validates the
    /// request before issuance and is told of the outcome after, as Microsoft's published
    /// SCEP validation library does.
    Intune {
        /// The Entra tenant: its id (a GUID) or a verified domain (`contoso.onmicrosoft.com`).
        tenant: String,
        /// Application (client) id of the app registration enrolld signs in as.
        client_id: String,
        /// File holding the app registration's client secret (owner-readable only).
        client_secret_file: PathBuf,
        /// PEM CA certificates trusted for the Microsoft endpoints; the system's bundle
        /// otherwise.
        ca_file: Option<PathBuf>,
        /// Microsoft Entra's sign-in endpoint (default `https://login.microsoftonline.com`;
        /// another cloud's, or a test stand-in's).
        login_url: String,
        /// Microsoft Graph, where the Intune service endpoints are discovered (default
        /// `https://graph.microsoft.com`).
        graph_url: String,
        /// Seconds each call to Microsoft may take, connection included (default 30).
        timeout_secs: u64,
    },
}

/// [`ChallengeValidation`] as the file writes it (fields and defaults as documented there):
/// serde applies `deny_unknown_fields` to struct variants only, so `Registry` is an empty
/// struct here and a unit variant outside.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
enum Tagged {
    Registry {},
    Webhook {
        url: String,
        secret_file: PathBuf,
        #[serde(default)]
        ca_file: Option<PathBuf>,
        #[serde(default = "default_webhook_timeout")]
        timeout_secs: u64,
    },
    Intune {
        tenant: String,
        client_id: String,
        client_secret_file: PathBuf,
        #[serde(default)]
        ca_file: Option<PathBuf>,
        #[serde(default = "default_login_url")]
        login_url: String,
        #[serde(default = "default_graph_url")]
        graph_url: String,
        #[serde(default = "default_intune_timeout")]
        timeout_secs: u64,
    },
}

impl From<Tagged> for ChallengeValidation {
    fn from(t: Tagged) -> Self {
        match t {
            Tagged::Registry {} => ChallengeValidation::Registry,
            Tagged::Webhook {
                url,
                secret_file,
                ca_file,
                timeout_secs,
            } => ChallengeValidation::Webhook {
                url,
                secret_file,
                ca_file,
                timeout_secs,
            },
            Tagged::Intune {
                tenant,
                client_id,
                client_secret_file,
                ca_file,
                login_url,
                graph_url,
                timeout_secs,
            } => ChallengeValidation::Intune {
                tenant,
                client_id,
                client_secret_file,
                ca_file,
                login_url,
                graph_url,
                timeout_secs,
            },
        }
    }
}

/// Longest timeout accepted: a SCEP client is waiting for the answer.
const MAX_TIMEOUT_SECS: u64 = 120;

impl ChallengeValidation {
    /// Checks the settings on their own (the secret and CA files are read when the validator
    /// is built, by `scep::validation::Validator::from_config`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            ChallengeValidation::Registry => Ok(()),
            ChallengeValidation::Webhook {
                url, timeout_secs, ..
            } => {
                check_url("webhook url", url)?;
                check_timeout(*timeout_secs)
            }
            ChallengeValidation::Intune {
                tenant,
                client_id,
                login_url,
                graph_url,
                timeout_secs,
                ..
            } => {
                if tenant.is_empty()
                    || tenant.len() > 253
                    || !tenant
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                {
                    return Err(invalid(
                        "intune tenant must be a tenant id or a domain such as contoso.onmicrosoft.com",
                    ));
                }
                if client_id.is_empty()
                    || client_id.len() > 128
                    || !client_id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(invalid(
                        "intune client_id must be the app registration's application id",
                    ));
                }
                check_url("intune login_url", login_url)?;
                check_url("intune graph_url", graph_url)?;
                check_timeout(*timeout_secs)
            }
        }
    }
}

fn invalid(m: &str) -> ConfigError {
    ConfigError::Invalid(format!("scep challenge validation: {m}"))
}

fn check_timeout(secs: u64) -> Result<(), ConfigError> {
    if secs == 0 || secs > MAX_TIMEOUT_SECS {
        return Err(invalid(&format!(
            "timeout_secs must be 1 to {MAX_TIMEOUT_SECS}"
        )));
    }
    Ok(())
}

/// A URL a validator may call: `https://`, or `http://` to a loopback address (a receiver on
/// the same host, or a test stand-in). The challenge and the CSR travel in the body, so
/// anything else would send them across a network unencrypted.
pub fn check_url(what: &str, url: &str) -> Result<(), ConfigError> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|_| invalid(&format!("{what} {url:?} is not a URL")))?;
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid(&format!("{what} {url:?} names no host")))?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if is_loopback(host) => Ok(()),
        Some("http") => Err(invalid(&format!(
            "{what} must be https:// (http:// only to a loopback address)"
        ))),
        _ => Err(invalid(&format!("{what} must start with https://"))),
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// Reads a secret file: its contents without a trailing newline, so that a key written with
/// `openssl rand -hex 32` and a receiver's copy of the same text agree. A file that other
/// users can read, or an empty one, is refused.
pub fn read_secret_file(what: &str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    let mut raw = std::fs::read(path)
        .map_err(|e| invalid(&format!("{what} {}: cannot read it: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| invalid(&format!("{what} {}: {e}", path.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(invalid(&format!(
                "{what} {} is readable by other users; chmod 600 it",
                path.display()
            )));
        }
    }
    while raw.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        raw.pop();
    }
    if raw.is_empty() {
        return Err(invalid(&format!("{what} {} is empty", path.display())));
    }
    Ok(raw)
}

fn default_webhook_timeout() -> u64 {
    10
}
fn default_intune_timeout() -> u64 {
    30
}
fn default_login_url() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_graph_url() -> String {
    "https://graph.microsoft.com".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings as an operator writes them, in a table of their own.
    fn parse(toml_text: &str) -> Result<ChallengeValidation, String> {
        #[derive(Deserialize)]
        struct Wrap {
            v: ChallengeValidation,
        }
        toml::from_str::<Wrap>(toml_text)
            .map(|w| w.v)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn registry_is_the_default_and_needs_nothing() {
        assert_eq!(
            ChallengeValidation::default(),
            ChallengeValidation::Registry
        );
        let v = parse("[v]\nkind = \"registry\"\n").unwrap();
        assert_eq!(v, ChallengeValidation::Registry);
        assert!(v.validate().is_ok());
    }

    #[test]
    fn webhook_and_intune_take_their_defaults() {
        let v = parse(
            "[v]\nkind = \"webhook\"\nurl = \"https://hooks.example/scep\"\nsecret_file = \"/s\"\n",
        )
        .unwrap();
        assert_eq!(
            v,
            ChallengeValidation::Webhook {
                url: "https://hooks.example/scep".into(),
                secret_file: "/s".into(),
                ca_file: None,
                timeout_secs: 10,
            }
        );
        assert!(v.validate().is_ok());
        let v = parse("[v]\nkind = \"intune\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"0f1e2d3c-aaaa-bbbb-cccc-0123456789ab\"\nclient_secret_file = \"/s\"\n")
            .unwrap();
        let ChallengeValidation::Intune {
            login_url,
            graph_url,
            timeout_secs,
            ..
        } = &v
        else {
            panic!("{v:?}");
        };
        assert_eq!(login_url, "https://login.microsoftonline.com");
        assert_eq!(graph_url, "https://graph.microsoft.com");
        assert_eq!(*timeout_secs, 30);
        assert!(v.validate().is_ok());
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused() {
        assert!(parse("[v]\nkind = \"ldap\"\n").is_err());
        let e = parse("[v]\nkind = \"webhook\"\nurl = \"https://x\"\nsecret_file = \"/s\"\nsecret = \"inline\"\n")
            .unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
        let e = parse("[v]\nkind = \"registry\"\nurl = \"https://x\"\n").unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
        assert!(parse("[v]\nkind = \"webhook\"\nurl = \"https://x\"\n").is_err());
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        for ok in [
            "https://hooks.example/scep",
            "http://127.0.0.1:9000/x",
            "http://[::1]:9000/x",
            "http://localhost/x",
        ] {
            assert!(check_url("url", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.example/scep",
            "http://10.0.0.1/x",
            "ftp://hooks.example/",
            "hooks.example/scep",
            "https:///x",
        ] {
            let e = check_url("url", bad).unwrap_err();
            assert!(matches!(e, ConfigError::Invalid(_)), "{bad}: {e:?}");
        }
        let v = ChallengeValidation::Intune {
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "abc".into(),
            client_secret_file: "/s".into(),
            ca_file: None,
            login_url: "http://login.example".into(),
            graph_url: default_graph_url(),
            timeout_secs: 30,
        };
        assert!(v.validate().unwrap_err().to_string().contains("login_url"));
    }

    #[test]
    fn bad_tenant_client_id_and_timeout_are_refused() {
        let intune = |tenant: &str, client_id: &str, timeout_secs| ChallengeValidation::Intune {
            tenant: tenant.into(),
            client_id: client_id.into(),
            client_secret_file: "/s".into(),
            ca_file: None,
            login_url: default_login_url(),
            graph_url: default_graph_url(),
            timeout_secs,
        };
        assert!(intune("contoso.onmicrosoft.com", "abc-1", 30)
            .validate()
            .is_ok());
        assert!(intune("contoso/../x", "abc", 30).validate().is_err());
        assert!(intune("", "abc", 30).validate().is_err());
        assert!(intune("t", "a b", 30).validate().is_err());
        assert!(intune("t", "abc", 0).validate().is_err());
        assert!(intune("t", "abc", 121).validate().is_err());
    }

    #[cfg(unix)]
    #[test]
    fn secret_files_must_be_private_and_not_empty() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        std::fs::write(&p, "0123456789abcdef\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_secret_file("s", &p).unwrap(), b"0123456789abcdef");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = read_secret_file("s", &p).unwrap_err().to_string();
        assert!(e.contains("readable by other users"), "{e}");
        std::fs::write(&p, "\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_secret_file("s", &p)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(read_secret_file("s", &dir.path().join("none")).is_err());
    }
}
