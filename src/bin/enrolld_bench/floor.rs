//! The crypto floor: what one core does per second with aws-lc-rs, the provider the server
//! uses, on the server's own code paths — `Csr::parse` (DER, policy, signature verification),
//! `Ca::issue` (building and signing a certificate), `Jws::parse` + `Jws::verify` (ACME) — and
//! what that allows per enrolment and per ACME order, times the cores the machine has.

use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use enrolld::acme::jws::{Jwk, Jws};
use enrolld::ca::csr::Csr;
use enrolld::ca::{Ca, IssueParams};
use enrolld::ca::{KeyType, Profile};
use enrolld::config::Config;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::acme::JWS_PER_ORDER;
use crate::load::round;
use crate::pki::{self, b64u};

/// Calls `f` repeatedly for `secs` on this thread; returns calls per second.
pub fn rate(secs: f64, mut f: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    for _ in 0..20 {
        f()?; // warm caches
    }
    let limit = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < limit {
        for _ in 0..20 {
            f()?;
        }
        n += 20;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// A profile like the server's `device` profile once it names its CRL and OCSP URLs.
pub fn profile() -> Profile {
    let mut p = Profile::device();
    p.crl_url = Some("http://localhost:8080/crl/issuing.crl".into());
    p.ocsp_url = Some("http://localhost:8080/ocsp".into());
    p.ca_issuers_url = Some("http://localhost:8080/ca/issuing.crt".into());
    p
}

/// One enrolment's crypto: verify the CSR, sign the certificate.
fn enrol_once(ca: &Ca, csr_der: &[u8], profile: &Profile) -> Result<(), String> {
    let csr = Csr::parse(csr_der).map_err(|e| e.to_string())?;
    let serial = enrolld::ca::serial::random_serial().map_err(|e| e.to_string())?;
    let now = OffsetDateTime::now_utc();
    ca.issue(&IssueParams {
        spki_der: &csr.spki_der,
        key_type: KeyType::P256,
        common_name: "bench-floor",
        sans: &[],
        profile,
        serial: &serial,
        not_before: now,
        not_after: now + time::Duration::days(365),
        windows_sid: None,
        person: None,
    })
    .map(drop)
    .map_err(|e| e.to_string())
}

/// Measures for `secs` per figure and returns the report.
pub fn run(secs: f64) -> Result<Value, String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = crate::temp_dir("floor")?;
    Ca::create(&dir, &Config::default().ca, None).map_err(|e| e.to_string())?;
    let ca = Ca::load(&dir).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    let csr_der = pki::p256_csr(&[])?;
    let csr = Csr::parse(&csr_der).map_err(|e| e.to_string())?;
    let profile = profile();

    let csr_verify = rate(secs, || {
        Csr::parse(&csr_der).map(drop).map_err(|e| e.to_string())
    })?;
    let cert_sign = rate(secs, || {
        let serial = enrolld::ca::serial::random_serial().map_err(|e| e.to_string())?;
        let now = OffsetDateTime::now_utc();
        ca.issue(&IssueParams {
            spki_der: &csr.spki_der,
            key_type: KeyType::P256,
            common_name: "bench-floor",
            sans: &[],
            profile: &profile,
            serial: &serial,
            not_before: now,
            not_after: now + time::Duration::days(365),
            windows_sid: None,
            person: None,
        })
        .map(drop)
        .map_err(|e| e.to_string())
    })?;

    // ACME: a newOrder-shaped JWS, parsed and verified as the server does.
    let rng = SystemRandom::new();
    let key =
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|e| e.to_string())?;
    let point = key.public_key().as_ref().to_vec();
    let jwk_json =
        json!({"crv": "P-256", "kty": "EC", "x": b64u(&point[1..33]), "y": b64u(&point[33..65])});
    let jwk = Jwk::from_json(&jwk_json).map_err(|e| e.to_string())?;
    let protected = b64u(
        json!({"alg": "ES256", "kid": "https://localhost:8443/acme/acct/0123456789abcdef", "nonce": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "url": "https://localhost:8443/acme/new-order"})
            .to_string()
            .as_bytes(),
    );
    let payload = b64u(
        json!({"identifiers": [{"type": "dns", "value": "d1.bench.example"}]})
            .to_string()
            .as_bytes(),
    );
    let msg = format!("{protected}.{payload}");
    let sig = key.sign(&rng, msg.as_bytes()).map_err(|e| e.to_string())?;
    let body = json!({"protected": protected, "payload": payload, "signature": b64u(sig.as_ref())})
        .to_string();
    let jws_verify = rate(secs, || {
        let j = Jws::parse(body.as_bytes()).map_err(|e| e.to_string())?;
        j.verify(&jwk).map_err(|e| e.to_string())
    })?;
    let es256_verify = rate(secs, || {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(msg.as_bytes(), sig.as_ref())
            .map_err(|e| e.to_string())
    })?;
    let es256_sign = rate(secs, || {
        key.sign(&rng, msg.as_bytes())
            .map(drop)
            .map_err(|e| e.to_string())
    })?;

    // Per core: an enrolment is one CSR verification plus one certificate signature; an ACME
    // order adds one JWS verification per request.
    let est_core = 1.0 / (1.0 / csr_verify + 1.0 / cert_sign);
    let acme_core =
        1.0 / (f64::from(JWS_PER_ORDER) / jws_verify + 1.0 / csr_verify + 1.0 / cert_sign);

    // The enrolment unit on every core at once, to see how far "× cores" holds here.
    let ca = std::sync::Arc::new(ca);
    let handles: Vec<_> = (0..cores)
        .map(|_| {
            let (ca, csr_der, profile) = (ca.clone(), csr_der.clone(), profile.clone());
            std::thread::spawn(move || rate(secs, || enrol_once(&ca, &csr_der, &profile)))
        })
        .collect();
    let mut all_cores = 0.0;
    for h in handles {
        all_cores += h.join().map_err(|_| "floor thread panicked".to_owned())??;
    }

    Ok(json!({
        "workload": "floor",
        "provider": "aws-lc-rs",
        "cores": cores,
        "seconds_per_figure": secs,
        "per_core_per_sec": {
            "csr_parse_verify": round(csr_verify, 0),
            "cert_issue_sign": round(cert_sign, 0),
            "jws_parse_verify_es256": round(jws_verify, 0),
            "es256_verify_raw": round(es256_verify, 0),
            "es256_sign_raw": round(es256_sign, 0),
        },
        "floor_per_sec": {
            "est_enrol_per_core": round(est_core, 0),
            "est_enrol": round(est_core * cores as f64, 0),
            "est_enrol_measured_all_cores": round(all_cores, 0),
            "acme_order_per_core": round(acme_core, 0),
            "acme_order": round(acme_core * cores as f64, 0),
        },
        "definitions": {
            "est_enrol": "1 / (1/csr_parse_verify + 1/cert_issue_sign), times cores",
            "acme_order": format!("1 / ({JWS_PER_ORDER}/jws_parse_verify_es256 + 1/csr_parse_verify + 1/cert_issue_sign), times cores"),
        },
    }))
}
