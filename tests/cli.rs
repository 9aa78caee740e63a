//! `enrolld admin` (issue 4, CLI): the built binary driven against a server on 127.0.0.1:0,
//! checking its output and exit statuses (0 ok, 2 refused, 3 unreachable).

mod common;

use std::process::Output;

use common::*;
use serde_json::Value;

/// Runs `enrolld admin ARGS` with the connection in flags (nothing from the environment).
async fn admin(s: &Server, token: &str, args: &[&str]) -> Output {
    let mut full: Vec<String> = vec![
        "admin".into(),
        "--url".into(),
        s.base.clone(),
        "--ca-bundle".into(),
        s.data("ca-bundle.pem").to_string_lossy().into_owned(),
        "--token".into(),
        token.into(),
    ];
    full.extend(args.iter().map(|a| a.to_string()));
    run(full, &[]).await
}

/// Runs the binary off the async runtime, so the server on this runtime keeps answering.
async fn run(args: Vec<String>, envs: &[(&str, String)]) -> Output {
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_enrolld"));
        c.args(&args)
            .env_remove("ENROLLD_URL")
            .env_remove("ENROLLD_TOKEN")
            .env_remove("ENROLLD_CA_BUNDLE");
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    })
    .await
    .unwrap()
}

fn json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn admin_cli_registers_imports_and_respects_scopes() {
    let s = Server::start("").await;
    let admin_token = s.admin_token();

    // A person is added and listed.
    let added = json(
        &admin(
            &s,
            &admin_token,
            &[
                "people",
                "add",
                "--external-id",
                "hr-1001",
                "--email",
                "ann@corp.example",
                "--display-name",
                "Ann Example",
                "--department",
                "Finance & Ops",
            ],
        )
        .await,
    );
    assert_eq!(added["result"], "created");
    let ann = added["subject"]["id"].as_str().unwrap().to_owned();
    let listed = json(
        &admin(
            &s,
            &admin_token,
            &[
                "subjects",
                "list",
                "--kind",
                "person",
                "--department",
                "Finance & Ops",
            ],
        )
        .await,
    );
    let ids: Vec<&str> = listed["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["hr-1001"]);
    let got = json(&admin(&s, &admin_token, &["subjects", "get", &ann]).await);
    assert_eq!(got["email"], "ann@corp.example");

    // A device with repeated --dns-name.
    let dev = json(
        &admin(
            &s,
            &admin_token,
            &[
                "devices",
                "add",
                "--external-id",
                "mdm-7",
                "--name",
                "laptop-7",
                "--dns-name",
                "laptop-7.corp.example",
                "--dns-name",
                "l7.corp.example",
                "--owner",
                "hr-1001",
            ],
        )
        .await,
    );
    assert_eq!(dev["subject"]["dns_names"].as_array().unwrap().len(), 2);

    // CSV import: two good rows, one bad one reported without losing the others.
    let csv = s.dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "kind,external_id,email,display_name,department\n\
         person,hr-2001,bob@corp.example,\"Doe, Bob\",Sales\n\
         person,hr-2002,cy@corp.example,Cy,Sales\n\
         person,hr-2003,not-an-address,Dee,Sales\n",
    )
    .unwrap();
    let imported = json(
        &admin(
            &s,
            &admin_token,
            &["subjects", "import", csv.to_str().unwrap()],
        )
        .await,
    );
    assert_eq!(imported["rows"], 3, "{imported}");
    assert_eq!(imported["errors"], 1, "{imported}");
    assert_eq!(imported["results"][0]["result"], "created");
    assert_eq!(imported["results"][2]["result"], "error");
    let sales = json(
        &admin(
            &s,
            &admin_token,
            &["subjects", "list", "--department", "Sales"],
        )
        .await,
    );
    assert_eq!(sales["subjects"].as_array().unwrap().len(), 2);

    // A read-only token: reading works, registering is refused with 403 → exit 2.
    let tok = json(
        &admin(
            &s,
            &admin_token,
            &[
                "tokens",
                "create",
                "--name",
                "reporting",
                "--scope",
                "read",
                "--expires-in",
                "1h",
            ],
        )
        .await,
    );
    assert_eq!(tok["scopes"], serde_json::json!(["read"]));
    let read_token = tok["token"].as_str().unwrap().to_owned();
    let certs = json(
        &admin(
            &s,
            &read_token,
            &["certificates", "list", "--status", "good"],
        )
        .await,
    );
    assert!(certs["certificates"].is_array(), "{certs}");
    let refused = admin(
        &s,
        &read_token,
        &[
            "people",
            "add",
            "--external-id",
            "hr-9",
            "--email",
            "x@corp.example",
            "--display-name",
            "X",
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("403") && stderr(&refused).contains("token lacks scope register"),
        "{}",
        stderr(&refused)
    );
    assert!(refused.stdout.is_empty());

    // The token is listed, then revoked; afterwards it gets 401 → exit 2.
    let list = json(&admin(&s, &admin_token, &["tokens", "list"]).await);
    let token_id = tok["id"].as_str().unwrap();
    assert!(list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == token_id));
    let revoked = admin(&s, &admin_token, &["tokens", "revoke", token_id]).await;
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    let gone = admin(&s, &read_token, &["certificates", "list"]).await;
    assert_eq!(gone.status.code(), Some(2));
    assert!(stderr(&gone).contains("401"), "{}", stderr(&gone));

    // A wrong token: 401 → exit 2.
    let wrong = admin(&s, "nope.nope", &["subjects", "list"]).await;
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));
    assert!(
        stderr(&wrong).contains("invalid or expired admin token"),
        "{}",
        stderr(&wrong)
    );

    // Suspension and the audit chain, through the environment instead of flags.
    let envs = [
        ("ENROLLD_URL", s.base.clone()),
        ("ENROLLD_TOKEN", admin_token.clone()),
        (
            "ENROLLD_CA_BUNDLE",
            s.data("ca-bundle.pem").to_string_lossy().into_owned(),
        ),
    ];
    let args = |a: &[&str]| -> Vec<String> {
        std::iter::once("admin")
            .chain(a.iter().copied())
            .map(str::to_owned)
            .collect()
    };
    let suspended = json(&run(args(&["subjects", "set-status", &ann, "suspended"]), &envs).await);
    assert_eq!(suspended["status"], "suspended");
    let audit = json(&run(args(&["audit", "list", "--limit", "1000"]), &envs).await);
    assert!(audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "subject.suspended" && e["target"] == ann.as_str()));
    let verified = json(&run(args(&["audit", "verify-remote"]), &envs).await);
    assert_eq!(verified["valid"], true);

    // Not found → exit 2; nobody listening → exit 3.
    let missing = admin(&s, &admin_token, &["certificates", "get", "0abc"]).await;
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut down = args(&["tokens", "list"]);
    down.extend(["--url".to_owned(), format!("https://localhost:{closed}")]);
    let unreachable = run(down, &envs).await;
    assert_eq!(
        unreachable.status.code(),
        Some(3),
        "{}",
        stderr(&unreachable)
    );

    // A CA bundle that does not hold the server's CA: the TLS handshake fails → exit 3.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let bogus = s.dir.path().join("other-ca.pem");
    std::fs::write(&bogus, other.cert.pem()).unwrap();
    let mut untrusted = args(&["tokens", "list"]);
    untrusted.extend([
        "--ca-bundle".to_owned(),
        bogus.to_string_lossy().into_owned(),
    ]);
    let tls = run(untrusted, &envs).await;
    assert_eq!(tls.status.code(), Some(3), "{}", stderr(&tls));
    assert!(stderr(&tls).contains("TLS"), "{}", stderr(&tls));

    s.stop().await;
}

