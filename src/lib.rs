//! enrolld: a certificate authority for client certificates (devices and people), driven by
//! EST (RFC 7030), SCEP (RFC 8894), ACME (RFC 8555) and an admin REST API.
//!
//! Module map (see docs/architecture.md):
//! - [`config`]: typed configuration, validated once at start.
//! - [`error`]: the one internal error type; no HTTP in it.
//! - [`clock`]: the injectable clock every time-dependent rule reads.
//! - [`ids`]: newtypes for identifiers.
//! - [`states`]: the status enums of orders, authorizations, challenges, accounts, subjects and
//!   approvals.
//! - [`revocation`]: RFC 5280 revocation reasons and the subset each channel accepts.
//! - [`ca`]: the issuance engine — CA keys, CSR policy, profiles, serials, signing.
//! - [`est`]: RFC 7030 operations on typed values (no HTTP).
//! - [`scep`]: RFC 8894 operations on typed values (CMS messages, the RA, CertRep).
//! - [`acme`]: RFC 8555 operations on typed values (JWS, nonces, EAB, orders, challenges).
//! - [`registry`]: people and devices, enrolment credentials, pickup links, approvals, admin
//!   tokens, the registry service behind the admin API.
//! - [`secrets`]: the server's HMAC key, keyed hashes of secrets, random tokens and ids,
//!   secret files written 0600.
//! - [`status`]: CRLs and the OCSP responder.
//! - [`backup`]: consistent backups and restore.
//! - [`admin`]: admin API operations on typed values.
//! - [`audit`]: signed checkpoints of the audit log, and its verification.
//! - [`store`]: the storage trait and its sled implementation, with a group committer for
//!   certificate writes.
//! - [`metrics`]: the shared counters behind `GET /metrics` (Prometheus text format) and the
//!   console's dashboard.
//! - [`gauges`]: the store's figures for the metrics (certificates by status and expiry, store
//!   size, pending approvals, CRL age), counted at most once a minute.
//! - [`console`]: the web console without HTTP — sessions, CSRF, the Japanese and English
//!   catalogues, the pages, and the dashboard's SVG charts drawn on the server.
//! - [`http`]: the only axum code — routes, error mapping, TLS listener.
//! - [`server`]: first-start initialisation and `run`.
//! - [`notify`]: signed webhooks from the audit log and upcoming expiries.
//! - [`cli`]: `enrolld admin`, a command-line client of the admin API.
//!
//! Protocol modules do no network I/O of their own; `http` and `server` do.
#![forbid(unsafe_code)]

pub mod acme;
pub mod admin;
pub mod audit;
pub mod backup;
pub mod ca;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod error;
pub mod est;
pub mod gauges;
pub mod http;
pub mod ids;
pub mod mail;
pub mod metrics;
pub mod notify;
pub mod registry;
pub mod revocation;
pub mod scep;
pub mod secrets;
pub mod server;
pub mod states;
pub mod status;
pub mod store;
