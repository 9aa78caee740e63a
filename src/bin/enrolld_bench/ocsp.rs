//! The `ocsp` workload: GET-form OCSP requests (RFC 6960 Appendix A.1) for a mix of good and
//! revoked serials, SHA-1 and SHA-256 CertIDs, no nonce (the cacheable case RFC 5019 describes).
//! The certificates are enrolled over EST and half revoked through the admin API first.
//! With `--nonce`, every request is a POST carrying a fresh random nonce (RFC 8954): no cache
//! can answer it, so each one costs the server a signature (the flood of docs/benchmarks.md).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use yasna::models::ObjectIdentifier;

use crate::client::{Http, OpError, Target};
use crate::pki;
use crate::{est, load, Drive};

const SHA1: &[u64] = &[1, 3, 14, 3, 2, 26];
const SHA256: &[u64] = &[2, 16, 840, 1, 101, 3, 4, 2, 1];

/// An OCSP request (DER) for one serial of `issuer_der`, with SHA-1 or SHA-256 CertID hashes,
/// and a nonce extension (RFC 8954) if given.
fn request(
    issuer_der: &[u8],
    serial: &[u8],
    sha256: bool,
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let (_, c) = x509_parser::parse_x509_certificate(issuer_der).map_err(|e| e.to_string())?;
    let alg = if sha256 {
        &aws_lc_rs::digest::SHA256
    } else {
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY
    };
    let name_hash = aws_lc_rs::digest::digest(alg, c.subject().as_raw());
    let key_hash = aws_lc_rs::digest::digest(alg, &c.public_key().subject_public_key.data);
    Ok(yasna::construct_der(|w| {
        // OCSPRequest → TBSRequest → requestList → Request → CertID
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                let oid = if sha256 { SHA256 } else { SHA1 };
                                w.next().write_oid(&ObjectIdentifier::from_slice(oid));
                                w.next().write_null();
                            });
                            w.next().write_bytes(name_hash.as_ref());
                            w.next().write_bytes(key_hash.as_ref());
                            w.next().write_bigint_bytes(serial, true);
                        });
                    });
                });
                if let Some(n) = nonce {
                    // requestExtensions [2] EXPLICIT Extensions { id-pkix-ocsp-nonce }
                    w.next().write_tagged(yasna::Tag::context(2), |w| {
                        w.write_sequence(|w| {
                            w.next().write_sequence(|w| {
                                w.next().write_oid(&ObjectIdentifier::from_slice(NONCE));
                                w.next()
                                    .write_bytes(&yasna::construct_der(|w| w.write_bytes(n)));
                            });
                        });
                    });
                }
            });
        })
    }))
}

/// id-pkix-ocsp-nonce (RFC 8954).
const NONCE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 2];

/// One POST-form OCSP request with a fresh nonce; checks the answer is a successful
/// OCSPResponse.
async fn query_with_nonce(
    http: &mut Http,
    issuer: &[u8],
    serial: &[u8],
    sha256: bool,
) -> Result<Vec<u8>, OpError> {
    let mut nonce = [0u8; 16];
    aws_lc_rs::rand::fill(&mut nonce)
        .map_err(|_| OpError::Protocol("ocsp", "no randomness".into()))?;
    let der =
        request(issuer, serial, sha256, Some(&nonce)).map_err(|e| OpError::Protocol("ocsp", e))?;
    let r = http
        .post("/ocsp", "application/ocsp-request", &[], der)
        .await?
        .expect("ocsp", 200)?;
    match pki::ocsp_response_status(&r.body) {
        Some(0) => Ok(r.body.to_vec()),
        other => Err(OpError::Protocol(
            "ocsp",
            format!("responseStatus {other:?}"),
        )),
    }
}

/// Revokes `serial_hex` with reason keyCompromise (admin API).
async fn revoke(http: &mut Http, admin_token: &str, serial_hex: &str) -> Result<(), OpError> {
    let bearer = format!("Bearer {admin_token}");
    http.post(
        &format!("/api/v1/certificates/{serial_hex}/revoke"),
        "application/json",
        &[("authorization", &bearer)],
        json!({"reason": "keyCompromise"}).to_string(),
    )
    .await?
    .expect("revoke", 200)?;
    Ok(())
}

