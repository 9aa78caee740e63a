//! RFC 7030 §4.2.3 manual approval: the pending approval of an enrolment, keyed on the
//! (credential, CSR fingerprint) pair, and the administrator's decision on it.
//!
//! EST asks [`gate`] before it issues for a profile or label that requires approval and turns
//! the answer into its own outcome (`Enrolment::Pending`, a refusal, or issuance); the admin
//! API lists and decides approvals through the [`Registry`] methods here.

use super::service::Registry;
use crate::ca::key_type::KeyType;
use crate::ca::profile::SanName;
use crate::error::{Error, Result};
use crate::ids::{CredentialId, ProfileName, SubjectId};
use crate::states::ApprovalStatus;
use crate::store::{ApprovalRecord, Store};

/// What an enrolment that needs approval asks the gate about.
pub struct ApprovalRequest<'a> {
    /// The enrolment credential the request spends (approvals are keyed on it).
    pub credential: &'a CredentialId,
    /// The fingerprint of the CSR the client sends (and will resend on every retry).
    pub csr_fingerprint: &'a str,
    /// The commonName the certificate would carry, for the administrator.
    pub common_name: &'a str,
    /// The SANs the certificate would carry, for the administrator.
    pub sans: &'a [SanName],
    /// The CSR's key algorithm and size, for the administrator.
    pub key: KeyType,
    /// The profile the certificate would be issued under.
    pub profile: &'a ProfileName,
    /// The registered subject, if the credential belongs to one.
    pub subject_id: Option<SubjectId>,
}

/// The gate's answer for one (credential, CSR) pair.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Waiting for an administrator; `request` is the approval's id.
    Pending {
        /// The approval request's id, for the administrator and the client's message.
        request: String,
    },
    /// An administrator refused the request.
    Rejected,
    /// An administrator approved the request: issue.
    Approved,
}

/// Looks up the approval of `req`'s (credential, CSR fingerprint) pair; the first request
/// records a pending approval (audited as `approval.request` by `est:<credential>`) and waits
/// until it is durable before answering.
pub async fn gate(store: &dyn Store, req: ApprovalRequest<'_>, now: i64) -> Result<Decision> {
    let existing = store.get_approval_for(req.credential.as_str(), req.csr_fingerprint)?;
    let rec = match existing {
        Some(a) => a,
        None => {
            let a = ApprovalRecord {
                version: 1,
                id: crate::secrets::random_id_token(12)?,
                credential: req.credential.to_string(),
                csr_fingerprint: req.csr_fingerprint.to_owned(),
                common_name: req.common_name.to_owned(),
                sans: req.sans.iter().map(|s| s.to_string()).collect(),
                key: Some(req.key.name().to_owned()),
                profile: req.profile.0.clone(),
                subject_id: req.subject_id,
                status: ApprovalStatus::Pending,
                created_at: now,
                decided_by: None,
                decided_at: None,
            };
            let rec = store.create_approval(&a)?;
            let _ = store.append_audit(
                &format!("est:{}", req.credential),
                "approval.request",
                &rec.id,
                ApprovalStatus::Pending.as_str(),
                req.common_name,
                now,
            );
            store.durable().durable().await?;
            rec
        }
    };
    Ok(match rec.status {
        ApprovalStatus::Approved => Decision::Approved,
        ApprovalStatus::Rejected => Decision::Rejected,
        ApprovalStatus::Pending => Decision::Pending {
            request: rec.id.to_string(),
        },
    })
}

impl Registry {
    /// Pending (or decided) approvals.
    pub fn approvals(&self, status: &str) -> Result<Vec<ApprovalRecord>> {
        let Some(status) = ApprovalStatus::from_name(status) else {
            return Err(Error::Malformed(
                "status must be pending, approved or rejected".into(),
            ));
        };
        self.store.list_approvals(status, 1000)
    }

    /// Approves or rejects a pending enrolment.
    pub fn decide(&self, actor: &str, id: &str, approve: bool) -> Result<ApprovalRecord> {
        let status = if approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Rejected
        };
        let a = self
            .store
            .get_approval(id)?
            .ok_or_else(|| Error::NotFound("no such approval".into()))?;
        if a.status != ApprovalStatus::Pending {
            return Err(Error::Conflict(format!(
                "the request is {} already",
                a.status
            )));
        }
        if !self
            .store
            .decide_approval(id, status, actor, self.clock.now())?
        {
            return Err(Error::Conflict(
                "the request was decided concurrently".into(),
            ));
        }
        self.audit(
            actor,
            &format!("approval.{status}"),
            id,
            "ok",
            &a.common_name,
        )?;
        self.store
            .get_approval(id)?
            .ok_or_else(|| Error::Internal("approval vanished".into()))
    }
}
