//! The dashboard's charts, drawn on the server as SVG text: certificates expiring per week,
//! issuance per day by channel, and counts by status.
//!
//! Pure functions of the figures and of [`ChartText`], the strings the caller takes from its
//! message catalogue, so every word on a chart is in the reader's language. Each chart is
//! readable without colour: every bar has its number written next to it, and the issuance
//! chart tells channels apart by fill pattern, with a legend that shows each pattern. The SVG
//! has no script, no `style` attribute (presentation attributes only, so a
//! `style-src 'self'` Content-Security-Policy lets it render inline), no external reference,
//! and carries its accessible name and description (`role="img"`, `<title>`, `<desc>`).

#[cfg(test)]
mod examples;
mod svg;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod xml;

use svg::{axis, escape, group, num, scale, text_width, truncate};

/// The translated words of one chart, supplied by the console's message catalogue so a chart
/// contains no hard-coded language.
#[derive(Debug, Clone, Default)]
pub struct ChartText {
    /// BCP 47 language tag of the strings ("ja", "en"): screen readers pick their voice and
    /// browsers their CJK glyph forms from it.
    pub lang: String,
    /// The chart's title, drawn at the top and used as its accessible name.
    pub title: String,
    /// A sentence or two saying what the chart shows, read by screen readers (`<desc>`).
    pub description: String,
    /// Caption of the axis the bars stand on (weeks, days, statuses).
    pub category_caption: String,
    /// Caption of the axis the bars' lengths are read on (number of certificates).
    pub value_caption: String,
    /// The bars' labels in order (week starts, days), already formatted in the reader's
    /// locale. Unused by [`status_counts`], whose labels come with the counts.
    pub categories: Vec<String>,
    /// Used for a bar without an entry in `categories`: `{n}` is replaced by the bar's
    /// 1-based position ("week {n}", "{n}週目").
    pub category_format: String,
    /// Legend names of the series in order (channel names in the reader's language); a
    /// series without one is shown by its `channel` key.
    pub series: Vec<String>,
}

impl ChartText {
    /// The label of bar `i` (0-based): its entry in `categories`, else `category_format`
    /// filled in.
    fn category(&self, i: usize) -> String {
        match self.categories.get(i) {
            Some(label) => label.clone(),
            None => self.category_format.replace("{n}", &(i + 1).to_string()),
        }
    }
}

/// Issuance per day by one channel, input of [`issuance_per_day`].
#[derive(Debug, Clone)]
pub struct ChannelSeries {
    /// The channel's key ("est", "acme", "scep", "pickup"), shown when `ChartText::series`
    /// has no name for it.
    pub channel: String,
    /// Certificates issued through the channel on each of the last 30 days, oldest first.
    pub per_day: [u64; 30],
}

/// Width of every chart's viewBox; the page scales it.
const WIDTH: f64 = 800.0;
/// Height of the value axis of the column charts.
const PLOT_HEIGHT: f64 = 240.0;
/// Font size of titles.
const TITLE_SIZE: f64 = 16.0;
/// Font size of axis captions, category labels and legend entries.
const LABEL_SIZE: f64 = 12.0;
/// Font size of tick labels and of the numbers next to bars.
const SMALL_SIZE: f64 = 11.0;
/// Colour of text, outlines and axes: near black, readable on white and in greyscale.
const INK: &str = "#1a1a1a";
/// Colour of grid lines, light enough not to be read as data.
const GRID: &str = "#d0d0d0";
/// Fill of single-series bars.
const BAR: &str = "#0072b2";
/// Series colours (Okabe–Ito, told apart by most colour-blind readers); patterns carry the
/// distinction, the colours only help.
const PALETTE: [&str; 8] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#999999",
];

/// Certificates expiring in each of the next 13 weeks, as a column chart with each week's
/// number above its column. `labels.categories` names the weeks.
pub fn expiry_by_week(counts: &[u64; 13], labels: &ChartText) -> String {
    let columns = Columns {
        id: "chart-expiry",
        text: labels,
        stacks: counts.iter().map(|&c| vec![c]).collect(),
        fills: vec![BAR.to_string()],
        names: vec![labels.value_caption.clone()],
        legend: false,
        defs: String::new(),
    };
    columns.render()
}

