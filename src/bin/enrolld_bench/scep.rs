//! The `scep` workload: RFC 8894 PKCSReq enrolments, each a `POST ?operation=PKIOperation`
//! whose CertRep must be a SUCCESS signed by the server's RA certificate.
//!
//! Everything expensive is made before the clock starts: the requesters' RSA-2048 keys and
//! self-signed certificates, the challenges, the CSRs and the signed and sealed messages
//! themselves (with the library's client, `enrolld::scep::client`, so the driver speaks SCEP
//! exactly as the flow tests do). The clock sees the requests only; in the timed section
//! each reply's signature and pkiStatus are checked (one RSA public-key operation), and after
//! the clock stops every reply is opened with its requester's key and must hold exactly one
//! certificate for that key, and certificates whose serial number repeats one seen earlier in
//! the run are counted.
//!
//! Against enrolld, each enrolment has its own one-time challenge from the admin API
//! (`POST /api/v1/subjects/{id}/credentials {"kind": "scep"}` on registered devices), as an
//! MDM hands one to each device. Against other servers (micromdm's `scepserver`), a static
//! challenge is given with `--challenge`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use enrolld::scep::client::{degenerate_contents, Build, Requester};
use enrolld::scep::der::{self, tag};
use enrolld::scep::{cms, message as m};
use serde_json::{json, Value};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::client::{Http, OpError, Target};
use crate::{load, Drive};

/// Options of the `scep` workload.
#[derive(clap::Args, Clone)]
pub struct Options {
    /// The SCEP endpoint (default: `<url>/scep`), e.g. `http://127.0.0.1:8080/scep` for
    /// enrolld's plain-HTTP listener or `http://127.0.0.1:8090/scep` for `scepserver`.
    #[arg(long)]
    pub scep_url: Option<String>,
    /// A static challenge for every request (micromdm's `scepserver -challenge`). Without
    /// it, every enrolment gets a one-time challenge from enrolld's admin API at `--url`.
    #[arg(long)]
    pub challenge: Option<String>,
    /// Requester keys (RSA-2048) made beforehand; enrolment i is signed by key i mod N and
    /// its CSR has its own subject CN, so every CSR differs.
    #[arg(long, default_value_t = 16)]
    pub keys: usize,
    /// Accept CertReps signed with SHA-1 (micromdm's `scepserver` signs with it).
    #[arg(long)]
    pub allow_sha1: bool,
}

/// challengePassword (PKCS #9).
const OID_CHALLENGE_PASSWORD: &[u64] = &[1, 2, 840, 113549, 1, 9, 7];

/// One prepared enrolment.
struct Prepared {
    /// The pkiMessage (PKCSReq), signed and sealed.
    message: Bytes,
    /// Which requester signed it (and opens the reply).
    key: usize,
}

/// A SCEP URL split into what [`Target`] connects to and the path requests go to.
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url}: not an http:// or https:// URL"))?;
    let scheme_len = url.len() - rest.len();
    let path = rest.find('/').map_or("/scep", |i| &rest[i..]);
    let path = path.trim_end_matches('/');
    let base = &url[..scheme_len + rest.find('/').unwrap_or(rest.len())];
    Ok((base.to_owned(), path.to_owned()))
}

/// The certificate to seal requests to and to check replies with: the only certificate of
/// an `application/x-x509-ca-cert` answer, or the RA (the certificate that is not a CA) of
/// an `application/x-x509-ca-ra-cert` one (RFC 8894 §4.2.1).
async fn ra_certificate(http: &mut Http, path: &str) -> Result<Vec<u8>, String> {
    let r = http
        .get(&format!("{path}?operation=GetCACert"), &[])
        .await
        .and_then(|r| r.expect("GetCACert", 200))
        .map_err(|e| e.detail())?;
    let ct = r.header("content-type").unwrap_or("").to_owned();
    if ct.starts_with("application/x-x509-ca-cert") {
        return Ok(r.body.to_vec());
    }
    let certs = degenerate_contents(&r.body)
        .map_err(|e| format!("GetCACert ({ct}): {e}"))?
        .certs;
    if let [only] = certs.as_slice() {
        return Ok(only.clone());
    }
    certs
        .into_iter()
        .find(|c| X509Certificate::from_der(c).is_ok_and(|(_, x)| !x.is_ca()))
        .ok_or_else(|| format!("GetCACert ({ct}): no RA certificate (every certificate is a CA)"))
}

