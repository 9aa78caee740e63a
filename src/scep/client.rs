//! The message side of a SCEP client (RFC 8894 §3): a requester with an RSA key and a
//! self-signed (or issued) certificate that builds pkiMessages and reads CertReps. The server
//! does not use it; the flow tests and the load driver (`enrolld-bench scep`) do, so that both
//! speak SCEP exactly as the server reads it, with no second implementation.

use aws_lc_rs::rsa::{Pkcs1PrivateDecryptingKey, PrivateDecryptingKey};
use aws_lc_rs::signature::{self, RsaKeyPair};

use super::cms::{self, Digest};
use super::der::{self, tag};
use super::envelope::{self, Cipher, Recipient};
use super::message as m;
use crate::ca::{keys, KeyType};
use crate::error::{Error, Result};

/// A SCEP requester: an RSA key, its certificate, and the same key for opening replies.
pub struct Requester {
    /// The key (rcgen), for CSRs.
    pub key: rcgen::KeyPair,
    /// The key, for signing messages.
    signing: RsaKeyPair,
    /// The key, for opening the CertRep's envelope.
    decrypting: Pkcs1PrivateDecryptingKey,
    /// The certificate that signs the messages (self-signed, or issued for a renewal).
    pub cert: Vec<u8>,
}

/// How one message is built.
pub struct Build<'a> {
    /// messageType (`"19"` PKCSReq, `"17"` RenewalReq, `"20"` CertPoll, `"21"` GetCert, `"22"`
    /// GetCRL; anything else to test refusals).
    pub message_type: &'a str,
    /// transactionID.
    pub transaction_id: &'a str,
    /// senderNonce.
    pub nonce: [u8; 16],
    /// Content encryption.
    pub cipher: Cipher,
    /// Digest of the signature.
    pub digest: Digest,
    /// A signingTime (UTCTime text), if any.
    pub signing_time: Option<&'a str>,
}

impl Default for Build<'_> {
    fn default() -> Self {
        Build {
            message_type: "19",
            transaction_id: "txn-1",
            nonce: random16(),
            cipher: Cipher::Aes256,
            digest: Digest::Sha256,
            signing_time: None,
        }
    }
}

/// 16 random octets (a senderNonce).
pub fn random16() -> [u8; 16] {
    let mut n = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut n);
    n
}

/// What a CertRep said.
#[derive(Debug)]
pub struct Rep {
    /// pkiStatus: `"0"` SUCCESS, `"2"` FAILURE, `"3"` PENDING.
    pub status: String,
    /// failInfo.
    pub fail_info: Option<String>,
    /// failInfoText.
    pub fail_text: Option<String>,
    /// The transactionID echoed.
    pub transaction_id: String,
    /// recipientNonce (the request's senderNonce).
    pub recipient_nonce: Vec<u8>,
    /// The certificates of a SUCCESS.
    pub certs: Vec<Vec<u8>>,
    /// The CRLs of a SUCCESS to GetCRL.
    pub crls: Vec<Vec<u8>>,
}

fn client_error(what: &str) -> Error {
    Error::Malformed(format!("SCEP reply: {what}"))
}

