//! Mail templates: a subject line, a plain-text body and an HTML body per template and
//! language, built in and replaceable by files (`<template>.<lang>.subject`, `.txt`, `.html`
//! in the templates directory). `{{name}}` is replaced by a value: as it is in the subject
//! (line breaks removed) and the text, HTML-escaped in the HTML. A template that names a value
//! its kind does not have, or leaves a `{{` open, is refused when the server starts.

use std::collections::BTreeMap;
use std::path::Path;

use crate::console::html::escape;
use crate::error::{Error, Result};

/// What a mail is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Template {
    /// A pickup link for a person.
    Pickup,
    /// A certificate expires soon; no link.
    Reminder,
    /// A certificate expires soon; a fresh pickup link renews it.
    ReminderLink,
}

impl Template {
    /// Every template.
    pub const ALL: [Template; 3] = [Template::Pickup, Template::Reminder, Template::ReminderLink];

    /// The file name stem of the template.
    pub fn name(self) -> &'static str {
        match self {
            Template::Pickup => "pickup",
            Template::Reminder => "reminder",
            Template::ReminderLink => "reminder_link",
        }
    }

    /// The values a template of this kind may name.
    pub fn values(self) -> &'static [&'static str] {
        match self {
            Template::Pickup => &["name", "url", "expires", "organisation"],
            Template::Reminder => &[
                "name",
                "certificate",
                "serial",
                "expires",
                "days",
                "organisation",
            ],
            Template::ReminderLink => &[
                "name",
                "certificate",
                "serial",
                "expires",
                "days",
                "url",
                "link_expires",
                "organisation",
            ],
        }
    }
}

/// The languages mail is written in.
pub const LANGS: [&str; 2] = ["en", "ja"];

/// One part of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The subject line.
    Subject,
    /// The plain-text body.
    Text,
    /// The HTML body.
    Html,
}

impl Part {
    const ALL: [Part; 3] = [Part::Subject, Part::Text, Part::Html];

    fn ext(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Text => "txt",
            Part::Html => "html",
        }
    }
}

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// Every template in every language, built in or read from files.
#[derive(Debug, Clone)]
pub struct Templates {
    /// (template, language, part) → source.
    sources: BTreeMap<(Template, &'static str, Part), String>,
}

impl Templates {
    /// The built-in templates, replaced by the files found in `dir`; every template is then
    /// rendered once with sample values, so a broken one stops the start.
    pub fn load(dir: Option<&Path>) -> Result<Templates> {
        let mut sources = BTreeMap::new();
        for t in Template::ALL {
            for lang in LANGS {
                for part in Part::ALL {
                    let file = dir.map(|d| d.join(format!("{}.{lang}.{}", t.name(), part.ext())));
                    let src = match &file {
                        Some(f) if f.exists() => std::fs::read_to_string(f).map_err(|e| {
                            Error::Malformed(format!("mail template {}: {e}", f.display()))
                        })?,
                        _ => builtin(t, lang, part).to_owned(),
                    };
                    let sample: BTreeMap<&str, String> =
                        t.values().iter().map(|v| (*v, format!("<{v}>"))).collect();
                    render_part(&src, part, t, &sample).map_err(|e| {
                        let what = file.filter(|f| f.exists()).map_or_else(
                            || format!("built-in {}.{lang}.{}", t.name(), part.ext()),
                            |f| f.display().to_string(),
                        );
                        Error::Malformed(format!("mail template {what} does not render: {e}"))
                    })?;
                    sources.insert((t, lang, part), src);
                }
            }
        }
        Ok(Templates { sources })
    }

    /// Renders `t` in `lang` (English if the language is not one of [`LANGS`]).
    pub fn render(
        &self,
        t: Template,
        lang: &str,
        values: &BTreeMap<&str, String>,
    ) -> Result<Rendered> {
        let lang = LANGS.into_iter().find(|l| *l == lang).unwrap_or("en");
        let part = |p: Part| {
            let src = self
                .sources
                .get(&(t, lang, p))
                .ok_or_else(|| Error::Internal("mail template missing".into()))?;
            render_part(src, p, t, values).map_err(Error::Internal)
        };
        Ok(Rendered {
            subject: part(Part::Subject)?,
            text: part(Part::Text)?,
            html: part(Part::Html)?,
        })
    }
}

/// Replaces every `{{name}}` in `src`.
fn render_part(
    src: &str,
    part: Part,
    t: Template,
    values: &BTreeMap<&str, String>,
) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(src.len() + 256);
    let mut rest = src;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "a {{ is not closed".to_owned())?;
        let name = after[..end].trim();
        if !t.values().contains(&name) {
            return Err(format!(
                "{{{{{name}}}}} is not a value of the {} template (it has {})",
                t.name(),
                t.values().join(", ")
            ));
        }
        let v = values.get(name).map(String::as_str).unwrap_or("");
        match part {
            Part::Html => out.push_str(&escape(v)),
            Part::Subject => out.push_str(&v.replace(['\r', '\n'], " ")),
            Part::Text => out.push_str(v),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if part == Part::Subject {
        let line = out.trim().replace(['\r', '\n'], " ");
        if line.is_empty() {
            return Err("the subject is empty".into());
        }
        return Ok(line);
    }
    Ok(out)
}

