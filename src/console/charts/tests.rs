//! Tests of the charts: each SVG is parsed back by a strict little XML reader, and the
//! assertions read what a browser would draw.

use super::xml::{parse, Node};
use super::*;

pub(super) fn english(title: &str) -> ChartText {
    ChartText {
        lang: "en".into(),
        title: title.into(),
        description: "What the chart shows.".into(),
        category_caption: "Week starting".into(),
        value_caption: "Certificates".into(),
        categories: vec![],
        category_format: "W{n}".into(),
        series: vec![],
    }
}

pub(super) fn japanese(title: &str) -> ChartText {
    ChartText {
        lang: "ja".into(),
        title: title.into(),
        description: "今後13週間に期限が切れる証明書の数。".into(),
        category_caption: "週の開始日".into(),
        value_caption: "証明書の数".into(),
        categories: (0..30).map(|i| format!("{}月{}日", 12, i + 1)).collect(),
        category_format: "{n}週目".into(),
        series: vec![
            "EST".into(),
            "ACME".into(),
            "SCEP".into(),
            "受け取りリンク".into(),
        ],
    }
}

pub(super) fn series(values: &[[u64; 30]]) -> Vec<ChannelSeries> {
    let keys = [
        "est", "acme", "scep", "pickup", "five", "six", "seven", "eight", "nine",
    ];
    values
        .iter()
        .zip(keys)
        .map(|(v, k)| ChannelSeries {
            channel: k.into(),
            per_day: *v,
        })
        .collect()
}

fn day_ramp(factor: u64) -> [u64; 30] {
    std::array::from_fn(|d| d as u64 * factor)
}

/// The SVGs that most tests look at: every chart, in both languages, with ordinary, zero,
/// huge and empty data.
fn samples() -> Vec<String> {
    let week = [3, 0, 12, 40, 7, 7, 1, 0, 0, 90, 2, 5, 11];
    let mut out = Vec::new();
    for t in [english("Expiring"), japanese("期限切れ")] {
        out.push(expiry_by_week(&week, &t));
        out.push(expiry_by_week(&[0; 13], &t));
        out.push(expiry_by_week(&[u64::MAX; 13], &t));
        out.push(issuance_per_day(
            &series(&[day_ramp(1), day_ramp(2), [0; 30]]),
            &t,
        ));
        out.push(issuance_per_day(&series(&[[u64::MAX; 30]; 4]), &t));
        out.push(issuance_per_day(&[], &t));
        out.push(status_counts(
            &[("valid".into(), 10), ("revoked".into(), 3)],
            &t,
        ));
        out.push(status_counts(
            &[("valid".into(), 0), ("revoked".into(), 0)],
            &t,
        ));
        out.push(status_counts(&[("x".into(), u64::MAX)], &t));
        out.push(status_counts(&[], &t));
    }
    out
}

/// The root's viewBox as (width, height).
fn view_box(root: &Node) -> (f64, f64) {
    let v: Vec<f64> = root
        .attr("viewBox")
        .expect("viewBox")
        .split(' ')
        .map(|x| x.parse().expect("viewBox number"))
        .collect();
    assert_eq!(&v[..2], &[0.0, 0.0]);
    (v[2], v[3])
}

