//! The `est` workload: RFC 7030 simpleenroll with one-time credentials made beforehand through
//! the admin API and P-256 CSRs generated beforehand, so the clock sees only enrolments.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::client::{Http, OpError, Target};
use crate::pki;
use crate::{load, Drive};

/// One prepared enrolment: the Basic `Authorization` value and the base64 CSR.
pub struct Prepared {
    /// `Basic base64(user:password)`.
    pub authorization: String,
    /// The CSR, base64 (the simpleenroll body).
    pub csr_b64: String,
}

/// Creates a one-time credential for `common_name` (POST /api/v1/est/credentials).
pub async fn credential(
    http: &mut Http,
    admin_token: &str,
    common_name: &str,
) -> Result<String, OpError> {
    let bearer = format!("Bearer {admin_token}");
    let body = json!({ "common_name": common_name }).to_string();
    let r = http
        .post(
            "/api/v1/est/credentials",
            "application/json",
            &[("authorization", &bearer)],
            body,
        )
        .await?
        .expect("create-credential", 201)?;
    let v: Value = serde_json::from_slice(&r.body)
        .map_err(|e| OpError::Protocol("create-credential", e.to_string()))?;
    let (Some(u), Some(p)) = (v["username"].as_str(), v["password"].as_str()) else {
        return Err(OpError::Protocol(
            "create-credential",
            "no username/password in the answer".into(),
        ));
    };
    Ok(format!("Basic {}", pki::b64(format!("{u}:{p}").as_bytes())))
}

/// One simpleenroll; returns the certificate (DER).
pub async fn enrol(http: &mut Http, p: &Prepared) -> Result<Vec<u8>, OpError> {
    let r = http
        .post(
            "/.well-known/est/simpleenroll",
            "application/pkcs10",
            &[("authorization", &p.authorization)],
            p.csr_b64.clone(),
        )
        .await?
        .expect("simpleenroll", 200)?;
    if !r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/pkcs7-mime"))
    {
        return Err(OpError::Protocol(
            "simpleenroll",
            format!("content-type {:?}", r.header("content-type")),
        ));
    }
    let certs = pki::certs_from_pkcs7(&r.body);
    certs
        .into_iter()
        .next()
        .ok_or_else(|| OpError::Protocol("simpleenroll", "no certificate in the reply".into()))
}

/// Makes `n` credentials and CSRs, `c` admin requests at a time.
pub async fn prepare(
    target: &Arc<Target>,
    admin_token: &str,
    c: usize,
    n: usize,
    tag: &str,
) -> Result<Vec<Prepared>, String> {
    let csrs = tokio::task::spawn_blocking(move || pki::p256_csrs(vec![Vec::new(); n]))
        .await
        .map_err(|e| e.to_string())??;
    let token = Arc::new(admin_token.to_owned());
    let tag = Arc::new(tag.to_owned());
    let auths = load::setup(target, c, n, move |i, mut h| {
        let (token, tag) = (token.clone(), tag.clone());
        async move {
            let r = credential(&mut h, &token, &format!("bench-{tag}-{i}")).await;
            (h, r)
        }
    })
    .await?;
    Ok(auths
        .into_iter()
        .zip(csrs)
        .map(|(authorization, csr)| Prepared {
            authorization,
            csr_b64: pki::b64(&csr),
        })
        .collect())
}

/// Runs the workload and returns its report.
pub async fn run(d: &Drive, target: Arc<Target>) -> Result<Value, String> {
    let token = d.admin_token()?;
    let pool = d.pool.unwrap_or((d.seconds * 2500.0) as usize + 200);
    let t = Instant::now();
    let prepared = Arc::new(prepare(&target, &token, d.concurrency.min(16), pool, &d.tag()).await?);
    let setup_secs = t.elapsed().as_secs_f64();
    eprintln!("est: {pool} credentials and CSRs prepared in {setup_secs:.1} s");
    let next = Arc::new(AtomicUsize::new(0));
    let extra = json!({
        "pool": pool,
        "setup_seconds": load::round(setup_secs, 2),
        "setup_credentials_per_sec": load::round(pool as f64 / setup_secs, 1),
    });
    Ok(load::run(
        "est-simpleenroll",
        &target,
        d.concurrency,
        d.seconds,
        d.server_pid.as_deref(),
        extra,
        move |_, mut http, mut rec| {
            let (prepared, next) = (prepared.clone(), next.clone());
            async move {
                while rec.running() {
                    let Some(p) = prepared.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        rec.exhausted = true;
                        break;
                    };
                    let start = Instant::now();
                    let r = enrol(&mut http, p).await.map(drop);
                    rec.record(start, r);
                }
                (http, rec)
            }
        },
    )
    .await)
}
