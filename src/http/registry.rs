//! Registry routes: people, devices, bulk import, credentials per subject, status changes,
//! inventory, bulk revocation, tokens and the audit log.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::admin::{blocking, json_body, reply, Actor};
use super::errors::problem_response;
use super::AppState;
use crate::error::Error;
use crate::registry::inventory::CertQuery;
use crate::registry::service::NewSubjectCredential;
use crate::registry::subjects::{parse_csv, SubjectInput};
use crate::revocation::RevocationReason;
use crate::states::ApprovalStatus;

/// `POST /api/v1/people`.
pub async fn register_person(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    register(s, who, headers, body, "person").await
}

/// `POST /api/v1/devices`.
pub async fn register_device(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    register(s, who, headers, body, "device").await
}

async fn register(
    s: AppState,
    who: String,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
    kind: &'static str,
) -> Response {
    let r = blocking(move || {
        let mut input: SubjectInput = json_body(&headers, body)?;
        if input.kind.as_deref().is_some_and(|k| k != kind) {
            return Err(Error::Malformed(format!(
                "this endpoint registers a {kind}"
            )));
        }
        input.kind = Some(kind.to_owned());
        s.registry.register(&who, kind, &input)
    })
    .await;
    let status = match &r {
        Ok(reg) if reg.result == "created" => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    reply(status, r)
}

/// The query of `POST /api/v1/subjects/bulk`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkQuery {
    /// `email`: every person imported gets a pickup link by mail.
    #[serde(default)]
    deliver: Option<String>,
}

