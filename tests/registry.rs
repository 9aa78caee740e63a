//! The registry (issue 4): people and devices, credentials per subject, off-boarding, bulk
//! import, scoped tokens, inventory and the audit log.

mod common;

use common::*;
use rcgen::KeyPair;
use serde_json::{json, Value};

async fn est_enrol(s: &Server, user: &str, pass: &str) -> (u16, Option<Vec<u8>>) {
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&KeyPair::generate().unwrap(), None, &[])))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    (
        status,
        (status == 200).then(|| certs_from_pkcs7(&body).remove(0)),
    )
}

#[tokio::test]
async fn register_enrol_inventory_and_offboard() {
    use instant_acme::{
        Account, ExternalAccountKey, Identifier, NewAccount, NewOrder, RetryPolicy,
    };
    let s = Server::start("").await;
    let admin = s.admin_token();
    let (st, person) = s.api(reqwest::Method::POST, "/api/v1/people", &admin, Some(json!({
        "external_id": "hr-1001", "email": "ann@corp.example", "display_name": "Ann Example", "department": "Finance"
    }))).await;
    assert_eq!(st, 201, "{person}");
    let pid = person["subject"]["id"].as_str().unwrap().to_owned();
    let (st, device) = s.api(reqwest::Method::POST, "/api/v1/devices", &admin, Some(json!({
        "external_id": "mdm-77", "name": "laptop-77", "serial_number": "SN77", "dns_names": ["laptop-77.corp.example"], "owner": "hr-1001"
    }))).await;
    assert_eq!(st, 201, "{device}");
    let did = device["subject"]["id"].as_str().unwrap().to_owned();

    // Person: EST credential → person profile certificate with the registry's names.
    let (st, cred) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{pid}/credentials"),
            &admin,
            Some(json!({"kind": "est"})),
        )
        .await;
    assert_eq!(st, 201, "{cred}");
    let (st, cert) = est_enrol(
        &s,
        cred["username"].as_str().unwrap(),
        cred["password"].as_str().unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    let cert = cert.unwrap();
    let (_, c) = x509_parser::parse_x509_certificate(&cert).unwrap();
    // The person profile is S/MIME BR mailbox-validated: the CN is the address (docs/smime.md).
    assert_eq!(c.subject().to_string(), "CN=ann@corp.example");
    assert!(
        c.extended_key_usage()
            .unwrap()
            .unwrap()
            .value
            .email_protection
    );
    let person_serial = serial_hex(&cert);

    // Device: ACME EAB key from the registry → instant-acme order for its DNS name.
    let (st, eab) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{did}/credentials"),
            &admin,
            Some(json!({"kind": "acme"})),
        )
        .await;
    assert_eq!(st, 201, "{eab}");
    let mac = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(
        eab["hmac_key"].as_str().unwrap(),
    )
    .unwrap();
    let (acct, _) = Account::builder_with_root(s.data("ca-bundle.pem"))
        .unwrap()
        .create(
            &NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            s.url("/acme/directory"),
            Some(&ExternalAccountKey::new(
                eab["kid"].as_str().unwrap().to_owned(),
                &mac,
            )),
        )
        .await
        .unwrap();
    let ids = [Identifier::Dns("laptop-77.corp.example".into())];
    let mut order = acct.new_order(&NewOrder::new(&ids)).await.unwrap();
    order
        .finalize_csr(&csr(
            &KeyPair::generate().unwrap(),
            None,
            &["laptop-77.corp.example"],
        ))
        .await
        .unwrap();
    let chain = order
        .poll_certificate(&RetryPolicy::default())
        .await
        .unwrap();
    let device_serial = serial_hex(&enrolld::ca::pem_certs(&chain).unwrap()[0]);

    // Inventory under each subject.
    let (_, inv) = s
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/certificates?subject_id={pid}"),
            &admin,
            None,
        )
        .await;
    let serials: Vec<&str> = inv["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_str().unwrap())
        .collect();
    assert_eq!(serials, vec![person_serial.as_str()]);
    let (_, inv) = s
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/certificates?subject_id={did}&channel=acme"),
            &admin,
            None,
        )
        .await;
    assert_eq!(inv["certificates"][0]["serial"], device_serial.as_str());
    let (_, subj) = s
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/subjects/{pid}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(subj["certificates"], json!([person_serial]));

    // Pickup link for the person: the third channel.
    let (st, link) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{pid}/credentials"),
            &admin,
            Some(json!({"kind": "pickup"})),
        )
        .await;
    assert_eq!(st, 201, "{link}");
    let r = s
        .client()
        .post(link["url"].as_str().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=p256")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, inv) = s
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/certificates?subject_id={pid}"),
            &admin,
            None,
        )
        .await;
    let mut channels: Vec<&str> = inv["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    channels.sort();
    assert_eq!(channels, vec!["est-simpleenroll", "pickup"]);
    let (_, unused_link) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{pid}/credentials"),
            &admin,
            Some(json!({"kind": "pickup"})),
        )
        .await;

    // A second EST credential before off-boarding, to see it refused afterwards.
    let (_, cred2) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{pid}/credentials"),
            &admin,
            Some(json!({"kind": "est"})),
        )
        .await;

    // Off-board the person: certificate revoked, credentials refused.
    let (st, off) = s
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/subjects/{pid}"),
            &admin,
            Some(json!({"status": "offboarded"})),
        )
        .await;
    assert_eq!(st, 200, "{off}");
    assert_eq!(off["changes"]["certificates_revoked"], 2);
    // The unused pickup link is dead too.
    let r = s
        .client()
        .get(unused_link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(off["changes"]["credentials_disabled"], 2);
    assert_eq!(s.cert_record(&person_serial).await["status"], "revoked");
    let (st, _) = est_enrol(
        &s,
        cred2["username"].as_str().unwrap(),
        cred2["password"].as_str().unwrap(),
    )
    .await;
    assert_eq!(st, 401);
    let (st, _) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{pid}/credentials"),
            &admin,
            Some(json!({"kind": "est"})),
        )
        .await;
    assert_eq!(st, 403);
    // The device is untouched until it is off-boarded; then its ACME account stops.
    assert_eq!(s.cert_record(&device_serial).await["status"], "good");
    let (st, off) = s
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/subjects/{did}"),
            &admin,
            Some(json!({"status": "offboarded"})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(off["changes"]["accounts_deactivated"], 1);
    assert_eq!(s.cert_record(&device_serial).await["status"], "revoked");
    let err = acct
        .new_order(&NewOrder::new(&ids))
        .await
        .err()
        .map(|e| format!("{e:?}"))
        .unwrap_or_default();
    assert!(err.contains("unauthorized"), "{err}");
    s.stop().await;
}

