//! The one internal error type.
//!
//! Protocol and storage code return [`Error`]; its variants say what went wrong, not what to
//! send. Only `src/http` turns it into what goes on the wire (RFC 7030 status + text for EST,
//! RFC 8555 problem documents for ACME, RFC 7807 problem documents for the admin API), from
//! the one classification table in `src/http/errors.rs`. The messages of client-facing
//! variants are written for the client; [`Error::Internal`] keeps its detail for the log and is
//! rendered as a bare "internal error".

use std::fmt;

/// Everything that can go wrong while serving a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request cannot be understood: bad base64, bad JSON, a missing or invalid field.
    Malformed(String),
    /// The CSR is unparsable, badly signed or violates the profile's policy.
    BadCsr(String),
    /// No credentials, or credentials that do not authenticate.
    Unauthenticated(String),
    /// Authenticated, but not allowed to do this (spent credential, wrong label, revoked
    /// certificate, missing scope).
    NotPermitted(String),
    /// The named resource does not exist.
    NotFound(String),
    /// The request body (or a batch in it) is larger than the operation allows.
    TooLarge(String),
    /// The request target or a header field is longer than the server accepts.
    HeadTooLarge(String),
    /// The resource exists but does not offer this operation (method).
    UnsupportedMethod(String),
    /// The request's content type is not one the operation accepts.
    UnsupportedMediaType(String),
    /// The operation is defined by the protocol but not offered here (EST fullcmc).
    NotOffered(String),
    /// The resource is not in a state that allows the operation, or a concurrent update won;
    /// the request may be retried.
    Conflict(String),
    /// RFC 8555 §7.3.6: the ACME account that signed the request is deactivated.
    AccountDeactivated(String),
    /// An RFC 8555 §6.7 problem with no EST or admin equivalent (badNonce, rejectedIdentifier…).
    Acme(Box<AcmeError>),
    /// Too many requests; retry after this many seconds.
    RateLimited(String, u64),
    /// A server-side failure; the string is for the log only, never for the client.
    Internal(String),
}

/// RFC 8555 §6.7 error types (and draft-ietf-acme-profiles' invalidProfile), in the RFC's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcmeProblem {
    /// The request specified an account that does not exist.
    AccountDoesNotExist,
    /// The request specified a certificate to be revoked that has already been revoked.
    AlreadyRevoked,
    /// The CSR is unacceptable.
    BadCsr,
    /// The client sent an unacceptable anti-replay nonce.
    BadNonce,
    /// The JWS was signed by a public key the server does not support.
    BadPublicKey,
    /// The revocation reason provided is not allowed by the server.
    BadRevocationReason,
    /// The JWS was signed with an algorithm the server does not support.
    BadSignatureAlgorithm,
    /// The server could not connect to a validation target.
    Connection,
    /// There was a problem with a DNS query during identifier validation.
    Dns,
    /// The request must include a value for the externalAccountBinding field.
    ExternalAccountRequired,
    /// Response received didn't match the challenge's requirements.
    IncorrectResponse,
    /// The request message was malformed.
    Malformed,
    /// The request attempted to finalize an order that is not ready.
    OrderNotReady,
    /// The request exceeds a rate limit.
    RateLimited,
    /// The server will not issue certificates for the identifier.
    RejectedIdentifier,
    /// The server received a TLS error during validation.
    Tls,
    /// The client lacks sufficient authorization.
    Unauthorized,
    /// An identifier is of an unsupported type.
    UnsupportedIdentifier,
    /// draft-ietf-acme-profiles: the requested profile is not offered.
    InvalidProfile,
}

impl AcmeProblem {
    /// The error type's last URN segment.
    pub fn name(self) -> &'static str {
        match self {
            AcmeProblem::AccountDoesNotExist => "accountDoesNotExist",
            AcmeProblem::AlreadyRevoked => "alreadyRevoked",
            AcmeProblem::BadCsr => "badCSR",
            AcmeProblem::BadNonce => "badNonce",
            AcmeProblem::BadPublicKey => "badPublicKey",
            AcmeProblem::BadRevocationReason => "badRevocationReason",
            AcmeProblem::BadSignatureAlgorithm => "badSignatureAlgorithm",
            AcmeProblem::Connection => "connection",
            AcmeProblem::Dns => "dns",
            AcmeProblem::ExternalAccountRequired => "externalAccountRequired",
            AcmeProblem::IncorrectResponse => "incorrectResponse",
            AcmeProblem::Malformed => "malformed",
            AcmeProblem::OrderNotReady => "orderNotReady",
            AcmeProblem::RateLimited => "rateLimited",
            AcmeProblem::RejectedIdentifier => "rejectedIdentifier",
            AcmeProblem::Tls => "tls",
            AcmeProblem::Unauthorized => "unauthorized",
            AcmeProblem::UnsupportedIdentifier => "unsupportedIdentifier",
            AcmeProblem::InvalidProfile => "invalidProfile",
        }
    }
}

/// An ACME problem with its detail and, where they apply, per-identifier subproblems
/// (RFC 8555 §6.7.1).
#[derive(Debug, Clone)]
pub struct AcmeError {
    /// The problem type.
    pub kind: AcmeProblem,
    /// Human-readable detail for the client.
    pub detail: String,
    /// Subproblems: (type, identifier type, identifier value, detail).
    pub subproblems: Vec<(AcmeProblem, String, String, String)>,
}

impl Error {
    /// An ACME problem without subproblems.
    pub fn acme(kind: AcmeProblem, detail: impl Into<String>) -> Self {
        Error::Acme(Box::new(AcmeError {
            kind,
            detail: detail.into(),
            subproblems: Vec::new(),
        }))
    }
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
            Error::Malformed(m)
            | Error::BadCsr(m)
            | Error::Unauthenticated(m)
            | Error::NotPermitted(m)
            | Error::NotFound(m)
            | Error::TooLarge(m)
            | Error::HeadTooLarge(m)
            | Error::UnsupportedMethod(m)
            | Error::UnsupportedMediaType(m)
            | Error::NotOffered(m)
            | Error::Conflict(m)
            | Error::AccountDeactivated(m)
            | Error::RateLimited(m, _) => m,
            Error::Acme(a) => &a.detail,
            Error::Internal(_) => "internal error",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Internal(m) => write!(f, "internal error: {m}"),
            other => f.write_str(other.public_message()),
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