/// Issuance on each of the last 30 days, stacked by channel: each channel's segments are
/// filled with their own pattern (hatching, dots, lines…) over their own colour, a legend
/// shows each pattern with the channel's name and 30-day total, and each day's total is
/// written above its column. Patterns repeat after eight channels.
pub fn issuance_per_day(series: &[ChannelSeries], labels: &ChartText) -> String {
    let id = "chart-issuance";
    let mut defs = String::new();
    let mut fills = Vec::new();
    let mut names = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let pattern_id = format!("{id}-pattern-{i}");
        defs.push_str(&pattern(&pattern_id, i));
        fills.push(format!("url(#{pattern_id})"));
        names.push(labels.series.get(i).unwrap_or(&s.channel).clone());
    }
    let stacks = (0..30)
        .map(|day| series.iter().map(|s| s.per_day[day]).collect())
        .collect();
    let columns = Columns {
        id,
        text: labels,
        stacks,
        fills,
        names,
        legend: true,
        defs,
    };
    columns.render()
}

/// Counts by status as horizontal bars, each labelled with its status (truncated with "…"
/// when too long) and its number written after the bar. The labels are the caller's
/// translated status names; `labels.categories` is not used.
pub fn status_counts(counts: &[(String, u64)], labels: &ChartText) -> String {
    let id = "chart-status";
    let row = 28.0;
    let bar_height = 18.0;
    let top_of_rows = 56.0;

    let label_width = counts
        .iter()
        .map(|(l, _)| text_width(l, LABEL_SIZE))
        .fold(text_width(&labels.category_caption, LABEL_SIZE), f64::max)
        .min(220.0);
    let left = 10.0 + label_width + 10.0;
    let max = counts.iter().map(|&(_, c)| c as u128).max().unwrap_or(0);
    let number_width = counts
        .iter()
        .map(|&(_, c)| text_width(&group(c as u128), SMALL_SIZE))
        .fold(0.0, f64::max);
    // Tick labels sit side by side under the axis: take fewer ticks when long numbers would
    // overlap. The last one is centred on the axis end, so keep room for its half.
    let (mut step, mut top, mut plot_width) = (1, 1, 0.0);
    for ticks in (1..=5).rev() {
        (step, top) = axis(max, ticks);
        let tick_width = text_width(&group(top), SMALL_SIZE);
        plot_width = WIDTH - left - 10.0 - (number_width + 6.0).max(tick_width / 2.0);
        if plot_width * step as f64 / top as f64 >= tick_width + 12.0 {
            break;
        }
    }
    let bottom = top_of_rows + row * counts.len() as f64;
    let height = bottom + 50.0;

    let mut out = open(id, labels, height);
    out.push_str(&title(labels, 10.0));
    // The caption of the label column heads it.
    out.push_str(&format!(
        r#"<text x="{}" y="{}" text-anchor="end" font-size="{LABEL_SIZE}" font-weight="bold" fill="{INK}">{}</text>"#,
        num(left - 10.0),
        num(top_of_rows - 8.0),
        escape(&truncate(&labels.category_caption, label_width, LABEL_SIZE)),
    ));
    // Grid and ticks of the value axis.
    let mut tick = 0;
    while tick <= top {
        let x = left + scale(tick, top, plot_width);
        out.push_str(&format!(
            r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{GRID}" stroke-width="1"/><line x1="{x}" y1="{b}" x2="{x}" y2="{}" stroke="{INK}" stroke-width="1"/><text x="{x}" y="{}" text-anchor="middle" font-size="{SMALL_SIZE}" fill="{INK}">{}</text>"#,
            num(top_of_rows),
            num(bottom),
            num(bottom + 5.0),
            num(bottom + 18.0),
            group(tick),
            x = num(x),
            b = num(bottom),
        ));
        tick += step;
    }
    for (i, (label, count)) in counts.iter().enumerate() {
        let y = top_of_rows + row * i as f64 + (row - bar_height) / 2.0;
        let w = scale(*count as u128, top, plot_width);
        let shown = escape(&truncate(label, label_width, LABEL_SIZE));
        out.push_str(&format!(
            r#"<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle" font-size="{LABEL_SIZE}" fill="{INK}">{shown}</text>"#,
            num(left - 10.0),
            num(y + bar_height / 2.0),
        ));
        out.push_str(&format!(
            r#"<rect class="bar" data-value="{count}" x="{}" y="{}" width="{}" height="{bar_height}" fill="{BAR}" stroke="{INK}" stroke-width="0.75"><title>{}: {}</title></rect>"#,
            num(left),
            num(y),
            num(w),
            escape(label),
            group(*count as u128),
        ));
        out.push_str(&format!(
            r#"<text class="value" x="{}" y="{}" dominant-baseline="middle" font-size="{SMALL_SIZE}" fill="{INK}">{}</text>"#,
            num(left + w + 6.0),
            num(y + bar_height / 2.0),
            group(*count as u128),
        ));
    }
    // The axis lines: the bars start at the vertical one.
    out.push_str(&format!(
        r#"<line x1="{l}" y1="{}" x2="{l}" y2="{b}" stroke="{INK}" stroke-width="1"/><line x1="{l}" y1="{b}" x2="{}" y2="{b}" stroke="{INK}" stroke-width="1"/>"#,
        num(top_of_rows),
        num(left + plot_width),
        l = num(left),
        b = num(bottom),
    ));
    out.push_str(&format!(
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="{LABEL_SIZE}" fill="{INK}">{}</text>"#,
        num(left + plot_width / 2.0),
        num(bottom + 38.0),
        escape(&truncate(&labels.value_caption, plot_width, LABEL_SIZE)),
    ));
    out.push_str("</svg>");
    out
}

