//! The page that shows a subject's new ACME External Account Binding key once (RFC 8555
//! §7.3.4): the key id and HMAC key, the ACME directory, and ready-to-paste command lines for
//! certbot and lego that use them.

use std::fmt::Write;

use serde_json::Value;

use super::html::{escape, layout};
use super::i18n::Lang;
use super::manage::query_escape;
use super::people::{ids, text};
use super::session::Session;

/// `s` as one shell word: as it is when it holds only characters no shell treats specially,
/// else in single quotes.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The command lines that use a new EAB key: certbot registers an account with it (a contact
/// address if the subject has one), lego registers and orders the subject's DNS names (lego
/// 4.9 wants a contact address: the subject's, else `$EMAIL`). None for lego when the subject
/// has no DNS names: certbot and lego order DNS names only.
pub fn eab_commands(
    directory: &str,
    kid: &str,
    hmac: &str,
    email: Option<&str>,
    dns: &[String],
) -> (String, Option<String>) {
    let (dir, kid, hmac) = (shell_word(directory), shell_word(kid), shell_word(hmac));
    let contact = match email {
        Some(e) => format!("-m {}", shell_word(e)),
        None => "--register-unsafely-without-email".to_owned(),
    };
    let certbot = format!(
        "certbot register --non-interactive --server {dir} --eab-kid={kid} --eab-hmac-key={hmac} --agree-tos {contact}"
    );
    let lego = (!dns.is_empty()).then(|| {
        let email = email.map_or_else(|| "\"$EMAIL\"".to_owned(), shell_word);
        let domains: Vec<String> = dns
            .iter()
            .map(|d| format!("--domains={}", shell_word(d)))
            .collect();
        format!(
            "lego --server {dir} --eab --kid={kid} --hmac={hmac} --email={email} --accept-tos {} --http run",
            domains.join(" ")
        )
    });
    (certbot, lego)
}

/// The page that shows a new ACME EAB key once: its key id and HMAC key, the ACME directory,
/// and command lines for certbot and lego that use them. `v` is the subject (its e-mail
/// address and DNS names go into the command lines).
pub fn eab(lang: Lang, session: &Session, v: &Value, made: &Value, directory: &str) -> String {
    let kid = text(made, "kid");
    let hmac = text(made, "hmac_key");
    let email = Some(text(v, "email")).filter(|e| !e.is_empty());
    let dns = ids(v, "dns_names");
    let (certbot, lego) = eab_commands(directory, kid, hmac, email, &dns);
    let mut b = format!(
        "<p class=\"notice\" role=\"status\">{}</p><dl class=\"secret\">",
        escape(lang.t("ppl.secret_once"))
    );
    for (key, id, val) in [
        ("ppl.eab.kid", "eab-kid", kid),
        ("ppl.eab.hmac", "eab-hmac", hmac),
        ("ppl.eab.profile", "eab-profile", text(made, "profile")),
        ("ppl.eab.directory", "acme-directory", directory),
    ] {
        let _ = write!(
            b,
            "<dt>{}</dt><dd><code id=\"{id}\">{}</code></dd>",
            escape(lang.t(key)),
            escape(val)
        );
    }
    b.push_str("</dl>");
    let _ = write!(
        b,
        "<h2>{}</h2><pre><code id=\"eab-certbot\">{}</code></pre>",
        escape(lang.t("ppl.eab.certbot")),
        escape(&certbot)
    );
    if let Some(lego) = lego {
        let _ = write!(
            b,
            "<h2>{}</h2><pre><code id=\"eab-lego\">{}</code></pre>",
            escape(lang.t("ppl.eab.lego")),
            escape(&lego)
        );
        if email.is_none() {
            let _ = write!(b, "<p>{}</p>", escape(lang.t("ppl.eab.lego_email")));
        }
    }
    let _ = write!(
        b,
        "<p>{} <a href=\"/console/ca\">{}</a></p><p><a href=\"/console/people/{}\">{}</a></p>",
        escape(lang.t("ppl.eab.trust")),
        escape(lang.t("nav.ca")),
        query_escape(text(v, "id")),
        escape(lang.t("ppl.back"))
    );
    layout(
        lang,
        lang.t("ppl.eab.title"),
        Some(session),
        "/console/people",
        &b,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eab_command_lines_quote_what_a_shell_would_read() {
        let (certbot, lego) = eab_commands(
            "https://ca.example:8443/acme/directory",
            "kid1",
            "-mac_key",
            Some("o'neil@corp.example"),
            &["a.fleet.example".into(), "b.fleet.example".into()],
        );
        assert_eq!(
            certbot,
            "certbot register --non-interactive --server https://ca.example:8443/acme/directory \
             --eab-kid=kid1 --eab-hmac-key=-mac_key --agree-tos -m 'o'\\''neil@corp.example'"
        );
        assert_eq!(
            lego.unwrap(),
            "lego --server https://ca.example:8443/acme/directory --eab --kid=kid1 --hmac=-mac_key \
             --email='o'\\''neil@corp.example' --accept-tos --domains=a.fleet.example \
             --domains=b.fleet.example --http run"
        );
        let (certbot, lego) = eab_commands("https://x/acme/directory", "k", "h", None, &[]);
        assert!(certbot.ends_with("--register-unsafely-without-email"));
        assert!(lego.is_none());
        let (_, lego) = eab_commands("d", "k", "h", None, &["a.example".into()]);
        assert!(lego.unwrap().contains("--email=\"$EMAIL\""));
    }
}