#[tokio::test]
async fn suspension_holds_and_reactivation_releases() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    let (_, d) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/devices",
            &admin,
            Some(json!({"external_id": "d-s", "name": "dev-s"})),
        )
        .await;
    let id = d["subject"]["id"].as_str().unwrap().to_owned();
    let (_, cred) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &admin,
            Some(json!({"kind": "est", "uses": 2})),
        )
        .await;
    let (u, p) = (
        cred["username"].as_str().unwrap().to_owned(),
        cred["password"].as_str().unwrap().to_owned(),
    );
    let (_, cert) = est_enrol(&s, &u, &p).await;
    let serial = serial_hex(&cert.unwrap());
    let (st, _) = s
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/subjects/{id}"),
            &admin,
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(st, 200);
    let rec = s.cert_record(&serial).await;
    assert_eq!(rec["status"], "revoked");
    assert_eq!(rec["revocation_reason"], "certificateHold");
    // Suspended: no new issuance, even with a credential that has uses left.
    let (st, _) = est_enrol(&s, &u, &p).await;
    assert_eq!(st, 403);
    let (st, _) = s
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/subjects/{id}"),
            &admin,
            Some(json!({"status": "active"})),
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(s.cert_record(&serial).await["status"], "good");
    let (st, _) = est_enrol(&s, &u, &p).await;
    assert_eq!(st, 200);
    s.stop().await;
}

