//! The crypto cost of one SCEP enrolment on the server side, in-process with aws-lc-rs: the
//! server's own code paths (request signature, envelope, CSR, certificate, reply envelope,
//! CertRep signature), the raw RSA-2048 and P-256 operations under them, and what they add
//! up to per enrolment — with enrolld's default P-256 CA, and with an RSA-2048 CA such as
//! micromdm's `scepserver` signs with.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair, UnparsedPublicKey};
use enrolld::ca::csr::Csr;
use enrolld::ca::{keys, Ca, IssueParams, KeyType};
use enrolld::config::Config;
use enrolld::scep::client::{Build, Requester};
use enrolld::scep::envelope::{self, Cipher, Recipient};
use enrolld::scep::{cms, message};
use rcgen::PublicKeyData as _;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::floor::{profile, rate};
use crate::load::round;

/// A CA of `kt` in a temporary directory.
fn ca(kt: KeyType) -> Result<Ca, String> {
    let dir = crate::temp_dir("scep-floor")?;
    let mut cfg = Config::default().ca;
    cfg.key_type = kt;
    Ca::create(&dir, &cfg, None).map_err(|e| e.to_string())?;
    let ca = Ca::load(&dir).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    ca
}

/// Issues a certificate for `spki` (an RSA-2048 key) with the device profile.
fn issue(ca: &Ca, spki: &[u8], profile: &enrolld::ca::Profile) -> Result<Vec<u8>, String> {
    let serial = enrolld::ca::serial::random_serial().map_err(|e| e.to_string())?;
    let now = OffsetDateTime::now_utc();
    ca.issue(&IssueParams {
        spki_der: spki,
        key_type: KeyType::Rsa2048,
        common_name: "scep-floor",
        sans: &[],
        profile,
        serial: &serial,
        not_before: now,
        not_after: now + time::Duration::days(365),
        windows_sid: None,
        person: None,
    })
    .map_err(|e| e.to_string())
}

/// ms of one core per operation, from operations per second.
fn ms(per_sec: f64) -> f64 {
    1000.0 / per_sec
}

