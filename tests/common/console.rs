//! The console over plain HTTPS with a hand-kept cookie: a browser that shows each redirect,
//! sign-in through the sign-in form's CSRF token, and reading pages and their forms.

use reqwest::header::HeaderMap;
use serde_json::json;

use super::Server;

/// A client that does not follow redirects (the tests look at each 303).
pub fn browser(s: &Server) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(s.rustls_config())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// One answer: status, headers, body.
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

pub async fn read(r: reqwest::Response) -> Page {
    Page {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

/// A GET with the session cookie `cookie`.
pub async fn get(s: &Server, cookie: &str, path: &str) -> Page {
    let r = browser(s)
        .get(s.url(path))
        .header("cookie", format!("enrolld_console={cookie}"));
    read(r.send().await.unwrap()).await
}

/// A form POST with the session cookie `cookie`.
pub async fn post(s: &Server, cookie: &str, path: &str, form: &[(&str, &str)]) -> Page {
    let r = browser(s)
        .post(s.url(path))
        .header("cookie", format!("enrolld_console={cookie}"))
        .form(form);
    read(r.send().await.unwrap()).await
}

/// Signs in with `token` (and `Accept-Language: lang`); the answer and the session cookie's
/// value, if one was set.
pub async fn sign_in(s: &Server, token: &str, lang: Option<&str>) -> (Page, Option<String>) {
    // The sign-in form's CSRF token, with its cookie.
    let mut r = browser(s).get(s.url("/console/sign-in"));
    if let Some(l) = lang {
        r = r.header("accept-language", l);
    }
    let form = read(r.send().await.unwrap()).await;
    let set = form.headers["set-cookie"].to_str().unwrap();
    let pre = set
        .strip_prefix("enrolld_console_signin=")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert_eq!(csrf(&form.body), pre);
    let mut r = browser(s)
        .post(s.url("/console/sign-in"))
        .header("cookie", format!("enrolld_console_signin={pre}"))
        .form(&[("token", token), ("csrf", pre)]);
    if let Some(l) = lang {
        r = r.header("accept-language", l);
    }
    let p = read(r.send().await.unwrap()).await;
    let cookie = p
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("enrolld_console="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .filter(|v| !v.is_empty());
    (p, cookie)
}

/// Signs in with `token` and `Accept-Language: lang`; the session cookie's value.
pub async fn signed_in(s: &Server, token: &str, lang: &str) -> String {
    let (p, cookie) = sign_in(s, token, Some(lang)).await;
    assert_eq!(p.status, 303, "{}", p.body);
    cookie.expect("a session cookie")
}

/// The CSRF token in a page's forms.
pub fn csrf(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    body[at..].split('"').next().unwrap().to_owned()
}

/// The `action` of every POST form of a page.
pub fn post_actions(body: &str) -> Vec<String> {
    body.match_indices("<form")
        .map(|(i, _)| &body[i..i + body[i..].find('>').unwrap()])
        .filter(|tag| tag.contains("method=\"post\""))
        .map(|tag| {
            let a = tag.find("action=\"").unwrap() + 8;
            tag[a..].split('"').next().unwrap().to_owned()
        })
        .collect()
}

/// A new admin token named `name` with `scopes`: (the token, its id).
pub async fn token_with(s: &Server, name: &str, scopes: &[&str]) -> (String, String) {
    let (st, t) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/tokens",
            &s.admin_token(),
            Some(json!({"name": name, "scopes": scopes})),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    (
        t["token"].as_str().unwrap().to_owned(),
        t["id"].as_str().unwrap().to_owned(),
    )
}
