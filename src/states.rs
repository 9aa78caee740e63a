//! The states of the objects enrolld keeps, and the RFC 5280 revocation reasons: one enum per
//! state machine, so that a state is matched, never compared as a string.
//!
//! Each state is written and read as the same string it always was (`#[serde(rename)]` on
//! every variant), in storage records and in the JSON of the ACME and admin APIs, so existing
//! data opens unchanged. The enums are exhaustive on purpose: a new state must show up at every
//! `match` that decides on one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Defines a state enum whose variants are named by fixed strings, with `as_str` and
/// `from_name` over those strings and a `Display` that writes them.
macro_rules! named_states {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every state, in the order the definition lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name it is stored and shown under.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// The state named `name`; `None` for any other string.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_states! {
    /// RFC 8555 §7.1.3 / §7.1.6: the status of an order, in the RFC's order.
    pub enum OrderStatus {
        /// Some authorization is not valid yet.
        Pending = "pending",
        /// Every authorization is valid: the order may be finalized.
        Ready = "ready",
        /// Finalize was accepted and the certificate is being issued.
        Processing = "processing",
        /// The certificate was issued.
        Valid = "valid",
        /// An authorization failed, or the order expired before it was finalized.
        Invalid = "invalid",
    }
}

named_states! {
    /// RFC 8555 §7.1.4 / §7.1.6: the status of an authorization, in the RFC's order.
    pub enum AuthzStatus {
        /// Waiting for a challenge to be validated.
        Pending = "pending",
        /// Control of the identifier was proved (or it was pre-authorised).
        Valid = "valid",
        /// A challenge failed.
        Invalid = "invalid",
        /// Deactivated by the client or with its account.
        Deactivated = "deactivated",
        /// Its lifetime ran out while it was pending.
        Expired = "expired",
        /// Revoked by the server.
        Revoked = "revoked",
    }
}

named_states! {
    /// RFC 8555 §7.1.5 / §7.1.6: the status of a challenge, in the RFC's order.
    pub enum ChallengeStatus {
        /// Not yet asked to be validated.
        Pending = "pending",
        /// The client asked; validation is under way.
        Processing = "processing",
        /// Validation succeeded.
        Valid = "valid",
        /// Validation failed.
        Invalid = "invalid",
    }
}

named_states! {
    /// RFC 8555 §7.1.2 / §7.1.6: the status of an ACME account, in the RFC's order.
    pub enum AccountStatus {
        /// In use.
        Valid = "valid",
        /// Deactivated by its client, or with its EAB key or subject.
        Deactivated = "deactivated",
        /// Revoked by the server.
        Revoked = "revoked",
    }
}

named_states! {
    /// The status of a registered person or device (the admin API's `PATCH /subjects/{id}`).
    pub enum SubjectStatus {
        /// May enrol.
        Active = "active",
        /// Enrols nothing and its certificates are on hold until it is active again.
        Suspended = "suspended",
        /// Gone for good: certificates revoked, credentials and EAB keys withdrawn.
        Offboarded = "offboarded",
    }
}

named_states! {
    /// The status of an enrolment waiting for an administrator (RFC 7030 §4.2.3).
    pub enum ApprovalStatus {
        /// Not decided yet: the client is told to retry later.
        Pending = "pending",
        /// Approved: the client's retry gets the certificate.
        Approved = "approved",
        /// Rejected: the client's retry is refused.
        Rejected = "rejected",
    }
}

named_states! {
    /// Whether a certificate is good or revoked: the `status` the admin API shows and filters
    /// on (held in storage by `CertStatus`, with the revocation's date and reason).
    pub enum CertState {
        /// Issued and not revoked.
        Good = "good",
        /// Revoked, for good or on hold.
        Revoked = "revoked",
    }
}

named_states! {
    /// Where a mail in the outbox stands (`src/mail/`).
    pub enum MailStatus {
        /// Waiting to be sent, or to be tried again after a temporary failure.
        Queued = "queued",
        /// The relay accepted it.
        Sent = "sent",
        /// Given up: the relay refused it for good (5xx) or it failed too long.
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each state serialises to its name and back, so the JSON the ACME and admin APIs show and
    /// the records already stored keep their strings.
    fn round_trips<T>(all: &[T], as_str: fn(T) -> &'static str, from: fn(&str) -> Option<T>)
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + Serialize + for<'a> Deserialize<'a>,
    {
        for &s in all {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", as_str(s)));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), s);
            assert_eq!(s.to_string(), as_str(s));
            assert_eq!(from(as_str(s)), Some(s));
        }
        assert_eq!(from("Valid"), None);
        assert!(serde_json::from_str::<T>("\"unknown\"").is_err());
    }

    #[test]
    fn every_state_keeps_its_string() {
        round_trips(
            OrderStatus::ALL,
            OrderStatus::as_str,
            OrderStatus::from_name,
        );
        round_trips(
            AuthzStatus::ALL,
            AuthzStatus::as_str,
            AuthzStatus::from_name,
        );
        round_trips(
            ChallengeStatus::ALL,
            ChallengeStatus::as_str,
            ChallengeStatus::from_name,
        );
        round_trips(
            AccountStatus::ALL,
            AccountStatus::as_str,
            AccountStatus::from_name,
        );
        round_trips(
            SubjectStatus::ALL,
            SubjectStatus::as_str,
            SubjectStatus::from_name,
        );
        round_trips(
            ApprovalStatus::ALL,
            ApprovalStatus::as_str,
            ApprovalStatus::from_name,
        );
        round_trips(CertState::ALL, CertState::as_str, CertState::from_name);
        round_trips(MailStatus::ALL, MailStatus::as_str, MailStatus::from_name);
    }

    #[test]
    fn names_are_the_rfc_8555_ones() {
        let names: Vec<_> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            ["pending", "ready", "processing", "valid", "invalid"]
        );
        let names: Vec<_> = AuthzStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "pending",
                "valid",
                "invalid",
                "deactivated",
                "expired",
                "revoked"
            ]
        );
        let names: Vec<_> = ChallengeStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["pending", "processing", "valid", "invalid"]);
        let names: Vec<_> = AccountStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["valid", "deactivated", "revoked"]);
    }
}
