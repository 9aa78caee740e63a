//! The console's people and devices pages over plain HTTPS with a hand-kept cookie: the list
//! (search, filters, paging by cursor) against what was registered through the admin API, a
//! subject's page, credentials shown once, suspend/reactivate and off-boarding with the admin
//! API as witness, scopes, CSRF, escaping and Japanese pages.

mod common;

use base64ct::Encoding;
use common::console::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// Registers a subject through the admin API; its id.
async fn register(s: &Server, kind: &str, body: Value) -> String {
    let path = if kind == "person" {
        "/api/v1/people"
    } else {
        "/api/v1/devices"
    };
    let (st, v) = s
        .api(Method::POST, path, &s.admin_token(), Some(body))
        .await;
    assert_eq!(st, 201, "{v}");
    v["subject"]["id"].as_str().unwrap().to_owned()
}

/// A subject as the admin API shows it.
async fn api_subject(s: &Server, id: &str) -> Value {
    let (st, v) = s
        .api(
            Method::GET,
            &format!("/api/v1/subjects/{id}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v
}

/// The external ids in a list page's rows (the `<code>` of each row).
fn external_ids(body: &str) -> Vec<String> {
    body.split("<tr data-subject=")
        .skip(1)
        .map(|row| {
            let a = row.find("<td><code>").unwrap() + 10;
            row[a..].split('<').next().unwrap().to_owned()
        })
        .collect()
}

/// The `href` of the page's next link.
fn next_link(body: &str) -> Option<String> {
    let at = body.find("rel=\"next\" href=\"")? + 17;
    Some(body[at..].split('"').next().unwrap().replace("&amp;", "&"))
}

/// Five subjects: three people (one in Finance, one with markup for a name, one suspended
/// later by the tests that want it) and two devices.
async fn population(s: &Server) -> Vec<String> {
    vec![
        register(s, "person", json!({"external_id": "hr-1", "email": "ann@corp.example", "display_name": "Ann Example", "department": "Finance"})).await,
        register(s, "person", json!({"external_id": "hr-2", "email": "bob@corp.example", "display_name": "<script>alert(1)</script>", "department": "Sales"})).await,
        register(s, "person", json!({"external_id": "hr-3", "email": "cy@corp.example", "display_name": "Cy Example", "department": "Sales"})).await,
        register(s, "device", json!({"external_id": "mdm-1", "name": "laptop-1", "serial_number": "SN1", "dns_names": ["laptop-1.corp.example"]})).await,
        register(s, "device", json!({"external_id": "mdm-2", "name": "laptop-2", "serial_number": "SN2", "dns_names": ["laptop-2.corp.example"]})).await,
    ]
}

#[tokio::test]
async fn the_list_shows_filters_searches_pages_and_escapes_the_registry() {
    let s = Server::start("").await;
    let ids = population(&s).await;
    let (st, v) = s
        .api(
            Method::PATCH,
            &format!("/api/v1/subjects/{}", ids[2]),
            &s.admin_token(),
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let c = signed_in(&s, &s.admin_token(), "en").await;

    let p = get(&s, &c, "/console/people").await;
    assert_eq!(p.status, 200);
    let mut all = external_ids(&p.body);
    all.sort();
    assert_eq!(all, ["hr-1", "hr-2", "hr-3", "mdm-1", "mdm-2"]);
    assert!(p.body.contains("Ann Example") && p.body.contains("laptop-1"));
    assert!(p.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!p.body.contains("<script>"));
    assert!(next_link(&p.body).is_none());
    let odd = get(&s, &c, &format!("/console/people/{}", ids[1])).await;
    assert_eq!(odd.status, 200);
    assert!(odd
        .body
        .contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"));
    assert!(!odd.body.contains("<script>"));

    let mut devices = external_ids(&get(&s, &c, "/console/people?kind=device").await.body);
    devices.sort();
    assert_eq!(devices, ["mdm-1", "mdm-2"]);
    assert_eq!(
        external_ids(&get(&s, &c, "/console/people?status=suspended").await.body),
        ["hr-3"]
    );
    // Search: case-insensitive over department, e-mail and names.
    assert_eq!(
        external_ids(&get(&s, &c, "/console/people?q=fINANCE").await.body),
        ["hr-1"]
    );
    assert_eq!(
        external_ids(&get(&s, &c, "/console/people?q=BOB%40corp").await.body),
        ["hr-2"]
    );
    let mut sales = external_ids(
        &get(&s, &c, "/console/people?kind=person&department=Sales&q=hr-")
            .await
            .body,
    );
    sales.sort();
    assert_eq!(sales, ["hr-2", "hr-3"]);
    assert!(external_ids(&get(&s, &c, "/console/people?q=nobody").await.body).is_empty());

    // Paging two at a time walks every subject once, in pages linked by cursor.
    let mut seen = Vec::new();
    let mut path = "/console/people?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let p = get(&s, &c, &path).await;
        assert_eq!(p.status, 200);
        let rows = external_ids(&p.body);
        assert!(rows.len() <= 2);
        seen.extend(rows);
        pages += 1;
        match next_link(&p.body) {
            Some(n) => {
                assert!(n.contains("limit=2&after="), "{n}");
                path = n;
            }
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["hr-1", "hr-2", "hr-3", "mdm-1", "mdm-2"]);
    assert!(pages >= 3);
}

#[tokio::test]
async fn issue_and_revoke_sessions_create_credentials_change_status_and_offboard() {
    let s = Server::start("").await;
    let ids = population(&s).await;
    let ann = &ids[0];
    let serial = s.enrolled(ann).await;
    let (issuer, issuer_id) = token_with(&s, "issuer", &["read", "issue"]).await;
    let (revoker, revoker_id) = token_with(&s, "revoker", &["read", "revoke"]).await;

    // The subject page lists the certificate with a link to its page.
    let ci = signed_in(&s, &issuer, "en").await;
    let p = get(&s, &ci, &format!("/console/people/{ann}")).await;
    assert_eq!(p.status, 200);
    assert!(p
        .body
        .contains(&format!("href=\"/console/certificates/{serial}\"")));
    assert!(p.body.contains("hr-1") && p.body.contains("Finance"));
    // issue, not revoke: credential forms, no status forms.
    let actions = post_actions(&p.body);
    assert!(actions.contains(&format!("/console/people/{ann}/credentials")));
    assert!(!actions.contains(&format!("/console/people/{ann}/status")));

    let before = api_subject(&s, ann).await["est_credentials"]
        .as_array()
        .unwrap()
        .len();
    let token = csrf(&p.body);
    let made = post(
        &s,
        &ci,
        &format!("/console/people/{ann}/credentials"),
        &[("csrf", &token), ("kind", "pickup")],
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(made.body.contains("/pickup/"), "{}", made.body);
    let est = post(
        &s,
        &ci,
        &format!("/console/people/{ann}/credentials"),
        &[("csrf", &token), ("kind", "est")],
    )
    .await;
    assert_eq!(est.status, 200, "{}", est.body);
    let v = api_subject(&s, ann).await;
    let creds = v["est_credentials"].as_array().unwrap();
    assert_eq!(creds.len(), before + 1);
    let new_id = creds
        .iter()
        .map(|c| c.as_str().unwrap())
        .find(|c| est.body.contains(c));
    assert!(new_id.is_some(), "the new credential's user name is shown");
    // Shown once: the subject page names the id but no password.
    let again = get(&s, &ci, &format!("/console/people/{ann}")).await;
    let pw_at = est.body.find("Password</dt><dd><code>").unwrap() + 23;
    let password = est.body[pw_at..].split('<').next().unwrap();
    assert!(password.len() >= 8);
    assert!(!again.body.contains(password));

    // revoke: suspend and reactivate, seen through the admin API.
    let cr = signed_in(&s, &revoker, "en").await;
    let p = get(&s, &cr, &format!("/console/people/{ann}")).await;
    let actions = post_actions(&p.body);
    assert!(!actions.contains(&format!("/console/people/{ann}/credentials")));
    let token = csrf(&p.body);
    let status_path = format!("/console/people/{ann}/status");
    let r = post(
        &s,
        &cr,
        &status_path,
        &[("csrf", &token), ("status", "suspended")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.headers["location"],
        format!("/console/people/{ann}?notice=suspended").as_str()
    );
    assert_eq!(api_subject(&s, ann).await["status"], "suspended");
    let p = get(&s, &cr, &format!("/console/people/{ann}?notice=suspended")).await;
    assert!(p.body.contains("The subject was suspended."));
    let r = post(
        &s,
        &cr,
        &status_path,
        &[("csrf", &token), ("status", "active")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(api_subject(&s, ann).await["status"], "active");

    // Off-boarding: the confirmation counts what goes, the POST revokes it.
    let conf = get(&s, &cr, &format!("/console/people/{ann}/offboard")).await;
    assert_eq!(conf.status, 200);
    assert!(conf
        .body
        .contains("data-count=\"ppl.offboard_certs\">1</dd>"));
    let n_creds = creds.len();
    assert!(conf
        .body
        .contains(&format!("data-count=\"ppl.offboard_creds\">{n_creds}</dd>")));
    assert!(conf
        .body
        .contains("data-count=\"ppl.offboard_eabs\">0</dd>"));
    assert_eq!(
        post_actions(&conf.body)
            .iter()
            .filter(|a| **a == status_path)
            .count(),
        1
    );
    assert!(conf.body.contains("value=\"offboarded\""));
    let r = post(
        &s,
        &cr,
        &status_path,
        &[("csrf", &token), ("status", "offboarded")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(api_subject(&s, ann).await["status"], "offboarded");
    let (st, cert) = s
        .api(
            Method::GET,
            &format!("/api/v1/certificates/{serial}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(cert["status"], "revoked", "{cert}");
    // Audited with the session's token as actor, as the admin API would.
    let (st, log) = s
        .api(
            Method::GET,
            "/api/v1/audit?limit=1000",
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 200, "{log}");
    let acts: Vec<(String, String)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == ann.as_str())
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (actor, action) in [
        (format!("token:{issuer_id}"), "credential.pickup"),
        (format!("token:{issuer_id}"), "credential.est"),
        (format!("token:{revoker_id}"), "subject.suspended"),
        (format!("token:{revoker_id}"), "subject.active"),
        (format!("token:{revoker_id}"), "subject.offboarded"),
    ] {
        assert!(
            acts.contains(&(actor.clone(), action.to_owned())),
            "{actor} {action}: {acts:?}"
        );
    }
    // An off-boarded subject's page offers nothing more.
    let p = get(&s, &cr, &format!("/console/people/{ann}")).await;
    assert!(!post_actions(&p.body)
        .iter()
        .any(|a| a.starts_with("/console/people/")));
}

#[tokio::test]
async fn a_read_session_sees_no_forms_and_its_forged_posts_change_nothing() {
    let s = Server::start("").await;
    let ids = population(&s).await;
    let ann = &ids[0];
    let (reader, _) = token_with(&s, "reader", &["read"]).await;
    let c = signed_in(&s, &reader, "en").await;
    let p = get(&s, &c, &format!("/console/people/{ann}")).await;
    assert_eq!(p.status, 200);
    assert!(!post_actions(&p.body)
        .iter()
        .any(|a| a.starts_with("/console/people/")));
    assert!(!p.body.contains("/offboard\""));
    assert_eq!(
        get(&s, &c, &format!("/console/people/{ann}/offboard"))
            .await
            .status,
        403
    );
    let token = csrf(&p.body);
    let before = api_subject(&s, ann).await;
    for (path, form) in [
        (
            "status",
            [("csrf", token.as_str()), ("status", "suspended")],
        ),
        (
            "status",
            [("csrf", token.as_str()), ("status", "offboarded")],
        ),
        ("credentials", [("csrf", token.as_str()), ("kind", "est")]),
        (
            "credentials",
            [("csrf", token.as_str()), ("kind", "pickup")],
        ),
    ] {
        let r = post(&s, &c, &format!("/console/people/{ann}/{path}"), &form).await;
        assert_eq!(r.status, 403, "{path}");
    }
    assert_eq!(api_subject(&s, ann).await, before);

    // Without the CSRF token even an admin session is refused.
    let a = signed_in(&s, &s.admin_token(), "en").await;
    let r = post(
        &s,
        &a,
        &format!("/console/people/{ann}/status"),
        &[("status", "suspended")],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post(
        &s,
        &a,
        &format!("/console/people/{ann}/status"),
        &[("csrf", "forged"), ("status", "suspended")],
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(api_subject(&s, ann).await["status"], "active");
}

#[tokio::test]
async fn the_people_pages_speak_japanese() {
    let s = Server::start("").await;
    let ids = population(&s).await;
    let c = signed_in(&s, &s.admin_token(), "ja").await;
    let p = get(&s, &c, "/console/people").await;
    assert_eq!(p.status, 200);
    for w in [
        "利用者と端末",
        "外部識別子",
        "部署",
        "検索",
        "利用者",
        "端末",
        "有効",
    ] {
        assert!(p.body.contains(w), "{w}");
    }
    assert!(!p.body.contains("External id"));
    let p = get(&s, &c, &format!("/console/people/{}", ids[0])).await;
    for w in [
        "証明書",
        "登録用資格情報を作る",
        "一時停止する",
        "退役させる",
    ] {
        assert!(p.body.contains(w), "{w}");
    }
    assert!(!p.body.contains("Suspend"));
    let p = get(&s, &c, &format!("/console/people/{}/offboard", ids[0])).await;
    assert!(p.body.contains("退役は取り消せません"));
}

/// The text of the element with `id` (a `<code>`), unescaped of `&amp;`.
fn by_id(body: &str, id: &str) -> String {
    let at = body
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id} in {body}"))
        + id.len()
        + 6;
    body[at..].split('<').next().unwrap().replace("&amp;", "&")
}

/// The audit entries on `target`: (actor, action).
async fn audited(s: &Server, target: &str) -> Vec<(String, String)> {
    let (st, log) = s
        .api(
            Method::GET,
            "/api/v1/audit?limit=1000",
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 200, "{log}");
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == target)
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_issue_session_hands_out_an_acme_key_and_an_apple_profile() {
    let s = Server::start("").await;
    let ids = population(&s).await;
    let dev = &ids[3];
    let (issuer, issuer_id) = token_with(&s, "issuer", &["read", "issue"]).await;
    let c = signed_in(&s, &issuer, "en").await;
    let p = get(&s, &c, &format!("/console/people/{dev}")).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("id=\"cred-acme\""), "{}", p.body);
    assert!(p.body.contains("id=\"apple-profile\""));
    assert!(post_actions(&p.body).contains(&format!("/console/people/{dev}/apple-profile")));
    let token = csrf(&p.body);

    // The ACME key: shown once with the directory and command lines that use it.
    let made = post(
        &s,
        &c,
        &format!("/console/people/{dev}/credentials"),
        &[("csrf", &token), ("kind", "acme")],
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert_eq!(made.headers["cache-control"], "no-store");
    let kid = by_id(&made.body, "eab-kid");
    let hmac = by_id(&made.body, "eab-hmac");
    assert!(!kid.is_empty() && hmac.len() >= 32, "{kid} {hmac}");
    let directory = by_id(&made.body, "acme-directory");
    assert!(directory.ends_with("/acme/directory"), "{directory}");
    let certbot = by_id(&made.body, "eab-certbot");
    assert!(certbot.starts_with("certbot register "), "{certbot}");
    for part in [
        format!("--server {directory}"),
        format!("--eab-kid={kid}"),
        format!("--eab-hmac-key={hmac}"),
    ] {
        assert!(certbot.contains(&part), "{part} in {certbot}");
    }
    let lego = by_id(&made.body, "eab-lego");
    for part in [
        format!("--kid={kid}"),
        format!("--hmac={hmac}"),
        "--domains=laptop-1.corp.example".to_owned(),
    ] {
        assert!(lego.contains(&part), "{part} in {lego}");
    }
    let v = api_subject(&s, dev).await;
    assert!(v["eab_keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k == kid.as_str()));
    // The values shown bind an ACME account (RFC 8555 §7.3.4).
    let mac = base64ct::Base64UrlUnpadded::decode_vec(&hmac).unwrap();
    let mut acme = common::acme_client::Client::new(&s).await;
    acme.account(&kid, &mac).await;
    // Shown once: the subject's page names the key id, never the MAC key.
    let again = get(&s, &c, &format!("/console/people/{dev}")).await;
    assert!(again.body.contains(&kid) && !again.body.contains(&hmac));

    // The Apple profile: a download holding a fresh SCEP challenge of the subject.
    let before: Vec<Value> = v["scep_challenges"].as_array().unwrap().clone();
    let r = post(
        &s,
        &c,
        &format!("/console/people/{dev}/apple-profile"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.headers["content-type"],
        "application/x-apple-aspen-config"
    );
    assert_eq!(
        r.headers["content-disposition"],
        format!("attachment; filename=\"{dev}.mobileconfig\"").as_str()
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(r.body.contains("<key>PayloadContent</key>"), "{}", r.body);
    let after = api_subject(&s, dev).await["scep_challenges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(after.len(), before.len() + 1);
    let new_id = after
        .iter()
        .find(|c| !before.contains(c))
        .unwrap()
        .as_str()
        .unwrap();
    assert!(
        r.body.contains(&format!("<string>{new_id}.")),
        "the profile's challenge is the new one"
    );
    // Both audited with the session's token as actor.
    let acts = audited(&s, dev).await;
    for action in ["credential.acme", "credential.scep"] {
        assert!(
            acts.contains(&(format!("token:{issuer_id}"), action.to_owned())),
            "{action}: {acts:?}"
        );
    }
    // Without the CSRF token nothing is made.
    let r = post(&s, &c, &format!("/console/people/{dev}/apple-profile"), &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        api_subject(&s, dev).await["scep_challenges"]
            .as_array()
            .unwrap()
            .len(),
        after.len()
    );
}

#[tokio::test]
async fn a_read_session_gets_no_acme_key_or_apple_profile() {
    let s = Server::start("").await;
    let ids = population(&s).await;
    let dev = &ids[3];
    let (reader, _) = token_with(&s, "reader", &["read"]).await;
    let c = signed_in(&s, &reader, "en").await;
    let p = get(&s, &c, &format!("/console/people/{dev}")).await;
    assert!(!p.body.contains("id=\"cred-acme\"") && !p.body.contains("id=\"apple-profile\""));
    let token = csrf(&p.body);
    let before = api_subject(&s, dev).await;
    let r = post(
        &s,
        &c,
        &format!("/console/people/{dev}/credentials"),
        &[("csrf", &token), ("kind", "acme")],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post(
        &s,
        &c,
        &format!("/console/people/{dev}/apple-profile"),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(!r.headers.contains_key("content-disposition"));
    assert_eq!(api_subject(&s, dev).await, before);
}

#[tokio::test]
async fn the_acme_key_page_speaks_japanese() {
    let s = Server::start("").await;
    let ids = population(&s).await;
    let ann = &ids[0];
    let c = signed_in(&s, &s.admin_token(), "ja").await;
    let p = get(&s, &c, &format!("/console/people/{ann}")).await;
    assert!(p.body.contains("ACME 用の鍵 (EAB) を作る"));
    assert!(p.body.contains("Apple 構成プロファイルをダウンロードする"));
    let made = post(
        &s,
        &c,
        &format!("/console/people/{ann}/credentials"),
        &[("csrf", &csrf(&p.body)), ("kind", "acme")],
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(made.body.contains("<html lang=\"ja\">"));
    for w in [
        "ACME 用の鍵を作りました",
        "鍵 ID",
        "HMAC 鍵",
        "certbot でアカウントを登録する",
    ] {
        assert!(made.body.contains(w), "{w}");
    }
    // A person: certbot registers with the person's address; lego orders DNS names only.
    assert!(by_id(&made.body, "eab-certbot").ends_with("-m ann@corp.example"));
    assert!(!made.body.contains("id=\"eab-lego\""));
    assert!(!made.body.contains("Key id"));
}

#[tokio::test]
async fn a_request_that_cannot_be_carried_out_says_why_and_a_refusal_does_not() {
    let s = Server::start("").await;
    let id = register(
        &s,
        "device",
        json!({"external_id": "ERR-1", "name": "laptop"}),
    )
    .await;
    for (lang, says) in [
        ("en", "could not be carried out"),
        ("ja", "実行できませんでした"),
    ] {
        let cookie = signed_in(&s, &s.admin_token(), lang).await;
        let page = get(&s, &cookie, &format!("/console/people/{id}")).await;
        let bad = post(
            &s,
            &cookie,
            &format!("/console/people/{id}/status"),
            &[("csrf", &csrf(&page.body)), ("status", "<bogus>")],
        )
        .await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert!(bad.body.contains(says), "{}", bad.body);
        assert!(bad.body.contains("<code class=\"detail\">"), "{}", bad.body);
        assert!(bad.body.contains("&lt;bogus&gt;") || !bad.body.contains("<bogus>"));
    }
    // A refusal of who asks gives no reason.
    let (reader, _) = token_with(&s, "r", &["read"]).await;
    let cookie = signed_in(&s, &reader, "en").await;
    let page = get(&s, &cookie, &format!("/console/people/{id}")).await;
    let refused = post(
        &s,
        &cookie,
        &format!("/console/people/{id}/status"),
        &[("csrf", &csrf(&page.body)), ("status", "suspended")],
    )
    .await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("This request was refused."));
    assert!(!refused.body.contains("class=\"detail\""));
}
