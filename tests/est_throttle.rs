//! Backoff after failed EST Basic authentications, per (username, client address), identical
//! for known and unknown usernames.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use common::*;
use enrolld::clock::ManualClock;
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
    // Time stands still unless the test moves it: no wait can run out between two attempts.
    let clock = Arc::new(ManualClock::starting_now());
    let s = Server::start_with_clock("", clock.clone()).await;
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
        // Five failures are free; every later attempt backs off with Retry-After.
        assert!(
            statuses[..5].iter().all(|(c, _)| *c == 401),
            "{name}: {statuses:?}"
        );
        assert!(
            statuses[5..]
                .iter()
                .all(|(c, retry)| *c == 429 && retry.is_some()),
            "{name}: {statuses:?}"
        );
    }
    // Even the right password is refused from that address while it backs off…
    let (code, retry) = attempt(&s, a, &user, &pass).await;
    assert_eq!(code, 429);
    let wait: i64 = retry.unwrap().parse().unwrap();
    assert!(wait >= 1, "{wait}");
    // …but the device enrols from another address: no per-username lockout.
    assert_eq!(attempt(&s, b, &user, &pass).await.0, 200);
    // A moment before the wait ends it is still refused; once it has passed, the right
    // password enrols from the first address too.
    clock.advance(wait - 1);
    assert_eq!(attempt(&s, a, &user, &pass).await.0, 429);
    clock.advance(1);
    assert_eq!(attempt(&s, a, &user, &pass).await.0, 200);
    s.stop().await;
}
