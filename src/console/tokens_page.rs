//! The console's tokens page (admin scope only): the list, the create form, the new token shown
//! once, and revocation with a confirmation step — through the admin API's own calls
//! (`Registry::create_token`, `list_tokens`, `delete_token`), audited with the session's token
//! as actor.

use std::fmt::Write;

use serde_json::Value;

use super::html::{csrf_field, escape, layout};
use super::i18n::Lang;
use super::session::Session;
use super::Console;
use crate::error::{Error, Result};
use crate::registry::tokens::Scope;

/// Longest expiry the form accepts, in days (the registry caps it at about ten years too).
pub const MAX_DAYS: u64 = 3650;

/// A token as the list shows it (from `Registry::list_tokens`, never a secret).
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// The token's id: the audit log names it as `token:<id>`.
    pub id: String,
    /// The name its creator gave it.
    pub name: String,
    /// Its scopes, by name.
    pub scopes: Vec<String>,
    /// When it was created, unix seconds.
    pub created_at: i64,
    /// When it stops working, unix seconds; `None`: never.
    pub expires_at: Option<i64>,
}

/// What the create form asked for, parsed.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The name.
    pub name: String,
    /// The ticked scopes, by name.
    pub scopes: Vec<String>,
    /// Days until it expires; `None`: never.
    pub days: Option<u64>,
}

impl NewToken {
    /// Parses the create form's fields (`name`, `scope` repeated, `days`).
    pub fn from_form(form: &[(String, String)]) -> Result<NewToken> {
        let name = form
            .iter()
            .find(|(k, _)| k == "name")
            .map_or("", |(_, v)| v.trim())
            .to_owned();
        let scopes = form
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect();
        let days = match form
            .iter()
            .find(|(k, _)| k == "days")
            .map(|(_, v)| v.trim())
        {
            None | Some("") => None,
            Some(d) => Some(
                d.parse::<u64>()
                    .ok()
                    .filter(|d| (1..=MAX_DAYS).contains(d))
                    .ok_or_else(|| Error::Malformed("days must be 1 to 3650".into()))?,
            ),
        };
        Ok(NewToken { name, scopes, days })
    }
}

/// What the tokens page shows above the list.
#[derive(Debug, Clone)]
pub enum Notice {
    /// Nothing.
    None,
    /// A token was just created: its text, shown this once.
    Created {
        /// The token's id.
        id: String,
        /// `<id>.<secret>`: what the holder presents.
        token: String,
    },
    /// A token was revoked.
    Revoked,
    /// The create form was not valid.
    Invalid,
}

impl Console {
    /// The tokens, as the admin API lists them. Blocking (store read).
    pub fn token_rows(&self) -> Result<Vec<TokenRow>> {
        let v = self.registry.list_tokens()?;
        let rows = v["tokens"]
            .as_array()
            .map(|a| a.iter().map(row).collect())
            .unwrap_or_default();
        Ok(rows)
    }

    /// The tokens page of `s` with `notice`. Blocking (store read).
    pub fn tokens_page(&self, s: &Session, notice: &Notice) -> Result<String> {
        Ok(render(s.lang, s, &self.token_rows()?, notice))
    }

