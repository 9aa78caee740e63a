//! The dashboard's chart of issuance per day by channel: certificates issued over EST and a
//! pickup link show on today's column in both languages, the same figures as `/metrics`, and
//! they are still there after a restart (the store keeps the counts).

mod common;

use common::console::*;
use common::*;
use rcgen::KeyPair;
use serde_json::json;

/// An EST `simpleenroll` with a fresh credential: one certificate on the `est` group.
async fn est_enroll(s: &Server, cn: &str) {
    let (u, p) = s.credential(json!({ "common_name": cn })).await;
    let r = s
        .client()
        .post(s.url("/.well-known/est/simpleenroll"))
        .basic_auth(&u, Some(&p))
        .header("content-type", "application/pkcs10")
        .body(b64(&csr(&KeyPair::generate().unwrap(), None, &[])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A person with a pickup link, spent with a key the server generates: one certificate on
/// the `pickup` group.
async fn pickup(s: &Server, ext: &str) {
    let admin = s.admin_token();
    let (st, v) = s
        .api(
            reqwest::Method::POST,
            "/api/v1/people",
            &admin,
            Some(json!({"external_id": ext, "email": format!("{ext}@corp.example"), "display_name": ext})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let id = v["subject"]["id"].as_str().unwrap().to_owned();
    let (st, v) = s
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/subjects/{id}/credentials"),
            &admin,
            Some(json!({"kind": "pickup"})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let r = s
        .client()
        .post(v["url"].as_str().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("action=generate&key=p256")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The issuance chart of a dashboard page: the `<svg id="chart-issuance">` element.
fn issuance_svg(body: &str) -> &str {
    let at = body
        .find("<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"chart-issuance\"")
        .expect("the issuance chart");
    &body[at..at + body[at..].find("</svg>").unwrap()]
}

/// The tooltips (`<title>` of each bar segment) of the chart's last column, today's: five
/// channel groups stacked, so the last five segments.
fn todays_segments(svg: &str) -> Vec<String> {
    let titles: Vec<String> = svg
        .split("<rect class=\"bar\"")
        .skip(1)
        .map(|r| {
            let t = r.split("<title>").nth(1).unwrap();
            t.split("</title>").next().unwrap().to_owned()
        })
        .collect();
    assert_eq!(titles.len(), 30 * 5, "30 days of 5 channel groups");
    titles[titles.len() - 5..].to_vec()
}

/// The value of the metric line `name` (labels included).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .parse()
        .unwrap()
}

async fn metrics(s: &Server, token: &str) -> String {
    let r = s
        .client()
        .get(s.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// What the dashboard shows for today in English and Japanese, checked against `/metrics`.
async fn check_today(s: &Server) {
    let (token, _) = token_with(s, "viewer", &["read"]).await;
    let en = signed_in(s, &token, "en").await;
    let page = get(s, &en, "/console/").await;
    assert_eq!(page.status, 200);
    let svg = issuance_svg(&page.body);
    assert!(svg.contains("role=\"img\"") && !svg.contains("<script"));
    assert!(svg.contains(">Certificates issued per day, last 30 days, by channel</title>"));
    let today = todays_segments(svg);
    let day = today[0].split(':').next().unwrap().to_owned();
    assert_eq!(
        today,
        [
            "EST 2",
            "ACME 0",
            "SCEP 0",
            "Pickup links 1",
            "Administrator and other 0"
        ]
        .map(|t| format!("{day}: {t}"))
    );
    // The legend names each channel with its 30-day total; the column its day's total.
    assert!(svg.contains(">EST (2)</text>"), "{svg}");
    assert!(svg.contains(">Pickup links (1)</text>"));
    assert_eq!(
        svg.split("class=\"value\"")
            .last()
            .and_then(|t| t.split('>').nth(1))
            .map(|t| t.trim_end_matches("</text")),
        Some("3")
    );
    let m = metrics(s, &token).await;
    for (group, n) in [
        ("est", 2),
        ("acme", 0),
        ("scep", 0),
        ("pickup", 1),
        ("other", 0),
    ] {
        let today = format!("enrolld_certificates_issued_today{{channel_group=\"{group}\"}}");
        let month = format!("enrolld_certificates_issued_30d{{channel_group=\"{group}\"}}");
        assert_eq!((metric(&m, &today), metric(&m, &month)), (n, n), "{group}");
    }

    let ja = signed_in(s, &token, "ja").await;
    let page = get(s, &ja, "/console/").await;
    let svg = issuance_svg(&page.body);
    assert!(svg.contains("lang=\"ja\""));
    assert!(svg.contains(">過去30日間の日別発行数（経路別）</title>"));
    let today = todays_segments(svg);
    assert!(today[0].ends_with(": EST 2"), "{today:?}");
    assert!(today[3].ends_with(": 受け取りリンク 1"), "{today:?}");
}

#[tokio::test]
async fn issuance_per_day_shows_on_todays_column_and_survives_a_restart() {
    let s = Server::start("").await;
    est_enroll(&s, "dev1.example").await;
    est_enroll(&s, "dev2.example").await;
    pickup(&s, "p1").await;
    check_today(&s).await;

    let dir = s.stop().await;
    let s = Server::start_in(dir, "").await;
    check_today(&s).await;
}
