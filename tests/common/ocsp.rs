//! OCSP requests (RFC 6960 §4.1) built by hand, and helpers to read the answers.

use super::Server;
use yasna::models::ObjectIdentifier;
use yasna::Tag;

const SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];
const SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];

/// The issuing CA's certificate (DER), second in the bundle.
pub fn issuing(s: &Server) -> Vec<u8> {
    enrolld::ca::pem_certs(&String::from_utf8(s.ca_bundle()).unwrap())
        .unwrap()
        .remove(1)
}

/// An OCSP request for `serials` of `issuer_der` with `hash`, and a nonce if given.
pub fn ocsp_request(
    issuer_der: &[u8],
    serials: &[Vec<u8>],
    sha256: bool,
    nonce: Option<&[u8]>,
) -> Vec<u8> {
    let (_, c) = x509_parser::parse_x509_certificate(issuer_der).unwrap();
    let alg = if sha256 {
        &aws_lc_rs::digest::SHA256
    } else {
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY
    };
    let name_hash = aws_lc_rs::digest::digest(alg, c.subject().as_raw());
    let key_hash = aws_lc_rs::digest::digest(alg, &c.public_key().subject_public_key.data);
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    for serial in serials {
                        w.next().write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_sequence(|w| {
                                    w.next().write_oid(&ObjectIdentifier::from_slice(if sha256 {
                                        SHA256
                                    } else {
                                        SHA1
                                    }));
                                    w.next().write_null();
                                });
                                w.next().write_bytes(name_hash.as_ref());
                                w.next().write_bytes(key_hash.as_ref());
                                w.next().write_bigint_bytes(serial, true);
                            });
                        });
                    }
                });
                if let Some(n) = nonce {
                    w.next().write_tagged(Tag::context(2), |w| {
                        w.write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_oid(&ObjectIdentifier::from_slice(&[
                                    1, 3, 6, 1, 5, 5, 7, 48, 1, 2,
                                ]));
                                w.next()
                                    .write_bytes(&yasna::construct_der(|w| w.write_bytes(n)));
                            });
                        });
                    });
                }
            });
        })
    })
}

pub async fn post_ocsp(s: &Server, req: Vec<u8>) -> Vec<u8> {
    let r = s
        .client()
        .post(s.url("/ocsp"))
        .header("content-type", "application/ocsp-request")
        .body(req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/ocsp-response");
    r.bytes().await.unwrap().to_vec()
}

/// Finds the DER of `needle` TLV inside `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub fn serial_bytes(der: &[u8]) -> Vec<u8> {
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    c.raw_serial().to_vec()
}
