//! Named JWS cases: every accepted algorithm, and the classic attacks.

use super::*;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::json;

fn e(b: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(b)
}

fn es256() -> (EcdsaKeyPair, Value) {
    let k = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let p = k.public_key().as_ref().to_vec();
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": e(&p[1..33]), "y": e(&p[33..65])});
    (k, jwk)
}

fn sign_with(header: &Value, payload: &str, sign: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let p = e(header.to_string().as_bytes());
    let pl = e(payload.as_bytes());
    let sig = sign(format!("{p}.{pl}").as_bytes());
    json!({"protected": p, "payload": pl, "signature": e(&sig)})
        .to_string()
        .into_bytes()
}

fn sign_es256(k: &EcdsaKeyPair, header: &Value, payload: &str) -> Vec<u8> {
    sign_with(header, payload, |m| {
        k.sign(&SystemRandom::new(), m).unwrap().as_ref().to_vec()
    })
}

#[test]
fn ok_es256_roundtrip_and_thumbprint() {
    let (k, jwk) = es256();
    let body = sign_es256(
        &k,
        &json!({"alg": "ES256", "jwk": jwk, "nonce": "n", "url": "https://x/acme/new-account"}),
        "{}",
    );
    let jws = Jws::parse(&body).unwrap();
    let key = jws.protected.jwk.clone().unwrap();
    jws.verify(&key).unwrap();
    assert_eq!(jws.protected.url, "https://x/acme/new-account");
    assert_eq!(key.thumbprint().len(), 43);
}

#[test]
fn ok_eddsa() {
    let k = Ed25519KeyPair::generate().unwrap();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": e(k.public_key().as_ref())});
    let body = sign_with(&json!({"alg": "EdDSA", "jwk": jwk, "url": "u"}), "", |m| {
        k.sign(m).as_ref().to_vec()
    });
    let jws = Jws::parse(&body).unwrap();
    assert!(jws.is_post_as_get());
    jws.verify(jws.protected.jwk.as_ref().unwrap()).unwrap();
}

#[test]
fn rfc7638_thumbprint_vector() {
    // RFC 7638 §3.1 example key and thumbprint.
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    assert_eq!(
        Jwk::from_json(&jwk).unwrap().thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn fail_jws_alg_none() {
    let (_k, jwk) = es256();
    let body = sign_with(
        &json!({"alg": "none", "jwk": jwk, "url": "u"}),
        "{}",
        |_| vec![],
    );
    assert!(
        matches!(Jws::parse(&body), Err(Error::Acme(a)) if a.kind == AcmeProblem::BadSignatureAlgorithm)
    );
}

#[test]
fn fail_jws_hmac_as_public_key_confusion() {
    // HS256 keyed with the public key bytes: refused before any MAC is computed.
    let (_k, jwk) = es256();
    let body = sign_with(
        &json!({"alg": "HS256", "jwk": jwk, "url": "u"}),
        "{}",
        |m| {
            let key =
                aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, jwk.to_string().as_bytes());
            aws_lc_rs::hmac::sign(&key, m).as_ref().to_vec()
        },
    );
    assert!(
        matches!(Jws::parse(&body), Err(Error::Acme(a)) if a.kind == AcmeProblem::BadSignatureAlgorithm)
    );
}

#[test]
fn fail_jws_alg_key_mismatch() {
    let (k, jwk) = es256();
    let body = sign_es256(&k, &json!({"alg": "ES384", "jwk": jwk, "url": "u"}), "{}");
    let jws = Jws::parse(&body).unwrap();
    assert!(jws.verify(jws.protected.jwk.as_ref().unwrap()).is_err());
}

#[test]
fn fail_jws_invalid_curve_point() {
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": e(&[1u8; 32]), "y": e(&[2u8; 32])});
    assert!(
        matches!(Jwk::from_json(&jwk), Err(Error::Acme(a)) if a.kind == AcmeProblem::BadPublicKey)
    );
}

#[test]
fn fail_jws_private_key_and_weak_rsa() {
    let (_k, mut jwk) = es256();
    jwk["d"] = json!("AAAA");
    assert!(Jwk::from_json(&jwk).is_err());
    let rsa = json!({"kty": "RSA", "n": e(&[0xc1; 128]), "e": "AQAB"});
    assert!(Jwk::from_json(&rsa).is_err());
}

#[test]
fn fail_jws_tampered_payload_and_der_signature() {
    let (k, jwk) = es256();
    let body = sign_es256(
        &k,
        &json!({"alg": "ES256", "jwk": jwk, "url": "u"}),
        "{\"a\":1}",
    );
    let mut v: Value = serde_json::from_slice(&body).unwrap();
    v["payload"] = json!(e(b"{\"a\":2}"));
    let jws = Jws::parse(v.to_string().as_bytes()).unwrap();
    assert!(jws.verify(jws.protected.jwk.as_ref().unwrap()).is_err());
    // An ASN.1 DER ECDSA signature is not the JWS r||s form.
    let der_sig = k
        .sign(&SystemRandom::new(), b"x")
        .map(|_| vec![0x30u8; 70])
        .unwrap();
    v["signature"] = json!(e(&der_sig));
    let jws = Jws::parse(v.to_string().as_bytes()).unwrap();
    assert!(jws.verify(jws.protected.jwk.as_ref().unwrap()).is_err());
}

#[test]
fn fail_jws_malformed_shapes() {
    for body in [
        &b"not json"[..],
        b"{}",
        b"{\"protected\":\"!!\",\"payload\":\"\",\"signature\":\"\"}",
        b"{\"protected\":\"e30\",\"payload\":\"\",\"signature\":\"\",\"header\":{}}",
        b"[1,2,3]",
    ] {
        assert!(
            Jws::parse(body).is_err(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // Missing url.
    let (k, jwk) = es256();
    let body = sign_es256(&k, &json!({"alg": "ES256", "jwk": jwk}), "{}");
    assert!(Jws::parse(&body).is_err());
}

#[test]
fn eab_hs256_verifies_and_refuses_wrong_key() {
    let (_k, jwk) = es256();
    let mac_key = [9u8; 32];
    let header = json!({"alg": "HS256", "kid": "kid1", "url": "https://x/acme/new-account"});
    let body = sign_with(&header, &jwk.to_string(), |m| {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &mac_key);
        aws_lc_rs::hmac::sign(&key, m).as_ref().to_vec()
    });
    let v: Value = serde_json::from_slice(&body).unwrap();
    let eab = parse_eab(&v).unwrap();
    assert_eq!(eab.protected.kid.as_deref(), Some("kid1"));
    eab.verify_hs256(&mac_key).unwrap();
    assert!(eab.verify_hs256(&[8u8; 32]).is_err());
}
