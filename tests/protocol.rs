//! Real-client interop (STYLE.md habit 7): runs the curl + openssl scripts in `protocol-tests/`
//! against the binary cargo just built, so `cargo test` exercises them.
//!
//! Nothing is skipped: a missing `bash`, `curl` or `openssl` makes the test fail, because a
//! protocol test that silently does not run proves nothing.

use std::path::Path;
use std::process::Command;

/// Runs `bash protocol-tests/<script>` from the repository root with `ENROLLD_BIN` set to the
/// built binary, and fails with the script's whole output unless it exits 0.
fn run_script(script: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("protocol-tests").join(script);
    // `exec 2>&1` keeps stdout and stderr in one stream, so a failure reads in order.
    let output = Command::new("bash")
        .arg("-c")
        .arg("exec 2>&1; exec bash \"$0\"")
        .arg(&path)
        .current_dir(root)
        .env("ENROLLD_BIN", env!("CARGO_BIN_EXE_enrolld"))
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
