//! CMS EnvelopedData (RFC 5652 §6) with RSA key transport, as SCEP uses it (RFC 8894 §3.2.2):
//! opening a client's pkcsPKIEnvelope with the RA key and sealing the CA's answer to the
//! requester's certificate.

use aws_lc_rs::cipher::{
    self, DecryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::rsa::{Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::cms::{refuse, Refused, OID_DATA};
use super::der::{self, tag};
use super::FailInfo;

/// id-envelopedData (RFC 5652 §6.1).
const OID_ENVELOPED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 3];
/// rsaEncryption: PKCS#1 v1.5 key transport.
const OID_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];

/// A content-encryption algorithm (RFC 8894 §3.5.2 capabilities `AES`, `DES3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// AES-128-CBC.
    Aes128,
    /// AES-192-CBC.
    Aes192,
    /// AES-256-CBC.
    Aes256,
    /// DES-EDE3-CBC: weak; only for profiles that allow legacy clients.
    DesEde3,
    /// DES-CBC (56-bit key): broken; only for profiles that allow legacy clients, because
    /// micromdm's scepclient 2.1 (Debian's `scep` package) and old network gear send nothing
    /// else. What it protects is a one-time challenge, spent by the request it travels in.
    Des,
}

impl Cipher {
    fn from_oid(arcs: &[u64]) -> Option<Cipher> {
        match arcs {
            [2, 16, 840, 1, 101, 3, 4, 1, 2] => Some(Cipher::Aes128),
            [2, 16, 840, 1, 101, 3, 4, 1, 22] => Some(Cipher::Aes192),
            [2, 16, 840, 1, 101, 3, 4, 1, 42] => Some(Cipher::Aes256),
            [1, 2, 840, 113549, 3, 7] => Some(Cipher::DesEde3),
            [1, 3, 14, 3, 2, 7] => Some(Cipher::Des),
            _ => None,
        }
    }

    fn oid(self) -> &'static [u64] {
        match self {
            Cipher::Aes128 => &[2, 16, 840, 1, 101, 3, 4, 1, 2],
            Cipher::Aes192 => &[2, 16, 840, 1, 101, 3, 4, 1, 22],
            Cipher::Aes256 => &[2, 16, 840, 1, 101, 3, 4, 1, 42],
            Cipher::DesEde3 => &[1, 2, 840, 113549, 3, 7],
            Cipher::Des => &[1, 3, 14, 3, 2, 7],
        }
    }

    #[allow(deprecated)] // DES, 3DES: legacy clients only, see the path's `legacy` setting.
    fn algorithm(self) -> &'static cipher::Algorithm {
        match self {
            Cipher::Aes128 => &cipher::AES_128,
            Cipher::Aes192 => &cipher::AES_192,
            Cipher::Aes256 => &cipher::AES_256,
            Cipher::DesEde3 => &cipher::DES_EDE3_FOR_LEGACY_USE_ONLY,
            Cipher::Des => &cipher::DES_FOR_LEGACY_USE_ONLY,
        }
    }

    /// DES or 3DES.
    pub fn is_legacy(self) -> bool {
        matches!(self, Cipher::DesEde3 | Cipher::Des)
    }

    fn key_len(self) -> usize {
        match self {
            Cipher::Aes128 => 16,
            Cipher::Aes192 | Cipher::DesEde3 => 24,
            Cipher::Aes256 => 32,
            Cipher::Des => 8,
        }
    }
}

/// An RA key that can open envelopes addressed to its certificate.
pub struct Recipient<'a> {
    /// The RA certificate (DER): envelopes name it by issuer and serial.
    pub cert_der: &'a [u8],
    /// Its RSA private key.
    pub key: &'a Pkcs1PrivateDecryptingKey,
}

/// What an opened envelope held, and how it was sealed (the reply is sealed the same way).
pub struct Opened {
    /// The plaintext (a PKCS#10 request, IssuerAndSubject or IssuerAndSerialNumber).
    pub content: Vec<u8>,
    /// The content-encryption algorithm the client chose.
    pub cipher: Cipher,
}