/// One GET-form OCSP request; checks the answer is a successful OCSPResponse.
async fn query(http: &mut Http, path: &str) -> Result<Vec<u8>, OpError> {
    let r = http.get(path, &[]).await?.expect("ocsp", 200)?;
    if r.header("content-type") != Some("application/ocsp-response") {
        return Err(OpError::Protocol(
            "ocsp",
            format!("content-type {:?}", r.header("content-type")),
        ));
    }
    match pki::ocsp_response_status(&r.body) {
        Some(0) => Ok(r.body.to_vec()),
        other => Err(OpError::Protocol(
            "ocsp",
            format!("responseStatus {other:?}"),
        )),
    }
}

/// Runs the workload and returns its report.
pub async fn run(
    d: &Drive,
    target: Arc<Target>,
    good: usize,
    revoked: usize,
    with_nonce: bool,
) -> Result<Value, String> {
    let token = d.admin_token()?;
    let t = Instant::now();
    let mut h = Http::new(target.clone());
    let issuer = h
        .get("/ca/issuing.crt", &[])
        .await
        .and_then(|r| r.expect("issuing-ca", 200))
        .map_err(|e| e.detail())?
        .body
        .to_vec();
    let prepared = est::prepare(&target, &token, 4, good + revoked, &d.tag()).await?;
    let mut serials = Vec::new();
    for p in &prepared {
        let der = est::enrol(&mut h, p).await.map_err(|e| e.detail())?;
        let (_, c) = x509_parser::parse_x509_certificate(&der).map_err(|e| e.to_string())?;
        serials.push(c.raw_serial().to_vec());
    }
    let mut paths = Vec::new();
    for (i, serial) in serials.iter().enumerate() {
        let is_revoked = i >= good;
        if is_revoked {
            let hex = hex::encode(serial);
            revoke(&mut h, &token, hex.trim_start_matches("00"))
                .await
                .map_err(|e| e.detail())?;
        }
        for sha256 in [false, true] {
            let path = format!(
                "/ocsp/{}",
                pki::b64(&request(&issuer, serial, sha256, None)?)
            );
            // Check the answer once, in full, before the clock starts.
            let der = query(&mut h, &path).await.map_err(|e| e.detail())?;
            let want = if is_revoked { "revoked" } else { "good" };
            let got = pki::ocsp_cert_status(&der);
            if got != Some(want) {
                return Err(format!(
                    "OCSP for serial {} says {got:?}, expected {want}",
                    hex::encode(serial)
                ));
            }
            paths.push(path);
        }
    }
    let setup_secs = t.elapsed().as_secs_f64();
    eprintln!("ocsp: {good} good and {revoked} revoked certificates prepared in {setup_secs:.1} s");
    let paths = Arc::new(paths);
    let serials = Arc::new(serials);
    let issuer = Arc::new(issuer);
    let extra = json!({
        "good_serials": good,
        "revoked_serials": revoked,
        "certid_hashes": ["sha1", "sha256"],
        "nonce": with_nonce,
        "setup_seconds": load::round(setup_secs, 2),
    });
    Ok(load::run(
        if with_nonce {
            "ocsp-post-nonce"
        } else {
            "ocsp-get"
        },
        &target,
        d.concurrency,
        d.seconds,
        d.server_pid.as_deref(),
        extra,
        move |i, mut http, mut rec| {
            let (paths, serials, issuer) = (paths.clone(), serials.clone(), issuer.clone());
            async move {
                let mut n = i;
                while rec.running() {
                    let start = Instant::now();
                    let r = if with_nonce {
                        let serial = &serials[n % serials.len()];
                        query_with_nonce(&mut http, &issuer, serial, n % 2 == 1).await
                    } else {
                        query(&mut http, &paths[n % paths.len()]).await
                    };
                    n += 1;
                    rec.record(start, r.map(drop));
                }
                (http, rec)
            }
        },
    )
    .await)
}
