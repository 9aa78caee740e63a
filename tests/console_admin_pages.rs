//! The console's audit log and tokens pages over plain HTTPS with a hand-kept cookie: the audit
//! page against `GET /api/v1/audit` (entries, paging, filters, times per language), "verify
//! chain" against `GET /api/v1/audit/verify` (and a failure), tokens created, shown once, used
//! and revoked through the console with the admin API as witness, the session of a revoked
//! token ending, scopes, CSRF and escaping.

mod common;

use common::console::*;
use common::*;
use enrolld::console::i18n::Lang;
use reqwest::Method;
use serde_json::{json, Value};

/// Undoes the page's escaping of a value.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The audit rows of a page: (seq, time, actor, action, target, outcome, detail).
fn audit_rows(body: &str) -> Vec<Vec<String>> {
    body.split("<tr data-seq=\"")
        .skip(1)
        .map(|row| {
            let row = &row[..row.find("</tr>").unwrap()];
            row.split("<td>")
                .skip(1)
                .map(|c| unescape(&c[..c.find("</td>").unwrap()]))
                .collect()
        })
        .collect()
}

/// The href of the page's "next page" link, if any.
fn next_link(body: &str) -> Option<String> {
    let at = body.find("rel=\"next\" href=\"")? + 17;
    Some(unescape(body[at..].split('"').next().unwrap()))
}

/// Walks the console's audit pages from `start`; every row and the number of pages.
async fn walk(s: &Server, cookie: &str, start: &str) -> (Vec<Vec<String>>, usize) {
    let mut rows = Vec::new();
    let mut pages = 0;
    let mut path = Some(start.to_owned());
    while let Some(p) = path {
        let page = get(s, cookie, &p).await;
        assert_eq!(page.status, 200, "{p}: {}", page.body);
        let got = audit_rows(&page.body);
        assert!(got.len() <= 100, "{p}: {} rows", got.len());
        rows.extend(got);
        pages += 1;
        path = next_link(&page.body);
        assert!(pages < 50, "the paging does not end");
    }
    (rows, pages)
}

