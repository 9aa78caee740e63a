//! The web console's routes under `/console/` (`crate::console` renders; this file speaks
//! HTTP): the session cookie, CSRF checks on every POST, the security headers of every
//! response, the embedded stylesheet.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Extension, Router};

mod admin_pages;

use super::admin::blocking;
use super::errors;
use super::pickup::parse_form;
use super::{AppState, ConnInfo};
use crate::console::i18n::Lang;
use crate::console::pages::{self, SignInNotice};
use crate::console::session::{
    new_sign_in_token, same_secret, Session, ABSOLUTE_SECS, COOKIE, SIGN_IN_COOKIE,
};
use crate::error::Error;
use crate::registry::tokens::Scope;

/// The console's Content-Security-Policy: nothing but the console's own stylesheet and
/// images, no script at all, forms post only to the console, never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes, each answer carrying the security headers.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { see_other("/console/") }))
        .route("/console/", get(dashboard))
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/language", post(language))
        .route("/console/ca", get(ca))
        .merge(super::console_manage::routes())
        .merge(super::console_people::routes())
        .merge(super::console_register::routes())
        .merge(super::console_import::routes())
        .route("/console/audit", get(admin_pages::audit))
        .route("/console/audit/verify", get(admin_pages::audit_verify))
        .route(
            "/console/tokens",
            get(admin_pages::tokens).post(admin_pages::create_token),
        )
        .route("/console/tokens/revoke", post(admin_pages::revoke_token))
        .route("/console/static/console.css", get(css))
        .route("/console/static/progress.js", get(progress_js))
        .route("/console/{*rest}", any(not_found))
        .layer(middleware::from_fn(security_headers))
}

/// Adds the headers every console response carries, whatever produced it.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    resp
}

/// A 303 to `location`.
pub(super) fn see_other(location: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response()
}

/// An HTML page with `status`.
pub(super) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// An error page for `e` in `lang`, with the error table's status, counted by its kind.
pub(super) fn error_page(e: &Error, lang: Lang, session: Option<&Session>) -> Response {
    let status = errors::status_of(e);
    // Refusals of who is asking say no more; a request that cannot be carried out says why.
    let (message, detail) = match status {
        StatusCode::NOT_FOUND => ("error.not_found", None),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ("error.forbidden", None),
        StatusCode::CONFLICT => ("error.conflict", Some(e.public_message())),
        StatusCode::PAYLOAD_TOO_LARGE => ("error.too_large", None),
        StatusCode::TOO_MANY_REQUESTS => ("error.rate_limited", None),
        s if s.is_server_error() => ("error.internal", None),
        _ => ("error.bad_request", Some(e.public_message())),
    };
    let mut resp = html(
        status,
        pages::error_with_detail(lang, session, message, detail),
    );
    errors::mark(e, &mut resp);
    resp
}

/// The value of the request's cookie `name`, if any.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The session id the request's cookie carries, if any.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
}