#[tokio::test]
async fn admin_cli_issues_and_revokes() {
    let s = Server::start("").await;
    let t = s.admin_token();
    let dev = json(
        &admin(
            &s,
            &t,
            &[
                "devices",
                "add",
                "--external-id",
                "mdm-1",
                "--name",
                "printer-1",
                "--dns-name",
                "printer-1.corp.example",
            ],
        )
        .await,
    );
    let id = dev["subject"]["id"].as_str().unwrap().to_owned();
    let cred = json(
        &admin(
            &s,
            &t,
            &["credentials", "create", &id, "est", "--expires-in", "2h"],
        )
        .await,
    );
    let (user, pass) = (
        cred["username"].as_str().unwrap().to_owned(),
        cred["password"].as_str().unwrap().to_owned(),
    );
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(&user, Some(&pass))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(
            &rcgen::KeyPair::generate().unwrap(),
            Some("printer-1"),
            &[],
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let der = certs_from_pkcs7(&r.text().await.unwrap()).remove(0);
    let serial = serial_hex(&der);

    let inv = json(&admin(&s, &t, &["certificates", "list", "--subject-id", &id]).await);
    assert_eq!(inv["certificates"][0]["serial"], serial.as_str());
    let pem_out = admin(&s, &t, &["certificates", "get", &serial, "--pem"]).await;
    assert!(pem_out.status.success());
    assert_eq!(String::from_utf8_lossy(&pem_out.stdout), pem(&der));
    let revoked = json(
        &admin(
            &s,
            &t,
            &[
                "certificates",
                "revoke",
                &serial,
                "--reason",
                "keyCompromise",
            ],
        )
        .await,
    );
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation_reason"], "keyCompromise");
    let bad = admin(
        &s,
        &t,
        &["certificates", "revoke", &serial, "--reason", "because"],
    )
    .await;
    assert_eq!(bad.status.code(), Some(2));

    // Other credential kinds and the loose shortcuts.
    let eab = json(&admin(&s, &t, &["credentials", "create", &id, "acme"]).await);
    assert!(
        eab["kid"].is_string() && eab["hmac_key"].is_string(),
        "{eab}"
    );
    let loose = json(
        &admin(
            &s,
            &t,
            &[
                "eab",
                "create",
                "--identifier",
                "dns:*.lab.example",
                "--expires-in",
                "1d",
            ],
        )
        .await,
    );
    let withdrawn = admin(&s, &t, &["eab", "withdraw", loose["kid"].as_str().unwrap()]).await;
    assert!(withdrawn.status.success(), "{}", stderr(&withdrawn));
    let est = json(
        &admin(
            &s,
            &t,
            &[
                "est-credentials",
                "create",
                "--common-name",
                "kiosk-3",
                "--san",
                "dns:kiosk-3.corp.example",
            ],
        )
        .await,
    );
    assert!(est["password"].is_string());
    let approvals = json(&admin(&s, &t, &["approvals", "list"]).await);
    assert_eq!(approvals["approvals"], serde_json::json!([]));
    s.stop().await;
}
