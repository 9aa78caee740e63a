//! S/MIME BR person certificates through every channel: for each validation type and generation
//! of the `person` profile and for P-256 and RSA keys, a certificate from a pickup link, EST and
//! ACME has the expected subject, SANs, key usage, EKUs, policies and validity, and `openssl`
//! signs and encrypts a message with it that verifies and decrypts against the CA bundle.
//! (docs/smime.md)

mod common;

use std::path::Path;
use std::process::Command;

use common::acme_client::{Client, Signer};
use common::*;
use enrolld::ca::KeyType;
use rcgen::KeyPair;
use serde_json::{json, Value};
use x509_parser::extensions::{GeneralName, ParsedExtension};

const ORG_OID: &str = "1.3.6.1.4.1.99999.1.1";
const CPS: &str = "http://pki.example.com/cps";

/// A server whose `person` profile is of `validation` and `generation`, with the plain-HTTP
/// status listener so CRL and AIA URLs are `http` (S/MIME BR §7.1.2.3 b, c).
async fn server(validation: &str, generation: &str, extra: &str) -> Server {
    server_with("", validation, generation, extra).await
}

/// [`server`] with `top` added to the configuration's top level.
async fn server_with(top: &str, validation: &str, generation: &str, extra: &str) -> Server {
    let ekus = match generation {
        "strict" => r#"["emailProtection"]"#,
        _ => r#"["clientAuth", "emailProtection"]"#,
    };
    Server::start(&format!(
        "http_listen = \"127.0.0.1:0\"\n{top}\
         [profiles.person]\nextended_key_usage = {ekus}\n{extra}\
         smime = {{ validation = \"{validation}\", generation = \"{generation}\", \
         policy_oids = [\"{ORG_OID}\"], cps_uri = \"{CPS}\" }}\n"
    ))
    .await
}

/// Registers a person; `names` adds given_name, family_name or pseudonym. Returns the id.
async fn person(s: &Server, ext: &str, email: &str, names: Value) -> String {
    let mut body = json!({"external_id": ext, "email": email, "display_name": "Display Name"});
    for (k, v) in names.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (st, v) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/people",
            &s.admin_token(),
            Some(body),
        )
        .await;
    assert!(st == 201 || st == 200, "{st} {v}");
    v["subject"]["id"].as_str().unwrap().to_owned()
}

async fn credential(s: &Server, id: &str, kind: &str) -> (u16, Value) {
    s.api(
        reqwest::Method::POST,
        &format!("/api/v1/subjects/{id}/credentials"),
        &s.admin_token(),
        Some(json!({ "kind": kind })),
    )
    .await
}

fn key(kt: KeyType) -> KeyPair {
    enrolld::ca::keys::generate(kt).unwrap()
}

fn form_escape(s: &str) -> String {
    s.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
        .replace('\n', "%0A")
        .replace(' ', "+")
}