/// The language a browser asks for.
fn accept_language(headers: &HeaderMap) -> Lang {
    Lang::from_accept_language(
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// The client's address (the throttle's key and the audit detail).
fn client_ip(conn: &Option<Extension<Arc<ConnInfo>>>) -> IpAddr {
    conn.as_ref()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.peer.ip())
}

/// What a page handler gets: the session (with its cookie's id), or the answer to give
/// instead — to sign-in (the notice says a session ended if a cookie came), or an error.
pub(super) fn require_session(
    s: &AppState,
    headers: &HeaderMap,
) -> Result<(String, Session), Box<Response>> {
    let Some(id) = session_cookie(headers) else {
        return Err(Box::new(see_other("/console/sign-in")));
    };
    match s.console.session(&id) {
        Ok(Some(session)) => Ok((id, session)),
        Ok(None) => Err(Box::new(see_other("/console/sign-in?ended=1"))),
        Err(e) => Err(Box::new(error_page(&e, accept_language(headers), None))),
    }
}

/// Like [`require_session`] for a POST: no session is a 403 (a form cannot be replayed
/// after sign-in), and the form's `csrf` field must be the session's token (403 otherwise).
pub(super) fn require_csrf(
    s: &AppState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<(String, Session), Box<Response>> {
    let lang = accept_language(headers);
    let refused = |lang, session: Option<&Session>| {
        Box::new(error_page(
            &Error::NotPermitted("no session or a wrong CSRF token".into()),
            lang,
            session,
        ))
    };
    let Some(id) = session_cookie(headers) else {
        return Err(refused(lang, None));
    };
    let session = match s.console.session(&id) {
        Ok(Some(session)) => session,
        Ok(None) => return Err(refused(lang, None)),
        Err(e) => return Err(Box::new(error_page(&e, lang, None))),
    };
    if !session.csrf_ok(field(form, "csrf")) {
        return Err(refused(session.lang, Some(&session)));
    }
    Ok((id, session))
}

/// The first value of the form field `name`.
pub(super) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The query of `GET /console/sign-in`.
#[derive(serde::Deserialize)]
struct SignInQuery {
    /// A language chosen with the links of the sign-in page.
    lang: Option<String>,
    /// Set when a session ended and the browser was sent here.
    ended: Option<String>,
}

/// `GET /console/sign-in`.
async fn sign_in_page(
    headers: HeaderMap,
    q: Result<Query<SignInQuery>, QueryRejection>,
) -> Response {
    let (lang, ended) = match q {
        Ok(Query(q)) => (
            q.lang.as_deref().and_then(Lang::from_code),
            q.ended.is_some(),
        ),
        Err(_) => (None, false),
    };
    let lang = lang.unwrap_or_else(|| accept_language(&headers));
    let notice = if ended {
        SignInNotice::Expired
    } else {
        SignInNotice::None
    };
    let token = match new_sign_in_token() {
        Ok(t) => t,
        Err(e) => return error_page(&e, lang, None),
    };
    let mut resp = html(StatusCode::OK, pages::sign_in(lang, notice, &token));
    let c = format!(
        "{SIGN_IN_COOKIE}={token}; HttpOnly; Secure; SameSite=Strict; Path=/console/sign-in"
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `POST /console/sign-in` with `token`, `csrf` (the sign-in cookie's value) and the page's
/// `lang`: a session cookie and a 303 to the dashboard; the page again with 401, or 429 while
/// failures back off; 403 without the sign-in cookie's token.
async fn sign_in(
    State(s): State<AppState>,
    conn: Option<Extension<Arc<ConnInfo>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ip = client_ip(&conn);
    let fallback = accept_language(&headers);
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let lang = field(&form, "lang")
            .and_then(Lang::from_code)
            .unwrap_or(fallback);
        if !same_secret(field(&form, "csrf").unwrap_or(""), &expected) {
            return Err(Error::NotPermitted(
                "no session or a wrong CSRF token".into(),
            ));
        }
        let token = field(&form, "token").unwrap_or("");
        Ok::<_, Error>((lang, expected, s.console.sign_in(token, ip, lang)))
    })
    .await;
    match r {
        Err(e) => error_page(&e, fallback, None),
        Ok((_, _, Ok((id, _)))) => {
            let mut resp = see_other("/console/");
            let cookie = format!(
                "{COOKIE}={id}; HttpOnly; Secure; SameSite=Strict; Path=/console; Max-Age={ABSOLUTE_SECS}"
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        Ok((lang, csrf, Err(e))) => {
            let status = errors::status_of(&e);
            let notice = match e {
                Error::RateLimited(..) => SignInNotice::Throttled,
                Error::Internal(_) => return error_page(&e, lang, None),
                _ => SignInNotice::Failed,
            };
            let status = if notice == SignInNotice::Failed {
                StatusCode::UNAUTHORIZED
            } else {
                status
            };
            let mut resp = html(status, pages::sign_in(lang, notice, &csrf));
            if let Error::RateLimited(_, secs) = e {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            errors::mark(&e, &mut resp);
            resp
        }
    }
}

/// `POST /console/sign-out`: ends the session (CSRF-checked) and clears the cookie.
async fn sign_out(
    State(s): State<AppState>,
    conn: Option<Extension<Arc<ConnInfo>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ip = client_ip(&conn);
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let (id, session) = match require_csrf(&s, &headers, &form) {
            Ok(v) => v,
            Err(resp) => return Ok(Err(*resp)),
        };
        if let Err(e) = s.console.sign_out(&id, ip) {
            return Ok(Err(error_page(&e, session.lang, None)));
        }
        Ok::<_, Error>(Ok(()))
    })
    .await;
    match r {
        Err(e) => error_page(&e, Lang::En, None),
        Ok(Err(resp)) => resp,
        Ok(Ok(())) => {
            let mut resp = see_other("/console/sign-in");
            resp.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_static(
                    "enrolld_console=; HttpOnly; Secure; SameSite=Strict; Path=/console; Max-Age=0",
                ),
            );
            resp
        }
    }
}

/// Where the language switcher may send the browser back to: a console path, never
/// another site (`//host`, `/\host`).
fn safe_back(back: Option<&str>) -> &str {
    match back {
        Some(b)
            if b.starts_with("/console/")
                && !b.contains("//")
                && !b.contains('\\')
                && b.bytes().all(|c| c.is_ascii_graphic()) =>
        {
            b
        }
        _ => "/console/",
    }
}

/// `POST /console/language` with `lang` and `back`: remembers the language in the session
/// (CSRF-checked) and returns to `back`.
async fn language(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let (id, session) = match require_csrf(&s, &headers, &form) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        let Some(lang) = field(&form, "lang").and_then(Lang::from_code) else {
            let e = Error::Malformed("unknown language".into());
            return Ok(error_page(&e, session.lang, Some(&session)));
        };
        s.console.sessions.set_lang(&id, lang);
        Ok::<_, Error>(see_other(safe_back(field(&form, "back"))))
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}

/// Runs a page renderer for the request's session on the blocking pool.
pub(super) async fn page(
    s: AppState,
    headers: HeaderMap,
    render: impl FnOnce(&AppState, &Session) -> Result<Response, Error> + Send + 'static,
) -> Response {
    let r = blocking(move || {
        let (_, session) = match require_session(&s, &headers) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        Ok(render(&s, &session).unwrap_or_else(|e| error_page(&e, session.lang, Some(&session))))
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}

/// `GET /console/`: the dashboard.
async fn dashboard(State(s): State<AppState>, headers: HeaderMap) -> Response {
    page(s, headers, |s, session| {
        Ok(html(StatusCode::OK, s.console.dashboard(session)?))
    })
    .await
}

/// `GET /console/ca`: the CA page.
async fn ca(State(s): State<AppState>, headers: HeaderMap) -> Response {
    page(s, headers, |s, session| {
        Ok(html(StatusCode::OK, s.console.ca(session)?))
    })
    .await
}

/// Refuses (403) a session without `scope`, as the admin API refuses its token.
pub(super) fn need(session: &Session, scope: Scope) -> Result<(), Error> {
    if session.may(scope) {
        Ok(())
    } else {
        Err(Error::NotPermitted(format!("token lacks scope {scope}")))
    }
}

/// A non-empty query value.
pub(super) fn present(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The query of a page that shows the notice of the action just taken (`?notice=`).
#[derive(serde::Deserialize)]
pub(super) struct NoticeQuery {
    /// The notice of the action just taken.
    pub(super) notice: Option<String>,
}

/// Anything else under `/console/`.
async fn not_found(headers: HeaderMap) -> Response {
    error_page(
        &Error::NotFound("no such page".into()),
        accept_language(&headers),
        None,
    )
}

/// `GET /console/static/console.css`: the embedded stylesheet.
async fn css() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        crate::console::CSS,
    )
        .into_response()
}

/// `GET /console/static/progress.js`: the one script of the console (the import's progress).
async fn progress_js() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        crate::console::PROGRESS_JS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switcher_returns_only_to_console_paths() {
        assert_eq!(safe_back(Some("/console/ca")), "/console/ca");
        assert_eq!(safe_back(Some("//evil.example/")), "/console/");
        assert_eq!(safe_back(Some("/console//evil.example")), "/console/");
        assert_eq!(safe_back(Some("/console/\\evil")), "/console/");
        assert_eq!(
            safe_back(Some("https://evil.example/console/")),
            "/console/"
        );
        assert_eq!(safe_back(Some("/console/a b")), "/console/");
        assert_eq!(safe_back(None), "/console/");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; enrolld_console=abc; b=2"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("enrolld_console="));
        assert_eq!(session_cookie(&h), None);
    }
}
