//! PKCS#10 (RFC 2986) certificate requests: parsed, verified and checked against policy.
//!
//! A [`Csr`] that exists has a valid self-signature made with an allowed algorithm and carries a
//! key of an allowed type and strength. What it may *name* is decided by [`Csr::names_for`]
//! against what the caller is entitled to; its requested extensions are never copied.

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509CertificationRequest};
use x509_parser::public_key::PublicKey;

use crate::ca::profile::SanName;
use crate::ca::KeyType;
use crate::error::{Error, Result};

const OID_CN: &str = "2.5.4.3";
const OID_CHALLENGE_PASSWORD: &str = "1.2.840.113549.1.9.7";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// Largest CSR accepted, in DER bytes (an RSA 8192 CSR with many SANs fits easily).
pub const MAX_CSR_DER: usize = 16 * 1024;

/// A parsed PKCS#10 request whose signature verified.
#[derive(Debug, Clone)]
pub struct Csr {
    /// The request as received, for hashing (idempotent retries) and audit.
    pub der: Vec<u8>,
    /// The subject public key info, DER; the certificate's key is taken from here
    /// (never from the signature algorithm — rcgen issue #448).
    pub spki_der: Vec<u8>,
    /// Type and strength of the subject key.
    pub key_type: KeyType,
    /// The subject's commonName, if the CSR names one.
    pub common_name: Option<String>,
    /// Subject attributes other than CN (O, OU, …) by OID; any makes [`Csr::names_for`] fail.
    pub other_subject_attrs: Vec<String>,
    /// Names requested in the extensionRequest's subjectAltName.
    pub sans: Vec<SanName>,
    /// RFC 2985 challengePassword (EST channel binding, RFC 7030 §3.5).
    pub challenge_password: Option<String>,
}

impl Csr {
    /// Parses DER, verifies the self-signature and applies the algorithm policy.
    pub fn parse(der: &[u8]) -> Result<Csr> {
        Csr::parse_with(der, false)
    }

    /// [`Csr::parse`] that also takes a sha1WithRSAEncryption self-signature: for SCEP paths
    /// that opted in to legacy clients (older Apple devices sign their requests with SHA-1).
    pub fn parse_legacy(der: &[u8]) -> Result<Csr> {
        Csr::parse_with(der, true)
    }

    fn parse_with(der: &[u8], allow_sha1: bool) -> Result<Csr> {
        if der.len() > MAX_CSR_DER {
            return Err(Error::BadCsr("CSR too large".into()));
        }
        let (rest, req) = X509CertificationRequest::from_der(der)
            .map_err(|_| Error::BadCsr("CSR is not a valid PKCS#10 request".into()))?;
        if !rest.is_empty() {
            return Err(Error::BadCsr("trailing data after CSR".into()));
        }
        let sig_oid = req.signature_algorithm.algorithm.to_id_string();
        match sig_oid.as_str() {
            "1.2.840.10045.4.3.2"
            | "1.2.840.10045.4.3.3"
            | "1.2.840.10045.4.3.4"
            | "1.2.840.113549.1.1.11"
            | "1.2.840.113549.1.1.12"
            | "1.2.840.113549.1.1.13"
            | OID_ED25519 => {}
            "1.2.840.113549.1.1.5" if allow_sha1 => {}
            "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" | "1.3.14.3.2.29" => {
                return Err(Error::BadCsr("SHA-1 signatures are not accepted".into()))
            }
            "1.2.840.113549.1.1.4" | "1.2.840.113549.1.1.2" => {
                return Err(Error::BadCsr("MD5/MD2 signatures are not accepted".into()))
            }
            _ => return Err(Error::BadCsr("unsupported CSR signature algorithm".into())),
        }
        let info = &req.certification_request_info;
        let key_type = key_type_of(&info.subject_pki)?;
        req.verify_signature()
            .map_err(|_| Error::BadCsr("CSR signature does not verify".into()))?;

        let mut common_name = None;
        let mut other_subject_attrs = Vec::new();
        for attr in info.subject.iter_attributes() {
            let oid = attr.attr_type().to_id_string();
            if oid == OID_CN && common_name.is_none() {
                let v = attr
                    .as_str()
                    .map_err(|_| Error::BadCsr("CSR commonName is not a string".into()))?;
                common_name = Some(v.to_owned());
            } else {
                other_subject_attrs.push(oid);
            }
        }

        let mut sans = Vec::new();
        let mut challenge_password = None;
        for attr in info.iter_attributes() {
            match attr.parsed_attribute() {
                x509_parser::cri_attributes::ParsedCriAttribute::ChallengePassword(p) => {
                    challenge_password = Some(p.0.clone());
                }
                x509_parser::cri_attributes::ParsedCriAttribute::ExtensionRequest(er) => {
                    for ext in &er.extensions {
                        match ext.parsed_extension() {
                            ParsedExtension::SubjectAlternativeName(san) => {
                                for gn in &san.general_names {
                                    sans.push(san_from(gn)?);
                                }
                            }
                            ParsedExtension::BasicConstraints(bc) if bc.ca => {
                                return Err(Error::BadCsr(
                                    "CSR requests CA:TRUE; only end-entity certificates are issued"
                                        .into(),
                                ))
                            }
                            ParsedExtension::ParseError { .. } => {
                                return Err(Error::BadCsr("CSR has a malformed extension".into()))
                            }
                            // Key usages, EKUs and everything else come from the profile.
                            _ => {}
                        }
                    }
                }
                _ => {
                    if attr.oid.to_id_string() == OID_CHALLENGE_PASSWORD {
                        return Err(Error::BadCsr("malformed challengePassword".into()));
                    }
                }
            }
        }
        sans.sort();
        sans.dedup();
        Ok(Csr {
            der: der.to_vec(),
            spki_der: info.subject_pki.raw.to_vec(),
            key_type,
            common_name,
            other_subject_attrs,
            sans,
            challenge_password,
        })
    }

