//! OCSP (RFC 6960): request parsing and response signing, built with yasna on the CA key
//! (x509-ocsp has no release on the der 0.8 stack; see docs/status.md).

use time::OffsetDateTime;
use yasna::models::{GeneralizedTime, ObjectIdentifier};
use yasna::{ASN1Error, ASN1ErrorKind, BERReader, Tag};

use super::Ca;
use crate::error::{Error, Result};
use crate::ids::Serial;

const SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];
const SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];
const OCSP_NONCE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 2];
const OCSP_BASIC: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 1];

/// Most single requests answered in one OCSP request.
pub const MAX_SINGLE_REQUESTS: usize = 16;
/// RFC 8954 §2.1: a nonce is 1 to 32 octets.
pub const MAX_NONCE: usize = 32;

/// Hash algorithm of a CertID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-1 (the RFC 5019 default clients still send).
    Sha1,
    /// SHA-256.
    Sha256,
}

/// RFC 6960 §4.1.1 CertID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertId {
    /// Hash algorithm of the two hashes.
    pub alg: HashAlg,
    /// Hash of the issuer's DN.
    pub issuer_name_hash: Vec<u8>,
    /// Hash of the issuer's public key (BIT STRING contents).
    pub issuer_key_hash: Vec<u8>,
    /// The serial asked about (DER INTEGER contents).
    pub serial: Vec<u8>,
}

/// A parsed OCSP request.
#[derive(Debug, Clone)]
pub struct OcspRequest {
    /// The certificates asked about.
    pub certs: Vec<CertId>,
    /// The nonce extension value (the OCTET STRING contents), if any.
    pub nonce: Option<Vec<u8>>,
}

/// Response statuses (RFC 6960 §4.2.1) without response bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcspError {
    /// Illegal confirmation request.
    MalformedRequest = 1,
    /// Internal error in issuer.
    InternalError = 2,
    /// Try again later.
    TryLater = 3,
    /// Must sign the request.
    SigRequired = 5,
    /// Request unauthorized (not an issuer this responder serves).
    Unauthorized = 6,
}

/// The status of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Issued here and not revoked.
    Good,
    /// Revoked at unix time with an RFC 5280 reason code (if not unspecified).
    Revoked(i64, Option<u8>),
    /// Not known to this responder.
    Unknown,
}

fn bad() -> ASN1Error {
    ASN1Error::new(ASN1ErrorKind::Invalid)
}

fn read_cert_id(r: BERReader<'_, '_>) -> std::result::Result<CertId, ASN1Error> {
    r.read_sequence(|r| {
        let alg = r.next().read_sequence(|r| {
            let oid = r.next().read_oid()?;
            // Parameters: NULL or absent.
            r.read_optional(|r| r.read_null())?;
            if oid == ObjectIdentifier::from_slice(SHA1) {
                Ok(HashAlg::Sha1)
            } else if oid == ObjectIdentifier::from_slice(SHA256) {
                Ok(HashAlg::Sha256)
            } else {
                Err(bad())
            }
        })?;
        let issuer_name_hash = r.next().read_bytes()?;
        let issuer_key_hash = r.next().read_bytes()?;
        let serial = r.next().read_der()?;
        // serial is an INTEGER TLV: keep the contents.
        let serial = integer_contents(&serial).ok_or_else(bad)?;
        Ok(CertId {
            alg,
            issuer_name_hash,
            issuer_key_hash,
            serial,
        })
    })
}

fn integer_contents(tlv: &[u8]) -> Option<Vec<u8>> {
    if tlv.first() != Some(&0x02) {
        return None;
    }
    let len = *tlv.get(1)? as usize;
    if len >= 0x80 || tlv.len() != 2 + len || len == 0 || len > 21 {
        return None;
    }
    Some(tlv[2..].to_vec())
}

/// Reads Extensions, returning the nonce's inner value if present.
fn read_extensions(r: BERReader<'_, '_>) -> std::result::Result<Option<Vec<u8>>, ASN1Error> {
    let mut nonce = None;
    r.read_sequence_of(|r| {
        r.read_sequence(|r| {
            let oid = r.next().read_oid()?;
            r.read_optional(|r| r.read_bool())?;
            let value = r.next().read_bytes()?;
            if oid == ObjectIdentifier::from_slice(OCSP_NONCE) {
                // RFC 8954: the value is an OCTET STRING; some clients send raw bytes.
                let inner = yasna::parse_der(&value, |r| r.read_bytes()).unwrap_or(value);
                nonce = Some(inner);
            }
            Ok(())
        })
    })?;
    Ok(nonce)
}

