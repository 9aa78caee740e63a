//! The pickup page: `GET /pickup/{token}` shows what will be issued (spends nothing);
//! `POST /pickup/{token}` (form) issues for a pasted CSR or a server-generated key. Both
//! answer in Japanese or English (the console's catalogue): `?lang=` or the form's `lang`
//! field, else `Accept-Language`.

use std::fmt::Write;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::admin::blocking;
use super::{percent, AppState};
use crate::console::html::escape;
use crate::console::i18n::Lang;
use crate::error::Error;
use crate::registry::pickup::{data_uri, PickupResult, PickupView};

/// The page's language: the one its address or form names (`lang=ja|en`: a person opening a
/// link has no session to remember a choice in), else the one the browser prefers most
/// (`Accept-Language`), else English.
fn language(named: Option<&str>, headers: &HeaderMap) -> Lang {
    named.and_then(Lang::from_code).unwrap_or_else(|| {
        Lang::from_accept_language(
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    })
}

/// The `lang` the query string names, if it is well formed.
fn query_lang(q: Option<&str>) -> Option<String> {
    let form = parse_form(q.unwrap_or("").as_bytes()).ok()?;
    form.into_iter().find(|(k, _)| k == "lang").map(|(_, v)| v)
}

/// Links to the page in each language. They carry the choice in the query (`?lang=`) and keep
/// the path, so they need not repeat the link's secret.
fn switcher(lang: Lang) -> String {
    let mut h = format!(
        "<nav aria-label=\"{}\"><ul>",
        escape(lang.t("pickup.lang_label"))
    );
    for l in Lang::ALL {
        let current = if l == lang {
            " aria-current=\"true\""
        } else {
            ""
        };
        let _ = write!(
            h,
            "<li><a href=\"?lang={c}\" hreflang=\"{c}\" lang=\"{c}\"{current}>{}</a></li>",
            l.own_name(),
            c = l.code()
        );
    }
    h.push_str("</ul></nav>");
    h
}

/// A whole page in `lang` with the pickup page's headers: never cached, no referrer (the
/// address holds the link's secret), nothing loaded from anywhere, never framed. `nav` is the
/// language switcher, or empty where switching would lose what the page shows once.
fn page(status: StatusCode, lang: Lang, title: &str, nav: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title></head><body><header>{nav}</header><main><h1>{t}</h1>{body}</main></body></html>",
        code = lang.code(),
        t = escape(title)
    );
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; form-action 'self'; img-src data:"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

/// The catalogue key of the message a person reads for `e`. The errors a person can meet on
/// a pickup page have their own message; any other is refused with a general one. The
/// server's English detail is not shown; the error counters see the error's kind.
fn error_key(e: &Error) -> &'static str {
    match e {
        // Unknown, expired, used, or the subject no longer active: one answer for all.
        Error::NotFound(_) => "pickup.err.gone",
        Error::BadCsr(_) => "pickup.err.bad_csr",
        Error::Malformed(_) => "pickup.err.malformed",
        Error::TooLarge(_) => "pickup.err.too_large",
        Error::Internal(_) => "pickup.err.internal",
        _ => "pickup.err.other",
    }
}

/// The error page for `e` in `lang`; a link back to the form when the link may still work.
fn error_page(e: &Error, lang: Lang) -> Response {
    let status = super::errors::pickup_status(e);
    if let Error::Internal(d) = e {
        tracing::error!(detail = %d, "pickup failed");
    }
    let mut body = format!("<p role=\"alert\">{}</p>", escape(lang.t(error_key(e))));
    if status == StatusCode::BAD_REQUEST {
        let _ = write!(
            body,
            "<p><a href=\"?lang={}\">{}</a></p>",
            lang.code(),
            escape(lang.t("pickup.back"))
        );
    }
    let mut resp = page(status, lang, lang.t("pickup.title"), &switcher(lang), &body);
    super::errors::mark(e, &mut resp);
    resp
}