    /// SHA-256 of the request, the key of idempotent retries.
    pub fn fingerprint(&self) -> String {
        hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            &self.der,
        ))
    }

    /// Decides the names of the certificate: the subject CN is always `entitled_cn`; the SANs
    /// are the ones the CSR requests (each must be among `entitled_sans`) or, if it requests none,
    /// all of `entitled_sans`. A CSR naming anything else is refused.
    pub fn names_for(
        &self,
        entitled_cn: &str,
        entitled_sans: &[SanName],
    ) -> Result<(String, Vec<SanName>)> {
        if !self.other_subject_attrs.is_empty() {
            return Err(Error::BadCsr(
                "CSR subject may only contain CN; other attributes (O, OU, …) are set by the CA"
                    .into(),
            ));
        }
        if let Some(cn) = &self.common_name {
            let cn_is_entitled = cn == entitled_cn
                || entitled_sans
                    .iter()
                    .any(|s| matches!(s, SanName::Dns(d) | SanName::Email(d) if d.eq_ignore_ascii_case(cn)));
            if !cn_is_entitled {
                return Err(Error::BadCsr(format!(
                    "CSR commonName {cn:?} is not the name this credential may request"
                )));
            }
        }
        for san in &self.sans {
            if !entitled_sans.contains(san) {
                return Err(Error::BadCsr(format!(
                    "CSR requests {san}, which this credential may not request"
                )));
            }
        }
        let sans = if self.sans.is_empty() {
            entitled_sans.to_vec()
        } else {
            self.sans.clone()
        };
        Ok((entitled_cn.to_owned(), sans))
    }
}

fn key_type_of(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> Result<KeyType> {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            match curve.as_deref() {
                Some(OID_P256) => Ok(KeyType::P256),
                Some(OID_P384) => Ok(KeyType::P384),
                _ => Err(Error::BadCsr("EC keys must be on P-256 or P-384".into())),
            }
        }
        OID_RSA => {
            let bits = match spki.parsed() {
                Ok(PublicKey::RSA(k)) => k.key_size(),
                _ => return Err(Error::BadCsr("malformed RSA public key".into())),
            };
            match bits {
                0..=2047 => Err(Error::BadCsr(format!(
                    "RSA key of {bits} bits is too weak (minimum 2048)"
                ))),
                2048..=3071 => Ok(KeyType::Rsa2048),
                3072..=4095 => Ok(KeyType::Rsa3072),
                4096..=8192 => Ok(KeyType::Rsa4096),
                _ => Err(Error::BadCsr(
                    "RSA keys above 8192 bits are not accepted".into(),
                )),
            }
        }
        OID_ED25519 => Ok(KeyType::Ed25519),
        _ => Err(Error::BadCsr("unsupported public key algorithm".into())),
    }
}

fn san_from(gn: &GeneralName<'_>) -> Result<SanName> {
    let unsupported = || Error::BadCsr("CSR requests an unsupported kind of SAN".into());
    match gn {
        GeneralName::DNSName(d) => SanName::parse(&format!("dns:{d}")),
        GeneralName::RFC822Name(e) => SanName::parse(&format!("email:{e}")),
        GeneralName::URI(u) => SanName::parse(&format!("uri:{u}")),
        GeneralName::IPAddress(b) => {
            let ip = match b.len() {
                4 => {
                    let a: [u8; 4] = (*b).try_into().map_err(|_| unsupported())?;
                    std::net::IpAddr::from(a)
                }
                16 => {
                    let a: [u8; 16] = (*b).try_into().map_err(|_| unsupported())?;
                    std::net::IpAddr::from(a)
                }
                _ => return Err(unsupported()),
            };
            Ok(SanName::Ip(ip))
        }
        _ => Err(unsupported()),
    }
    .map_err(|e| match e {
        Error::Malformed(m) => Error::BadCsr(m),
        other => other,
    })
}

#[cfg(test)]
#[path = "csr_tests.rs"]
mod tests;
