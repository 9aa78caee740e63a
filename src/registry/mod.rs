//! Enrolment credentials and admin tokens: what the HR and IT systems hand out.
//!
//! Secrets are random (≥ 128 bits), shown once, and stored only as HMAC-SHA256 under a server
//! key (a keyed hash: a stolen store alone does not allow offline guessing, and a memory-hard
//! hash would add nothing on random secrets while capping enrolment throughput).

pub mod admin_credentials;
pub mod apple_profile;
pub mod approvals;
pub mod bulk;
pub mod credentials;
pub mod inventory;
pub mod pickup;
pub mod pickup_mail;
pub mod profile_signing;
pub mod service;
pub mod subjects;
pub mod tokens;
