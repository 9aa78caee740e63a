//! The console's audit log page and its "verify chain" result, over the admin API's own calls
//! (`Registry::audit_log`, `Registry::verify_audit`).
//!
//! Entries are listed oldest first: the log is a hash chain read forward from a sequence number
//! (`audit_log(after, limit)`), so a cursor `after=<seq>` pages exactly like
//! `GET /api/v1/audit?after=`, and a page never shifts while new entries are appended.
//! The filters (action prefix, actor prefix) walk those same pages and keep the matching
//! entries; one request looks at no more than [`SCAN_LIMIT`] entries, so a rare match deep in a
//! long log may take several "next" pages to reach.

use std::fmt::Write;

use super::html::{escape, layout};
use super::i18n::Lang;
use super::session::Session;
use super::Console;
use crate::audit::Verified;
use crate::error::Result;
use crate::store::AuditRecord;

/// Entries shown on one page.
pub const PAGE: usize = 100;
/// Most entries one request reads while filtering (the cost of one page is bounded).
pub const SCAN_LIMIT: usize = 5_000;

/// What the reader asked to see.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Show entries with a sequence number above this (0: from the start).
    pub after: u64,
    /// Keep only entries whose action starts with this (empty: all).
    pub action: String,
    /// Keep only entries whose actor starts with this (empty: all).
    pub actor: String,
}

impl AuditQuery {
    /// Whether the entry passes the filters.
    fn matches(&self, e: &AuditRecord) -> bool {
        e.action.starts_with(&self.action) && e.actor.starts_with(&self.actor)
    }

    /// Whether any filter is set.
    fn filtered(&self) -> bool {
        !self.action.is_empty() || !self.actor.is_empty()
    }

    /// The page's URL for cursor `after`, with the filters.
    fn url(&self, after: u64) -> String {
        let mut u = format!("/console/audit?after={after}");
        if !self.action.is_empty() {
            let _ = write!(u, "&action={}", encode(&self.action));
        }
        if !self.actor.is_empty() {
            let _ = write!(u, "&actor={}", encode(&self.actor));
        }
        u
    }
}

/// One page of the walk.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// The matching entries, oldest first, at most [`PAGE`].
    pub entries: Vec<AuditRecord>,
    /// The cursor of the next page, if the log goes on after what this page read.
    pub next: Option<u64>,
    /// Whether the walk stopped at [`SCAN_LIMIT`] before filling the page.
    pub scan_limited: bool,
}

/// `s` percent-encoded for a URL query value (everything but RFC 3986 unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

impl Console {
    /// Walks the audit log from `q.after` with the admin API's paging, keeping what matches.
    /// Blocking (store reads).
    pub fn audit_walk(&self, q: &AuditQuery) -> Result<AuditPage> {
        let mut entries = Vec::new();
        let mut cursor = q.after;
        let mut scanned = 0;
        let batch = if q.filtered() { 1000 } else { PAGE };
        loop {
            let got = self.registry.audit_log(cursor, batch)?;
            if got.is_empty() {
                return Ok(AuditPage {
                    entries,
                    next: None,
                    scan_limited: false,
                });
            }
            for e in got {
                cursor = e.seq;
                scanned += 1;
                if q.matches(&e) {
                    entries.push(e);
                }
                if entries.len() == PAGE || scanned >= SCAN_LIMIT {
                    let more = !self.registry.audit_log(cursor, 1)?.is_empty();
                    return Ok(AuditPage {
                        scan_limited: more && entries.len() < PAGE,
                        entries,
                        next: more.then_some(cursor),
                    });
                }
            }
        }
    }

    /// The audit log page of `s`. Blocking (store reads).
    pub fn audit_page(&self, s: &Session, q: &AuditQuery) -> Result<String> {
        let page = self.audit_walk(q)?;
        Ok(render_log(s.lang, s, q, &page))
    }

    /// The result of verifying the audit chain, for `s`. Blocking (reads the whole log).
    pub fn audit_verify_page(&self, s: &Session) -> Result<String> {
        let v = self.registry.verify_audit()?;
        Ok(render_verify(s.lang, s, &v))
    }
}

