//! PKCS#12: the Appendix B KDF against published and OpenSSL-derived vectors, and whole files
//! read back by the system `openssl` (a missing `openssl` fails these tests; CI installs it).

use std::path::Path;
use std::process::{Command, Output};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, RsaKeySize,
};

use super::*;

const PASSPHRASE: &str = "correct horse battery staple";

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn iterations(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// RFC 7292 Appendix B.1 encoding of an ASCII password.
fn bmp(p: &str) -> Vec<u8> {
    Passphrase::new(p).bmp
}

/// Vectors from Dr Stephen Henson's PKCS#12 key generation test file
/// (drh-consultancy.demon.co.uk/test.txt), as carried by Bouncy Castle's
/// `core/src/test/java/org/bouncycastle/crypto/test/PKCS12Test.java`; all SHA-1.
#[test]
fn kdf_sha1_published_vectors() {
    let sha1 = &digest::SHA1_FOR_LEGACY_USE_ONLY;
    #[rustfmt::skip]
    let cases: &[(&str, u8, &str, u32, usize, &str)] = &[
        ("smeg", 1, "0A58CF64530D823F", 1, 24, "8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3"),
        ("smeg", 2, "0A58CF64530D823F", 1, 8, "79993DFE048D3B76"),
        ("smeg", 1, "642B99AB44FB4B1F", 1, 24, "F3A95FEC48D7711E985CFE67908C5AB79FA3D7C5CAA5D966"),
        ("smeg", 2, "642B99AB44FB4B1F", 1, 8, "C0A38D64A79BEA1D"),
        ("smeg", 3, "3D83C0E4546AC140", 1, 20, "8D967D88F6CAA9D714800AB3D48051D63F73A312"),
        ("queeg", 1, "05DEC959ACFF72F7", 1000, 24, "ED2034E36328830FF09DF1E1A07DD357185DAC0D4F9EB3D4"),
        ("queeg", 2, "05DEC959ACFF72F7", 1000, 8, "11DEDAD7758D4860"),
        ("queeg", 1, "1682C0FC5B3F7EC5", 1000, 24, "483DD6E919D7DE2E8E648BA8F862F3FBFBDC2BCB2C02957F"),
        ("queeg", 2, "1682C0FC5B3F7EC5", 1000, 8, "9D461D1B00355C50"),
        ("queeg", 3, "263216FCC2FAB31C", 1000, 20, "5EC4C7A80DF652294C3925B6489A7AB857C83476"),
    ];
    for &(pw, id, salt, iter, n, want) in cases {
        let got = kdf(sha1, id, &bmp(pw), &hex(salt), iterations(iter), n);
        assert_eq!(got, hex(want), "{pw} id {id} salt {salt}");
    }
}

/// SHA-256 vectors made with OpenSSL 3.0's PKCS12KDF, e.g.
/// `openssl kdf -keylen 70 -kdfopt digest:SHA256 -kdfopt hexpass:<BMP of P, then 0000>
/// -kdfopt hexsalt:00112233445566778899aabbccddeeff -kdfopt iter:1000 -kdfopt id:3 PKCS12KDF`.
/// The password is longer than a block and has a surrogate pair; 70 octets need three
/// rounds of step 6, so the I_j addition (with carries, in the 0xff salt case) is exercised.
#[test]
fn kdf_sha256_openssl_vectors() {
    let p = Passphrase::new("pässwörd 🔑 a long passphrase that spans more than one 64-byte block");
    assert_eq!(
        &p.bmp[..16],
        &hex("007000e400730073007700f6007200640020d83ddd11")[..16]
    );
    assert_eq!(&p.bmp[p.bmp.len() - 4..], &[0, 0x6b, 0, 0]);
    let got = kdf(
        &digest::SHA256,
        3,
        &p.bmp,
        &hex("00112233445566778899aabbccddeeff"),
        iterations(1000),
        70,
    );
    assert_eq!(
        got,
        hex(concat!(
            "2E108295014D521F4DA5125E425A5CFB985CADB2F69BACDC1E457F436F328CDB",
            "FD6E8B1E0E6DCE8EE18CE606EB3991E4AF5BC309239AD03E15470C7B87E3EF99",
            "B2CD64EBD67E"
        ))
    );
    let got = kdf(&digest::SHA256, 1, &p.bmp, &[0xff; 68], iterations(3), 32);
    assert_eq!(
        got,
        hex("A9FCE75105906E7E58B8D445E2F23AF372E0F6D657CCED8647E2370EC2CFA772")
    );
}

/// A CA (P-256) and a leaf issued by it for `leaf_key`; returns the chain, leaf first.
fn chain_for(leaf_key: &KeyPair) -> Vec<Vec<u8>> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "pkcs12 test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let mut leaf_params = CertificateParams::new(vec!["leaf.example".to_string()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "pkcs12 test leaf");
    let leaf = leaf_params.signed_by(leaf_key, &ca).unwrap();
    vec![leaf.der().to_vec(), ca.der().to_vec()]
}