/// Parses an OCSPRequest (DER). Signed requests are accepted; their signature is ignored.
pub fn parse_request(der: &[u8]) -> std::result::Result<OcspRequest, OcspError> {
    if der.is_empty() || der.len() > 8 * 1024 {
        return Err(OcspError::MalformedRequest);
    }
    // yasna 0.6 adds lengths without overflow checks when it skips an element; refuse any
    // length that runs past its container before yasna sees the bytes (found by fuzzing).
    if !der_well_formed(der, 0) {
        return Err(OcspError::MalformedRequest);
    }
    yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let (certs, nonce) = r.next().read_sequence(|r| {
                r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_u8()))?;
                r.read_optional(|r| r.read_tagged(Tag::context(1), |r| r.read_der()))?;
                let mut certs = Vec::new();
                r.next().read_sequence_of(|r| {
                    r.read_sequence(|r| {
                        certs.push(read_cert_id(r.next())?);
                        r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_der()))?;
                        Ok(())
                    })
                })?;
                let nonce = r
                    .read_optional(|r| r.read_tagged(Tag::context(2), read_extensions))?
                    .flatten();
                Ok((certs, nonce))
            })?;
            r.read_optional(|r| r.read_tagged(Tag::context(0), |r| r.read_der()))?;
            Ok(OcspRequest { certs, nonce })
        })
    })
    .map_err(|_| OcspError::MalformedRequest)
    .and_then(|req| {
        if req.certs.is_empty() || req.certs.len() > MAX_SINGLE_REQUESTS {
            return Err(OcspError::MalformedRequest);
        }
        if req
            .nonce
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > MAX_NONCE)
        {
            return Err(OcspError::MalformedRequest);
        }
        Ok(req)
    })
}

/// Whether `data` is a sequence of DER TLVs whose lengths all fit their containers
/// (definite lengths only, at most 32 levels deep).
fn der_well_formed(mut data: &[u8], depth: usize) -> bool {
    if depth > 32 {
        return false;
    }
    while !data.is_empty() {
        let tag = data[0];
        let mut pos = 1;
        if tag & 0x1f == 0x1f {
            // High tag number: continuation bytes, at most 4.
            loop {
                let Some(b) = data.get(pos) else { return false };
                pos += 1;
                if b & 0x80 == 0 {
                    break;
                }
                if pos > 5 {
                    return false;
                }
            }
        }
        let Some(&first) = data.get(pos) else {
            return false;
        };
        pos += 1;
        let len = if first < 0x80 {
            first as usize
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 {
                return false;
            }
            let Some(bytes) = data.get(pos..pos + n) else {
                return false;
            };
            pos += n;
            bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize)
        };
        let Some(content) = pos.checked_add(len).and_then(|end| data.get(pos..end)) else {
            return false;
        };
        if tag & 0x20 != 0 && !der_well_formed(content, depth + 1) {
            return false;
        }
        data = &data[pos + len..];
    }
    true
}

/// An unsigned OCSPResponse carrying only an error status.
pub fn error_response(e: OcspError) -> Vec<u8> {
    yasna::construct_der(|w| w.write_sequence(|w| w.next().write_enum(e as i64)))
}

/// The issuer hashes a CertID must carry for the issuing CA.
pub struct IssuerHashes {
    sha1_name: Vec<u8>,
    sha1_key: Vec<u8>,
    sha256_name: Vec<u8>,
    sha256_key: Vec<u8>,
}

impl IssuerHashes {
    /// Hashes of the CA certificate `der`.
    pub fn of(der: &[u8]) -> Result<Self> {
        use aws_lc_rs::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY as D1, SHA256 as D256};
        let (_, c) = x509_parser::parse_x509_certificate(der).map_err(Error::internal)?;
        let name = c.subject().as_raw();
        let key: &[u8] = &c.public_key().subject_public_key.data;
        Ok(IssuerHashes {
            sha1_name: digest(&D1, name).as_ref().to_vec(),
            sha1_key: digest(&D1, key).as_ref().to_vec(),
            sha256_name: digest(&D256, name).as_ref().to_vec(),
            sha256_key: digest(&D256, key).as_ref().to_vec(),
        })
    }

    /// Whether `id` names this issuer (constant-time comparison is unnecessary: public data).
    pub fn matches(&self, id: &CertId) -> bool {
        match id.alg {
            HashAlg::Sha1 => {
                id.issuer_name_hash == self.sha1_name && id.issuer_key_hash == self.sha1_key
            }
            HashAlg::Sha256 => {
                id.issuer_name_hash == self.sha256_name && id.issuer_key_hash == self.sha256_key
            }
        }
    }

    /// ResponderID byKey (SHA-1 of the responder's public key, RFC 6960 §4.2.2.3).
    pub fn responder_key_hash(&self) -> &[u8] {
        &self.sha1_key
    }
}

fn gtime(t: i64) -> GeneralizedTime {
    let dt = OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    GeneralizedTime::from_datetime(dt)
}