/// Opens an EnvelopedData addressed to one of `recipients`. DES and 3DES only when
/// `allow_legacy`.
///
/// A key-transport failure does not answer differently from a content failure (both are
/// `badMessageCheck` after a decryption with a random key), so the server is no padding
/// oracle for PKCS#1 v1.5 (Bleichenbacher).
pub fn open(
    input: &[u8],
    recipients: &[Recipient<'_>],
    allow_legacy: bool,
) -> Result<Opened, Refused> {
    let bad = |w: &str| refuse(FailInfo::BadRequest, format!("pkcsPKIEnvelope: {w}"));
    let parse =
        |e: crate::error::Error| refuse(FailInfo::BadRequest, e.public_message().to_owned());
    let ci = der::read_all(input)
        .map_err(parse)?
        .expect(tag::SEQUENCE, "ContentInfo")
        .map_err(parse)?
        .children()
        .map_err(parse)?;
    let [ct, content] = ci.as_slice() else {
        return Err(bad("ContentInfo must have a type and content"));
    };
    if !ct.is_oid(OID_ENVELOPED_DATA) {
        return Err(bad("not an EnvelopedData"));
    }
    let ed = content
        .expect(tag::context_constructed(0), "content")
        .and_then(|c| c.children())
        .map_err(parse)?;
    let ed = ed
        .first()
        .ok_or_else(|| bad("empty"))?
        .expect(tag::SEQUENCE, "EnvelopedData")
        .and_then(|e| e.children())
        .map_err(parse)?;
    let mut it = ed.into_iter();
    let _version = it.next().ok_or_else(|| bad("no version"))?;
    let mut next = it.next().ok_or_else(|| bad("no recipientInfos"))?;
    if next.tag == tag::context_constructed(0) {
        next = it.next().ok_or_else(|| bad("no recipientInfos"))?;
    }
    let infos = next
        .expect(tag::SET, "recipientInfos")
        .and_then(|s| s.children())
        .map_err(parse)?;
    let eci = it
        .next()
        .ok_or_else(|| bad("no encryptedContentInfo"))?
        .expect(tag::SEQUENCE, "encryptedContentInfo")
        .and_then(|e| e.children())
        .map_err(parse)?;
    let [_ct, alg, encrypted, ..] = eci.as_slice() else {
        return Err(bad("encryptedContentInfo without encrypted content"));
    };
    if encrypted.tag & !tag::CONSTRUCTED != tag::context(0) {
        return Err(bad("encryptedContent missing"));
    }
    let ciphertext = encrypted.octets().map_err(parse)?;
    let alg = alg.children().map_err(parse)?;
    let [alg_oid, iv] = alg.as_slice() else {
        return Err(bad("content-encryption algorithm without an IV"));
    };
    let alg_arcs = alg_oid.oid().unwrap_or_default();
    let cipher = Cipher::from_oid(&alg_arcs).ok_or_else(|| {
        let name: Vec<String> = alg_arcs.iter().map(u64::to_string).collect();
        refuse(
            FailInfo::BadAlg,
            format!(
                "content encryption {} is not accepted: use AES-CBC (or DES-EDE3-CBC on a legacy path)",
                name.join(".")
            ),
        )
    })?;
    if cipher.is_legacy() && !allow_legacy {
        return Err(refuse(
            FailInfo::BadAlg,
            "DES and DES-EDE3-CBC are accepted only on SCEP paths that allow legacy clients",
        ));
    }
    let iv = iv.expect(tag::OCTET_STRING, "IV").map_err(parse)?.content;

    // The KeyTransRecipientInfo addressed to one of our certificates.
    let mut chosen = None;
    for ri in &infos {
        if ri.tag != tag::SEQUENCE {
            continue; // not key transport (kari, kekri, …)
        }
        let parts = ri.children().map_err(parse)?;
        let [_v, rid, kea, ek, ..] = parts.as_slice() else {
            continue;
        };
        if !kea
            .children()
            .ok()
            .and_then(|k| k.first().map(|o| o.is_oid(OID_RSA)))
            .unwrap_or(false)
        {
            continue;
        }
        let Some(r) = recipients.iter().find(|r| addressed_to(rid, r.cert_der)) else {
            continue;
        };
        chosen = Some((r, ek.content));
        break;
    }
    let (recipient, encrypted_key) = chosen.ok_or_else(|| {
        refuse(
            FailInfo::BadCertId,
            "the message is not encrypted to this server's RA certificate (fetch GetCACert again)",
        )
    })?;
    let mut key_buf = vec![0u8; recipient.key.min_output_size()];
    let cek = match recipient.key.decrypt(encrypted_key, &mut key_buf) {
        Ok(k) if k.len() == cipher.key_len() => k.to_vec(),
        _ => crate::secrets::random_bytes(cipher.key_len())
            .map_err(|_| refuse(FailInfo::BadMessageCheck, "cannot decrypt"))?,
    };
    let content = decrypt(cipher, &cek, iv, &ciphertext)
        .ok_or_else(|| refuse(FailInfo::BadMessageCheck, "the envelope does not decrypt"))?;
    Ok(Opened { content, cipher })
}

/// Whether a RecipientIdentifier names `cert_der` (issuerAndSerialNumber or [0] SKI).
fn addressed_to(rid: &der::Tlv<'_>, cert_der: &[u8]) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return false;
    };
    match rid.tag {
        tag::SEQUENCE => match rid.children().as_deref() {
            Ok([issuer, serial]) => {
                issuer.raw == cert.tbs_certificate.issuer.as_raw()
                    && strip(serial.content) == strip(cert.raw_serial())
            }
            _ => false,
        },
        t if t == tag::context(0) => cert.extensions().iter().any(|e| {
            matches!(e.parsed_extension(),
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) if k.0 == rid.content)
        }),
        _ => false,
    }
}

