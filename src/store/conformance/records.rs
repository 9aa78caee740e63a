//! Records the checks build: the smallest valid one of each kind, and a commit helper.

use super::FullStore;
use crate::ids::{
    AccountId, AuthzId, CredentialId, EabKid, OrderId, ProfileName, Serial, SubjectId,
};
use crate::states::{AccountStatus, ApprovalStatus, AuthzStatus, OrderStatus, SubjectStatus};
use crate::store::{
    AccountRecord, AllowedIdentifier, ApprovalRecord, AuthzRecord, CertStatus, CertificateCommit,
    CertificateRecord, CommitKind, Consumes, CredentialRecord, CredentialSpend, EabKeyRecord,
    Identifier, InsertOutcome, OrderRecord, SubjectRecord,
};

pub(crate) fn serial(hex: &str) -> Serial {
    Serial::parse_hex(hex).unwrap()
}

pub(crate) fn cert(hex: &str, subject: &str, not_after: i64) -> CertificateRecord {
    CertificateRecord {
        version: 1,
        serial: serial(hex),
        issuer: "CN=conformance".into(),
        subject: subject.into(),
        sans: vec![],
        profile: ProfileName("device".into()),
        not_before: 0,
        not_after,
        status: CertStatus::Good,
        channel: "test".into(),
        label: None,
        credential: None,
        replaces: None,
        issued_at: 0,
        account: None,
        subject_id: None,
        renewed_by: None,
        renewal_window: None,
        der: hex.as_bytes().to_vec(),
    }
}

pub(crate) fn cred(id: &str, uses: u32, expires_at: i64) -> CredentialRecord {
    CredentialRecord {
        version: 1,
        id: CredentialId::parse(id).unwrap(),
        secret_hash: "00".into(),
        label: None,
        common_name: "dev".into(),
        sans: vec![],
        created_at: 0,
        expires_at,
        uses_left: uses,
        uses: vec![],
        disabled: false,
        subject_id: None,
        profile: None,
    }
}

pub(crate) fn subject(id: &str, ext: &str) -> SubjectRecord {
    SubjectRecord {
        version: 1,
        id: SubjectId::parse(id).unwrap(),
        kind: "device".into(),
        external_id: ext.into(),
        email: None,
        display_name: None,
        department: None,
        name: Some(ext.into()),
        serial_number: None,
        owner: None,
        dns_names: vec![],
        mdm_id: None,
        windows_sid: None,
        language: None,
        given_name: None,
        family_name: None,
        pseudonym: None,
        status: SubjectStatus::Active,
        generation: 0,
        created_at: 0,
        updated_at: 0,
    }
}

pub(crate) fn account(id: &str, thumbprint: &str, eab: Option<&str>) -> AccountRecord {
    AccountRecord {
        version: 1,
        id: AccountId::parse(id).unwrap(),
        jwk: serde_json::json!({"kty": "EC", "x": thumbprint}),
        thumbprint: thumbprint.into(),
        contact: vec![],
        status: AccountStatus::Valid,
        tos_agreed: true,
        eab_kid: eab.map(|k| EabKid::parse(k).unwrap()),
        created_at: 0,
        subject_id: None,
    }
}

pub(crate) fn eab_key(kid: &str, subject_id: Option<&SubjectId>) -> EabKeyRecord {
    EabKeyRecord {
        version: 1,
        kid: EabKid::parse(kid).unwrap(),
        hmac_key_sealed: "sealed".into(),
        profile: ProfileName("device".into()),
        allowed_identifiers: vec![AllowedIdentifier {
            kind: "dns".into(),
            value: "a.example".into(),
            challenge: false,
        }],
        created_at: 0,
        expires_at: None,
        withdrawn: false,
        account: None,
        subject_id: subject_id.cloned(),
    }
}

pub(crate) fn order(id: &str, acct: &str, status: OrderStatus, authz: &str) -> OrderRecord {
    OrderRecord {
        version: 1,
        id: OrderId::parse(id).unwrap(),
        account: AccountId::parse(acct).unwrap(),
        status,
        expires: i64::MAX,
        identifiers: vec![Identifier {
            kind: "dns".into(),
            value: "a.example".into(),
        }],
        not_before: None,
        not_after: None,
        profile: ProfileName("device".into()),
        authorizations: vec![AuthzId::parse(authz).unwrap()],
        error: None,
        certificate: None,
        replaces: None,
        created_at: 0,
        subject_id: None,
    }
}

pub(crate) fn authz(id: &str, acct: &str) -> AuthzRecord {
    AuthzRecord {
        version: 1,
        id: AuthzId::parse(id).unwrap(),
        account: AccountId::parse(acct).unwrap(),
        identifier: Identifier {
            kind: "dns".into(),
            value: "a.example".into(),
        },
        status: AuthzStatus::Valid,
        expires: i64::MAX,
        challenges: vec![],
    }
}

pub(crate) fn spend(id: &str, fingerprint: &str, now: i64) -> Option<Consumes> {
    Some(Consumes::Credential(CredentialSpend {
        id: CredentialId::parse(id).unwrap(),
        csr_fingerprint: fingerprint.into(),
        now,
    }))
}

/// Commits through the group committer and waits until the outcome is durable.
pub(crate) fn commit(
    s: &dyn FullStore,
    c: CertificateRecord,
    consumes: Option<Consumes>,
) -> InsertOutcome {
    s.commit_certificate(CertificateCommit {
        cert: c,
        kind: CommitKind::Issue(consumes),
        audit: None,
    })
    .wait_blocking()
    .unwrap()
}

pub(crate) fn approval(
    id: &str,
    credential: &str,
    fp: &str,
    sid: Option<&SubjectId>,
) -> ApprovalRecord {
    ApprovalRecord {
        version: 1,
        id: id.into(),
        credential: credential.into(),
        csr_fingerprint: fp.into(),
        common_name: "dev".into(),
        sans: vec![],
        key: None,
        profile: "device".into(),
        subject_id: sid.cloned(),
        status: ApprovalStatus::Pending,
        created_at: 0,
        decided_by: None,
        decided_at: None,
    }
}
