//! The `crash` tool (issue 6, crash consistency): concurrent EST enrolments and admin
//! revocations against a real `enrolld serve`, killed with SIGKILL at a random moment, many
//! times over, on one data directory.
//!
//! The tool keeps a ledger of what clients were *told*: a credential is in it once its creation
//! answered 201, a certificate once simpleenroll answered 200 with it, a revocation once the
//! admin API answered 200. Only a complete answer counts; a request cut off by the kill
//! proves nothing either way. After every restart it checks the store against the ledger:
//!
//! - every certificate a client received is in the store (inventory scan and, for the ones new
//!   since the last check, `GET /api/v1/certificates/<serial>`) with the same DER, status
//!   `revoked` when its revocation was acknowledged and `good` when none was attempted;
//! - no serial was delivered twice, and the inventory lists each serial once;
//! - no credential authorised two certificates: the inventory names each credential at most
//!   once, an acknowledged credential answers the identical CSR with the same certificate and
//!   refuses another CSR with 403, and a credential whose enrolment was cut off answers the
//!   identical CSR with 200 (issued now, or redelivered) and then refuses another;
//! - the issuing CA's CRL lists exactly the serials the store says are revoked.
//!
//! The report is one JSON object; any violation makes the exit status non-zero.

mod verify;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{Http, OpError, Target};
use crate::{est, pki};

/// Violations described in full in the report; the rest are only counted.
const SHOWN_VIOLATIONS: usize = 50;

/// Options of `enrolld-bench crash`.
#[derive(clap::Args, Clone)]
pub struct Options {
    /// The server binary (`target/release/enrolld`).
    #[arg(long, default_value = "target/debug/enrolld")]
    enrolld: PathBuf,
    /// Kills: each round starts the server, checks the store, runs the workload and kills it.
    #[arg(long, default_value_t = 8)]
    rounds: usize,
    /// Concurrent clients during a round (every other one also revokes).
    #[arg(long, short = 'c', default_value_t = 4)]
    concurrency: usize,
    /// Data directory (created with `enrolld init`); default: a fresh temporary directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Shortest time from the start of the workload to the kill, milliseconds.
    #[arg(long, default_value_t = 50)]
    min_delay_ms: u64,
    /// Longest time from the start of the workload to the kill, milliseconds.
    #[arg(long, default_value_t = 800)]
    max_delay_ms: u64,
    /// Seed of the kill delays and revocation choices (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Pause of each client between enrolments, milliseconds: keeps the store of a long run
    /// small enough to scan whole after every restart, while requests still overlap the kill.
    #[arg(long, default_value_t = 0)]
    pace_ms: u64,
}

/// A certificate a client received.
struct Issued {
    /// `Basic …` of the one-time credential that obtained it.
    auth: String,
    /// The CSR it answered, base64 (the simpleenroll body).
    csr_b64: String,
    /// The certificate, DER.
    der: Vec<u8>,
    /// Serial, lower-case hex without leading zero bytes (as the admin API names it).
    serial: String,
    /// Round (kill number) in which it was received.
    round: usize,
}

/// What clients were told, and what the checks found.
#[derive(Default)]
struct Ledger {
    /// Every certificate received, in order.
    issued: Vec<Issued>,
    /// Index into `issued` by serial: a second delivery of one serial is a violation.
    by_serial: HashMap<String, usize>,
    /// Credentials whose creation was acknowledged but whose enrolment answer was cut off:
    /// (`Basic …`, CSR base64, round).
    pending: Vec<(String, String, usize)>,
    /// Serials whose revocation answered 200.
    revoked_acked: HashSet<String>,
    /// Serials whose revocation was sent (acknowledged or not).
    revoke_sent: HashSet<String>,
    /// What went wrong, in words.
    violations: Vec<String>,
    /// Violations beyond [`SHOWN_VIOLATIONS`].
    violations_hidden: usize,
    /// Certificate comparisons against the store (inventory and GET), all rounds.
    certificates_checked: u64,
    /// Acknowledged revocations found revoked in the store, all rounds.
    revocations_checked: u64,
    /// Credential retries checked (identical CSR and different CSR), all rounds.
    credential_retries_checked: u64,
    /// Cut-off enrolments retried after a restart.
    pending_retried: u64,
    /// CRLs compared with the store.
    crls_checked: u64,
    /// Credentials created (acknowledged).
    credentials_created: u64,
    /// Requests that failed at the transport level before the kill (should be none).
    transport_errors_before_kill: u64,
}

