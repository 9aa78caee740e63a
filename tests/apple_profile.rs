//! `GET /api/v1/subjects/{id}/apple-profile`: a `.mobileconfig` that Apple's own parser
//! would read (checked with Python's plistlib), whose SCEP challenge is a fresh one-time
//! registry challenge, with escaped registry names and the CA certificates.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};

/// Parses a property list with Python's plistlib; `<data>` comes back as `{"data": hex}`.
fn parse_plist(body: &[u8]) -> Value {
    const SCRIPT: &str = "import sys, json, plistlib
def conv(v):
    if isinstance(v, bytes): return {'data': v.hex()}
    if isinstance(v, dict): return {k: conv(x) for k, x in v.items()}
    if isinstance(v, list): return [conv(x) for x in v]
    return v
print(json.dumps(conv(plistlib.loads(sys.stdin.buffer.read()))))";
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "plistlib refused the profile: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(body)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// GET the profile: (status, content type, body).
async fn profile(s: &Server, id: &str, query: &str) -> (u16, String, Vec<u8>) {
    let r = s
        .client()
        .get(s.url(&format!("/api/v1/subjects/{id}/apple-profile{query}")))
        .bearer_auth(s.admin_token())
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (st, ct, r.bytes().await.unwrap().to_vec())
}

async fn register(s: &Server, path: &str, body: Value) -> String {
    let (st, v) = s
        .api(reqwest::Method::POST, path, &s.admin_token(), Some(body))
        .await;
    assert_eq!(st, 201, "{v}");
    v["subject"]["id"].as_str().unwrap().to_owned()
}

/// The payloads of a profile by PayloadType.
fn payloads<'a>(p: &'a Value, kind: &str) -> Vec<&'a Value> {
    p["PayloadContent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["PayloadType"] == kind)
        .collect()
}

fn ca_chain(s: &Server) -> Vec<Vec<u8>> {
    // ca-bundle.pem holds the root first.
    let mut chain = enrolld::ca::pem_certs(&String::from_utf8(s.ca_bundle()).unwrap()).unwrap();
    chain.reverse();
    chain
}

#[tokio::test]
async fn profile_holds_a_scep_payload_with_a_fresh_one_time_challenge_and_the_ca() {
    let s = Server::start("").await;
    let id = register(
        &s,
        "/api/v1/devices",
        json!({"external_id": "mdm-1", "name": "mac-1", "dns_names": ["mac-1.corp.example"]}),
    )
    .await;
    let (st, ct, body) = profile(&s, &id, "").await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(ct, "application/x-apple-aspen-config");
    let p = parse_plist(&body);
    assert_eq!(p["PayloadType"], "Configuration");
    assert_eq!(p["PayloadVersion"], 1);
    assert_eq!(p["PayloadRemovalDisallowed"], false);
    assert!(p["PayloadIdentifier"]
        .as_str()
        .unwrap()
        .contains(&format!("enrolld.{id}.")));

    let scep = payloads(&p, "com.apple.security.scep");
    assert_eq!(scep.len(), 1);
    let c = &scep[0]["PayloadContent"];
    assert_eq!(c["URL"], format!("{}/scep", s.status_base()));
    assert_eq!(c["Subject"], json!([[["CN", "mac-1"]]]));
    assert_eq!(c["SubjectAltName"]["dNSName"], "mac-1.corp.example");
    assert_eq!(c["Keysize"], 2048);
    assert_eq!(c["Key Type"], "RSA");
    assert_eq!(c["Key Usage"], 5);
    // Apple devices compare a SHA-1 (or MD5) fingerprint with the top of GetCACert's chain.
    let chain = ca_chain(&s);
    let root = chain.last().unwrap();
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, root);
    assert_eq!(c["CAFingerprint"]["data"], hex::encode(sha1.as_ref()));

    let roots = payloads(&p, "com.apple.security.root");
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["PayloadContent"]["data"], hex::encode(root));
    let below = payloads(&p, "com.apple.security.pkcs1");
    assert_eq!(below.len(), chain.len() - 1);
    assert_eq!(below[0]["PayloadContent"]["data"], hex::encode(&chain[0]));

    // The challenge is a registry SCEP challenge of this subject, audited as one.
    let challenge = c["Challenge"].as_str().unwrap().to_owned();
    let cred_id = challenge.split('.').next().unwrap().to_owned();
    assert!(cred_id.starts_with("scep-"), "{challenge}");
    let (_, subject) = s
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/subjects/{id}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert!(
        subject["scep_challenges"]
            .as_array()
            .unwrap()
            .contains(&json!(cred_id)),
        "{subject}"
    );

    // A second profile carries another challenge and other UUIDs.
    let (_, _, body2) = profile(&s, &id, "").await;
    let p2 = parse_plist(&body2);
    let c2 = &payloads(&p2, "com.apple.security.scep")[0]["PayloadContent"];
    assert_ne!(c2["Challenge"], c["Challenge"]);
    assert_ne!(p2["PayloadUUID"], p["PayloadUUID"]);
    assert_ne!(p2["PayloadIdentifier"], p["PayloadIdentifier"]);
    let (_, audit) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/audit?limit=1000",
            &s.admin_token(),
            None,
        )
        .await;
    let scep_entries: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "credential.scep" && e["target"] == id.as_str())
        .collect();
    assert_eq!(scep_entries.len(), 2, "{audit}");
    assert_eq!(scep_entries[0]["detail"], cred_id.as_str());
    // The secret never reaches the audit log.
    let secret = challenge.split('.').nth(1).unwrap();
    assert!(!audit.to_string().contains(secret));
    s.stop().await;
}