fn p256() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

fn rsa2048() -> KeyPair {
    KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048).unwrap()
}

/// Runs the system `openssl`; panics (fails the test) if it cannot be started.
fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (it is required for these tests): {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Builds a Modern PFX for `leaf_key`, then checks it with `openssl pkcs12 -info` and that the
/// key openssl extracts matches the certificate openssl extracts.
fn check_modern(leaf_key: &KeyPair, passphrase: &str) {
    let chain = chain_for(leaf_key);
    let started = std::time::Instant::now();
    let pfx = build(
        &leaf_key.serialize_der(),
        &chain,
        "Ada's laptop",
        passphrase,
        P12Mode::Modern,
    )
    .unwrap();
    eprintln!("build (Modern): {:?}", started.elapsed());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.p12");
    std::fs::write(&file, &pfx).unwrap();
    let passin = format!("pass:{passphrase}");

    let info = openssl(&[
        "pkcs12",
        "-in",
        path(&file),
        "-passin",
        &passin,
        "-nodes",
        "-info",
    ]);
    let out = text(&info);
    assert!(info.status.success(), "{out}");
    assert!(out.contains("MAC: sha256, Iteration 100000"), "{out}");
    assert_eq!(
        out.matches("PBES2, PBKDF2, AES-256-CBC, Iteration 100000, PRF hmacWithSHA256")
            .count(),
        2,
        "certificates and key: {out}"
    );
    assert!(out.contains("Shrouded Keybag"), "{out}");
    assert_eq!(
        out.matches("-----BEGIN CERTIFICATE-----").count(),
        2,
        "{out}"
    );
    assert!(out.contains("subject=CN = pkcs12 test leaf"), "{out}");
    assert!(out.contains("subject=CN = pkcs12 test CA"), "{out}");
    assert_eq!(
        out.matches("friendlyName: Ada's laptop").count(),
        2,
        "{out}"
    );
    let key_id: String = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &chain[0])
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X} "))
        .collect();
    assert_eq!(
        out.matches(&format!("localKeyID: {key_id}")).count(),
        2,
        "{out}"
    );

    // The key and the end-entity certificate, each extracted by openssl, agree.
    let key_pem = dir.path().join("key.pem");
    let cert_pem = dir.path().join("cert.pem");
    for (what, to) in [("-nocerts", &key_pem), ("-clcerts", &cert_pem)] {
        let o = openssl(&[
            "pkcs12",
            "-in",
            path(&file),
            "-passin",
            &passin,
            "-nodes",
            what,
            "-out",
            path(to),
        ]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let from_key = openssl(&["pkey", "-in", path(&key_pem), "-pubout"]);
    let from_cert = openssl(&["x509", "-in", path(&cert_pem), "-pubkey", "-noout"]);
    assert!(from_key.status.success() && from_cert.status.success());
    assert_eq!(
        String::from_utf8_lossy(&from_key.stdout),
        String::from_utf8_lossy(&from_cert.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&from_key.stdout),
        leaf_key.public_key_pem()
    );

    // A wrong passphrase fails the MAC check.
    let wrong = openssl(&[
        "pkcs12",
        "-in",
        path(&file),
        "-passin",
        "pass:wrong",
        "-nodes",
        "-info",
    ]);
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("Mac verify error"),
        "{}",
        text(&wrong)
    );
}

#[test]
fn ok_modern_p256_openssl_reads_it() {
    check_modern(&p256(), PASSPHRASE);
}

#[test]
fn ok_modern_rsa2048_openssl_reads_it() {
    check_modern(&rsa2048(), PASSPHRASE);
}

