//! PKCS#12 (RFC 7292) files for the pickup link: the server generated the key, issued the
//! certificate, and hands both over (with the CA chain) in a `.p12` protected by a passphrase.
//!
//! The layout is the one `openssl pkcs12 -export` writes, which every importer we care about
//! has seen many times:
//!
//! ```text
//! PFX { version 3,
//!       authSafe = ContentInfo(data) of AuthenticatedSafe [
//!           ContentInfo(encryptedData) of SafeContents [ CertBag (end entity), CertBag (CA)… ],
//!           ContentInfo(data)          of SafeContents [ pkcs8ShroudedKeyBag ] ],
//!       macData = HMAC over the authSafe content, key from the Appendix B KDF (ID 3) }
//! ```
//!
//! The key bag and the end-entity certificate bag carry the same friendlyName and localKeyId
//! (SHA-1 of the end-entity certificate, as OpenSSL computes it), which is how importers pair
//! them.
//!
//! Iteration counts (the only tunables; see [`P12Mode`] for the algorithms):
//! - [`P12Mode::Modern`]: 100 000 for each PBKDF2 run (certificates, key) and for the MAC.
//!   OpenSSL's default of 2048 is far below current guidance for offline guessing; 600 000
//!   (OWASP's figure for PBKDF2-HMAC-SHA256) is refused by .NET's PKCS#12 loader, whose default
//!   `Pkcs12LoaderLimits` allow at most 300 000 per KDF and 1 000 000 in total. The MAC gets the
//!   same count as PBKDF2 because it is an equally good oracle for guessing the passphrase.
//! - [`P12Mode::Legacy3Des`]: 2048 for the 3DES key/IV derivation and the MAC, OpenSSL's
//!   `PKCS12_DEFAULT_ITER`, the value the old importers this mode exists for were tested with.
//!   That is cheap to attack: legacy files need a high-entropy passphrase.

use std::num::NonZeroU32;

use aws_lc_rs::{cipher, digest, hmac, pbkdf2};
use rustls_pki_types::PrivateKeyDer;
use x509_parser::prelude::{FromDer, X509Certificate};
use yasna::models::ObjectIdentifier;
use yasna::{DERWriter, Tag};

use crate::error::{Error, Result};

/// Which encryption the file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P12Mode {
    /// AES-256-CBC with PBES2/PBKDF2-HMAC-SHA256 for key and certificates, HMAC-SHA256 MAC
    /// (OpenSSL 3's default; modern Windows, macOS 14+, Android, iOS).
    Modern,
    /// pbeWithSHAAnd3-KeyTripleDES-CBC for key and certificates, HMAC-SHA1 MAC (older macOS
    /// Keychain and Windows imports). Never RC2-40.
    Legacy3Des,
}

/// PBKDF2 iterations for [`P12Mode::Modern`] (see the module docs for why 100 000).
const PBKDF2_ITERATIONS: NonZeroU32 = NonZeroU32::new(100_000).unwrap();
/// MAC iterations for [`P12Mode::Modern`]: as many as PBKDF2, since the MAC verifies guesses too.
const MODERN_MAC_ITERATIONS: NonZeroU32 = PBKDF2_ITERATIONS;
/// Appendix B KDF iterations (3DES key/IV and MAC) for [`P12Mode::Legacy3Des`].
const LEGACY_ITERATIONS: NonZeroU32 = NonZeroU32::new(2048).unwrap();
/// Salt length for PBKDF2 and the MAC in [`P12Mode::Modern`] (RFC 8018 §4.1 asks for ≥ 8).
const MODERN_SALT_LEN: usize = 16;
/// Salt length in [`P12Mode::Legacy3Des`]: the 8 octets OpenSSL has always written.
const LEGACY_SALT_LEN: usize = 8;

