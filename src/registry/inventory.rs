//! The certificate inventory of the admin API: filtered, paginated listing and bulk
//! revocation by the same filters.

use serde::Deserialize;
use serde_json::{json, Value};

use super::service::Registry;
use crate::admin::CertificateView;
use crate::error::{Error, Result};
use crate::ids::{Serial, SubjectId};
use crate::revocation::RevocationReason;
use crate::states::CertState;

/// Filters of the certificate inventory and bulk revocation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertQuery {
    /// Subject id.
    #[serde(default)]
    pub subject_id: Option<String>,
    /// Subject CN (case-insensitive).
    #[serde(default)]
    pub subject: Option<String>,
    /// `good` or `revoked`.
    #[serde(default)]
    pub status: Option<String>,
    /// Profile name.
    #[serde(default)]
    pub profile: Option<String>,
    /// Channel (`est-simpleenroll`, `acme`, …).
    #[serde(default)]
    pub channel: Option<String>,
    /// Expiring before this RFC 3339 time.
    #[serde(default)]
    pub expiring_before: Option<String>,
    /// Department of the subject.
    #[serde(default)]
    pub department: Option<String>,
    /// Page size (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Serial after which the page starts (from the previous page's `next`).
    #[serde(default)]
    pub after: Option<String>,
}

impl Registry {
    /// The certificate inventory, filtered and paginated by serial.
    pub fn inventory(&self, q: &CertQuery) -> Result<Value> {
        let limit = q.limit.unwrap_or(100).clamp(1, 1000);
        let (items, next) = self.query(q, limit)?;
        Ok(json!({"certificates": items, "next": next}))
    }

    /// One page of the certificate inventory as typed views and the serial the next page
    /// starts after: the query of [`Registry::inventory`], for the console.
    pub fn inventory_page(
        &self,
        q: &CertQuery,
        limit: usize,
    ) -> Result<(Vec<CertificateView>, Option<String>)> {
        self.query(q, limit.clamp(1, 1000))
    }

    fn query(&self, q: &CertQuery, limit: usize) -> Result<(Vec<CertificateView>, Option<String>)> {
        let before = match &q.expiring_before {
            Some(t) => Some(
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| Error::Malformed("expiring_before must be RFC 3339".into()))?
                    .unix_timestamp(),
            ),
            None => None,
        };
        let after = q.after.as_deref().map(Serial::parse_hex).transpose()?;
        let dept_subjects: Option<Vec<SubjectId>> = match &q.department {
            Some(d) => Some(
                self.list(None, None, Some(d), usize::MAX)?
                    .into_iter()
                    .map(|s| s.id)
                    .collect(),
            ),
            None => None,
        };
        let sid = q.subject_id.as_deref().map(SubjectId::parse).transpose()?;
        // An unknown status matches no certificate.
        let want_state = q.status.as_deref().map(CertState::from_name);
        let mut out = Vec::new();
        let mut next = None;
        self.store.scan_certificates(after.as_ref(), &mut |r| {
            if after.as_ref().is_some_and(|a| &r.serial <= a) {
                return true;
            }
            let ok = want_state.is_none_or(|s| s == Some(r.status.state()))
                && q.profile.as_deref().is_none_or(|p| r.profile.0 == p)
                && q.channel.as_deref().is_none_or(|c| r.channel == c)
                && q.subject
                    .as_deref()
                    .is_none_or(|s| r.subject.eq_ignore_ascii_case(s))
                && before.is_none_or(|b| r.not_after < b)
                && sid
                    .as_ref()
                    .is_none_or(|s| r.subject_id.as_ref() == Some(s))
                && dept_subjects
                    .as_ref()
                    .is_none_or(|ids| r.subject_id.as_ref().is_some_and(|s| ids.contains(s)));
            if ok {
                if out.len() == limit {
                    next = out.last().map(|v: &CertificateView| v.serial.clone());
                    return false;
                }
                out.push(CertificateView::from(r));
            }
            true
        })?;
        Ok((out, next))
    }

    /// Revokes every certificate matching the query (at most 100,000).
    pub fn bulk_revoke(
        &self,
        actor: &str,
        q: &CertQuery,
        reason: RevocationReason,
    ) -> Result<Value> {
        if q.subject_id.is_none()
            && q.subject.is_none()
            && q.status.is_none()
            && q.profile.is_none()
            && q.channel.is_none()
            && q.expiring_before.is_none()
            && q.department.is_none()
        {
            return Err(Error::Malformed(
                "a bulk revocation needs at least one filter".into(),
            ));
        }
        let (items, _) = self.query(q, 100_000)?;
        let mut revoked = 0;
        for c in &items {
            let serial = Serial::parse_hex(&c.serial)?;
            if self
                .store
                .revoke_certificate(&serial, self.clock.now(), reason)?
            {
                revoked += 1;
            }
        }
        self.audit(
            actor,
            "certificate.bulk_revoke",
            "-",
            "ok",
            &format!("{revoked} revoked ({reason})"),
        )?;
        Ok(json!({"matched": items.len(), "revoked": revoked}))
    }
}
