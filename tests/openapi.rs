//! `/api/v1/openapi.json` describes every admin route, and every described route exists.

mod common;

use common::*;

#[tokio::test]
async fn openapi_matches_the_real_routes() {
    let s = Server::start("").await;
    let r = s
        .client()
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}"
            );
            assert!(op["responses"].as_object().unwrap().contains_key("401"));
            // Fill path parameters and call the route without a token: a real route answers
            // 401 with a problem document; a missing one would answer 404 or 405.
            let concrete: String = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "0a0b0c" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = s
                .client()
                .request(m, s.url(&concrete))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 401, "{method} {path}");
            assert_eq!(
                resp.headers()["content-type"],
                "application/problem+json",
                "{method} {path}"
            );
        }
    }
    assert_eq!(operations, enrolld::http::api::routes().len());
    assert!(operations >= 20);
    // Every route the router mounts under /api/v1 comes from the same table; anything else
    // is a 404 problem document.
    for (m, p) in [
        ("GET", "/api/v1/nothing-here"),
        ("POST", "/api/v1/people/extra"),
        ("PUT", "/api/v1/tokens"),
    ] {
        let resp = s
            .client()
            .request(reqwest::Method::from_bytes(m.as_bytes()).unwrap(), s.url(p))
            .bearer_auth(s.admin_token())
            .send()
            .await
            .unwrap();
        assert!(
            matches!(resp.status().as_u16(), 404 | 405),
            "{m} {p}: {}",
            resp.status()
        );
    }
    s.stop().await;
}

/// Every admin route checks the scope the OpenAPI document states for it: a token with that
/// scope alone gets past authorization (any answer but 401 or 403), a token with any other
/// scope (but `admin`) is refused 403.
#[tokio::test]
async fn every_route_checks_the_scope_its_document_states() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    let mut tokens = std::collections::BTreeMap::new();
    for scope in ["read", "register", "issue", "revoke"] {
        let (st, t) = s
            .api(
                reqwest::Method::POST,
                "/api/v1/tokens",
                &admin,
                Some(serde_json::json!({"name": scope, "scopes": [scope]})),
            )
            .await;
        assert_eq!(st, 201, "{t}");
        tokens.insert(scope, t["token"].as_str().unwrap().to_owned());
    }
    let doc = enrolld::http::api::openapi();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        // Placeholders that name nothing: a route that gets past authorization answers 404
        // or a refusal of the (absent) body, never a change.
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "0a0b0c" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().unwrap() {
            let stated = op["x-scope"].as_str().unwrap();
            assert_eq!(op["security"][0]["bearer"][0], stated, "{method} {path}");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for (scope, token) in &tokens {
                let resp = s
                    .client()
                    .request(m.clone(), s.url(&concrete))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                let st = resp.status().as_u16();
                if *scope == stated {
                    assert!(st != 401 && st != 403, "{method} {path} with {scope}: {st}");
                } else {
                    assert_eq!(st, 403, "{method} {path} with {scope}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 80);
    s.stop().await;
}
