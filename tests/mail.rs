//! Mail through a real SMTP relay (`tests/support/smtpd.py`, Debian's aiosmtpd with STARTTLS
//! on a test certificate): pickup links by mail in the subject's language, with the headers of
//! an automatic mail and a link that gives a PKCS#12 openssl opens; renewal reminders once per
//! threshold as the clock moves, none for revoked certificates; a relay that is down and then
//! answers 451 delays mail and loses none; a 550 recipient is given up with an audit entry.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::smtp::{header, html_part, text_part, TestRelay};
use common::*;
use enrolld::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};

fn between<'a>(s: &'a str, a: &str, b: &str) -> &'a str {
    let start = s.find(a).unwrap_or_else(|| panic!("{a:?} not in {s}")) + a.len();
    &s[start..start + s[start..].find(b).unwrap()]
}

/// Registers a person; its id.
async fn person(s: &Server, ext: &str, email: &str, lang: Option<&str>) -> String {
    let mut body =
        json!({"external_id": ext, "display_name": format!("Person {ext}"), "email": email});
    if let Some(l) = lang {
        body["language"] = json!(l);
    }
    let (st, v) = s
        .api(Method::POST, "/api/v1/people", &s.admin_token(), Some(body))
        .await;
    assert_eq!(st, 201, "{v}");
    v["subject"]["id"].as_str().unwrap().to_owned()
}

