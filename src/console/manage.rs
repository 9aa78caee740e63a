//! The console's pages that act on the registry: approvals (pending enrolments with the names
//! the certificate would carry, approve and reject) and certificates (the inventory with its
//! filters and paging, a certificate's page with its PEM and a revoke form). Rendered from the
//! typed values the admin API's services answer; forms appear only for the scopes the admin
//! API requires for the action, and each carries the session's CSRF token.

use std::fmt::Write;

use super::html::{csrf_field, escape, layout};
use super::i18n::Lang;
use super::people::subject_link;
use super::session::Session;
use crate::admin::CertificateView;
use crate::ca::key_type::KeyType;
use crate::registry::tokens::Scope;
use crate::revocation::RevocationReason;
use crate::states::{ApprovalStatus, CertState};
use crate::store::ApprovalRecord;

/// Certificates per page of the inventory (and the most a `limit` may ask for).
pub const PAGE_SIZE: usize = 100;

/// The catalogue key of the notice a redirect after an action names with `code`; `None` for
/// any other code (the query string never reaches the page as text).
pub fn notice_key(code: &str) -> Option<&'static str> {
    match code {
        "approved" => Some("appr.done.approved"),
        "rejected" => Some("appr.done.rejected"),
        "conflict" => Some("appr.done.conflict"),
        "revoked" => Some("cert.done.revoked"),
        _ => None,
    }
}

/// The notice paragraph for a catalogue key.
fn notice(b: &mut String, lang: Lang, key: Option<&'static str>) {
    if let Some(k) = key {
        let _ = write!(
            b,
            "<p class=\"notice\" role=\"status\">{}</p>",
            escape(lang.t(k))
        );
    }
}

/// The catalogue key of an approval status.
fn approval_key(s: ApprovalStatus) -> &'static str {
    match s {
        ApprovalStatus::Pending => "appr.status.pending",
        ApprovalStatus::Approved => "appr.status.approved",
        ApprovalStatus::Rejected => "appr.status.rejected",
    }
}

/// The catalogue key of a revocation reason an administrator may give.
fn reason_key(r: RevocationReason) -> &'static str {
    match r {
        RevocationReason::KeyCompromise => "reason.keyCompromise",
        RevocationReason::AffiliationChanged => "reason.affiliationChanged",
        RevocationReason::Superseded => "reason.superseded",
        RevocationReason::CessationOfOperation => "reason.cessationOfOperation",
        RevocationReason::CertificateHold => "reason.certificateHold",
        RevocationReason::PrivilegeWithdrawn => "reason.privilegeWithdrawn",
        _ => "reason.unspecified",
    }
}

