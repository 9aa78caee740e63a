//! The one internal error type.
//!
//! Protocol and storage code return [`Error`]; only `src/http` turns it into what goes on the
//! wire (RFC 7030 status + text for EST, RFC 7807 problem documents for the admin API). The
//! messages of client-facing variants are written for the client; [`Error::Internal`] keeps its
//! detail for the log and is rendered as a bare "internal error".

use std::fmt;

/// Everything that can go wrong while serving a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed (bad base64, bad JSON, missing field). RFC 7030 §4.2.3: 400.
    BadRequest(String),
    /// The CSR is unparsable, badly signed or violates the profile's policy.
    BadCsr(String),
    /// No credentials, or credentials that do not authenticate. RFC 7030 §3.2.3: 401.
    Unauthorized(String),
    /// Authenticated, but not allowed to do this (spent credential, wrong label, revoked cert).
    Forbidden(String),
    /// The named resource does not exist.
    NotFound(String),
    /// The request body is larger than the endpoint allows.
    PayloadTooLarge(String),
    /// The request's Content-Type is not one the endpoint accepts.
    UnsupportedMediaType(String),
    /// The operation is defined by the RFC but not offered (EST fullcmc).
    NotImplemented(String),
    /// A concurrent update won; the request may be retried.
    Conflict(String),
    /// A server-side failure; the string is for the log only, never for the client.
    Internal(String),
}

/// Shorthand used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An internal error from anything displayable (storage, crypto library, I/O).
    pub fn internal(e: impl fmt::Display) -> Self {
        Error::Internal(e.to_string())
    }

    /// The message a client may see. Internal details are withheld.
    pub fn public_message(&self) -> &str {
        match self {
            Error::BadRequest(m)
            | Error::BadCsr(m)
            | Error::Unauthorized(m)
            | Error::Forbidden(m)
            | Error::NotFound(m)
            | Error::PayloadTooLarge(m)
            | Error::UnsupportedMediaType(m)
            | Error::NotImplemented(m)
            | Error::Conflict(m) => m,
            Error::Internal(_) => "internal error",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Internal(m) => write!(f, "internal error: {m}"),
            other => write!(f, "{:?}", other),
        }
    }
}

impl std::error::Error for Error {}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Internal(format!("store: {e}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Internal(format!("io: {e}"))
    }
}

impl From<rcgen::Error> for Error {
    fn from(e: rcgen::Error) -> Self {
        Error::Internal(format!("rcgen: {e}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}