    /// Creates a token as the admin API does, audited with `s`'s token as actor; the notice
    /// that shows it once. Blocking (store write, audit flush).
    pub fn create_token(&self, s: &Session, t: &NewToken) -> Result<Notice> {
        let v = self.registry.create_token(
            &s.actor(),
            &t.name,
            &t.scopes,
            t.days.map(|d| d * 86_400),
        )?;
        Ok(Notice::Created {
            id: v["id"].as_str().unwrap_or_default().to_owned(),
            token: v["token"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Revokes token `id` as the admin API does, audited with `s`'s token as actor. Revoking
    /// the session's own token ends the session at its next request. Blocking.
    pub fn revoke_token(&self, s: &Session, id: &str) -> Result<()> {
        self.registry.delete_token(&s.actor(), id)
    }
}

/// A list entry of `Registry::list_tokens`.
fn row(v: &Value) -> TokenRow {
    let str_of = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    TokenRow {
        id: str_of("id"),
        name: str_of("name"),
        scopes: v["scopes"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        created_at: v["created_at"].as_i64().unwrap_or_default(),
        expires_at: v["expires_at"].as_i64(),
    }
}

/// The message id of a scope's name.
fn scope_key(name: &str) -> &'static str {
    match name {
        "read" => "scope.read",
        "register" => "scope.register",
        "issue" => "scope.issue",
        "revoke" => "scope.revoke",
        "admin" => "scope.admin",
        _ => "scope.unknown",
    }
}

/// The tokens page: notice, create form, list with a revoke button per token.
pub fn render(lang: Lang, session: &Session, rows: &[TokenRow], notice: &Notice) -> String {
    let t = |k| escape(lang.t(k));
    let mut b = String::new();
    match notice {
        Notice::None => {}
        Notice::Created { id, token } => {
            let _ = write!(
                b,
                "<section class=\"notice\" role=\"alert\" aria-labelledby=\"created\">\
                 <h2 id=\"created\">{head}</h2><p>{warn}</p>\
                 <p>{id_l}: <code>{id}</code></p>\
                 <p><label for=\"new-token\">{tok_l}</label> \
                 <input id=\"new-token\" class=\"secret\" readonly value=\"{token}\" size=\"60\"></p></section>",
                head = t("tokens.created"),
                warn = t("tokens.shown_once"),
                id_l = t("tokens.id"),
                id = escape(id),
                tok_l = t("tokens.token"),
                token = escape(token),
            );
        }
        Notice::Revoked => {
            let _ = write!(
                b,
                "<p class=\"notice\" role=\"status\">{}</p>",
                t("tokens.revoked")
            );
        }
        Notice::Invalid => {
            let _ = write!(
                b,
                "<p class=\"notice\" role=\"alert\">{}</p>",
                t("tokens.invalid")
            );
        }
    }
    let _ = write!(
        b,
        "<section aria-labelledby=\"create\"><h2 id=\"create\">{head}</h2>\
         <form method=\"post\" action=\"/console/tokens\">{csrf}\
         <p><label for=\"t-name\">{name_l}</label>\
         <input id=\"t-name\" name=\"name\" required maxlength=\"128\"></p>\
         <fieldset><legend>{scopes_l}</legend>",
        head = t("tokens.create"),
        csrf = csrf_field(session),
        name_l = t("tokens.name"),
        scopes_l = t("tokens.scopes"),
    );
    for s in Scope::ALL {
        let _ = write!(
            b,
            "<input type=\"checkbox\" id=\"s-{n}\" name=\"scope\" value=\"{n}\">\
             <label for=\"s-{n}\">{label}</label> ",
            n = s.as_str(),
            label = t(scope_key(s.as_str())),
        );
    }
    let _ = write!(
        b,
        "</fieldset><p><label for=\"t-days\">{days_l}</label>\
         <input id=\"t-days\" name=\"days\" type=\"number\" min=\"1\" max=\"{MAX_DAYS}\" \
         aria-describedby=\"t-days-hint\"> <span id=\"t-days-hint\">{days_h}</span></p>\
         <button type=\"submit\">{submit}</button></form></section>",
        days_l = t("tokens.days"),
        days_h = t("tokens.days_hint"),
        submit = t("tokens.submit"),
    );
    let _ = write!(
        b,
        "<section aria-labelledby=\"list\"><h2 id=\"list\">{}</h2>",
        t("tokens.list")
    );
    if rows.is_empty() {
        let _ = write!(b, "<p>{}</p>", t("tokens.none"));
    } else {
        b.push_str("<table><thead><tr>");
        for k in [
            "tokens.id",
            "tokens.name",
            "tokens.scopes",
            "tokens.expires",
            "tokens.created_at",
            "tokens.actions",
        ] {
            let _ = write!(b, "<th scope=\"col\">{}</th>", t(k));
        }
        b.push_str("</tr></thead><tbody>");
        for r in rows {
            let scopes: Vec<&str> = r.scopes.iter().map(|s| lang.t(scope_key(s))).collect();
            let expires = r.expires_at.map_or_else(
                || lang.t("tokens.never").to_owned(),
                |e| lang.format_time(e),
            );
            let mine = if r.id == session.token_id {
                format!(" <strong>({})</strong>", t("tokens.this_session"))
            } else {
                String::new()
            };
            let _ = write!(
                b,
                "<tr data-token=\"{id}\"><td><code>{id}</code></td><td>{name}{mine}</td>\
                 <td>{scopes}</td><td>{expires}</td><td>{created}</td><td>\
                 <form method=\"post\" action=\"/console/tokens/revoke\">{csrf}\
                 <input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <button type=\"submit\">{revoke}</button></form></td></tr>",
                id = escape(&r.id),
                name = escape(&r.name),
                scopes = escape(&scopes.join(lang.t("list.separator"))),
                expires = escape(&expires),
                created = escape(&lang.format_time(r.created_at)),
                csrf = csrf_field(session),
                revoke = t("tokens.revoke"),
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("</section>");
    layout(
        lang,
        lang.t("tokens.title"),
        Some(session),
        "/console/tokens",
        &b,
    )
}

/// The confirmation step of a revocation: what will stop working, and the button that does it.
pub fn render_confirm(lang: Lang, session: &Session, row: &TokenRow) -> String {
    let t = |k| escape(lang.t(k));
    let mine = if row.id == session.token_id {
        format!("<p class=\"notice\">{}</p>", t("tokens.confirm_own"))
    } else {
        String::new()
    };
    let body = format!(
        "<p>{q}</p><p><strong>{name}</strong> (<code>{id}</code>)</p>{mine}\
         <form method=\"post\" action=\"/console/tokens/revoke\">{csrf}\
         <input type=\"hidden\" name=\"id\" value=\"{id}\">\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\">{yes}</button></form>\
         <p><a href=\"/console/tokens\">{no}</a></p>",
        q = t("tokens.confirm"),
        name = escape(&row.name),
        id = escape(&row.id),
        csrf = csrf_field(session),
        yes = t("tokens.confirm_yes"),
        no = t("tokens.cancel"),
    );
    layout(
        lang,
        lang.t("tokens.confirm_title"),
        Some(session),
        "/console/tokens",
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_create_form_parses_repeated_scopes_and_bounded_days() {
        let t = NewToken::from_form(&form(&[
            ("name", " ci "),
            ("scope", "read"),
            ("scope", "issue"),
            ("days", "30"),
        ]))
        .unwrap();
        assert_eq!(t.name, "ci");
        assert_eq!(t.scopes, ["read", "issue"]);
        assert_eq!(t.days, Some(30));
        assert_eq!(
            NewToken::from_form(&form(&[("days", "")])).unwrap().days,
            None
        );
        assert!(NewToken::from_form(&form(&[("days", "0")])).is_err());
        assert!(NewToken::from_form(&form(&[("days", "3651")])).is_err());
        assert!(NewToken::from_form(&form(&[("days", "x")])).is_err());
    }
}
