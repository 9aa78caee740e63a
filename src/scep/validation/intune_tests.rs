//! Intune connector mode against a loopback stand-in for Entra, Graph and Intune that checks
//! every request: method, path, the bearer token being the one it issued, `api-version`, a
//! GUID `client-request-id`, and the JSON bodies.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use base64ct::{Base64, Encoding};
use serde_json::{json, Value};

use super::intune::{API_VERSION, INTUNE_APP_ID, INTUNE_SCOPE};
use super::stand_in::{Answer, Handler, StandIn};
use super::tests::{expect, is_guid, private_file, request, CSR, NOW};
use super::*;
use crate::clock::ManualClock;
use crate::error::Error;

const TENANT: &str = "contoso.onmicrosoft.com";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const CLIENT_SECRET: &str = "s3cr+t&=~value";

/// What the Intune stand-in answers, changed by the tests between calls.
struct Script {
    /// `code` of SCEP action answers.
    code: String,
    /// `errorDescription` of SCEP action answers.
    description: String,
    /// When set, SCEP actions answer this status with an empty JSON object.
    action_status: Option<u16>,
    /// When set, the token endpoint refuses with this status.
    token_status: Option<u16>,
    /// When set, the endpoint list answered instead of the real one.
    endpoints: Option<String>,
    /// Tokens issued so far, by kind ("intune", "graph").
    issued: BTreeMap<&'static str, u32>,
    /// The body the next success or failure notification must have (checked whole).
    notification: Option<Value>,
}

impl Script {
    fn new() -> Self {
        Script {
            code: "Success".into(),
            description: String::new(),
            action_status: None,
            token_status: None,
            endpoints: None,
            issued: BTreeMap::new(),
            notification: None,
        }
    }

    /// The token most recently issued for `kind`.
    fn current(&self, kind: &str) -> String {
        format!("{kind}-{}", self.issued.get(kind).copied().unwrap_or(0))
    }
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    let decode = |s: &str| {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(0));
                i += 3;
            } else {
                out.push(if b[i] == b'+' { b' ' } else { b[i] });
                i += 1;
            }
        }
        String::from_utf8(out).unwrap_or_default()
    };
    std::str::from_utf8(body)
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// Entra, Graph and Intune in one: checks each request as Microsoft would need it.
fn microsoft(script: Arc<Mutex<Script>>) -> Handler {
    Arc::new(move |s, found| {
        let mut sc = script.lock().unwrap();
        let token_path = format!("/{TENANT}/oauth2/v2.0/token");
        let endpoints_path = format!("/v1.0/servicePrincipals/appId={INTUNE_APP_ID}/endpoints");
        if s.path == token_path {
            expect(found, s.method == hyper::Method::POST, "token: not a POST");
            expect(
                found,
                s.header("content-type") == "application/x-www-form-urlencoded",
                "token: content-type",
            );
            let f = form(&s.body);
            let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
            expect(
                found,
                get("grant_type") == "client_credentials",
                "grant_type",
            );
            expect(found, get("client_id") == CLIENT_ID, "client_id");
            expect(
                found,
                get("client_secret") == CLIENT_SECRET,
                "client_secret",
            );
            let graph_scope = format!("http://{}/.default", s.header("host"));
            let kind = if get("scope") == INTUNE_SCOPE {
                "intune"
            } else if get("scope") == graph_scope {
                "graph"
            } else {
                found.push(format!("token: scope {:?}", get("scope")));
                return Answer::Json(400, r#"{"error":"invalid_scope"}"#.into());
            };
            if let Some(status) = sc.token_status {
                return Answer::Json(
                    status,
                    r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#.into(),
                );
            }
            *sc.issued.entry(kind).or_insert(0) += 1;
            return Answer::Json(
                200,
                json!({"token_type": "Bearer", "expires_in": 3599, "access_token": sc.current(kind)})
                    .to_string(),
            );
        }
        expect(
            found,
            is_guid(s.header("client-request-id")),
            "client-request-id is not a GUID",
        );
        if s.path == endpoints_path {
            expect(
                found,
                s.method == hyper::Method::GET,
                "endpoints: not a GET",
            );
            expect(
                found,
                s.header("authorization") == format!("Bearer {}", sc.current("graph")),
                format!("endpoints: authorization {:?}", s.header("authorization")),
            );
            let body = sc.endpoints.clone().unwrap_or_else(|| {
                json!({"value": [
                    {"providerName": "PkiConnectorFEService", "uri": "https://elsewhere.example/pki"},
                    {"providerName": "ScepRequestValidationFEService",
                     "uri": format!("http://{}/scep-fe", s.header("host"))},
                ]})
                .to_string()
            });
            return Answer::Json(200, body);
        }
        let Some(action) = s.path.strip_prefix("/scep-fe/ScepActions/") else {
            found.push("unknown path".into());
            return Answer::Json(404, "{}".into());
        };
        expect(found, s.method == hyper::Method::POST, "action: not a POST");
        expect(
            found,
            s.header("authorization") == format!("Bearer {}", sc.current("intune")),
            format!("action: authorization {:?}", s.header("authorization")),
        );
        expect(found, s.header("api-version") == API_VERSION, "api-version");
        expect(
            found,
            s.header("content-type") == "application/json",
            "content-type",
        );
        let body = s.json();
        let caller = format!("enrolld/{}", env!("CARGO_PKG_VERSION"));
        match action {
            "validateRequest" => expect(
                found,
                body == json!({"request": {
                    "transactionId": "tx-1",
                    "certificateRequest": Base64::encode_string(CSR),
                    "callerInfo": caller,
                }}),
                format!("validateRequest body {body}"),
            ),
            "successNotification" | "failureNotification" => {
                let want = sc.notification.take();
                expect(
                    found,
                    want.as_ref() == Some(&body),
                    format!("{action} body {body}, want {want:?}"),
                );
            }
            _ => found.push("unknown action".into()),
        }
        if let Some(status) = sc.action_status {
            return Answer::Json(status, "{}".into());
        }
        Answer::Json(
            200,
            json!({"code": sc.code, "errorDescription": sc.description}).to_string(),
        )
    })
}

struct Fixture {
    ms: StandIn,
    script: Arc<Mutex<Script>>,
    clock: Arc<ManualClock>,
    v: Validator,
    _dir: tempfile::TempDir,
}

async fn intune() -> Fixture {
    let script = Arc::new(Mutex::new(Script::new()));
    let ms = StandIn::start(microsoft(script.clone())).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(NOW));
    let cfg = ChallengeValidation::Intune {
        tenant: TENANT.into(),
        client_id: CLIENT_ID.into(),
        client_secret_file: private_file(&dir, "client-secret", &format!("{CLIENT_SECRET}\n")),
        ca_file: None,
        login_url: ms.url.clone(),
        graph_url: ms.url.clone(),
        timeout_secs: 5,
    };
    let v = Validator::from_config(&cfg, clock.clone())
        .unwrap()
        .unwrap();
    Fixture {
        ms,
        script,
        clock,
        v,
        _dir: dir,
    }
}

