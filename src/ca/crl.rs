//! CRLs (RFC 5280 §5) for the issuing CA and the root.

use rcgen::{
    CertificateRevocationListParams, KeyIdMethod, RevocationReason as CrlReason, RevokedCertParams,
    SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;

use super::Ca;
use crate::error::{Error, Result};
use crate::ids::Serial;
use crate::revocation::RevocationReason;

/// One revoked certificate as the CRL lists it.
#[derive(Debug, Clone)]
pub struct RevokedEntry {
    /// Its serial.
    pub serial: Serial,
    /// When it was revoked, unix seconds.
    pub revoked_at: i64,
    /// RFC 5280 §5.3.1 reason.
    pub reason: RevocationReason,
}

/// The CRL writer's value of a reason (the same RFC 5280 §5.3.1 code). Every reason has one;
/// the `Option` is what the CRL entry and the OCSP answer take.
pub fn reason_code(r: &RevocationReason) -> Option<CrlReason> {
    Some(match r {
        RevocationReason::Unspecified => CrlReason::Unspecified,
        RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
        RevocationReason::CaCompromise => CrlReason::CaCompromise,
        RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
        RevocationReason::Superseded => CrlReason::Superseded,
        RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
        RevocationReason::CertificateHold => CrlReason::CertificateHold,
        RevocationReason::RemoveFromCrl => CrlReason::RemoveFromCrl,
        RevocationReason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise => CrlReason::AaCompromise,
    })
}

/// The subject key identifier of a certificate (used as the CRL's AKI).
pub fn ski_of(der: &[u8]) -> Result<Vec<u8>> {
    let (_, c) = x509_parser::parse_x509_certificate(der).map_err(Error::internal)?;
    for e in c.extensions() {
        if let ParsedExtension::SubjectKeyIdentifier(k) = e.parsed_extension() {
            return Ok(k.0.to_vec());
        }
    }
    Err(Error::Internal(
        "CA certificate has no subject key identifier".into(),
    ))
}

fn params(
    entries: &[RevokedEntry],
    number: u64,
    this: OffsetDateTime,
    lifetime: Duration,
    ski: Vec<u8>,
) -> Result<CertificateRevocationListParams> {
    let revoked_certs = entries
        .iter()
        .map(|e| {
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from_slice(e.serial.as_bytes()),
                revocation_time: OffsetDateTime::from_unix_timestamp(e.revoked_at)
                    .map_err(Error::internal)?,
                // RFC 5280 §5.3.1: the reason code unspecified SHOULD be absent.
                reason_code: reason_code(&e.reason).filter(|r| *r != CrlReason::Unspecified),
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CertificateRevocationListParams {
        this_update: this,
        next_update: this + lifetime,
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::PreSpecified(ski),
    })
}

impl Ca {
    /// The issuing CA's CRL (DER) over `entries`.
    pub fn issuing_crl(
        &self,
        entries: &[RevokedEntry],
        number: u64,
        this: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<Vec<u8>> {
        let p = params(entries, number, this, lifetime, ski_of(self.issuing_der())?)?;
        Ok(p.signed_by(self.issuer())?.der().to_vec())
    }

    /// The root's CRL (DER): it covers the issuing CAs. `None` when the root key is not here.
    pub fn root_crl(
        &self,
        number: u64,
        this: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<Option<Vec<u8>>> {
        let Some(root) = self.root_issuer() else {
            return Ok(None);
        };
        let p = params(&[], number, this, lifetime, ski_of(self.root_der())?)?;
        Ok(Some(p.signed_by(root)?.der().to_vec()))
    }
}
