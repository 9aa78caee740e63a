//! Certificates: download, revocation (RFC 8555 §7.4.2, §7.6), renewal information and
//! `replaces` (RFC 9773), and the admin's move of a renewal window.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use serde_json::json;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::jws::Jwk;
use super::{Acme, Reply, Request, Response, Signer};
use crate::ca::pem_encode;
use crate::error::{AcmeProblem, Error, Result};
use crate::ids::Serial;
use crate::revocation::RevocationReason;
use crate::store::{AccountRecord, CertStatus, Identifier};

/// A reason code an ACME client may give ([`RevocationReason::ACME`], RFC 8555 §7.6).
fn acme_reason(code: u8) -> Result<RevocationReason> {
    RevocationReason::acme(code).ok_or_else(|| {
        Error::acme(
            AcmeProblem::BadRevocationReason,
            format!("revocation reason {code} is not allowed over ACME"),
        )
    })
}
impl Acme {
    /// `POST /acme/cert/{serial}` (POST-as-GET): the PEM chain (§7.4.2).
    pub fn certificate(&self, req: &Request<'_>, serial: &str) -> Result<Response> {
        let (_, acct) = self.authenticate_account(req)?;
        let serial =
            Serial::parse_hex(serial).map_err(|_| Error::NotFound("no such certificate".into()))?;
        let rec = self
            .store
            .get_certificate(&serial)?
            .filter(|r| r.account.as_ref() == Some(&acct.id))
            .ok_or_else(|| Error::NotFound("no such certificate".into()))?;
        let mut pem = pem_encode("CERTIFICATE", &rec.der);
        pem.push_str(&pem_encode("CERTIFICATE", self.ca.issuing_der()));
        Ok(Response::new(Reply::Certificate(pem)))
    }

    /// `POST /acme/revoke-cert` (§7.6): by the ordering account or by the certificate's key.
    pub async fn revoke(&self, req: &Request<'_>) -> Result<Response> {
        let (jws, signer) = self.authenticate(req, None)?;
        #[derive(Deserialize)]
        struct Revoke {
            certificate: String,
            #[serde(default)]
            reason: Option<u8>,
        }
        let r: Revoke = jws.payload_json()?;
        let der = Base64UrlUnpadded::decode_vec(r.certificate.trim_end_matches('='))
            .map_err(|_| Error::acme(AcmeProblem::Malformed, "certificate is not base64url"))?;
        let (_, cert) = X509Certificate::from_der(&der)
            .map_err(|_| Error::acme(AcmeProblem::Malformed, "certificate does not parse"))?;
        let serial = Serial::from_bytes(cert.raw_serial())?;
        let rec = self
            .store
            .get_certificate(&serial)?
            .filter(|rec| rec.der == der)
            .ok_or_else(|| Error::NotFound("certificate not issued by this server".into()))?;
        let reason = acme_reason(r.reason.unwrap_or(0))?;
        // The audit log's actor: the ordering account, or the certificate's own key.
        let actor = match signer {
            Signer::Account(acct) => {
                let acct = self.check_account(acct)?;
                if rec.account.as_ref() != Some(&acct.id) {
                    return Err(Error::acme(
                        AcmeProblem::Unauthorized,
                        "this account did not order the certificate",
                    ));
                }
                format!("acme:{}", acct.id)
            }
            Signer::Key(jwk) => {
                let spki_matches = jwk_matches_spki(&jwk, cert.public_key().raw);
                if !spki_matches {
                    return Err(Error::acme(
                        AcmeProblem::Unauthorized,
                        "the JWS key is not the certificate's key",
                    ));
                }
                format!("acme:key:{}", jwk.thumbprint())
            }
        };
        if !self
            .store
            .revoke_certificate(&serial, self.clock.now(), reason)?
        {
            return Err(Error::acme(
                AcmeProblem::AlreadyRevoked,
                "certificate is already revoked",
            ));
        }
        let _ = self.store.append_audit(
            &actor,
            "certificate.revoke",
            &serial.to_hex(),
            "ok",
            reason.as_str(),
            self.clock.now(),
        );
        self.flush().await?;
        tracing::info!(serial = %serial, reason = reason.as_str(), "certificate revoked over ACME");
        Ok(Response::new(Reply::Done))
    }

    /// `GET /acme/renewal-info/{certid}` (RFC 9773 §4.2).
    pub fn renewal_info(&self, cert_id: &str) -> Result<Response> {
        let serial = self.parse_cert_id(cert_id)?;
        let rec = self
            .store
            .get_certificate(&serial)?
            .ok_or_else(|| Error::NotFound("no such certificate".into()))?;
        let (start, end) = match rec.renewal_window {
            Some(w) => w,
            None => {
                let life = rec.not_after - rec.not_before;
                (rec.not_after - life / 3, rec.not_after - life / 6)
            }
        };
        let (start, end) = if matches!(rec.status, CertStatus::Revoked { .. }) {
            let t = self.clock.now();
            (t - 3600, t)
        } else {
            (start, end)
        };
        let mut r = Response::json(
            json!({"suggestedWindow": {"start": super::views::rfc3339(start), "end": super::views::rfc3339(end)}}),
        );
        r.retry_after = Some(6 * 3600);
        Ok(r)
    }

