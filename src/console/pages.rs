//! The console's pages, rendered to HTML strings from typed values: sign-in, dashboard, CA, the
//! sections still to come, and error pages. Every value goes through [`escape`]; every string
//! comes from the catalogue of the page's language.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::charts::{self, ChannelSeries, ChartText};
use super::html::{escape, layout};
use super::i18n::Lang;
use super::session::Session;
use crate::metrics::snapshot::ISSUED_DAYS;
use crate::metrics::{IssuedCount, Snapshot};
use crate::registry::tokens::Scope;
use crate::store::daily::{utc_day, DAY_SECS};

/// Why the sign-in page is shown again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInNotice {
    /// First visit: no message.
    None,
    /// The token was not accepted.
    Failed,
    /// Too many failures from this address for this token id.
    Throttled,
    /// The session ended (idle, absolute expiry, or its token was revoked).
    Expired,
}

/// The sign-in page; `csrf` is the token of the sign-in cookie, repeated in the form.
pub fn sign_in(lang: Lang, notice: SignInNotice, csrf: &str) -> String {
    let msg = match notice {
        SignInNotice::None => None,
        SignInNotice::Failed => Some("signin.failed"),
        SignInNotice::Throttled => Some("signin.throttled"),
        SignInNotice::Expired => Some("signin.expired"),
    };
    let mut body = String::new();
    if let Some(m) = msg {
        let _ = write!(
            body,
            "<p class=\"notice\" role=\"alert\">{}</p>",
            escape(lang.t(m))
        );
    }
    let _ = write!(
        body,
        "<p>{intro}</p><form method=\"post\" action=\"/console/sign-in\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"lang\" value=\"{code}\">\
         <label for=\"token\">{label}</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required>\
         <button type=\"submit\">{submit}</button></form>",
        intro = escape(lang.t("signin.intro")),
        csrf = escape(csrf),
        code = lang.code(),
        label = escape(lang.t("signin.token")),
        submit = escape(lang.t("signin.submit")),
    );
    layout(
        lang,
        lang.t("signin.title"),
        None,
        "/console/sign-in",
        &body,
    )
}

/// A table row whose figure a reader (or a test) can find by `key`.
fn figure_row(h: &mut String, key: &str, label: &str, n: u64) {
    let _ = write!(
        h,
        "<tr data-key=\"{}\"><th scope=\"row\">{}</th><td>{n}</td></tr>",
        escape(key),
        escape(label)
    );
}

