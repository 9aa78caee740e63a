//! RFC 7030 §4.2.2 re-enrolment: the current certificate that authenticates a renewal, and
//! whether what allowed the first certificate of its chain still stands.

use x509_parser::prelude::{FromDer, X509Certificate};

use super::{ClientAuth, Est};
use crate::error::{Error, Result};
use crate::ids::Serial;
use crate::states::AccountStatus;
use crate::store::{CertStatus, CertificateRecord};

/// How many renewals back a renewal looks for the credential the chain started with.
const MAX_RENEWAL_CHAIN: usize = 10_000;

impl Est {
    /// The record of the TLS client certificate, which must be one issued here, unrevoked and
    /// unexpired.
    pub(super) fn current_certificate(&self, auth: &ClientAuth) -> Result<CertificateRecord> {
        let der = auth.client_cert.as_ref().ok_or_else(|| {
            Error::Unauthenticated(
                "re-enrolment requires the current certificate as TLS client certificate".into(),
            )
        })?;
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|_| Error::Unauthenticated("unparsable client certificate".into()))?;
        let serial = Serial::from_bytes(cert.raw_serial())
            .map_err(|_| Error::Unauthenticated("client certificate not issued here".into()))?;
        let rec = self
            .store
            .get_certificate(&serial)?
            .filter(|r| r.der == *der)
            .ok_or_else(|| Error::Unauthenticated("client certificate not issued here".into()))?;
        if rec.status != CertStatus::Good {
            return Err(Error::NotPermitted("client certificate is revoked".into()));
        }
        if rec.not_after <= self.clock.now() {
            return Err(Error::NotPermitted("client certificate has expired".into()));
        }
        Ok(rec)
    }

    /// A renewal is allowed only while what allowed the first certificate still stands: the
    /// enrolment credential or ACME account (and its EAB key) at the start of its chain of
    /// renewals has not been withdrawn. (That its subject is still active is checked where
    /// every issuance checks it, inside the transaction that records the new certificate.) A
    /// certificate from a pickup link or a bootstrap certificate has no such credential.
    pub(super) fn check_renewal_origin(&self, current: &CertificateRecord) -> Result<()> {
        // Renewals record only what they replace: walk back to the first certificate.
        let mut origin = current.clone();
        for _ in 0..MAX_RENEWAL_CHAIN {
            if origin.credential.is_some() || origin.account.is_some() {
                break;
            }
            let Some(prev) = origin.replaces.as_ref() else {
                break;
            };
            match self.store.get_certificate(prev)? {
                Some(r) => origin = r,
                None => break,
            }
        }
        let withdrawn = || {
            Error::NotPermitted(
                "the enrolment credential or ACME account this certificate came from was withdrawn; enrol anew"
                    .into(),
            )
        };
        if let Some(id) = &origin.credential {
            let usable = self.store.get_credential(id)?.is_some_and(|c| !c.disabled);
            if !usable {
                return Err(withdrawn());
            }
        }
        if let Some(id) = &origin.account {
            let acct = self.acme_store.get_account(id)?.ok_or_else(withdrawn)?;
            if acct.status != AccountStatus::Valid {
                return Err(withdrawn());
            }
            if let Some(kid) = &acct.eab_kid {
                let live = self
                    .acme_store
                    .get_eab_key(kid)?
                    .is_some_and(|k| !k.withdrawn);
                if !live {
                    return Err(withdrawn());
                }
            }
        }
        Ok(())
    }
}