async fn api_audit(s: &Server) -> Vec<Value> {
    let (st, v) = s
        .api(
            Method::GET,
            "/api/v1/audit?limit=1000",
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v["entries"].as_array().unwrap().clone()
}

async fn api_tokens(s: &Server) -> Vec<Value> {
    let (st, v) = s
        .api(Method::GET, "/api/v1/tokens", &s.admin_token(), None)
        .await;
    assert_eq!(st, 200, "{v}");
    v["tokens"].as_array().unwrap().clone()
}

/// The row of `expected` as the console shows it.
fn as_row(e: &Value, lang: Lang) -> Vec<String> {
    vec![
        e["seq"].to_string(),
        lang.format_time(e["time"].as_i64().unwrap()),
        e["actor"].as_str().unwrap().to_owned(),
        e["action"].as_str().unwrap().to_owned(),
        e["target"].as_str().unwrap().to_owned(),
        e["outcome"].as_str().unwrap().to_owned(),
        e["detail"].as_str().unwrap().to_owned(),
    ]
}

#[tokio::test]
async fn the_audit_page_lists_pages_and_filters_what_the_api_lists_and_verifies_the_chain() {
    let s = Server::start("").await;
    let (reader, reader_id) = token_with(&s, "auditor", &["read"]).await;
    let cookie = signed_in(&s, &reader, "en").await;
    for i in 0..130 {
        let (st, v) = s
            .api(
                Method::POST,
                "/api/v1/people",
                &s.admin_token(),
                Some(json!({"external_id": format!("p{i}"), "email": format!("p{i}@corp.example"), "display_name": "P"})),
            )
            .await;
        assert_eq!(st, 201, "{v}");
    }
    let api = api_audit(&s).await;
    assert!(api.len() > 130, "{}", api.len());

    // Every entry, oldest first, 100 a page, exactly as the admin API lists them.
    let (rows, pages) = walk(&s, &cookie, "/console/audit").await;
    let expected: Vec<Vec<String>> = api.iter().map(|e| as_row(e, Lang::En)).collect();
    assert_eq!(rows, expected);
    assert_eq!(pages, api.len().div_ceil(100));
    // The cursor is the sequence number: a page starts right after it.
    let p = get(&s, &cookie, "/console/audit?after=100").await;
    assert_eq!(audit_rows(&p.body)[0][0], "101");
    assert!(
        p.body.contains("href=\"/console/audit?after=0\""),
        "a first-page link"
    );

    // Filters: by action prefix across pages, by actor, both.
    let (rows, pages) = walk(&s, &cookie, "/console/audit?action=subject.").await;
    let expected: Vec<Vec<String>> = api
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("subject."))
        .map(|e| as_row(e, Lang::En))
        .collect();
    assert_eq!(expected.len(), 130);
    assert_eq!((rows, pages), (expected, 2));
    let actor = format!("token:{reader_id}");
    let (rows, _) = walk(&s, &cookie, &format!("/console/audit?actor={actor}")).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][2..4], [actor.clone(), "console.sign-in".to_owned()]);
    let (rows, _) = walk(&s, &cookie, "/console/audit?action=token.&actor=token:").await;
    let expected: Vec<Vec<String>> = api
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("token."))
        .map(|e| as_row(e, Lang::En))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(rows, expected);
    let p = get(&s, &cookie, "/console/audit?action=no.such.action").await;
    assert!(audit_rows(&p.body).is_empty());
    assert!(next_link(&p.body).is_none());
    // A filter value is escaped where the page repeats it.
    let p = get(&s, &cookie, "/console/audit?action=%3Cscript%3Ex").await;
    assert!(!p.body.contains("<script"), "{}", p.body);
    assert!(p.body.contains("value=\"&lt;script&gt;x\""));
    // Nonsense in the cursor is refused, not guessed.
    assert_eq!(get(&s, &cookie, "/console/audit?after=x").await.status, 400);

    // A read session sees no form that changes anything here: only sign-out and language.
    let p = get(&s, &cookie, "/console/audit").await;
    assert!(!p.body.contains("style=") && !p.body.contains("<script"));
    for action in post_actions(&p.body) {
        assert!(
            action == "/console/sign-out" || action == "/console/language",
            "{action}"
        );
    }

    // "Verify chain" is a link (a GET: it changes nothing) with the API's verdict.
    let p = get(&s, &cookie, "/console/audit").await;
    assert!(p.body.contains("href=\"/console/audit/verify\""));
    let (st, v) = s
        .api(Method::GET, "/api/v1/audit/verify", &s.admin_token(), None)
        .await;
    assert_eq!((st, &v["valid"]), (200, &json!(true)), "{v}");
    let p = get(&s, &cookie, "/console/audit/verify").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("data-key=\"verify.ok\""), "{}", p.body);
    assert!(p.body.contains(&format!(
        "<tr data-key=\"entries\"><th scope=\"row\">Entries checked</th><td>{}</td></tr>",
        v["entries"]
    )));

    // In Japanese: Japanese headings, times and verdict.
    let ja = signed_in(&s, &reader, "ja").await;
    let p = get(&s, &ja, "/console/audit").await;
    assert!(p.body.contains("<html lang=\"ja\""));
    assert!(p.body.contains("監査ログ") && p.body.contains("実行者"));
    assert!(!p.body.contains("Next page") && !p.body.contains("Actor"));
    let first = &audit_rows(&p.body)[0];
    assert_eq!(first, &as_row(&api[0], Lang::Ja));
    assert!(first[1].contains('年'), "{}", first[1]);
    let p = get(&s, &ja, "/console/audit/verify").await;
    assert!(p.body.contains("連鎖は正常です"), "{}", p.body);
}

#[tokio::test]
async fn verify_chain_shows_a_failure_in_the_readers_language() {
    // No checkpoint is signed while the test runs, so nothing rewrites the file below.
    let s =
        Server::start("[audit]\ncheckpoint_entries = 1000000\ncheckpoint_interval_secs = 86400\n")
            .await;
    let (reader, _) = token_with(&s, "auditor", &["read"]).await;
    let en = signed_in(&s, &reader, "en").await;
    let ja = signed_in(&s, &reader, "ja").await;
    assert!(get(&s, &en, "/console/audit/verify")
        .await
        .body
        .contains("data-key=\"verify.ok\""));
    // The newest checkpoint, kept beside the store, no longer reads: the log cannot be
    // checked against it, and both the API and the console say so.
    std::fs::write(s.data("audit-checkpoint.json"), b"{<not json").unwrap();
    let (st, v) = s
        .api(Method::GET, "/api/v1/audit/verify", &s.admin_token(), None)
        .await;
    assert_eq!((st, &v["valid"]), (200, &json!(false)), "{v}");
    let p = get(&s, &en, "/console/audit/verify").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("data-key=\"verify.failed\""), "{}", p.body);
    assert!(!p.body.contains("data-key=\"verify.ok\""));
    assert!(p.body.contains("Verification failed"));
    let p = get(&s, &ja, "/console/audit/verify").await;
    assert!(p.body.contains("検証に失敗しました"), "{}", p.body);
    assert!(p.body.contains("最初に見つかった問題"));
}

