//! The pickup page: `GET /pickup/{token}` shows what will be issued (spends nothing);
//! `POST /pickup/{token}` (form) issues for a pasted CSR or a server-generated key.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::admin::blocking;
use super::{percent, AppState};
use crate::error::Error;
use crate::registry::pickup::{data_uri, PickupResult};

use crate::console::html::escape;

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title></head><body><h1>{t}</h1>{body}</body></html>",
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

fn error_page(e: &Error) -> Response {
    let status = super::errors::pickup_status(e);
    if let Error::Internal(d) = e {
        tracing::error!(detail = %d, "pickup failed");
    }
    let mut resp = page(
        status,
        "Certificate pickup",
        &format!("<p>{}</p>", escape(e.public_message())),
    );
    super::errors::mark(e, &mut resp);
    resp
}

/// `GET /pickup/{token}`.
pub async fn show(State(s): State<AppState>, Path(token): Path<String>) -> Response {
    let r = blocking(move || s.registry.pickup_view(&token)).await;
    match r {
        Err(e) => error_page(&e),
        Ok(v) => {
            let legacy = if v.legacy_p12 {
                "<label><input type=\"checkbox\" name=\"legacy\" value=\"1\"> older macOS or Windows (3DES)</label><br>"
            } else {
                ""
            };
            let body = format!(
                "<p>A certificate for <strong>{name}</strong> ({sans}). This link works once; nothing is used up until you press a button.</p>\
                 <h2>Let the server make the key</h2><form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"generate\">\
                 <label>Key <select name=\"key\"><option value=\"p256\">ECDSA P-256</option><option value=\"rsa3072\">RSA 3072</option><option value=\"rsa2048\">RSA 2048</option></select></label><br>{legacy}\
                 <button type=\"submit\">Create my certificate file</button></form>\
                 <h2>Or upload your own request</h2><form method=\"post\"><input type=\"hidden\" name=\"action\" value=\"csr\">\
                 <textarea name=\"csr\" rows=\"10\" cols=\"66\" placeholder=\"-----BEGIN CERTIFICATE REQUEST-----\"></textarea><br>\
                 <button type=\"submit\">Issue for my request</button></form>",
                name = escape(&v.name),
                sans = escape(&v.sans.join(", ")),
            );
            page(StatusCode::OK, "Certificate pickup", &body)
        }
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
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(body) = body else {
        return error_page(&Error::TooLarge("request too large".into()));
    };
    let form = match parse_form(&body) {
        Ok(f) => f,
        Err(e) => return error_page(&e),
    };
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
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
        Err(e) => error_page(&e),
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
        Ok(PickupResult::Pkcs12(p12, pass)) => {
            let body = format!(
                "<p>Your passphrase, shown only now: <strong><code id=\"passphrase\">{pass}</code></strong></p>\
                 <p><a id=\"download\" download=\"certificate.p12\" href=\"{uri}\">Download certificate.p12</a></p>\
                 <p>Import the file and enter the passphrase when asked. The link is now used up.</p>",
                pass = escape(&pass),
                uri = data_uri(&p12),
            );
            page(StatusCode::OK, "Your certificate", &body)
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
