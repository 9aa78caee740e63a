//! Every credential, EAB key, renewal-window and ACME account change through any endpoint
//! is audited with its actor: the admin token, or the ACME account (or certificate key).

mod common;

use std::process::Output;

use base64ct::Encoding as _;
use common::acme_client::{Account, Client, Key, Signer};
use common::*;
use serde_json::{json, Value};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The entry with `action` on `target`, which must be the only one.
fn entry<'a>(log: &'a [Value], action: &str, target: &str) -> &'a Value {
    let found: Vec<&Value> = log
        .iter()
        .filter(|e| e["action"] == action && e["target"] == target)
        .collect();
    assert_eq!(found.len(), 1, "{action} on {target} in {log:#?}");
    found[0]
}

#[tokio::test]
async fn credential_eab_renewal_window_and_account_changes_name_their_actor() {
    let s = Server::start("").await;
    let admin = s.admin_token();
    let (_, t) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "it", "scopes": ["issue", "read"]})),
        )
        .await;
    let (token, token_id) = (
        t["token"].as_str().unwrap().to_owned(),
        t["id"].as_str().unwrap().to_owned(),
    );
    let actor = format!("token:{token_id}");

    // An EST credential through the admin API.
    let (st, cred) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/est/credentials",
            &token,
            Some(json!({"common_name": "dev-1", "sans": ["dns:dev-1.corp.example"]})),
        )
        .await;
    assert_eq!(st, 201, "{cred}");
    // An EAB key through `enrolld admin`, which calls the admin API.
    let out = tokio::task::spawn_blocking({
        let (base, bundle, token) = (s.base.clone(), s.data("ca-bundle.pem"), token.clone());
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_enrolld"))
                .args(["admin", "--url", &base, "--ca-bundle"])
                .arg(bundle)
                .args([
                    "--token",
                    &token,
                    "eab",
                    "create",
                    "--identifier",
                    "dns:*.fleet.example",
                ])
                .env_remove("ENROLLD_TOKEN")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let eab: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kid = eab["kid"].as_str().unwrap().to_owned();
    let mac = base64ct::Base64UrlUnpadded::decode_vec(eab["hmac_key"].as_str().unwrap()).unwrap();

    // An ACME account bound to the key; two certificates.
    let mut c = Client::new(&s).await;
    let acct = c.account(&kid, &mac).await;
    let account_id = acct.url.rsplit('/').next().unwrap().to_owned();
    let (der1, _) = issue(&mut c, &acct, "a.fleet.example").await;
    let (der2, key2) = issue(&mut c, &acct, "b.fleet.example").await;
    let (serial1, serial2) = (serial_hex(&der1), serial_hex(&der2));
    // A renewal window moved through the admin API.
    let (st, _) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/acme/renewal-window",
            &token,
            Some(json!({"serials": [serial1]})),
        )
        .await;
    assert_eq!(st, 200);
    // Revoked over ACME: one by the account, one by the certificate's key.
    c.revoke(Signer::Kid(&acct), &der1, None).await.ok(200);
    c.revoke(Signer::Jwk(&key2), &der2, Some(1)).await.ok(200);
    // The account deactivates itself; the EAB key is withdrawn.
    let acct_url = acct.url.clone();
    c.post(
        &acct_url,
        Signer::Kid(&acct),
        Some(&json!({"status": "deactivated"})),
    )
    .await
    .ok(200);
    let (st, _) = s
        .api(
            reqwest::Method::DELETE,
            &format!("/api/v1/acme/eab/{kid}"),
            &token,
            None,
        )
        .await;
    assert_eq!(st, 204);

    let (_, log) = s
        .api(
            reqwest::Method::GET,
            "/api/v1/audit?limit=1000",
            &admin,
            None,
        )
        .await;
    let log = log["entries"].as_array().unwrap().clone();
    let username = cred["username"].as_str().unwrap();
    let e = entry(&log, "credential.est", username);
    assert_eq!(e["actor"], actor.as_str());
    assert!(
        e["detail"].as_str().unwrap().contains("dev-1.corp.example"),
        "{e}"
    );
    let e = entry(&log, "eab.create", &kid);
    assert_eq!(e["actor"], actor.as_str());
    assert!(
        e["detail"].as_str().unwrap().contains("*.fleet.example"),
        "{e}"
    );
    let acme_actor = format!("acme:{account_id}");
    let e = entry(&log, "account.create", &account_id);
    assert_eq!(e["actor"], acme_actor.as_str());
    assert_eq!(e["detail"], format!("eab {kid}").as_str());
    assert_eq!(
        entry(&log, "certificate.renewal_window", &serial1)["actor"],
        actor.as_str()
    );
    assert_eq!(
        entry(&log, "certificate.revoke", &serial1)["actor"],
        acme_actor.as_str()
    );
    assert_eq!(
        entry(&log, "certificate.revoke", &serial2)["actor"],
        format!("acme:key:{}", key2.thumbprint()).as_str()
    );
    assert_eq!(
        entry(&log, "account.deactivate", &account_id)["actor"],
        acme_actor.as_str()
    );
    assert_eq!(entry(&log, "eab.withdraw", &kid)["actor"], actor.as_str());
    // No secret handed out reached the log.
    let all = serde_json::to_string(&log).unwrap();
    for secret in [
        cred["password"].as_str().unwrap(),
        eab["hmac_key"].as_str().unwrap(),
        token.as_str(),
    ] {
        assert!(!all.contains(secret));
    }
    let (_, v) = s
        .api(reqwest::Method::GET, "/api/v1/audit/verify", &admin, None)
        .await;
    assert_eq!(v["valid"], true, "{v}");
    s.stop().await;
}

/// A ready order for `name`, finalized: (certificate DER, its key).
async fn issue(c: &mut Client, acct: &Account, name: &str) -> (Vec<u8>, Key) {
    let order = c
        .new_order(acct, json!([{"type": "dns", "value": name}]))
        .await
        .ok(201)
        .clone();
    assert_eq!(order["status"], "ready", "{order}");
    let key = Key::generate();
    let order = c
        .finalize(acct, &order, &csr(&key.rcgen(), None, &[name]))
        .await
        .ok(200)
        .clone();
    (c.certificate(acct, &order).await.remove(0), key)
}
