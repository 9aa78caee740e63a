//! `GET /metrics`: a `read` token scrapes the Prometheus text format; issuance over EST and a
//! pickup link is counted by channel and profile, errors by kind, latency by route template;
//! the store gauges come from a scan at most a minute old (of the injected clock).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use enrolld::clock::{Clock, ManualClock};
use rcgen::KeyPair;
use serde_json::json;

/// One sample of the exposition.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parser of the text format 0.0.4, strict about what enrolld writes: every sample belongs
/// to a family declared by `# TYPE` before it (histogram samples by their `_bucket`, `_sum`,
/// `_count` suffix), label values are quoted with `\\`, `\"` and `\n` escapes, values are
/// numbers, and no series appears twice.
fn parse(text: &str) -> Vec<Sample> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                types.insert(name.into(), kind.into()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "stray line {line:?}"
        );
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i..]),
            None => line.split_at(line.find(' ').expect("sample value")),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{name}"
        );
        let mut labels = BTreeMap::new();
        let rest = if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices();
            let mut end = None;
            loop {
                let mut key = String::new();
                for (i, c) in chars.by_ref() {
                    match c {
                        '=' => break,
                        '}' if key.is_empty() => {
                            end = Some(i);
                            break;
                        }
                        c => key.push(c),
                    }
                }
                if end.is_some() {
                    break;
                }
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                let mut value = String::new();
                loop {
                    match chars.next().expect("unterminated label value").1 {
                        '\\' => match chars.next().unwrap().1 {
                            'n' => value.push('\n'),
                            c @ ('\\' | '"') => value.push(c),
                            c => panic!("bad escape \\{c} in {line}"),
                        },
                        '"' => break,
                        c => value.push(c),
                    }
                }
                assert!(labels.insert(key, value).is_none(), "label twice: {line}");
                match chars.next().expect("label list ends") {
                    (_, ',') => continue,
                    (i, '}') => {
                        end = Some(i);
                        break;
                    }
                    (_, c) => panic!("unexpected {c:?} in {line}"),
                }
            }
            &body[end.unwrap() + 1..]
        } else {
            rest
        };
        let value: f64 = rest.trim().parse().unwrap_or_else(|_| panic!("{line}"));
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "no TYPE before {line}");
        assert!(
            seen.insert(format!("{name}{labels:?}")),
            "series twice: {line}"
        );
        out.push(Sample {
            name: name.into(),
            labels,
            value,
        });
    }
    out
}

fn series<'a>(samples: &'a [Sample], name: &str) -> Vec<&'a Sample> {
    samples.iter().filter(|s| s.name == name).collect()
}

/// The one value of `name` with exactly these labels.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found: Vec<_> = samples
        .iter()
        .filter(|s| s.name == name && s.labels == want)
        .collect();
    assert_eq!(found.len(), 1, "{name}{want:?} in {samples:#?}");
    found[0].value
}

/// `le` bounds of a route's buckets ascend, ending at +Inf; counts never fall; the +Inf
/// bucket equals `_count`. Returns `_count`.
fn check_histogram(samples: &[Sample], route: &str) -> f64 {
    let name = "enrolld_http_request_duration_seconds";
    let buckets: Vec<(f64, f64)> = series(samples, &format!("{name}_bucket"))
        .into_iter()
        .filter(|s| s.labels["route"] == route)
        .map(|s| {
            assert_eq!(s.labels.len(), 2, "{s:?}");
            let le = match s.labels["le"].as_str() {
                "+Inf" => f64::INFINITY,
                b => b.parse().unwrap(),
            };
            (le, s.value)
        })
        .collect();
    assert!(buckets.len() > 2, "{route}: {buckets:?}");
    for w in buckets.windows(2) {
        assert!(w[0].0 < w[1].0, "{route}: bounds ascend: {buckets:?}");
        assert!(w[0].1 <= w[1].1, "{route}: cumulative: {buckets:?}");
    }
    let (last_le, last) = *buckets.last().unwrap();
    assert!(last_le.is_infinite());
    let count = value(samples, &format!("{name}_count"), &[("route", route)]);
    assert_eq!(last, count, "{route}: +Inf bucket equals _count");
    assert!(value(samples, &format!("{name}_sum"), &[("route", route)]) >= 0.0);
    count
}

