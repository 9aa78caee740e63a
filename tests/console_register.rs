//! Registering a person or device from the console (`/console/people/new`): what the admin API
//! then shows, the audit entry with the session's token as actor, a refused registration shown
//! again with what was typed, scopes and CSRF.

mod common;

use common::console::*;
use common::*;
use reqwest::Method;

/// Every subject the admin API lists.
async fn subjects(s: &Server) -> Vec<serde_json::Value> {
    let (st, v) = s
        .api(Method::GET, "/api/v1/subjects", &s.admin_token(), None)
        .await;
    assert_eq!(st, 200, "{v}");
    v["subjects"]
        .as_array()
        .or(v.as_array())
        .cloned()
        .unwrap_or_else(|| panic!("no subject list in {v}"))
}

#[tokio::test]
async fn a_person_and_a_device_registered_in_the_console_are_what_the_api_shows() {
    let s = Server::start("").await;
    let (token, token_id) = token_with(&s, "hr", &["read", "register"]).await;
    let cookie = signed_in(&s, &token, "en").await;

    let list = get(&s, &cookie, "/console/people").await;
    assert!(
        list.body.contains("href=\"/console/people/new\""),
        "{}",
        list.body
    );
    let form = get(&s, &cookie, "/console/people/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = csrf(&form.body);

    let p = post(
        &s,
        &cookie,
        "/console/people/new",
        &[
            ("csrf", &csrf),
            ("kind", "person"),
            ("external_id", "E-100"),
            ("display_name", "Hanako Yamada"),
            ("email", "hanako@example.com"),
            ("department", "Sales"),
        ],
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let to = p.headers["location"].to_str().unwrap().to_owned();
    assert!(to.ends_with("?notice=created"), "{to}");
    let page = get(&s, &cookie, &to).await;
    assert!(
        page.body.contains("The subject was registered."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Hanako Yamada"));

    let d = post(
        &s,
        &cookie,
        "/console/people/new",
        &[
            ("csrf", &csrf),
            ("kind", "device"),
            ("external_id", "D-7"),
            ("name", "laptop-7"),
            ("serial_number", "C02XYZ"),
            ("owner", "E-100"),
            ("dns_names", "laptop-7.corp.example, vpn-7.corp.example"),
        ],
    )
    .await;
    assert_eq!(d.status, 303, "{}", d.body);

    let all = subjects(&s).await;
    let person = all.iter().find(|v| v["external_id"] == "E-100").unwrap();
    assert_eq!(person["kind"], "person");
    assert_eq!(person["email"], "hanako@example.com");
    assert_eq!(person["department"], "Sales");
    let device = all.iter().find(|v| v["external_id"] == "D-7").unwrap();
    assert_eq!(device["kind"], "device");
    assert_eq!(device["serial_number"], "C02XYZ");
    assert_eq!(
        device["dns_names"],
        serde_json::json!(["laptop-7.corp.example", "vpn-7.corp.example"])
    );

    // The same person again: unchanged, and said so.
    let again = post(
        &s,
        &cookie,
        "/console/people/new",
        &[
            ("csrf", &csrf),
            ("kind", "person"),
            ("external_id", "E-100"),
            ("display_name", "Hanako Yamada"),
            ("email", "hanako@example.com"),
            ("department", "Sales"),
        ],
    )
    .await;
    assert!(again.headers["location"]
        .to_str()
        .unwrap()
        .ends_with("?notice=unchanged"));

    let (_, audit) = s
        .api(Method::GET, "/api/v1/audit", &s.admin_token(), None)
        .await;
    let created: Vec<_> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "subject.created")
        .collect();
    assert_eq!(created.len(), 2, "{audit}");
    for e in created {
        assert_eq!(e["actor"], format!("token:{token_id}"));
    }
}

#[tokio::test]
async fn a_refused_registration_shows_the_form_again_with_the_reason_and_writes_nothing() {
    let s = Server::start("").await;
    let cookie = signed_in(&s, &s.admin_token(), "ja").await;
    let csrf = csrf(&get(&s, &cookie, "/console/people/new").await.body);
    let p = post(
        &s,
        &cookie,
        "/console/people/new",
        &[
            ("csrf", &csrf),
            ("kind", "person"),
            ("external_id", ""),
            ("display_name", "<b>名前</b>"),
        ],
    )
    .await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.body.contains("登録できませんでした"), "{}", p.body);
    assert!(
        p.body.contains("value=\"&lt;b&gt;名前&lt;/b&gt;\""),
        "{}",
        p.body
    );
    assert!(!p.body.contains("<b>名前"));
    assert!(subjects(&s).await.is_empty());
}

#[tokio::test]
async fn registration_needs_the_register_scope_and_the_csrf_token() {
    let s = Server::start("").await;
    let (reader, _) = token_with(&s, "auditor", &["read"]).await;
    let cookie = signed_in(&s, &reader, "en").await;
    let list = get(&s, &cookie, "/console/people").await;
    assert_eq!(list.status, 200);
    assert!(!list.body.contains("/console/people/new"), "{}", list.body);
    assert_eq!(get(&s, &cookie, "/console/people/new").await.status, 403);
    // A forged POST with the reader's own, valid CSRF token.
    let csrf_r = csrf(&list.body);
    let forged = post(
        &s,
        &cookie,
        "/console/people/new",
        &[("csrf", &csrf_r), ("external_id", "X-1")],
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.body);

    let admin = signed_in(&s, &s.admin_token(), "en").await;
    let no_csrf = post(&s, &admin, "/console/people/new", &[("external_id", "X-2")]).await;
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
    assert!(subjects(&s).await.is_empty());
}

/// The names an individual-validated S/MIME certificate carries (docs/smime.md) are fields of
/// the form and reach the registry record; a pseudonym beside them is refused with the form.
#[tokio::test]
async fn the_form_sets_given_and_family_name() {
    let s = Server::start("").await;
    let (token, _) = token_with(&s, "hr", &["read", "register"]).await;
    let cookie = signed_in(&s, &token, "ja").await;
    let form = get(&s, &cookie, "/console/people/new").await;
    for name in ["given_name", "family_name", "pseudonym"] {
        assert!(form.body.contains(&format!("name=\"{name}\"")), "{name}");
    }
    assert!(form.body.contains("S/MIME 証明書に記載する氏名"));
    let csrf = csrf(&form.body);
    let p = post(
        &s,
        &cookie,
        "/console/people/new",
        &[
            ("csrf", &csrf),
            ("kind", "person"),
            ("external_id", "E-200"),
            ("display_name", "山田 花子"),
            ("email", "hanako@example.com"),
            ("given_name", "花子"),
            ("family_name", "山田"),
        ],
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let hanako = subjects(&s)
        .await
        .into_iter()
        .find(|v| v["external_id"] == "E-200")
        .unwrap();
    assert_eq!(hanako["given_name"], "花子");
    assert_eq!(hanako["family_name"], "山田");
    let page = get(&s, &cookie, p.headers["location"].to_str().unwrap()).await;
    assert!(
        page.body.contains("<dt>名</dt><dd>花子</dd>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<dt>姓</dt><dd>山田</dd>"));
    let refused = post(
        &s,
        &cookie,
        "/console/people/new",
        &[
            ("csrf", &csrf),
            ("kind", "person"),
            ("external_id", "E-201"),
            ("display_name", "Taro"),
            ("email", "taro@example.com"),
            ("given_name", "Taro"),
            ("pseudonym", "T"),
        ],
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("value=\"T\""),
        "typed values shown again"
    );
    assert!(subjects(&s)
        .await
        .iter()
        .all(|v| v["external_id"] != "E-201"));
}