    /// RFC 9773 §5: `replaces` names a certificate of this account.
    pub(super) fn check_replaces(
        &self,
        acct: &AccountRecord,
        cert_id: &str,
        idents: &[Identifier],
    ) -> Result<Serial> {
        let serial = self.parse_cert_id(cert_id)?;
        let rec = self.store.get_certificate(&serial)?.ok_or_else(|| {
            Error::acme(
                AcmeProblem::Malformed,
                "replaces names an unknown certificate",
            )
        })?;
        if rec.account.as_ref() != Some(&acct.id) {
            return Err(Error::acme(
                AcmeProblem::Unauthorized,
                "replaces names another account's certificate",
            ));
        }
        let overlap = idents.iter().any(|i| {
            rec.sans
                .iter()
                .any(|s| s.split_once(':').is_some_and(|(_, v)| v == i.value))
                || rec.subject == i.value
        });
        if !overlap {
            return Err(Error::acme(
                AcmeProblem::Malformed,
                "replaces names a certificate for other identifiers",
            ));
        }
        Ok(serial)
    }

    /// RFC 9773 §4.1 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial).
    fn parse_cert_id(&self, cert_id: &str) -> Result<Serial> {
        let bad = || {
            Error::acme(
                AcmeProblem::Malformed,
                "malformed ARI certificate identifier",
            )
        };
        let (aki, serial) = cert_id.split_once('.').ok_or_else(bad)?;
        let aki = Base64UrlUnpadded::decode_vec(aki).map_err(|_| bad())?;
        let serial = Base64UrlUnpadded::decode_vec(serial).map_err(|_| bad())?;
        if aki != self.issuing_ski()? {
            return Err(Error::NotFound("certificate not issued by this CA".into()));
        }
        Serial::from_bytes(&serial).map_err(|_| bad())
    }

    /// The RFC 9773 certificate identifier of one of our certificates.
    pub fn cert_id(&self, serial: &Serial) -> Result<String> {
        let mut s = serial.as_bytes().to_vec();
        if s.first().is_some_and(|b| b & 0x80 != 0) {
            s.insert(0, 0);
        }
        Ok(format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(&self.issuing_ski()?),
            Base64UrlUnpadded::encode_string(&s)
        ))
    }

    fn issuing_ski(&self) -> Result<Vec<u8>> {
        let (_, c) = X509Certificate::from_der(self.ca.issuing_der()).map_err(Error::internal)?;
        for e in c.extensions() {
            if let x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) =
                e.parsed_extension()
            {
                return Ok(k.0.to_vec());
            }
        }
        Err(Error::Internal("issuing CA has no SKI".into()))
    }
}

/// Admin: moves the ARI window of `serials` to [start, end] so clients renew early.
pub fn set_renewal_window(
    store: &dyn crate::store::Store,
    serials: &[String],
    start: i64,
    end: i64,
) -> Result<usize> {
    if end <= start {
        return Err(Error::Malformed("end must be after start".into()));
    }
    // Every serial is checked before any is changed.
    let mut records = Vec::with_capacity(serials.len());
    for s in serials {
        let serial = Serial::parse_hex(s)?;
        records.push(
            store
                .get_certificate(&serial)?
                .ok_or_else(|| Error::NotFound(format!("no certificate with serial {serial}")))?,
        );
    }
    let mut n = 0;
    for old in records {
        let mut new = old.clone();
        new.renewal_window = Some((start, end));
        store.update_certificate(&old, &new)?;
        n += 1;
    }
    store.flush()?;
    Ok(n)
}

/// Whether a JWK is the key in a certificate's SubjectPublicKeyInfo.
pub(super) fn jwk_matches_spki(jwk: &Jwk, spki_der: &[u8]) -> bool {
    let Ok((_, spki)) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der) else {
        return false;
    };
    let key_bytes: &[u8] = &spki.subject_public_key.data;
    match jwk {
        Jwk::Ec { x, y, .. } => {
            let mut p = vec![4u8];
            p.extend_from_slice(x);
            p.extend_from_slice(y);
            key_bytes == p.as_slice()
        }
        Jwk::Ed25519 { x } => key_bytes == x.as_slice(),
        Jwk::Rsa { n, e } => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(k)) => {
                let strip = |b: &[u8]| {
                    b.iter()
                        .skip_while(|x| **x == 0)
                        .copied()
                        .collect::<Vec<u8>>()
                };
                strip(k.modulus) == *n && strip(k.exponent) == *e
            }
            _ => false,
        },
    }
}
