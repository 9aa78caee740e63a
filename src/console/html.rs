//! HTML building blocks: the escaper every value goes through, and the base layout of every
//! console page (header, navigation, language switcher, sign-out).

use std::fmt::Write;

use super::i18n::Lang;
use super::session::Session;

/// `s` made safe for HTML text and quoted attribute values: the five characters that can end a
/// text node or an attribute are replaced by character references.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The sections of the console, as (message id, path), in the navigation's order.
pub const NAV: [(&str, &str); 8] = [
    ("nav.dashboard", "/console/"),
    ("nav.people", "/console/people"),
    ("nav.import", "/console/import"),
    ("nav.approvals", "/console/approvals"),
    ("nav.certificates", "/console/certificates"),
    ("nav.audit", "/console/audit"),
    ("nav.tokens", "/console/tokens"),
    ("nav.ca", "/console/ca"),
];

/// A hidden CSRF field for a form of `session`.
pub fn csrf_field(session: &Session) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(&session.csrf)
    )
}

/// A whole page: `<html lang>`, the header (with navigation, the token's name and scopes, the
/// language switcher and sign-out when signed in) and `body`, which the caller has escaped.
/// `path` is the page's own path: the switcher returns there and the navigation marks it.
pub fn layout(
    lang: Lang,
    title: &str,
    session: Option<&Session>,
    path: &str,
    body: &str,
) -> String {
    layout_with_head(lang, title, session, path, "", body)
}

/// [`layout`] with `head` (trusted markup, such as a `<meta http-equiv="refresh">` of a page
/// that follows a job without script) added to the page's `<head>`.
pub fn layout_with_head(
    lang: Lang,
    title: &str,
    session: Option<&Session>,
    path: &str,
    head: &str,
    body: &str,
) -> String {
    let mut h = String::with_capacity(4096 + body.len());
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{head}\
         <title>{title} — {app}</title>\
         <link rel=\"stylesheet\" href=\"/console/static/console.css\"></head><body>\
         <header><p class=\"app\">{app}</p>",
        code = lang.code(),
        title = escape(title),
        app = escape(lang.t("app.name")),
    );
    match session {
        Some(s) => {
            let _ = write!(
                h,
                "<nav aria-label=\"{}\"><ul>",
                escape(lang.t("nav.label"))
            );
            for (key, href) in NAV {
                let current = if href == path {
                    " aria-current=\"page\""
                } else {
                    ""
                };
                let _ = write!(
                    h,
                    "<li><a href=\"{href}\"{current}>{}</a></li>",
                    escape(lang.t(key))
                );
            }
            let scopes: Vec<&str> = s.scopes.iter().map(|s| s.as_str()).collect();
            let _ = write!(
                h,
                "</ul></nav><div class=\"who\"><p>{signed}: <strong>{name}</strong> \
                 ({scopes_label}: {scopes})</p>\
                 <form method=\"post\" action=\"/console/sign-out\">{csrf}\
                 <button type=\"submit\">{out}</button></form></div>",
                signed = escape(lang.t("session.signed_in_as")),
                name = escape(&s.token_name),
                scopes_label = escape(lang.t("session.scopes")),
                scopes = escape(&scopes.join(", ")),
                csrf = csrf_field(s),
                out = escape(lang.t("session.sign_out")),
            );
            let _ = write!(
                h,
                "<form method=\"post\" action=\"/console/language\" class=\"lang\">{csrf}\
                 <input type=\"hidden\" name=\"back\" value=\"{back}\">\
                 <label for=\"lang-select\">{label}</label> <select id=\"lang-select\" name=\"lang\">",
                csrf = csrf_field(s),
                back = escape(path),
                label = escape(lang.t("lang.label")),
            );
            for l in Lang::ALL {
                let sel = if l == lang { " selected" } else { "" };
                let _ = write!(
                    h,
                    "<option value=\"{}\" lang=\"{}\"{sel}>{}</option>",
                    l.code(),
                    l.code(),
                    l.own_name()
                );
            }
            let _ = write!(
                h,
                "</select> <button type=\"submit\">{}</button></form>",
                escape(lang.t("lang.switch"))
            );
        }
        None => {
            // Before sign-in there is no session to remember the choice: links carry it.
            h.push_str("<ul class=\"lang\">");
            for l in Lang::ALL {
                let _ = write!(
                    h,
                    "<li><a href=\"/console/sign-in?lang={c}\" lang=\"{c}\" hreflang=\"{c}\">{}</a></li>",
                    l.own_name(),
                    c = l.code()
                );
            }
            h.push_str("</ul>");
        }
    }
    let _ = writeln!(
        h,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        escape(title)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_every_character_that_ends_text_or_an_attribute() {
        assert_eq!(
            escape("<script>alert('x&y')</script>\""),
            "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;&quot;"
        );
        assert_eq!(escape("東京 plain"), "東京 plain");
    }
}