#[test]
fn every_chart_is_well_formed_with_an_accessible_name_inside_its_view_box() {
    for svg in samples() {
        let root = parse(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert_eq!(root.name, "svg");
        assert_eq!(root.attr("role"), Some("img"));
        assert_eq!(root.attr("font-family"), Some("sans-serif"));
        let (w, h) = view_box(&root);
        let title = &root.children[0];
        let desc = &root.children[1];
        assert_eq!((title.name.as_str(), desc.name.as_str()), ("title", "desc"));
        assert!(!title.text.is_empty() && !desc.text.is_empty());
        assert_eq!(root.attr("aria-labelledby"), title.attr("id"));
        assert_eq!(root.attr("aria-describedby"), desc.attr("id"));
        for n in root.all() {
            for (a, v) in &n.attrs {
                if matches!(
                    a.as_str(),
                    "x" | "y" | "x1" | "x2" | "y1" | "y2" | "width" | "height"
                ) {
                    let v: f64 = v.parse().unwrap_or_else(|_| panic!("{a}={v}"));
                    let limit = if a.starts_with('x') || a == "width" {
                        w
                    } else {
                        h
                    };
                    assert!((-2.0..=limit).contains(&v), "{a}={v} outside {w}x{h}");
                }
            }
        }
    }
}

#[test]
fn no_script_style_event_handler_or_external_reference() {
    for svg in samples() {
        assert!(!svg.contains("<script") && !svg.contains("style="), "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        let root = parse(&svg).unwrap();
        for n in root.all() {
            assert!(!matches!(
                n.name.as_str(),
                "script" | "style" | "image" | "use" | "a" | "foreignObject"
            ));
            for (a, v) in &n.attrs {
                assert!(
                    !a.starts_with("on") && !a.contains("href") && a != "style",
                    "{a}"
                );
                if v.contains("url(") {
                    assert!(v.starts_with("url(#"), "{a}={v}");
                }
            }
        }
        // The only namespace is SVG's own, which names and fetches nothing.
        assert_eq!(svg.matches("http").count(), 1);
    }
}

fn heights(root: &Node) -> Vec<(u64, f64)> {
    root.with_class("bar")
        .iter()
        .map(|r| {
            (
                r.attr("data-value").unwrap().parse().unwrap(),
                r.f("height"),
            )
        })
        .collect()
}

#[test]
fn expiry_bar_heights_are_proportional_to_the_counts_with_each_number_written() {
    let week = [3, 0, 12, 40, 7, 7, 1, 0, 0, 90, 2, 5, 11];
    let root = parse(&expiry_by_week(&week, &english("Expiring"))).unwrap();
    let bars = heights(&root);
    assert_eq!(bars.iter().map(|b| b.0).collect::<Vec<_>>(), week);
    let (max_value, max_height) = bars[9];
    assert!(max_height > 100.0);
    for (v, h) in &bars {
        let expected = *v as f64 / max_value as f64 * max_height;
        assert!(
            (h - expected).abs() < 0.02,
            "{v} drawn {h}, expected {expected}"
        );
    }
    let values: Vec<&str> = root
        .with_class("value")
        .iter()
        .map(|t| t.text.as_str())
        .collect();
    let expected: Vec<String> = week.iter().map(|v| v.to_string()).collect();
    assert_eq!(values, expected);
    // Bars stand on one baseline.
    let rects = root.with_class("bar");
    let base = rects[0].f("y") + rects[0].f("height");
    assert!(rects
        .iter()
        .all(|r| (r.f("y") + r.f("height") - base).abs() < 0.02));
}

#[test]
fn zero_data_draws_zero_height_bars_and_a_zero_to_one_axis() {
    let t = english("Expiring");
    for svg in [
        expiry_by_week(&[0; 13], &t),
        issuance_per_day(&series(&[[0; 30], [0; 30]]), &t),
    ] {
        let root = parse(&svg).unwrap();
        let bars = heights(&root);
        assert!(!bars.is_empty());
        assert!(bars.iter().all(|&(v, h)| v == 0 && h == 0.0), "{bars:?}");
        let texts = root.texts();
        assert!(texts.contains(&"0") && texts.contains(&"1"), "{texts:?}");
    }
    let root = parse(&status_counts(&[("valid".into(), 0)], &t)).unwrap();
    assert_eq!(root.with_class("bar")[0].f("width"), 0.0);
    assert_eq!(root.with_class("value")[0].text, "0");
}

#[test]
fn huge_numbers_are_written_in_full_and_fit() {
    let t = english("Expiring");
    let root = parse(&expiry_by_week(&[u64::MAX; 13], &t)).unwrap();
    let values = root.with_class("value");
    assert_eq!(values.len(), 13);
    assert!(values
        .iter()
        .all(|v| v.text == "18,446,744,073,709,551,615"));
    // Too wide to sit across a column, so written upright.
    assert!(values[0]
        .attr("transform")
        .unwrap()
        .starts_with("rotate(-90"));
    let bars = heights(&root);
    assert!(bars
        .iter()
        .all(|&(_, h)| h > 0.0 && (h - bars[0].1).abs() < 0.02));

    // Four channels of u64::MAX a day sum beyond u64 without overflowing.
    let root = parse(&issuance_per_day(&series(&[[u64::MAX; 30]; 4]), &t)).unwrap();
    assert_eq!(
        root.with_class("value")[0].text,
        "73,786,976,294,838,206,460"
    );
}

#[test]
fn issuance_segments_are_proportional_and_stacked_without_gaps() {
    let data = [day_ramp(1), day_ramp(3), [5; 30]];
    let root = parse(&issuance_per_day(&series(&data), &japanese("発行数"))).unwrap();
    let rects = root.with_class("bar");
    assert_eq!(rects.len(), 90);
    let total_29 = 29 + 87 + 5;
    let column_29 = &rects[87..90];
    let drawn: f64 = column_29.iter().map(|r| r.f("height")).sum();
    for (day, column) in rects.chunks(3).enumerate() {
        for (s, r) in column.iter().enumerate() {
            let expected = data[s][day] as f64 / total_29 as f64 * drawn;
            assert!(
                (r.f("height") - expected).abs() < 0.03,
                "day {day} series {s}"
            );
        }
        // Each segment sits on the one below it.
        for pair in column.windows(2) {
            assert!((pair[0].f("y") - (pair[1].f("y") + pair[1].f("height"))).abs() < 0.02);
        }
    }
    let totals: Vec<&str> = root
        .with_class("value")
        .iter()
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(totals[0], "5");
    assert_eq!(totals[29], "121");
}

#[test]
fn legend_has_one_entry_per_channel_each_with_its_own_pattern() {
    let data = [day_ramp(1), day_ramp(2), [1; 30], [0; 30], [2; 30]];
    let root = parse(&issuance_per_day(&series(&data), &japanese("発行数"))).unwrap();
    let entries = root.with_class("legend-entry");
    assert_eq!(entries.len(), 5);
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e.named("text")[0].text.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "EST (435)",
            "ACME (870)",
            "SCEP (30)",
            "受け取りリンク (0)",
            "five (60)"
        ],
        "named from ChartText::series, else by the channel key, with the 30-day total"
    );
    let fills: Vec<&str> = entries
        .iter()
        .map(|e| e.named("rect")[0].attr("fill").unwrap())
        .collect();
    let patterns = root.named("pattern");
    assert_eq!(patterns.len(), 5);
    let mut seen_marks = Vec::new();
    for (fill, pattern) in fills.iter().zip(&patterns) {
        let id = pattern.attr("id").unwrap();
        assert_eq!(*fill, format!("url(#{id})"));
        // The marks (everything but the background rects) differ between channels.
        let marks = format!(
            "{:?}",
            &pattern.children[2..]
                .iter()
                .map(|c| (&c.name, &c.attrs))
                .collect::<Vec<_>>()
        );
        assert!(!seen_marks.contains(&marks), "pattern {id} repeats another");
        seen_marks.push(marks);
    }
    let mut ids: Vec<&str> = patterns.iter().map(|p| p.attr("id").unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    // A column's segments wear their channel's pattern.
    let column: Vec<&str> = root.with_class("bar")[5..10]
        .iter()
        .map(|r| r.attr("fill").unwrap())
        .collect();
    assert_eq!(column, fills);
}

#[test]
fn script_in_any_label_is_escaped_and_read_back_as_text() {
    let evil = "<script>alert('x')</script> & \"q\"";
    let t = ChartText {
        lang: "en\"><script>".into(),
        title: evil.into(),
        description: evil.into(),
        category_caption: evil.into(),
        value_caption: evil.into(),
        categories: vec![evil.into(); 30],
        category_format: evil.into(),
        series: vec![evil.into()],
    };
    let charts = [
        expiry_by_week(&[1; 13], &t),
        issuance_per_day(&series(&[[1; 30]]), &t),
        status_counts(&[(evil.into(), 1)], &t),
    ];
    for svg in charts {
        assert!(!svg.contains("<script"), "{svg}");
        let root = parse(&svg).unwrap();
        assert_eq!(root.children[0].text, evil);
        assert_eq!(root.children[1].text, evil);
        assert_eq!(root.attr("lang"), Some("en\"><script>"));
        let texts = root.texts();
        assert!(texts.iter().any(|t| t.starts_with("<script>")), "{texts:?}");
    }
}

#[test]
fn japanese_text_survives_everywhere() {
    let t = japanese("今後13週間の期限切れ");
    let svg = expiry_by_week(&[1; 13], &t);
    let root = parse(&svg).unwrap();
    assert_eq!(root.attr("lang"), Some("ja"));
    assert_eq!(root.children[0].text, "今後13週間の期限切れ");
    assert_eq!(
        root.children[1].text,
        "今後13週間に期限が切れる証明書の数。"
    );
    let texts = root.texts();
    for expected in [
        "今後13週間の期限切れ",
        "週の開始日",
        "証明書の数",
        "12月1日",
    ] {
        assert!(texts.contains(&expected), "{expected} not in {texts:?}");
    }
    let root = parse(&status_counts(
        &[("有効".into(), 5), ("失効".into(), 2)],
        &t,
    ))
    .unwrap();
    let texts = root.texts();
    assert!(
        texts.contains(&"有効") && texts.contains(&"失効"),
        "{texts:?}"
    );
}

#[test]
fn labels_come_from_categories_else_from_the_format() {
    let mut t = english("Expiring");
    t.categories = vec!["Dec 7".into()];
    let root = parse(&expiry_by_week(&[1; 13], &t)).unwrap();
    let texts = root.texts();
    assert!(
        texts.contains(&"Dec 7") && texts.contains(&"W2") && texts.contains(&"W13"),
        "{texts:?}"
    );
}

#[test]
fn crowded_day_labels_are_thinned_not_overlapped() {
    let t = japanese("発行数");
    let root = parse(&issuance_per_day(&series(&[[1; 30]]), &t)).unwrap();
    let shown: Vec<&Node> = root
        .named("text")
        .into_iter()
        .filter(|n| n.text.contains('月'))
        .collect();
    assert!(shown.len() > 3 && shown.len() < 30, "{}", shown.len());
    for pair in shown.windows(2) {
        let gap = pair[1].f("x") - pair[0].f("x");
        assert!(
            gap >= svg::text_width(&pair[0].text, SMALL_SIZE),
            "labels overlap"
        );
    }
}

#[test]
fn long_status_labels_are_cut_with_an_ellipsis_but_kept_whole_in_the_tooltip() {
    let long = "失効(鍵の危殆化のため管理者が取り消した証明書の非常に長い説明)";
    let root = parse(&status_counts(
        &[(long.into(), 4), ("有効".into(), 9)],
        &japanese("状態"),
    ))
    .unwrap();
    let label = root
        .named("text")
        .into_iter()
        .find(|n| n.text.starts_with("失効"))
        .unwrap();
    assert!(label.text.ends_with('…') && label.text.chars().count() < long.chars().count());
    assert_eq!(
        root.with_class("bar")[0].named("title")[0].text,
        format!("{long}: 4")
    );
    // Widths are proportional and the number follows its bar.
    let bars = root.with_class("bar");
    let values = root.with_class("value");
    assert!((bars[0].f("width") / bars[1].f("width") - 4.0 / 9.0).abs() < 0.001);
    for (b, v) in bars.iter().zip(&values) {
        assert!(v.f("x") > b.f("x") + b.f("width"));
    }
    assert_eq!(values[1].text, "9");
}

#[test]
fn axes_have_ticks_from_zero_to_a_round_top() {
    let root = parse(&expiry_by_week(
        &[3, 0, 12, 40, 7, 7, 1, 0, 0, 90, 2, 5, 11],
        &english("E"),
    ))
    .unwrap();
    let texts = root.texts();
    for tick in ["0", "20", "40", "60", "80", "100"] {
        assert!(texts.contains(&tick), "{tick} not in {texts:?}");
    }
    let root = parse(&status_counts(&[("a".into(), 1234)], &english("S"))).unwrap();
    let texts = root.texts();
    for tick in ["0", "500", "1,000", "1,500", "1,234"] {
        assert!(texts.contains(&tick), "{tick} not in {texts:?}");
    }
}

/// The horizontal extent of a `<text>` as drawn, by the same width estimate the charts use,
/// or for upright text its vertical extent.
fn extent(t: &Node) -> (f64, f64) {
    let w = svg::text_width(&t.text, t.f("font-size"));
    let (at, upright) = match t.attr("transform") {
        Some(r) if r.starts_with("rotate(-90") => (t.f("y"), true),
        _ => (t.f("x"), false),
    };
    let (low, high) = match t.attr("text-anchor") {
        Some("middle") => (at - w / 2.0, at + w / 2.0),
        Some("end") => (at - w, at),
        _ => (at, at + w),
    };
    // Upright text starts at its anchor and runs upwards.
    if upright {
        (2.0 * at - high, 2.0 * at - low)
    } else {
        (low, high)
    }
}

#[test]
fn every_text_fits_inside_the_view_box_even_with_long_labels_and_huge_numbers() {
    let mut t = japanese(&"とても長いタイトル".repeat(10));
    t.category_caption = "週の開始日".repeat(40);
    t.value_caption = "証明書の数".repeat(40);
    t.categories = vec!["とても長い週のラベルとても長い".into(); 30];
    t.series = vec!["とても長いチャネル名".repeat(5); 9];
    let mut charts = samples();
    charts.push(expiry_by_week(
        &[u64::MAX, 1, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 1],
        &t,
    ));
    charts.push(issuance_per_day(&series(&[[u64::MAX; 30]; 9]), &t));
    charts.push(status_counts(
        &[
            ("とても長い状態の名前".repeat(9), u64::MAX),
            ("x".into(), 0),
        ],
        &t,
    ));
    for svg in charts {
        let root = parse(&svg).unwrap();
        let (w, h) = view_box(&root);
        for text in root.named("text") {
            let (low, high) = extent(text);
            let limit = if text.attr("transform").is_some() {
                h
            } else {
                w
            };
            assert!(
                low >= 0.0 && high <= limit,
                "{:?} spans {low}..{high} of {limit}",
                text.text
            );
        }
    }
}

#[test]
fn tick_labels_of_huge_counts_do_not_overlap() {
    let root = parse(&status_counts(&[("x".into(), u64::MAX)], &english("S"))).unwrap();
    let ticks: Vec<&Node> = root
        .named("text")
        .into_iter()
        .filter(|t| t.text.ends_with(",000"))
        .collect();
    assert!(!ticks.is_empty());
    for pair in ticks.windows(2) {
        let (_, end) = extent(pair[0]);
        let (start, _) = extent(pair[1]);
        assert!(
            end < start,
            "{:?} overlaps {:?}",
            pair[0].text,
            pair[1].text
        );
    }
}
