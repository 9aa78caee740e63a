//! The admin API's route table: the router mounts it and `/api/v1/openapi.json` is generated
//! from it, so the document cannot drift from the routes (a test checks both directions).

use axum::routing::{delete, get, patch, post, MethodRouter};
use serde_json::{json, Map, Value};

use super::{admin, registry, AppState};
use crate::registry::tokens::Scope;

/// One admin API operation.
pub struct ApiRoute {
    /// HTTP method (lower case, as OpenAPI writes it).
    pub method: &'static str,
    /// Path with `{param}` segments.
    pub path: &'static str,
    /// Bearer-token scope required (`admin` always passes). The router hands it to the
    /// [`Actor`](super::admin::Actor) extractor of the route's handler, so the handler checks
    /// the scope this table (and the OpenAPI document) names and no other.
    pub scope: Scope,
    /// One-line summary.
    pub summary: &'static str,
    /// Request body: (content type, schema name), if any.
    pub body: Option<(&'static str, &'static str)>,
    /// Success status.
    pub ok: u16,
    /// Media type of the success body (JSON but for a file download).
    pub produces: &'static str,
    /// Query parameters.
    pub query: &'static [&'static str],
    /// The handler.
    pub handler: fn() -> MethodRouter<AppState>,
}

const JSON: &str = "application/json";

macro_rules! r {
    ($m:literal, $p:literal, $scope:expr, $sum:literal, $body:expr, $ok:literal, $q:expr, $h:expr) => {
        r!($m, $p, $scope, $sum, $body, $ok, JSON, $q, $h)
    };
    ($m:literal, $p:literal, $scope:expr, $sum:literal, $body:expr, $ok:literal, $produces:expr, $q:expr, $h:expr) => {
        ApiRoute {
            method: $m,
            path: $p,
            scope: $scope,
            summary: $sum,
            body: $body,
            ok: $ok,
            produces: $produces,
            query: $q,
            handler: || $h,
        }
    };
}