/// A CSR for `r`'s key with subject `CN=<common_name>` and `challenge` as challengePassword.
fn csr(r: &Requester, common_name: &str, challenge: &str) -> Result<Vec<u8>, String> {
    let mut params = rcgen::CertificateParams::new(vec![]).map_err(|e| e.to_string())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let attrs = vec![rcgen::Attribute {
        oid: OID_CHALLENGE_PASSWORD,
        values: der::set_of(&[&der::encode(tag::UTF8_STRING, challenge.as_bytes())]),
    }];
    Ok(params
        .serialize_request_with_attributes(&r.key, attrs)
        .map_err(|e| e.to_string())?
        .der()
        .to_vec())
}

/// Registers `n` devices and answers their subject ids.
async fn devices(
    target: &Arc<Target>,
    token: &str,
    n: usize,
    tag: &str,
) -> Result<Vec<String>, String> {
    let bearer = Arc::new(format!("Bearer {token}"));
    let tag = Arc::new(tag.to_owned());
    load::setup(target, n.min(8), n, move |i, mut h| {
        let (bearer, tag) = (bearer.clone(), tag.clone());
        async move {
            let body = json!({"external_id": format!("scep-bench-{tag}-{i}"), "name": format!("scep-bench-{tag}-{i}")});
            let r = async {
                let r = h
                    .post(
                        "/api/v1/devices",
                        "application/json",
                        &[("authorization", &bearer)],
                        body.to_string(),
                    )
                    .await?
                    .expect("register-device", 201)?;
                let v: Value = serde_json::from_slice(&r.body)
                    .map_err(|e| OpError::Protocol("register-device", e.to_string()))?;
                v["subject"]["id"].as_str().map(str::to_owned).ok_or_else(|| {
                    OpError::Protocol("register-device", "no subject id in the answer".into())
                })
            }
            .await;
            (h, r)
        }
    })
    .await
}

/// Makes `n` one-time SCEP challenges, challenge i for device i mod the devices.
async fn challenges(
    target: &Arc<Target>,
    token: &str,
    devices: Vec<String>,
    n: usize,
) -> Result<Vec<String>, String> {
    let bearer = Arc::new(format!("Bearer {token}"));
    let devices = Arc::new(devices);
    load::setup(target, 16, n, move |i, mut h| {
        let (bearer, devices) = (bearer.clone(), devices.clone());
        async move {
            let r = async {
                let id = &devices[i % devices.len()];
                let r = h
                    .post(
                        &format!("/api/v1/subjects/{id}/credentials"),
                        "application/json",
                        &[("authorization", &bearer)],
                        json!({"kind": "scep", "uses": 1}).to_string(),
                    )
                    .await?
                    .expect("create-challenge", 201)?;
                let v: Value = serde_json::from_slice(&r.body)
                    .map_err(|e| OpError::Protocol("create-challenge", e.to_string()))?;
                v["challenge"].as_str().map(str::to_owned).ok_or_else(|| {
                    OpError::Protocol("create-challenge", "no challenge in the answer".into())
                })
            }
            .await;
            (h, r)
        }
    })
    .await
}

/// Runs `f(i)` for i in 0..n on every core; answers the results in order.
fn on_all_cores<T: Send>(
    n: usize,
    f: impl Fn(usize) -> Result<T, String> + Sync,
) -> Result<Vec<T>, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                let f = &f;
                s.spawn(move || (start..(start + chunk).min(n)).map(f).collect::<Vec<_>>())
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for h in handles {
            for r in h.join().map_err(|_| "worker thread panicked".to_owned())? {
                out.push(r?);
            }
        }
        Ok(out)
    })
}

/// What the timed section checks of a reply: HTTP 200, a SignedData signed by the RA
/// certificate (one RSA public-key operation) whose pkiStatus is SUCCESS.
fn check_signed(body: &[u8], ra_cert: &[u8], allow_sha1: bool) -> Result<(), OpError> {
    let bad = |d: String| OpError::Protocol("certrep", d);
    let signed = cms::read_signed(body).map_err(|e| bad(e.to_string()))?;
    let signer = signed.verify(allow_sha1).map_err(|r| bad(r.text))?;
    if signer != ra_cert {
        return Err(bad("not signed by the RA certificate".into()));
    }
    let text = |oid: &[u64]| signed.attribute(oid).and_then(|t| t.text().ok());
    match text(m::OID_PKI_STATUS) {
        Some("0") => Ok(()),
        Some(s) => Err(OpError::Protocol(
            "certrep-not-success",
            format!(
                "pkiStatus {s}, failInfo {:?}, failInfoText {:?}",
                text(m::OID_FAIL_INFO),
                text(m::OID_FAIL_INFO_TEXT)
            ),
        )),
        None => Err(bad("no pkiStatus".into())),
    }
}