/// A pickup link sent by mail; the API's answer.
async fn mail_link(s: &Server, id: &str) -> Value {
    let (st, v) = s
        .api(
            Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &s.admin_token(),
            Some(json!({"kind": "pickup", "deliver": "email"})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    v
}

/// Follows a pickup link: the PKCS#12 made on the server opens with the passphrase shown.
async fn collect(s: &Server, url: &str) -> String {
    assert_eq!(s.client().get(url).send().await.unwrap().status(), 200);
    let html = s
        .client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=p256")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pass = between(&html, "<code id=\"passphrase\">", "</code>").to_owned();
    let b64 = between(&html, "data:application/x-pkcs12;base64,", "\"");
    let p12 = enrolld::ca::decode_base64_lenient(b64).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.p12");
    std::fs::write(&f, &p12).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkcs12", "-nodes", "-passin"])
        .arg(format!("pass:{pass}"))
        .arg("-in")
        .arg(&f)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(pem.contains("PRIVATE KEY"));
    pem
}

/// The pickup URL in a mail's text.
fn link_in(text: &str) -> String {
    let at = text.find("https://").expect("a link in the mail");
    text[at..].split_whitespace().next().unwrap().to_owned()
}

async fn metrics(s: &Server) -> String {
    s.client()
        .get(s.url("/metrics"))
        .bearer_auth(s.admin_token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits (up to 10 s) until `/metrics` holds `line`; the exposition then.
async fn metrics_reach(s: &Server, line: &str, what: &str) -> String {
    for _ in 0..100 {
        let m = metrics(s).await;
        if m.contains(line) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {line} never showed in\n{}", metrics(s).await);
}

/// The end of validity of the certificate `serial`, unix seconds, as the admin API shows it.
async fn not_after(s: &Server, serial: &str) -> i64 {
    let rec = s.cert_record(serial).await;
    rec["not_after"].as_i64().unwrap_or_else(|| {
        time::OffsetDateTime::parse(
            rec["not_after"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pickup_mail_arrives_in_the_subjects_language_and_its_link_gives_a_pkcs12() {
    let relay = TestRelay::start("starttls");
    let s = Server::start(&relay.config("")).await;
    let ja = person(&s, "J-1", "hanako@corp.example", Some("ja")).await;
    let en = person(&s, "E-1", "ann@corp.example", None).await;

    let answer = mail_link(&s, &ja).await;
    assert_eq!(answer["deliver"], "email");
    assert_eq!(answer["to"], "hanako@corp.example");
    assert!(
        !answer.to_string().contains("/pickup/"),
        "the API never shows the link: {answer}"
    );
    assert!(answer["url"].is_null());

    let got = relay.wait_for(1, 20).await;
    assert_eq!(got.len(), 1, "one mail");
    let m = &got[0];
    assert_eq!(m.meta["tls"], true, "sent under STARTTLS");
    assert_eq!(m.meta["rcpt_tos"], json!(["hanako@corp.example"]));
    assert_eq!(m.meta["mail_from"], "pki@corp.example");
    assert_eq!(
        header(&m.raw, "From").unwrap(),
        "\"Corp PKI\" <pki@corp.example>"
    );
    assert_eq!(header(&m.raw, "Reply-To").unwrap(), "helpdesk@corp.example");
    assert_eq!(header(&m.raw, "To").unwrap(), "hanako@corp.example");
    assert_eq!(header(&m.raw, "Auto-Submitted").unwrap(), "auto-generated");
    assert_eq!(
        header(&m.raw, "Message-ID").unwrap(),
        format!("<{}@corp.example>", answer["mail"].as_str().unwrap())
    );
    assert!(header(&m.raw, "Date").is_some());
    let subject = header(&m.raw, "Subject").unwrap();
    assert!(
        subject.is_ascii() && subject.contains("=?utf-8?b?"),
        "an RFC 2047-encoded Japanese subject: {subject}"
    );
    assert!(header(&m.raw, "Content-Type")
        .unwrap()
        .starts_with("multipart/alternative"));
    let text = text_part(&m.raw);
    assert!(text.contains("Person J-1 様"), "{text}");
    assert!(text.contains("証明書"), "{text}");
    let html = html_part(&m.raw);
    assert!(html.contains("lang=\"ja\""), "{html}");
    assert!(!html.contains("<img"), "no tracking images");
    let url = link_in(&text);
    assert!(url.starts_with(&s.url("/pickup/")), "{url}");
    assert!(
        html.contains(&format!("href=\"{url}\"")),
        "the HTML carries the same link"
    );

    let pem = collect(&s, &url).await;
    let certs = enrolld::ca::pem_certs(&pem).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    let san = format!(
        "{:?}",
        leaf.subject_alternative_name().unwrap().unwrap().value
    );
    assert!(san.contains("hanako@corp.example"), "{san}");

    // A subject without a language gets the configured default, English.
    mail_link(&s, &en).await;
    let got = relay.wait_for(2, 20).await;
    assert_eq!(got.len(), 2);
    let text = text_part(&got[1].raw);
    assert!(text.starts_with("Hello Person E-1,"), "{text}");
    assert!(header(&got[1].raw, "Subject")
        .unwrap()
        .contains("your certificate is ready"));

    // The audit log says it was sent; the outbox counts it.
    let (_, audit) = s
        .api(Method::GET, "/api/v1/audit", &s.admin_token(), None)
        .await;
    let sent = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "mail.sent" && e["actor"] == "system:mail")
        .count();
    assert_eq!(sent, 2, "{audit}");
    assert!(
        !audit.to_string().contains("/pickup/"),
        "no link in the audit log"
    );
    let m = metrics(&s).await;
    assert!(m.contains("enrolld_mail_outbox{status=\"sent\"} 2"), "{m}");
    assert!(
        m.contains("enrolld_mail_outbox{status=\"queued\"} 0"),
        "{m}"
    );
    assert!(
        m.contains("enrolld_mail_attempts_total{outcome=\"sent\"} 2"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mail_or_an_address_a_mailed_link_is_refused_and_nothing_is_made() {
    let s = Server::start("").await;
    let id = person(&s, "N-1", "n@corp.example", None).await;
    let (st, v) = s
        .api(
            Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &s.admin_token(),
            Some(json!({"kind": "pickup", "deliver": "email"})),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("mail is not configured"),
        "{v}"
    );

    let relay = TestRelay::start("starttls");
    let s = Server::start(&relay.config("")).await;
    let (st, dev) = s
        .api(
            Method::POST,
            "/api/v1/devices",
            &s.admin_token(),
            Some(json!({"external_id": "D-1", "name": "laptop"})),
        )
        .await;
    assert_eq!(st, 201);
    let dev = dev["subject"]["id"].as_str().unwrap();
    let (st, v) = s
        .api(
            Method::POST,
            &format!("/api/v1/subjects/{dev}/credentials"),
            &s.admin_token(),
            Some(json!({"kind": "pickup", "deliver": "email"})),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("no e-mail address"),
        "{v}"
    );
    let (st, v) = s
        .api(
            Method::POST,
            &format!("/api/v1/subjects/{dev}/credentials"),
            &s.admin_token(),
            Some(json!({"kind": "pickup", "deliver": "pigeon"})),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    let (_, subj) = s
        .api(
            Method::GET,
            &format!("/api/v1/subjects/{dev}"),
            &s.admin_token(),
            None,
        )
        .await;
    assert!(
        !subj.to_string().contains("pickup"),
        "no link was made: {subj}"
    );
    let m = metrics(&s).await;
    assert!(
        m.contains("enrolld_mail_outbox{status=\"queued\"} 0"),
        "{m}"
    );
}

/// Waits until the relay holds `n` mails, then a little longer to see that no more come.
async fn exactly(relay: &TestRelay, n: usize) -> Vec<common::smtp::Received> {
    let got = relay.wait_for(n, 20).await;
    assert!(got.len() >= n, "expected {n} mails, got {}", got.len());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let got = relay.received();
    assert_eq!(got.len(), n, "no more than {n} mails");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_arrive_once_per_threshold_as_the_clock_moves_and_not_for_revoked_or_replaced_certificates(
) {
    let relay = TestRelay::start("starttls");
    let clock = Arc::new(ManualClock::starting_now());
    let s =
        Server::start_with_clock(&relay.config("reminder_scan_secs = 1\n"), clock.clone()).await;
    let keep = person(&s, "R-1", "keep@corp.example", None).await;
    let gone = person(&s, "R-2", "gone@corp.example", Some("ja")).await;
    let twice = person(&s, "R-3", "twice@corp.example", None).await;
    // R-1 keeps one certificate, R-2's is revoked, R-3's first is replaced by a second.
    let mut serials = Vec::new();
    for id in [&keep, &gone, &twice, &twice] {
        let (st, v) = s
            .api(
                Method::POST,
                &format!("/api/v1/subjects/{id}/credentials"),
                &s.admin_token(),
                Some(json!({"kind": "pickup"})),
            )
            .await;
        assert_eq!(st, 201, "{v}");
        let pem = collect(&s, v["url"].as_str().unwrap()).await;
        let der = enrolld::ca::pem_certs(&pem).unwrap().remove(0);
        serials.push(serial_hex(&der));
        // The replacement must end later than the certificate it replaces.
        clock.advance(2);
    }
    let (st, v) = s
        .api(
            Method::POST,
            &format!("/api/v1/certificates/{}/revoke", serials[1]),
            &s.admin_token(),
            Some(json!({"reason": "keyCompromise"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let not_after = not_after(&s, &serials[0]).await;

    // Nothing is due yet.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(relay.received().is_empty());

    let mut seen = 0;
    for days in [30, 7, 1] {
        clock.set(not_after - days * 86_400 + 60);
        seen += 2;
        let got = exactly(&relay, seen).await;
        let mut new: Vec<(String, String)> = got[seen - 2..]
            .iter()
            .map(|m| {
                (
                    m.meta["rcpt_tos"][0].as_str().unwrap().to_owned(),
                    text_part(&m.raw),
                )
            })
            .collect();
        new.sort();
        let want = [
            ("keep@corp.example", &serials[0]),
            ("twice@corp.example", &serials[3]),
        ];
        for ((to, text), (want_to, serial)) in new.iter().zip(want) {
            assert_eq!(
                to, want_to,
                "not for the revoked or the replaced certificate"
            );
            assert!(text.contains(&format!("in {days} days")), "{days}: {text}");
            assert!(text.contains(serial.as_str()), "{text}");
            assert!(
                !text.contains(&serials[2]),
                "the replaced certificate: {text}"
            );
            // A person's certificate from a pickup link: the reminder carries a fresh link.
            let url = link_in(text);
            assert!(url.contains("/pickup/"), "{url}");
            assert_eq!(
                s.client().get(&url).send().await.unwrap().status(),
                200,
                "the fresh link works"
            );
        }
        // Half a day later, still within the same threshold: nothing more.
        clock.advance(86_400 / 2);
        exactly(&relay, seen).await;
    }
    // Expired: no more reminders.
    clock.set(not_after + 86_400);
    exactly(&relay, 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_down_then_answering_451_delays_mail_and_loses_none() {
    let mut relay = TestRelay::start("starttls");
    relay.stop();
    let clock = Arc::new(ManualClock::starting_now());
    let s = Server::start_with_clock(&relay.config(""), clock.clone()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = person(&s, &format!("Q-{i}"), &format!("q{i}@corp.example"), None).await;
        ids.push(
            mail_link(&s, &id).await["mail"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    // Connection refused: every mail fails its first attempt and waits.
    let m = metrics_reach(
        &s,
        "enrolld_mail_attempts_total{outcome=\"temporary_failure\"} 3",
        "no failed attempts seen",
    )
    .await;
    assert!(
        m.contains("enrolld_mail_outbox{status=\"queued\"} 3"),
        "{m}"
    );
    // The relay is back but answers 451: the retry (after 60 s of the clock) fails again.
    relay.restart();
    relay.tempfail(true);
    clock.advance(61);
    metrics_reach(
        &s,
        "enrolld_mail_attempts_total{outcome=\"temporary_failure\"} 6",
        "no 451 seen",
    )
    .await;
    assert!(relay.received().is_empty());
    // Before the doubled wait (120 s) nothing is tried.
    clock.advance(60);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(metrics(&s)
        .await
        .contains("enrolld_mail_attempts_total{outcome=\"temporary_failure\"} 6"));
    // Then the relay takes mail: all three arrive, once each.
    relay.tempfail(false);
    clock.advance(61);
    let got = exactly(&relay, 3).await;
    let mut message_ids: Vec<String> = got
        .iter()
        .map(|m| header(&m.raw, "Message-ID").unwrap())
        .collect();
    message_ids.sort();
    let mut want: Vec<String> = ids.iter().map(|i| format!("<{i}@corp.example>")).collect();
    want.sort();
    assert_eq!(message_ids, want);
    let m = metrics(&s).await;
    assert!(m.contains("enrolld_mail_outbox{status=\"sent\"} 3"), "{m}");
    assert!(
        m.contains("enrolld_mail_outbox{status=\"queued\"} 0"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_refused_with_550_is_given_up_with_an_audit_entry() {
    let relay = TestRelay::start("starttls");
    relay.reject("nobody@corp.example");
    let s = Server::start(&relay.config("")).await;
    let bad = person(&s, "X-1", "nobody@corp.example", None).await;
    let good = person(&s, "X-2", "somebody@corp.example", None).await;
    let failed = mail_link(&s, &bad).await["mail"]
        .as_str()
        .unwrap()
        .to_owned();
    mail_link(&s, &good).await;
    let got = exactly(&relay, 1).await;
    assert_eq!(got[0].meta["rcpt_tos"], json!(["somebody@corp.example"]));
    let (_, audit) = s
        .api(Method::GET, "/api/v1/audit", &s.admin_token(), None)
        .await;
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "mail.failed")
        .unwrap_or_else(|| panic!("no mail.failed entry: {audit}"))
        .clone();
    assert_eq!(entry["target"], failed.as_str());
    assert_eq!(entry["outcome"], "error");
    assert!(entry["detail"].as_str().unwrap().contains("550"), "{entry}");
    let m = metrics(&s).await;
    assert!(
        m.contains("enrolld_mail_outbox{status=\"failed\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("enrolld_mail_attempts_total{outcome=\"permanent_failure\"} 1"),
        "{m}"
    );
    // The console shows it too: the dashboard counts it, the audit page names the reason.
    let cookie = common::console::signed_in(&s, &s.admin_token(), "en").await;
    let dash = common::console::get(&s, &cookie, "/console/").await;
    assert!(
        dash.body.contains("<td data-key=\"mail.failed\">1</td>"),
        "{}",
        dash.body
    );
    assert!(
        dash.body.contains("<td data-key=\"mail.queued\">0</td>"),
        "{}",
        dash.body
    );
    let log = common::console::get(&s, &cookie, "/console/audit?action=mail.failed").await;
    assert!(log.body.contains("550"), "{}", log.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_sends_a_pickup_link_by_mail_and_shows_only_where_it_went() {
    use common::console::{csrf, get, post, signed_in};
    let relay = TestRelay::start("starttls");
    let s = Server::start(&relay.config("")).await;
    let id = person(&s, "C-1", "carol@corp.example", Some("ja")).await;
    let cookie = signed_in(&s, &s.admin_token(), "en").await;
    let page = get(&s, &cookie, &format!("/console/people/{id}")).await;
    assert!(
        page.body.contains("id=\"cred-pickup-mail\""),
        "{}",
        page.body
    );
    let sent = post(
        &s,
        &cookie,
        &format!("/console/people/{id}/credentials"),
        &[
            ("csrf", &csrf(&page.body)),
            ("kind", "pickup"),
            ("deliver", "email"),
        ],
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body.contains("carol@corp.example"), "{}", sent.body);
    assert!(
        sent.body.contains("only the recipient sees it"),
        "{}",
        sent.body
    );
    assert!(
        !sent.body.contains("/pickup/"),
        "the page never shows the link"
    );
    let got = relay.wait_for(1, 20).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].meta["rcpt_tos"], json!(["carol@corp.example"]));
    assert!(text_part(&got[0].raw).contains("/pickup/"));

    // Without mail, the button is not offered.
    let plain = Server::start("").await;
    let id = person(&plain, "C-2", "dan@corp.example", None).await;
    let cookie = signed_in(&plain, &plain.admin_token(), "en").await;
    let page = get(&plain, &cookie, &format!("/console/people/{id}")).await;
    assert!(!page.body.contains("cred-pickup-mail"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devices_reminder_goes_to_its_owner_else_to_operations_without_a_link() {
    let relay = TestRelay::start("starttls");
    let clock = Arc::new(ManualClock::starting_now());
    let s = Server::start_with_clock(
        &relay.config("reminder_scan_secs = 1\noperations_address = \"it-ops@corp.example\"\n"),
        clock.clone(),
    )
    .await;
    person(&s, "O-1", "owner@corp.example", Some("ja")).await;
    let mut ids = Vec::new();
    for (ext, owner) in [("DEV-1", Some("O-1")), ("DEV-2", None)] {
        let mut body = json!({"external_id": ext, "name": format!("laptop {ext}")});
        if let Some(o) = owner {
            body["owner"] = json!(o);
        }
        let (st, v) = s
            .api(
                Method::POST,
                "/api/v1/devices",
                &s.admin_token(),
                Some(body),
            )
            .await;
        assert_eq!(st, 201, "{v}");
        ids.push(v["subject"]["id"].as_str().unwrap().to_owned());
    }
    let owned = s.enrolled(&ids[0]).await;
    let ownerless = s.enrolled(&ids[1]).await;
    let not_after = not_after(&s, &owned).await;
    clock.set(not_after - 7 * 86_400 + 60);
    let got = exactly(&relay, 2).await;
    let mut by_to: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            (
                m.meta["rcpt_tos"][0].as_str().unwrap().to_owned(),
                text_part(&m.raw),
            )
        })
        .collect();
    by_to.sort();
    assert_eq!(by_to[0].0, "it-ops@corp.example");
    assert!(by_to[0].1.contains(&ownerless), "{}", by_to[0].1);
    assert!(
        by_to[0].1.contains("in 7 days"),
        "English, the default: {}",
        by_to[0].1
    );
    assert_eq!(by_to[1].0, "owner@corp.example");
    assert!(by_to[1].1.contains(&owned), "{}", by_to[1].1);
    assert!(
        by_to[1].1.contains("あと7日"),
        "the owner's language: {}",
        by_to[1].1
    );
    for (_, text) in &by_to {
        assert!(
            !text.contains("/pickup/"),
            "a device renews itself: no link"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_auth_reads_the_password_file_and_implicit_tls_works() {
    let relay = TestRelay::start_with_auth("starttls", Some(("pki", "s3cret-relay-pass")));
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    std::fs::write(&good, "s3cret-relay-pass\n").unwrap();
    std::fs::set_permissions(&good, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let s = Server::start(&relay.config(&format!(
        "username = \"pki\"\npassword_file = {:?}\n",
        good.to_str().unwrap()
    )))
    .await;
    let id = person(&s, "A-1", "auth@corp.example", None).await;
    mail_link(&s, &id).await;
    let got = exactly(&relay, 1).await;
    assert_eq!(got[0].meta["tls"], true);

    // Without the credentials the same relay refuses the mail for good (530).
    let s2 = Server::start(&relay.config("")).await;
    let id = person(&s2, "A-2", "auth2@corp.example", None).await;
    mail_link(&s2, &id).await;
    metrics_reach(
        &s2,
        "enrolld_mail_outbox{status=\"failed\"} 1",
        "not given up",
    )
    .await;
    assert_eq!(relay.received().len(), 1, "nothing more arrived");

    // Implicit TLS (RFC 8314) to a relay that speaks TLS from the first byte.
    let implicit = TestRelay::start("implicit");
    let s3 = Server::start(&implicit.config("")).await;
    let id = person(&s3, "A-3", "tls@corp.example", None).await;
    mail_link(&s3, &id).await;
    let got = exactly(&implicit, 1).await;
    assert_eq!(got[0].meta["rcpt_tos"], json!(["tls@corp.example"]));
}