/// Every admin API route.
pub fn routes() -> Vec<ApiRoute> {
    vec![
        r!(
            "post",
            "/api/v1/est/credentials",
            Scope::Issue,
            "Create a loose EST enrolment credential (shortcut)",
            Some((JSON, "NewEstCredential")),
            201,
            &[],
            post(admin::create_est_credential)
        ),
        r!(
            "delete",
            "/api/v1/est/credentials/{id}",
            Scope::Issue,
            "Withdraw an EST credential (no enrolment, no renewal of its certificates)",
            None,
            204,
            &[],
            delete(admin::withdraw_est_credential)
        ),
        r!(
            "post",
            "/api/v1/acme/eab",
            Scope::Issue,
            "Create an ACME External Account Binding key (shortcut)",
            Some((JSON, "NewEabKey")),
            201,
            &[],
            post(admin::create_eab_key)
        ),
        r!(
            "delete",
            "/api/v1/acme/eab/{kid}",
            Scope::Issue,
            "Withdraw an EAB key (deactivates its account)",
            None,
            204,
            &[],
            delete(admin::withdraw_eab_key)
        ),
        r!(
            "post",
            "/api/v1/acme/renewal-window",
            Scope::Issue,
            "Move the ARI renewal window of certificates",
            Some((JSON, "RenewalWindow")),
            200,
            &[],
            post(admin::set_renewal_window)
        ),
        r!(
            "get",
            "/api/v1/certificates",
            Scope::Read,
            "Certificate inventory (filters, pagination)",
            None,
            200,
            &[
                "subject_id",
                "subject",
                "status",
                "profile",
                "channel",
                "expiring_before",
                "department",
                "limit",
                "after"
            ],
            get(registry::inventory)
        ),
        r!(
            "post",
            "/api/v1/certificates/revoke",
            Scope::Revoke,
            "Revoke every certificate matching a query",
            Some((JSON, "BulkRevoke")),
            200,
            &[],
            post(registry::bulk_revoke)
        ),
        r!(
            "get",
            "/api/v1/certificates/{serial}",
            Scope::Read,
            "A certificate record",
            None,
            200,
            &[],
            get(admin::get_certificate)
        ),
        r!(
            "post",
            "/api/v1/certificates/{serial}/revoke",
            Scope::Revoke,
            "Revoke a certificate (RFC 5280 reason)",
            Some((JSON, "Revoke")),
            200,
            &[],
            post(admin::revoke_certificate)
        ),
        r!(
            "post",
            "/api/v1/people",
            Scope::Register,
            "Register (or update) a person",
            Some((JSON, "Person")),
            201,
            &[],
            post(registry::register_person)
        ),
        r!(
            "post",
            "/api/v1/devices",
            Scope::Register,
            "Register (or update) a device",
            Some((JSON, "Device")),
            201,
            &[],
            post(registry::register_device)
        ),
        r!(
            "get",
            "/api/v1/subjects",
            Scope::Read,
            "List people and devices",
            None,
            200,
            &["kind", "status", "department", "limit"],
            get(registry::list)
        ),
        r!(
            "post",
            "/api/v1/subjects/bulk",
            Scope::Register,
            "Register many subjects (JSON array or text/csv)",
            Some((JSON, "SubjectArray")),
            200,
            &["deliver"],
            post(registry::bulk)
        ),
        r!(
            "get",
            "/api/v1/subjects/{id}",
            Scope::Read,
            "A subject with its certificates and credentials",
            None,
            200,
            &[],
            get(registry::get)
        ),
        r!(
            "patch",
            "/api/v1/subjects/{id}",
            Scope::Revoke,
            "Change status: active, suspended, offboarded (places, lifts or finalises holds)",
            Some((JSON, "StatusChange")),
            200,
            &[],
            patch(registry::patch)
        ),
        r!(
            "post",
            "/api/v1/subjects/{id}/credentials",
            Scope::Issue,
            "Create an EST credential or ACME EAB key for a subject",
            Some((JSON, "NewSubjectCredential")),
            201,
            &[],
            post(registry::create_credential)
        ),
        r!(
            "get",
            "/api/v1/subjects/{id}/apple-profile",
            Scope::Issue,
            "An Apple configuration profile (.mobileconfig): SCEP payload with a fresh one-time challenge, and the CA certificates",
            None,
            200,
            crate::registry::apple_profile::CONTENT_TYPE,
            &["label", "expires_in"],
            get(registry::apple_profile)
        ),
        r!(
            "post",
            "/api/v1/tokens",
            Scope::Admin,
            "Create an API token with scopes",
            Some((JSON, "NewToken")),
            201,
            &[],
            post(registry::create_token)
        ),
        r!(
            "get",
            "/api/v1/tokens",
            Scope::Admin,
            "List API tokens",
            None,
            200,
            &[],
            get(registry::list_tokens)
        ),
        r!(
            "delete",
            "/api/v1/tokens/{id}",
            Scope::Admin,
            "Revoke an API token",
            None,
            204,
            &[],
            delete(registry::delete_token)
        ),
        r!(
            "get",
            "/api/v1/approvals",
            Scope::Read,
            "Enrolments waiting for approval",
            None,
            200,
            &["status"],
            get(registry::approvals)
        ),
        r!(
            "post",
            "/api/v1/approvals/{id}/approve",
            Scope::Issue,
            "Approve a pending enrolment",
            None,
            200,
            &[],
            post(registry::approve)
        ),
        r!(
            "post",
            "/api/v1/approvals/{id}/reject",
            Scope::Issue,
            "Reject a pending enrolment",
            None,
            200,
            &[],
            post(registry::reject)
        ),
        r!(
            "get",
            "/api/v1/audit",
            Scope::Read,
            "Audit log entries",
            None,
            200,
            &["after", "limit"],
            get(registry::audit)
        ),
        r!(
            "get",
            "/api/v1/audit/verify",
            Scope::Read,
            "Verify the audit log: hash chain, head and signed checkpoints",
            None,
            200,
            &[],
            get(registry::audit_verify)
        ),
        r!(
            "get",
            "/api/v1/backup",
            Scope::Admin,
            "A consistent backup (JSON lines; holds the CA keys)",
            None,
            200,
            &[],
            get(registry::backup)
        ),
    ]
}

