//! `[limits]`: what keeps one client from exhausting the server.

use serde::Deserialize;

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
    // Longer than the 30-second polls of SCEP clients that reuse their connection (micromdm's
    // scepclient), like nginx's keepalive_timeout.
    75
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