const TOKEN: &str = "POST /contoso.onmicrosoft.com/oauth2/v2.0/token";
const ENDPOINTS: &str =
    "GET /v1.0/servicePrincipals/appId=0000000a-0000-0000-c000-000000000000/endpoints";
const VALIDATE: &str = "POST /scep-fe/ScepActions/validateRequest";

/// The connector's sequence: Graph token, discovery, Intune token, validateRequest; a
/// `Success` code allows without naming a subject.
#[tokio::test]
async fn intune_success_allows_after_token_and_discovery() {
    let f = intune().await;
    assert_eq!(
        f.v.validate(&request()).await.unwrap(),
        Verdict::Allow { subject: None }
    );
    assert_eq!(f.ms.calls(), [TOKEN, ENDPOINTS, TOKEN, VALIDATE]);
    f.ms.assert_clean();
}

/// Tokens and the discovered endpoint are reused until they expire (by the injected clock);
/// then only the expired token is fetched again.
#[tokio::test]
async fn intune_tokens_and_endpoint_are_cached_until_expiry() {
    let f = intune().await;
    f.v.validate(&request()).await.unwrap();
    f.v.validate(&request()).await.unwrap();
    assert_eq!(f.ms.calls(), [TOKEN, ENDPOINTS, TOKEN, VALIDATE, VALIDATE]);
    f.clock.advance(3599 - 61);
    f.v.validate(&request()).await.unwrap();
    assert_eq!(f.ms.calls().len(), 6, "{:?}", f.ms.calls());
    f.clock.advance(2);
    f.v.validate(&request()).await.unwrap();
    assert_eq!(f.ms.calls()[6..], [TOKEN, VALIDATE]);
    assert_eq!(f.script.lock().unwrap().issued["intune"], 2);
    assert_eq!(f.script.lock().unwrap().issued["graph"], 1);
    f.clock.advance(super::intune::DISCOVERY_TTL);
    f.v.validate(&request()).await.unwrap();
    assert_eq!(f.ms.calls()[8..], [TOKEN, ENDPOINTS, TOKEN, VALIDATE]);
    f.ms.assert_clean();
}

/// Every code other than `Success` denies, with the code and Intune's description.
#[tokio::test]
async fn intune_failure_codes_deny_with_the_reason() {
    let f = intune().await;
    for code in [
        "ChallengeExpired",
        "SubjectNameMismatch",
        "ChallengeDecryptionError",
        "ScepProfileNoLongerTargetedToTheClient",
        "SomeCodeAddedLater",
    ] {
        {
            let mut sc = f.script.lock().unwrap();
            sc.code = code.into();
            sc.description = format!("the {code} case\n");
        }
        assert_eq!(
            f.v.validate(&request()).await.unwrap(),
            Verdict::Deny {
                reason: format!("Intune: {code}: the {code} case")
            }
        );
    }
    f.ms.assert_clean();
}