#[tokio::test]
async fn bulk_csv_is_idempotent_and_reports_bad_rows() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    let mut csv = String::from("kind,external_id,email,display_name,department\n");
    for i in 0..1000 {
        csv.push_str(&format!(
            "person,hr-{i},p{i}@corp.example,Person {i},Dept {}\n",
            i % 7
        ));
    }
    csv.push_str("person,hr-bad,not-an-email,Bad Row,Dept 0\n");
    let post = |body: String| {
        s.client()
            .post(s.url("/api/v1/subjects/bulk"))
            .bearer_auth(&admin)
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let v: Value = post(csv.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(v["rows"], 1001);
    assert_eq!(v["errors"], 1);
    let results = v["results"].as_array().unwrap();
    assert_eq!(
        results.iter().filter(|r| r["result"] == "created").count(),
        1000
    );
    assert_eq!(results[1000]["result"], "error");
    assert_eq!(results[1000]["external_id"], "hr-bad");
    assert!(results[1000]["error"].as_str().unwrap().contains("email"));
    let again: Value = post(csv).await.unwrap().json().await.unwrap();
    let results = again["results"].as_array().unwrap();
    assert_eq!(
        results
            .iter()
            .filter(|r| r["result"] == "unchanged")
            .count(),
        1000
    );
    let (_, list) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/subjects?department=Dept%203&limit=10000",
            &admin,
            None,
        )
        .await;
    assert_eq!(list["subjects"].as_array().unwrap().len(), 143);
    s.stop().await;
}

