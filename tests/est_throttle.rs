//! Backoff after failed EST Basic authentications, per (username, client address), identical
//! for known and unknown usernames.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::*;
use serde_json::json;

async fn attempt(s: &Server, from: IpAddr, user: &str, pass: &str) -> (u16, Option<String>) {
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(s.rustls_config())
        .local_address(from)
        .resolve("localhost", s.addr)
        .build()
        .unwrap();
    let r = client
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&rcgen::KeyPair::generate().unwrap(), None, &[])))
        .send()
        .await
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), retry)
}

#[tokio::test]
async fn failed_basic_auth_backs_off_per_user_and_address() {
    let s = Server::start("").await;
    let (user, pass) = s
        .credential(json!({"common_name": "victim", "uses": 5}))
        .await;
    let a = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let b = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    for name in [user.as_str(), "est-nosuchuser"] {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(attempt(&s, a, name, "wrong").await);
        }
        // Five failures are free; the sixth attempt backs off with Retry-After. (Later ones
        // back off for 2, 4, 8… seconds; on a slow machine a wait may expire between two
        // attempts, so they are 429 or 401 — never a success.)
        assert!(
            statuses[..5].iter().all(|(c, _)| *c == 401),
            "{name}: {statuses:?}"
        );
        assert!(
            statuses[5].0 == 429 && statuses[5].1.is_some(),
            "{name}: {statuses:?}"
        );
        assert!(
            statuses[5..].iter().all(|(c, _)| *c == 429 || *c == 401),
            "{name}: {statuses:?}"
        );
        assert!(
            statuses[5..].iter().filter(|(c, _)| *c == 429).count() >= 3,
            "{name}: {statuses:?}"
        );
    }
    // Even the right password is refused from that address while it backs off. The loop
    // above may have outlasted the wait on a loaded machine, and a wait of 1 s may end at
    // any moment, so first fail until the server says at least 2 s remain: let a short
    // wait run out, fail once more (a counted failure doubles the wait), ask again…
    let mut long_wait = false;
    for _ in 0..12 {
        let (code, retry) = attempt(&s, a, &user, "wrong").await;
        assert!(code == 429 || code == 401, "wrong password gave {code}");
        let secs = retry.as_deref().and_then(|v| v.parse::<u64>().ok());
        match (code, secs) {
            (429, Some(n)) if n >= 2 => {
                long_wait = true;
                break;
            }
            (429, Some(n)) => {
                tokio::time::sleep(std::time::Duration::from_millis(n * 1000 + 200)).await
            }
            _ => {}
        }
    }
    assert!(long_wait, "the backoff never reached 2 s");
    assert_eq!(attempt(&s, a, &user, &pass).await.0, 429);
    // …but the device enrols from another address: no per-username lockout.
    assert_eq!(attempt(&s, b, &user, &pass).await.0, 200);
    s.stop().await;
}
