//! The web console over plain HTTPS requests with a hand-kept cookie: sign-in and its cookie,
//! throttled failures, sessions that pages need, idle and absolute expiry on the manual clock,
//! security headers on every answer, CSRF on every POST, languages, the dashboard against
//! `/metrics`, what a `read` token sees, escaping, and the audit entries of sign-in and out.

mod common;

use std::sync::Arc;

use common::console::{browser, csrf, read, sign_in, token_with, Page};
use common::*;
use enrolld::clock::ManualClock;
use rcgen::KeyPair;
use serde_json::json;

const PROFILES: &str =
    "[profiles.device]\nvalidity_days = 20\n[profiles.person]\nvalidity_days = 60\n";

async fn get(s: &Server, cookie: Option<&str>, path: &str, lang: Option<&str>) -> Page {
    let mut r = browser(s).get(s.url(path));
    if let Some(c) = cookie {
        r = r.header("cookie", format!("enrolld_console={c}"));
    }
    if let Some(l) = lang {
        r = r.header("accept-language", l);
    }
    read(r.send().await.unwrap()).await
}

async fn post(s: &Server, cookie: Option<&str>, path: &str, form: &[(&str, &str)]) -> Page {
    let mut r = browser(s).post(s.url(path)).form(form);
    if let Some(c) = cookie {
        r = r.header("cookie", format!("enrolld_console={c}"));
    }
    read(r.send().await.unwrap()).await
}

async fn signed_in(s: &Server, token: &str) -> String {
    let (p, cookie) = sign_in(s, token, None).await;
    assert_eq!(p.status, 303, "{}", p.body);
    cookie.expect("a session cookie")
}

/// The `action` of every form of a page that posts (a `GET` form, such as a filter, only
/// reads).
fn form_actions(body: &str) -> Vec<String> {
    body.match_indices("<form")
        .map(|(i, _)| &body[i..i + body[i..].find('>').unwrap()])
        .filter(|tag| !tag.contains("method=\"get\""))
        .map(|tag| {
            let a = tag.find("action=\"").expect("a form with an action") + 8;
            tag[a..].split('"').next().unwrap().to_owned()
        })
        .collect()
}

/// The figure the dashboard shows under `data-key="key"`.
fn figure(body: &str, key: &str) -> u64 {
    let marker = format!("data-key=\"{key}\"");
    let at = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {key} on the page"))
        + marker.len();
    let rest = &body[at..];
    let start = match (rest.find("<td>"), rest.find("</tr>")) {
        (Some(td), Some(end)) if td < end => td + 4,
        _ => rest.find('>').unwrap() + 1,
    };
    rest[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number"))
}

/// The value of a metric line `name` (with its labels) in the Prometheus text.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .parse()
        .unwrap()
}

