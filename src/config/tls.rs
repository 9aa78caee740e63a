//! `[tls]`: the HTTPS listener's certificate.

use std::path::PathBuf;

use serde::Deserialize;

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