/// An RFC 3339 time of a certificate view written in `lang`; the text itself if it is not one.
fn when(lang: Lang, rfc3339: &str) -> String {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(|t| lang.format_time(t.unix_timestamp()))
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// `s` percent-encoded for a query string value (RFC 3986 unreserved characters kept).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The approvals page: the requests with `status`, the names each certificate would carry,
/// the CSR's key (algorithm and size), and (for pending requests, to a session with `issue`) approve and reject buttons.
pub fn approvals(
    lang: Lang,
    session: &Session,
    status: ApprovalStatus,
    list: &[ApprovalRecord],
    done: Option<&'static str>,
) -> String {
    let mut b = String::new();
    notice(&mut b, lang, done);
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/console/approvals\" class=\"filters\">\
         <label for=\"status\">{}</label> <select id=\"status\" name=\"status\">",
        escape(lang.t("appr.show"))
    );
    for &s in ApprovalStatus::ALL {
        let sel = if s == status { " selected" } else { "" };
        let _ = write!(
            b,
            "<option value=\"{}\"{sel}>{}</option>",
            s.as_str(),
            escape(lang.t(approval_key(s)))
        );
    }
    let _ = write!(
        b,
        "</select> <button type=\"submit\">{}</button></form>",
        escape(lang.t("common.apply"))
    );
    if list.is_empty() {
        let _ = write!(b, "<p>{}</p>", escape(lang.t("appr.none")));
        return layout(
            lang,
            lang.t("appr.title"),
            Some(session),
            "/console/approvals",
            &b,
        );
    }
    let decide = status == ApprovalStatus::Pending && session.may(Scope::Issue);
    let when_key = if status == ApprovalStatus::Pending {
        "appr.requested"
    } else {
        "appr.decided"
    };
    b.push_str("<table class=\"approvals\"><thead><tr>");
    let mut heads = vec![
        "appr.cn",
        "appr.sans",
        "appr.key",
        "appr.profile",
        "appr.subject",
        "appr.fingerprint",
        when_key,
    ];
    if decide {
        heads.push("appr.decision");
    }
    for h in heads {
        let _ = write!(b, "<th scope=\"col\">{}</th>", escape(lang.t(h)));
    }
    b.push_str("</tr></thead><tbody>");
    for a in list {
        let sans = if a.sans.is_empty() {
            escape(lang.t("common.none"))
        } else {
            a.sans
                .iter()
                .map(|s| format!("<code>{}</code>", escape(s)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let subject = a.subject_id.as_ref().map_or_else(
            || escape(lang.t("common.none")),
            |s| {
                let id = s.to_string();
                subject_link(&id, &format!("<code>{}</code>", escape(&id)))
            },
        );
        let key = match a.key.as_deref() {
            Some(k) => KeyType::parse(k).map_or_else(|_| escape(k), |t| escape(t.display_name())),
            None => escape(lang.t("appr.key_unknown")),
        };
        let at = if status == ApprovalStatus::Pending {
            a.created_at
        } else {
            a.decided_at.unwrap_or(a.created_at)
        };
        let _ = write!(
            b,
            "<tr data-approval=\"{id}\"><th scope=\"row\">{cn}</th><td>{sans}</td>\
             <td class=\"key\">{key}</td><td>{profile}</td>\
             <td>{subject}</td><td><code>{fp}</code></td><td>{at}</td>",
            id = escape(&a.id),
            cn = escape(&a.common_name),
            profile = escape(&a.profile),
            fp = escape(&a.csr_fingerprint),
            at = escape(&lang.format_time(at)),
        );
        if decide {
            b.push_str("<td class=\"decide\">");
            for (verb, key) in [("approve", "appr.approve"), ("reject", "appr.reject")] {
                let _ = write!(
                    b,
                    "<form method=\"post\" action=\"/console/approvals/{id}/{verb}\">{csrf}\
                     <button type=\"submit\" name=\"decision\" value=\"{verb}\">{label}</button></form>",
                    id = query_escape(&a.id),
                    csrf = csrf_field(session),
                    label = escape(lang.t(key)),
                );
            }
            b.push_str("</td>");
        }
        b.push_str("</tr>");
    }
    b.push_str("</tbody></table>");
    layout(
        lang,
        lang.t("appr.title"),
        Some(session),
        "/console/approvals",
        &b,
    )
}

/// The inventory's filters as the reader entered them (empty fields are absent).
#[derive(Debug, Clone, Default)]
pub struct CertFilters {
    /// `good` or `revoked`.
    pub status: Option<String>,
    /// Profile name.
    pub profile: Option<String>,
    /// Channel (`est-simpleenroll`, `acme`, …).
    pub channel: Option<String>,
    /// A day, `YYYY-MM-DD`: certificates whose validity ends before it.
    pub expiring_before: Option<String>,
    /// Page size, at most [`PAGE_SIZE`].
    pub limit: usize,
}

impl CertFilters {
    /// The filters as a query string (without `after`), for the next page's link.
    fn query(&self) -> String {
        let mut q = Vec::new();
        for (k, v) in [
            ("status", &self.status),
            ("profile", &self.profile),
            ("channel", &self.channel),
            ("expiring_before", &self.expiring_before),
        ] {
            if let Some(v) = v {
                q.push(format!("{k}={}", query_escape(v)));
            }
        }
        if self.limit != PAGE_SIZE {
            q.push(format!("limit={}", self.limit));
        }
        q.join("&")
    }
}

/// The certificates page: the filter form, one page of the inventory, and a link to the next
/// page (the serial it starts after) when there is one.
pub fn certificates(
    lang: Lang,
    session: &Session,
    f: &CertFilters,
    items: &[CertificateView],
    next: Option<&str>,
    first: bool,
) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/console/certificates\" class=\"filters\">\
         <fieldset><legend>{legend}</legend>\
         <label for=\"status\">{status}</label> <select id=\"status\" name=\"status\">\
         <option value=\"\">{any}</option>",
        legend = escape(lang.t("cert.filters")),
        status = escape(lang.t("cert.status")),
        any = escape(lang.t("cert.any")),
    );
    for (s, key) in [
        (CertState::Good, "cert.good"),
        (CertState::Revoked, "cert.revoked"),
    ] {
        let sel = if f.status.as_deref() == Some(s.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            b,
            "<option value=\"{}\"{sel}>{}</option>",
            s.as_str(),
            escape(lang.t(key))
        );
    }
    b.push_str("</select>");
    for (name, key, value, kind) in [
        ("profile", "cert.profile", &f.profile, "text"),
        ("channel", "cert.channel", &f.channel, "text"),
        (
            "expiring_before",
            "cert.expiring_before",
            &f.expiring_before,
            "date",
        ),
    ] {
        let _ = write!(
            b,
            " <label for=\"{name}\">{label}</label> \
             <input id=\"{name}\" name=\"{name}\" type=\"{kind}\" value=\"{value}\">",
            label = escape(lang.t(key)),
            value = escape(value.as_deref().unwrap_or("")),
        );
    }
    let _ = write!(
        b,
        " <button type=\"submit\">{}</button></fieldset></form>",
        escape(lang.t("common.apply"))
    );
    if items.is_empty() {
        let _ = write!(b, "<p>{}</p>", escape(lang.t("cert.none")));
    } else {
        b.push_str("<table class=\"certificates\"><thead><tr>");
        for h in [
            "cert.serial",
            "cert.subject",
            "cert.profile",
            "cert.channel",
            "cert.status",
            "cert.not_after",
        ] {
            let _ = write!(b, "<th scope=\"col\">{}</th>", escape(lang.t(h)));
        }
        b.push_str("</tr></thead><tbody>");
        for c in items {
            let status = match c.status {
                CertState::Good => "cert.good",
                CertState::Revoked => "cert.revoked",
            };
            let cn = match &c.subject_id {
                Some(id) if c.subject.is_empty() => subject_link(id, &escape(id)),
                Some(id) => subject_link(id, &escape(&c.subject)),
                None => escape(&c.subject),
            };
            let _ = write!(
                b,
                "<tr data-serial=\"{serial}\"><td><a href=\"/console/certificates/{serial}\"><code>{serial}</code></a></td>\
                 <td>{cn}</td><td>{profile}</td><td>{channel}</td><td>{status}</td><td>{not_after}</td></tr>",
                serial = escape(&c.serial),
                profile = escape(&c.profile),
                channel = escape(&c.channel),
                status = escape(lang.t(status)),
                not_after = escape(&when(lang, &c.not_after)),
            );
        }
        b.push_str("</tbody></table>");
    }
    let q = f.query();
    let sep = if q.is_empty() { "" } else { "&" };
    b.push_str("<nav class=\"paging\"><ul>");
    if !first {
        let _ = write!(
            b,
            "<li><a rel=\"first\" href=\"/console/certificates?{}\">{}</a></li>",
            escape(&q),
            escape(lang.t("cert.first"))
        );
    }
    if let Some(n) = next {
        let _ = write!(
            b,
            "<li><a rel=\"next\" href=\"/console/certificates?{}\">{}</a></li>",
            escape(&format!("{q}{sep}after={}", query_escape(n))),
            escape(lang.t("cert.next"))
        );
    }
    b.push_str("</ul></nav>");
    layout(
        lang,
        lang.t("cert.title"),
        Some(session),
        "/console/certificates",
        &b,
    )
}

/// A certificate's page: its fields, the PEM download, and (valid or on hold, to a session
/// with `revoke`) a revoke form with the reasons the admin API accepts.
pub fn certificate(
    lang: Lang,
    session: &Session,
    c: &CertificateView,
    done: Option<&'static str>,
) -> String {
    let mut b = String::new();
    notice(&mut b, lang, done);
    let none = lang.t("common.none");
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| none.to_owned());
    let status = match c.status {
        CertState::Good => "cert.good",
        CertState::Revoked => "cert.revoked",
    };
    let mut rows: Vec<(&str, &str, String)> = vec![
        ("serial", "cert.serial", c.serial.clone()),
        ("subject", "cert.subject", c.subject.clone()),
        (
            "sans",
            "cert.sans",
            if c.sans.is_empty() {
                none.to_owned()
            } else {
                c.sans.join(", ")
            },
        ),
        ("status", "cert.status", lang.t(status).to_owned()),
        ("profile", "cert.profile", c.profile.clone()),
        ("channel", "cert.channel", c.channel.clone()),
        ("not_before", "cert.not_before", when(lang, &c.not_before)),
        ("not_after", "cert.not_after", when(lang, &c.not_after)),
        ("issued_at", "cert.issued_at", when(lang, &c.issued_at)),
        ("issuer", "cert.issuer", c.issuer.clone()),
        ("subject_id", "cert.subject_id", opt(&c.subject_id)),
        ("label", "cert.label", opt(&c.label)),
        ("credential", "cert.credential", opt(&c.credential)),
        ("replaces", "cert.replaces", opt(&c.replaces)),
    ];
    if let Some(at) = &c.revoked_at {
        rows.push(("revoked_at", "cert.revoked_at", when(lang, at)));
    }
    if let Some(r) = c.revocation_reason {
        rows.push(("reason", "cert.reason", lang.t(reason_key(r)).to_owned()));
    }
    b.push_str("<table class=\"details\"><tbody>");
    for (key, label, value) in rows {
        let _ = write!(
            b,
            "<tr data-key=\"{key}\"><th scope=\"row\">{}</th><td>{}</td></tr>",
            escape(lang.t(label)),
            escape(&value)
        );
    }
    let serial = escape(&c.serial);
    let _ = write!(
        b,
        "</tbody></table><p><a href=\"/console/certificates/{serial}/pem\" download>{}</a></p>",
        escape(lang.t("cert.download"))
    );
    // A certificate on hold can still be revoked for good (as through the admin API).
    let revocable = c.status == CertState::Good
        || c.revocation_reason == Some(RevocationReason::CertificateHold);
    if revocable && session.may(Scope::Revoke) {
        let _ = write!(
            b,
            "<section aria-labelledby=\"revoke\"><h2 id=\"revoke\">{heading}</h2>\
             <form method=\"post\" action=\"/console/certificates/{serial}/revoke\">{csrf}\
             <label for=\"reason\">{reason}</label> <select id=\"reason\" name=\"reason\">",
            heading = escape(lang.t("cert.revoke_heading")),
            csrf = csrf_field(session),
            reason = escape(lang.t("cert.reason")),
        );
        for r in RevocationReason::ADMIN {
            let _ = write!(
                b,
                "<option value=\"{}\">{}</option>",
                r.as_str(),
                escape(lang.t(reason_key(*r)))
            );
        }
        let _ = write!(
            b,
            "</select> <button type=\"submit\">{}</button></form></section>",
            escape(lang.t("cert.revoke"))
        );
    }
    layout(
        lang,
        lang.t("cert.detail"),
        Some(session),
        "/console/certificates",
        &b,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_admin_reason_has_its_own_message() {
        let keys: std::collections::BTreeSet<&str> = RevocationReason::ADMIN
            .iter()
            .map(|r| reason_key(*r))
            .collect();
        assert_eq!(keys.len(), RevocationReason::ADMIN.len());
        for k in keys {
            assert_ne!(Lang::En.t(k), k, "{k} is in the catalogue");
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_escape("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(query_escape("est-simpleenroll"), "est-simpleenroll");
    }
}