/// The dashboard: certificates by status and by expiry window, approvals waiting, issuance by
/// channel since start and per day over 30 days, from the same counters as `/metrics`
/// (`snapshot` and `issued`).
pub fn dashboard(
    lang: Lang,
    session: &Session,
    snapshot: &Snapshot,
    issued: &[IssuedCount],
    mail: Option<(u64, u64, u64)>,
) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<p class=\"as-of\">{}: {}</p>",
        escape(lang.t("dash.as_of")),
        escape(&lang.format_time(snapshot.at))
    );
    let actions: Vec<(&str, &str)> = [
        (Scope::Register, "action.register", "/console/people"),
        (Scope::Issue, "action.approvals", "/console/approvals"),
        (Scope::Revoke, "action.revoke", "/console/certificates"),
    ]
    .into_iter()
    .filter(|(scope, _, _)| session.may(*scope))
    .map(|(_, k, href)| (k, href))
    .collect();
    if !actions.is_empty() {
        let _ = write!(
            b,
            "<section aria-labelledby=\"actions\"><h2 id=\"actions\">{}</h2><ul class=\"actions\">",
            escape(lang.t("dash.actions"))
        );
        for (k, href) in actions {
            let _ = write!(
                b,
                "<li><a class=\"action\" href=\"{href}\">{}</a></li>",
                escape(lang.t(k))
            );
        }
        b.push_str("</ul></section>");
    }
    // Status and window keys are the label values of the metrics they mirror.
    let _ = write!(
        b,
        "<section aria-labelledby=\"by-status\"><h2 id=\"by-status\">{}</h2><table>\
         <thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        escape(lang.t("dash.by_status")),
        escape(lang.t("dash.status")),
        escape(lang.t("dash.count")),
    );
    for (status, n) in &snapshot.by_status {
        figure_row(
            &mut b,
            &format!("status.{status}"),
            lang.t(status_key(status)),
            *n,
        );
    }
    let _ = write!(
        b,
        "</tbody></table></section><section aria-labelledby=\"expiring\"><h2 id=\"expiring\">{}</h2><table>\
         <thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        escape(lang.t("dash.expiring")),
        escape(lang.t("dash.window")),
        escape(lang.t("dash.count")),
    );
    for (window, n) in &snapshot.expiring {
        figure_row(
            &mut b,
            &format!("expiring.{window}"),
            lang.t(window_key(window)),
            *n,
        );
    }
    let _ = write!(
        b,
        "</tbody></table></section><section aria-labelledby=\"pending\"><h2 id=\"pending\">{}</h2>\
         <p class=\"figure\" data-key=\"approvals.pending\">{}</p></section>",
        escape(lang.t("dash.pending")),
        snapshot.pending_approvals
    );
    if let Some((queued, _sent, failed)) = mail {
        let _ = write!(
            b,
            "<section aria-labelledby=\"mail\"><h2 id=\"mail\">{}</h2><table><tbody>\
             <tr><th scope=\"row\">{}</th><td data-key=\"mail.queued\">{queued}</td></tr>\
             <tr><th scope=\"row\">{}</th><td data-key=\"mail.failed\">{failed}</td></tr>\
             </tbody></table><p><a href=\"/console/audit?action=mail.\">{}</a></p></section>",
            escape(lang.t("dash.mail")),
            escape(lang.t("dash.mail_queued")),
            escape(lang.t("dash.mail_failed")),
            escape(lang.t("dash.mail_log")),
        );
    }
    let mut by_channel: BTreeMap<&str, u64> = BTreeMap::new();
    for i in issued {
        *by_channel.entry(i.channel.as_str()).or_default() += i.count;
    }
    let _ = write!(
        b,
        "<section aria-labelledby=\"issued\"><h2 id=\"issued\">{}</h2>",
        escape(lang.t("dash.issued"))
    );
    if by_channel.is_empty() {
        let _ = write!(b, "<p>{}</p>", escape(lang.t("dash.none_issued")));
    } else {
        let _ = write!(
            b,
            "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            escape(lang.t("dash.channel")),
            escape(lang.t("dash.count")),
        );
        for (channel, n) in by_channel {
            // Channel names are protocol names (`est-simpleenroll`, `acme`): not translated.
            figure_row(&mut b, &format!("issued.{channel}"), channel, n);
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("</section>");
    // The charts: SVG drawn here from the same snapshot as the tables above (no script).
    let statuses: Vec<(String, u64)> = snapshot
        .by_status
        .iter()
        .map(|(s, n)| (lang.t(status_key(s)).to_owned(), *n))
        .collect();
    let status_text = ChartText {
        lang: lang.code().to_owned(),
        title: lang.t("chart.status.title").to_owned(),
        description: lang.t("chart.status.desc").to_owned(),
        category_caption: lang.t("dash.status").to_owned(),
        value_caption: lang.t("dash.count").to_owned(),
        ..ChartText::default()
    };
    let weeks: Vec<String> = (0..13)
        .map(|w| lang.format_day(snapshot.at + w * 7 * 86_400))
        .collect();
    let expiry_text = ChartText {
        lang: lang.code().to_owned(),
        title: lang.t("chart.expiry.title").to_owned(),
        description: lang.t("chart.expiry.desc").to_owned(),
        category_caption: lang.t("chart.expiry.weeks").to_owned(),
        value_caption: lang.t("dash.count").to_owned(),
        categories: weeks,
        ..ChartText::default()
    };
    let _ = write!(
        b,
        "<section aria-labelledby=\"charts\" class=\"charts\"><h2 id=\"charts\">{}</h2>\
         <figure class=\"chart\">{}</figure><figure class=\"chart\">{}</figure>\
         <figure class=\"chart\">{}</figure></section>",
        escape(lang.t("dash.charts")),
        charts::expiry_by_week(&snapshot.expiry_weeks, &expiry_text),
        charts::status_counts(&statuses, &status_text),
        issuance_chart(lang, snapshot),
    );
    layout(lang, lang.t("dash.title"), Some(session), "/console/", &b)
}

/// The chart of issuance per day by channel group over the snapshot's 30 days, from the
/// store's per-day counters (the `enrolld_certificates_issued_today` and `…_30d` gauges).
fn issuance_chart(lang: Lang, snapshot: &Snapshot) -> String {
    let first = utc_day(snapshot.at) - (ISSUED_DAYS as i64 - 1);
    let days = (0..ISSUED_DAYS as i64)
        .map(|i| lang.format_day((first + i) * DAY_SECS))
        .collect();
    let series: Vec<ChannelSeries> = snapshot
        .issued_days
        .iter()
        .map(|(group, per_day)| ChannelSeries {
            channel: (*group).to_owned(),
            per_day: *per_day,
        })
        .collect();
    let text = ChartText {
        lang: lang.code().to_owned(),
        title: lang.t("chart.issued.title").to_owned(),
        description: lang.t("chart.issued.desc").to_owned(),
        category_caption: lang.t("chart.issued.days").to_owned(),
        value_caption: lang.t("dash.count").to_owned(),
        categories: days,
        series: snapshot
            .issued_days
            .iter()
            .map(|(group, _)| group_name(lang, group).to_owned())
            .collect(),
        ..ChartText::default()
    };
    charts::issuance_per_day(&series, &text)
}

/// The name of a channel group in `lang`: protocol names stay as they are.
fn group_name(lang: Lang, group: &str) -> &'static str {
    match group {
        "est" => "EST",
        "acme" => "ACME",
        "scep" => "SCEP",
        "pickup" => lang.t("group.pickup"),
        _ => lang.t("group.other"),
    }
}