/// The audit log page: the filter form, the verify link, the entries and the paging links.
pub fn render_log(lang: Lang, session: &Session, q: &AuditQuery, page: &AuditPage) -> String {
    let t = |k| escape(lang.t(k));
    let mut b = String::new();
    let _ = write!(
        b,
        "<p>{order}</p><p><a class=\"verify\" href=\"/console/audit/verify\">{verify}</a></p>\
         <form method=\"get\" action=\"/console/audit\" class=\"filter\" role=\"search\">\
         <label for=\"f-action\">{action_l}</label>\
         <input id=\"f-action\" name=\"action\" value=\"{action}\" maxlength=\"128\">\
         <label for=\"f-actor\">{actor_l}</label>\
         <input id=\"f-actor\" name=\"actor\" value=\"{actor}\" maxlength=\"128\">\
         <button type=\"submit\">{apply}</button></form><p class=\"hint\">{hint}</p>",
        order = t("audit.order"),
        verify = t("audit.verify"),
        action_l = t("audit.filter.action"),
        action = escape(&q.action),
        actor_l = t("audit.filter.actor"),
        actor = escape(&q.actor),
        apply = t("audit.filter.apply"),
        hint = t("audit.filter.hint"),
    );
    if page.entries.is_empty() {
        let _ = write!(b, "<p class=\"notice\">{}</p>", t("audit.none"));
    } else {
        let _ = write!(
            b,
            "<table class=\"audit\"><caption>{cap}</caption><thead><tr>",
            cap = t("audit.caption")
        );
        for k in [
            "audit.seq",
            "audit.time",
            "audit.actor",
            "audit.action",
            "audit.target",
            "audit.outcome",
            "audit.detail",
        ] {
            let _ = write!(b, "<th scope=\"col\">{}</th>", t(k));
        }
        b.push_str("</tr></thead><tbody>");
        for e in &page.entries {
            let _ = write!(
                b,
                "<tr data-seq=\"{seq}\"><td>{seq}</td><td>{time}</td><td>{actor}</td>\
                 <td>{action}</td><td>{target}</td><td>{outcome}</td><td>{detail}</td></tr>",
                seq = e.seq,
                time = escape(&lang.format_time(e.time)),
                actor = escape(&e.actor),
                action = escape(&e.action),
                target = escape(&e.target),
                outcome = escape(&e.outcome),
                detail = escape(&e.detail),
            );
        }
        b.push_str("</tbody></table>");
    }
    if page.scan_limited {
        let _ = write!(b, "<p class=\"notice\">{}</p>", t("audit.scan_limited"));
    }
    b.push_str("<nav class=\"paging\"><ul>");
    if q.after > 0 {
        let _ = write!(
            b,
            "<li><a href=\"{}\">{}</a></li>",
            escape(&q.url(0)),
            t("audit.first")
        );
    }
    if let Some(next) = page.next {
        let _ = write!(
            b,
            "<li><a rel=\"next\" href=\"{}\">{}</a></li>",
            escape(&q.url(next)),
            t("audit.next")
        );
    }
    b.push_str("</ul></nav>");
    layout(
        lang,
        lang.t("audit.title"),
        Some(session),
        "/console/audit",
        &b,
    )
}

/// The "verify chain" result: what was checked, or the first thing wrong.
pub fn render_verify(
    lang: Lang,
    session: &Session,
    v: &std::result::Result<Verified, String>,
) -> String {
    let t = |k| escape(lang.t(k));
    let mut b = String::new();
    match v {
        Ok(v) => {
            let _ = write!(
                b,
                "<p class=\"notice\" role=\"status\" data-key=\"verify.ok\">{}</p><table><tbody>",
                t("verify.ok")
            );
            let row = |b: &mut String, key: &str, label: &'static str, value: String| {
                let _ = write!(
                    b,
                    "<tr data-key=\"{key}\"><th scope=\"row\">{}</th><td>{}</td></tr>",
                    t(label),
                    escape(&value)
                );
            };
            row(&mut b, "entries", "verify.entries", v.entries.to_string());
            row(
                &mut b,
                "checkpoints",
                "verify.checkpoints",
                v.checkpoints.to_string(),
            );
            row(
                &mut b,
                "last_checkpoint",
                "verify.last_checkpoint",
                v.last_checkpoint.to_string(),
            );
            let when = v.last_checkpoint_time.map_or_else(
                || lang.t("verify.never").to_owned(),
                |t| lang.format_time(t),
            );
            row(&mut b, "signed_at", "verify.signed_at", when);
            row(
                &mut b,
                "unsigned",
                "verify.unsigned",
                v.unsigned_entries.to_string(),
            );
            row(&mut b, "key_id", "verify.key_id", v.key_id.clone());
            b.push_str("</tbody></table>");
        }
        Err(why) => {
            let _ = write!(
                b,
                "<p class=\"notice\" role=\"alert\" data-key=\"verify.failed\">{}</p>\
                 <p>{}: <code>{}</code></p>",
                t("verify.failed"),
                t("verify.reason"),
                escape(why)
            );
        }
    }
    let _ = write!(
        b,
        "<p><a href=\"/console/audit\">{}</a></p>",
        t("verify.back")
    );
    layout(
        lang,
        lang.t("verify.title"),
        Some(session),
        "/console/audit",
        &b,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_percent_encoded_in_paging_links() {
        let q = AuditQuery {
            after: 0,
            action: "token.<x> &y".into(),
            actor: "token:ab".into(),
        };
        assert_eq!(
            q.url(300),
            "/console/audit?after=300&action=token.%3Cx%3E%20%26y&actor=token%3Aab"
        );
        assert_eq!(AuditQuery::default().url(7), "/console/audit?after=7");
    }
}
