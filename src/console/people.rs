//! The console's people and devices pages: the list of subjects (search, filters, paging by id
//! cursor), a subject's page (its fields, certificates and credential ids, and the actions the
//! session's scopes allow), the page that shows a new credential's secret once, and the
//! off-boarding confirmation that says what will be revoked. Rendered from what the admin
//! API's `Registry` answers; every form carries the session's CSRF token.

use std::fmt::Write;

use serde_json::Value;

use super::html::{csrf_field, escape, layout};
use super::i18n::Lang;
use super::manage::query_escape;
use super::session::Session;
use crate::registry::service::SubjectQuery;
use crate::registry::tokens::Scope;
use crate::store::SubjectRecord;

/// Subjects per page of the list (and the most a `limit` may ask for).
pub const PAGE_SIZE: usize = 100;

/// The catalogue key of the notice a redirect after an action names with `code`.
pub fn notice_key(code: &str) -> Option<&'static str> {
    match code {
        "suspended" => Some("ppl.done.suspended"),
        "active" => Some("ppl.done.active"),
        "offboarded" => Some("ppl.done.offboarded"),
        "created" => Some("ppl.done.created"),
        "updated" => Some("ppl.done.updated"),
        "unchanged" => Some("ppl.done.unchanged"),
        _ => None,
    }
}

/// The catalogue key of a subject kind (the kind itself if unknown).
fn kind_key(kind: &str) -> Option<&'static str> {
    match kind {
        "person" => Some("ppl.person"),
        "device" => Some("ppl.device"),
        _ => None,
    }
}

/// The catalogue key of a subject status.
fn status_key(status: &str) -> Option<&'static str> {
    match status {
        "active" => Some("ppl.active"),
        "suspended" => Some("ppl.suspended"),
        "offboarded" => Some("ppl.offboarded"),
        _ => None,
    }
}

/// A kind or status in `lang`, escaped.
fn word(lang: Lang, key: Option<&'static str>, raw: &str) -> String {
    escape(key.map_or(raw, |k| lang.t(k)))
}