/// The message id of a certificate status of the metrics.
fn status_key(status: &str) -> &'static str {
    match status {
        "valid" => "status.valid",
        "expired" => "status.expired",
        "revoked" => "status.revoked",
        _ => "status.on_hold",
    }
}

/// The message id of an expiry window of the metrics.
fn window_key(window: &str) -> &'static str {
    match window {
        "7d" => "window.7d",
        "30d" => "window.30d",
        _ => "window.90d",
    }
}

/// What the CA page shows.
#[derive(Debug, Clone)]
pub struct CaInfo {
    /// Base of the status URLs the certificates name (`Config::status_base_url`).
    pub status_base: String,
    /// thisUpdate and nextUpdate of the issuing CA's current CRL; `None` if none could be made.
    pub crl_times: Option<(i64, i64)>,
}

/// The CA page: certificates to download (the status routes, served on this listener too),
/// the published CRL and OCSP URLs, and when the CRL is next updated.
pub fn ca(lang: Lang, session: &Session, info: &CaInfo) -> String {
    let base = &info.status_base;
    let mut b = String::new();
    let _ = write!(
        b,
        "<section aria-labelledby=\"certs\"><h2 id=\"certs\">{}</h2><table><tbody>",
        escape(lang.t("ca.certs"))
    );
    for (key, path) in [
        ("ca.issuing", "/ca/issuing.crt"),
        ("ca.root", "/ca/root.crt"),
    ] {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{label}</th><td><a href=\"{path}\" download>{dl}</a></td>\
             <td>{pub_label}: <code>{url}</code></td></tr>",
            label = escape(lang.t(key)),
            dl = escape(lang.t("ca.download")),
            pub_label = escape(lang.t("ca.published")),
            url = escape(&format!("{base}{path}")),
        );
    }
    let _ = write!(
        b,
        "</tbody></table></section><section aria-labelledby=\"crls\"><h2 id=\"crls\">{}</h2><table><tbody>",
        escape(lang.t("ca.crls"))
    );
    for (key, path) in [
        ("ca.crl_issuing", "/crl/issuing.crl"),
        ("ca.crl_root", "/crl/root.crl"),
        ("ca.ocsp", "/ocsp"),
    ] {
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{}</th><td><code>{}</code></td></tr>",
            escape(lang.t(key)),
            escape(&format!("{base}{path}")),
        );
    }
    match info.crl_times {
        Some((this, next)) => {
            let _ = write!(
                b,
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>\
                 <tr data-key=\"crl.next_update\"><th scope=\"row\">{}</th><td>{}</td></tr>",
                escape(lang.t("ca.this_update")),
                escape(&lang.format_time(this)),
                escape(lang.t("ca.next_update")),
                escape(&lang.format_time(next)),
            );
        }
        None => {
            let _ = write!(
                b,
                "<tr><td colspan=\"2\">{}</td></tr>",
                escape(lang.t("ca.crl_unavailable"))
            );
        }
    }
    b.push_str("</tbody></table></section>");
    layout(lang, lang.t("ca.title"), Some(session), "/console/ca", &b)
}

/// An error page: `message` is a catalogue key (`error.forbidden`, …).
pub fn error(lang: Lang, session: Option<&Session>, message: &'static str) -> String {
    error_with_detail(lang, session, message, None)
}

/// An error page whose message (a catalogue key) is followed by the server's own reason, a
/// technical text in English (as on the audit page), escaped.
pub fn error_with_detail(
    lang: Lang,
    session: Option<&Session>,
    message: &'static str,
    detail: Option<&str>,
) -> String {
    let mut body = format!("<p role=\"alert\">{}</p>", escape(lang.t(message)));
    if let Some(d) = detail {
        body.push_str(&format!(
            "<p>{}: <code class=\"detail\">{}</code></p>",
            escape(lang.t("error.detail")),
            escape(d)
        ));
    }
    layout(lang, lang.t("error.title"), session, "", &body)
}
