//! CA keys encrypted at rest with a passphrase: never written in the clear, loaded only with it.

mod common;

use std::path::Path;
use std::process::{Command, Output};

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

/// A config file naming `pass_file` as `ca.key_passphrase_file`.
fn passphrase_config(dir: &Path, pass_file: &Path) -> std::path::PathBuf {
    let cfg = dir.join("enrolld.toml");
    std::fs::write(
        &cfg,
        format!(
            "[ca]\nkey_passphrase_file = {:?}\n",
            pass_file.to_str().unwrap()
        ),
    )
    .unwrap();
    cfg
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn imported_ca_key_is_encrypted_with_the_configured_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An existing self-signed CA, its key a plain PKCS#8 PEM file.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Imported Test CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).unwrap();
    let import_dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (
        import_dir.path().join("ca.crt"),
        import_dir.path().join("ca.key"),
    );
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let pass_file = dir.path().join("ca.pass");
    std::fs::write(&pass_file, "an imported CA's passphrase\n").unwrap();
    let cfg = passphrase_config(dir.path(), &pass_file);

    let out = enrolld()
        .args(["init", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .arg("--import-ca")
        .arg(&cert_file)
        .arg("--import-key")
        .arg(&key_file)
        .env_remove("ENROLLD_CA_PASSPHRASE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The stored key is sealed with the configured passphrase, not a copy of the PEM file.
    let stored = std::fs::read_to_string(data.join("ca/issuing.key")).unwrap();
    assert!(stored.contains("ENROLLD ENCRYPTED PRIVATE KEY"), "{stored}");
    assert!(!stored.contains("BEGIN PRIVATE KEY"));
    let pem = enrolld::ca::keys::decrypt_key(&stored, "an imported CA's passphrase").unwrap();
    assert_eq!(pem, key.serialize_pem());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("ca/issuing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The server starts on it, with the passphrase, and serves the imported CA.
    let s = common::Server::start_in(
        dir,
        &format!(
            "[ca]\nkey_passphrase_file = {:?}\n",
            pass_file.to_str().unwrap()
        ),
    )
    .await;
    let r = s
        .client()
        .get(s.url("/.well-known/est/cacerts"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let certs = common::certs_from_pkcs7(&r.text().await.unwrap());
    assert_eq!(certs, vec![cert.der().to_vec()]);
    s.stop().await;
}

#[test]
fn unencrypted_ca_key_is_refused_when_a_passphrase_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A data directory created without a passphrase: plain keys.
    let out = enrolld()
        .args(["init", "--data-dir"])
        .arg(&data)
        .env_remove("ENROLLD_CA_PASSPHRASE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let issuing = data.join("ca/issuing.key");
    assert!(std::fs::read_to_string(&issuing)
        .unwrap()
        .contains("BEGIN PRIVATE KEY"));

    // A passphrase configured afterwards: start-up refuses the plain key, naming the file and
    // what to do, whether the passphrase comes from the file or the environment.
    let pass_file = dir.path().join("ca.pass");
    std::fs::write(&pass_file, "configured later\n").unwrap();
    let cfg = passphrase_config(dir.path(), &pass_file);
    let mut config = enrolld::config::Config::load(&cfg).unwrap();
    config.data_dir = data.clone();
    let err = match enrolld::server::initialise(&config, None) {
        Ok(_) => panic!("a plain CA key loaded although a passphrase is configured"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(issuing.to_str().unwrap()), "{err}");
    assert!(err.contains("not encrypted"), "{err}");
    assert!(err.contains("enrolld ca encrypt-keys"), "{err}");
    for env in [None, Some("configured later")] {
        let mut c = enrolld();
        c.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data);
        match env {
            None => c
                .arg("--config")
                .arg(&cfg)
                .env_remove("ENROLLD_CA_PASSPHRASE"),
            Some(p) => c.env("ENROLLD_CA_PASSPHRASE", p),
        };
        let out = c.output().unwrap();
        assert!(!out.status.success());
        let msg = stderr(&out);
        assert!(msg.contains(issuing.to_str().unwrap()), "{msg}");
        assert!(msg.contains("enrolld ca encrypt-keys"), "{msg}");
    }

    // What the error says to do works: the keys are sealed in place and the CA loads.
    let out = enrolld()
        .args(["ca", "encrypt-keys", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .env_remove("ENROLLD_CA_PASSPHRASE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    for f in ["ca/issuing.key", "ca/root.key"] {
        let text = std::fs::read_to_string(data.join(f)).unwrap();
        assert!(text.contains("ENROLLD ENCRYPTED PRIVATE KEY"), "{f}");
        enrolld::ca::keys::decrypt_key(&text, "configured later").unwrap();
    }
    enrolld::server::initialise(&config, None).unwrap();
}