/// The `<option>`s of a select, `current` selected, with an "any" option first.
fn options(lang: Lang, b: &mut String, current: Option<&str>, all: &[(&str, &'static str)]) {
    let _ = write!(
        b,
        "<option value=\"\">{}</option>",
        escape(lang.t("ppl.any"))
    );
    for (v, k) in all {
        let sel = if current == Some(*v) { " selected" } else { "" };
        let _ = write!(
            b,
            "<option value=\"{v}\"{sel}>{}</option>",
            escape(lang.t(k))
        );
    }
}

/// The filters as a query string (without `after`), for the next page's link.
fn query(q: &SubjectQuery, limit: usize) -> String {
    let mut out = Vec::new();
    for (k, v) in [
        ("q", &q.search),
        ("kind", &q.kind),
        ("status", &q.status),
        ("department", &q.department),
    ] {
        if let Some(v) = v {
            out.push(format!("{k}={}", query_escape(v)));
        }
    }
    if limit != PAGE_SIZE {
        out.push(format!("limit={limit}"));
    }
    out.join("&")
}

/// The list page: the search and filter form, one page of subjects, and a link to the next
/// page (the id it starts after) when there is one.
pub fn list(
    lang: Lang,
    session: &Session,
    q: &SubjectQuery,
    limit: usize,
    items: &[SubjectRecord],
    next: Option<&str>,
) -> String {
    let mut b = String::new();
    if session.may(Scope::Register) {
        let _ = write!(
            b,
            "<p><a href=\"/console/people/new\" id=\"register-link\">{}</a></p>",
            escape(lang.t("reg.link"))
        );
    }
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/console/people\" class=\"filters\">\
         <fieldset><legend>{legend}</legend>\
         <label for=\"q\">{search}</label> \
         <input id=\"q\" name=\"q\" type=\"search\" value=\"{qv}\"> \
         <label for=\"kind\">{kind}</label> <select id=\"kind\" name=\"kind\">",
        legend = escape(lang.t("ppl.filters")),
        search = escape(lang.t("ppl.search")),
        qv = escape(q.search.as_deref().unwrap_or("")),
        kind = escape(lang.t("ppl.kind")),
    );
    options(
        lang,
        &mut b,
        q.kind.as_deref(),
        &[("person", "ppl.person"), ("device", "ppl.device")],
    );
    let _ = write!(
        b,
        "</select> <label for=\"status\">{}</label> <select id=\"status\" name=\"status\">",
        escape(lang.t("ppl.status"))
    );
    options(
        lang,
        &mut b,
        q.status.as_deref(),
        &[
            ("active", "ppl.active"),
            ("suspended", "ppl.suspended"),
            ("offboarded", "ppl.offboarded"),
        ],
    );
    let _ = write!(
        b,
        "</select> <label for=\"department\">{dep}</label> \
         <input id=\"department\" name=\"department\" type=\"text\" value=\"{dv}\"> \
         <button type=\"submit\">{apply}</button></fieldset></form>",
        dep = escape(lang.t("ppl.department")),
        dv = escape(q.department.as_deref().unwrap_or("")),
        apply = escape(lang.t("common.apply")),
    );
    if items.is_empty() {
        let _ = write!(b, "<p>{}</p>", escape(lang.t("ppl.none")));
    } else {
        b.push_str("<table class=\"people\"><thead><tr>");
        for h in [
            "ppl.name",
            "ppl.kind",
            "ppl.external_id",
            "ppl.department",
            "ppl.status",
        ] {
            let _ = write!(b, "<th scope=\"col\">{}</th>", escape(lang.t(h)));
        }
        b.push_str("</tr></thead><tbody>");
        for s in items {
            let name = s
                .display_name
                .as_deref()
                .or(s.name.as_deref())
                .unwrap_or(&s.external_id);
            let status = s.status.to_string();
            let _ = write!(
                b,
                "<tr data-subject=\"{id}\"><th scope=\"row\"><a href=\"/console/people/{qid}\">{name}</a></th>\
                 <td>{kind}</td><td><code>{ext}</code></td><td>{dep}</td><td>{status}</td></tr>",
                id = escape(s.id.as_str()),
                qid = query_escape(s.id.as_str()),
                name = escape(name),
                kind = word(lang, kind_key(&s.kind), &s.kind),
                ext = escape(&s.external_id),
                dep = escape(s.department.as_deref().unwrap_or("")),
                status = word(lang, status_key(&status), &status),
            );
        }
        b.push_str("</tbody></table>");
    }
    let filters = query(q, limit);
    b.push_str("<p class=\"paging\">");
    if q.after.is_some() {
        let _ = write!(
            b,
            "<a href=\"/console/people?{}\">{}</a> ",
            escape(&filters),
            escape(lang.t("ppl.first"))
        );
    }
    if let Some(n) = next {
        let sep = if filters.is_empty() { "" } else { "&" };
        let _ = write!(
            b,
            "<a rel=\"next\" href=\"/console/people?{}\">{}</a>",
            escape(&format!("{filters}{sep}after={}", query_escape(n))),
            escape(lang.t("ppl.next"))
        );
    }
    b.push_str("</p>");
    layout(
        lang,
        lang.t("ppl.title"),
        Some(session),
        "/console/people",
        &b,
    )
}

/// A string field of a subject view.
pub(super) fn text<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

/// The ids of a list field of a subject view.
pub(super) fn ids(v: &Value, k: &str) -> Vec<String> {
    v[k].as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A subject's display name: the person's name, the device's name or the external id.
fn title(v: &Value) -> String {
    let n = text(v, "display_name");
    let n = if n.is_empty() { text(v, "name") } else { n };
    if n.is_empty() {
        text(v, "external_id").to_owned()
    } else {
        n.to_owned()
    }
}

/// A form with one submit button posting to `action` (with the CSRF token and hidden fields).
fn button(b: &mut String, session: &Session, action: &str, fields: &[(&str, &str)], label: &str) {
    form_button(b, session, None, action, fields, label);
}

/// [`button`] with the form's `id`, for forms that tests and guides name.
fn form_button(
    b: &mut String,
    session: &Session,
    id: Option<&str>,
    action: &str,
    fields: &[(&str, &str)],
    label: &str,
) {
    let id = id.map_or_else(String::new, |i| format!(" id=\"{}\"", escape(i)));
    let _ = write!(
        b,
        "<form method=\"post\" action=\"{}\"{id}>{}",
        escape(action),
        csrf_field(session)
    );
    for (k, v) in fields {
        let _ = write!(
            b,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(k),
            escape(v)
        );
    }
    let _ = write!(
        b,
        "<button type=\"submit\">{}</button></form>",
        escape(label)
    );
}

/// A subject's page: fields, certificates, credential ids, and the forms the session's scopes
/// allow (credentials with `issue`, status changes with `revoke`). `apple` says whether the
/// Apple configuration profile is offered (it carries a SCEP challenge: SCEP is enabled).
pub fn subject(
    lang: Lang,
    session: &Session,
    v: &Value,
    done: Option<&'static str>,
    apple: bool,
    mail: bool,
) -> String {
    let mut b = String::new();
    if let Some(k) = done {
        let _ = write!(
            b,
            "<p class=\"notice\" role=\"status\">{}</p>",
            escape(lang.t(k))
        );
    }
    let id = text(v, "id");
    let kind = text(v, "kind");
    let status = text(v, "status");
    b.push_str("<dl class=\"fields\">");
    let dns = ids(v, "dns_names").join(", ");
    let rows: [(&str, String); 13] = [
        ("ppl.id", escape(id)),
        ("ppl.kind", word(lang, kind_key(kind), kind)),
        ("ppl.status", word(lang, status_key(status), status)),
        ("ppl.external_id", escape(text(v, "external_id"))),
        ("ppl.name", escape(&title(v))),
        ("ppl.email", escape(text(v, "email"))),
        ("ppl.department", escape(text(v, "department"))),
        ("ppl.serial_number", escape(text(v, "serial_number"))),
        ("ppl.owner", escape(text(v, "owner"))),
        ("ppl.dns_names", escape(&dns)),
        ("smime.given_name", escape(text(v, "given_name"))),
        ("smime.family_name", escape(text(v, "family_name"))),
        ("smime.pseudonym", escape(text(v, "pseudonym"))),
    ];
    for (k, val) in rows {
        if !val.is_empty() {
            let _ = write!(b, "<dt>{}</dt><dd>{val}</dd>", escape(lang.t(k)));
        }
    }
    b.push_str("</dl>");
    for (key, field) in [
        ("ppl.certificates", "certificates"),
        ("ppl.est_credentials", "est_credentials"),
        ("ppl.scep_challenges", "scep_challenges"),
        ("ppl.eab_keys", "eab_keys"),
    ] {
        let list = ids(v, field);
        let _ = write!(b, "<h2>{}</h2>", escape(lang.t(key)));
        if list.is_empty() {
            let _ = write!(b, "<p>{}</p>", escape(lang.t("common.none")));
            continue;
        }
        let _ = write!(b, "<ul class=\"{field}\">");
        for x in list {
            if field == "certificates" {
                let _ = write!(
                    b,
                    "<li><a href=\"/console/certificates/{}\"><code>{}</code></a></li>",
                    query_escape(&x),
                    escape(&x)
                );
            } else {
                let _ = write!(b, "<li><code>{}</code></li>", escape(&x));
            }
        }
        b.push_str("</ul>");
    }
    let base = format!("/console/people/{}", query_escape(id));
    if status == "active" && session.may(Scope::Issue) {
        let _ = write!(b, "<h2>{}</h2>", escape(lang.t("ppl.create_heading")));
        for (k, label, form_id) in [
            ("est", "ppl.create_est", None),
            ("scep", "ppl.create_scep", None),
            ("acme", "ppl.create_acme", Some("cred-acme")),
            ("pickup", "ppl.create_pickup", None),
        ] {
            form_button(
                &mut b,
                session,
                form_id,
                &format!("{base}/credentials"),
                &[("kind", k)],
                lang.t(label),
            );
        }
        if mail && !text(v, "email").is_empty() {
            form_button(
                &mut b,
                session,
                Some("cred-pickup-mail"),
                &format!("{base}/credentials"),
                &[("kind", "pickup"), ("deliver", "email")],
                lang.t("ppl.create_pickup_mail"),
            );
        }
        if apple {
            let _ = write!(b, "<p>{}</p>", escape(lang.t("ppl.apple_hint")));
            form_button(
                &mut b,
                session,
                Some("apple-profile"),
                &format!("{base}/apple-profile"),
                &[],
                lang.t("ppl.apple_profile"),
            );
        }
    }
    if status != "offboarded" && session.may(Scope::Revoke) {
        let _ = write!(b, "<h2>{}</h2>", escape(lang.t("ppl.status_heading")));
        if status == "active" {
            button(
                &mut b,
                session,
                &format!("{base}/status"),
                &[("status", "suspended")],
                lang.t("ppl.suspend"),
            );
        } else {
            button(
                &mut b,
                session,
                &format!("{base}/status"),
                &[("status", "active")],
                lang.t("ppl.reactivate"),
            );
        }
        let _ = write!(
            b,
            "<p><a href=\"{base}/offboard\">{}</a></p>",
            escape(lang.t("ppl.offboard"))
        );
    }
    layout(lang, &title(v), Some(session), "/console/people", &b)
}

/// The off-boarding confirmation: what will be revoked (good certificates, credentials, EAB
/// keys) and the button that does it.
pub fn offboard(lang: Lang, session: &Session, v: &Value, good_certs: usize) -> String {
    let id = text(v, "id");
    let base = format!("/console/people/{}", query_escape(id));
    let creds = ids(v, "est_credentials").len() + ids(v, "scep_challenges").len();
    let eabs = ids(v, "eab_keys").len();
    let mut b = format!(
        "<p><strong>{}</strong> <code>{}</code></p><p>{}</p><dl class=\"offboard\">",
        escape(&title(v)),
        escape(text(v, "external_id")),
        escape(lang.t("ppl.offboard_warning"))
    );
    for (k, n) in [
        ("ppl.offboard_certs", good_certs),
        ("ppl.offboard_creds", creds),
        ("ppl.offboard_eabs", eabs),
    ] {
        let _ = write!(
            b,
            "<dt>{}</dt><dd data-count=\"{k}\">{n}</dd>",
            escape(lang.t(k))
        );
    }
    b.push_str("</dl>");
    button(
        &mut b,
        session,
        &format!("{base}/status"),
        &[("status", "offboarded")],
        lang.t("ppl.offboard_confirm"),
    );
    let _ = write!(
        b,
        "<p><a href=\"{base}\">{}</a></p>",
        escape(lang.t("ppl.cancel"))
    );
    layout(
        lang,
        lang.t("ppl.offboard_title"),
        Some(session),
        "/console/people",
        &b,
    )
}

/// The page that shows a new credential once: the registry's answer's user name and
/// password (EST), challenge and address (SCEP) or pickup address, and its expiry; for a
/// pickup link sent by mail, the address it went to (the link itself is only in the mail).
pub fn secret(lang: Lang, session: &Session, id: &str, made: &Value) -> String {
    let notice = if made["deliver"] == "email" {
        "ppl.mailed_notice"
    } else {
        "ppl.secret_once"
    };
    let mut b = format!(
        "<p class=\"notice\" role=\"status\">{}</p><dl class=\"secret\">",
        escape(lang.t(notice))
    );
    for (field, key) in [
        ("username", "ppl.username"),
        ("password", "ppl.password"),
        ("challenge", "ppl.challenge"),
        ("url", "ppl.url"),
        ("to", "ppl.mailed_to"),
        ("expires_at", "ppl.expires"),
    ] {
        let val = match &made[field] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n
                .as_i64()
                .map_or_else(|| n.to_string(), |t| lang.format_time(t)),
            _ => continue,
        };
        let _ = write!(
            b,
            "<dt>{}</dt><dd><code>{}</code></dd>",
            escape(lang.t(key)),
            escape(&val)
        );
    }
    let _ = write!(
        b,
        "</dl><p><a href=\"/console/people/{}\">{}</a></p>",
        query_escape(id),
        escape(lang.t("ppl.back"))
    );
    layout(
        lang,
        lang.t("ppl.secret_title"),
        Some(session),
        "/console/people",
        &b,
    )
}

/// A link to the page of the person or device `id` (`/console/people/<id>`), showing `shown`
/// (HTML, escaped by the caller): the approvals and certificates pages name a subject with it.
/// Its class `subject-link` lets pages and tests find it.
pub fn subject_link(id: &str, shown: &str) -> String {
    format!(
        "<a class=\"subject-link\" href=\"/console/people/{}\">{shown}</a>",
        escape(&query_escape(id))
    )
}
