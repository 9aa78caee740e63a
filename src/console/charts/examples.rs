//! The example charts of docs/images/charts/: one of each chart in each language.

use super::tests::{english, japanese, series};
use super::xml::parse;
use super::*;

/// Writes one example of each chart in each language to docs/images/charts/, for
/// docs/console.md and for looking at in a browser. Runs only with
/// ENROLLD_WRITE_CHART_EXAMPLES=1; otherwise it only checks that the examples parse.
#[test]
fn examples() {
    let mut en_weeks = english("Certificates expiring in the next 13 weeks");
    en_weeks.description =
        "Number of certificates whose validity ends in each of the next 13 weeks.".into();
    en_weeks.categories = vec![
        "Dec 7", "Dec 14", "Dec 21", "Dec 28", "Jan 4", "Jan 11", "Jan 18", "Jan 25", "Feb 1",
        "Feb 8", "Feb 15", "Feb 22", "Mar 1",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let mut ja_weeks = japanese("今後13週間に期限が切れる証明書");
    ja_weeks.categories = vec![
        "12月7日",
        "12月14日",
        "12月21日",
        "12月28日",
        "1月4日",
        "1月11日",
        "1月18日",
        "1月25日",
        "2月1日",
        "2月8日",
        "2月15日",
        "2月22日",
        "3月1日",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let weeks = [12, 30, 7, 0, 45, 18, 3, 260, 22, 9, 14, 0, 31];

    let days: Vec<String> = (0..30)
        .map(|d| {
            if d < 27 {
                format!("Nov {}", d + 4)
            } else {
                format!("Dec {}", d - 26)
            }
        })
        .collect();
    let ja_days: Vec<String> = (0..30)
        .map(|d| {
            if d < 27 {
                format!("11月{}日", d + 4)
            } else {
                format!("12月{}日", d - 26)
            }
        })
        .collect();
    let mut en_days = english("Certificates issued per day, last 30 days");
    en_days.description = "Certificates issued on each of the last 30 days, stacked by channel: EST, ACME, SCEP and pickup links.".into();
    en_days.category_caption = "Day".into();
    en_days.categories = days;
    en_days.series = vec![
        "EST".into(),
        "ACME".into(),
        "SCEP".into(),
        "Pickup link".into(),
    ];
    let mut ja_days_text = japanese("過去30日間の1日あたりの発行数");
    ja_days_text.description = "過去30日間の各日に発行された証明書の数。チャネル(EST、ACME、SCEP、受け取りリンク)別に積み上げ。".into();
    ja_days_text.category_caption = "日付".into();
    ja_days_text.categories = ja_days;
    let channels = series(&[
        std::array::from_fn(|d| 20 + (d as u64 * 7) % 13),
        std::array::from_fn(|d| 5 + (d as u64 * 5) % 9),
        std::array::from_fn(|d| (d as u64 * 3) % 4),
        std::array::from_fn(|d| if d % 7 == 2 { 12 } else { 1 }),
    ]);

    let mut en_status = english("Certificates by status");
    en_status.description = "Number of certificates in each status.".into();
    en_status.category_caption = "Status".into();
    let mut ja_status = japanese("状態別の証明書");
    ja_status.description = "状態ごとの証明書の数。".into();
    ja_status.category_caption = "状態".into();
    let en_counts: Vec<(String, u64)> = [
        ("Valid", 18_432),
        ("Expiring within 30 days", 1_207),
        ("Expired", 3_310),
        ("Revoked", 214),
        ("Suspended", 9),
    ]
    .into_iter()
    .map(|(s, c)| (s.to_string(), c))
    .collect();
    let ja_counts: Vec<(String, u64)> = [
        ("有効", 18_432),
        ("30日以内に期限切れ", 1_207),
        ("期限切れ", 3_310),
        ("失効", 214),
        ("一時停止", 9),
    ]
    .into_iter()
    .map(|(s, c)| (s.to_string(), c))
    .collect();

    let files = [
        ("expiry-by-week.en.svg", expiry_by_week(&weeks, &en_weeks)),
        ("expiry-by-week.ja.svg", expiry_by_week(&weeks, &ja_weeks)),
        (
            "issuance-per-day.en.svg",
            issuance_per_day(&channels, &en_days),
        ),
        (
            "issuance-per-day.ja.svg",
            issuance_per_day(&channels, &ja_days_text),
        ),
        (
            "status-counts.en.svg",
            status_counts(&en_counts, &en_status),
        ),
        (
            "status-counts.ja.svg",
            status_counts(&ja_counts, &ja_status),
        ),
    ];
    for (_, svg) in &files {
        parse(svg).unwrap();
    }
    if std::env::var("ENROLLD_WRITE_CHART_EXAMPLES").as_deref() == Ok("1") {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images/charts");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, svg) in files {
            std::fs::write(dir.join(name), format!("{svg}\n")).unwrap();
        }
    }
}