/// One enrolment: POST the message, check the reply's signature and status.
async fn enrol(
    http: &mut Http,
    path: &str,
    p: &Prepared,
    ra_cert: &[u8],
    allow_sha1: bool,
) -> Result<Bytes, OpError> {
    let r = http
        .post(path, "application/x-pki-message", &[], p.message.clone())
        .await?
        .expect("PKIOperation", 200)?;
    check_signed(&r.body, ra_cert, allow_sha1)?;
    Ok(r.body)
}

/// What the replies held, checked after the clock.
struct Checked {
    /// SUCCESS replies with exactly one certificate, for the requester's key.
    good: u64,
    /// Replies that are not, by kind.
    failed: std::collections::BTreeMap<String, u64>,
    /// Good certificates whose serial number an earlier good certificate of this run had
    /// (RFC 5280 §4.1.2.2: a CA's serials are unique).
    repeated_serials: u64,
}

/// After the clock: opens every SUCCESS reply with its requester's key; each must hold
/// exactly one certificate, for that key; and serial numbers must not repeat.
fn check_replies(
    replies: &[(usize, Bytes)],
    prepared: &[Prepared],
    requesters: &[Requester],
    ra_cert: &[u8],
    allow_sha1: bool,
) -> Result<Checked, String> {
    let verdicts = on_all_cores(replies.len(), |j| {
        let (i, body) = &replies[j];
        let r = &requesters[prepared[*i].key];
        let rep = match r.read(body, ra_cert, allow_sha1) {
            Ok(rep) => rep,
            Err(_) => return Ok(Err("unreadable")),
        };
        if rep.status != "0" {
            return Ok(Err("not-success"));
        }
        let [cert] = rep.certs.as_slice() else {
            return Ok(Err("not-one-certificate"));
        };
        let Ok((_, c)) = X509Certificate::from_der(cert) else {
            return Ok(Err("certificate-does-not-parse"));
        };
        if c.public_key().subject_public_key.data.as_ref() != r.key.public_key_raw() {
            return Ok(Err("certificate-for-another-key"));
        }
        Ok(Ok(c.raw_serial().to_vec()))
    })?;
    let mut checked = Checked {
        good: 0,
        failed: std::collections::BTreeMap::new(),
        repeated_serials: 0,
    };
    let mut serials = std::collections::HashSet::new();
    for v in verdicts {
        match v {
            Ok(serial) => {
                checked.good += 1;
                if !serials.insert(serial) {
                    checked.repeated_serials += 1;
                }
            }
            Err(kind) => *checked.failed.entry(kind.to_owned()).or_default() += 1,
        }
    }
    Ok(checked)
}