/// The built-in template sources.
fn builtin(t: Template, lang: &str, part: Part) -> &'static str {
    use Part::*;
    use Template::*;
    match (t, lang, part) {
        (Pickup, "ja", Subject) => "{{organisation}}: 証明書の受け取り",
        (Pickup, "ja", Text) => include_str!("templates/pickup.ja.txt"),
        (Pickup, "ja", Html) => include_str!("templates/pickup.ja.html"),
        (Pickup, _, Subject) => "{{organisation}}: your certificate is ready to collect",
        (Pickup, _, Text) => include_str!("templates/pickup.en.txt"),
        (Pickup, _, Html) => include_str!("templates/pickup.en.html"),
        (Reminder, "ja", Subject) => {
            "{{organisation}}: 証明書の有効期限が近づいています（あと{{days}}日）"
        }
        (Reminder, "ja", Text) => include_str!("templates/reminder.ja.txt"),
        (Reminder, "ja", Html) => include_str!("templates/reminder.ja.html"),
        (Reminder, _, Subject) => "{{organisation}}: a certificate expires in {{days}} days",
        (Reminder, _, Text) => include_str!("templates/reminder.en.txt"),
        (Reminder, _, Html) => include_str!("templates/reminder.en.html"),
        (ReminderLink, "ja", Subject) => "{{organisation}}: 証明書の更新のお願い（あと{{days}}日）",
        (ReminderLink, "ja", Text) => include_str!("templates/reminder_link.ja.txt"),
        (ReminderLink, "ja", Html) => include_str!("templates/reminder_link.ja.html"),
        (ReminderLink, _, Subject) => {
            "{{organisation}}: renew your certificate ({{days}} days left)"
        }
        (ReminderLink, _, Text) => include_str!("templates/reminder_link.en.txt"),
        (ReminderLink, _, Html) => include_str!("templates/reminder_link.en.html"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Template) -> BTreeMap<&'static str, String> {
        t.values().iter().map(|v| (*v, format!("{v}<&>"))).collect()
    }

    #[test]
    fn every_built_in_template_names_every_value_it_needs_and_escapes_html() {
        let all = Templates::load(None).unwrap();
        for t in Template::ALL {
            for lang in LANGS {
                let r = all.render(t, lang, &values(t)).unwrap();
                assert!(!r.subject.contains('\n'));
                for needed in ["name", "expires"] {
                    assert!(
                        r.text.contains(&format!("{needed}<&>")),
                        "{t:?} {lang} text lacks {needed}"
                    );
                    assert!(
                        r.html.contains(&format!("{needed}&lt;&amp;&gt;")),
                        "{t:?} {lang} html lacks {needed}"
                    );
                    assert!(!r.html.contains(&format!("{needed}<&>")));
                }
                if t != Template::Reminder {
                    assert!(r.text.contains("url<&>"), "{t:?} {lang} has the link");
                } else {
                    assert!(!r.text.contains("url"), "{t:?} {lang} has no link");
                }
                if lang == "ja" {
                    assert!(!r.text.is_ascii(), "{t:?}: the Japanese text is Japanese");
                }
            }
        }
    }

    #[test]
    fn a_file_replaces_a_template_and_a_broken_one_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pickup.en.subject"),
            "Collect: {{ name }}\n",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let mut v = values(Template::Pickup);
        v.insert("name", "Ann\r\nBcc: x@y".into());
        assert_eq!(
            t.render(Template::Pickup, "en", &v).unwrap().subject,
            "Collect: Ann  Bcc: x@y"
        );
        // Another language keeps the built-in one.
        assert!(t
            .render(Template::Pickup, "ja", &v)
            .unwrap()
            .subject
            .contains("証明書"));

        std::fs::write(dir.path().join("reminder.ja.txt"), "{{url}}").unwrap();
        let e = Templates::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            e.contains("reminder.ja.txt") && e.contains("{{url}}"),
            "{e}"
        );
        std::fs::write(dir.path().join("reminder.ja.txt"), "{{name").unwrap();
        let e = Templates::load(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("not closed"), "{e}");
    }
}