/// A certificate for `key` from a pickup link (the CSR upload).
async fn via_pickup(s: &Server, id: &str, key: &KeyPair) -> Vec<u8> {
    let (st, link) = credential(s, id, "pickup").await;
    assert_eq!(st, 201, "{link}");
    let pem = enrolld::ca::pem_encode("CERTIFICATE REQUEST", &csr(key, None, &[]));
    let r = s
        .client()
        .post(link["url"].as_str().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("action=csr&csr={}", form_escape(&pem)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    enrolld::ca::pem_certs(&r.text().await.unwrap())
        .unwrap()
        .remove(0)
}

/// A certificate for `key` over EST simpleenroll with the person's credential.
async fn via_est(s: &Server, id: &str, key: &KeyPair) -> Vec<u8> {
    let (st, cred) = credential(s, id, "est").await;
    assert_eq!(st, 201, "{cred}");
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(
            cred["username"].as_str().unwrap(),
            cred["password"].as_str(),
        )
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(key, None, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    certs_from_pkcs7(&r.text().await.unwrap()).remove(0)
}

/// A certificate for `key` over ACME: the person's EAB key, an order for the `email`
/// identifier, finalized with a CSR naming it; `order_extra` goes into the newOrder payload.
async fn via_acme(s: &Server, id: &str, email: &str, key: &KeyPair, order_extra: Value) -> Vec<u8> {
    let (st, eab) = credential(s, id, "acme").await;
    assert_eq!(st, 201, "{eab}");
    let mac = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(
        eab["hmac_key"].as_str().unwrap(),
    )
    .unwrap();
    let mut c = Client::new(s).await;
    let acct = c.account(eab["kid"].as_str().unwrap(), &mac).await;
    let mut payload = json!({"identifiers": [{"type": "email", "value": email}]});
    for (k, v) in order_extra.as_object().unwrap() {
        payload[k] = v.clone();
    }
    let url = c.url("newOrder");
    let order = c
        .post(&url, Signer::Kid(&acct), Some(&payload))
        .await
        .ok(201)
        .clone();
    assert_eq!(order["status"], "ready", "{order}");
    let order = c
        .finalize(&acct, &order, &csr(key, None, &[email]))
        .await
        .ok(200)
        .clone();
    assert_eq!(order["status"], "valid", "{order}");
    c.certificate(&acct, &order).await.remove(0)
}

/// What a certificate says, in the terms the tests compare.
#[derive(Debug, PartialEq)]
struct Seen {
    subject: Vec<(String, String)>,
    sans: Vec<String>,
    ku: Vec<&'static str>,
    ekus: Vec<&'static str>,
    policies: Vec<String>,
    validity_secs: i64,
    http_status_urls: bool,
}

fn read(der: &[u8]) -> Seen {
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    let mut seen = Seen {
        subject: c
            .subject()
            .iter_attributes()
            .map(|a| (a.attr_type().to_id_string(), a.as_str().unwrap().to_owned()))
            .collect(),
        sans: vec![],
        ku: vec![],
        ekus: vec![],
        policies: vec![],
        validity_secs: c.validity().not_after.timestamp() - c.validity().not_before.timestamp(),
        http_status_urls: true,
    };
    for ext in c.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(s) => {
                for n in &s.general_names {
                    seen.sans.push(match n {
                        GeneralName::RFC822Name(e) => format!("rfc822:{e}"),
                        GeneralName::OtherName(oid, v) => {
                            format!("other:{oid}:{}", String::from_utf8_lossy(&v[4..]))
                        }
                        other => format!("{other:?}"),
                    });
                }
            }
            ParsedExtension::KeyUsage(k) => {
                assert!(ext.critical);
                for (on, name) in [
                    (k.digital_signature(), "digitalSignature"),
                    (k.non_repudiation(), "nonRepudiation"),
                    (k.key_encipherment(), "keyEncipherment"),
                    (k.data_encipherment(), "dataEncipherment"),
                    (k.key_agreement(), "keyAgreement"),
                ] {
                    if on {
                        seen.ku.push(name);
                    }
                }
            }
            ParsedExtension::ExtendedKeyUsage(e) => {
                for (on, name) in [
                    (e.email_protection, "emailProtection"),
                    (e.client_auth, "clientAuth"),
                    (e.server_auth, "serverAuth"),
                    (e.code_signing, "codeSigning"),
                    (e.any, "any"),
                ] {
                    if on {
                        seen.ekus.push(name);
                    }
                }
            }
            ParsedExtension::CertificatePolicies(ps) => {
                assert!(!ext.critical);
                seen.policies = ps.iter().map(|p| p.policy_id.to_id_string()).collect();
            }
            ParsedExtension::CRLDistributionPoints(d) => {
                for p in d.iter() {
                    if let Some(x509_parser::extensions::DistributionPointName::FullName(names)) =
                        &p.distribution_point
                    {
                        for n in names {
                            if let GeneralName::URI(u) = n {
                                seen.http_status_urls &= u.starts_with("http://");
                            }
                        }
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for d in &aia.accessdescs {
                    if let GeneralName::URI(u) = &d.access_location {
                        seen.http_status_urls &= u.starts_with("http://");
                    }
                }
            }
            _ => {}
        }
    }
    seen
}

const CN: &str = "2.5.4.3";
const GIVEN: &str = "2.5.4.42";
const SURNAME: &str = "2.5.4.4";
/// The default lifetime (90 days) from five minutes before issuance.
const DEFAULT_VALIDITY: i64 = 90 * 86400 + 300;

fn expected(
    subject: &[(&str, &str)],
    email: &str,
    kt: KeyType,
    generation: &str,
    reserved: &str,
) -> Seen {
    Seen {
        subject: subject
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        sans: vec![format!("rfc822:{email}")],
        ku: match kt {
            KeyType::P256 => vec!["digitalSignature", "keyAgreement"],
            _ => vec!["digitalSignature", "keyEncipherment"],
        },
        ekus: match generation {
            "strict" => vec!["emailProtection"],
            _ => vec!["emailProtection", "clientAuth"],
        },
        policies: vec![reserved.to_owned(), ORG_OID.to_owned()],
        validity_secs: DEFAULT_VALIDITY,
        http_status_urls: true,
    }
}

fn run(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl smime` signs a message with the certificate and verifies it against the CA bundle
/// (purpose smimesign: emailProtection and digitalSignature); `openssl cms` encrypts to it and
/// decrypts with its key (RSA key transport, or ECDH key agreement for P-256, which the
/// PKCS#7 `smime` command cannot do).
fn sign_and_encrypt(s: &Server, der: &[u8], key: &KeyPair) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("cert.pem"), pem(der)).unwrap();
    std::fs::write(p.join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(p.join("ca.pem"), s.ca_bundle()).unwrap();
    let msg = "Content-Type: text/plain\r\n\r\nQuarterly figures attached.\r\n";
    std::fs::write(p.join("msg.txt"), msg).unwrap();
    run(
        p,
        &[
            "smime",
            "-sign",
            "-in",
            "msg.txt",
            "-signer",
            "cert.pem",
            "-inkey",
            "key.pem",
            "-out",
            "signed.eml",
        ],
    );
    run(
        p,
        &[
            "smime",
            "-verify",
            "-in",
            "signed.eml",
            "-CAfile",
            "ca.pem",
            "-out",
            "verified.txt",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(p.join("verified.txt")).unwrap(),
        msg
    );
    run(
        p,
        &[
            "cms", "-encrypt", "-aes256", "-in", "msg.txt", "-out", "enc.eml", "cert.pem",
        ],
    );
    run(
        p,
        &[
            "cms", "-decrypt", "-in", "enc.eml", "-recip", "cert.pem", "-inkey", "key.pem", "-out",
            "dec.txt",
        ],
    );
    assert_eq!(std::fs::read_to_string(p.join("dec.txt")).unwrap(), msg);
    // The bundle is what verified it: another CA's bundle does not.
    let other = tempfile::tempdir().unwrap();
    enrolld::ca::Ca::create(other.path(), &enrolld::config::CaConfig::default(), None).unwrap();
    std::fs::copy(other.path().join("ca/chain.pem"), p.join("other.pem")).unwrap();
    let out = Command::new("openssl")
        .current_dir(p)
        .args([
            "smime",
            "-verify",
            "-in",
            "signed.eml",
            "-CAfile",
            "other.pem",
            "-out",
            "x.txt",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "verified against an unrelated CA");
}

/// Every channel and key type for one profile shape; `subject` is what the certificate
/// of Ann (ann@corp.example, given name Ann, family name Lee) must carry.
async fn every_channel_and_key(
    validation: &str,
    generation: &str,
    reserved: &str,
    subject: &[(&str, &str)],
) {
    let s = server(validation, generation, "").await;
    let email = "ann@corp.example";
    let id = person(
        &s,
        "hr-1",
        email,
        json!({"given_name": "Ann", "family_name": "Lee"}),
    )
    .await;
    for kt in [KeyType::P256, KeyType::Rsa2048] {
        let want = expected(subject, email, kt, generation, reserved);
        let k = key(kt);
        let der = via_pickup(&s, &id, &k).await;
        assert_eq!(read(&der), want, "pickup {kt:?}");
        sign_and_encrypt(&s, &der, &k);
        let k = key(kt);
        let der = via_est(&s, &id, &k).await;
        assert_eq!(read(&der), want, "EST {kt:?}");
        sign_and_encrypt(&s, &der, &k);
        let k = key(kt);
        let der = via_acme(&s, &id, email, &k, json!({})).await;
        // An ACME order without notBefore starts when it is finalized, without the five minutes.
        let mut seen = read(&der);
        assert!(
            (seen.validity_secs - DEFAULT_VALIDITY).abs() <= 300 + 5,
            "{}",
            seen.validity_secs
        );
        seen.validity_secs = DEFAULT_VALIDITY;
        assert_eq!(seen, want, "ACME {kt:?}");
        sign_and_encrypt(&s, &der, &k);
    }
    s.stop().await;
}

#[tokio::test]
async fn mailbox_multipurpose() {
    every_channel_and_key(
        "mailbox",
        "multipurpose",
        "2.23.140.1.5.1.2",
        &[(CN, "ann@corp.example")],
    )
    .await;
}

#[tokio::test]
async fn mailbox_strict() {
    every_channel_and_key(
        "mailbox",
        "strict",
        "2.23.140.1.5.1.3",
        &[(CN, "ann@corp.example")],
    )
    .await;
}

#[tokio::test]
async fn individual_multipurpose() {
    every_channel_and_key(
        "individual",
        "multipurpose",
        "2.23.140.1.5.4.2",
        &[(CN, "Ann Lee"), (GIVEN, "Ann"), (SURNAME, "Lee")],
    )
    .await;
}

#[tokio::test]
async fn individual_strict() {
    every_channel_and_key(
        "individual",
        "strict",
        "2.23.140.1.5.4.3",
        &[(CN, "Ann Lee"), (GIVEN, "Ann"), (SURNAME, "Lee")],
    )
    .await;
}

#[tokio::test]
async fn individual_needs_the_names_and_says_so_with_400() {
    let s = server("individual", "multipurpose", "").await;
    let id = person(&s, "hr-2", "bob@corp.example", json!({})).await;
    for kind in ["pickup", "est", "acme"] {
        let (st, v) = credential(&s, &id, kind).await;
        assert_eq!(st, 400, "{kind}: {v}");
        assert!(v["detail"].as_str().unwrap().contains("given_name"), "{v}");
    }
    // Names added through the API (an update of the same external id): now it works.
    let again = person(
        &s,
        "hr-2",
        "bob@corp.example",
        json!({"pseudonym": "Agent B"}),
    )
    .await;
    assert_eq!(again, id);
    let (st, link) = credential(&s, &id, "pickup").await;
    assert_eq!(st, 201, "{link}");
    // Names removed again before the link is used: the pickup is refused with 400, unspent.
    let (st, _) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/people",
            &s.admin_token(),
            Some(json!({"external_id": "hr-2", "email": "bob@corp.example", "display_name": "Display Name"})),
        )
        .await;
    assert_eq!(st, 200);
    let k = key(KeyType::P256);
    let pem = enrolld::ca::pem_encode("CERTIFICATE REQUEST", &csr(&k, None, &[]));
    let url = link["url"].as_str().unwrap();
    let post = |body: String| {
        s.client()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = post(format!("action=csr&csr={}", form_escape(&pem)))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    person(
        &s,
        "hr-2",
        "bob@corp.example",
        json!({"pseudonym": "Agent B"}),
    )
    .await;
    let r = post(format!("action=csr&csr={}", form_escape(&pem)))
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "the refused attempt did not spend the link"
    );
    let der = enrolld::ca::pem_certs(&r.text().await.unwrap())
        .unwrap()
        .remove(0);
    assert_eq!(
        read(&der).subject,
        vec![
            (CN.to_owned(), "Agent B".to_owned()),
            ("2.5.4.65".to_owned(), "Agent B".to_owned())
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn csv_import_carries_the_names_into_the_certificate() {
    let s = server("individual", "strict", "").await;
    let r = s
        .client()
        .post(s.url("/api/v1/subjects/bulk"))
        .bearer_auth(s.admin_token())
        .header("content-type", "text/csv")
        .body("kind,external_id,email,display_name,given_name,family_name\nperson,hr-9,kim@corp.example,Kim,Min-ji,Kim\n")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"], 0, "{v}");
    let (_, list) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/subjects?kind=person",
            &s.admin_token(),
            None,
        )
        .await;
    let subject = &list["subjects"][0];
    assert_eq!(subject["given_name"], "Min-ji");
    assert_eq!(subject["family_name"], "Kim");
    let k = key(KeyType::P256);
    let der = via_pickup(&s, subject["id"].as_str().unwrap(), &k).await;
    assert_eq!(
        read(&der).subject,
        vec![
            (CN.to_owned(), "Min-ji Kim".to_owned()),
            (GIVEN.to_owned(), "Min-ji".to_owned()),
            (SURNAME.to_owned(), "Kim".to_owned())
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn validity_is_capped_at_the_br_maximum() {
    let s = server("mailbox", "multipurpose", "validity_days = 825\n").await;
    let email = "cap@corp.example";
    let id = person(&s, "hr-3", email, json!({})).await;
    let max = 825 * 86400 - 1;
    // Pickup: 825 days from five minutes ago would be one day too many (S/MIME BR §6.3.2).
    let der = via_pickup(&s, &id, &key(KeyType::P256)).await;
    assert_eq!(read(&der).validity_secs, max);
    // ACME: an order asking for the whole 825 days gets one second less.
    let now = time::OffsetDateTime::now_utc();
    let not_after = (now + time::Duration::days(825))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let der = via_acme(
        &s,
        &id,
        email,
        &key(KeyType::P256),
        json!({"notAfter": not_after}),
    )
    .await;
    assert_eq!(read(&der).validity_secs, max);
    s.stop().await;
}

#[tokio::test]
async fn a_non_ascii_mailbox_is_an_smtp_utf8_mailbox_other_name() {
    let s = server("mailbox", "strict", "").await;
    let email = "δοκιμή@corp.example";
    let id = person(&s, "hr-4", email, json!({})).await;
    let der = via_pickup(&s, &id, &key(KeyType::P256)).await;
    let seen = read(&der);
    assert_eq!(seen.sans, vec![format!("other:1.3.6.1.5.5.7.8.9:{email}")]);
    assert_eq!(seen.subject, vec![(CN.to_owned(), email.to_owned())]);
    s.stop().await;
}

/// pkilint (`lint_cabf_smime_cert`, the DigiCert S/MIME BR linter from PyPI, installed pinned
/// by .ci/run; `ENROLLD_PKILINT` may name the executable) finds nothing at WARNING or above in
/// a certificate of each type and key (and of a non-ASCII address), the type detected from the
/// reserved policy OID. A missing pkilint fails the test: a check that silently does not run
/// proves nothing.
#[tokio::test]
async fn pkilint_finds_no_warnings_or_errors() {
    let lint = std::env::var("ENROLLD_PKILINT").unwrap_or_else(|_| "lint_cabf_smime_cert".into());
    assert!(
        Command::new(&lint).arg("--help").output().is_ok(),
        "{lint} is not installed (.ci/run installs pkilint; see docs/smime.md)"
    );
    for (validation, generation, kind) in [
        ("mailbox", "multipurpose", "MAILBOX-MULTIPURPOSE"),
        ("mailbox", "strict", "MAILBOX-STRICT"),
        ("individual", "multipurpose", "INDIVIDUAL-MULTIPURPOSE"),
        ("individual", "strict", "INDIVIDUAL-STRICT"),
    ] {
        // Public names: pkilint refuses internal ones (localhost, corp.example).
        let s = server_with(
            "public_http_base_url = \"http://pki.example.com\"\n",
            validation,
            generation,
            "",
        )
        .await;
        // A registered domain: pkilint refuses internal names such as corp.example.
        let id = person(
            &s,
            "hr-1",
            "ann@example.com",
            json!({"given_name": "Ann", "family_name": "Lee"}),
        )
        .await;
        // And an internationalised address (SmtpUTF8Mailbox, RFC 9598) with a P-256 key.
        let intl = person(&s, "hr-2", "δοκιμή@example.com", json!({"pseudonym": "Δ"})).await;
        for (id, kt) in [
            (&id, KeyType::P256),
            (&id, KeyType::Rsa2048),
            (&intl, KeyType::P256),
        ] {
            let der = via_pickup(&s, id, &key(kt)).await;
            let d = tempfile::tempdir().unwrap();
            let f = d.path().join("cert.pem");
            std::fs::write(&f, pem(&der)).unwrap();
            let out = Command::new(&lint)
                .args(["lint", "-d", "-o", "-s", "WARNING"])
                .arg(&f)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{kind} {kt:?}:\n{text}");
            assert!(text.contains(kind), "detected type {kind}:\n{text}");
            assert!(
                !text.contains("(WARNING)")
                    && !text.contains("(ERROR)")
                    && !text.contains("(FATAL)"),
                "{kind} {kt:?}:\n{text}"
            );
        }
        s.stop().await;
    }
}