/// RFC 5652 §4 id-data.
const OID_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 1];
/// RFC 5652 §8 id-encryptedData.
const OID_ENCRYPTED_DATA: &[u64] = &[1, 2, 840, 113549, 1, 7, 6];
/// RFC 7292 §4.2.2 pkcs8ShroudedKeyBag.
const OID_SHROUDED_KEY_BAG: &[u64] = &[1, 2, 840, 113549, 1, 12, 10, 1, 2];
/// RFC 7292 §4.2.3 certBag.
const OID_CERT_BAG: &[u64] = &[1, 2, 840, 113549, 1, 12, 10, 1, 3];
/// RFC 7292 §4.2.3 x509Certificate (certTypes).
const OID_X509_CERTIFICATE: &[u64] = &[1, 2, 840, 113549, 1, 9, 22, 1];
/// RFC 2985 §5.5.1 friendlyName (PKCS#9), used by RFC 7292 §4.2 bag attributes.
const OID_FRIENDLY_NAME: &[u64] = &[1, 2, 840, 113549, 1, 9, 20];
/// RFC 2985 §5.5.2 localKeyId.
const OID_LOCAL_KEY_ID: &[u64] = &[1, 2, 840, 113549, 1, 9, 21];
/// RFC 7292 Appendix C pbeWithSHAAnd3-KeyTripleDES-CBC.
const OID_PBE_SHA1_3DES: &[u64] = &[1, 2, 840, 113549, 1, 12, 1, 3];
/// RFC 8018 Appendix A.4 id-PBES2.
const OID_PBES2: &[u64] = &[1, 2, 840, 113549, 1, 5, 13];
/// RFC 8018 Appendix A.2 id-PBKDF2.
const OID_PBKDF2: &[u64] = &[1, 2, 840, 113549, 1, 5, 12];
/// RFC 8018 Appendix B.1.2 hmacWithSHA256.
const OID_HMAC_SHA256: &[u64] = &[1, 2, 840, 113549, 2, 9];
/// RFC 8018 Appendix B.2.5 / NIST aes256-CBC-PAD.
const OID_AES256_CBC: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 1, 42];
/// id-sha1 (RFC 3279 §2.2.1), the Legacy3Des MAC digest.
const OID_SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];
/// id-sha256 (RFC 5754 §2.2), the Modern MAC digest.
const OID_SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];

/// Builds a PFX: `key_pkcs8` (PKCS#8 DER of the private key), `chain` (end-entity certificate
/// DER first, then the CA certificates), `friendly_name` (bag attribute; omitted when empty),
/// `passphrase` (UTF-8; encoded as BMPString with trailing NUL for the PKCS#12 KDF, as UTF-8
/// bytes for PBKDF2, as OpenSSL does). Iteration counts are in the module docs.
///
/// Fails with [`Error::Malformed`] for an empty passphrase (importers disagree on what an
/// empty one means, RFC 7292 Appendix B.1) or one containing NUL, and for
/// [`P12Mode::Legacy3Des`] in this build; with [`Error::Internal`] when the key is not PKCS#8,
/// a certificate does not parse, or the key does not belong to the first certificate.
pub fn build(
    key_pkcs8: &[u8],
    chain: &[Vec<u8>],
    friendly_name: &str,
    passphrase: &str,
    mode: P12Mode,
) -> Result<Vec<u8>> {
    if passphrase.is_empty() || passphrase.contains('\0') {
        return Err(Error::Malformed(
            "the PKCS#12 passphrase must be non-empty and contain no NUL".into(),
        ));
    }
    let end_entity = chain
        .first()
        .ok_or_else(|| Error::Internal("PKCS#12: no certificate".into()))?;
    check_inputs(key_pkcs8, chain)?;
    let pass = Passphrase::new(passphrase);
    let local_key_id = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, end_entity);
    let attrs = BagAttributes {
        friendly_name,
        local_key_id: local_key_id.as_ref(),
    };

    // RFC 7292 §4.2.3: one CertBag per certificate, the end entity's with attributes.
    let cert_bags = yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            for (i, der) in chain.iter().enumerate() {
                let value = yasna::construct_der(|w| {
                    w.write_sequence(|w| {
                        w.next().write_oid(&oid(OID_X509_CERTIFICATE));
                        w.next()
                            .write_tagged(Tag::context(0), |w| w.write_bytes(der));
                    })
                });
                safe_bag(w.next(), OID_CERT_BAG, &value, (i == 0).then_some(&attrs));
            }
        })
    });
    let (certs_alg, certs_ciphertext) = encrypt(mode, &pass, &cert_bags)?;

    // RFC 7292 §4.2.2: the key as an RFC 5208 EncryptedPrivateKeyInfo.
    let (key_alg, key_ciphertext) = encrypt(mode, &pass, key_pkcs8)?;
    let shrouded_key = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(&key_alg);
            w.next().write_bytes(&key_ciphertext);
        })
    });
    let key_bags = yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            safe_bag(w.next(), OID_SHROUDED_KEY_BAG, &shrouded_key, Some(&attrs));
        })
    });

    // RFC 7292 §4.1: AuthenticatedSafe.
    let auth_safe = yasna::construct_der(|w| {
        w.write_sequence_of(|w| {
            w.next().write_sequence(|w| {
                w.next().write_oid(&oid(OID_ENCRYPTED_DATA));
                w.next().write_tagged(Tag::context(0), |w| {
                    // RFC 5652 §8 EncryptedData, §6.1 EncryptedContentInfo.
                    w.write_sequence(|w| {
                        w.next().write_u8(0);
                        w.next().write_sequence(|w| {
                            w.next().write_oid(&oid(OID_DATA));
                            w.next().write_der(&certs_alg);
                            w.next().write_tagged_implicit(Tag::context(0), |w| {
                                w.write_bytes(&certs_ciphertext)
                            });
                        });
                    })
                });
            });
            data_content_info(w.next(), &key_bags);
        })
    });

    let mac_data = mac(mode, &pass, &auth_safe)?;
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(3);
            data_content_info(w.next(), &auth_safe);
            w.next().write_der(&mac_data);
        })
    }))
}