#[tokio::test]
async fn an_admin_session_creates_shows_once_and_revokes_tokens_through_the_admin_api() {
    let s = Server::start("").await;
    let (admin, admin_id) = token_with(&s, "ops", &["admin"]).await;
    let cookie = signed_in(&s, &admin, "en").await;
    let page = get(&s, &cookie, "/console/tokens").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(
        "<tr data-token=\"{admin_id}\""
            .replace("{admin_id}", &admin_id)
            .as_str()
    ));
    let token = csrf(&page.body);

    // Create: the new token appears once, with the warning.
    let p = post(
        &s,
        &cookie,
        "/console/tokens",
        &[
            ("csrf", &token),
            ("name", "<script>alert(1)</script>"),
            ("scope", "read"),
            ("scope", "admin"),
            ("days", "30"),
        ],
    )
    .await;
    assert_eq!(p.status, 201, "{}", p.body);
    assert_eq!(p.headers["cache-control"], "no-store");
    assert!(p.body.contains("It is shown only this once"));
    let at = p.body.find("id=\"new-token\"").unwrap();
    let v = p.body[at..].find("value=\"").unwrap() + at + 7;
    let new = p.body[v..].split('"').next().unwrap().to_owned();
    let (new_id, secret) = new.split_once('.').unwrap();
    assert!(secret.len() >= 32, "{new}");
    // The name is escaped on every page that shows it.
    assert!(!p.body.contains("<script"), "{}", p.body);
    assert!(p.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // The admin API sees it, with what the form asked for.
    let listed = api_tokens(&s).await;
    let t = listed.iter().find(|t| t["id"] == new_id).expect("listed");
    assert_eq!(t["name"], "<script>alert(1)</script>");
    assert_eq!(t["scopes"], json!(["read", "admin"]));
    assert_eq!(
        t["expires_at"].as_i64().unwrap() - t["created_at"].as_i64().unwrap(),
        30 * 86_400
    );
    // It works against the admin API…
    let (st, _) = s.api(Method::GET, "/api/v1/tokens", &new, None).await;
    assert_eq!(st, 200);
    // …and the list never shows the secret again.
    let list = get(&s, &cookie, "/console/tokens").await;
    assert!(!list.body.contains("style=") && !list.body.contains("<script"));
    assert!(list.body.contains(&format!("data-token=\"{new_id}\"")));
    assert!(!list.body.contains(secret));
    assert!(!list.body.contains("id=\"new-token\""));
    assert!(!list.body.contains("<script"));

    // An invalid form creates nothing and says why.
    let before = api_tokens(&s).await.len();
    for bad in [
        vec![("csrf", token.as_str()), ("name", "x")],
        vec![("csrf", &token), ("scope", "read")],
        vec![("csrf", &token), ("name", "x"), ("scope", "root")],
        vec![
            ("csrf", &token),
            ("name", "x"),
            ("scope", "read"),
            ("days", "0"),
        ],
    ] {
        let p = post(&s, &cookie, "/console/tokens", &bad).await;
        assert_eq!(p.status, 400, "{bad:?}: {}", p.body);
        assert!(p.body.contains("The token was not created"));
    }
    // A POST without the CSRF token, or with another, is refused and changes nothing.
    let p = post(
        &s,
        &cookie,
        "/console/tokens",
        &[("name", "x"), ("scope", "read")],
    )
    .await;
    assert_eq!(p.status, 403);
    let p = post(
        &s,
        &cookie,
        "/console/tokens",
        &[("csrf", "forged"), ("name", "x"), ("scope", "read")],
    )
    .await;
    assert_eq!(p.status, 403);
    let p = post(
        &s,
        &cookie,
        "/console/tokens/revoke",
        &[("id", new_id), ("confirm", "yes")],
    )
    .await;
    assert_eq!(p.status, 403);
    assert_eq!(api_tokens(&s).await.len(), before);

    // Revoke: first a confirmation, which changes nothing…
    let p = post(
        &s,
        &cookie,
        "/console/tokens/revoke",
        &[("csrf", &token), ("id", new_id)],
    )
    .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("name=\"confirm\" value=\"yes\""));
    assert!(!p.body.contains("<script"));
    let (st, _) = s.api(Method::GET, "/api/v1/tokens", &new, None).await;
    assert_eq!(st, 200);
    // …then the revocation: the token fails from now on.
    let p = post(
        &s,
        &cookie,
        "/console/tokens/revoke",
        &[("csrf", &token), ("id", new_id), ("confirm", "yes")],
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.headers["location"], "/console/tokens?revoked=1");
    let (st, _) = s.api(Method::GET, "/api/v1/tokens", &new, None).await;
    assert_eq!(st, 401);
    let list = get(&s, &cookie, "/console/tokens?revoked=1").await;
    assert!(list.body.contains("The token was revoked"));
    assert!(!list.body.contains(&format!("data-token=\"{new_id}\"")));
    let p = post(
        &s,
        &cookie,
        "/console/tokens/revoke",
        &[("csrf", &token), ("id", new_id), ("confirm", "yes")],
    )
    .await;
    assert_eq!(p.status, 404);

    // Both actions are audited with the session's token as actor, as the admin API names it.
    let actor = format!("token:{admin_id}");
    let log = api_audit(&s).await;
    let did = |action: &str| {
        log.iter()
            .any(|e| e["action"] == action && e["target"] == new_id && e["actor"] == actor)
    };
    assert!(did("token.create") && did("token.revoke"), "{log:?}");

    // Revoking the session's own token ends the session.
    let p = post(
        &s,
        &cookie,
        "/console/tokens/revoke",
        &[("csrf", &token), ("id", &admin_id), ("confirm", "yes")],
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = get(&s, &cookie, "/console/tokens").await;
    assert_eq!(p.status, 303);
    assert_eq!(p.headers["location"], "/console/sign-in?ended=1");
    let p = get(&s, &cookie, "/console/").await;
    assert_eq!(p.status, 303);
    let (st, _) = s.api(Method::GET, "/api/v1/tokens", &admin, None).await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn a_session_without_the_admin_scope_gets_403_and_its_forged_posts_change_nothing() {
    let s = Server::start("").await;
    let (victim, victim_id) = token_with(&s, "victim", &["read"]).await;
    for scopes in [&["read"][..], &["register", "issue", "revoke"][..]] {
        let (t, _) = token_with(&s, "limited", scopes).await;
        let cookie = signed_in(&s, &t, "ja").await;
        let p = get(&s, &cookie, "/console/tokens").await;
        assert_eq!(p.status, 403, "{scopes:?}");
        assert!(p.body.contains("<html lang=\"ja\""));
        assert!(
            p.body.contains("admin 権限を持つトークンだけが"),
            "{}",
            p.body
        );
        assert!(!p.body.contains("Only a token"));
        assert!(!p.body.contains("data-token="), "no list");
        // Its pages carry a good CSRF token: forged POSTs with it are still refused.
        let token = csrf(&get(&s, &cookie, "/console/audit").await.body);
        let before = api_tokens(&s).await;
        let p = post(
            &s,
            &cookie,
            "/console/tokens",
            &[("csrf", &token), ("name", "forged"), ("scope", "admin")],
        )
        .await;
        assert_eq!(p.status, 403);
        assert!(!p.body.contains("id=\"new-token\""));
        let p = post(
            &s,
            &cookie,
            "/console/tokens/revoke",
            &[("csrf", &token), ("id", &victim_id), ("confirm", "yes")],
        )
        .await;
        assert_eq!(p.status, 403);
        assert_eq!(api_tokens(&s).await, before, "nothing changed");
        let (st, _) = s.api(Method::GET, "/api/v1/audit", &victim, None).await;
        assert_eq!(st, 200, "the victim still works");
    }
    assert!(!api_audit(&s)
        .await
        .iter()
        .any(|e| e["action"] == "token.revoke" || e["target"] == "forged"));
}

#[tokio::test]
async fn the_tokens_page_speaks_japanese() {
    let s = Server::start("").await;
    let (admin, _) = token_with(&s, "ops", &["admin"]).await;
    let cookie = signed_in(&s, &admin, "ja").await;
    let p = get(&s, &cookie, "/console/tokens").await;
    assert_eq!(p.status, 200);
    for ja in [
        "管理トークン",
        "トークンを作成する",
        "有効日数",
        "閲覧（read）",
        "無期限",
        "失効…",
    ] {
        assert!(p.body.contains(ja), "{ja}");
    }
    for en in ["Create a token", "Expires", "Never", "Revoke"] {
        assert!(!p.body.contains(en), "{en}");
    }
    let token = csrf(&p.body);
    let p = post(
        &s,
        &cookie,
        "/console/tokens",
        &[("csrf", &token), ("name", "ci"), ("scope", "read")],
    )
    .await;
    assert_eq!(p.status, 201);
    assert!(p.body.contains("表示はこの一度だけ"));
}