fn schemas() -> Value {
    let obj = |props: &[(&str, &str)], required: &[&str]| {
        let mut p = Map::new();
        for (name, ty) in props {
            let schema = match *ty {
                "string[]" => json!({"type": "array", "items": {"type": "string"}}),
                "object" => json!({"type": "object"}),
                t => json!({"type": t}),
            };
            p.insert((*name).into(), schema);
        }
        json!({"type": "object", "properties": p, "required": required})
    };
    json!({
        "NewEstCredential": obj(&[("label", "string"), ("common_name", "string"), ("sans", "string[]"), ("expires_in", "integer"), ("uses", "integer")], &["common_name"]),
        "NewEabKey": obj(&[("profile", "string"), ("allowed_identifiers", "array"), ("expires_in", "integer")], &["allowed_identifiers"]),
        "RenewalWindow": obj(&[("serials", "string[]"), ("start", "string"), ("end", "string")], &["serials"]),
        "BulkRevoke": obj(&[("query", "object"), ("reason", "string")], &["query"]),
        "Revoke": obj(&[("reason", "string")], &[]),
        "Person": obj(&[("external_id", "string"), ("email", "string"), ("display_name", "string"), ("department", "string"), ("windows_sid", "string"), ("language", "string"), ("given_name", "string"), ("family_name", "string"), ("pseudonym", "string")], &["external_id", "email", "display_name"]),
        "Device": obj(&[("external_id", "string"), ("name", "string"), ("serial_number", "string"), ("owner", "string"), ("dns_names", "string[]"), ("mdm_id", "string"), ("windows_sid", "string"), ("language", "string")], &["external_id", "name"]),
        "SubjectArray": {"type": "array", "items": {"type": "object"}},
        "StatusChange": obj(&[("status", "string")], &["status"]),
        "NewSubjectCredential": obj(&[("kind", "string"), ("expires_in", "integer"), ("uses", "integer"), ("label", "string"), ("legacy_p12", "boolean"), ("deliver", "string")], &["kind"]),
        "NewToken": obj(&[("name", "string"), ("scopes", "string[]"), ("expires_in", "integer")], &["name", "scopes"]),
        "Problem": obj(&[("type", "string"), ("title", "string"), ("status", "integer"), ("detail", "string")], &["type", "status"]),
    })
}

/// The OpenAPI 3.0 document of the admin API.
pub fn openapi() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in routes() {
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(r.query.iter().map(
            |q| json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}}),
        ));
        let problem = json!({"description": "RFC 7807 problem document", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
        let mut responses = Map::new();
        let ok_desc = if r.ok == 204 {
            json!({"description": "done"})
        } else if r.produces == JSON {
            json!({"description": "success", "content": {JSON: {"schema": {"type": "object"}}}})
        } else {
            json!({"description": "success", "content": {r.produces: {"schema": {"type": "string", "format": "binary"}}}})
        };
        responses.insert(r.ok.to_string(), ok_desc);
        for code in ["400", "401", "403", "404"] {
            responses.insert(code.into(), problem.clone());
        }
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}{}", r.method, r.path.replace(['/', '{', '}', '-'], "_")),
            "security": [{"bearer": [r.scope.as_str()]}],
            "parameters": params,
            "responses": responses,
            "x-scope": r.scope.as_str(),
        });
        if let Some((ct, schema)) = r.body {
            op["requestBody"] = json!({"required": true, "content": {ct: {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    let description = format!(
        "People, devices, credentials, certificates, revocation and audit for enrolld. Bearer tokens carry scopes: {}.",
        scopes.join(", ")
    );
    json!({
        "openapi": "3.0.3",
        "info": {"title": "enrolld admin API", "version": env!("CARGO_PKG_VERSION"),
                 "description": description},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
        },
    })
}