/// The key must be PKCS#8 and belong to the end-entity certificate; every certificate must be
/// X.509. The caller made all of them, so a mismatch is a bug, caught here rather than by the
/// person whose import fails.
fn check_inputs(key_pkcs8: &[u8], chain: &[Vec<u8>]) -> Result<()> {
    let bug = |m: &str| Error::Internal(format!("PKCS#12: {m}"));
    let Ok(PrivateKeyDer::Pkcs8(pkcs8)) = PrivateKeyDer::try_from(key_pkcs8) else {
        return Err(bug("the key is not PKCS#8"));
    };
    let key = rcgen::KeyPair::try_from(&pkcs8).map_err(|_| bug("the key does not parse"))?;
    let mut spkis = chain
        .iter()
        .map(|der| match X509Certificate::from_der(der) {
            Ok(([], cert)) => Ok(cert.public_key().raw.to_vec()),
            _ => Err(bug("a certificate does not parse")),
        });
    let end_entity_spki = spkis.next().transpose()?;
    spkis.try_for_each(|r| r.map(drop))?;
    if end_entity_spki.as_deref()
        != Some(rcgen::PublicKeyData::subject_public_key_info(&key).as_slice())
    {
        return Err(bug("the key does not match the first certificate"));
    }
    Ok(())
}

/// The passphrase in the two encodings the algorithms use.
struct Passphrase<'a> {
    /// UTF-8, as PBKDF2 takes it (RFC 8018 §3 leaves the encoding open; OpenSSL uses UTF-8).
    utf8: &'a [u8],
    /// RFC 7292 Appendix B.1: BMPString (UTF-16BE) followed by two zero octets, for the
    /// Appendix B KDF. Characters outside the BMP become surrogate pairs, as in OpenSSL.
    bmp: Vec<u8>,
}

impl<'a> Passphrase<'a> {
    fn new(p: &'a str) -> Self {
        let mut bmp: Vec<u8> = p.encode_utf16().flat_map(u16::to_be_bytes).collect();
        bmp.extend_from_slice(&[0, 0]);
        Passphrase {
            utf8: p.as_bytes(),
            bmp,
        }
    }
}

/// RFC 7292 §4.2 bag attributes shared by the key bag and the end-entity certificate bag.
struct BagAttributes<'a> {
    /// friendlyName: the name importers show; omitted when empty.
    friendly_name: &'a str,
    /// localKeyId: pairs the key with its certificate.
    local_key_id: &'a [u8],
}

/// RFC 7292 §4.2 SafeBag: `bagValue` is the DER of the bag's content.
fn safe_bag(w: DERWriter, bag_id: &[u64], value: &[u8], attrs: Option<&BagAttributes>) {
    w.write_sequence(|w| {
        w.next().write_oid(&oid(bag_id));
        w.next()
            .write_tagged(Tag::context(0), |w| w.write_der(value));
        if let Some(a) = attrs {
            w.next().write_set_of(|w| {
                if !a.friendly_name.is_empty() {
                    attribute(w.next(), OID_FRIENDLY_NAME, |w| {
                        w.write_bmp_string(a.friendly_name)
                    });
                }
                attribute(w.next(), OID_LOCAL_KEY_ID, |w| {
                    w.write_bytes(a.local_key_id)
                });
            });
        }
    });
}