/// The form page for a valid link: who it is for, the names, until when it works, and the
/// two ways to get the certificate. Every form carries the language, so the answer is in it.
fn form_page(lang: Lang, v: &PickupView) -> String {
    let t = |k| escape(lang.t(k));
    let hidden_lang = format!(
        "<input type=\"hidden\" name=\"lang\" value=\"{}\">",
        lang.code()
    );
    let legacy = if v.legacy_p12 {
        format!(
            "<p><input type=\"checkbox\" id=\"legacy\" name=\"legacy\" value=\"1\"> <label for=\"legacy\">{}</label></p>",
            t("pickup.legacy")
        )
    } else {
        String::new()
    };
    format!(
        "<dl><dt>{for_}</dt><dd><strong>{name}</strong></dd><dt>{names}</dt><dd>{sans}</dd>\
         <dt>{until}</dt><dd>{expires}</dd></dl><p>{once}</p>\
         <h2>{gen_h}</h2><p>{gen_hint}</p><form method=\"post\">{hidden_lang}<input type=\"hidden\" name=\"action\" value=\"generate\">\
         <p><label for=\"key\">{key}</label> <select id=\"key\" name=\"key\"><option value=\"p256\">ECDSA P-256</option><option value=\"rsa3072\">RSA 3072</option><option value=\"rsa2048\">RSA 2048</option></select></p>{legacy}\
         <p><button type=\"submit\">{gen}</button></p></form>\
         <h2>{csr_h}</h2><form method=\"post\">{hidden_lang}<input type=\"hidden\" name=\"action\" value=\"csr\">\
         <p><label for=\"csr\">{csr_label}</label><br><textarea id=\"csr\" name=\"csr\" rows=\"10\" cols=\"66\" placeholder=\"-----BEGIN CERTIFICATE REQUEST-----\"></textarea></p>\
         <p><button type=\"submit\">{csr_submit}</button></p></form>",
        for_ = t("pickup.for"),
        name = escape(&v.name),
        names = t("pickup.names"),
        sans = escape(&v.sans.join(", ")),
        until = t("pickup.link_expires"),
        expires = escape(&lang.format_time(v.expires_at)),
        once = t("pickup.once"),
        gen_h = t("pickup.generate_heading"),
        gen_hint = t("pickup.generate_hint"),
        key = t("pickup.key"),
        gen = t("pickup.generate"),
        csr_h = t("pickup.csr_heading"),
        csr_label = t("pickup.csr_label"),
        csr_submit = t("pickup.csr_submit"),
    )
}

/// `GET /pickup/{token}`: the form, in the language the query or the browser asks for.
pub async fn show(
    State(s): State<AppState>,
    Path(token): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = language(query_lang(q.as_deref()).as_deref(), &headers);
    let r = blocking(move || s.registry.pickup_view(&token)).await;
    match r {
        Err(e) => error_page(&e, lang),
        Ok(v) => page(
            StatusCode::OK,
            lang,
            lang.t("pickup.title"),
            &switcher(lang),
            &form_page(lang, &v),
        ),
    }
}

/// Parses an `application/x-www-form-urlencoded` body (WHATWG URL §5.1) into name/value
/// pairs. Escapes decode to bytes; a malformed escape, or names and values that are not UTF-8
/// once decoded, make the whole form a bad request.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let bad = || Error::Malformed("the form is not valid x-www-form-urlencoded".into());
    let text = |raw: &[u8]| {
        percent::decode(raw, true)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)
    };
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = match p.iter().position(|b| *b == b'=') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (p, &[][..]),
            };
            Ok((text(k)?, text(v)?))
        })
        .collect()
}

