//! CA keys encrypted at rest with a passphrase: never written in the clear, loaded only with it.

use std::process::Command;

fn enrolld() -> Command {
    Command::new(env!("CARGO_BIN_EXE_enrolld"))
}

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn passphrase_protected_ca_key_is_never_written_unencrypted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pass_file = dir.path().join("ca.pass");
    std::fs::write(&pass_file, "a long and secret passphrase\n").unwrap();
    let cfg = dir.path().join("enrolld.toml");
    std::fs::write(
        &cfg,
        format!(
            "[ca]\nkey_passphrase_file = {:?}\n",
            pass_file.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = enrolld()
        .args(["init", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Decrypt the issuing key with the passphrase to learn its secret bytes…
    let text = std::fs::read_to_string(data.join("ca/issuing.key")).unwrap();
    assert!(text.contains("ENROLLD ENCRYPTED PRIVATE KEY"));
    let pem = enrolld::ca::keys::decrypt_key(&text, "a long and secret passphrase").unwrap();
    let der = enrolld::ca::pem_certs(&pem.replace("PRIVATE KEY", "CERTIFICATE"))
        .unwrap()
        .remove(0);
    // …and check that no file in the data directory holds them, in DER or PEM.
    // A window inside the private scalar (PKCS#8 headers are the same for every P-256 key).
    let secret = &der[40..64];
    let mut all = Vec::new();
    files(&data, &mut all);
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "{} holds the raw CA key",
            f.display()
        );
        // PEM blocks decoded.
        let text = String::from_utf8_lossy(&bytes);
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        if let Ok(decoded) = <base64ct::Base64 as base64ct::Encoding>::decode_vec(body.trim()) {
            assert!(
                !decoded.windows(secret.len()).any(|w| w == secret),
                "{} holds the CA key in PEM",
                f.display()
            );
        }
        if f.ends_with("root.key") || f.ends_with("issuing.key") {
            assert!(!text.contains("BEGIN PRIVATE KEY"), "{}", f.display());
        }
    }
    // A wrong passphrase does not load the CA (init on an existing directory loads it).
    std::fs::write(&pass_file, "wrong\n").unwrap();
    let out = enrolld()
        .args(["init", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("passphrase"));
    // Without any passphrase it says what is missing.
    let out = enrolld()
        .args(["init", "--data-dir"])
        .arg(&data)
        .env_remove("ENROLLD_CA_PASSPHRASE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ENROLLD_CA_PASSPHRASE"));
    // The environment variable works too.
    let out = enrolld()
        .args(["init", "--data-dir"])
        .arg(&data)
        .env("ENROLLD_CA_PASSPHRASE", "a long and secret passphrase")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