/// RFC 7292 §4.2 PKCS12Attribute with a single value.
fn attribute(w: DERWriter, id: &[u64], value: impl FnOnce(DERWriter)) {
    w.write_sequence(|w| {
        w.next().write_oid(&oid(id));
        w.next().write_set_of(|w| value(w.next()));
    });
}

/// RFC 5652 §4 ContentInfo of type data holding `content`.
fn data_content_info(w: DERWriter, content: &[u8]) {
    w.write_sequence(|w| {
        w.next().write_oid(&oid(OID_DATA));
        w.next()
            .write_tagged(Tag::context(0), |w| w.write_bytes(content));
    });
}

/// Encrypts `plaintext` with a fresh salt; returns (AlgorithmIdentifier DER, ciphertext).
fn encrypt(mode: P12Mode, pass: &Passphrase, plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    match mode {
        P12Mode::Modern => {
            // RFC 8018 §6.2 PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC (PKCS#7 padding).
            let salt = random(MODERN_SALT_LEN)?;
            let mut key = [0u8; 32];
            pbkdf2::derive(
                pbkdf2::PBKDF2_HMAC_SHA256,
                PBKDF2_ITERATIONS,
                &salt,
                pass.utf8,
                &mut key,
            );
            let (iv, ciphertext) = aes256_cbc(&key, plaintext)?;
            let alg = yasna::construct_der(|w| {
                w.write_sequence(|w| {
                    w.next().write_oid(&oid(OID_PBES2));
                    w.next().write_sequence(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_oid(&oid(OID_PBKDF2));
                            // RFC 8018 Appendix A.2 PBKDF2-params; keyLength is implied by
                            // AES-256 and omitted, as OpenSSL does.
                            w.next().write_sequence(|w| {
                                w.next().write_bytes(&salt);
                                w.next().write_u32(PBKDF2_ITERATIONS.get());
                                w.next().write_sequence(|w| {
                                    w.next().write_oid(&oid(OID_HMAC_SHA256));
                                    w.next().write_null();
                                });
                            });
                        });
                        w.next().write_sequence(|w| {
                            w.next().write_oid(&oid(OID_AES256_CBC));
                            w.next().write_bytes(&iv);
                        });
                    });
                })
            });
            Ok((alg, ciphertext))
        }
        P12Mode::Legacy3Des => {
            // RFC 7292 Appendix B.2 (ID 1: key, ID 2: IV) and Appendix C pkcs-12PbeParams.
            let salt = random(LEGACY_SALT_LEN)?;
            let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
            let key = kdf(sha1, KDF_KEY, &pass.bmp, &salt, LEGACY_ITERATIONS, 24);
            let iv = kdf(sha1, KDF_IV, &pass.bmp, &salt, LEGACY_ITERATIONS, 8);
            let ciphertext = des_ede3_cbc(&key, &iv, plaintext)?;
            let alg = yasna::construct_der(|w| {
                w.write_sequence(|w| {
                    w.next().write_oid(&oid(OID_PBE_SHA1_3DES));
                    w.next().write_sequence(|w| {
                        w.next().write_bytes(&salt);
                        w.next().write_u32(LEGACY_ITERATIONS.get());
                    });
                })
            });
            Ok((alg, ciphertext))
        }
    }
}

/// RFC 7292 §4 MacData over `auth_safe` (the content of the PFX's authSafe OCTET STRING),
/// keyed by the Appendix B KDF with ID 3 and the MAC's own digest (Appendix B.4).
fn mac(mode: P12Mode, pass: &Passphrase, auth_safe: &[u8]) -> Result<Vec<u8>> {
    let (digest_alg, hmac_alg, digest_oid, salt_len, iterations) = match mode {
        P12Mode::Modern => (
            &digest::SHA256,
            hmac::HMAC_SHA256,
            OID_SHA256,
            MODERN_SALT_LEN,
            MODERN_MAC_ITERATIONS,
        ),
        P12Mode::Legacy3Des => (
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            OID_SHA1,
            LEGACY_SALT_LEN,
            LEGACY_ITERATIONS,
        ),
    };
    let salt = random(salt_len)?;
    let key = kdf(
        digest_alg,
        KDF_MAC,
        &pass.bmp,
        &salt,
        iterations,
        digest_alg.output_len(),
    );
    let tag = hmac::sign(&hmac::Key::new(hmac_alg, &key), auth_safe);
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            // DigestInfo; parameters NULL as OpenSSL writes them.
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_oid(&oid(digest_oid));
                    w.next().write_null();
                });
                w.next().write_bytes(tag.as_ref());
            });
            w.next().write_bytes(&salt);
            w.next().write_u32(iterations.get());
        })
    }))
}