fn write_cert_id(w: yasna::DERWriter<'_>, id: &CertId) {
    w.write_sequence(|w| {
        w.next().write_sequence(|w| {
            let oid = match id.alg {
                HashAlg::Sha1 => SHA1,
                HashAlg::Sha256 => SHA256,
            };
            w.next().write_oid(&ObjectIdentifier::from_slice(oid));
            w.next().write_null();
        });
        w.next().write_bytes(&id.issuer_name_hash);
        w.next().write_bytes(&id.issuer_key_hash);
        // INTEGER with the contents as received.
        let mut tlv = vec![0x02, id.serial.len() as u8];
        tlv.extend_from_slice(&id.serial);
        w.next().write_der(&tlv);
    })
}

/// One answer of a response.
pub struct SingleAnswer<'a> {
    /// The CertID as asked.
    pub id: &'a CertId,
    /// The status.
    pub status: Status,
}

impl Ca {
    /// A signed successful OCSPResponse for `answers`, produced at `produced_at`, valid until
    /// `next_update`, echoing `nonce` if given.
    pub fn ocsp_response(
        &self,
        hashes: &IssuerHashes,
        answers: &[SingleAnswer<'_>],
        produced_at: i64,
        next_update: i64,
        nonce: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        let tbs = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_tagged(Tag::context(2), |w| {
                    w.write_bytes(hashes.responder_key_hash())
                });
                w.next().write_generalized_time(&gtime(produced_at));
                w.next().write_sequence(|w| {
                    for a in answers {
                        w.next().write_sequence(|w| {
                            write_cert_id(w.next(), a.id);
                            match &a.status {
                                Status::Good => w
                                    .next()
                                    .write_tagged_implicit(Tag::context(0), |w| w.write_null()),
                                Status::Revoked(at, reason) => {
                                    w.next().write_tagged_implicit(Tag::context(1), |w| {
                                        w.write_sequence(|w| {
                                            w.next().write_generalized_time(&gtime(*at));
                                            if let Some(code) = reason {
                                                w.next().write_tagged(Tag::context(0), |w| {
                                                    w.write_enum(i64::from(*code))
                                                });
                                            }
                                        })
                                    })
                                }
                                Status::Unknown => w
                                    .next()
                                    .write_tagged_implicit(Tag::context(2), |w| w.write_null()),
                            }
                            w.next().write_generalized_time(&gtime(produced_at));
                            w.next().write_tagged(Tag::context(0), |w| {
                                w.write_generalized_time(&gtime(next_update))
                            });
                        });
                    }
                });
                if let Some(n) = nonce {
                    w.next().write_tagged(Tag::context(1), |w| {
                        w.write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next()
                                    .write_oid(&ObjectIdentifier::from_slice(OCSP_NONCE));
                                let inner = yasna::construct_der(|w| w.write_bytes(n));
                                w.next().write_bytes(&inner);
                            })
                        })
                    });
                }
            })
        });
        let (alg_id, sig) = self.sign_raw(&tbs)?;
        let basic = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_der(&tbs);
                w.next().write_der(&alg_id);
                w.next().write_bitvec_bytes(&sig, sig.len() * 8);
            })
        });
        Ok(yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_enum(0);
                w.next().write_tagged(Tag::context(0), |w| {
                    w.write_sequence(|w| {
                        w.next()
                            .write_oid(&ObjectIdentifier::from_slice(OCSP_BASIC));
                        w.next().write_bytes(&basic);
                    })
                });
            })
        }))
    }
}

/// The serial a CertID names, if it is a valid positive serial.
pub fn serial_of(id: &CertId) -> Option<Serial> {
    Serial::from_bytes(&id.serial).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_inner_lengths_are_malformed_not_a_panic() {
        // Found by `fuzz/run.sh` (target ocsp): yasna overflowed skipping requestorName.
        for tail in [0xf0u8, 0xff] {
            let der = [
                0x30, 0x0e, 0x30, 0x0c, 0xa1, 0x0a, 0x02, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                0xff, tail,
            ];
            assert_eq!(
                parse_request(&der).unwrap_err(),
                OcspError::MalformedRequest
            );
        }
        assert!(!der_well_formed(&[0x30, 0x80, 0x00, 0x00], 0));
        assert!(der_well_formed(&[0x30, 0x03, 0x02, 0x01, 0x05], 0));
    }

    #[test]
    fn garbage_and_truncated_requests_are_malformed() {
        for der in [
            &b""[..],
            b"\x30\x03\x02\x01",
            b"garbage",
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        ] {
            assert_eq!(parse_request(der).unwrap_err(), OcspError::MalformedRequest);
        }
        assert_eq!(
            error_response(OcspError::MalformedRequest),
            vec![0x30, 0x03, 0x0a, 0x01, 0x01]
        );
    }
}
