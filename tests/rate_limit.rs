//! Per-address request limit: past it, 429 with Retry-After; status endpoints are exempt.

mod common;

use common::*;

#[tokio::test]
async fn one_address_is_limited_per_second() {
    let s = Server::start("[limits]\nrequests_per_ip_per_second = 5\n").await;
    // Start at the beginning of a one-second window so the count is not split.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(
        1000 - now.subsec_millis() as u64 + 20,
    ))
    .await;
    let client = s.client();
    let mut codes = Vec::new();
    for _ in 0..8 {
        let r = client
            .get(s.url("/api/v1/certificates"))
            .send()
            .await
            .unwrap();
        let retry = r.headers().get("retry-after").is_some();
        codes.push((r.status().as_u16(), retry));
    }
    // Five per second pass (401: no token); then 429 with Retry-After. A slow machine may roll
    // into the next second mid-way, which lets up to five more through.
    assert!(codes[..5].iter().all(|(c, _)| *c == 401), "{codes:?}");
    assert!(codes.iter().any(|(c, _)| *c == 429), "{codes:?}");
    assert!(
        codes.iter().all(|(c, r)| *c == 401 || (*c == 429 && *r)),
        "{codes:?}"
    );
    // CRLs and OCSP stay reachable for relying parties.
    let r = s
        .client()
        .get(s.url("/crl/issuing.crl"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The next second, the address may ask again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = s
        .client()
        .get(s.url("/api/v1/certificates"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}