impl Ledger {
    fn violation(&mut self, what: String) {
        eprintln!("crash: VIOLATION: {what}");
        if self.violations.len() < SHOWN_VIOLATIONS {
            self.violations.push(what);
        } else {
            self.violations_hidden += 1;
        }
    }

    fn violation_count(&self) -> usize {
        self.violations.len() + self.violations_hidden
    }

    /// Records a received certificate; a serial received before is a violation.
    fn receive(&mut self, auth: String, csr_b64: String, der: Vec<u8>, round: usize) {
        let Some(serial) = serial_of(&der) else {
            self.violation(format!(
                "round {round}: simpleenroll answered 200 with an unparsable certificate"
            ));
            return;
        };
        if let Some(&i) = self.by_serial.get(&serial) {
            let first = &self.issued[i];
            if first.auth != auth || first.der != der {
                self.violation(format!(
                    "serial {serial} delivered twice: in round {} and again in round {round} ({})",
                    first.round,
                    if first.auth == auth {
                        "same credential, different certificate"
                    } else {
                        "different credentials"
                    }
                ));
            }
            return;
        }
        self.by_serial.insert(serial.clone(), self.issued.len());
        self.issued.push(Issued {
            auth,
            csr_b64,
            der,
            serial,
            round,
        });
    }
}

/// A tiny xorshift generator: kill delays and revocation choices need no more.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// Serial of a certificate (DER) in the admin API's spelling.
fn serial_of(der: &[u8]) -> Option<String> {
    let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(serial_hex(c.raw_serial()))
}

/// Lower-case hex without leading zero bytes (`Serial::to_hex` on the server).
fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    hex::encode(&raw[start..])
}

/// The DER of the first certificate of a PEM text.
fn der_of_pem(pem: &str) -> Option<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()?
        .ok()
        .map(|c| c.to_vec())
}