/// Measures for `secs` per figure and returns the report.
pub fn run(secs: f64) -> Result<Value, String> {
    let e = |e: enrolld::error::Error| e.to_string();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let p256_ca = ca(KeyType::P256)?;
    let rsa_ca = ca(KeyType::Rsa2048)?;
    let profile = profile();

    // The RA, as the server holds it.
    let ra_key = keys::generate(KeyType::Rsa2048).map_err(e)?;
    let ra_cert = p256_ca
        .issue_ra_cert(&ra_key, OffsetDateTime::now_utc(), 30)
        .map_err(e)?;
    let pkcs8 = ra_key.serialize_der();
    let ra_signing = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|e| e.to_string())?;
    let ra_decrypting = PrivateDecryptingKey::from_pkcs8(&pkcs8)
        .ok()
        .and_then(|k| Pkcs1PrivateDecryptingKey::new(k).ok())
        .ok_or("the RA key is not RSA")?;

    // A requester's PKCSReq, as the load driver sends it.
    let requester = Requester::new().map_err(e)?;
    let csr_der = requester.csr(Some("scep-floor.challenge")).map_err(e)?;
    let msg = requester
        .message(&Build::default(), &csr_der, &ra_cert)
        .map_err(e)?;
    let req = message::read_request(&msg).map_err(e)?;
    let content = req
        .signed
        .content
        .clone()
        .ok_or("the message has no envelope")?;
    let recipients = [Recipient {
        cert_der: &ra_cert,
        key: &ra_decrypting,
    }];
    let csr = Csr::parse(&csr_der).map_err(e)?;
    let cert = issue(&p256_ca, &csr.spki_der, &profile)?;
    let inner = cms::degenerate(&[&cert], &[]);
    let sealed = envelope::seal(&inner, &requester.cert, Cipher::Aes256).map_err(e)?;
    let ra_signer = cms::Signer {
        cert_der: &ra_cert,
        key: &ra_signing,
    };

    // The server's code paths.
    let request_verify = rate(secs, || {
        let r = message::read_request(&msg).map_err(e)?;
        r.signed.verify(false).map(drop).map_err(|r| r.text)
    })?;
    let envelope_open = rate(secs, || {
        envelope::open(&content, &recipients, false)
            .map(drop)
            .map_err(|r| r.text)
    })?;
    let csr_parse = rate(secs, || Csr::parse(&csr_der).map(drop).map_err(e))?;
    let issue_p256 = rate(secs, || issue(&p256_ca, &csr.spki_der, &profile).map(drop))?;
    let issue_rsa = rate(secs, || issue(&rsa_ca, &csr.spki_der, &profile).map(drop))?;
    let reply_seal = rate(secs, || {
        envelope::seal(&inner, &requester.cert, Cipher::Aes256)
            .map(drop)
            .map_err(e)
    })?;
    let cert_rep = rate(secs, || {
        message::cert_rep(
            "txn",
            &[7; 16],
            &message::Status::Success(sealed.clone()),
            &ra_signer,
        )
        .map(drop)
        .map_err(e)
    })?;

    // The raw operations under them.
    let rng = SystemRandom::new();
    let cek = [0x42u8; 32];
    let ra_public = Pkcs1PublicEncryptingKey::new(
        PublicEncryptingKey::from_der(ra_key.subject_public_key_info().as_slice())
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let mut wrapped = vec![0u8; ra_public.ciphertext_size()];
    let wrapped = ra_public
        .encrypt(&cek, &mut wrapped)
        .map_err(|e| e.to_string())?
        .to_vec();
    let rsa_decrypt = rate(secs, || {
        let mut out = vec![0u8; wrapped.len()];
        ra_decrypting
            .decrypt(&wrapped, &mut out)
            .map(drop)
            .map_err(|e| e.to_string())
    })?;
    let rsa_encrypt = rate(secs, || {
        let mut out = vec![0u8; ra_public.ciphertext_size()];
        ra_public
            .encrypt(&cek, &mut out)
            .map(drop)
            .map_err(|e| e.to_string())
    })?;
    let tbs = [0x5au8; 300];
    let mut sig = vec![0u8; ra_signing.public_modulus_len()];
    ra_signing
        .sign(&signature::RSA_PKCS1_SHA256, &rng, &tbs, &mut sig)
        .map_err(|e| e.to_string())?;
    let rsa_sign = rate(secs, || {
        let mut out = vec![0u8; ra_signing.public_modulus_len()];
        ra_signing
            .sign(&signature::RSA_PKCS1_SHA256, &rng, &tbs, &mut out)
            .map_err(|e| e.to_string())
    })?;
    let ra_spki = ra_signing.public_key().as_ref().to_vec();
    let rsa_verify = rate(secs, || {
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &ra_spki)
            .verify(&tbs, &sig)
            .map_err(|e| e.to_string())
    })?;

    // Per enrolment, one core: the server's paths (with either CA), and the raw RSA floor of
    // the shape micromdm's scepserver has (decrypt, verify the request, RSA CA signature,
    // encrypt to the requester, sign the reply; it does not verify the CSR's signature).
    let server_paths = |issue: f64| {
        ms(request_verify)
            + ms(envelope_open)
            + ms(csr_parse)
            + ms(issue)
            + ms(reply_seal)
            + ms(cert_rep)
    };
    let enrolld_p256_ms = server_paths(issue_p256);
    let enrolld_rsa_ms = server_paths(issue_rsa);
    let rsa_ca_raw_ms = ms(rsa_decrypt) + ms(rsa_verify) + 2.0 * ms(rsa_sign) + ms(rsa_encrypt);
    let per_sec = |ms: f64| round(1000.0 / ms * cores as f64, 0);

    Ok(json!({
        "workload": "scep-floor",
        "provider": "aws-lc-rs",
        "cores": cores,
        "seconds_per_figure": secs,
        "per_core_per_sec": {
            "request_read_verify_rsa2048": round(request_verify, 0),
            "envelope_open_rsa2048_decrypt_aes256": round(envelope_open, 0),
            "csr_parse_verify_rsa2048": round(csr_parse, 0),
            "cert_issue_p256_ca": round(issue_p256, 0),
            "cert_issue_rsa2048_ca": round(issue_rsa, 0),
            "reply_seal_rsa2048_encrypt_aes256": round(reply_seal, 0),
            "certrep_sign_rsa2048": round(cert_rep, 0),
            "rsa2048_pkcs1_decrypt_raw": round(rsa_decrypt, 0),
            "rsa2048_pkcs1_encrypt_raw": round(rsa_encrypt, 0),
            "rsa2048_sha256_sign_raw": round(rsa_sign, 0),
            "rsa2048_sha256_verify_raw": round(rsa_verify, 0),
        },
        "per_enrolment_cpu_ms": {
            "enrolld_paths_p256_ca": round(enrolld_p256_ms, 3),
            "enrolld_paths_rsa2048_ca": round(enrolld_rsa_ms, 3),
            "rsa2048_raw_with_rsa_ca": round(rsa_ca_raw_ms, 3),
        },
        "floor_per_sec": {
            "enrolld_paths_p256_ca": per_sec(enrolld_p256_ms),
            "enrolld_paths_rsa2048_ca": per_sec(enrolld_rsa_ms),
            "rsa2048_raw_with_rsa_ca": per_sec(rsa_ca_raw_ms),
        },
        "definitions": {
            "enrolld_paths_*": "sum of the six server paths' ms (request verify, envelope open, CSR parse, certificate, reply seal, CertRep signature), one core; floor = cores / that",
            "rsa2048_raw_with_rsa_ca": "1 decrypt + 1 verify + 2 signatures (certificate, CertRep) + 1 encrypt, raw aws-lc-rs RSA-2048: the crypto of micromdm's scepserver with a 2048-bit CA, at aws-lc-rs speed",
        },
    }))
}
