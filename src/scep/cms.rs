//! CMS SignedData (RFC 5652 §5) as SCEP uses it (RFC 8894 §3.2): reading a client's signed
//! pkiMessage and checking its signature, and signing the CA's replies.
//!
//! Only RSA signers: SCEP returns the certificate encrypted to the requester's signing
//! certificate by key transport (RFC 8894 §3.2.2), which needs an RSA key.

use std::borrow::Cow;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, RsaKeyPair, UnparsedPublicKey};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::der::{self, tag, Tlv};
use super::FailInfo;

/// id-signedData (RFC 5652 §5.1).
pub const OID_SIGNED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 2];
/// id-data (RFC 5652 §4).
pub const OID_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 1];
/// id-contentType signed attribute (RFC 5652 §11.1).
const OID_CONTENT_TYPE: &[u64] = &[1, 2, 840, 113549, 1, 9, 3];
/// id-messageDigest signed attribute (RFC 5652 §11.2).
const OID_MESSAGE_DIGEST: &[u64] = &[1, 2, 840, 113549, 1, 9, 4];
/// id-signingTime signed attribute (RFC 5652 §11.3).
pub const OID_SIGNING_TIME: &[u64] = &[1, 2, 840, 113549, 1, 9, 5];
/// rsaEncryption, which CMS signers often name as the signature algorithm.
const OID_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];

/// A digest algorithm a SCEP message may use (RFC 8894 §3.5.2 capabilities).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// SHA-1: only for profiles that allow legacy clients.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Digest {
    fn from_oid(arcs: &[u64]) -> Option<Digest> {
        match arcs {
            [1, 3, 14, 3, 2, 26] => Some(Digest::Sha1),
            [2, 16, 840, 1, 101, 3, 4, 2, 1] => Some(Digest::Sha256),
            [2, 16, 840, 1, 101, 3, 4, 2, 2] => Some(Digest::Sha384),
            [2, 16, 840, 1, 101, 3, 4, 2, 3] => Some(Digest::Sha512),
            _ => None,
        }
    }

    /// The digest algorithm's OID.
    pub fn oid(self) -> &'static [u64] {
        match self {
            Digest::Sha1 => &[1, 3, 14, 3, 2, 26],
            Digest::Sha256 => &[2, 16, 840, 1, 101, 3, 4, 2, 1],
            Digest::Sha384 => &[2, 16, 840, 1, 101, 3, 4, 2, 2],
            Digest::Sha512 => &[2, 16, 840, 1, 101, 3, 4, 2, 3],
        }
    }

    /// The digest of `data`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            Digest::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Digest::Sha256 => &digest::SHA256,
            Digest::Sha384 => &digest::SHA384,
            Digest::Sha512 => &digest::SHA512,
        };
        digest::digest(alg, data).as_ref().to_vec()
    }

    fn rsa_verification(self) -> &'static signature::RsaParameters {
        // 1024-bit signers are read (an old Apple device's self-signed request certificate)
        // so that the request can be refused for its key with a reason, not as unreadable.
        match self {
            Digest::Sha1 => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            Digest::Sha256 => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            Digest::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Digest::Sha512 => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        }
    }
}

/// One signed attribute: its type and values.
#[derive(Debug)]
pub struct Attribute<'a> {
    /// attrType
    pub oid: Vec<u64>,
    /// attrValues
    pub values: Vec<Tlv<'a>>,
}

/// A client's SignedData, read but not yet verified.
pub struct Signed<'a> {
    /// The encapsulated content (for SCEP requests: an EnvelopedData), if present.
    pub content: Option<Cow<'a, [u8]>>,
    /// Certificates carried in the message, DER.
    pub certificates: Vec<&'a [u8]>,
    /// The one signer's signed attributes.
    pub attributes: Vec<Attribute<'a>>,
    /// The signer's digest algorithm, if it is one this server knows.
    pub digest: Option<Digest>,
    signer_id: SignerId<'a>,
    signed_attrs_content: &'a [u8],
    signature: &'a [u8],
    signature_alg: Vec<u64>,
}

/// RFC 5652 §5.3 SignerIdentifier.
enum SignerId<'a> {
    /// issuerAndSerialNumber: the issuer Name's encoding and the serial's content octets.
    IssuerSerial(&'a [u8], &'a [u8]),
    /// subjectKeyIdentifier.
    KeyId(&'a [u8]),
}

/// Why a message failed, for a CertRep FAILURE (RFC 8894 §3.2.1.4).
#[derive(Debug)]
pub struct Refused {
    /// The failInfo code.
    pub info: FailInfo,
    /// A sentence for failInfoText and the log.
    pub text: String,
}

