//! The console's bulk import routes (`crate::console::import` keeps the files and jobs,
//! `crate::console::import_page` renders): the upload form, the dry run of a sent file
//! (multipart with a file or pasted text, at most `MAX_CSV_BYTES`), the start of the import
//! of the file the dry run kept, and the job's page. They ask of the session `register`, the
//! scope of `POST /api/v1/subjects/bulk`, and call the same registry service.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::admin::blocking;
use super::console::{
    error_page, field, html, need, page, require_csrf, require_session, see_other,
};
use super::multipart;
use super::pickup::parse_form;
use super::AppState;
use crate::console::i18n::Lang;
use crate::console::import::MAX_CSV_BYTES;
use crate::console::import_page::{self, Problem};
use crate::console::manage::query_escape;
use crate::console::session::Session;
use crate::error::Error;
use crate::registry::tokens::Scope;

/// Room for the form's other fields and the multipart framing around a file of
/// `MAX_CSV_BYTES`.
const FORM_OVERHEAD: usize = 64 * 1024;

/// The routes of the import pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/console/import",
            get(form)
                .post(dry_run)
                .layer(DefaultBodyLimit::max(MAX_CSV_BYTES + FORM_OVERHEAD)),
        )
        .route("/console/import/start", post(start))
        .route("/console/import/{job}", get(job))
        .route("/console/import/{job}/status", get(job_status))
}

/// The form again after a refused file, with `status`.
fn problem(
    status: StatusCode,
    session: &Session,
    key: &'static str,
    detail: Option<String>,
) -> Response {
    html(
        status,
        import_page::form(session.lang, session, Some(&Problem { key, detail })),
    )
}

/// `GET /console/import`: the upload form (`register`).
async fn form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    page(s, headers, |_, session| {
        need(session, Scope::Register)?;
        Ok(html(
            StatusCode::OK,
            import_page::form(session.lang, session, None),
        ))
    })
    .await
}

/// The fields of the import form, from a multipart body or, without a file, a urlencoded one.
fn fields(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match multipart::boundary(ct) {
        Some(b) => Ok(multipart::parse(body, &b)?
            .into_iter()
            .map(|p| (p.name, p.data))
            .collect()),
        None => Ok(parse_form(body)?
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect()),
    }
}

/// The form with a problem for a body that could not be read (too large, not a form): no
/// CSRF token could be read from it, so nothing is done, and the answer depends on the
/// session only to speak its language and offer the form again.
fn unreadable(
    s: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    key: &'static str,
) -> Response {
    match require_session(s, headers) {
        Ok((_, session)) if session.may(Scope::Register) => problem(status, &session, key, None),
        Ok((_, session)) => error_page(
            &Error::NotPermitted("token lacks scope register".into()),
            session.lang,
            Some(&session),
        ),
        Err(resp) => *resp,
    }
}

