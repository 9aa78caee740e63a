//! `[status]`: the revocation status service (CRL, OCSP).

use serde::Deserialize;

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

fn default_crl_validity() -> u64 {
    24 * 3600
}
fn default_ocsp_validity() -> u64 {
    24 * 3600
}
fn default_ocsp_per_ip() -> u32 {
    200
}