/// Every console answer carries the security headers.
fn assert_security_headers(p: &Page, what: &str) {
    let h = |n: &str| {
        p.headers
            .get(n)
            .unwrap_or_else(|| panic!("{what}: no {n}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        h("content-security-policy"),
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "{what}"
    );
    assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(h("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(h("cache-control"), "no-store", "{what}");
}

async fn audit_entries(s: &Server) -> Vec<serde_json::Value> {
    let (st, v) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/audit?limit=1000",
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn sign_in_sessions_headers_csrf_sign_out_and_audit() {
    let s = Server::start("").await;
    let (token, token_id) = token_with(&s, "ops", &["admin"]).await;

    // Pages need a session: without one, a GET goes to sign-in, a POST is refused.
    let p = get(&s, None, "/console/", None).await;
    assert_eq!(p.status, 303);
    assert_eq!(p.headers["location"], "/console/sign-in");
    assert_security_headers(&p, "redirect");
    let p = get(&s, Some("forged-session-id"), "/console/ca", None).await;
    assert_eq!(p.status, 303);
    let p = get(&s, None, "/console", None).await;
    assert_eq!(
        (p.status, &p.headers["location"]),
        (303, &"/console/".parse().unwrap())
    );
    let p = post(&s, None, "/console/language", &[("lang", "ja")]).await;
    assert_eq!(p.status, 403);
    assert_security_headers(&p, "refused POST");

    let p = get(&s, None, "/console/sign-in", None).await;
    assert_eq!(p.status, 200);
    assert_security_headers(&p, "sign-in page");
    assert!(p.body.contains("name=\"token\""));
    assert!(!p.body.contains("<script"), "no script on the page");
    assert!(!p.body.contains("style="), "no inline style");
    let css = get(&s, None, "/console/static/console.css", None).await;
    assert_eq!(css.status, 200);
    assert!(css.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert_security_headers(&css, "stylesheet");
    let p = get(&s, None, "/console/no/such/page", None).await;
    assert_eq!(p.status, 404);
    assert_security_headers(&p, "404");

    // The sign-in form has a CSRF token of its own (there is no session yet): without it,
    // or with another browser's, even a good token is refused and no session starts.
    let p = post(&s, None, "/console/sign-in", &[("token", &token)]).await;
    assert_eq!(p.status, 403);
    assert!(!p.headers.contains_key("set-cookie"));
    let r = browser(&s)
        .post(s.url("/console/sign-in"))
        .header("cookie", "enrolld_console_signin=mine")
        .form(&[("token", token.as_str()), ("csrf", "theirs")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(!r.headers().contains_key("set-cookie"));

    // A good token: a 303 to the dashboard and a cookie with every attribute.
    let (p, cookie) = sign_in(&s, &token, None).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.headers["location"], "/console/");
    assert_security_headers(&p, "sign-in");
    let set = p.headers["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
        assert!(set.split("; ").any(|a| a == attr), "{attr} missing: {set}");
    }
    let cookie = cookie.unwrap();
    assert!(cookie.len() >= 22, "at least 128 bits: {cookie}");
    assert!(
        !set.contains(&token),
        "the token itself never goes to the browser"
    );

    let dash = get(&s, Some(&cookie), "/console/", None).await;
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert_security_headers(&dash, "dashboard");
    assert!(dash.body.contains("<html lang=\"en\">"));
    for href in [
        "/console/people",
        "/console/approvals",
        "/console/certificates",
        "/console/audit",
        "/console/tokens",
        "/console/ca",
    ] {
        assert!(dash.body.contains(&format!("href=\"{href}\"")), "{href}");
        let p = get(&s, Some(&cookie), href, None).await;
        assert_eq!(p.status, 200, "{href}");
        assert_security_headers(&p, href);
    }
    let people = get(&s, Some(&cookie), "/console/people", None).await;
    assert!(people.body.contains("<h1>People &amp; devices</h1>"));
    assert!(!people.body.contains("Not yet available"));

    // The CA page: certificates to download from this listener, the published URLs, the
    // next CRL update.
    let ca = get(&s, Some(&cookie), "/console/ca", None).await;
    assert!(ca.body.contains("href=\"/ca/issuing.crt\""));
    assert!(ca.body.contains("href=\"/ca/root.crt\""));
    let base = s.status_base();
    for path in ["/crl/issuing.crl", "/crl/root.crl", "/ocsp"] {
        assert!(ca.body.contains(&format!("{base}{path}")), "{path}");
    }
    assert!(ca.body.contains("data-key=\"crl.next_update\""));
    assert!(ca.body.contains(" UTC</td>"));
    let dl = s
        .client()
        .get(s.url("/ca/issuing.crt"))
        .send()
        .await
        .unwrap();
    assert_eq!(dl.status(), 200);

    // CSRF: sign-out without the token, or with a wrong one, is refused and changes nothing.
    let token_in_page = csrf(&dash.body);
    let p = post(&s, Some(&cookie), "/console/sign-out", &[]).await;
    assert_eq!(p.status, 403);
    assert_security_headers(&p, "CSRF refusal");
    let p = post(&s, Some(&cookie), "/console/sign-out", &[("csrf", "wrong")]).await;
    assert_eq!(p.status, 403);
    let p = post(
        &s,
        Some(&cookie),
        "/console/language",
        &[("csrf", &format!("{token_in_page}x")), ("lang", "ja")],
    )
    .await;
    assert_eq!(p.status, 403);
    let still = get(&s, Some(&cookie), "/console/", None).await;
    assert_eq!(still.status, 200, "the session survived the refused POSTs");
    assert!(
        still.body.contains("<html lang=\"en\">"),
        "the language did not change"
    );
    // Another session's CSRF token is not this session's.
    let other = signed_in(&s, &token).await;
    let other_csrf = csrf(&get(&s, Some(&other), "/console/", None).await.body);
    let p = post(
        &s,
        Some(&cookie),
        "/console/sign-out",
        &[("csrf", &other_csrf)],
    )
    .await;
    assert_eq!(p.status, 403);

    // Sign-out with the token ends the session and clears the cookie.
    let p = post(
        &s,
        Some(&cookie),
        "/console/sign-out",
        &[("csrf", &token_in_page)],
    )
    .await;
    assert_eq!(p.status, 303);
    assert_eq!(p.headers["location"], "/console/sign-in");
    assert!(p.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let p = get(&s, Some(&cookie), "/console/", None).await;
    assert_eq!(p.status, 303);
    let p = post(
        &s,
        Some(&cookie),
        "/console/sign-out",
        &[("csrf", &token_in_page)],
    )
    .await;
    assert_eq!(p.status, 403, "a session ends once");
    assert_eq!(get(&s, Some(&other), "/console/", None).await.status, 200);

    // Audit: two sign-ins and one sign-out, with the token as actor.
    let entries = audit_entries(&s).await;
    let of = |action: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action)
            .map(|e| (e["actor"].as_str().unwrap(), e["target"].as_str().unwrap()))
            .collect::<Vec<_>>()
    };
    let actor = format!("token:{token_id}");
    assert_eq!(
        of("console.sign-in"),
        vec![(actor.as_str(), token_id.as_str()); 2]
    );
    assert_eq!(
        of("console.sign-out"),
        vec![(actor.as_str(), token_id.as_str())]
    );

    // A revoked token ends its sessions.
    let (st, _) = s
        .api(
            reqwest::Method::DELETE,
            &format!("/api/v1/tokens/{token_id}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 204);
    assert_eq!(get(&s, Some(&other), "/console/", None).await.status, 303);
}

#[tokio::test]
async fn wrong_tokens_are_refused_and_throttled_after_five_failures() {
    let s = Server::start("").await;
    let (token, token_id) = token_with(&s, "ops", &["read"]).await;
    let (other, _) = token_with(&s, "other", &["read"]).await;

    let (p, cookie) = sign_in(&s, "no-dot-here", None).await;
    assert_eq!(p.status, 401);
    assert!(cookie.is_none());
    assert_security_headers(&p, "refused sign-in");
    assert!(p.body.contains("The token was not accepted."));

    let wrong = format!("{token_id}.wrong-secret");
    for i in 0..5 {
        let (p, cookie) = sign_in(&s, &wrong, None).await;
        assert_eq!(p.status, 401, "failure {i}");
        assert!(cookie.is_none());
    }
    // Backing off: even the right secret is refused for this token id from this address.
    let (p, cookie) = sign_in(&s, &token, None).await;
    assert_eq!(p.status, 429, "{}", p.body);
    assert!(cookie.is_none());
    assert!(p.headers.contains_key("retry-after"));
    assert!(p.body.contains("Too many failed sign-ins"));
    // Another token is not blocked by failures against this one.
    signed_in(&s, &other).await;
    // No session came of the failures.
    assert!(audit_entries(&s)
        .await
        .iter()
        .all(|e| e["action"] != "console.sign-in" || e["actor"] != format!("token:{token_id}")));
}

#[tokio::test]
async fn sessions_end_after_idle_time_and_absolute_time_on_the_clock() {
    let clock = Arc::new(ManualClock::starting_now());
    let s = Server::start_with_clock("", clock.clone()).await;
    let (token, _) = token_with(&s, "ops", &["read"]).await;

    // Idle: 29 minutes apart is fine, 30 minutes ends it.
    let cookie = signed_in(&s, &token).await;
    clock.advance(29 * 60);
    assert_eq!(get(&s, Some(&cookie), "/console/", None).await.status, 200);
    clock.advance(29 * 60);
    assert_eq!(get(&s, Some(&cookie), "/console/", None).await.status, 200);
    clock.advance(30 * 60);
    let p = get(&s, Some(&cookie), "/console/", None).await;
    assert_eq!(p.status, 303);
    assert_eq!(p.headers["location"], "/console/sign-in?ended=1");
    let notice = get(&s, None, "/console/sign-in?ended=1", None).await;
    assert!(notice.body.contains("Your session has ended"));
    clock.advance(-30 * 60);
    assert_eq!(
        get(&s, Some(&cookie), "/console/", None).await.status,
        303,
        "an ended session stays ended"
    );

    // Absolute: used every 25 minutes, the session still ends 12 hours after sign-in.
    let cookie = signed_in(&s, &token).await;
    let mut elapsed = 0;
    while elapsed + 25 * 60 < 12 * 3600 {
        clock.advance(25 * 60);
        elapsed += 25 * 60;
        assert_eq!(
            get(&s, Some(&cookie), "/console/ca", None).await.status,
            200,
            "after {elapsed} s"
        );
    }
    clock.advance(12 * 3600 - elapsed);
    assert_eq!(
        get(&s, Some(&cookie), "/console/ca", None).await.status,
        303
    );
}

#[tokio::test]
async fn japanese_from_accept_language_and_the_switcher_remembers_the_choice() {
    let s = Server::start("").await;
    let (token, _) = token_with(&s, "ops", &["admin"]).await;

    let p = get(
        &s,
        None,
        "/console/sign-in",
        Some("ja-JP,ja;q=0.9,en;q=0.5"),
    )
    .await;
    assert!(p.body.contains("<html lang=\"ja\">"));
    assert!(p.body.contains("管理トークン"));
    let p = get(&s, None, "/console/sign-in?lang=en", Some("ja")).await;
    assert!(
        p.body.contains("<html lang=\"en\">"),
        "the sign-in page's links choose"
    );
    let (_, bad) = sign_in(&s, "x.y", Some("ja")).await;
    assert!(bad.is_none());

    let (p, cookie) = sign_in(&s, &token, Some("ja,en;q=0.8")).await;
    assert_eq!(p.status, 303);
    let cookie = cookie.unwrap();
    // The session remembers the language: no Accept-Language needed any more.
    let dash = get(&s, Some(&cookie), "/console/", Some("en")).await;
    assert!(dash.body.contains("<html lang=\"ja\">"));
    assert!(dash.body.contains("ダッシュボード"));
    assert!(dash.body.contains("状態別の証明書数"));
    for english in [
        "Dashboard",
        "Sign out",
        "Certificates by status",
        "Language",
    ] {
        assert!(
            !dash.body.contains(english),
            "{english} left in the Japanese page"
        );
    }
    let ca = get(&s, Some(&cookie), "/console/ca", None).await;
    assert!(ca.body.contains("次回の失効リスト更新"));
    assert!(ca.body.contains("日 "), "dates written the Japanese way");

    // Switch to English, back to the page it came from.
    let p = post(
        &s,
        Some(&cookie),
        "/console/language",
        &[
            ("csrf", &csrf(&ca.body)),
            ("lang", "en"),
            ("back", "/console/ca"),
        ],
    )
    .await;
    assert_eq!(p.status, 303);
    assert_eq!(p.headers["location"], "/console/ca");
    let ca = get(&s, Some(&cookie), "/console/ca", Some("ja")).await;
    assert!(ca.body.contains("<html lang=\"en\">"));
    assert!(ca.body.contains("Next CRL update"));
    // An outside address is never a destination.
    let p = post(
        &s,
        Some(&cookie),
        "/console/language",
        &[
            ("csrf", &csrf(&ca.body)),
            ("lang", "ja"),
            ("back", "//evil.example/"),
        ],
    )
    .await;
    assert_eq!(p.headers["location"], "/console/");
    assert!(get(&s, Some(&cookie), "/console/", None)
        .await
        .body
        .contains("<html lang=\"ja\">"));
}

async fn est_enroll(s: &Server, user: &str, pass: &str) -> Vec<u8> {
    let key = KeyPair::generate().unwrap();
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&key, None, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    certs_from_pkcs7(&r.text().await.unwrap()).remove(0)
}

#[tokio::test]
async fn the_dashboard_shows_the_figures_of_metrics() {
    let clock = Arc::new(ManualClock::starting_now());
    let s = Server::start_with_clock(PROFILES, clock.clone()).await;
    let mut certs = Vec::new();
    for i in 0..3 {
        let (u, p) = s
            .credential(json!({"common_name": format!("dev{i}.example"), "sans": [format!("dev{i}.example")]}))
            .await;
        certs.push(est_enroll(&s, &u, &p).await);
    }
    let (st, v) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/certificates/{}/revoke", serial_hex(&certs[0])),
            &s.admin_token(),
            Some(json!({"reason": "keyCompromise"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");

    let (token, _) = token_with(&s, "ops", &["read"]).await;
    let cookie = signed_in(&s, &token).await;
    let dash = get(&s, Some(&cookie), "/console/", None).await;
    assert_eq!(dash.status, 200);
    let m = s
        .client()
        .get(s.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    for status in ["valid", "expired", "revoked", "on_hold"] {
        assert_eq!(
            figure(&dash.body, &format!("status.{status}")),
            metric(&m, &format!("enrolld_certificates{{status=\"{status}\"}}")),
            "{status}"
        );
    }
    assert_eq!(figure(&dash.body, "status.valid"), 2);
    assert_eq!(figure(&dash.body, "status.revoked"), 1);
    for window in ["7d", "30d", "90d"] {
        assert_eq!(
            figure(&dash.body, &format!("expiring.{window}")),
            metric(
                &m,
                &format!("enrolld_certificates_expiring{{within=\"{window}\"}}")
            ),
            "{window}"
        );
    }
    assert_eq!(figure(&dash.body, "expiring.30d"), 2, "20-day certificates");
    assert_eq!(
        figure(&dash.body, "approvals.pending"),
        metric(&m, "enrolld_approvals_pending")
    );
    let issued: u64 = m
        .lines()
        .filter(|l| {
            l.starts_with("enrolld_certificates_issued_total{channel=\"est-simpleenroll\",")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(issued, 3);
    assert_eq!(figure(&dash.body, "issued.est-simpleenroll"), issued);

    // The charts are drawn from the same snapshot: the expiry chart has 13 weekly columns and
    // the two 20-day certificates in the third week; the status chart one bar per status.
    let svgs: Vec<&str> = dash
        .body
        .split("<svg")
        .skip(1)
        .map(|s| s.split("</svg>").next().unwrap())
        .collect();
    assert_eq!(svgs.len(), 3, "three charts");
    assert!(svgs
        .iter()
        .all(|s| s.contains("role=\"img\"") && !s.contains("<script")));
    let values = |svg: &str| -> Vec<u64> {
        svg.split("data-value=\"")
            .skip(1)
            .map(|v| v.split('"').next().unwrap().parse().unwrap())
            .collect()
    };
    let weeks = values(svgs[0]);
    assert_eq!(weeks.len(), 13, "{weeks:?}");
    assert_eq!(weeks.iter().sum::<u64>(), 2);
    assert_eq!(weeks[2], 2, "{weeks:?}");
    let mut statuses = values(svgs[1]);
    statuses.sort();
    assert_eq!(statuses, vec![0, 0, 1, 2]);
}

#[tokio::test]
async fn a_read_token_sees_nothing_that_changes_state_and_names_are_escaped() {
    let s = Server::start("").await;
    let (read_token, _) = token_with(&s, "<script>alert(1)</script>", &["read"]).await;
    let (admin_token, _) = token_with(&s, "ops", &["admin"]).await;

    let cookie = signed_in(&s, &read_token).await;
    for path in [
        "/console/",
        "/console/ca",
        "/console/people",
        "/console/approvals",
        "/console/certificates",
    ] {
        let p = get(&s, Some(&cookie), path, None).await;
        assert_eq!(p.status, 200, "{path}");
        for action in form_actions(&p.body) {
            assert!(
                action == "/console/sign-out" || action == "/console/language",
                "{path}: a read token sees a form posting to {action}"
            );
        }
        assert!(!p.body.contains("class=\"action\""), "{path}");
        assert!(
            !p.body.contains("<script"),
            "{path}: the name was not escaped"
        );
        assert!(
            p.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}"
        );
    }

    // The same page for an admin token offers the actions.
    let cookie = signed_in(&s, &admin_token).await;
    let p = get(&s, Some(&cookie), "/console/", None).await;
    assert_eq!(p.body.matches("class=\"action\"").count(), 3);
}