/// `POST /api/v1/subjects/bulk`: a JSON array of subjects, or `text/csv` with a header row;
/// `?deliver=email` mails every person imported a pickup link.
pub async fn bulk(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    q: Result<Query<BulkQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let r = blocking(move || {
        let Query(q) = q.map_err(|e| Error::Malformed(e.body_text()))?;
        let mail_links = match q.deliver.as_deref() {
            None => false,
            Some("email") => true,
            Some(_) => return Err(Error::Malformed("deliver must be \"email\"".into())),
        };
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let rows = if ct.starts_with("text/csv") {
            let body = body.map_err(super::est::body_error)?;
            let text = std::str::from_utf8(&body)
                .map_err(|_| Error::Malformed("CSV must be UTF-8".into()))?;
            parse_csv(text)?
        } else {
            let items: Vec<serde_json::Value> = json_body(&headers, body)?;
            items
                .into_iter()
                .map(|v| {
                    serde_json::from_value::<SubjectInput>(v)
                        .map_err(|e| format!("invalid row: {e}"))
                })
                .collect()
        };
        let results = s.registry.bulk_with(
            &who,
            rows,
            crate::registry::bulk::Mode::Apply,
            mail_links,
            &mut |_| {},
        )?;
        let errors = results.iter().filter(|r| r.result == "error").count();
        Ok(json!({"rows": results.len(), "errors": errors, "results": results}))
    })
    .await;
    reply(StatusCode::OK, r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectFilter {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /api/v1/subjects`.
pub async fn list(
    State(s): State<AppState>,
    _: Actor,
    q: Result<Query<SubjectFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let r = blocking(move || {
        let Query(q) = q.map_err(|e| Error::Malformed(e.body_text()))?;
        let list = s.registry.list(
            q.kind.as_deref(),
            q.status.as_deref(),
            q.department.as_deref(),
            q.limit.unwrap_or(1000).clamp(1, 10_000),
        )?;
        Ok(json!({"subjects": list}))
    })
    .await;
    reply(StatusCode::OK, r)
}

/// `GET /api/v1/subjects/{id}`.
pub async fn get(State(s): State<AppState>, _: Actor, Path(id): Path<String>) -> Response {
    let r = blocking(move || s.registry.get(&id)).await;
    reply(StatusCode::OK, r)
}

/// `PATCH /api/v1/subjects/{id}` with `{"status": "active"|"suspended"|"offboarded"}`.
pub async fn patch(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Req {
        status: String,
    }
    let r = blocking(move || {
        // Every status change places, lifts or makes final a revocation: the route table
        // names the revoke scope for every one.
        let req: Req = json_body(&headers, body)?;
        s.registry.set_status(&who, &id, &req.status)
    })
    .await;
    reply(StatusCode::OK, r)
}

/// `POST /api/v1/subjects/{id}/credentials`.
pub async fn create_credential(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let r = blocking(move || {
        let req: NewSubjectCredential = json_body(&headers, body)?;
        s.registry.create_credential(&who, &id, req)
    })
    .await;
    reply(StatusCode::CREATED, r)
}

/// Query of `GET /api/v1/subjects/{id}/apple-profile`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppleProfileQuery {
    /// The SCEP label the challenge is for (`/scep/<label>`); the default path otherwise.
    #[serde(default)]
    label: Option<String>,
    /// Lifetime of the challenge in seconds; `scep.challenge_ttl_secs` otherwise.
    #[serde(default)]
    expires_in: Option<u64>,
}

/// `GET /api/v1/subjects/{id}/apple-profile?label=&expires_in=`: a `.mobileconfig` with a
/// fresh one-time SCEP challenge. It holds a secret: never cached.
pub async fn apple_profile(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
    q: Result<Query<AppleProfileQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let r = blocking(move || {
        let Query(q) = q.map_err(|e| Error::Malformed(e.body_text()))?;
        s.registry.apple_profile(&who, &id, q.label, q.expires_in)
    })
    .await;
    match r {
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
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            p.body,
        )
            .into_response(),
        Err(e) => problem_response(&e),
    }
}

/// `GET /api/v1/certificates?...`: the inventory.
pub async fn inventory(
    State(s): State<AppState>,
    _: Actor,
    q: Result<Query<CertQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let r = blocking(move || {
        let Query(q) = q.map_err(|e| Error::Malformed(e.body_text()))?;
        s.registry.inventory(&q)
    })
    .await;
    reply(StatusCode::OK, r)
}

/// `POST /api/v1/certificates/revoke` with `{"query": {...}, "reason": "..."}`.
pub async fn bulk_revoke(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Req {
        query: CertQuery,
        #[serde(default)]
        reason: Option<String>,
    }
    let r = blocking(move || {
        let req: Req = json_body(&headers, body)?;
        let reason = match req.reason.as_deref() {
            None => RevocationReason::Unspecified,
            Some(name) => RevocationReason::admin(name)
                .ok_or_else(|| Error::Malformed(format!("invalid reason {name:?}")))?,
        };
        s.registry.bulk_revoke(&who, &req.query, reason)
    })
    .await;
    reply(StatusCode::OK, r)
}

/// `POST /api/v1/tokens` with `{"name", "scopes": [...], "expires_in"?}`.
pub async fn create_token(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Req {
        name: String,
        scopes: Vec<String>,
        #[serde(default)]
        expires_in: Option<u64>,
    }
    let r = blocking(move || {
        let req: Req = json_body(&headers, body)?;
        s.registry
            .create_token(&who, &req.name, &req.scopes, req.expires_in)
    })
    .await;
    reply(StatusCode::CREATED, r)
}

/// `GET /api/v1/tokens`.
pub async fn list_tokens(State(s): State<AppState>, _: Actor) -> Response {
    let r = blocking(move || s.registry.list_tokens()).await;
    reply(StatusCode::OK, r)
}

/// `DELETE /api/v1/tokens/{id}`.
pub async fn delete_token(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
) -> Response {
    let r = blocking(move || s.registry.delete_token(&who, &id)).await;
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => problem_response(&e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    #[serde(default)]
    after: Option<u64>,
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /api/v1/audit?after=&limit=`.
pub async fn audit(
    State(s): State<AppState>,
    _: Actor,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let r = blocking(move || {
        let Query(q) = q.map_err(|e| Error::Malformed(e.body_text()))?;
        let entries = s
            .registry
            .audit_log(q.after.unwrap_or(0), q.limit.unwrap_or(100))?;
        Ok(json!({"entries": entries}))
    })
    .await;
    reply(StatusCode::OK, r)
}

/// `GET /api/v1/audit/verify`: checks the hash chain, its head and the signed checkpoints.
pub async fn audit_verify(State(s): State<AppState>, _: Actor) -> Response {
    let r = blocking(move || match s.registry.verify_audit()? {
        Ok(v) => {
            let mut body = serde_json::to_value(v)?;
            body["valid"] = json!(true);
            Ok(body)
        }
        Err(why) => Ok(json!({"valid": false, "error": why})),
    })
    .await;
    reply(StatusCode::OK, r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalQuery {
    #[serde(default)]
    status: Option<String>,
}

/// `GET /api/v1/approvals?status=pending`.
pub async fn approvals(
    State(s): State<AppState>,
    _: Actor,
    q: Result<Query<ApprovalQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let r = blocking(move || {
        let Query(q) = q.map_err(|e| Error::Malformed(e.body_text()))?;
        let list = s.registry.approvals(
            q.status
                .as_deref()
                .unwrap_or(ApprovalStatus::Pending.as_str()),
        )?;
        Ok(json!({"approvals": list}))
    })
    .await;
    reply(StatusCode::OK, r)
}

/// `POST /api/v1/approvals/{id}/approve`.
pub async fn approve(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
) -> Response {
    decide(s, who, id, true).await
}

/// `POST /api/v1/approvals/{id}/reject`.
pub async fn reject(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
) -> Response {
    decide(s, who, id, false).await
}

async fn decide(s: AppState, who: String, id: String, approve: bool) -> Response {
    let r = blocking(move || s.registry.decide(&who, &id, approve)).await;
    reply(StatusCode::OK, r)
}

/// `GET /api/v1/backup`: a consistent snapshot of the store and the CA files (admin scope).
pub async fn backup(State(s): State<AppState>, Actor(who): Actor) -> Response {
    let r = blocking(move || {
        let data = crate::backup::backup(&s.registry.cfg.data_dir, &*s.registry.store)?;
        s.registry
            .audit(&who, "backup", "-", "ok", &format!("{} bytes", data.len()))?;
        Ok(data)
    })
    .await;
    match r {
        Ok(data) => {
            let mut resp = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/x-ndjson")],
                data,
            )
                .into_response();
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            resp
        }
        Err(e) => problem_response(&e),
    }
}