#[tokio::test]
async fn registry_names_are_xml_escaped() {
    let s = Server::start("").await;
    let name = "Tom & Jerry <QA> \"R&D\"";
    let id = register(
        &s,
        "/api/v1/people",
        json!({"external_id": "hr-9", "email": "tom@corp.example", "display_name": name}),
    )
    .await;
    let (st, _, body) = profile(&s, &id, "").await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(!text.contains("<QA>"), "{text}");
    assert!(text.contains("Tom &amp; Jerry &lt;QA&gt;"), "{text}");
    let p = parse_plist(&body);
    let c = &payloads(&p, "com.apple.security.scep")[0]["PayloadContent"];
    assert_eq!(c["Subject"], json!([[["CN", name]]]));
    assert_eq!(c["SubjectAltName"]["rfc822Name"], "tom@corp.example");
    assert!(p["PayloadDisplayName"].as_str().unwrap().contains(name));
    s.stop().await;
}

#[tokio::test]
async fn a_suspended_subject_is_refused_as_for_credentials() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    let id = register(
        &s,
        "/api/v1/devices",
        json!({"external_id": "mdm-s", "name": "ipad-s"}),
    )
    .await;
    let (st, v) = s
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/subjects/{id}"),
            &admin,
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (cred_st, cred) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &admin,
            Some(json!({"kind": "scep"})),
        )
        .await;
    assert_eq!(cred_st, 403, "{cred}");
    let (st, ct, body) = profile(&s, &id, "").await;
    assert_eq!(st, cred_st);
    assert_eq!(ct, "application/problem+json");
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["type"], cred["type"]);
    assert_eq!(problem["detail"], cred["detail"]);
    let (_, audit) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/audit?limit=1000",
            &admin,
            None,
        )
        .await;
    assert!(!audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "credential.scep"));
    // An unknown subject is a 404.
    assert_eq!(profile(&s, "nosuchsubject", "").await.0, 404);
    s.stop().await;
}

#[tokio::test]
async fn label_and_lifetime_options() {
    let s = Server::start("[scep.labels.mdm]\nprofile = \"device\"\n").await;
    let id = register(
        &s,
        "/api/v1/devices",
        json!({"external_id": "mdm-l", "name": "iphone-l"}),
    )
    .await;
    let (st, _, body) = profile(&s, &id, "?label=mdm&expires_in=3600").await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    let p = parse_plist(&body);
    let c = &payloads(&p, "com.apple.security.scep")[0]["PayloadContent"];
    assert_eq!(c["URL"], format!("{}/scep/mdm", s.status_base()));
    // No DNS names or mail address: no SubjectAltName dictionary.
    assert!(c.get("SubjectAltName").is_none(), "{c}");
    assert_eq!(profile(&s, &id, "?label=other").await.0, 400);
    assert_eq!(profile(&s, &id, "?expires_in=999999999").await.0, 400);
    assert_eq!(profile(&s, &id, "?uses=5").await.0, 400);
    s.stop().await;
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl")
}

