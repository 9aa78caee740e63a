//! The console's approvals and certificates pages over plain HTTPS with a hand-kept cookie:
//! a waiting EST enrolment shown with its names and approved or rejected from the console (the
//! client's retry then gets its certificate or is refused), what a `read` session sees and
//! that its forged POSTs change nothing, CSRF, the inventory's filters and paging, a
//! certificate's page, its PEM, revocation through the admin API's code, and Japanese pages.

mod common;

use common::console::*;
use common::*;
use rcgen::KeyPair;
use serde_json::json;

const VIP: &str = "[profiles.device]\nvalidity_days = 20\n[profiles.person]\nvalidity_days = 60\n\
                   [est.labels.vip]\nprofile = \"device\"\nrequire_approval = true\n\
                   [est.labels.dev]\nprofile = \"device\"\n[est.labels.people]\nprofile = \"person\"\n";

/// The href of the link with `rel`, unescaped (`&amp;`).
fn link(body: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let at = body.find(&marker)? + marker.len();
    Some(body[at..].split('"').next()?.replace("&amp;", "&"))
}

/// The serials of the rows of a certificates page.
fn serials(body: &str) -> Vec<String> {
    body.split("<tr data-serial=\"")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_owned())
        .collect()
}

/// A `simpleenroll` on `path` with `body` (base64 CSR): status and body.
async fn enroll(s: &Server, path: &str, user: &str, pass: &str, body: &str) -> (u16, String) {
    let r = s
        .client()
        .post(s.url(path))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/pkcs10")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The approval ids the API lists with `status`.
async fn approval_ids(s: &Server, status: &str) -> Vec<String> {
    let (_, v) = s
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/approvals?status={status}"),
            &s.admin_token(),
            None,
        )
        .await;
    v["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn audit_actions(s: &Server) -> Vec<(String, String)> {
    let (_, v) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/audit?limit=1000",
            &s.admin_token(),
            None,
        )
        .await;
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or("").to_owned(),
                e["action"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn approvals_are_listed_with_their_names_and_decided_from_the_console() {
    let s = Server::start(VIP).await;
    let (u, p) = s
        .credential(
            json!({"label": "vip", "common_name": "vip-1.example", "sans": ["vip-1.example"]}),
        )
        .await;
    let csr1 = b64(&csr(
        &KeyPair::generate().unwrap(),
        Some("vip-1.example"),
        &["vip-1.example"],
    ));
    let (st, _) = enroll(&s, "/.well-known/est/vip/simpleenroll", &u, &p, &csr1).await;
    assert_eq!(st, 202, "waits for approval");
    let (u2, p2) = s
        .credential(json!({"label": "vip", "common_name": "vip-2 <b>&</b>"}))
        .await;
    let csr2 = b64(&csr(&KeyPair::generate().unwrap(), None, &[]));
    let (st, _) = enroll(&s, "/.well-known/est/vip/simpleenroll", &u2, &p2, &csr2).await;
    assert_eq!(st, 202);
    let pending = approval_ids(&s, "pending").await;
    assert_eq!(pending.len(), 2);

    let admin = token_with(&s, "ops", &["admin"]).await.0;
    let reader = token_with(&s, "auditor", &["read"]).await.0;
    let ops = signed_in(&s, &admin, "en").await;
    let ro = signed_in(&s, &reader, "en").await;

    // The list shows each request's names, profile and buttons to a session with `issue`.
    let page = get(&s, &ops, "/console/approvals").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<th scope=\"row\">vip-1.example</th>"));
    assert!(
        page.body.contains("<code>dns:vip-1.example</code>"),
        "its SAN"
    );
    assert!(page.body.contains("<td>device</td>"));
    assert!(
        page.body.contains("vip-2 &lt;b&gt;&amp;&lt;/b&gt;"),
        "names are escaped"
    );
    assert!(!page.body.contains("<b>"));
    let actions = post_actions(&page.body);
    for id in &pending {
        assert!(actions.contains(&format!("/console/approvals/{id}/approve")));
        assert!(actions.contains(&format!("/console/approvals/{id}/reject")));
    }

    // A `read` session sees the requests but no form that decides; its forged POST is 403.
    let rpage = get(&s, &ro, "/console/approvals").await;
    assert_eq!(rpage.status, 200);
    assert!(rpage.body.contains("vip-1.example"));
    assert_eq!(
        post_actions(&rpage.body),
        vec!["/console/sign-out", "/console/language"],
        "only the session's own forms"
    );
    let ro_csrf = csrf(&rpage.body);
    let id1 = {
        let marker = "<tr data-approval=\"";
        let row = page
            .body
            .split(marker)
            .skip(1)
            .find(|r| r.contains("vip-1.example"))
            .unwrap();
        row.split('"').next().unwrap().to_owned()
    };
    let id2 = pending.iter().find(|i| **i != id1).unwrap().clone();
    let forged = post(
        &s,
        &ro,
        &format!("/console/approvals/{id1}/approve"),
        &[("csrf", &ro_csrf)],
    )
    .await;
    assert_eq!(forged.status, 403);
    // Without the CSRF token even an admin session is refused.
    let no_csrf = post(&s, &ops, &format!("/console/approvals/{id1}/approve"), &[]).await;
    assert_eq!(no_csrf.status, 403);
    assert_eq!(
        approval_ids(&s, "pending").await.len(),
        2,
        "nothing decided"
    );
    let (st, _) = enroll(&s, "/.well-known/est/vip/simpleenroll", &u, &p, &csr1).await;
    assert_eq!(st, 202, "still waiting");

    // Approve: a redirect back with a notice, and the client's retry gets its certificate.
    let ops_csrf = csrf(&page.body);
    let done = post(
        &s,
        &ops,
        &format!("/console/approvals/{id1}/approve"),
        &[("csrf", &ops_csrf)],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.headers["location"],
        "/console/approvals?notice=approved"
    );
    let after = get(&s, &ops, "/console/approvals?notice=approved").await;
    assert!(after.body.contains("The request was approved"));
    assert!(!after.body.contains("vip-1.example"), "no longer waiting");
    let (st, body) = enroll(&s, "/.well-known/est/vip/simpleenroll", &u, &p, &csr1).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(certs_from_pkcs7(&body).len(), 1);

    // Reject: the other client's retry is refused.
    let done = post(
        &s,
        &ops,
        &format!("/console/approvals/{id2}/reject"),
        &[("csrf", &ops_csrf)],
    )
    .await;
    assert_eq!(
        done.headers["location"],
        "/console/approvals?notice=rejected"
    );
    let (st, _) = enroll(&s, "/.well-known/est/vip/simpleenroll", &u2, &p2, &csr2).await;
    assert!(st >= 400, "a rejected request is refused: {st}");
    // Deciding again is a notice, not a change.
    let again = post(
        &s,
        &ops,
        &format!("/console/approvals/{id2}/approve"),
        &[("csrf", &ops_csrf)],
    )
    .await;
    assert_eq!(
        again.headers["location"],
        "/console/approvals?notice=conflict"
    );
    assert_eq!(approval_ids(&s, "rejected").await, vec![id2.clone()]);

    // The filter shows decided requests; the decisions are audited with the token as actor.
    let approved = get(&s, &ops, "/console/approvals?status=approved").await;
    assert!(approved.body.contains("vip-1.example"));
    assert!(!approved.body.contains("vip-2 "));
    assert!(
        post_actions(&approved.body).len() == 2,
        "no buttons on decided requests"
    );
    let audit = audit_actions(&s).await;
    let actor = format!("token:{}", admin.split('.').next().unwrap());
    assert!(audit.contains(&(actor.clone(), "approval.approved".into())));
    assert!(audit.contains(&(actor, "approval.rejected".into())));

    // In Japanese: Japanese labels and buttons.
    let (u3, p3) = s
        .credential(json!({"label": "vip", "common_name": "vip-3.example"}))
        .await;
    let csr3 = b64(&csr(&KeyPair::generate().unwrap(), None, &[]));
    enroll(&s, "/.well-known/est/vip/simpleenroll", &u3, &p3, &csr3).await;
    let ja = signed_in(&s, &admin, "ja").await;
    let jpage = get(&s, &ja, "/console/approvals").await;
    assert!(jpage.body.contains("<html lang=\"ja\">"));
    for word in ["承認する", "却下する", "コモンネーム", "申請日時"] {
        assert!(jpage.body.contains(word), "{word}");
    }
    for word in ["Approve", "Reject", "Common name", "Requested"] {
        assert!(!jpage.body.contains(word), "{word} in the Japanese page");
    }
    s.stop().await;
}