/// After issuance Intune hears the thumbprint (SHA-1 of the DER, upper-case hex), serial,
/// expiry and issuer; after a refusal the HRESULT and a description cut to 255 characters.
#[tokio::test]
async fn intune_notifications_carry_what_intune_asks_for() {
    let f = intune().await;
    let der = b"the issued certificate's DER";
    let caller = format!("enrolld/{}", env!("CARGO_PKG_VERSION"));
    let success = json!({"notification": {
        "transactionId": "tx-1",
        "certificateRequest": Base64::encode_string(CSR),
        "certificateThumbprint": hex::encode_upper(
            digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref()),
        "certificateSerialNumber": "7f01",
        "certificateExpirationDateUtc": "2027-01-15T08:00:00.000Z",
        "issuingCertificateAuthority": "CN=enrolld issuing CA",
        "callerInfo": caller,
    }});
    f.script.lock().unwrap().notification = Some(success.clone());
    let issued = IssuedInfo {
        serial_hex: "7f01",
        der,
        not_after: NOW,
        issuer: "CN=enrolld issuing CA",
    };
    f.v.notify_success(&request(), &issued).await;
    assert!(f.script.lock().unwrap().notification.is_none(), "not sent");
    let long = "é".repeat(300);
    f.script.lock().unwrap().notification = Some(json!({"notification": {
        "transactionId": "tx-1",
        "certificateRequest": Base64::encode_string(CSR),
        "hResult": 0x8007_0005_i64,
        "errorDescription": "é".repeat(255),
        "callerInfo": caller,
    }}));
    f.v.notify_failure(&request(), 0x8007_0005, &long).await;
    assert!(f.script.lock().unwrap().notification.is_none(), "not sent");
    // A notification Intune does not accept is only logged.
    {
        let mut sc = f.script.lock().unwrap();
        sc.action_status = Some(503);
        sc.notification = Some(success.clone());
    }
    f.v.notify_success(&request(), &issued).await;
    assert_eq!(
        f.ms.calls().last().map(String::as_str),
        Some("POST /scep-fe/ScepActions/successNotification")
    );
    f.ms.assert_clean();
}

/// No decision from Microsoft is an error: a refused token, a failing or unintelligible
/// service, a tenant without the SCEP service. A failed call makes the next one discover the
/// service again.
#[tokio::test]
async fn intune_errors_never_allow() {
    let f = intune().await;
    f.script.lock().unwrap().token_status = Some(401);
    let e = f.v.validate(&request()).await.unwrap_err();
    assert!(matches!(e, Error::Internal(_)), "{e:?}");
    assert!(e.to_string().contains("invalid_client"), "{e}");
    assert!(!e.to_string().contains(CLIENT_SECRET), "{e}");
    f.script.lock().unwrap().token_status = None;

    f.v.validate(&request()).await.unwrap();
    let discoveries = |f: &Fixture| f.ms.calls().iter().filter(|c| *c == ENDPOINTS).count();
    assert_eq!(discoveries(&f), 1);
    f.script.lock().unwrap().action_status = Some(500);
    let e = f.v.validate(&request()).await.unwrap_err();
    assert!(e.to_string().contains("status 500"), "{e}");
    f.script.lock().unwrap().action_status = None;
    f.v.validate(&request()).await.unwrap();
    assert_eq!(discoveries(&f), 2, "the endpoint was not looked up again");
    // A 403 (a token from before admin consent) makes the next call get a new token.
    assert_eq!(f.script.lock().unwrap().issued["intune"], 1);
    f.script.lock().unwrap().action_status = Some(403);
    assert!(f.v.validate(&request()).await.is_err());
    f.script.lock().unwrap().action_status = None;
    f.v.validate(&request()).await.unwrap();
    assert_eq!(f.script.lock().unwrap().issued["intune"], 2);

    f.script.lock().unwrap().code = String::new();
    f.script.lock().unwrap().action_status = Some(200);
    let e = f.v.validate(&request()).await.unwrap_err();
    assert!(e.to_string().contains("is not {\"code\""), "{e}");
    f.script.lock().unwrap().action_status = None;
    f.ms.assert_clean();

    for (endpoints, why) in [
        (
            r#"{"value":[{"providerName":"PkiConnectorFEService","uri":"https://x"}]}"#,
            "lists no",
        ),
        (
            r#"{"value":[{"providerName":"ScepRequestValidationFEService","uri":"http://fe.example/x"}]}"#,
            "https://",
        ),
        (r#"{"values":[]}"#, "endpoint list"),
    ] {
        let f = intune().await;
        f.script.lock().unwrap().endpoints = Some(endpoints.into());
        let e = f.v.validate(&request()).await.unwrap_err();
        assert!(e.to_string().contains(why), "{why}: {e}");
        assert!(!f.ms.calls().contains(&VALIDATE.to_owned()));
        f.ms.assert_clean();
    }
}