impl Requester {
    /// A fresh RSA-2048 key with a self-signed certificate named `SCEP SIGNER`.
    pub fn new() -> Result<Requester> {
        let key = keys::generate(KeyType::Rsa2048)?;
        let mut params = rcgen::CertificateParams::new(vec![])?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "SCEP SIGNER");
        let cert = params.self_signed(&key)?.der().to_vec();
        Requester::with(key, cert)
    }

    /// A requester signing with `key` and `cert` (an issued certificate, for RenewalReq).
    pub fn with(key: rcgen::KeyPair, cert: Vec<u8>) -> Result<Requester> {
        let pkcs8 = key.serialize_der();
        let bad = |_| Error::Malformed("the requester's key must be RSA".into());
        Ok(Requester {
            signing: RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| bad(()))?,
            decrypting: PrivateDecryptingKey::from_pkcs8(&pkcs8)
                .ok()
                .and_then(|k| Pkcs1PrivateDecryptingKey::new(k).ok())
                .ok_or_else(|| bad(()))?,
            key,
            cert,
        })
    }

    /// A CSR with the subject template-filling clients send (an Apple-style CN, O and C)
    /// and `challenge` as challengePassword.
    pub fn csr(&self, challenge: Option<&str>) -> Result<Vec<u8>> {
        let mut params = rcgen::CertificateParams::new(vec![])?;
        let dn = &mut params.distinguished_name;
        dn.push(
            rcgen::DnType::CommonName,
            "com.apple.security.scep.6A9A2A3C-0000-4000-8000-000000000001",
        );
        dn.push(rcgen::DnType::OrganizationName, "scep-client");
        dn.push(rcgen::DnType::CountryName, "US");
        let attrs = challenge
            .map(|c| {
                vec![rcgen::Attribute {
                    oid: &[1, 2, 840, 113549, 1, 9, 7],
                    values: der::set_of(&[&der::encode(tag::UTF8_STRING, c.as_bytes())]),
                }]
            })
            .unwrap_or_default();
        Ok(params
            .serialize_request_with_attributes(&self.key, attrs)?
            .der()
            .to_vec())
    }

    /// A pkiMessage with `content` sealed to `to` (the RA certificate), signed with SHA-256.
    pub fn message(&self, b: &Build<'_>, content: &[u8], to: &[u8]) -> Result<Vec<u8>> {
        let signing = &self.signing;
        let mut sign = |tbs: &[u8]| -> Result<Vec<u8>> {
            let mut sig = vec![0u8; signing.public_modulus_len()];
            signing
                .sign(
                    &signature::RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    tbs,
                    &mut sig,
                )
                .map_err(|_| Error::Internal("RSA signing failed".into()))?;
            Ok(sig)
        };
        let b = Build {
            digest: Digest::Sha256,
            ..*b
        };
        self.message_signed_by(&b, content, to, &mut sign)
    }

    /// A pkiMessage signed by `sign` (RSA PKCS#1 v1.5 over the signed attributes with
    /// `b.digest`): for digests aws-lc-rs does not sign with (SHA-1).
    pub fn message_signed_by(
        &self,
        b: &Build<'_>,
        content: &[u8],
        to: &[u8],
        sign: &mut dyn FnMut(&[u8]) -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let sealed = envelope::seal(content, to, b.cipher)?;
        let printable = |s: &str| der::encode(tag::PRINTABLE_STRING, s.as_bytes());
        let mut attrs = vec![
            cms::attribute(m::OID_TRANSACTION_ID, &printable(b.transaction_id)),
            cms::attribute(m::OID_MESSAGE_TYPE, &printable(b.message_type)),
            cms::attribute(
                m::OID_SENDER_NONCE,
                &der::encode(tag::OCTET_STRING, &b.nonce),
            ),
        ];
        if let Some(t) = b.signing_time {
            attrs.push(cms::attribute(
                cms::OID_SIGNING_TIME,
                &der::encode(tag::UTC_TIME, t.as_bytes()),
            ));
        }
        cms::sign_with(Some(&sealed), &attrs, &self.cert, b.digest, sign, &[], &[])
    }

    /// Reads a CertRep: checks its signature with `ra_cert` (SHA-1 accepted when
    /// `allow_sha1`: other servers sign with it) and opens its envelope.
    pub fn read(&self, reply: &[u8], ra_cert: &[u8], allow_sha1: bool) -> Result<Rep> {
        let signed = cms::read_signed(reply)?;
        let signer = signed
            .verify(allow_sha1)
            .map_err(|r| client_error(&r.text))?;
        if signer != ra_cert {
            return Err(client_error("not signed by the RA certificate"));
        }
        let text = |oid: &[u64]| -> Option<String> {
            signed
                .attribute(oid)
                .and_then(|t| t.text().ok())
                .map(str::to_owned)
        };
        if text(m::OID_MESSAGE_TYPE).as_deref() != Some("3") {
            return Err(client_error("not a CertRep"));
        }
        let mut rep = Rep {
            status: text(m::OID_PKI_STATUS).ok_or_else(|| client_error("no pkiStatus"))?,
            fail_info: text(m::OID_FAIL_INFO),
            fail_text: text(m::OID_FAIL_INFO_TEXT),
            transaction_id: text(m::OID_TRANSACTION_ID)
                .ok_or_else(|| client_error("no transactionID"))?,
            recipient_nonce: signed
                .attribute(m::OID_RECIPIENT_NONCE)
                .map(|t| t.content.to_vec())
                .unwrap_or_default(),
            certs: vec![],
            crls: vec![],
        };
        if let Some(content) = &signed.content {
            if !content.is_empty() {
                let opened = envelope::open(
                    content,
                    &[Recipient {
                        cert_der: &self.cert,
                        key: &self.decrypting,
                    }],
                    true,
                )
                .map_err(|r| client_error(&r.text))?;
                let d = degenerate_contents(&opened.content)?;
                rep.certs = d.certs;
                rep.crls = d.crls;
            }
        }
        Ok(rep)
    }
}

/// What a degenerate SignedData carries.
pub struct Degenerate {
    /// Certificates, DER.
    pub certs: Vec<Vec<u8>>,
    /// CRLs, DER.
    pub crls: Vec<Vec<u8>>,
}

/// The certificates and CRLs of a degenerate SignedData.
pub fn degenerate_contents(input: &[u8]) -> Result<Degenerate> {
    let ci = der::read_all(input)?.children()?;
    let sd = ci
        .get(1)
        .ok_or_else(|| client_error("empty ContentInfo"))?
        .children()?;
    let sd = sd
        .first()
        .ok_or_else(|| client_error("empty SignedData"))?
        .children()?;
    let (mut certs, mut crls) = (vec![], vec![]);
    for part in sd {
        if part.tag == tag::context_constructed(0) {
            certs = part.children()?.iter().map(|c| c.raw.to_vec()).collect();
        }
        if part.tag == tag::context_constructed(1) {
            crls = part.children()?.iter().map(|c| c.raw.to_vec()).collect();
        }
    }
    Ok(Degenerate { certs, crls })
}
