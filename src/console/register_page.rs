//! The form that registers one person or device from the console (`/console/people/new`), the
//! same registration as `POST /api/v1/people` and `POST /api/v1/devices`. Rendered again with
//! the values typed and the reason when the registry refuses them.

use std::fmt::Write;

use super::html::{csrf_field, escape, layout};
use super::i18n::Lang;
use super::session::Session;
use crate::registry::subjects::SubjectInput;

/// What the form shows: the kind chosen, the values typed so far, and why the last try was
/// refused (the registry's own words, which are technical and not translated).
pub struct RegisterForm<'a> {
    /// `person` or `device`.
    pub kind: &'a str,
    /// The values typed so far.
    pub input: &'a SubjectInput,
    /// The refusal of the last try, if any.
    pub error: Option<&'a str>,
}

/// One labelled text field.
fn text_field(
    b: &mut String,
    lang: Lang,
    name: &str,
    label: &'static str,
    value: &str,
    hint: Option<&'static str>,
) {
    let described = if hint.is_some() {
        format!(" aria-describedby=\"reg-{name}-hint\"")
    } else {
        String::new()
    };
    let _ = write!(
        b,
        "<p><label for=\"reg-{name}\">{label}</label> \
         <input id=\"reg-{name}\" name=\"{name}\" type=\"text\" value=\"{value}\"{described}>",
        label = escape(lang.t(label)),
        value = escape(value),
    );
    if let Some(h) = hint {
        let _ = write!(
            b,
            " <small id=\"reg-{name}-hint\">{}</small>",
            escape(lang.t(h))
        );
    }
    b.push_str("</p>");
}

/// The registration page.
pub fn page(lang: Lang, session: &Session, form: &RegisterForm<'_>) -> String {
    let mut b = String::new();
    if let Some(e) = form.error {
        let _ = write!(
            b,
            "<div class=\"error\" role=\"alert\"><p>{}</p><p><code>{}</code></p></div>",
            escape(lang.t("reg.refused")),
            escape(e)
        );
    }
    let _ = write!(
        b,
        "<p>{intro}</p><form method=\"post\" action=\"/console/people/new\" id=\"register-form\">{csrf}\
         <fieldset><legend>{kind_legend}</legend>",
        intro = escape(lang.t("reg.intro")),
        csrf = csrf_field(session),
        kind_legend = escape(lang.t("reg.kind")),
    );
    for (value, key) in [("person", "ppl.person"), ("device", "ppl.device")] {
        let checked = if form.kind == value { " checked" } else { "" };
        let _ = write!(
            b,
            "<label><input type=\"radio\" name=\"kind\" value=\"{value}\"{checked}> {}</label> ",
            escape(lang.t(key))
        );
    }
    b.push_str("</fieldset>");
    let i = form.input;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    text_field(
        &mut b,
        lang,
        "external_id",
        "ppl.external_id",
        &i.external_id,
        Some("reg.external_id_hint"),
    );
    let _ = write!(
        b,
        "<fieldset><legend>{}</legend>",
        escape(lang.t("reg.person_fields"))
    );
    text_field(
        &mut b,
        lang,
        "display_name",
        "reg.display_name",
        &v(&i.display_name),
        None,
    );
    text_field(&mut b, lang, "email", "ppl.email", &v(&i.email), None);
    text_field(
        &mut b,
        lang,
        "department",
        "ppl.department",
        &v(&i.department),
        None,
    );
    let _ = write!(
        b,
        "<fieldset><legend>{}</legend><p><small id=\"reg-smime-hint\">{}</small></p>",
        escape(lang.t("smime.names")),
        escape(lang.t("smime.names_hint"))
    );
    for (name, label, value) in [
        ("given_name", "smime.given_name", &i.given_name),
        ("family_name", "smime.family_name", &i.family_name),
        ("pseudonym", "smime.pseudonym", &i.pseudonym),
    ] {
        text_field(&mut b, lang, name, label, &v(value), None);
    }
    b.push_str("</fieldset>");
    let _ = write!(
        b,
        "</fieldset><fieldset><legend>{}</legend>",
        escape(lang.t("reg.device_fields"))
    );
    text_field(&mut b, lang, "name", "reg.device_name", &v(&i.name), None);
    text_field(
        &mut b,
        lang,
        "serial_number",
        "ppl.serial_number",
        &v(&i.serial_number),
        None,
    );
    text_field(
        &mut b,
        lang,
        "owner",
        "ppl.owner",
        &v(&i.owner),
        Some("reg.owner_hint"),
    );
    text_field(
        &mut b,
        lang,
        "dns_names",
        "ppl.dns_names",
        &i.dns_names.join(", "),
        Some("reg.dns_hint"),
    );
    let _ = write!(
        b,
        "</fieldset><fieldset><legend>{}</legend>",
        escape(lang.t("reg.windows"))
    );
    text_field(
        &mut b,
        lang,
        "windows_sid",
        "reg.windows_sid",
        &v(&i.windows_sid),
        Some("reg.windows_sid_hint"),
    );
    let _ = write!(
        b,
        "</fieldset><p><button type=\"submit\" id=\"register-submit\">{}</button></p></form>",
        escape(lang.t("reg.submit"))
    );
    layout(
        lang,
        lang.t("reg.title"),
        Some(session),
        "/console/people/new",
        &b,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::session::test_session;
    use crate::registry::tokens::Scope;

    #[test]
    fn every_field_has_a_label_and_typed_values_are_escaped() {
        let session = test_session(&[Scope::Register]);
        let input = SubjectInput {
            external_id: "E<1>".into(),
            display_name: Some("\"Ann\"".into()),
            family_name: Some("Lee<".into()),
            dns_names: vec!["a.example".into(), "b.example".into()],
            ..SubjectInput::default()
        };
        for lang in Lang::ALL {
            let html = page(
                lang,
                &session,
                &RegisterForm {
                    kind: "device",
                    input: &input,
                    error: Some("external_id <x>"),
                },
            );
            for name in [
                "external_id",
                "display_name",
                "email",
                "department",
                "name",
                "serial_number",
                "owner",
                "dns_names",
                "windows_sid",
                "given_name",
                "family_name",
                "pseudonym",
            ] {
                assert!(
                    html.contains(&format!("<label for=\"reg-{name}\">")),
                    "{name} has a label"
                );
                assert!(html.contains(&format!("id=\"reg-{name}\"")), "{name}");
            }
            assert!(html.contains("value=\"E&lt;1&gt;\""));
            assert!(html.contains("value=\"&quot;Ann&quot;\""));
            assert!(html.contains(
                "id=\"reg-family_name\" name=\"family_name\" type=\"text\" value=\"Lee&lt;\""
            ));
            assert!(html.contains("value=\"a.example, b.example\""));
            assert!(html.contains("value=\"device\" checked"));
            assert!(html.contains("<code>external_id &lt;x&gt;</code>"));
            assert!(html.contains(&format!("value=\"{}\"", session.csrf)));
            assert!(
                !html.contains("reg.") && !html.contains("smime."),
                "a message key is missing in {lang:?}"
            );
        }
    }
}
