//! The messages of the dashboard's issuance chart and of the approvals page's key column.

/// English.
pub static EN: &[(&str, &str)] = &[
    ("chart.issued.title", "Certificates issued per day, last 30 days, by channel"),
    ("chart.issued.desc", "Stacked column chart: one column per UTC day, oldest first and today last. Each channel's part of a column has its own fill pattern, shown in the legend with the channel's total for the 30 days; the number above a column is that day's total."),
    ("chart.issued.days", "Day (UTC)"),
    ("group.pickup", "Pickup links"),
    ("group.other", "Administrator and other"),
    ("appr.key", "Key"),
    ("appr.key_unknown", "Not recorded"),
];

/// Japanese.
pub static JA: &[(&str, &str)] = &[
    ("chart.issued.title", "過去30日間の日別発行数（経路別）"),
    ("chart.issued.desc", "積み上げ縦棒グラフ：UTCの1日ごとに1本、左が古く右端が今日です。経路ごとに塗りの模様が異なり、凡例に模様と30日間の合計を示します。棒の上の数字はその日の合計です。"),
    ("chart.issued.days", "日付（UTC）"),
    ("group.pickup", "受け取りリンク"),
    ("group.other", "管理者・その他"),
    ("appr.key", "鍵"),
    ("appr.key_unknown", "記録なし"),
];