fn strip(b: &[u8]) -> &[u8] {
    &b[b.iter().take_while(|&&x| x == 0).count()..]
}

fn decrypt(c: Cipher, key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
    let key = UnboundCipherKey::new(c.algorithm(), key).ok()?;
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(key).ok()?;
    let ctx = match c {
        Cipher::DesEde3 | Cipher::Des => {
            DecryptionContext::Iv64(aws_lc_rs::iv::FixedLength::<8>::try_from(iv).ok()?)
        }
        _ => DecryptionContext::Iv128(aws_lc_rs::iv::FixedLength::<16>::try_from(iv).ok()?),
    };
    let mut buf = ciphertext.to_vec();
    let plain = key.decrypt(&mut buf, ctx).ok()?;
    Some(plain.to_vec())
}

/// Seals `plain` to the RSA key of `recipient_der` with `c` (RFC 8894 §3.3.2: the CertRep's
/// envelope, readable only by the requester).
pub fn seal(plain: &[u8], recipient_der: &[u8], c: Cipher) -> crate::error::Result<Vec<u8>> {
    let internal = |w: &str| crate::error::Error::Internal(format!("SCEP envelope: {w}"));
    let (_, cert) = X509Certificate::from_der(recipient_der)
        .map_err(|_| internal("recipient certificate does not parse"))?;
    let cek = crate::secrets::random_bytes(c.key_len())?;
    let key = UnboundCipherKey::new(c.algorithm(), &cek).map_err(|_| internal("key"))?;
    let key = PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(|_| internal("key"))?;
    let mut buf = plain.to_vec();
    let ctx = key.encrypt(&mut buf).map_err(|_| internal("encrypt"))?;
    let iv: Vec<u8> = match &ctx {
        DecryptionContext::Iv64(iv) => iv.as_ref().to_vec(),
        DecryptionContext::Iv128(iv) => iv.as_ref().to_vec(),
        _ => return Err(internal("unexpected IV")),
    };
    let public = PublicEncryptingKey::from_der(cert.public_key().raw)
        .map_err(|_| internal("the requester's key is not RSA"))?;
    let public = Pkcs1PublicEncryptingKey::new(public).map_err(|_| internal("RSA key"))?;
    let mut ek = vec![0u8; public.ciphertext_size()];
    let ek = public
        .encrypt(&cek, &mut ek)
        .map_err(|_| internal("key transport"))?
        .to_vec();
    let rid = der::sequence(&[
        cert.tbs_certificate.issuer.as_raw(),
        &der::encode(tag::INTEGER, cert.raw_serial()),
    ]);
    let ktri = der::sequence(&[
        &der::encode(tag::INTEGER, &[0]),
        &rid,
        &der::sequence(&[&der::encode_oid(OID_RSA), &[tag::NULL, 0]]),
        &der::encode(tag::OCTET_STRING, &ek),
    ]);
    let eci = der::sequence(&[
        &der::encode_oid(OID_DATA),
        &der::sequence(&[
            &der::encode_oid(c.oid()),
            &der::encode(tag::OCTET_STRING, &iv),
        ]),
        &der::encode(tag::context(0), &buf),
    ]);
    let ed = der::sequence(&[
        &der::encode(tag::INTEGER, &[0]),
        &der::set_of(&[&ktri]),
        &eci,
    ]);
    Ok(der::sequence(&[
        &der::encode_oid(OID_ENVELOPED_DATA),
        &der::encode(tag::context_constructed(0), &ed),
    ]))
}