/// RFC 7292 Appendix B.3 diversifier ID for encryption keys.
const KDF_KEY: u8 = 1;
/// Appendix B.3 ID for IVs.
const KDF_IV: u8 = 2;
/// Appendix B.3 ID for MAC keys.
const KDF_MAC: u8 = 3;

/// RFC 7292 Appendix B.2: derives `n` octets from `password` (BMPString with its trailing NUL,
/// Appendix B.1), `salt` and the diversifier `id`, with hash `alg` (u = output length,
/// v = block length).
fn kdf(
    alg: &'static digest::Algorithm,
    id: u8,
    password: &[u8],
    salt: &[u8],
    iterations: NonZeroU32,
    n: usize,
) -> Vec<u8> {
    let v = alg.block_len();
    // Steps 1–4: D = v copies of ID; I = S || P, each repeated to a multiple of v octets.
    let diversifier = vec![id; v];
    let stretch = |x: &[u8]| -> Vec<u8> {
        let len = v * x.len().div_ceil(v);
        x.iter().cycle().take(len).copied().collect()
    };
    let mut i = stretch(salt);
    i.extend(stretch(password));
    let mut out = Vec::with_capacity(n + alg.output_len());
    loop {
        // Step 6A: A_i = H^r(D || I).
        let mut ctx = digest::Context::new(alg);
        ctx.update(&diversifier);
        ctx.update(&i);
        let mut a = ctx.finish();
        for _ in 1..iterations.get() {
            a = digest::digest(alg, a.as_ref());
        }
        out.extend_from_slice(a.as_ref());
        if out.len() >= n {
            out.truncate(n);
            return out;
        }
        // Steps 6B–C: B = A_i repeated to v octets; I_j = (I_j + B + 1) mod 2^(8v) for each
        // v-octet block I_j of I.
        let b: Vec<u8> = a.as_ref().iter().cycle().take(v).copied().collect();
        for block in i.chunks_mut(v) {
            let mut carry = 1u16;
            for (x, y) in block.iter_mut().rev().zip(b.iter().rev()) {
                let sum = u16::from(*x) + u16::from(*y) + carry;
                *x = sum.to_be_bytes()[1];
                carry = sum >> 8;
            }
        }
    }
}

/// AES-256-CBC with PKCS#7 padding and a random IV; returns (IV, ciphertext).
fn aes256_cbc(key: &[u8], plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let key = cipher::UnboundCipherKey::new(&cipher::AES_256, key).map_err(crypto_failure)?;
    let key = cipher::PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(crypto_failure)?;
    let mut buf = plaintext.to_vec();
    let context = key.encrypt(&mut buf).map_err(crypto_failure)?;
    let iv: &[u8] = (&context).try_into().map_err(crypto_failure)?;
    Ok((iv.to_vec(), buf))
}

/// DES-EDE3-CBC with PKCS#7 padding; key and IV come from RFC 7292 Appendix B.2.
#[allow(deprecated)] // aws-lc-rs marks 3DES deprecated: it is here only for old importers.
fn des_ede3_cbc(key: &[u8], iv: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let key = cipher::UnboundCipherKey::new(&cipher::DES_EDE3_FOR_LEGACY_USE_ONLY, key)
        .map_err(crypto_failure)?;
    let key = cipher::PaddedBlockEncryptingKey::cbc_pkcs7(key).map_err(crypto_failure)?;
    let iv = aws_lc_rs::iv::FixedLength::<8>::try_from(iv).map_err(crypto_failure)?;
    let mut buf = plaintext.to_vec();
    key.less_safe_encrypt(&mut buf, cipher::EncryptionContext::Iv64(iv))
        .map_err(crypto_failure)?;
    Ok(buf)
}

/// `len` random octets from aws-lc-rs.
fn random(len: usize) -> Result<Vec<u8>> {
    let mut salt = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut salt).map_err(crypto_failure)?;
    Ok(salt)
}

fn crypto_failure(_: aws_lc_rs::error::Unspecified) -> Error {
    Error::Internal("PKCS#12: aws-lc-rs failure".into())
}

fn oid(components: &[u64]) -> ObjectIdentifier {
    ObjectIdentifier::from_slice(components)
}

#[cfg(test)]
#[path = "pkcs12_tests.rs"]
mod tests;
