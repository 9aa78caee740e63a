//! Real-client interop (STYLE.md habit 7): runs the scripts in `protocol-tests/` (curl +
//! openssl for EST, certbot and lego for ACME, scepclient and certmonger for SCEP) against the
//! binary cargo just built, so `cargo test` exercises them.
//!
//! Nothing is skipped: a missing `bash`, `curl`, `openssl`, `certbot`, `lego`, `scepclient`, `chromium` or
//! `certmonger` makes the test fail, because a protocol test that silently does not run proves
//! nothing (`.ci/run` installs them). The scripts run one at a time (see `SERIAL`); each binds
//! its server and its http-01 responder to ports the kernel picks, so a second `cargo test`
//! never shares a port with it.

use std::path::Path;
use std::process::Command;

/// Runs `bash protocol-tests/<script>` from the repository root with `ENROLLD_BIN` set to the
/// built binary, and fails with the script's whole output unless it exits 0.
/// One script at a time: run in parallel on a 2-core CI machine, certbot, the crash tool and
/// the benchmark smoke round slow each other past client timeouts.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run_script(script: &str) {
    let _one_at_a_time = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("protocol-tests").join(script);
    // `exec 2>&1` keeps stdout and stderr in one stream, so a failure reads in order.
    let output = Command::new("bash")
        .arg("-c")
        .arg("exec 2>&1; exec bash \"$0\"")
        .arg(&path)
        .current_dir(root)
        .env("ENROLLD_BIN", env!("CARGO_BIN_EXE_enrolld"))
        .env("ENROLLD_BENCH_BIN", env!("CARGO_BIN_EXE_enrolld-bench"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash {}: {e}", path.display()));
    let text = String::from_utf8_lossy(&output.stdout);
    // Captured by the test harness: shown on failure or with --nocapture.
    println!("{text}");
    assert!(
        output.status.success(),
        "protocol-tests/{script} failed ({}); its output:\n{text}",
        output.status
    );
}

/// `protocol-tests/est.sh`: EST with curl and openssl — P-256, P-384 and RSA 3072 client keys,
/// refusals, a labelled `person` profile, Ed25519 and RSA 3072 CAs.
#[test]
fn est_curl_openssl() {
    run_script("est.sh");
}

/// `protocol-tests/persistence.sh`: issued certificates survive `kill -9`; SIGTERM exits 0.
#[test]
fn persistence_kill_9() {
    run_script("persistence.sh");
}

/// `protocol-tests/status.sh`: CRL and OCSP with openssl and curl over the plain-HTTP status
/// listener — good, revoked with reason, GET form, CRL checks, malformed requests.
#[test]
fn status_crl_ocsp() {
    run_script("status.sh");
}

/// `protocol-tests/acme-certbot.sh`: ACME with certbot — EAB, a pre-authorised name, http-01,
/// profiles, ARI-driven renewal, revocation by account and by certificate key, refusals.
#[test]
fn acme_certbot() {
    run_script("acme-certbot.sh");
}

/// `protocol-tests/acme-lego.sh`: ACME with lego — EAB, pre-authorised names, http-01, forced
/// renewals (new key and reused key), revocation, refusals.
#[test]
fn acme_lego() {
    run_script("acme-lego.sh");
}

/// `protocol-tests/bench-smoke.sh`: the benchmark harness runs — floor, SCEP crypto floor, a
/// 2,000-entry CRL, and a 3-second round of each of OCSP, EST, ACME and SCEP (PKCSReq on the
/// plain-HTTP listener) against a server with rate limits off, each report showing completed
/// operations and no errors; every SCEP reply a SUCCESS whose one certificate is for the
/// requester's key, no serial repeated. It asserts no speed.
#[test]
fn bench_smoke() {
    run_script("bench-smoke.sh");
}

/// `protocol-tests/approval.sh`: manual approval over EST with curl — 202 + Retry-After,
/// approve through the admin API, retry → certificate.
#[test]
fn est_approval_curl() {
    run_script("approval.sh");
}

/// `protocol-tests/crash.sh`: the short crash-consistency round — concurrent EST enrolments
/// and revocations, SIGKILL at random moments, restart; every acknowledged certificate and
/// revocation survives, no serial or credential is used twice, the CRL matches the store.
#[test]
fn crash_consistency() {
    run_script("crash.sh");
}

/// `protocol-tests/scep.sh`: SCEP with micromdm's scepclient (legacy label: enrolment with a
/// registry challenge, renewal, refused challenges, approval by polling, revocation in OCSP
/// and the CRL) and certmonger (scep-submit, and getcert with its daemon on a private D-Bus).
#[test]
fn scep_scepclient_certmonger() {
    run_script("scep.sh");
}

/// `protocol-tests/mail.sh`: mail through Debian's aiosmtpd with the binary — a relay down at
/// start-up is a warning; 100 mailed pickup links survive `kill -9` and arrive once each; no
/// link in the debug log; a broken template or an unprotected remote relay stops the start.
#[test]
fn mail_relay_and_kill_9() {
    run_script("mail.sh");
}

/// `protocol-tests/console-browser.sh`: the console in Debian's chromium with playwright-core —
/// sign-in, registration, a pickup link downloaded in a second browser (opened with openssl),
/// revocation seen by OCSP, an approval a polling curl client waits for, a bulk import of 1,000
/// rows, off-boarding, the audit chain, both languages, a read token's pages and forged POSTs,
/// CSRF; axe-core on every page; screenshots to docs/images/console/.
#[test]
fn console_in_chromium() {
    run_script("console-browser.sh");
}
