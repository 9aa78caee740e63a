//! Challenge validation (http-01, dns-01, tls-alpn-01) and the DNS client it resolves through.

pub mod dns;
pub mod validate;

pub use validate::Validator;