/// Runs the tool; the report, or an error that stopped it (the report is then lost).
pub fn run(o: &Options) -> Result<Value, String> {
    if o.concurrency == 0 || o.max_delay_ms < o.min_delay_ms {
        return Err("concurrency must be > 0 and max-delay-ms ≥ min-delay-ms".into());
    }
    let dir = match &o.data_dir {
        Some(d) => d.clone(),
        None => crate::temp_dir("crash")?.join("data"),
    };
    let seed = o.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let log = dir.with_extension("server.log");
    let status = Command::new(&o.enrolld)
        .args(["init", "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", o.enrolld.display()))?;
    if !status.status.success() {
        return Err(format!(
            "enrolld init failed: {}",
            String::from_utf8_lossy(&status.stderr)
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = Rng(seed | 1);
    let mut kills = 0;
    rt.block_on(async {
        for round in 0..=o.rounds {
            let (mut child, target) = start(&o.enrolld, &dir, &log).await?;
            let token = std::fs::read_to_string(dir.join("admin-token"))
                .map_err(|e| format!("admin-token: {e}"))?
                .trim()
                .to_owned();
            let checked = verify::verify(&target, &token, &ledger, round).await;
            if let Err(e) = checked {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("round {round}: checks could not run: {e}"));
            }
            if round == o.rounds {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            let delay = o.min_delay_ms + rng.below(o.max_delay_ms - o.min_delay_ms + 1);
            let kill = || {
                let _ = child.kill();
                let _ = child.wait();
            };
            let workload = Workload {
                round,
                clients: o.concurrency,
                seed: rng.next(),
                pace: Duration::from_millis(o.pace_ms),
                delay: Duration::from_millis(delay),
            };
            chaos(&target, &token, &ledger, &workload, kill).await;
            kills += 1;
            let l = lock(&ledger);
            eprintln!(
                "crash: kill {kills}/{} after {delay} ms: {} certificates, {} revocations acknowledged so far, {} violations",
                o.rounds,
                l.issued.len(),
                l.revoked_acked.len(),
                l.violation_count()
            );
        }
        Ok::<(), String>(())
    })?;
    let l = lock(&ledger);
    // A temporary data directory goes when all is well; with a violation it is evidence.
    if o.data_dir.is_none() && l.violation_count() == 0 {
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
    Ok(json!({
        "workload": "crash",
        "rounds": o.rounds,
        "kills": kills,
        "concurrency": o.concurrency,
        "kill_delay_ms": [o.min_delay_ms, o.max_delay_ms],
        "pace_ms": o.pace_ms,
        "seed": seed,
        "data_dir": dir.display().to_string(),
        "seconds": crate::load::round(started.elapsed().as_secs_f64(), 1),
        "certificates_received": l.issued.len(),
        "credentials_created": l.credentials_created,
        "certificates_checked": l.certificates_checked,
        "revocations_acknowledged": l.revoked_acked.len(),
        "revocations_checked": l.revocations_checked,
        "credential_retries_checked": l.credential_retries_checked,
        "cut_off_enrolments_retried": l.pending_retried,
        "crls_checked": l.crls_checked,
        "transport_errors_before_kill": l.transport_errors_before_kill,
        "violations": l.violation_count(),
        "violation_details": l.violations,
    }))
}

fn lock(l: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
    // A worker that panicked left the ledger as it was; the checks still apply.
    l.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts `enrolld serve` on 127.0.0.1:0 with rate limits off, reads the port from the
/// banner and waits for /healthz.
async fn start(bin: &Path, dir: &Path, log: &Path) -> Result<(Child, Arc<Target>), String> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir)
        .env("ENROLLD_RATE_LIMIT", "off")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let fail = |child: &mut Child, what: &str| {
        let _ = child.kill();
        let _ = child.wait();
        let mut text = String::new();
        let _ = std::fs::File::open(log).and_then(|mut f| f.read_to_string(&mut text));
        format!("{what}; server log:\n{text}")
    };
    let base = loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Err(fail(
                &mut child,
                &format!("enrolld exited during start-up ({s})"),
            ));
        }
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let url = text.lines().find_map(|l| {
            l.trim()
                .strip_prefix("base URL:")
                .map(|u| u.trim().to_owned())
        });
        if let Some(u) = url {
            break u;
        }
        if Instant::now() > deadline {
            return Err(fail(&mut child, "no base URL in the banner within 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let target = match Target::new(&base, &dir.join("ca-bundle.pem"), Duration::from_secs(20)).await
    {
        Ok(t) => t,
        Err(e) => return Err(fail(&mut child, &e)),
    };
    let mut http = Http::new(target.clone());
    loop {
        if let Ok(r) = http.get("/healthz", &[]).await {
            if r.status == 200 {
                break;
            }
        }
        if Instant::now() > deadline {
            return Err(fail(&mut child, "/healthz did not answer 200 within 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((child, target))
}

/// One simpleenroll; the status and the certificate of a 200.
async fn enrol_status(
    http: &mut Http,
    auth: &str,
    csr_b64: &str,
) -> Result<(u16, Option<Vec<u8>>), OpError> {
    let r = http
        .post(
            "/.well-known/est/simpleenroll",
            "application/pkcs10",
            &[("authorization", auth)],
            csr_b64.to_owned(),
        )
        .await?;
    let cert = pki::certs_from_pkcs7(&r.body).into_iter().next();
    Ok((r.status.as_u16(), cert))
}

/// The shape of one round's workload.
struct Workload {
    /// Kill number, recorded with what is received.
    round: usize,
    /// Concurrent clients.
    clients: usize,
    /// Seed of the clients' revocation choices.
    seed: u64,
    /// Pause of each client between enrolments.
    pace: Duration,
    /// Time from the start of the workload to the kill.
    delay: Duration,
}

/// The workload of one round: clients enrol (credential, then simpleenroll) and every other
/// one revokes a random earlier certificate now and then; after the delay, `kill` runs.
async fn chaos(
    target: &Arc<Target>,
    token: &str,
    ledger: &Arc<Mutex<Ledger>>,
    wl: &Workload,
    kill: impl FnOnce(),
) {
    let (round, seed, pace) = (wl.round, wl.seed, wl.pace);
    let killed = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..wl.clients {
        let (target, ledger, killed) = (target.clone(), ledger.clone(), killed.clone());
        let bearer = format!("Bearer {token}");
        let token = token.to_owned();
        let mut rng = Rng((seed ^ (w as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
        workers.push(tokio::spawn(async move {
            let mut http = Http::new(target);
            // A transport error before the kill is odd but no violation; one after it ends
            // the client. An HTTP answer other than the expected one is a violation.
            let transport = |e: &OpError| {
                if !killed.load(Ordering::SeqCst) {
                    eprintln!("crash: worker {w}: {} before the kill", e.detail());
                    lock(&ledger).transport_errors_before_kill += 1;
                }
            };
            for n in 0.. {
                if n > 0 && !pace.is_zero() {
                    tokio::time::sleep(pace).await;
                }
                let name = format!("crash-{round}-{w}-{n}");
                let auth = match est::credential(&mut http, &token, &name).await {
                    Ok(a) => a,
                    Err(e @ OpError::Status(..)) | Err(e @ OpError::Protocol(..)) => {
                        lock(&ledger).violation(format!(
                            "round {round}: creating a credential answered {}",
                            e.detail()
                        ));
                        break;
                    }
                    Err(e) => {
                        transport(&e);
                        break;
                    }
                };
                lock(&ledger).credentials_created += 1;
                let csr_b64 = match pki::p256_csr(&[]) {
                    Ok(c) => pki::b64(&c),
                    Err(e) => {
                        lock(&ledger).violation(format!("cannot make a CSR: {e}"));
                        break;
                    }
                };
                match enrol_status(&mut http, &auth, &csr_b64).await {
                    Ok((200, Some(der))) => lock(&ledger).receive(auth, csr_b64, der, round),
                    Ok((status, _)) => {
                        lock(&ledger).violation(format!(
                            "round {round}: simpleenroll with a fresh credential answered HTTP {status}"
                        ));
                        break;
                    }
                    Err(e) => {
                        transport(&e);
                        lock(&ledger).pending.push((auth, csr_b64, round));
                        break;
                    }
                }
                if w % 2 == 1 || rng.below(3) != 0 {
                    continue;
                }
                let serial = {
                    let l = lock(&ledger);
                    let candidates: Vec<&String> = l
                        .issued
                        .iter()
                        .map(|i| &i.serial)
                        .filter(|s| !l.revoke_sent.contains(*s))
                        .collect();
                    if candidates.is_empty() {
                        continue;
                    }
                    candidates[rng.below(candidates.len() as u64) as usize].clone()
                };
                lock(&ledger).revoke_sent.insert(serial.clone());
                let r = http
                    .post(
                        &format!("/api/v1/certificates/{serial}/revoke"),
                        "application/json",
                        &[("authorization", &bearer)],
                        json!({"reason": "keyCompromise"}).to_string(),
                    )
                    .await;
                match r {
                    Ok(r) if r.status == 200 => {
                        lock(&ledger).revoked_acked.insert(serial);
                    }
                    Ok(r) => {
                        lock(&ledger).violation(format!(
                            "round {round}: revoking {serial} answered HTTP {}",
                            r.status
                        ));
                        break;
                    }
                    Err(e) => {
                        transport(&e);
                        break;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(wl.delay).await;
    killed.store(true, Ordering::SeqCst);
    kill();
    for w in workers {
        let _ = w.await;
    }
}
