//! `GET /console/people/new` and `POST /console/people/new`: one person or device registered
//! from the console through `Registry::register`, the call of `POST /api/v1/people` and
//! `POST /api/v1/devices`, with the session's token as actor and the scope those routes ask
//! (`register`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::admin::blocking;
use super::console::{error_page, field, html, need, page, require_csrf, see_other};
use super::pickup::parse_form;
use super::AppState;
use crate::console::i18n::Lang;
use crate::console::manage::query_escape;
use crate::console::register_page::{self, RegisterForm};
use crate::error::Error;
use crate::registry::subjects::SubjectInput;
use crate::registry::tokens::Scope;

/// The route of the registration page.
pub fn routes() -> Router<AppState> {
    Router::new().route("/console/people/new", get(form).post(register))
}

/// `GET /console/people/new`: the empty form (a person by default).
async fn form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    page(s, headers, |_, session| {
        need(session, Scope::Register)?;
        let input = SubjectInput::default();
        Ok(html(
            StatusCode::OK,
            register_page::page(
                session.lang,
                session,
                &RegisterForm {
                    kind: "person",
                    input: &input,
                    error: None,
                },
            ),
        ))
    })
    .await
}

/// The subject a submitted form describes: empty fields are absent, DNS names are split at
/// commas. The registry validates the rest, as it does for the API.
fn input_of(form: &[(String, String)]) -> SubjectInput {
    let opt = |name: &str| {
        field(form, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    SubjectInput {
        kind: None,
        external_id: opt("external_id").unwrap_or_default(),
        email: opt("email"),
        display_name: opt("display_name"),
        department: opt("department"),
        name: opt("name"),
        serial_number: opt("serial_number"),
        owner: opt("owner"),
        dns_names: field(form, "dns_names")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect(),
        mdm_id: None,
        windows_sid: opt("windows_sid"),
        language: None,
        given_name: opt("given_name"),
        family_name: opt("family_name"),
        pseudonym: opt("pseudonym"),
    }
}

/// `POST /console/people/new` (CSRF-checked, `register`): registers, then shows the subject's
/// page with what happened (created, updated, unchanged); a refused registration shows the
/// form again, with what was typed and why, as 400.
async fn register(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let (_, session) = match require_csrf(&s, &headers, &form) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        if let Err(e) = need(&session, Scope::Register) {
            return Ok(error_page(&e, session.lang, Some(&session)));
        }
        let kind = match field(&form, "kind") {
            Some("device") => "device",
            _ => "person",
        };
        let input = input_of(&form);
        Ok::<_, Error>(match s.registry.register(&session.actor(), kind, &input) {
            Ok(done) => see_other(&format!(
                "/console/people/{}?notice={}",
                query_escape(done.subject.id.as_str()),
                done.result
            )),
            Err(Error::Internal(d)) => {
                tracing::error!(detail = %d, "console registration failed");
                error_page(&Error::Internal(d), session.lang, Some(&session))
            }
            Err(e) => html(
                StatusCode::BAD_REQUEST,
                register_page::page(
                    session.lang,
                    &session,
                    &RegisterForm {
                        kind,
                        input: &input,
                        error: Some(e.public_message()),
                    },
                ),
            ),
        })
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn empty_fields_are_absent_and_dns_names_split_at_commas() {
        let i = input_of(&form(&[
            ("external_id", "  D-1 "),
            ("email", ""),
            ("name", "laptop"),
            ("dns_names", " a.example, ,b.example,"),
        ]));
        assert_eq!(i.external_id, "D-1");
        assert_eq!(i.email, None);
        assert_eq!(i.name.as_deref(), Some("laptop"));
        assert_eq!(i.dns_names, ["a.example", "b.example"]);
        assert_eq!(input_of(&form(&[])).external_id, "");
    }
}