/// `POST /pickup/{token}`.
pub async fn issue(
    State(s): State<AppState>,
    Path(token): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let fallback = language(query_lang(q.as_deref()).as_deref(), &headers);
    let Ok(body) = body else {
        return error_page(&Error::TooLarge("request too large".into()), fallback);
    };
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return error_page(&e, fallback),
    };
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let lang = get("lang")
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or(fallback);
    let action = get("action").unwrap_or_default();
    let csr = get("csr");
    let key = get("key");
    let legacy = get("legacy").is_some();
    let r = blocking(move || match action.as_str() {
        "csr" => s.registry.pickup_issue(&token, csr.as_deref(), None, false),
        "generate" => {
            s.registry
                .pickup_issue(&token, None, Some(key.as_deref().unwrap_or("p256")), legacy)
        }
        _ => Err(Error::Malformed("choose an action".into())),
    })
    .await;
    match r {
        Err(e) => error_page(&e, lang),
        Ok(PickupResult::Chain(pem)) => {
            let mut r = (
                [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
                pem,
            )
                .into_response();
            r.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"certificate.pem\""),
            );
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Ok(PickupResult::Pkcs12 {
            p12,
            passphrase,
            not_after,
        }) => {
            let t = |k| escape(lang.t(k));
            let body = format!(
                "<p>{pass_label}: <strong><code id=\"passphrase\">{pass}</code></strong></p>\
                 <p><a id=\"download\" download=\"certificate.p12\" href=\"{uri}\">{download}</a> (<code>certificate.p12</code>)</p>\
                 <p>{valid}: {not_after}</p><p>{import}</p>",
                pass_label = t("pickup.passphrase"),
                pass = escape(&passphrase),
                uri = data_uri(&p12),
                download = t("pickup.download"),
                valid = t("pickup.valid_until"),
                not_after = escape(&lang.format_time(not_after)),
                import = t("pickup.import"),
            );
            // No language links here: following one would leave the passphrase behind.
            page(
                StatusCode::OK,
                lang,
                lang.t("pickup.result_title"),
                "",
                &body,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_and_escaping() {
        let f = parse_form(b"action=csr&csr=a%2Bb+c%3D&empty=&x").unwrap();
        assert_eq!(f[1], ("csr".into(), "a+b c=".into()));
        assert_eq!(f[2], ("empty".into(), "".into()));
        assert_eq!(f[3], ("x".into(), "".into()));
        assert_eq!(escape("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }

    /// The errors a person can meet have their own message; anything else a general one. The
    /// form's or address's language beats the browser's; an unknown one does not count.
    #[test]
    fn errors_and_languages_for_people() {
        assert_eq!(error_key(&Error::NotFound("x".into())), "pickup.err.gone");
        assert_eq!(error_key(&Error::BadCsr("x".into())), "pickup.err.bad_csr");
        assert_eq!(
            error_key(&Error::TooLarge("x".into())),
            "pickup.err.too_large"
        );
        assert_eq!(
            error_key(&Error::Internal("x".into())),
            "pickup.err.internal"
        );
        assert_eq!(error_key(&Error::Conflict("x".into())), "pickup.err.other");
        for k in ["pickup.err.gone", "pickup.err.other"] {
            assert_ne!(Lang::Ja.t(k), k, "in the catalogue");
        }
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("ja"));
        assert_eq!(language(None, &h), Lang::Ja);
        assert_eq!(language(Some("en"), &h), Lang::En);
        assert_eq!(language(Some("xx"), &h), Lang::Ja);
        assert_eq!(language(None, &HeaderMap::new()), Lang::En);
        assert_eq!(query_lang(Some("a=1&lang=ja")).as_deref(), Some("ja"));
        assert_eq!(query_lang(Some("lang=%zz")), None);
    }

    /// Escapes before multi-byte characters, truncated escapes and escapes that decode to
    /// something other than UTF-8 are refused, never sliced through.
    #[test]
    fn malformed_forms_are_bad_requests() {
        for bad in [
            "csr=%\u{20ac}",
            "action=csr&csr=%a\u{e9}",
            "%\u{e9}=x",
            "key=p256%",
            "key=p256%4",
            "key=%zz",
            "key=%E2%82",
            "key=%ff",
        ] {
            assert!(
                matches!(parse_form(bad.as_bytes()), Err(Error::Malformed(_))),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_form("name=J%C3%BCrgen+\u{e9}".as_bytes()).unwrap(),
            vec![("name".into(), "J\u{fc}rgen \u{e9}".into())]
        );
    }
}
