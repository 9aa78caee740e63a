//! The routes of the audit log and tokens pages: queries and forms in, `crate::console` calls
//! out. Every POST is CSRF-checked; the tokens routes need the admin scope (403 otherwise, in
//! the reader's language, before anything changes).

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{error_page, field, html, page, require_csrf, see_other};
use crate::console::audit_page::AuditQuery;
use crate::console::i18n::Lang;
use crate::console::pages;
use crate::console::session::Session;
use crate::console::tokens_page::{render_confirm, NewToken, Notice};
use crate::error::Error;
use crate::http::admin::blocking;
use crate::http::pickup::parse_form;
use crate::http::AppState;
use crate::registry::tokens::Scope;

/// The query of `GET /console/audit`.
#[derive(serde::Deserialize)]
pub(super) struct AuditQs {
    /// The cursor: entries with a higher sequence number.
    after: Option<u64>,
    /// Action prefix filter.
    action: Option<String>,
    /// Actor prefix filter.
    actor: Option<String>,
}

/// `GET /console/audit?after=&action=&actor=`: a page of the audit log.
pub(super) async fn audit(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<AuditQs>, QueryRejection>,
) -> Response {
    page(s, headers, move |s, session| {
        let Query(q) = q.map_err(|e| Error::Malformed(e.body_text()))?;
        let clip = |v: Option<String>| {
            let v = v.unwrap_or_default();
            v.trim().chars().take(128).collect::<String>()
        };
        let q = AuditQuery {
            after: q.after.unwrap_or(0),
            action: clip(q.action),
            actor: clip(q.actor),
        };
        Ok(html(StatusCode::OK, s.console.audit_page(session, &q)?))
    })
    .await
}

/// `GET /console/audit/verify`: verifies the chain and shows the result. A GET: it changes
/// nothing, so a `read` session may use it and a link is enough.
pub(super) async fn audit_verify(State(s): State<AppState>, headers: HeaderMap) -> Response {
    page(s, headers, |s, session| {
        Ok(html(StatusCode::OK, s.console.audit_verify_page(session)?))
    })
    .await
}

/// The 403 page of a session without the admin scope.
fn admin_only(session: &Session) -> Response {
    let mut resp = html(
        StatusCode::FORBIDDEN,
        pages::error(session.lang, Some(session), "tokens.admin_only"),
    );
    crate::http::errors::mark(
        &Error::NotPermitted("token lacks scope admin".into()),
        &mut resp,
    );
    resp
}

/// The query of `GET /console/tokens`.
#[derive(serde::Deserialize)]
pub(super) struct TokensQs {
    /// Set after a revocation: the page says it was done.
    revoked: Option<String>,
}

/// `GET /console/tokens`: the list and the create form (admin scope).
pub(super) async fn tokens(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<TokensQs>, QueryRejection>,
) -> Response {
    let revoked = matches!(q, Ok(Query(TokensQs { revoked: Some(_) })));
    page(s, headers, move |s, session| {
        if !session.may(Scope::Admin) {
            return Ok(admin_only(session));
        }
        let notice = if revoked {
            Notice::Revoked
        } else {
            Notice::None
        };
        Ok(html(
            StatusCode::OK,
            s.console.tokens_page(session, &notice)?,
        ))
    })
    .await
}

/// Runs a CSRF-checked POST of an admin session on the blocking pool.
async fn admin_post(
    s: AppState,
    headers: HeaderMap,
    body: Bytes,
    act: impl FnOnce(&AppState, &Session, &[(String, String)]) -> Result<Response, Error>
        + Send
        + 'static,
) -> Response {
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let (_, session) = match require_csrf(&s, &headers, &form) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        if !session.may(Scope::Admin) {
            return Ok(admin_only(&session));
        }
        Ok(act(&s, &session, &form)
            .unwrap_or_else(|e| error_page(&e, session.lang, Some(&session))))
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}

/// `POST /console/tokens` with `name`, `scope` (repeated), `days`: creates a token and shows
/// it this once; an invalid form shows the page again with 400.
pub(super) async fn create_token(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admin_post(s, headers, body, |s, session, form| {
        let created = NewToken::from_form(form).and_then(|t| s.console.create_token(session, &t));
        match created {
            Ok(notice) => Ok(html(
                StatusCode::CREATED,
                s.console.tokens_page(session, &notice)?,
            )),
            Err(Error::Malformed(_)) => Ok(html(
                StatusCode::BAD_REQUEST,
                s.console.tokens_page(session, &Notice::Invalid)?,
            )),
            Err(e) => Err(e),
        }
    })
    .await
}

/// `POST /console/tokens/revoke` with `id`: without `confirm=yes` the confirmation page;
/// with it, revokes and returns to the list (a revoked own token ends the session, so that
/// return goes to sign-in).
pub(super) async fn revoke_token(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    admin_post(s, headers, body, |s, session, form| {
        let id = field(form, "id").unwrap_or("");
        let Some(row) = s.console.token_rows()?.into_iter().find(|r| r.id == id) else {
            return Err(Error::NotFound("no such token".into()));
        };
        if field(form, "confirm") != Some("yes") {
            return Ok(html(
                StatusCode::OK,
                render_confirm(session.lang, session, &row),
            ));
        }
        s.console.revoke_token(session, &row.id)?;
        Ok(see_other("/console/tokens?revoked=1"))
    })
    .await
}