async fn ocsp_of(s: &Server, cert: &[u8]) -> Vec<u8> {
    let req = ocsp::ocsp_request(&ocsp::issuing(s), &[ocsp::serial_bytes(cert)], true, None);
    ocsp::post_ocsp(s, req).await
}

/// A certificate for `cn` through the EST label `label` (which names its profile); a `cn`
/// with an `@` is a mail address, also the SAN (an S/MIME person certificate needs one).
async fn est_enroll(s: &Server, label: &str, cn: &str) -> Vec<u8> {
    let sans: Vec<&str> = if cn.contains('@') { vec![cn] } else { vec![] };
    let (u, p) = s
        .credential(json!({"label": label, "common_name": cn, "sans": sans}))
        .await;
    let body = b64(&csr(&KeyPair::generate().unwrap(), None, &[]));
    let path = format!("/.well-known/est/{label}/simpleenroll");
    let (st, text) = enroll(s, &path, &u, &p, &body).await;
    assert_eq!(st, 200, "{text}");
    certs_from_pkcs7(&text).remove(0)
}

#[tokio::test]
async fn certificates_filter_page_download_and_revoke() {
    let s = Server::start(VIP).await;
    let mut ders = Vec::new();
    for i in 0..3 {
        ders.push(est_enroll(&s, "dev", &format!("dev{i}.example")).await);
    }
    ders.push(est_enroll(&s, "people", "alice@example.com").await);
    let (_, all) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/certificates",
            &s.admin_token(),
            None,
        )
        .await;
    let list = all["certificates"].as_array().unwrap().clone();
    let all: Vec<String> = list
        .iter()
        .map(|c| c["serial"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 4);
    let serial_of = |cn: &str| {
        list.iter()
            .find(|c| c["subject"] == cn)
            .map(|c| c["serial"].as_str().unwrap().to_owned())
            .unwrap()
    };

    let admin = token_with(&s, "ops", &["admin"]).await.0;
    let reader = token_with(&s, "auditor", &["read"]).await.0;
    let ops = signed_in(&s, &admin, "en").await;
    let ro = signed_in(&s, &reader, "en").await;

    // The whole inventory on one page, in the admin API's order, without a next link.
    let page = get(&s, &ops, "/console/certificates").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(serials(&page.body), all);
    assert_eq!(link(&page.body, "next"), None);
    assert!(page.body.contains("dev0.example") && page.body.contains("alice"));

    // Paging: two per page, the next link carries the filters and the cursor.
    let p1 = get(&s, &ops, "/console/certificates?limit=2").await;
    assert_eq!(serials(&p1.body), all[..2]);
    let next = link(&p1.body, "next").expect("a next page");
    assert_eq!(
        next,
        format!("/console/certificates?limit=2&after={}", all[1])
    );
    let p2 = get(&s, &ops, &next).await;
    assert_eq!(serials(&p2.body), all[2..]);
    assert_eq!(link(&p2.body, "next"), None);
    assert!(link(&p2.body, "first").is_some());
    // `limit` is capped at the page size.
    let capped = get(&s, &ops, "/console/certificates?limit=5000").await;
    assert_eq!(serials(&capped.body).len(), 4);

    // Filters: profile, then status after a revocation.
    let people = get(
        &s,
        &ops,
        "/console/certificates?profile=person&channel=&status=",
    )
    .await;
    assert_eq!(serials(&people.body), vec![serial_of("alice@example.com")]);
    let none = get(&s, &ops, "/console/certificates?expiring_before=2000-01-01").await;
    assert!(serials(&none.body).is_empty());
    assert!(none.body.contains("No certificate matches."));

    // A certificate's page: its details, the PEM link, the revoke form with every reason.
    let serial = &serial_of("dev0.example");
    let cpage = get(&s, &ops, &format!("/console/certificates/{serial}")).await;
    assert_eq!(cpage.status, 200);
    assert!(cpage.body.contains("dev0.example"));
    assert!(cpage
        .body
        .contains(&format!("/console/certificates/{serial}/pem")));
    assert!(post_actions(&cpage.body).contains(&format!("/console/certificates/{serial}/revoke")));
    for reason in [
        "unspecified",
        "keyCompromise",
        "affiliationChanged",
        "superseded",
        "cessationOfOperation",
        "certificateHold",
        "privilegeWithdrawn",
    ] {
        assert!(cpage.body.contains(&format!("<option value=\"{reason}\">")));
    }

    // The PEM download is the certificate, for a read session too.
    let r = browser(&s)
        .get(s.url(&format!("/console/certificates/{serial}/pem")))
        .header("cookie", format!("enrolld_console={ro}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-pem-file");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"{serial}.pem\"").as_str()
    );
    let pem = r.text().await.unwrap();
    let der = rustls_pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
        .map(|c: rustls_pki_types::CertificateDer<'static>| c.to_vec())
        .unwrap();
    assert_eq!(der, ders[0]);

    // A read session sees no revoke form; its forged POST is 403 and revokes nothing.
    let rpage = get(&s, &ro, &format!("/console/certificates/{serial}")).await;
    assert_eq!(rpage.status, 200);
    assert_eq!(
        post_actions(&rpage.body),
        vec!["/console/sign-out", "/console/language"]
    );
    let forged = post(
        &s,
        &ro,
        &format!("/console/certificates/{serial}/revoke"),
        &[("csrf", &csrf(&rpage.body)), ("reason", "keyCompromise")],
    )
    .await;
    assert_eq!(forged.status, 403);
    let no_csrf = post(
        &s,
        &ops,
        &format!("/console/certificates/{serial}/revoke"),
        &[("reason", "keyCompromise")],
    )
    .await;
    assert_eq!(no_csrf.status, 403);
    let (_, c) = s
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/certificates/{serial}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(c["status"], "good", "nothing revoked");
    assert!(
        ocsp::contains(&ocsp_of(&s, &ders[0]).await, &[0x80, 0x00]),
        "OCSP: good"
    );

    // Revoke from the console: the admin API and OCSP see it, the audit names the token.
    let done = post(
        &s,
        &ops,
        &format!("/console/certificates/{serial}/revoke"),
        &[("csrf", &csrf(&cpage.body)), ("reason", "keyCompromise")],
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.headers["location"],
        format!("/console/certificates/{serial}?notice=revoked").as_str()
    );
    let (_, c) = s
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/certificates/{serial}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(c["status"], "revoked");
    assert_eq!(c["revocation_reason"], "keyCompromise");
    let resp = ocsp_of(&s, &ders[0]).await;
    assert!(
        ocsp::contains(&resp, &[0xa0, 0x03, 0x0a, 0x01, 0x01]),
        "OCSP: revoked, keyCompromise"
    );
    let audit = audit_actions(&s).await;
    let actor = format!("token:{}", admin.split('.').next().unwrap());
    assert!(audit.contains(&(actor, "certificate.revoke".into())));
    let after = get(
        &s,
        &ops,
        &format!("/console/certificates/{serial}?notice=revoked"),
    )
    .await;
    assert!(after.body.contains("The certificate was revoked."));
    assert!(after.body.contains("Key compromise"));
    assert!(
        post_actions(&after.body).len() == 2,
        "no revoke form once revoked"
    );
    let revoked = get(&s, &ops, "/console/certificates?status=revoked").await;
    assert_eq!(serials(&revoked.body), vec![serial.clone()]);
    let good = get(&s, &ops, "/console/certificates?status=good").await;
    let others: Vec<String> = all.iter().filter(|a| *a != serial).cloned().collect();
    assert_eq!(serials(&good.body), others);

    // Japanese pages carry Japanese strings and dates.
    let ja = signed_in(&s, &admin, "ja").await;
    let jlist = get(&s, &ja, "/console/certificates").await;
    for word in ["シリアル番号", "有効期限", "絞り込む", "失効"] {
        assert!(jlist.body.contains(word), "{word}");
    }
    assert!(jlist.body.contains("年") && jlist.body.contains(" UTC"));
    let jcert = get(&s, &ja, &format!("/console/certificates/{}", others[0])).await;
    for word in [
        "この証明書を失効する",
        "秘密鍵の漏洩",
        "ダウンロード（PEM）",
    ] {
        assert!(jcert.body.contains(word), "{word}");
    }
    for word in ["Revoke", "Key compromise", "Serial", "Download"] {
        assert!(!jcert.body.contains(word), "{word} in the Japanese page");
    }
    // A certificate on hold keeps its revoke form, and a final reason may follow the hold.
    let held = &others[1];
    let hpage = get(&s, &ops, &format!("/console/certificates/{held}")).await;
    let hold = post(
        &s,
        &ops,
        &format!("/console/certificates/{held}/revoke"),
        &[("csrf", &csrf(&hpage.body)), ("reason", "certificateHold")],
    )
    .await;
    assert_eq!(hold.status, 303);
    let hpage = get(&s, &ops, &format!("/console/certificates/{held}")).await;
    assert!(hpage.body.contains("Certificate hold (suspension)"));
    assert!(post_actions(&hpage.body).contains(&format!("/console/certificates/{held}/revoke")));
    post(
        &s,
        &ops,
        &format!("/console/certificates/{held}/revoke"),
        &[("csrf", &csrf(&hpage.body)), ("reason", "superseded")],
    )
    .await;
    let (_, c) = s
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/certificates/{held}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(c["revocation_reason"], "superseded");
    // An unknown reason is refused and revokes nothing.
    let last = &others[2];
    let bad = post(
        &s,
        &ops,
        &format!("/console/certificates/{last}/revoke"),
        &[("csrf", &csrf(&hpage.body)), ("reason", "removeFromCRL")],
    )
    .await;
    assert_eq!(bad.status, 400);
    let still = get(&s, &ops, "/console/certificates?status=good").await;
    assert_eq!(
        serials(&still.body),
        vec![others[0].clone(), last.clone()],
        "the held and revoked ones are gone, the refused one is still valid"
    );

    // An unknown serial is a 404 page.
    let missing = get(&s, &ops, "/console/certificates/abcdef").await;
    assert_eq!(missing.status, 404);
    s.stop().await;
}