fn openssl_ok(dir: &std::path::Path, args: &[&str]) {
    let out = openssl(dir, args);
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A signing CA and a signer it issued, in `dir`: `ca.pem`, `chain.pem` (signer then CA),
/// `signer.pem`, `signer.key` (PKCS#8) and `signer-rsa.key` (PKCS#1).
fn signer_files(dir: &std::path::Path) {
    openssl_ok(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=Profile Signing CA",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    openssl_ok(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "signer.key",
            "-out",
            "signer.csr",
            "-subj",
            "/CN=Profile Signer",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "keyUsage=critical,digitalSignature\n").unwrap();
    openssl_ok(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "signer.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "signer.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    openssl_ok(
        dir,
        &[
            "rsa",
            "-traditional",
            "-in",
            "signer.key",
            "-out",
            "signer-rsa.key",
        ],
    );
    let mut chain = std::fs::read(dir.join("signer.pem")).unwrap();
    chain.extend(std::fs::read(dir.join("ca.pem")).unwrap());
    std::fs::write(dir.join("chain.pem"), chain).unwrap();
}

#[tokio::test]
async fn a_configured_signer_signs_the_profile_as_cms_signed_data() {
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    signer_files(k);
    assert!(std::fs::read_to_string(k.join("signer-rsa.key"))
        .unwrap()
        .contains("BEGIN RSA PRIVATE KEY"));
    let s = Server::start(&format!(
        "[scep]\nprofile_signing_cert = {:?}\nprofile_signing_key = {:?}\n",
        k.join("chain.pem").to_str().unwrap(),
        k.join("signer-rsa.key").to_str().unwrap()
    ))
    .await;
    let id = register(
        &s,
        "/api/v1/devices",
        json!({"external_id": "mdm-sig", "name": "mac-sig"}),
    )
    .await;
    let (st, ct, body) = profile(&s, &id, "").await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(ct, "application/x-apple-aspen-config");
    assert!(
        !body.starts_with(b"<?xml"),
        "the body is DER, not the plist"
    );
    std::fs::write(k.join("profile.der"), &body).unwrap();

    // The signature verifies against the signer certificate alone (-noverify skips the
    // chain), and what comes out is the plist.
    openssl_ok(
        k,
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "profile.der",
            "-noverify",
            "-out",
            "content.xml",
            "-signer",
            "signer-out.pem",
        ],
    );
    let content = std::fs::read(k.join("content.xml")).unwrap();
    assert!(content.starts_with(b"<?xml"));
    let p = parse_plist(&content);
    assert_eq!(p["PayloadType"], "Configuration");
    let c = &payloads(&p, "com.apple.security.scep")[0]["PayloadContent"];
    assert_eq!(c["Subject"], json!([[["CN", "mac-sig"]]]));
    let signer_out =
        enrolld::ca::pem_certs(&std::fs::read_to_string(k.join("signer-out.pem")).unwrap())
            .unwrap();
    let signer =
        enrolld::ca::pem_certs(&std::fs::read_to_string(k.join("signer.pem")).unwrap()).unwrap();
    assert_eq!(signer_out, signer);
    // The chain travels with it: the signing CA as the only anchor is enough.
    openssl_ok(
        k,
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "profile.der",
            "-CAfile",
            "ca.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    // A changed byte in the content breaks the signature.
    let at = body
        .windows(b"mac-sig".len())
        .position(|w| w == b"mac-sig")
        .unwrap();
    let mut tampered = body.clone();
    tampered[at] = b'M';
    std::fs::write(k.join("tampered.der"), &tampered).unwrap();
    let out = openssl(
        k,
        &[
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "tampered.der",
            "-noverify",
            "-out",
            "/dev/null",
        ],
    );
    assert!(!out.status.success());
    s.stop().await;
}

/// Starts a server with `scep_toml` and returns its start-up error.
async fn start_error(scep_toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "data_dir = {:?}\n[scep]\n{scep_toml}",
        dir.path().join("data").to_str().unwrap()
    );
    let cfg = enrolld::config::Config::parse(&toml).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let r = enrolld::server::run(cfg, listener, std::future::pending()).await;
    let e = r.expect_err("the server started").to_string();
    // Refused before the data directory was touched.
    assert!(!dir.path().join("data").exists());
    e
}

#[tokio::test]
async fn a_signer_that_cannot_be_used_stops_the_server_from_starting() {
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    signer_files(k);
    openssl_ok(
        k,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.key",
        ],
    );
    let path = |n: &str| k.join(n).to_str().unwrap().to_owned();
    let e = start_error(&format!(
        "profile_signing_cert = {:?}\nprofile_signing_key = {:?}\n",
        path("signer.pem"),
        path("ec.key")
    ))
    .await;
    assert!(
        e.contains("scep.profile_signing_key") && e.contains("not an RSA key"),
        "{e}"
    );
    let e = start_error(&format!(
        "profile_signing_cert = {:?}\nprofile_signing_key = {:?}\n",
        path("missing.pem"),
        path("signer.key")
    ))
    .await;
    assert!(e.contains("scep.profile_signing_cert"), "{e}");
    let e = start_error(&format!(
        "profile_signing_cert = {:?}\nprofile_signing_key = {:?}\n",
        path("signer.pem"),
        path("ca.key")
    ))
    .await;
    assert!(e.contains("does not belong"), "{e}");
    // One without the other is refused when the configuration is read.
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "data_dir = {:?}\n[scep]\nprofile_signing_cert = {:?}\n",
        dir.path().to_str().unwrap(),
        path("signer.pem")
    );
    let e = enrolld::config::Config::parse(&toml)
        .unwrap_err()
        .to_string();
    assert!(e.contains("go together"), "{e}");
}