/// Runs the workload (its own runtime: the target may be plain HTTP and need no CA bundle)
/// and returns its report.
pub fn run(d: &Drive, o: &Options) -> Result<Value, String> {
    if d.concurrency == 0 || d.seconds <= 0.0 || o.keys == 0 {
        return Err("concurrency, seconds and keys must be > 0".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(drive(d, o))
}

async fn drive(d: &Drive, o: &Options) -> Result<Value, String> {
    let timeout = std::time::Duration::from_secs_f64(d.request_timeout.max(0.1));
    let scep_url = o
        .scep_url
        .clone()
        .unwrap_or_else(|| format!("{}/scep", d.url.trim_end_matches('/')));
    let (base, path) = split_url(&scep_url)?;
    let target = Target::new(&base, &d.ca_bundle, timeout).await?;
    let pool = d.pool.unwrap_or((d.seconds * 1000.0) as usize + 200);
    let tag = d.tag();
    let t = Instant::now();

    let ra_cert = Arc::new(ra_certificate(&mut Http::new(target.clone()), &path).await?);
    let n_keys = o.keys.min(pool.max(1));
    let requesters = tokio::task::spawn_blocking(move || {
        on_all_cores(n_keys, |_| Requester::new().map_err(|e| e.to_string()))
    })
    .await
    .map_err(|e| e.to_string())??;
    let challenges: Vec<String> = match &o.challenge {
        Some(c) => vec![c.clone(); pool],
        None => {
            let token = d.admin_token()?;
            let admin = Target::new(&d.url, &d.ca_bundle, timeout).await?;
            let ids = devices(&admin, &token, n_keys, &tag).await?;
            challenges(&admin, &token, ids, pool).await?
        }
    };
    let requesters = Arc::new(requesters);
    let (rs, ra, tg) = (requesters.clone(), ra_cert.clone(), tag.clone());
    let prepared = tokio::task::spawn_blocking(move || {
        on_all_cores(pool, |i| {
            let key = i % rs.len();
            let r = &rs[key];
            let csr = csr(r, &format!("scep-bench-{tg}-{i}"), &challenges[i])?;
            let txn = format!("{tg}-{i}");
            let b = Build {
                transaction_id: &txn,
                ..Default::default()
            };
            let message = r.message(&b, &csr, &ra).map_err(|e| e.to_string())?;
            Ok(Prepared {
                message: Bytes::from(message),
                key,
            })
        })
    })
    .await
    .map_err(|e| e.to_string())??;
    let prepared = Arc::new(prepared);
    let setup_secs = t.elapsed().as_secs_f64();
    eprintln!("scep: {pool} messages ({n_keys} keys) prepared in {setup_secs:.1} s for {scep_url}");

    let next = Arc::new(AtomicUsize::new(0));
    let replies: Arc<Mutex<Vec<(usize, Bytes)>>> = Arc::new(Mutex::new(Vec::new()));
    let extra = json!({
        "scep_url": scep_url,
        "pool": pool,
        "keys": n_keys,
        "challenges": if o.challenge.is_some() { "static" } else { "one-time, admin API" },
        "request": "PKCSReq, RSA-2048 requester, AES-256-CBC, SHA-256",
        "setup_seconds": load::round(setup_secs, 2),
    });
    let path = Arc::new(format!("{path}?operation=PKIOperation"));
    let allow_sha1 = o.allow_sha1;
    let (prep, rep, ra) = (prepared.clone(), replies.clone(), ra_cert.clone());
    let mut report = load::run(
        "scep-pkcsreq",
        &target,
        d.concurrency,
        d.seconds,
        d.server_pid.as_deref(),
        extra,
        move |_, mut http, mut rec| {
            let (prepared, next, replies, path, ra) = (
                prep.clone(),
                next.clone(),
                rep.clone(),
                path.clone(),
                ra.clone(),
            );
            async move {
                let mut mine = Vec::new();
                while rec.running() {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = prepared.get(i) else {
                        rec.exhausted = true;
                        break;
                    };
                    let start = Instant::now();
                    let r = enrol(&mut http, &path, p, &ra, allow_sha1).await;
                    rec.record(start, r.map(|body| mine.push((i, body))));
                }
                if let Ok(mut all) = replies.lock() {
                    all.append(&mut mine);
                }
                (http, rec)
            }
        },
    )
    .await;

    let replies = std::mem::take(&mut *replies.lock().map_err(|_| "replies poisoned".to_owned())?);
    let checked = tokio::task::spawn_blocking(move || {
        check_replies(&replies, &prepared, &requesters, &ra_cert, allow_sha1)
    })
    .await
    .map_err(|e| e.to_string())??;
    let seconds = report["seconds"].as_f64().unwrap_or(d.seconds);
    let good = checked.good;
    report["certificates_checked"] = json!({
        "good": good,
        "failed": checked.failed,
        "repeated_serials": checked.repeated_serials,
    });
    report["enrolments_per_sec"] = json!(load::round(good as f64 / seconds.max(1e-3), 1));
    if let Some(cpu) = report["server"]["cpu_seconds"].as_f64() {
        if good > 0 {
            report["server"]["cpu_ms_per_enrolment"] =
                json!(load::round(cpu * 1000.0 / good as f64, 3));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scep_url_splits_into_base_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/scep").unwrap(),
            ("http://127.0.0.1:8080".into(), "/scep".into())
        );
        assert_eq!(
            split_url("https://localhost:8443/scep/mdm/").unwrap(),
            ("https://localhost:8443".into(), "/scep/mdm".into())
        );
        assert_eq!(
            split_url("http://127.0.0.1:8090").unwrap(),
            ("http://127.0.0.1:8090".into(), "/scep".into())
        );
        assert!(split_url("ftp://x/scep").is_err());
    }
}
