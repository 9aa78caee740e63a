//! The approvals page and the admin API name the key of a waiting enrolment's CSR (algorithm
//! and size), and the approvals and certificates pages link a registered subject to its page.

mod common;

use common::console::*;
use common::*;
use rcgen::KeyPair;
use serde_json::{json, Value};

const VIP: &str = "[profiles.device]\nvalidity_days = 20\n\
                   [est.labels.vip]\nprofile = \"device\"\nrequire_approval = true\n";

/// A `simpleenroll` under the `vip` label: the status.
async fn enroll(s: &Server, user: &str, pass: &str, csr_der: &[u8]) -> u16 {
    s.client()
        .post(s.url("/.well-known/est/vip/simpleenroll"))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/pkcs10")
        .body(b64(csr_der))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The approvals the admin API lists as pending.
async fn pending(s: &Server) -> Vec<Value> {
    let (st, v) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/approvals?status=pending",
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v["approvals"].as_array().unwrap().clone()
}

/// The row of approval `id` on an approvals page.
fn row<'a>(body: &'a str, id: &str) -> &'a str {
    let marker = format!("<tr data-approval=\"{id}\">");
    let at = body.find(&marker).unwrap_or_else(|| panic!("no row {id}"));
    &body[at..at + body[at..].find("</tr>").unwrap()]
}

#[tokio::test]
async fn a_waiting_enrolment_shows_the_key_of_its_csr() {
    let s = Server::start(VIP).await;
    let rsa = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072).unwrap();
    let ec = KeyPair::generate().unwrap();
    let mut ids = Vec::new();
    for (cn, key) in [("rsa.example", &rsa), ("ec.example", &ec)] {
        let (u, p) = s
            .credential(json!({"label": "vip", "common_name": cn}))
            .await;
        assert_eq!(enroll(&s, &u, &p, &csr(key, None, &[])).await, 202);
        let list = pending(&s).await;
        let a = list
            .iter()
            .find(|a| a["common_name"] == cn)
            .expect("a pending approval");
        ids.push((a["id"].as_str().unwrap().to_owned(), a["key"].clone()));
    }
    // The admin API names the key by its stable name.
    assert_eq!(ids[0].1, "rsa3072");
    assert_eq!(ids[1].1, "p256");

    let (token, _) = token_with(&s, "viewer", &["read"]).await;
    for lang in ["en", "ja"] {
        let cookie = signed_in(&s, &token, lang).await;
        let page = get(&s, &cookie, "/console/approvals").await;
        assert_eq!(page.status, 200);
        assert!(row(&page.body, &ids[0].0).contains("<td class=\"key\">RSA 3072</td>"));
        assert!(row(&page.body, &ids[1].0).contains("<td class=\"key\">ECDSA P-256</td>"));
    }
    let cookie = signed_in(&s, &token, "en").await;
    let page = get(&s, &cookie, "/console/approvals").await;
    assert!(page.body.contains("<th scope=\"col\">Key</th>"));
    let cookie = signed_in(&s, &token, "ja").await;
    let page = get(&s, &cookie, "/console/approvals").await;
    assert!(page.body.contains("<th scope=\"col\">鍵</th>"));
}

/// The `href` of every subject link of a page.
fn subject_links(body: &str) -> Vec<String> {
    body.split("<a class=\"subject-link\" href=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn approvals_and_certificates_link_their_subject_to_its_page() {
    let s = Server::start(VIP).await;
    let admin = s.admin_token();
    let (st, v) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/devices",
            &admin,
            Some(json!({"external_id": "kiosk-7", "name": "kiosk-7"})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let id = v["subject"]["id"].as_str().unwrap().to_owned();
    let (st, cred) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &admin,
            Some(json!({"kind": "est", "label": "vip"})),
        )
        .await;
    assert_eq!(st, 201, "{cred}");
    let (u, p) = (
        cred["username"].as_str().unwrap(),
        cred["password"].as_str().unwrap(),
    );
    let csr_der = csr(&KeyPair::generate().unwrap(), None, &[]);
    assert_eq!(enroll(&s, u, p, &csr_der).await, 202);
    // A request of a credential without a subject: no link.
    let (lu, lp) = s
        .credential(json!({"label": "vip", "common_name": "loose.example"}))
        .await;
    let loose_csr = csr(&KeyPair::generate().unwrap(), None, &[]);
    assert_eq!(enroll(&s, &lu, &lp, &loose_csr).await, 202);
    let list = pending(&s).await;
    let with_subject = list
        .iter()
        .find(|a| a["subject_id"] == id.as_str())
        .unwrap();
    let without = list.iter().find(|a| a["subject_id"].is_null()).unwrap();

    let (token, _) = token_with(&s, "viewer", &["read"]).await;
    let cookie = signed_in(&s, &token, "en").await;
    let page = get(&s, &cookie, "/console/approvals").await;
    let href = format!("/console/people/{id}");
    assert_eq!(
        subject_links(row(&page.body, with_subject["id"].as_str().unwrap())),
        vec![href.clone()]
    );
    assert!(subject_links(row(&page.body, without["id"].as_str().unwrap())).is_empty());
    let target = get(&s, &cookie, &href).await;
    assert_eq!(target.status, 200);
    assert!(target.body.contains("kiosk-7"));

    // Approved and picked up by the retry: the certificate lists its subject's page.
    for a in [with_subject, without] {
        let (st, v) = s
            .api(
                reqwest::Method::POST,
                &format!("/api/v1/approvals/{}/approve", a["id"].as_str().unwrap()),
                &admin,
                None,
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    assert_eq!(enroll(&s, u, p, &csr_der).await, 200);
    assert_eq!(enroll(&s, &lu, &lp, &loose_csr).await, 200);
    let page = get(&s, &cookie, "/console/certificates").await;
    assert_eq!(page.status, 200);
    let rows: Vec<&str> = page.body.split("<tr data-serial=\"").skip(1).collect();
    assert_eq!(rows.len(), 2);
    let linked: Vec<&str> = rows
        .iter()
        .copied()
        .filter(|r| !subject_links(r.split("</tr>").next().unwrap()).is_empty())
        .collect();
    assert_eq!(linked.len(), 1, "only the subject's certificate links");
    assert_eq!(
        subject_links(linked[0].split("</tr>").next().unwrap()),
        vec![href]
    );
}