/// Non-ASCII passphrase: UTF-8 for PBKDF2, BMPString (with a surrogate pair) for the MAC.
#[test]
fn ok_modern_unicode_passphrase() {
    check_modern(&p256(), "Pässwörd 🔑 ünïcode");
}

fn check_legacy(leaf_key: &KeyPair) {
    let chain = chain_for(leaf_key);
    let pfx = build(
        &leaf_key.serialize_der(),
        &chain,
        "old mac",
        PASSPHRASE,
        P12Mode::Legacy3Des,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.p12");
    std::fs::write(&file, &pfx).unwrap();
    let passin = format!("pass:{PASSPHRASE}");
    let info = openssl(&[
        "pkcs12",
        "-legacy",
        "-in",
        path(&file),
        "-passin",
        &passin,
        "-nodes",
        "-info",
    ]);
    let out = text(&info);
    assert!(info.status.success(), "{out}");
    assert!(out.contains("MAC: sha1, Iteration 2048"), "{out}");
    assert_eq!(
        out.matches("pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048")
            .count(),
        2,
        "{out}"
    );
    assert_eq!(
        out.matches("-----BEGIN CERTIFICATE-----").count(),
        2,
        "{out}"
    );
    assert_eq!(out.matches("friendlyName: old mac").count(), 2, "{out}");
    let key_pem = dir.path().join("key.pem");
    let o = openssl(&[
        "pkcs12",
        "-legacy",
        "-in",
        path(&file),
        "-passin",
        &passin,
        "-nodes",
        "-nocerts",
        "-out",
        path(&key_pem),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let from_key = openssl(&["pkey", "-in", path(&key_pem), "-pubout"]);
    assert_eq!(
        String::from_utf8_lossy(&from_key.stdout),
        leaf_key.public_key_pem()
    );
    let wrong = openssl(&[
        "pkcs12",
        "-legacy",
        "-in",
        path(&file),
        "-passin",
        "pass:wrong",
        "-nodes",
        "-info",
    ]);
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("Mac verify error"),
        "{}",
        text(&wrong)
    );
}

#[test]
fn ok_legacy_3des_p256() {
    check_legacy(&p256());
}

#[test]
fn ok_legacy_3des_rsa2048() {
    check_legacy(&rsa2048());
}

#[test]
fn fail_empty_or_nul_passphrase() {
    let key = p256();
    let chain = chain_for(&key);
    for pw in ["", "a\0b"] {
        assert!(matches!(
            build(&key.serialize_der(), &chain, "x", pw, P12Mode::Modern),
            Err(Error::Malformed(_))
        ));
    }
}

#[test]
fn fail_key_does_not_match_certificate() {
    let chain = chain_for(&p256());
    let other = p256();
    assert!(matches!(
        build(&other.serialize_der(), &chain, "x", PASSPHRASE, P12Mode::Modern),
        Err(Error::Internal(m)) if m.contains("does not match")
    ));
}

#[test]
fn fail_no_certificate_or_garbage() {
    let key = p256();
    let der = key.serialize_der();
    assert!(matches!(
        build(&der, &[], "x", PASSPHRASE, P12Mode::Modern),
        Err(Error::Internal(_))
    ));
    let mut chain = chain_for(&key);
    chain.push(vec![0x30, 0x00]);
    assert!(matches!(
        build(&der, &chain, "x", PASSPHRASE, P12Mode::Modern),
        Err(Error::Internal(m)) if m.contains("does not parse")
    ));
    assert!(matches!(
        build(
            &der[..der.len() - 1],
            &chain[..1],
            "x",
            PASSPHRASE,
            P12Mode::Modern
        ),
        Err(Error::Internal(_))
    ));
}

/// No friendly name: the attribute is left out, localKeyId stays.
#[test]
fn ok_without_friendly_name() {
    let key = p256();
    let chain = chain_for(&key);
    let pfx = build(
        &key.serialize_der(),
        &chain,
        "",
        PASSPHRASE,
        P12Mode::Modern,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.p12");
    std::fs::write(&file, &pfx).unwrap();
    let passin = format!("pass:{PASSPHRASE}");
    let info = openssl(&[
        "pkcs12",
        "-in",
        path(&file),
        "-passin",
        &passin,
        "-nodes",
        "-info",
    ]);
    let out = text(&info);
    assert!(info.status.success(), "{out}");
    assert!(!out.contains("friendlyName"), "{out}");
    assert_eq!(out.matches("localKeyID:").count(), 2, "{out}");
}