/// A column chart, stacked when there is more than one series: the shape of the expiry and
/// issuance charts.
struct Columns<'a> {
    /// Prefix of the ids inside the SVG (title, description, patterns).
    id: &'a str,
    /// The translated words.
    text: &'a ChartText,
    /// For each column, the value of each series, bottom first.
    stacks: Vec<Vec<u64>>,
    /// The `fill` of each series' segments.
    fills: Vec<String>,
    /// Each series' name, for the legend and the segments' tooltips.
    names: Vec<String>,
    /// Whether to draw a legend.
    legend: bool,
    /// Pattern definitions the fills refer to.
    defs: String,
}

impl Columns<'_> {
    /// Draws the chart.
    fn render(&self) -> String {
        let n = self.stacks.len().max(1);
        let totals: Vec<u128> = self
            .stacks
            .iter()
            .map(|s| s.iter().map(|&v| v as u128).sum())
            .collect();
        let max = totals.iter().copied().max().unwrap_or(0);
        let (step, top) = axis(max, 5);

        // Legend: one entry per series, wrapped into rows.
        let mut legend = String::new();
        let mut legend_rows = 0.0;
        if self.legend && !self.names.is_empty() {
            legend_rows = 1.0;
            let (mut x, y0) = (10.0, 42.0);
            for (i, name) in self.names.iter().enumerate() {
                let total: u128 = self.stacks.iter().map(|s| s[i] as u128).sum();
                let entry = format!("{} ({})", truncate(name, 200.0, LABEL_SIZE), group(total));
                let w = 18.0 + text_width(&entry, LABEL_SIZE) + 18.0;
                if x + w > WIDTH - 10.0 && x > 10.0 {
                    x = 10.0;
                    legend_rows += 1.0;
                }
                let y = y0 + (legend_rows - 1.0) * 22.0;
                legend.push_str(&format!(
                    r#"<g class="legend-entry"><rect x="{}" y="{}" width="14" height="14" fill="{}" stroke="{INK}" stroke-width="0.75"/><text x="{}" y="{}" dominant-baseline="middle" font-size="{LABEL_SIZE}" fill="{INK}">{}</text></g>"#,
                    num(x),
                    num(y),
                    self.fills[i],
                    num(x + 18.0),
                    num(y + 7.0),
                    escape(&entry),
                ));
                x += w;
            }
        }
        let plot_top = 36.0 + legend_rows * 22.0 + 8.0;

        // Margins: room for the rotated value caption and the tick labels.
        let tick_width = text_width(&group(top), SMALL_SIZE);
        let left = 10.0 + LABEL_SIZE + 8.0 + tick_width + 8.0;
        let plot_width = WIDTH - left - 10.0;
        let slot = plot_width / n as f64;
        let bar_width = slot * 0.7;

        // Numbers above columns: across when they fit the column's slot, else upright.
        let number_width = totals
            .iter()
            .map(|&t| text_width(&group(t), SMALL_SIZE))
            .fold(0.0, f64::max);
        let upright = number_width > slot - 2.0;
        let headroom = if upright {
            number_width + 8.0
        } else {
            SMALL_SIZE + 6.0
        };
        let axis_top = plot_top + headroom;
        let bottom = axis_top + PLOT_HEIGHT;

        // Category labels: every k-th column so that labels do not overlap.
        let label_width = (0..self.stacks.len())
            .map(|i| text_width(&self.text.category(i), SMALL_SIZE))
            .fold(0.0, f64::max);
        let every = (((label_width + 6.0) / slot).ceil() as usize).clamp(1, n);
        let label_room = every as f64 * slot - 6.0;
        let height = bottom + 56.0;

        let mut out = open(self.id, self.text, height);
        if !self.defs.is_empty() {
            out.push_str(&format!("<defs>{}</defs>", self.defs));
        }
        out.push_str(&title(self.text, 10.0));
        out.push_str(&legend);

        // Value axis: grid lines, ticks and their labels.
        let mut tick = 0;
        while tick <= top {
            let y = num(bottom - scale(tick, top, PLOT_HEIGHT));
            out.push_str(&format!(
                r#"<line x1="{l}" y1="{y}" x2="{}" y2="{y}" stroke="{GRID}" stroke-width="1"/><line x1="{}" y1="{y}" x2="{l}" y2="{y}" stroke="{INK}" stroke-width="1"/><text x="{}" y="{y}" text-anchor="end" dominant-baseline="middle" font-size="{SMALL_SIZE}" fill="{INK}">{}</text>"#,
                num(left + plot_width),
                num(left - 5.0),
                num(left - 8.0),
                group(tick),
                l = num(left),
            ));
            tick += step;
        }
        let mid = axis_top + PLOT_HEIGHT / 2.0;
        out.push_str(&format!(
            r#"<text x="{}" y="{}" transform="rotate(-90 {} {})" text-anchor="middle" dominant-baseline="middle" font-size="{LABEL_SIZE}" fill="{INK}">{}</text>"#,
            num(10.0 + LABEL_SIZE / 2.0),
            num(mid),
            num(10.0 + LABEL_SIZE / 2.0),
            num(mid),
            escape(&truncate(&self.text.value_caption, PLOT_HEIGHT, LABEL_SIZE)),
        ));

        for (i, stack) in self.stacks.iter().enumerate() {
            let x = left + slot * i as f64 + (slot - bar_width) / 2.0;
            let centre = left + slot * (i as f64 + 0.5);
            let category = self.text.category(i);
            let mut running: u128 = 0;
            for (s, &value) in stack.iter().enumerate() {
                // Each segment's edges come from running sums, so rounding never leaves gaps.
                let y_low = bottom - scale(running, top, PLOT_HEIGHT);
                running += value as u128;
                let y_high = bottom - scale(running, top, PLOT_HEIGHT);
                let tip = if self.stacks[0].len() > 1 {
                    format!("{}: {} {}", category, self.names[s], group(value as u128))
                } else {
                    format!("{}: {}", category, group(value as u128))
                };
                out.push_str(&format!(
                    r#"<rect class="bar" data-value="{value}" x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="{INK}" stroke-width="0.75"><title>{}</title></rect>"#,
                    num(x),
                    num(y_high),
                    num(bar_width),
                    num(y_low - y_high),
                    self.fills[s.min(self.fills.len() - 1)],
                    escape(&tip),
                ));
            }
            let y_top = bottom - scale(running, top, PLOT_HEIGHT) - 5.0;
            let number = group(running);
            if upright {
                out.push_str(&format!(
                    r#"<text class="value" x="{c}" y="{y}" transform="rotate(-90 {c} {y})" dominant-baseline="middle" font-size="{SMALL_SIZE}" fill="{INK}">{number}</text>"#,
                    c = num(centre),
                    y = num(y_top),
                ));
            } else {
                out.push_str(&format!(
                    r#"<text class="value" x="{}" y="{}" text-anchor="middle" font-size="{SMALL_SIZE}" fill="{INK}">{number}</text>"#,
                    num(centre),
                    num(y_top),
                ));
            }
            // A tick under every column; a label under every `every`-th.
            out.push_str(&format!(
                r#"<line x1="{c}" y1="{}" x2="{c}" y2="{}" stroke="{INK}" stroke-width="1"/>"#,
                num(bottom),
                num(bottom + 5.0),
                c = num(centre),
            ));
            if i % every == 0 {
                // Centred labels near either edge get only the room up to that edge.
                let room = label_room
                    .min(2.0 * (centre - 2.0))
                    .min(2.0 * (WIDTH - 2.0 - centre));
                out.push_str(&format!(
                    r#"<text x="{}" y="{}" text-anchor="middle" font-size="{SMALL_SIZE}" fill="{INK}">{}</text>"#,
                    num(centre),
                    num(bottom + 18.0),
                    escape(&truncate(&category, room, SMALL_SIZE)),
                ));
            }
        }
        out.push_str(&format!(
            r#"<line x1="{l}" y1="{}" x2="{l}" y2="{b}" stroke="{INK}" stroke-width="1"/><line x1="{l}" y1="{b}" x2="{}" y2="{b}" stroke="{INK}" stroke-width="1"/>"#,
            num(axis_top),
            num(left + plot_width),
            l = num(left),
            b = num(bottom),
        ));
        out.push_str(&format!(
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="{LABEL_SIZE}" fill="{INK}">{}</text>"#,
            num(left + plot_width / 2.0),
            num(bottom + 42.0),
            escape(&truncate(&self.text.category_caption, plot_width, LABEL_SIZE)),
        ));
        out.push_str("</svg>");
        out
    }
}