/// A [`Refused`] with `info` and `text`.
pub fn refuse(info: FailInfo, text: impl Into<String>) -> Refused {
    Refused {
        info,
        text: text.into(),
    }
}

/// Reads a ContentInfo holding a SignedData with exactly one signer.
pub fn read_signed(input: &[u8]) -> crate::error::Result<Signed<'_>> {
    let malformed = |w: &str| crate::error::Error::Malformed(format!("SCEP message: {w}"));
    let ci = der::read_all(input)?
        .expect(tag::SEQUENCE, "ContentInfo")?
        .children()?;
    let [ct, content] = ci.as_slice() else {
        return Err(malformed("ContentInfo must have a type and content"));
    };
    if !ct.is_oid(OID_SIGNED_DATA) {
        return Err(malformed("not a SignedData"));
    }
    let sd = content
        .expect(tag::context_constructed(0), "content")?
        .children()?;
    let sd = sd
        .first()
        .ok_or_else(|| malformed("empty content"))?
        .expect(tag::SEQUENCE, "SignedData")?
        .children()?;
    let mut it = sd.into_iter();
    let _version = it.next().ok_or_else(|| malformed("no version"))?;
    let _digest_algs = it.next().ok_or_else(|| malformed("no digestAlgorithms"))?;
    let encap = it
        .next()
        .ok_or_else(|| malformed("no encapContentInfo"))?
        .expect(tag::SEQUENCE, "encapContentInfo")?
        .children()?;
    let content = match encap.get(1) {
        Some(e) => {
            let inner = e
                .expect(tag::context_constructed(0), "eContent")?
                .children()?;
            let os = inner.first().ok_or_else(|| malformed("empty eContent"))?;
            if os.tag & !tag::CONSTRUCTED != tag::OCTET_STRING {
                return Err(malformed("eContent is not an OCTET STRING"));
            }
            Some(os.octets()?)
        }
        None => None,
    };
    let mut certificates = Vec::new();
    let mut next = it.next();
    if let Some(t) = next.filter(|t| t.tag == tag::context_constructed(0)) {
        for c in t.children()? {
            certificates.push(c.raw);
        }
        next = it.next();
    }
    if next.is_some_and(|t| t.tag == tag::context_constructed(1)) {
        next = it.next();
    }
    let signers = next
        .ok_or_else(|| malformed("no signerInfos"))?
        .expect(tag::SET, "signerInfos")?
        .children()?;
    let [signer] = signers.as_slice() else {
        return Err(malformed("exactly one signer is expected"));
    };
    let si = signer.expect(tag::SEQUENCE, "SignerInfo")?.children()?;
    let mut it = si.into_iter();
    let _version = it.next().ok_or_else(|| malformed("no signer version"))?;
    let sid = it.next().ok_or_else(|| malformed("no signer id"))?;
    let signer_id = match sid.tag {
        tag::SEQUENCE => match sid.children()?.as_slice() {
            [issuer, serial] => {
                SignerId::IssuerSerial(issuer.raw, serial.expect(tag::INTEGER, "serial")?.content)
            }
            _ => return Err(malformed("bad issuerAndSerialNumber")),
        },
        t if t == tag::context(0) => SignerId::KeyId(sid.content),
        _ => return Err(malformed("bad signer id")),
    };
    let digest_alg = it
        .next()
        .ok_or_else(|| malformed("no digestAlgorithm"))?
        .expect(tag::SEQUENCE, "digestAlgorithm")?
        .children()?;
    let digest = digest_alg
        .first()
        .and_then(|o| o.oid().ok())
        .and_then(|o| Digest::from_oid(&o));
    let attrs = it.next().ok_or_else(|| malformed("no signed attributes"))?;
    if attrs.tag != tag::context_constructed(0) || attrs.indefinite {
        return Err(malformed("signed attributes are required and must be DER"));
    }
    let mut attributes = Vec::new();
    for a in attrs.children()? {
        let parts = a.expect(tag::SEQUENCE, "Attribute")?.children()?;
        let [oid, values] = parts.as_slice() else {
            return Err(malformed("bad Attribute"));
        };
        attributes.push(Attribute {
            oid: oid.oid()?,
            values: values.expect(tag::SET, "attrValues")?.children()?,
        });
    }
    let sig_alg = it
        .next()
        .ok_or_else(|| malformed("no signatureAlgorithm"))?
        .expect(tag::SEQUENCE, "signatureAlgorithm")?
        .children()?;
    let signature_alg = sig_alg
        .first()
        .ok_or_else(|| malformed("empty signatureAlgorithm"))?
        .oid()?;
    let signature = it
        .next()
        .ok_or_else(|| malformed("no signature"))?
        .expect(tag::OCTET_STRING, "signature")?
        .content;
    Ok(Signed {
        content,
        certificates,
        attributes,
        digest,
        signer_id,
        signed_attrs_content: attrs.content,
        signature,
        signature_alg,
    })
}