/// `POST /console/import` (multipart: `csrf`, `file`, `csv`; CSRF-checked, `register`): the
/// dry run of the file (or, without one, the pasted text). Writes nothing; the file waits for
/// its import under an id the answer's start form carries.
async fn dry_run(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let r = blocking(move || {
        let body = match body {
            Ok(b) => b,
            Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Ok(unreadable(
                    &s,
                    &headers,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "imp.err.too_big",
                ))
            }
            Err(_) => {
                return Ok(unreadable(
                    &s,
                    &headers,
                    StatusCode::BAD_REQUEST,
                    "imp.err.form",
                ))
            }
        };
        let Ok(form) = fields(&headers, &body) else {
            return Ok(unreadable(
                &s,
                &headers,
                StatusCode::BAD_REQUEST,
                "imp.err.form",
            ));
        };
        let csrf: Vec<(String, String)> = form
            .iter()
            .filter(|(k, _)| k == "csrf")
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        let (id, session) = match require_csrf(&s, &headers, &csrf) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        if let Err(e) = need(&session, Scope::Register) {
            return Ok(error_page(&e, session.lang, Some(&session)));
        }
        let part = |name: &str| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_slice())
                .filter(|v| !v.iter().all(u8::is_ascii_whitespace))
        };
        // A chosen file wins over pasted text.
        let Some(raw) = part("file").or_else(|| part("csv")) else {
            return Ok(problem(
                StatusCode::BAD_REQUEST,
                &session,
                "imp.err.empty",
                None,
            ));
        };
        if raw.len() > MAX_CSV_BYTES {
            return Ok(problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                &session,
                "imp.err.too_big",
                None,
            ));
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            return Ok(problem(
                StatusCode::BAD_REQUEST,
                &session,
                "imp.err.not_utf8",
                None,
            ));
        };
        // Spreadsheets write "CSV UTF-8" with a byte order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text).to_owned();
        Ok::<_, Error>(match s.console.import_dry_run(&id, text) {
            Ok((rows, upload)) => html(
                StatusCode::OK,
                import_page::dry_run(
                    session.lang,
                    &session,
                    &rows,
                    upload.as_deref(),
                    s.registry.mailer.is_some(),
                ),
            ),
            Err(e @ Error::Malformed(_)) => problem(
                StatusCode::BAD_REQUEST,
                &session,
                "imp.err.csv",
                Some(e.public_message().to_owned()),
            ),
            Err(e) => error_page(&e, session.lang, Some(&session)),
        })
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}

/// `POST /console/import/start` with `upload` (CSRF-checked, `register`): starts the import
/// of the file the session's dry run kept, and sends the browser to the job's page.
async fn start(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let r = blocking(move || {
        let form = parse_form(&body)?;
        let (id, session) = match require_csrf(&s, &headers, &form) {
            Ok(v) => v,
            Err(resp) => return Ok(*resp),
        };
        let upload = field(&form, "upload").unwrap_or("");
        let mail_links = field(&form, "deliver") == Some("email");
        let started = need(&session, Scope::Register)
            .and_then(|()| s.console.start_import(&id, &session, upload, mail_links));
        Ok::<_, Error>(match started {
            Ok(job) => see_other(&format!("/console/import/{}", query_escape(&job.id))),
            Err(Error::NotFound(_)) => {
                problem(StatusCode::NOT_FOUND, &session, "imp.err.upload", None)
            }
            Err(Error::RateLimited(..)) => problem(
                StatusCode::TOO_MANY_REQUESTS,
                &session,
                "imp.err.busy",
                None,
            ),
            Err(e) => error_page(&e, session.lang, Some(&session)),
        })
    })
    .await;
    r.unwrap_or_else(|e| error_page(&e, Lang::En, None))
}

/// `GET /console/import/{job}`: the job's progress, then its results. A session of the token
/// that started it, or one with `admin`, may look; to any other the job does not exist (404).
async fn job(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    page(s, headers, move |s, session| {
        let job = s
            .console
            .imports
            .job(&id)
            .filter(|j| j.visible_to(session))
            .ok_or_else(|| Error::NotFound("no such import".into()))?;
        Ok(html(
            StatusCode::OK,
            import_page::job(
                session.lang,
                session,
                &job.progress(),
                &format!("/console/import/{}/status", query_escape(&id)),
            ),
        ))
    })
    .await
}

/// `GET /console/import/{job}/status`: the job's progress as JSON (`done`, `total`, `percent`,
/// `finished`), for the console's script on the job page; the same visibility as the page.
async fn job_status(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    page(s, headers, move |s, session| {
        let job = s
            .console
            .imports
            .job(&id)
            .filter(|j| j.visible_to(session))
            .ok_or_else(|| Error::NotFound("no such import".into()))?;
        let p = job.progress();
        Ok((
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            serde_json::json!({
                "done": p.done,
                "total": p.total,
                "percent": p.percent(),
                "finished": p.finished_at.is_some(),
            })
            .to_string(),
        )
            .into_response())
    })
    .await
}
