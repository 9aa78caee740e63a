//! The console's people and devices routes (`crate::console::people` renders): the list, a
//! subject's page, credentials shown once, status changes and off-boarding with a
//! confirmation, the Apple configuration profile as a download. They call the services the
//! admin API calls (`Registry::list_page`, `Registry::get`, `Registry::create_credential`,
//! `Registry::apple_profile`, `Registry::set_status`) with the session's token as actor, and
//! ask of the session the scope the admin API's route table names for the same action
//! (`read`, `issue` for credentials and the profile, `revoke` for status changes).

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::admin::blocking;
use super::console::{
    error_page, field, html, need, page, present, require_csrf, see_other, NoticeQuery,
};
use super::pickup::parse_form;
use super::AppState;
use crate::console::eab_page;
use crate::console::i18n::Lang;
use crate::console::manage::query_escape;
use crate::console::people::{self, PAGE_SIZE};
use crate::error::Error;
use crate::registry::service::{NewSubjectCredential, SubjectQuery};
use crate::registry::tokens::Scope;
use crate::states::CertState;

/// The routes of the people and devices pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/people", get(list))
        .route("/console/people/{id}", get(subject))
        .route("/console/people/{id}/offboard", get(offboard))
        .route("/console/people/{id}/credentials", post(credential))
        .route("/console/people/{id}/apple-profile", post(apple_profile))
        .route("/console/people/{id}/status", post(status))
}

/// The query of `GET /console/people`.
#[derive(serde::Deserialize)]
struct ListQuery {
    /// Search term (external id, names, e-mail address, department).
    q: Option<String>,
    /// `person` or `device`.
    kind: Option<String>,
    /// `active`, `suspended` or `offboarded`.
    status: Option<String>,
    /// Exact department.
    department: Option<String>,
    /// The subject id the page starts after.
    after: Option<String>,
    /// Page size, at most [`PAGE_SIZE`].
    limit: Option<String>,
}

/// `GET /console/people`: one page of subjects (`read`, as `GET /api/v1/subjects`).
async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    page(s, headers, move |s, session| {
        need(session, Scope::Read)?;
        let Query(q) = q.map_err(|e| Error::Malformed(e.body_text()))?;
        let limit = present(q.limit)
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(PAGE_SIZE)
            .clamp(1, PAGE_SIZE);
        let query = SubjectQuery {
            kind: present(q.kind),
            status: present(q.status),
            department: present(q.department),
            search: present(q.q),
            after: present(q.after),
        };
        let (items, next) = s.registry.list_page(&query, limit)?;
        Ok(html(
            StatusCode::OK,
            people::list(
                session.lang,
                session,
                &query,
                limit,
                &items,
                next.as_deref(),
            ),
        ))
    })
    .await
}

/// `GET /console/people/{id}`: a subject's page (`read`, as `GET /api/v1/subjects/{id}`).
async fn subject(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<NoticeQuery>, QueryRejection>,
) -> Response {
    page(s, headers, move |s, session| {
        need(session, Scope::Read)?;
        let done = q
            .ok()
            .and_then(|Query(q)| q.notice)
            .as_deref()
            .and_then(people::notice_key);
        let v = s.registry.get(&id)?;
        Ok(html(
            StatusCode::OK,
            people::subject(
                session.lang,
                session,
                &v,
                done,
                s.registry.cfg.scep.enabled,
                s.registry.mailer.is_some(),
            ),
        ))
    })
    .await
}

/// `GET /console/people/{id}/offboard`: the confirmation (`revoke`), counting the subject's
/// good certificates through the admin API's certificate view.
async fn offboard(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    page(s, headers, move |s, session| {
        need(session, Scope::Revoke)?;
        let v = s.registry.get(&id)?;
        let mut good = 0;
        for serial in v["certificates"].as_array().into_iter().flatten() {
            if let Some(serial) = serial.as_str() {
                if s.admin.certificate(serial)?.status == CertState::Good {
                    good += 1;
                }
            }
        }
        Ok(html(
            StatusCode::OK,
            people::offboard(session.lang, session, &v, good),
        ))
    })
    .await
}

/// `POST /console/people/{id}/credentials` with `kind` = `est`, `scep`, `acme` or `pickup`
/// (CSRF-checked, `issue` as `POST /api/v1/subjects/{id}/credentials`): the secret or
/// address is shown once on the answer page; an ACME key with the directory and command
/// lines for certbot and lego.
async fn credential(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let (_, session) = match require_csrf(&s, &headers, &form) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        let kind = field(&form, "kind").unwrap_or("").to_owned();
        let deliver = field(&form, "deliver").map(str::to_owned);
        let done = need(&session, Scope::Issue).and_then(|()| {
            if !matches!(kind.as_str(), "est" | "scep" | "acme" | "pickup") {
                return Err(Error::Malformed(
                    "kind must be est, scep, acme or pickup".into(),
                ));
            }
            s.registry.create_credential(
                &session.actor(),
                &id,
                NewSubjectCredential {
                    kind,
                    expires_in: None,
                    uses: None,
                    label: None,
                    legacy_p12: false,
                    deliver,
                },
            )
        });
        let page = done.and_then(|made| {
            if made["kid"].is_string() {
                let v = s.registry.get(&id)?;
                let directory = s.acme.url("/acme/directory");
                Ok(eab_page::eab(session.lang, &session, &v, &made, &directory))
            } else {
                Ok(people::secret(session.lang, &session, &id, &made))
            }
        });
        Ok::<_, Error>(match page {
            Ok(body) => html(StatusCode::OK, body),
            Err(e) => error_page(&e, session.lang, Some(&session)),
        })
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}

/// `POST /console/people/{id}/apple-profile` (CSRF-checked, `issue` as
/// `GET /api/v1/subjects/{id}/apple-profile`): the subject's `.mobileconfig` as a download,
/// with a fresh one-time SCEP challenge made and audited as the admin API makes it. A POST,
/// not a link, because every download creates a credential.
async fn apple_profile(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let (_, session) = match require_csrf(&s, &headers, &form) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        let made = need(&session, Scope::Issue)
            .and_then(|()| s.registry.apple_profile(&session.actor(), &id, None, None));
        Ok::<_, Error>(match made {
            Ok(p) => (
                StatusCode::OK,
                [
                    (
                        header::CONTENT_TYPE,
                        crate::registry::apple_profile::CONTENT_TYPE.to_owned(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{}\"", p.file_name),
                    ),
                ],
                p.body,
            )
                .into_response(),
            Err(e) => error_page(&e, session.lang, Some(&session)),
        })
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}

/// `POST /console/people/{id}/status` with `status` = `suspended`, `active` or `offboarded`
/// (CSRF-checked, `revoke` as `PATCH /api/v1/subjects/{id}`), then back to the subject.
async fn status(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let (_, session) = match require_csrf(&s, &headers, &form) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        let to = field(&form, "status").unwrap_or("").to_owned();
        let done = need(&session, Scope::Revoke)
            .and_then(|()| s.registry.set_status(&session.actor(), &id, &to));
        Ok::<_, Error>(match done {
            Ok(_) => see_other(&format!(
                "/console/people/{}?notice={}",
                query_escape(&id),
                query_escape(&to)
            )),
            Err(e) => error_page(&e, session.lang, Some(&session)),
        })
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}
