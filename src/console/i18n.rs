//! The console's languages: one message catalogue per language, keyed by message id, the
//! language a browser asks for (`Accept-Language`, RFC 9110 §12.5.4) and dates written the way
//! each language writes them. Every string a page shows comes from here.

mod base;
mod dashboard_approvals;
mod import;
mod mail;
mod pickup;
mod register;
mod smime;

/// One group of pages' messages in every language. A group keeps its messages in its own file
/// under `i18n/`, so the pages of one feature and their words change together.
struct Section {
    /// The English messages.
    en: &'static [(&'static str, &'static str)],
    /// The Japanese messages: the same keys.
    ja: &'static [(&'static str, &'static str)],
}

/// Every section of the catalogue. A key is unique across all of them (a test checks).
static SECTIONS: &[Section] = &[
    Section {
        en: base::EN,
        ja: base::JA,
    },
    Section {
        en: register::EN,
        ja: register::JA,
    },
    Section {
        en: pickup::EN,
        ja: pickup::JA,
    },
    Section {
        en: dashboard_approvals::EN,
        ja: dashboard_approvals::JA,
    },
    Section {
        en: mail::EN,
        ja: mail::JA,
    },
    Section {
        en: import::EN,
        ja: import::JA,
    },
    Section {
        en: smime::EN,
        ja: smime::JA,
    },
];

/// A language the console speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Japanese.
    Ja,
    /// English: the answer when a browser asks for neither.
    En,
}

impl Lang {
    /// Every language, in the order the switcher lists them.
    pub const ALL: [Lang; 2] = [Lang::Ja, Lang::En];

    /// The BCP 47 tag, as `<html lang>` and forms carry it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// The language tagged `code` (`ja`, `en`), if the console speaks it.
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The language's own name, as the switcher shows it (in that language, so a reader who
    /// cannot read the current page still finds theirs).
    pub fn own_name(self) -> &'static str {
        match self {
            Lang::Ja => "日本語",
            Lang::En => "English",
        }
    }

    /// The language `Accept-Language` prefers most among those spoken (ties: the first
    /// listed); English without the header or without a match.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let mut best: Option<(u32, Lang)> = None;
        for item in header.unwrap_or("").split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
            let Some(lang) = Lang::from_code(&primary) else {
                continue;
            };
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(parse_q)
                .unwrap_or(1000);
            if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The catalogue of the language, one section per group of pages.
    fn catalogue(self) -> impl Iterator<Item = &'static (&'static str, &'static str)> {
        SECTIONS.iter().flat_map(move |s| match self {
            Lang::Ja => s.ja,
            Lang::En => s.en,
        })
    }

    /// The message `key` in this language; the key itself if the catalogue lacks it (a unit
    /// test keeps both catalogues complete, so this shows a bug instead of hiding it).
    pub fn t(self, key: &'static str) -> &'static str {
        self.catalogue()
            .find(|(k, _)| *k == key)
            .map_or(key, |(_, v)| v)
    }

    /// A day (unix seconds) written short, as this language writes it, in UTC: `12月3日`,
    /// `3 Dec`.
    pub fn format_day(self, unix: i64) -> String {
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
            return "-".into();
        };
        let (m, d) = (u8::from(t.month()), t.day());
        match self {
            Lang::Ja => format!("{m}月{d}日"),
            Lang::En => {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                format!("{d} {}", MONTHS[usize::from(m.saturating_sub(1)) % 12])
            }
        }
    }

    /// A time (unix seconds) written as this language writes it, in UTC:
    /// `2026年12月3日 17:00 UTC`, `3 Dec 2026 17:00 UTC`.
    pub fn format_time(self, unix: i64) -> String {
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
            return "-".into();
        };
        let (y, m, d, hh, mm) = (t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute());
        match self {
            Lang::Ja => format!("{y}年{m}月{d}日 {hh:02}:{mm:02} UTC"),
            Lang::En => {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                let name = MONTHS[usize::from(m.saturating_sub(1)) % 12];
                format!("{d} {name} {y} {hh:02}:{mm:02} UTC")
            }
        }
    }
}

/// A quality value (`1`, `0.8`, `0.125`) in thousandths; `None` if it is not one.
fn parse_q(s: &str) -> Option<u32> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = match int {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut thousandths = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u32::from(b - b'0') * [100, 10, 1][i];
    }
    Some((whole * 1000 + thousandths).min(1000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn both_catalogues_have_exactly_the_same_keys_once_each() {
        let all = |l: Lang| -> Vec<&str> { l.catalogue().map(|(k, _)| *k).collect() };
        let (en, ja) = (all(Lang::En), all(Lang::Ja));
        let keys = |c: &[&str]| -> BTreeSet<String> { c.iter().map(|k| (*k).to_owned()).collect() };
        assert_eq!(keys(&en), keys(&ja));
        assert_eq!(
            keys(&en).len(),
            en.len(),
            "a key repeats in the English catalogue"
        );
        assert_eq!(
            keys(&ja).len(),
            ja.len(),
            "a key repeats in the Japanese catalogue"
        );
        for s in SECTIONS {
            let section = |c: &[(&str, &str)]| -> BTreeSet<String> {
                c.iter().map(|(k, _)| (*k).to_owned()).collect()
            };
            assert_eq!(
                section(s.en),
                section(s.ja),
                "a section lacks a key in one language"
            );
        }
    }

    #[test]
    fn no_japanese_message_is_left_in_english() {
        for (k, v) in Lang::Ja.catalogue() {
            assert!(!v.is_ascii(), "{k}: {v:?} has no Japanese in it");
            assert_ne!(
                Some(*v),
                Lang::En
                    .catalogue()
                    .find(|(ek, _)| ek == k)
                    .map(|(_, e)| *e),
                "{k}"
            );
        }
    }

    #[test]
    fn accept_language_picks_the_preferred_spoken_language() {
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("ja")), Lang::Ja);
        assert_eq!(
            Lang::from_accept_language(Some("ja-JP,ja;q=0.9,en;q=0.8")),
            Lang::Ja
        );
        assert_eq!(Lang::from_accept_language(Some("en-US,ja;q=0.5")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("fr, ja;q=0.3")), Lang::Ja);
        assert_eq!(Lang::from_accept_language(Some("ja;q=0, de")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("en;q=0.2,ja;q=0.7")),
            Lang::Ja
        );
        assert_eq!(Lang::from_accept_language(Some("ja;q=bogus")), Lang::Ja);
    }

    #[test]
    fn dates_are_written_per_language_in_utc() {
        // 2026-12-03 17:00:00 UTC.
        let t = 1_796_317_200;
        assert_eq!(Lang::Ja.format_time(t), "2026年12月3日 17:00 UTC");
        assert_eq!(Lang::En.format_time(t), "3 Dec 2026 17:00 UTC");
    }

    #[test]
    fn a_missing_key_shows_itself() {
        assert_eq!(Lang::En.t("no.such.key"), "no.such.key");
        assert_eq!(Lang::Ja.t("nav.ca"), "認証局");
    }
}
