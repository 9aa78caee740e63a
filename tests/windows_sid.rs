//! Windows strong certificate mapping (KB5014754): the registry keeps a subject's SID, and a
//! profile with `windows_sid` set puts it into the subject's certificates.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

const SID: &str = "S-1-5-21-3623811015-3361044348-30300820-1013";

#[tokio::test]
async fn the_registry_keeps_a_strictly_parsed_sid_per_subject() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    let (st, dev) = s
        .api(
            Method::POST,
            "/api/v1/devices",
            &admin,
            Some(json!({"external_id": "mdm-1", "name": "laptop-1", "windows_sid": SID})),
        )
        .await;
    assert_eq!(st, 201, "{dev}");
    let id = dev["subject"]["id"].as_str().unwrap().to_owned();
    let (_, got) = s
        .api(Method::GET, &format!("/api/v1/subjects/{id}"), &admin, None)
        .await;
    assert_eq!(got["windows_sid"], SID, "{got}");

    // An update changes it; leaving it out clears it, like every other field.
    let other = "S-1-5-21-1-2-3-1104";
    let (st, upd) = s
        .api(
            Method::POST,
            "/api/v1/devices",
            &admin,
            Some(json!({"external_id": "mdm-1", "name": "laptop-1", "windows_sid": other})),
        )
        .await;
    assert_eq!(
        (st, upd["result"].as_str()),
        (200, Some("updated")),
        "{upd}"
    );
    assert_eq!(upd["subject"]["windows_sid"], other);
    let (_, upd) = s
        .api(
            Method::POST,
            "/api/v1/devices",
            &admin,
            Some(json!({"external_id": "mdm-1", "name": "laptop-1"})),
        )
        .await;
    assert_eq!(upd["result"], "updated");
    assert!(upd["subject"].get("windows_sid").is_none(), "{upd}");

    // A person takes one too; a malformed SID is a 400 problem and registers nothing.
    let (st, p) = s
        .api(
            Method::POST,
            "/api/v1/people",
            &admin,
            Some(json!({"external_id": "hr-1", "email": "ann@corp.example",
                        "display_name": "Ann", "windows_sid": other})),
        )
        .await;
    assert_eq!(st, 201, "{p}");
    assert_eq!(p["subject"]["windows_sid"], other);
    for bad in ["S-1-5", "S-1-5-21-4294967296", "S-1-5-021-1", "s-1-5-21-1"] {
        let (st, prob) = s
            .api(
                Method::POST,
                "/api/v1/people",
                &admin,
                Some(json!({"external_id": "hr-2", "email": "bob@corp.example",
                            "display_name": "Bob", "windows_sid": bad})),
            )
            .await;
        assert_eq!(st, 400, "{bad}: {prob}");
        assert!(
            prob["detail"].as_str().unwrap().contains("windows_sid"),
            "{prob}"
        );
    }
    let (_, list) = s
        .api(Method::GET, "/api/v1/subjects?kind=person", &admin, None)
        .await;
    assert_eq!(list["subjects"].as_array().unwrap().len(), 1, "{list}");

    // CSV import maps the column.
    let r = s
        .client()
        .post(s.url("/api/v1/subjects/bulk"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(format!(
            "kind,external_id,name,windows_sid\ndevice,mdm-2,kiosk-2,{SID}\ndevice,mdm-3,kiosk-3,S-1-5\n"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bulk: serde_json::Value = r.json().await.unwrap();
    assert_eq!(bulk["errors"], 1, "{bulk}");
    let id = bulk["results"][0]["id"].as_str().unwrap().to_owned();
    let (_, got) = s
        .api(Method::GET, &format!("/api/v1/subjects/{id}"), &admin, None)
        .await;
    assert_eq!(got["windows_sid"], SID, "{got}");
}

/// Registers a subject and hands it an EST credential (its kind's profile) for `uses`
/// enrolments: (username, password).
async fn subject_credential(s: &Server, path: &str, body: serde_json::Value) -> (String, String) {
    let admin = s.admin_token();
    let (st, reg) = s.api(Method::POST, path, &admin, Some(body)).await;
    assert_eq!(st, 201, "{reg}");
    let id = reg["subject"]["id"].as_str().unwrap().to_owned();
    let (st, cred) = s
        .api(
            Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &admin,
            Some(json!({"kind": "est", "uses": 2})),
        )
        .await;
    assert_eq!(st, 201, "{cred}");
    (
        cred["username"].as_str().unwrap().to_owned(),
        cred["password"].as_str().unwrap().to_owned(),
    )
}

/// EST simpleenroll with `csr` (DER): (status, leaf DER on success, body).
async fn enrol(s: &Server, (user, pass): &(String, String), csr: &[u8]) -> (u16, Vec<u8>, String) {
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/pkcs10")
        .body(b64(csr))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    let der = if status == 200 {
        certs_from_pkcs7(&body).remove(0)
    } else {
        Vec::new()
    };
    (status, der, body)
}

/// The URI SANs of a certificate and the (criticality, value) of its
/// szOID_NTDS_CA_SECURITY_EXT extension, if any.
fn sid_carriers(der: &[u8]) -> (Vec<String>, Option<(bool, Vec<u8>)>) {
    use x509_parser::extensions::GeneralName;
    let (_, c) = x509_parser::parse_x509_certificate(der).unwrap();
    let uris = c
        .subject_alternative_name()
        .unwrap()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|g| match g {
                    GeneralName::URI(u) => Some((*u).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let ext = c
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "1.3.6.1.4.1.311.25.2")
        .map(|e| (e.critical, e.value.to_vec()));
    (uris, ext)
}

/// `openssl x509 -text` of a certificate: it must parse.
fn openssl_text(der: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.der");
    std::fs::write(&f, der).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["x509", "-inform", "DER", "-noout", "-text", "-in"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A CSR asking for the URI SANs `uris` and nothing else.
fn csr_with_uris(uris: &[&str]) -> Vec<u8> {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.subject_alt_names = uris
        .iter()
        .map(|u| rcgen::SanType::URI((*u).try_into().unwrap()))
        .collect();
    let key = rcgen::KeyPair::generate().unwrap();
    p.serialize_request(&key).unwrap().der().to_vec()
}

#[tokio::test]
async fn a_mapping_profile_puts_the_registry_sid_into_certificates_and_others_do_not() {
    // Devices map (both carriers); people keep the default (off).
    let s = Server::start("[profiles.device]\nwindows_sid = \"both\"\n").await;
    let sid_uri = format!("tag:microsoft.com,2022-09-14:sid:{SID}");
    let device = subject_credential(
        &s,
        "/api/v1/devices",
        json!({"external_id": "mdm-1", "name": "laptop-1",
               "dns_names": ["laptop-1.corp.example"], "windows_sid": SID}),
    )
    .await;

    // A CSR cannot bring its own SID: another account's SID URI is refused, spending nothing.
    let foreign = csr_with_uris(&["tag:microsoft.com,2022-09-14:sid:S-1-5-21-1-2-3-500"]);
    let (st, _, body) = enrol(&s, &device, &foreign).await;
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("registry"), "{body}");

    let key = rcgen::KeyPair::generate().unwrap();
    let (st, der, body) = enrol(&s, &device, &csr(&key, None, &[])).await;
    assert_eq!(st, 200, "{body}");
    let (uris, ext) = sid_carriers(&der);
    assert_eq!(uris, vec![sid_uri.clone()]);
    let (critical, value) = ext.expect("szOID_NTDS_CA_SECURITY_EXT");
    assert!(!critical);
    // SEQUENCE { [0] { OID 1.3.6.1.4.1.311.25.2.1, [0] { OCTET STRING "<SID>" } } }
    let n = SID.len() as u8; // short-form lengths: the SID is 44 characters
    let mut want = vec![0x30, n + 18, 0xa0, n + 16, 0x06, 0x0a];
    want.extend_from_slice(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x19, 0x02, 0x01]);
    want.extend_from_slice(&[0xa0, n + 2, 0x04, n]);
    want.extend_from_slice(SID.as_bytes());
    assert_eq!(hex::encode(&value), hex::encode(&want));
    let text = openssl_text(&der);
    assert!(text.contains(&format!("URI:{sid_uri}")), "{text}");
    assert!(
        text.contains("1.3.6.1.4.1.311.25.2") || text.contains("NTDS"),
        "{text}"
    );
    // The certificate record lists the SID URI with the other names.
    let rec = s.cert_record(&serial_hex(&der)).await;
    assert!(
        rec["sans"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("uri:{sid_uri}"))),
        "{rec}"
    );

    // A person with a SID, under the person profile (off): neither carrier.
    let person = subject_credential(
        &s,
        "/api/v1/people",
        json!({"external_id": "hr-1", "email": "ann@corp.example",
               "display_name": "Ann", "windows_sid": SID}),
    )
    .await;
    let (st, der, body) = enrol(&s, &person, &csr(&key, None, &[])).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(sid_carriers(&der), (vec![], None));
    let text = openssl_text(&der);
    assert!(!text.contains("tag:microsoft.com"), "{text}");

    // A device without a SID gets nothing from the mapping profile: 403, not a certificate
    // that domain controllers would turn away.
    let bare = subject_credential(
        &s,
        "/api/v1/devices",
        json!({"external_id": "mdm-2", "name": "laptop-2"}),
    )
    .await;
    let (st, _, body) = enrol(&s, &bare, &csr(&key, None, &[])).await;
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("windows_sid"), "{body}");
}