/// The opening of a chart: the `svg` element with its id (`chart-expiry`, `chart-issuance`,
/// `chart-status`: stable, for pages and tests to find it), size, language and accessible name
/// and description, on a white background.
fn open(id: &str, text: &ChartText, height: f64) -> String {
    let height = num(height);
    let lang = escape(&text.lang);
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" id="{id}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-labelledby="{id}-title" aria-describedby="{id}-desc" lang="{lang}" xml:lang="{lang}" font-family="sans-serif"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc><rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>"##,
        escape(&text.title),
        escape(&text.description),
    )
}

/// The visible title, at the top left.
fn title(text: &ChartText, x: f64) -> String {
    format!(
        r#"<text x="{}" y="24" font-size="{TITLE_SIZE}" font-weight="bold" fill="{INK}">{}</text>"#,
        num(x),
        escape(&truncate(&text.title, WIDTH - x - 10.0, TITLE_SIZE)),
    )
}

/// The fill pattern of series `i`: its palette colour, lightened, under dark marks whose
/// shape differs per series (diagonal hatching, dots, horizontal lines, cross-hatching,
/// vertical lines, reverse hatching, grid, plain), so series stay apart in greyscale and for
/// readers who do not tell the colours apart.
fn pattern(id: &str, i: usize) -> String {
    let colour = PALETTE[i % PALETTE.len()];
    let marks = match i % 8 {
        0 => {
            r##"<path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" stroke="#1a1a1a" stroke-width="1.5"/>"##
        }
        1 => r##"<circle cx="4" cy="4" r="1.8" fill="#1a1a1a"/>"##,
        2 => r##"<path d="M0,4 h8" stroke="#1a1a1a" stroke-width="1.5"/>"##,
        3 => r##"<path d="M0,0 l8,8 M8,0 l-8,8" stroke="#1a1a1a" stroke-width="1"/>"##,
        4 => r##"<path d="M4,0 v8" stroke="#1a1a1a" stroke-width="1.5"/>"##,
        5 => r##"<path d="M-2,6 l4,4 M0,0 l8,8 M6,-2 l4,4" stroke="#1a1a1a" stroke-width="1.5"/>"##,
        6 => r##"<path d="M0,4 h8 M4,0 v8" stroke="#1a1a1a" stroke-width="1"/>"##,
        _ => "",
    };
    let opacity = if marks.is_empty() { "1" } else { "0.55" };
    format!(
        r##"<pattern id="{id}" width="8" height="8" patternUnits="userSpaceOnUse"><rect x="0" y="0" width="8" height="8" fill="#ffffff"/><rect x="0" y="0" width="8" height="8" fill="{colour}" fill-opacity="{opacity}"/>{marks}</pattern>"##
    )
}