async fn token_with(s: &Server, scopes: &[&str]) -> String {
    let (st, t) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/tokens",
            &s.admin_token(),
            Some(json!({"name": scopes.join("+"), "scopes": scopes})),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

async fn scrape(s: &Server, token: Option<&str>) -> reqwest::Response {
    let mut r = s.client().get(s.url("/metrics"));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap()
}

async fn scrape_ok(s: &Server, token: &str) -> (String, Vec<Sample>) {
    let r = scrape(s, Some(token)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

/// `promtool check metrics` (Debian's `prometheus` package, installed by .ci/run) agrees that
/// the exposition is well formed and follows Prometheus's naming conventions; skipped where
/// promtool is not installed.
fn promtool_agrees(text: &str) {
    use std::io::Write;
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed: the exposition is checked by this test's parser only");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A pickup link for a new person; returns the person's id and the link.
async fn person_link(s: &Server, ext: &str) -> (String, String) {
    let (st, r) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/people",
            &s.admin_token(),
            Some(json!({"external_id": ext, "email": format!("{ext}@corp.example"), "display_name": ext})),
        )
        .await;
    assert_eq!(st, 201, "{r}");
    let id = r["subject"]["id"].as_str().unwrap().to_owned();
    let (st, v) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &s.admin_token(),
            Some(json!({"kind": "pickup"})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    (id, v["url"].as_str().unwrap().to_owned())
}

async fn est_enroll(s: &Server, user: &str, pass: &str, csr_der: &[u8]) -> reqwest::Response {
    s.client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/pkcs10")
        .body(b64(csr_der))
        .send()
        .await
        .unwrap()
}

const PROFILES: &str =
    "[profiles.device]\nvalidity_days = 20\n[profiles.person]\nvalidity_days = 60\n";

#[tokio::test]
async fn a_read_token_scrapes_issuance_errors_latency_and_store_gauges() {
    let clock = Arc::new(ManualClock::starting_now());
    let s = Server::start_with_clock(PROFILES, clock.clone()).await;
    let read = token_with(&s, &["read"]).await;
    let register = token_with(&s, &["register"]).await;

    // The auth rule: no token 401 (with a Bearer challenge), a token without `read` 403.
    let r = scrape(&s, None).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(scrape(&s, Some(&register)).await.status(), 403);
    assert_eq!(scrape(&s, Some("not-a-token")).await.status(), 401);

    // EST: one certificate (profile device); a wrong password is a 401.
    let (u, p) = s
        .credential(json!({"common_name": "dev1.example", "sans": ["dev1.example"]}))
        .await;
    let key = KeyPair::generate().unwrap();
    let r = est_enroll(&s, &u, &p, &csr(&key, None, &[])).await;
    assert_eq!(r.status(), 200);
    let est_cert = certs_from_pkcs7(&r.text().await.unwrap()).remove(0);
    let r = est_enroll(&s, &u, "wrong-password", &csr(&key, None, &[])).await;
    assert_eq!(r.status(), 401);
    let (u2, p2) = s
        .credential(json!({"common_name": "dev2.example", "sans": ["dev2.example"]}))
        .await;
    let r = est_enroll(&s, &u2, &p2, &csr(&KeyPair::generate().unwrap(), None, &[])).await;
    assert_eq!(r.status(), 200);

    // A pickup link: one certificate (profile person, the subject's kind).
    let (person, link) = person_link(&s, "m1").await;
    let r = s
        .client()
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=p256")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A 404 on no route; three requests on one route.
    let r = s
        .client()
        .get(s.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    for _ in 0..3 {
        let r = s
            .client()
            .get(s.url("/acme/directory"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    let (text, m) = scrape_ok(&s, &read).await;
    promtool_agrees(&text);

    // Issuance: exactly one series per (channel, profile) that issued.
    let issued: Vec<_> = series(&m, "enrolld_certificates_issued_total")
        .into_iter()
        .map(|s| {
            (
                s.labels["channel"].clone(),
                s.labels["profile"].clone(),
                s.value,
            )
        })
        .collect();
    assert_eq!(
        issued,
        vec![
            ("est-simpleenroll".into(), "device".into(), 2.0),
            ("pickup".into(), "person".into(), 1.0)
        ]
    );

    // Errors by the error table's kind: two 401s of /metrics and the EST 401, the 403, the 404.
    let errors: BTreeMap<String, f64> = series(&m, "enrolld_http_errors_total")
        .into_iter()
        .map(|s| (s.labels["kind"].clone(), s.value))
        .collect();
    assert_eq!(
        errors,
        BTreeMap::from([
            ("forbidden".into(), 1.0),
            ("notFound".into(), 1.0),
            ("unauthorized".into(), 3.0)
        ])
    );

    // Latency: route templates only, buckets cumulative, _count = requests made.
    assert_eq!(check_histogram(&m, "/acme/directory"), 3.0);
    assert_eq!(check_histogram(&m, "unmatched"), 1.0);
    assert_eq!(check_histogram(&m, "/.well-known/est/{op}"), 3.0);
    assert_eq!(check_histogram(&m, "/pickup/{token}"), 1.0);
    // The three refused scrapes; this one is counted once it has answered.
    assert_eq!(check_histogram(&m, "/metrics"), 3.0);
    let token = link.rsplit('/').next().unwrap();
    assert!(!text.contains(token), "a pickup link never becomes a label");
    assert!(!text.contains("/no/such/route"));

    // Store gauges.
    for (status, n) in [
        ("valid", 3.0),
        ("expired", 0.0),
        ("revoked", 0.0),
        ("on_hold", 0.0),
    ] {
        assert_eq!(
            value(&m, "enrolld_certificates", &[("status", status)]),
            n,
            "{status}"
        );
    }
    // device: 20 days, person: 60 days.
    for (within, n) in [("7d", 0.0), ("30d", 2.0), ("90d", 3.0)] {
        let got = value(&m, "enrolld_certificates_expiring", &[("within", within)]);
        assert_eq!(got, n, "{within}");
    }
    assert!(value(&m, "enrolld_store_bytes", &[]) > 0.0);
    assert_eq!(value(&m, "enrolld_approvals_pending", &[]), 0.0);
    assert_eq!(value(&m, "enrolld_crl_age_seconds", &[]), 0.0);
    let t0 = clock.now() as f64;
    assert_eq!(
        value(&m, "enrolld_crl_this_update_timestamp_seconds", &[]),
        t0
    );
    assert_eq!(
        value(&m, "enrolld_inventory_scan_timestamp_seconds", &[]),
        t0
    );
    assert_eq!(
        value(
            &m,
            "enrolld_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    // A minute later the store is counted again; the CRL, not due, has aged.
    clock.advance(61);
    let (_, m) = scrape_ok(&s, &read).await;
    assert_eq!(value(&m, "enrolld_crl_age_seconds", &[]), 61.0);
    assert_eq!(check_histogram(&m, "/metrics"), 4.0);

    // A revocation shows at the next scan, not before: scrapes within a minute share one.
    let (st, _) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/certificates/{}/revoke", serial_hex(&est_cert)),
            &s.admin_token(),
            Some(json!({"reason": "keyCompromise"})),
        )
        .await;
    assert_eq!(st, 200);
    clock.advance(59);
    let (_, m) = scrape_ok(&s, &read).await;
    assert_eq!(
        value(&m, "enrolld_certificates", &[("status", "valid")]),
        3.0
    );
    assert_eq!(
        value(&m, "enrolld_certificates", &[("status", "revoked")]),
        0.0
    );
    clock.advance(1);
    let (_, m) = scrape_ok(&s, &read).await;
    assert_eq!(
        value(&m, "enrolld_certificates", &[("status", "valid")]),
        2.0
    );
    assert_eq!(
        value(&m, "enrolld_certificates", &[("status", "revoked")]),
        1.0
    );
    // The revoked certificate leaves the expiry windows; the CRL was made anew for it.
    assert_eq!(
        value(&m, "enrolld_certificates_expiring", &[("within", "30d")]),
        1.0
    );
    assert_eq!(
        value(&m, "enrolld_certificates_expiring", &[("within", "90d")]),
        2.0
    );
    assert_eq!(value(&m, "enrolld_crl_age_seconds", &[]), 0.0);

    // 21 days on, the second device's certificate (20 days) has expired; suspending the
    // person puts theirs on hold.
    clock.advance(21 * 86400);
    let (st, v) = s
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/subjects/{person}"),
            &s.admin_token(),
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, m) = scrape_ok(&s, &read).await;
    for (status, n) in [
        ("valid", 0.0),
        ("expired", 1.0),
        ("revoked", 1.0),
        ("on_hold", 1.0),
    ] {
        assert_eq!(
            value(&m, "enrolld_certificates", &[("status", status)]),
            n,
            "{status}"
        );
    }
    for within in ["7d", "30d", "90d"] {
        assert_eq!(
            value(&m, "enrolld_certificates_expiring", &[("within", within)]),
            0.0
        );
    }
    // Issuance counters did not move.
    assert_eq!(
        value(
            &m,
            "enrolld_certificates_issued_total",
            &[("channel", "est-simpleenroll"), ("profile", "device")]
        ),
        2.0
    );
    assert_eq!(series(&m, "enrolld_certificates_issued_total").len(), 2);
}

/// The parser this file relies on refuses what the format forbids.
#[test]
fn the_parser_refuses_malformed_expositions() {
    let ok = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\\\"q\"} 1\n";
    assert_eq!(parse(ok)[0].labels["k"], "v\"q");
    for bad in [
        "a_total 1\n",                    // no TYPE
        "# TYPE a counter\na{k=\"v} 1\n", // unterminated
        "# TYPE a counter\na 1\na 2\n",   // series twice
        "# TYPE a counter\na x\n",        // not a number
        "# TYPE a counter\na{k=\"v\"} 1", // no final newline
    ] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "{bad:?}");
    }
}

/// The plain-HTTP listener's requests are timed and counted into the same registry, by route
/// template; it serves no `/metrics` of its own. An `admin` token scrapes too.
#[tokio::test]
async fn the_plain_listener_is_counted_and_serves_no_metrics() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = Server::start(&format!("http_listen = \"127.0.0.1:{port}\"\n")).await;
    let plain = s.client();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..2 {
        let r = plain
            .get(format!("{base}/crl/issuing.crl"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = plain
        .get(format!("{base}/metrics"))
        .bearer_auth(s.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (_, m) = scrape_ok(&s, &s.admin_token()).await;
    assert_eq!(check_histogram(&m, "/crl/issuing.crl"), 2.0);
    assert_eq!(check_histogram(&m, "unmatched"), 1.0);
    assert_eq!(
        value(&m, "enrolld_http_errors_total", &[("kind", "notFound")]),
        1.0
    );
}
