//! JSON views of ACME objects (RFC 8555 §7.1).

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Acme;
use crate::error::AcmeProblem;
use crate::store::{AccountRecord, AuthzRecord, ChallengeRecord, OrderRecord};

/// RFC 3339 time.
pub fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The problem document kept in a resource that became invalid: an order's `error`
/// (RFC 8555 §7.1.3) or a challenge's `error` (§7.1.5, §8). It is part of the stored record
/// and shown in later GETs of the resource, not an answer to the current request, so it is
/// built here rather than by the HTTP layer, which renders every problem a request is
/// answered with. Its `status` is 400 for every stored problem, as records already hold.
pub fn stored_problem(kind: AcmeProblem, detail: &str) -> Value {
    json!({"type": format!("urn:ietf:params:acme:error:{}", kind.name()), "detail": detail, "status": 400})
}

impl Acme {
    /// RFC 8555 §7.1.2.
    pub fn account_json(&self, a: &AccountRecord) -> Value {
        let mut v = json!({
            "status": a.status,
            "contact": a.contact,
            "orders": self.url(&format!("/acme/account/{}/orders", a.id)),
            "termsOfServiceAgreed": a.tos_agreed,
        });
        if let Some(kid) = &a.eab_kid {
            v["externalAccountBinding"] = json!({"kid": kid.as_str()});
        }
        v
    }

    /// RFC 8555 §7.1.3.
    pub fn order_json(&self, o: &OrderRecord) -> Value {
        let mut v = json!({
            "status": o.status,
            "expires": rfc3339(o.expires),
            "identifiers": o.identifiers,
            "authorizations": o.authorizations.iter().map(|a| self.url(&format!("/acme/authz/{a}"))).collect::<Vec<_>>(),
            "finalize": self.url(&format!("/acme/order/{}/finalize", o.id)),
            "profile": o.profile.0,
        });
        if let Some(nb) = o.not_before {
            v["notBefore"] = json!(rfc3339(nb));
        }
        if let Some(na) = o.not_after {
            v["notAfter"] = json!(rfc3339(na));
        }
        if let Some(e) = &o.error {
            v["error"] = e.clone();
        }
        if let Some(c) = &o.certificate {
            v["certificate"] = json!(self.url(&format!("/acme/cert/{c}")));
        }
        if let Some(r) = &o.replaces {
            if let Ok(id) = self.cert_id(r) {
                v["replaces"] = json!(id);
            }
        }
        v
    }

    /// RFC 8555 §7.1.4.
    pub fn authz_json(&self, a: &AuthzRecord) -> Value {
        json!({
            "status": a.status,
            "expires": rfc3339(a.expires),
            "identifier": a.identifier,
            "challenges": a.challenges.iter().enumerate().map(|(i, c)| self.challenge_json(a, i, c)).collect::<Vec<_>>(),
        })
    }

    /// RFC 8555 §7.1.5.
    pub fn challenge_json(&self, a: &AuthzRecord, idx: usize, c: &ChallengeRecord) -> Value {
        let mut v = json!({
            "type": c.kind,
            "url": self.url(&format!("/acme/chall/{}/{idx}", a.id)),
            "status": c.status,
            "token": c.token,
        });
        if let Some(t) = c.validated {
            v["validated"] = json!(rfc3339(t));
        }
        if let Some(e) = &c.error {
            v["error"] = e.clone();
        }
        v
    }
}