impl<'a> Signed<'a> {
    /// The first value of the signed attribute `oid`.
    pub fn attribute(&self, oid: &[u64]) -> Option<&Tlv<'a>> {
        self.attributes
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.first())
    }

    /// The signer's certificate (DER) among the carried ones.
    pub fn signer_certificate(&self) -> Result<&'a [u8], Refused> {
        for c in &self.certificates {
            let Ok((_, cert)) = X509Certificate::from_der(c) else {
                continue;
            };
            let hit = match &self.signer_id {
                SignerId::IssuerSerial(issuer, serial) => {
                    cert.tbs_certificate.issuer.as_raw() == *issuer
                        && strip_zeros(cert.raw_serial()) == strip_zeros(serial)
                }
                SignerId::KeyId(kid) => cert.extensions().iter().any(|e| {
                    matches!(e.parsed_extension(),
                        x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) if k.0 == *kid)
                }),
            };
            if hit {
                return Ok(c);
            }
        }
        Err(refuse(
            FailInfo::BadCertId,
            "the signer's certificate is not in the message",
        ))
    }

    /// Checks the signature and the messageDigest of the content with the signer's
    /// certificate; answers that certificate (DER). SHA-1 only when `allow_sha1`.
    pub fn verify(&self, allow_sha1: bool) -> Result<&'a [u8], Refused> {
        let digest = self.digest.ok_or_else(|| {
            refuse(
                FailInfo::BadAlg,
                "unsupported digest algorithm in the signer info",
            )
        })?;
        if digest == Digest::Sha1 && !allow_sha1 {
            return Err(refuse(
                FailInfo::BadAlg,
                "SHA-1 is accepted only by profiles that allow legacy clients",
            ));
        }
        let signature_ok = match self.signature_alg.as_slice() {
            OID_RSA => true,
            [1, 2, 840, 113549, 1, 1, 5] => digest == Digest::Sha1,
            [1, 2, 840, 113549, 1, 1, 11] => digest == Digest::Sha256,
            [1, 2, 840, 113549, 1, 1, 12] => digest == Digest::Sha384,
            [1, 2, 840, 113549, 1, 1, 13] => digest == Digest::Sha512,
            _ => false,
        };
        if !signature_ok {
            return Err(refuse(
                FailInfo::BadAlg,
                "the signature must be RSA PKCS#1 v1.5 with the signer's digest algorithm",
            ));
        }
        let cert_der = self.signer_certificate()?;
        let (_, cert) = X509Certificate::from_der(cert_der).map_err(|_| {
            refuse(
                FailInfo::BadCertId,
                "the signer's certificate does not parse",
            )
        })?;
        let spki = cert.public_key();
        if !spki
            .algorithm
            .algorithm
            .to_id_string()
            .eq("1.2.840.113549.1.1.1")
        {
            return Err(refuse(
                FailInfo::BadAlg,
                "the signer's key must be RSA (the reply is encrypted to it)",
            ));
        }
        let expected = self
            .attribute(OID_MESSAGE_DIGEST)
            .filter(|t| t.tag == tag::OCTET_STRING)
            .ok_or_else(|| refuse(FailInfo::BadMessageCheck, "no messageDigest attribute"))?;
        let content: &[u8] = self.content.as_deref().unwrap_or(&[]);
        if digest.hash(content) != expected.content {
            return Err(refuse(
                FailInfo::BadMessageCheck,
                "messageDigest does not match the content",
            ));
        }
        let signed = der::encode(tag::SET, self.signed_attrs_content);
        UnparsedPublicKey::new(digest.rsa_verification(), &spki.subject_public_key.data)
            .verify(&signed, self.signature)
            .map_err(|_| refuse(FailInfo::BadMessageCheck, "the signature does not verify"))?;
        Ok(cert_der)
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&x| x == 0).count();
    &b[n..]
}

/// The signing key and certificate of the CA's replies (the RA).
pub struct Signer<'a> {
    /// Its certificate, DER: carried in the reply and named as the signer.
    pub cert_der: &'a [u8],
    /// Its RSA key.
    pub key: &'a RsaKeyPair,
}

/// An Attribute (type and one value) for signed attributes.
pub fn attribute(oid: &[u64], value: &[u8]) -> Vec<u8> {
    der::sequence(&[&der::encode_oid(oid), &der::set_of(&[value])])
}

