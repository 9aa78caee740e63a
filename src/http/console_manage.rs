//! The console's routes that act on the registry (`crate::console::manage` renders): approvals
//! and certificates. They call the services the admin API calls (`Registry::approvals`,
//! `Registry::decide`, `Registry::inventory_page`, `Admin::certificate`, `Admin::revoke`) with
//! the session's token as actor (`token:<id>`, as the admin API's `Actor`), and ask of the
//! session the scope the admin API's route table names for the same action.

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
use crate::console::i18n::Lang;
use crate::console::manage::{self, CertFilters, PAGE_SIZE};
use crate::error::Error;
use crate::registry::inventory::CertQuery;
use crate::registry::tokens::Scope;
use crate::states::ApprovalStatus;

/// The routes of the approvals and certificates pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console/approvals", get(approvals))
        .route("/console/approvals/{id}/approve", post(approve))
        .route("/console/approvals/{id}/reject", post(reject))
        .route("/console/certificates", get(certificates))
        .route("/console/certificates/{serial}", get(certificate))
        .route("/console/certificates/{serial}/pem", get(pem))
        .route("/console/certificates/{serial}/revoke", post(revoke))
}

/// The query of `GET /console/approvals`.
#[derive(serde::Deserialize)]
struct ApprovalsQuery {
    /// `pending` (the default), `approved` or `rejected`.
    status: Option<String>,
    /// The notice of the decision just made (a code, see `manage::notice_key`).
    notice: Option<String>,
}

/// `GET /console/approvals`: the requests with a status (`read`, as `GET /api/v1/approvals`).
async fn approvals(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ApprovalsQuery>, QueryRejection>,
) -> Response {
    page(s, headers, move |s, session| {
        need(session, Scope::Read)?;
        let Query(q) = q.map_err(|e| Error::Malformed(e.body_text()))?;
        let status = present(q.status).unwrap_or_else(|| "pending".into());
        let list = s.registry.approvals(&status)?;
        let status = ApprovalStatus::from_name(&status).unwrap_or(ApprovalStatus::Pending);
        let done = q.notice.as_deref().and_then(manage::notice_key);
        Ok(html(
            StatusCode::OK,
            manage::approvals(session.lang, session, status, &list, done),
        ))
    })
    .await
}

/// `POST /console/approvals/{id}/approve`.
async fn approve(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(s, headers, id, body, true).await
}

/// `POST /console/approvals/{id}/reject`.
async fn reject(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    decide(s, headers, id, body, false).await
}

/// A decision (CSRF-checked, `issue` as `POST /api/v1/approvals/{id}/approve`), then back to
/// the waiting requests with a notice; a request decided already is a notice too.
async fn decide(s: AppState, headers: HeaderMap, id: String, body: Bytes, yes: bool) -> Response {
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let (_, session) = match require_csrf(&s, &headers, &form) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        let done = need(&session, Scope::Issue)
            .and_then(|()| s.registry.decide(&session.actor(), &id, yes));
        Ok::<_, Error>(match done {
            Ok(_) if yes => see_other("/console/approvals?notice=approved"),
            Ok(_) => see_other("/console/approvals?notice=rejected"),
            Err(Error::Conflict(_)) => see_other("/console/approvals?notice=conflict"),
            Err(e) => error_page(&e, session.lang, Some(&session)),
        })
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}

/// The query of `GET /console/certificates`.
#[derive(serde::Deserialize)]
struct CertificatesQuery {
    /// `good` or `revoked`.
    status: Option<String>,
    /// Profile name.
    profile: Option<String>,
    /// Channel name.
    channel: Option<String>,
    /// A day (`YYYY-MM-DD`, as a date field sends it) or an RFC 3339 time.
    expiring_before: Option<String>,
    /// The serial the page starts after (the previous page's last).
    after: Option<String>,
    /// Page size, at most [`PAGE_SIZE`].
    limit: Option<String>,
}

/// `GET /console/certificates`: one page of the inventory (`read`, as
/// `GET /api/v1/certificates`, through the same query).
async fn certificates(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<CertificatesQuery>, QueryRejection>,
) -> Response {
    page(s, headers, move |s, session| {
        need(session, Scope::Read)?;
        let Query(q) = q.map_err(|e| Error::Malformed(e.body_text()))?;
        let f = CertFilters {
            status: present(q.status),
            profile: present(q.profile),
            channel: present(q.channel),
            expiring_before: present(q.expiring_before),
            limit: present(q.limit)
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(PAGE_SIZE)
                .clamp(1, PAGE_SIZE),
        };
        let after = present(q.after);
        let query = CertQuery {
            status: f.status.clone(),
            profile: f.profile.clone(),
            channel: f.channel.clone(),
            // A date field's day is the start of that day, UTC.
            expiring_before: f.expiring_before.as_ref().map(|d| {
                if d.len() == 10 {
                    format!("{d}T00:00:00Z")
                } else {
                    d.clone()
                }
            }),
            after: after.clone(),
            ..CertQuery::default()
        };
        let (items, next) = s.registry.inventory_page(&query, f.limit)?;
        Ok(html(
            StatusCode::OK,
            manage::certificates(
                session.lang,
                session,
                &f,
                &items,
                next.as_deref(),
                after.is_none(),
            ),
        ))
    })
    .await
}

/// `GET /console/certificates/{serial}`: a certificate's page (`read`).
async fn certificate(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(serial): Path<String>,
    q: Result<Query<NoticeQuery>, QueryRejection>,
) -> Response {
    page(s, headers, move |s, session| {
        need(session, Scope::Read)?;
        let done = q
            .ok()
            .and_then(|Query(q)| q.notice)
            .as_deref()
            .and_then(manage::notice_key);
        let c = s.admin.certificate(&serial)?;
        Ok(html(
            StatusCode::OK,
            manage::certificate(session.lang, session, &c, done),
        ))
    })
    .await
}

/// `GET /console/certificates/{serial}/pem`: the certificate as a PEM file (`read`).
async fn pem(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(serial): Path<String>,
) -> Response {
    page(s, headers, move |s, session| {
        need(session, Scope::Read)?;
        let c = s.admin.certificate(&serial)?;
        // The serial is the view's lower-case hex: safe in a header.
        let disposition = format!("attachment; filename=\"{}.pem\"", c.serial);
        Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/x-pem-file".to_owned()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            c.pem,
        )
            .into_response())
    })
    .await
}

/// `POST /console/certificates/{serial}/revoke` with `reason` (CSRF-checked, `revoke`): the
/// same code as `POST /api/v1/certificates/{serial}/revoke`, then back to the certificate.
async fn revoke(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(serial): Path<String>,
    body: Bytes,
) -> Response {
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let (_, session) = match require_csrf(&s, &headers, &form) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        let done = need(&session, Scope::Revoke).and_then(|()| {
            let reason = field(&form, "reason").unwrap_or("");
            s.admin.revoke(&session.actor(), &serial, reason)
        });
        Ok::<_, Error>(match done {
            Ok(c) => see_other(&format!(
                "/console/certificates/{}?notice=revoked",
                c.serial
            )),
            Err(e) => error_page(&e, session.lang, Some(&session)),
        })
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}