#[tokio::test]
async fn scopes_are_enforced_and_revoked_tokens_refused() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    let (st, t) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "hr-readonly", "scopes": ["read"]})),
        )
        .await;
    assert_eq!(st, 201);
    let read = t["token"].as_str().unwrap().to_owned();
    let (st, _) = s
        .api(reqwest::Method::GET, "/api/v1/certificates", &read, None)
        .await;
    assert_eq!(st, 200);
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/api/v1/est/credentials",
            json!({"common_name": "x"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/certificates/0102/revoke",
            json!({"reason": "keyCompromise"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/people",
            json!({"external_id": "x", "email": "x@y.example", "display_name": "X"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/tokens",
            json!({"name": "n", "scopes": ["admin"]}),
        ),
    ] {
        let r = s
            .client()
            .request(method, s.url(path))
            .bearer_auth(&read)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    // Revoke the token: 401 afterwards.
    let (st, _) = s
        .api(
            reqwest::Method::DELETE,
            &format!("/api/v1/tokens/{}", t["id"].as_str().unwrap()),
            &admin,
            None,
        )
        .await;
    assert_eq!(st, 204);
    let (st, _) = s
        .api(reqwest::Method::GET, "/api/v1/certificates", &read, None)
        .await;
    assert_eq!(st, 401);
    // Expired tokens are refused too.
    let (_, t2) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "short", "scopes": ["read"], "expires_in": 1})),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (st, _) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/certificates",
            t2["token"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(st, 401);
    s.stop().await;
}

#[tokio::test]
async fn audit_log_verifies_and_detects_tampering() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    s.api(
        reqwest::Method::POST,
        "/api/v1/people",
        &admin,
        Some(json!({"external_id": "a1", "email": "a1@corp.example", "display_name": "A One"})),
    )
    .await;
    let (u, p) = s.credential(json!({"common_name": "audited"})).await;
    let (_, cert) = est_enrol(&s, &u, &p).await;
    let serial = serial_hex(&cert.unwrap());
    s.api(
        reqwest::Method::POST,
        &format!("/api/v1/certificates/{serial}/revoke"),
        &admin,
        Some(json!({"reason": "superseded"})),
    )
    .await;
    let (_, log) = s
        .api(reqwest::Method::GET, "/api/v1/audit", &admin, None)
        .await;
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "subject.created",
            "credential.est",
            "certificate.issue",
            "certificate.revoke"
        ]
    );
    let (_, v) = s
        .api(reqwest::Method::GET, "/api/v1/audit/verify", &admin, None)
        .await;
    assert_eq!(v["valid"], true);
    let dir = s.stop().await;
    let data = dir.path().join("data");
    let bin = env!("CARGO_BIN_EXE_enrolld");
    let ok = std::process::Command::new(bin)
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("4 entries"));
    // Alter one entry in the store: verification fails.
    {
        let db = sled::open(data.join("store")).unwrap();
        let audit = db.open_tree("audit").unwrap();
        let key = 2u64.to_be_bytes();
        let mut e: Value = serde_json::from_slice(&audit.get(key).unwrap().unwrap()).unwrap();
        e["detail"] = json!("nothing to see");
        audit.insert(key, serde_json::to_vec(&e).unwrap()).unwrap();
        db.flush().unwrap();
    }
    let bad = std::process::Command::new(bin)
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("entry 2 was altered"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[tokio::test]
async fn est_enrolment_waits_for_approval() {
    let s =
        Server::start("[est.labels.vip]\nprofile = \"device\"\nrequire_approval = true\n").await;
    let admin = s.admin_token();
    let (u, p) = s
        .credential(json!({"label": "vip", "common_name": "vip-1"}))
        .await;
    let body = b64(&csr(&KeyPair::generate().unwrap(), None, &[]));
    let send = || {
        s.client()
            .post(s.url("/.well-known/est/vip/simpleenroll"))
            .basic_auth(&u, Some(&p))
            .header("content-type", "application/pkcs10")
            .body(body.clone())
            .send()
    };
    let r = send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["retry-after"], "60");
    let r = send().await.unwrap();
    assert_eq!(
        r.status(),
        202,
        "a retry before the decision is still pending"
    );
    let (_, list) = s
        .api(reqwest::Method::GET, "/api/v1/approvals", &admin, None)
        .await;
    let pending = list["approvals"].as_array().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["common_name"], "vip-1");
    let id = pending[0]["id"].as_str().unwrap().to_owned();
    let (st, a) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/approvals/{id}/approve"),
            &admin,
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(a["status"], "approved");
    let r = send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(certs_from_pkcs7(&r.text().await.unwrap()).len(), 1);
    // Deciding twice is a conflict.
    let (st, _) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/approvals/{id}/reject"),
            &admin,
            None,
        )
        .await;
    assert_eq!(st, 409);

    // A rejected request is refused on retry.
    let (u2, p2) = s
        .credential(json!({"label": "vip", "common_name": "vip-2"}))
        .await;
    let body2 = b64(&csr(&KeyPair::generate().unwrap(), None, &[]));
    let send2 = || {
        s.client()
            .post(s.url("/.well-known/est/vip/simpleenroll"))
            .basic_auth(&u2, Some(&p2))
            .header("content-type", "application/pkcs10")
            .body(body2.clone())
            .send()
    };
    assert_eq!(send2().await.unwrap().status(), 202);
    let (_, list) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/approvals?status=pending",
            &admin,
            None,
        )
        .await;
    let id2 = list["approvals"][0]["id"].as_str().unwrap().to_owned();
    s.api(
        reqwest::Method::POST,
        &format!("/api/v1/approvals/{id2}/reject"),
        &admin,
        None,
    )
    .await;
    assert_eq!(send2().await.unwrap().status(), 403);
    s.stop().await;
}

#[tokio::test]
async fn serverkeygen_waits_for_approval_too() {
    let s =
        Server::start("[est.labels.vip]\nprofile = \"device\"\nrequire_approval = true\n").await;
    let admin = s.admin_token();
    let (u, p) = s
        .credential(json!({"label": "vip", "common_name": "vip-kg"}))
        .await;
    let body = b64(&csr(&KeyPair::generate().unwrap(), None, &[]));
    let send = || {
        s.client()
            .post(s.url("/.well-known/est/vip/serverkeygen"))
            .basic_auth(&u, Some(&p))
            .header("content-type", "application/pkcs10")
            .body(body.clone())
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 202);
    assert_eq!(send().await.unwrap().status(), 202);
    let (_, list) = s
        .api(reqwest::Method::GET, "/api/v1/approvals", &admin, None)
        .await;
    let pending = list["approvals"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "one request, not one per generated key");
    let id = pending[0]["id"].as_str().unwrap().to_owned();
    s.api(
        reqwest::Method::POST,
        &format!("/api/v1/approvals/{id}/approve"),
        &admin,
        None,
    )
    .await;
    let r = send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("multipart/mixed"));
    s.stop().await;
}