/// Signs `content` (absent for a reply without content) with `signer` and SHA-256,
/// with `attrs` (encoded Attributes) beside contentType and messageDigest; `certs` are carried
/// after the signer's own certificate.
pub fn sign(
    content: Option<&[u8]>,
    attrs: &[Vec<u8>],
    signer: &Signer<'_>,
    certs: &[&[u8]],
    crls: &[&[u8]],
) -> crate::error::Result<Vec<u8>> {
    let key = signer.key;
    sign_with(
        content,
        attrs,
        signer.cert_der,
        Digest::Sha256,
        &mut |tbs| {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let mut sig = vec![0u8; key.public_modulus_len()];
            key.sign(&signature::RSA_PKCS1_SHA256, &rng, tbs, &mut sig)
                .map_err(|_| crate::error::Error::Internal("SCEP signing: RSA failed".into()))?;
            Ok(sig)
        },
        certs,
        crls,
    )
}

/// [`sign`] with any digest and an RSA PKCS#1 v1.5 signing function over the DER of the
/// signed attributes (tests build legacy SHA-1 messages with it).
pub fn sign_with(
    content: Option<&[u8]>,
    attrs: &[Vec<u8>],
    cert_der: &[u8],
    digest: Digest,
    rsa_sign: &mut dyn FnMut(&[u8]) -> crate::error::Result<Vec<u8>>,
    certs: &[&[u8]],
    crls: &[&[u8]],
) -> crate::error::Result<Vec<u8>> {
    let internal = |w: &str| crate::error::Error::Internal(format!("SCEP signing: {w}"));
    let (_, cert) = X509Certificate::from_der(cert_der)
        .map_err(|_| internal("signer certificate does not parse"))?;
    let mut all: Vec<Vec<u8>> = attrs.to_vec();
    all.push(attribute(OID_CONTENT_TYPE, &der::encode_oid(OID_DATA)));
    all.push(attribute(
        OID_MESSAGE_DIGEST,
        &der::encode(tag::OCTET_STRING, &digest.hash(content.unwrap_or(&[]))),
    ));
    let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    let signed_set = der::set_of(&refs);
    let sig = rsa_sign(&signed_set)?;
    let digest_alg = der::sequence(&[&der::encode_oid(digest.oid()), &[tag::NULL, 0]]);
    let sid = der::sequence(&[
        cert.tbs_certificate.issuer.as_raw(),
        &der::encode(tag::INTEGER, cert.raw_serial()),
    ]);
    let mut signed_attrs = signed_set.clone();
    signed_attrs[0] = tag::context_constructed(0);
    let signer_info = der::sequence(&[
        &der::encode(tag::INTEGER, &[1]),
        &sid,
        &digest_alg,
        &signed_attrs,
        &der::sequence(&[&der::encode_oid(OID_RSA), &[tag::NULL, 0]]),
        &der::encode(tag::OCTET_STRING, &sig),
    ]);
    let encap = match content {
        Some(c) => der::sequence(&[
            &der::encode_oid(OID_DATA),
            &der::encode(
                tag::context_constructed(0),
                &der::encode(tag::OCTET_STRING, c),
            ),
        ]),
        None => der::sequence(&[&der::encode_oid(OID_DATA)]),
    };
    let mut cert_list: Vec<&[u8]> = vec![cert_der];
    cert_list.extend_from_slice(certs);
    let mut parts: Vec<Vec<u8>> = vec![
        der::encode(tag::INTEGER, &[1]),
        der::set_of(&[&digest_alg]),
        encap,
        der::encode(tag::context_constructed(0), &cert_list.concat()),
    ];
    if !crls.is_empty() {
        parts.push(der::encode(tag::context_constructed(1), &crls.concat()));
    }
    parts.push(der::set_of(&[&signer_info]));
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok(content_info(&der::sequence(&parts)))
}

/// A ContentInfo of type signedData around `signed_data`.
fn content_info(signed_data: &[u8]) -> Vec<u8> {
    der::sequence(&[
        &der::encode_oid(OID_SIGNED_DATA),
        &der::encode(tag::context_constructed(0), signed_data),
    ])
}

/// A degenerate SignedData (no signers) with `certs` and `crls` (RFC 8894 §3.4: the
/// certificate or CRL in a CertRep).
pub fn degenerate(certs: &[&[u8]], crls: &[&[u8]]) -> Vec<u8> {
    let mut parts: Vec<Vec<u8>> = vec![
        der::encode(tag::INTEGER, &[1]),
        der::encode(tag::SET, &[]),
        der::sequence(&[&der::encode_oid(OID_DATA)]),
    ];
    if !certs.is_empty() {
        parts.push(der::encode(tag::context_constructed(0), &certs.concat()));
    }
    if !crls.is_empty() {
        parts.push(der::encode(tag::context_constructed(1), &crls.concat()));
    }
    parts.push(der::encode(tag::SET, &[]));
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    content_info(&der::sequence(&parts))
}
