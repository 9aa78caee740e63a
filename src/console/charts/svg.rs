//! What the three charts share: XML escaping, number and coordinate formatting, text-width
//! estimates with truncation, and "nice" axis steps.

/// Escapes text for an XML attribute value or character data: the five special characters,
/// and characters XML 1.0 forbids (C0 controls, U+FFFE, U+FFFF) become U+FFFD so a label can
/// never make the document ill-formed. Tabs and line breaks become spaces: labels are one line.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Writes a count with a comma every three digits ("1,234,567"), the grouping both English
/// and Japanese readers expect.
pub(super) fn group(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Writes a coordinate with at most two decimals and no trailing zeros; anything not finite
/// is written as 0, so no "NaN" or "inf" can reach the SVG.
pub(super) fn num(x: f64) -> String {
    let x = if x.is_finite() {
        (x * 100.0).round() / 100.0
    } else {
        0.0
    };
    // Turns -0 into 0.
    let x = if x == 0.0 { 0.0 } else { x };
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Whether a character is drawn about one em wide (CJK ideographs, kana, hangul, full-width
/// forms) rather than about 0.6 em like Latin letters and digits.
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x2026
        | 0x20000..=0x3FFFD)
}

/// An estimate of the width of `s` drawn in a sans-serif font of `font_size`: the charts size
/// margins and decide where labels fit without measuring glyphs (no font is loaded here).
pub(super) fn text_width(s: &str, font_size: f64) -> f64 {
    s.chars()
        .map(|c| if is_wide(c) { 1.0 } else { 0.62 })
        .sum::<f64>()
        * font_size
}

/// Shortens `s` to fit `max_width` (estimated), ending it with "…" when anything was cut.
pub(super) fn truncate(s: &str, max_width: f64, font_size: f64) -> String {
    if text_width(s, font_size) <= max_width {
        return s.to_string();
    }
    let budget = max_width - text_width("…", font_size);
    let mut used = 0.0;
    let mut out = String::new();
    for c in s.chars() {
        let w = text_width(c.encode_utf8(&mut [0; 4]), font_size);
        if used + w > budget {
            break;
        }
        used += w;
        out.push(c);
    }
    let mut out = out.trim_end().to_string();
    out.push('…');
    out
}

/// The step and top of a value axis for data up to `max`: the step is 1, 2 or 5 × 10ⁿ, chosen
/// so the axis has at most `max_ticks` intervals, and the top is the first step at or above
/// `max`. All-zero data gets the axis 0–1, so scaling never divides by zero.
pub(super) fn axis(max: u128, max_ticks: u128) -> (u128, u128) {
    if max == 0 {
        return (1, 1);
    }
    let raw = max.div_ceil(max_ticks.max(1));
    let mut power: u128 = 1;
    loop {
        for m in [1, 2, 5] {
            let step = m * power;
            if step >= raw {
                return (step, max.div_ceil(step) * step);
            }
        }
        power *= 10;
    }
}

/// The length on screen of `value` on an axis from 0 to `top` drawn `length` long.
pub(super) fn scale(value: u128, top: u128, length: f64) -> f64 {
    if top == 0 {
        return 0.0;
    }
    value as f64 / top as f64 * length
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_the_five_and_forbidden_controls() {
        assert_eq!(
            escape(r#"<a b="c" d='e'>&"#),
            "&lt;a b=&quot;c&quot; d=&apos;e&apos;&gt;&amp;"
        );
        assert_eq!(escape("a\u{0}b\nc"), "a\u{FFFD}b c");
    }

    #[test]
    fn group_inserts_commas() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(u64::MAX as u128), "18,446,744,073,709,551,615");
    }

    #[test]
    fn num_never_writes_nan_or_negative_zero() {
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(f64::INFINITY), "0");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(100.0), "100");
        assert_eq!(num(1.006), "1.01");
    }

    #[test]
    fn truncate_cuts_wide_text_with_an_ellipsis() {
        assert_eq!(truncate("短い", 100.0, 10.0), "短い");
        let cut = truncate("とても長い状態の名前です", 50.0, 10.0);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(text_width(&cut, 10.0) <= 50.0, "{cut}");
        assert_eq!(cut, "とても長…");
    }

    #[test]
    fn axis_steps_are_nice_and_cover_the_maximum() {
        assert_eq!(axis(0, 5), (1, 1));
        assert_eq!(axis(1, 5), (1, 1));
        assert_eq!(axis(7, 5), (2, 8));
        assert_eq!(axis(100, 5), (20, 100));
        assert_eq!(axis(101, 5), (50, 150));
        let (step, top) = axis(u64::MAX as u128, 5);
        assert!(top >= u64::MAX as u128 && top / step <= 5);
    }
}
