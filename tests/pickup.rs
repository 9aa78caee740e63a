//! Pickup links: GET spends nothing, the POST issues once; the PKCS#12 opens with openssl and
//! the passphrase shown once.

mod common;

use common::*;
use serde_json::{json, Value};

async fn person_link(s: &Server, ext: &str, extra: Value) -> String {
    let admin = s.admin_token();
    let r: Value = s
        .client()
        .post(s.url("/api/v1/people"))
        .bearer_auth(&admin)
        .json(&json!({"external_id": ext, "email": format!("{ext}@corp.example"), "display_name": format!("Person {ext}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["subject"]["id"].as_str().unwrap().to_owned();
    let mut body = json!({"kind": "pickup"});
    if let Some(obj) = extra.as_object() {
        for (k, v) in obj {
            body[k] = v.clone();
        }
    }
    let r = s
        .client()
        .post(s.url(&format!("/api/v1/subjects/{id}/credentials")))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    v["url"].as_str().unwrap().to_owned()
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> &'a str {
    let start = s.find(a).unwrap() + a.len();
    &s[start..start + s[start..].find(b).unwrap()]
}

#[tokio::test]
async fn generated_key_pkcs12_opens_with_the_passphrase_and_the_link_works_once() {
    let s = Server::start("").await;
    let url = person_link(&s, "p1", json!({})).await;
    assert!(url.starts_with(&s.url("/pickup/")));
    // Mail scanners prefetch: GETs spend nothing.
    for _ in 0..2 {
        let r = s.client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        assert!(r.text().await.unwrap().contains("Person p1"));
    }
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=p256")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
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
    let pem = String::from_utf8_lossy(&out.stdout);
    assert!(pem.contains("PRIVATE KEY"));
    let certs = enrolld::ca::pem_certs(&pem).unwrap();
    assert!(certs.len() >= 2, "leaf and chain");
    let (_, leaf) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    let san = leaf.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(
        san.general_names,
        vec![x509_parser::extensions::GeneralName::RFC822Name(
            "p1@corp.example"
        )]
    );
    // A wrong passphrase fails.
    let bad = std::process::Command::new("openssl")
        .args(["pkcs12", "-nodes", "-passin", "pass:wrong", "-in"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    // Spent: both GET and POST now answer 404.
    assert_eq!(s.client().get(&url).send().await.unwrap().status(), 404);
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=p256")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The inventory knows the certificate under the person.
    let serial = hex::encode(leaf.raw_serial())
        .trim_start_matches("00")
        .to_owned();
    assert_eq!(s.cert_record(&serial).await["channel"], "pickup");
    s.stop().await;
}

#[tokio::test]
async fn uploaded_csr_gets_the_chain_and_bad_tokens_are_404() {
    let s = Server::start("").await;
    let url = person_link(&s, "p2", json!({})).await;
    let key = rcgen::KeyPair::generate().unwrap();
    let csr_pem = {
        let der = csr(&key, None, &[]);
        enrolld::ca::pem_encode("CERTIFICATE REQUEST", &der)
    };
    let body = format!(
        "action=csr&csr={}",
        csr_pem
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
            .replace('\n', "%0A")
            .replace(' ', "+")
    );
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/pem-certificate-chain"
    );
    let certs = enrolld::ca::pem_certs(&r.text().await.unwrap()).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    assert_eq!(
        leaf.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&key)
    );
    // Used once.
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Tampered or unknown tokens look exactly like spent ones.
    for bad in [
        format!("{url}x"),
        s.url("/pickup/nope"),
        s.url("/pickup/a.b"),
    ] {
        let r = s.client().get(&bad).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    s.stop().await;
}

#[tokio::test]
async fn legacy_pkcs12_for_older_importers() {
    let s = Server::start("").await;
    let url = person_link(&s, "p3", json!({"legacy_p12": true})).await;
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=rsa2048&legacy=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let pass = between(&html, "<code id=\"passphrase\">", "</code>").to_owned();
    let p12 = enrolld::ca::decode_base64_lenient(between(
        &html,
        "data:application/x-pkcs12;base64,",
        "\"",
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.p12");
    std::fs::write(&f, &p12).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["pkcs12", "-legacy", "-info", "-nodes", "-passin"])
        .arg(format!("pass:{pass}"))
        .arg("-in")
        .arg(&f)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("MAC: sha1"), "{text}");
    assert!(text.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{text}");
    // A link without the legacy option refuses it.
    let url = person_link(&s, "p4", json!({})).await;
    let r = s
        .client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=p256&legacy=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}

/// The form decoder works on bytes: a `%` followed by a multi-byte character used to panic the
/// connection task, before any token check. A malformed escape (or an escape that decodes to
/// something other than UTF-8) is a 400 and spends nothing.
#[tokio::test]
async fn malformed_form_escapes_are_400_and_spend_nothing() {
    let s = Server::start("").await;
    let url = person_link(&s, "p-pct", json!({})).await;
    for target in [url.clone(), s.url("/pickup/nope")] {
        for body in [
            "action=csr&csr=%\u{20ac}",
            "action=csr&csr=%a\u{e9}",
            "action=generate&key=%\u{e9}",
            "action=%zzgenerate",
            "action=generate&key=p256%",
            "action=generate&key=p256%4",
            "action=generate&key=%E2%82",
        ] {
            let r = s
                .client()
                .post(&target)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.as_bytes().to_vec())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{body:?}: no answer ({e})"));
            assert_eq!(r.status(), 400, "{target} {body:?}");
        }
    }
    // Nothing was spent: the link still shows its page.
    let r = s.client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

/// The text a reader sees: tags (with their attributes), `<head>` aside from the title, and
/// character references of markup removed.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// Words of visible text that are English prose: runs of ASCII letters that are not a name
/// or a technical token (algorithm names, file formats, the other language's own name). A
/// token with a digit, `@`, `.` or `#` in it (P-256, certificate.p12, `email:` and an address)
/// is technical.
fn english_words(html: &str) -> Vec<String> {
    const TOKENS: &[&str] = &[
        "ECDSA", "RSA", "DES", "PEM", "CSR", "UTC", "PKCS", "English", "macOS", "Windows",
    ];
    visible_text(html)
        .split(|c: char| c.is_whitespace() || (!c.is_ascii() && !c.is_alphanumeric()))
        .flat_map(|w| w.split(|c: char| !c.is_ascii() || "()[],;!?\"'/".contains(c)))
        .map(|w| w.trim_matches(|c: char| "-.:".contains(c)))
        .filter(|w| w.chars().filter(|c| c.is_ascii_alphabetic()).count() >= 2)
        .filter(|w| !w.chars().any(|c| c.is_ascii_digit() || "@.#".contains(c)))
        .filter(|w| !TOKENS.contains(w))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_prose_check_finds_english_and_lets_tokens_through() {
    assert_eq!(
        english_words("<p title=\"Hidden words\">鍵 ECDSA P-256 を作る: Create it</p>"),
        ["Create", "it"]
    );
    assert!(
        english_words("<p>hanako@corp.example (certificate.p12) 2026年 17:00 UTC</p>").is_empty()
    );
}

/// Every `id` of a form control (select, textarea, checkbox) has a `<label for>`.
fn assert_every_field_labelled(html: &str) {
    for tag in ["<select", "<textarea", "<input type=\"checkbox\""] {
        for (i, _) in html.match_indices(tag) {
            let t = &html[i..i + html[i..].find('>').unwrap()];
            let at = t.find(" id=\"").unwrap_or_else(|| panic!("no id: {t}")) + 5;
            let id = t[at..].split('"').next().unwrap();
            assert!(
                html.contains(&format!("<label for=\"{id}\">")),
                "{id} has no label"
            );
        }
    }
}

/// A POST of a form to a pickup URL with `Accept-Language: accept`.
async fn post_form(s: &Server, url: &str, accept: &str, body: String) -> reqwest::Response {
    s.client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept-language", accept)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_japanese_page_has_no_english_prose_and_its_pkcs12_opens() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    let r: Value = s
        .client()
        .post(s.url("/api/v1/people"))
        .bearer_auth(&admin)
        .json(&json!({"external_id": "p-ja", "email": "hanako@corp.example", "display_name": "山田 花子"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["subject"]["id"].as_str().unwrap();
    let (st, link) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &admin,
            Some(json!({"kind": "pickup", "legacy_p12": true})),
        )
        .await;
    assert_eq!(st, 201, "{link}");
    let url = link["url"].as_str().unwrap().to_owned();

    let r = s
        .client()
        .get(&url)
        .header("accept-language", "ja-JP,ja;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-security-policy"],
        "default-src 'none'; form-action 'self'; img-src data:"
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"ja\">"), "{html}");
    assert!(html.contains("山田 花子") && html.contains("hanako@corp.example"));
    assert!(html.contains("証明書の受け取り") && html.contains("鍵の種類"));
    assert_eq!(english_words(&html), Vec::<String>::new(), "{html}");
    assert_every_field_labelled(&html);
    // The link's expiry is written the Japanese way; the switcher offers English.
    let expires = link["expires_at"].as_i64().unwrap();
    assert!(
        html.contains(&enrolld::console::i18n::Lang::Ja.format_time(expires)),
        "{html}"
    );
    assert!(html.contains("href=\"?lang=en\""));
    // Both forms carry the language: the answer comes back in it.
    assert_eq!(html.matches("name=\"lang\" value=\"ja\"").count(), 2);

    // The form's language wins over a browser that prefers English.
    let r = post_form(&s, &url, "en", "lang=ja&action=generate&key=p256".into()).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"ja\">"), "{html}");
    assert!(html.contains("パスフレーズ"));
    assert_eq!(english_words(&html), Vec::<String>::new(), "{html}");
    assert!(html.contains("<a id=\"download\""));
    let pass = between(&html, "<code id=\"passphrase\">", "</code>").to_owned();
    let p12 = enrolld::ca::decode_base64_lenient(between(
        &html,
        "data:application/x-pkcs12;base64,",
        "\"",
    ))
    .unwrap();
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
    let pem = String::from_utf8_lossy(&out.stdout);
    assert!(pem.contains("PRIVATE KEY"));
    let certs = enrolld::ca::pem_certs(&pem).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
    // The certificate's end of validity is shown, in Japanese.
    let end = leaf.validity().not_after.timestamp();
    assert!(
        html.contains(&enrolld::console::i18n::Lang::Ja.format_time(end)),
        "{html}"
    );
    // The used link answers in Japanese too.
    let r = s
        .client()
        .get(&url)
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"ja\">"));
    assert!(html.contains("このリンクは無効です"), "{html}");
    assert_eq!(english_words(&html), Vec::<String>::new(), "{html}");
    s.stop().await;
}

#[tokio::test]
async fn the_language_follows_the_address_then_the_browser_and_errors_are_translated() {
    let s = Server::start("[limits]\nmax_body_bytes = 4096\n").await;
    let url = person_link(&s, "p-lang", json!({})).await;
    let get = |u: String, accept: &'static str| {
        let c = s.client();
        async move {
            let r = c
                .get(&u)
                .header("accept-language", accept)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // No preference for Japanese: English.
    let (st, html) = get(url.clone(), "de, en;q=0.5").await;
    assert_eq!(st, 200);
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("Certificate pickup") && !html.contains("証明書"));
    assert!(html.contains("href=\"?lang=ja\""));
    // The switcher's address wins over the browser, both ways.
    let (_, html) = get(format!("{url}?lang=en"), "ja").await;
    assert!(html.contains("<html lang=\"en\">") && html.contains("Key type"));
    assert_eq!(html.matches("name=\"lang\" value=\"en\"").count(), 2);
    let (_, html) = get(format!("{url}?lang=ja"), "en").await;
    assert!(html.contains("<html lang=\"ja\">") && html.contains("鍵の種類"));
    // An unknown language in the address falls back to the browser's.
    let (_, html) = get(format!("{url}?lang=fr"), "ja").await;
    assert!(html.contains("<html lang=\"ja\">"));

    // Unknown links, in each language.
    let (st, html) = get(s.url("/pickup/nope.nope"), "ja").await;
    assert_eq!(st, 404);
    assert!(html.contains("<html lang=\"ja\">") && html.contains("このリンクは無効です"));
    let (st, html) = get(s.url("/pickup/nope.nope"), "en").await;
    assert_eq!(st, 404);
    assert!(html.contains("This link is not valid"), "{html}");

    // A bad CSR: translated, with a way back to the form in the same language; nothing spent.
    let r = post_form(&s, &url, "en", "lang=ja&action=csr&csr=bm90IGEgQ1NS".into()).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"ja\">"));
    assert!(
        html.contains("証明書要求を受け付けられませんでした"),
        "{html}"
    );
    assert!(html.contains("href=\"?lang=ja\">受け取りページに戻る</a>"));
    assert_eq!(english_words(&html), Vec::<String>::new(), "{html}");
    let r = post_form(&s, &url, "en", "lang=en&action=csr&csr=bm90IGEgQ1NS".into()).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("Back to the pickup page"));
    // An option the link does not offer.
    let r = post_form(&s, &url, "ja", "action=generate&key=p256&legacy=1".into()).await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("このリンクでは選べない項目です"));
    // Too large: the form is not read, so the address and the browser choose.
    let big = format!("action=csr&csr={}", "A".repeat(8192));
    let r = post_form(&s, &format!("{url}?lang=ja"), "en", big).await;
    assert_eq!(r.status(), 400);
    let html = r.text().await.unwrap();
    assert!(html.contains("送信内容が大きすぎます"), "{html}");
    assert_eq!(get(url, "en").await.0, 200, "nothing was spent");
    s.stop().await;
}
