//! The bulk import pages: the upload form (a file or pasted CSV), the dry run's per-row table
//! with its counts and the button that starts the import, and the job's page: a `<progress>`
//! that the console's one small script moves (a reload link without it), then the per-row
//! results with links to the subjects. Element ids and field names are stable for browser tests: `import-form`,
//! `csv`, `file`, `import-dryrun`, `import-start`, `import-progress`, `import-results`.

use std::fmt::Write;

use super::html::{csrf_field, escape, layout, layout_with_head};
use super::i18n::Lang;
use super::import::{ImportRow, Progress};
use super::manage::query_escape;
use super::session::Session;

/// The page's own path (the navigation marks it).
const PATH: &str = "/console/import";

/// What is wrong with a sent file: the catalogue key of the explanation, and the server's own
/// words when they say more (a CSV parse error names the column or the problem).
#[derive(Debug, Clone)]
pub struct Problem {
    /// The explanation in the reader's language.
    pub key: &'static str,
    /// The server's message (technical, not translated), if any.
    pub detail: Option<String>,
}

/// The upload form, after `problem` if the last file was refused. Only for a session with
/// `register` (the caller checks).
pub fn form(lang: Lang, session: &Session, problem: Option<&Problem>) -> String {
    let mut b = String::new();
    if let Some(p) = problem {
        let _ = write!(
            b,
            "<div class=\"notice\" role=\"alert\" id=\"import-error\"><h2>{}</h2><p>{}</p>",
            escape(lang.t("imp.err.title")),
            escape(lang.t(p.key))
        );
        if let Some(d) = &p.detail {
            let _ = write!(b, "<p><code>{}</code></p>", escape(d));
        }
        b.push_str("</div>");
    }
    let _ = write!(
        b,
        "<p>{intro}</p>\
         <form id=\"import-form\" method=\"post\" action=\"{PATH}\" enctype=\"multipart/form-data\">{csrf}\
         <p><label for=\"import-file\">{file}</label> \
         <input id=\"import-file\" type=\"file\" name=\"file\" accept=\".csv,text/csv\"></p>\
         <p><label for=\"import-csv\">{paste}</label><br>\
         <textarea id=\"import-csv\" name=\"csv\" rows=\"10\" cols=\"80\" spellcheck=\"false\"></textarea></p>\
         <p><button type=\"submit\">{check}</button></p></form>",
        intro = escape(lang.t("imp.intro")),
        csrf = csrf_field(session),
        file = escape(lang.t("imp.file")),
        paste = escape(lang.t("imp.paste")),
        check = escape(lang.t("imp.check")),
    );
    layout(lang, lang.t("imp.title"), Some(session), PATH, &b)
}

/// The catalogue key of a row result, as a dry run (`would`) or an import words it.
fn result_key(result: &str, would: bool) -> &'static str {
    match (result, would) {
        ("created", true) => "imp.would.created",
        ("updated", true) => "imp.would.updated",
        ("unchanged", true) => "imp.would.unchanged",
        ("created", false) => "imp.did.created",
        ("updated", false) => "imp.did.updated",
        ("unchanged", false) => "imp.did.unchanged",
        _ => "imp.error",
    }
}

/// The results in row order as a counted list (created, updated, unchanged, error) and a
/// table; a row whose subject exists links to its page.
fn results(b: &mut String, lang: Lang, rows: &[ImportRow], would: bool, id: &str, caption: &str) {
    let _ = write!(
        b,
        "<h2>{}</h2><dl class=\"counts\" id=\"{id}-counts\"><dt>{}</dt><dd data-count=\"rows\">{}</dd>",
        escape(lang.t("imp.counts")),
        escape(lang.t("imp.rows")),
        rows.len()
    );
    for r in ["created", "updated", "unchanged", "error"] {
        let n = rows.iter().filter(|x| x.result.result == r).count();
        let _ = write!(
            b,
            "<dt>{}</dt><dd data-count=\"{r}\">{n}</dd>",
            escape(lang.t(result_key(r, would)))
        );
    }
    b.push_str("</dl>");
    let _ = write!(
        b,
        "<table id=\"{id}\"><caption>{}</caption><thead><tr>",
        escape(caption)
    );
    for h in [
        "imp.row",
        "imp.name",
        "imp.external_id",
        "imp.result",
        "imp.message",
    ] {
        let _ = write!(b, "<th scope=\"col\">{}</th>", escape(lang.t(h)));
    }
    b.push_str("</tr></thead><tbody>");
    for r in rows {
        let res = &r.result;
        let name = escape(r.name.as_deref().unwrap_or(""));
        let name = match &res.id {
            Some(sid) => format!(
                "<a href=\"/console/people/{}\">{}</a>",
                query_escape(sid),
                if name.is_empty() {
                    escape(lang.t("imp.open"))
                } else {
                    name
                }
            ),
            None => name,
        };
        let _ = write!(
            b,
            "<tr data-row=\"{n}\" data-result=\"{kind}\"><th scope=\"row\">{n}</th><td>{name}</td>\
             <td><code>{ext}</code></td><td>{word}</td><td>{msg}</td></tr>",
            n = res.row,
            kind = escape(&res.result),
            ext = escape(res.external_id.as_deref().unwrap_or("")),
            word = escape(lang.t(result_key(&res.result, would))),
            msg = match (&res.error, &res.mail, &res.mail_error) {
                (Some(e), _, _) => escape(e),
                (None, Some(_), _) => escape(lang.t("imp.mailed")),
                (None, None, Some(e)) =>
                    format!("{} {}", escape(lang.t("imp.not_mailed")), escape(e)),
                _ => String::new(),
            },
        );
    }
    b.push_str("</tbody></table>");
}

/// The dry run: counts, every row's would-be result, and (when there are rows) the form that
/// starts the import of the file kept as `upload`.
pub fn dry_run(
    lang: Lang,
    session: &Session,
    rows: &[ImportRow],
    upload: Option<&str>,
    mail_on: bool,
) -> String {
    let mut b = format!(
        "<p class=\"notice\" role=\"status\">{}</p>",
        escape(lang.t("imp.dryrun_intro"))
    );
    match upload {
        Some(u) if !rows.is_empty() => {
            results(
                &mut b,
                lang,
                rows,
                true,
                "import-dryrun",
                lang.t("imp.dryrun_caption"),
            );
            let _ = write!(
                b,
                "<form method=\"post\" action=\"{PATH}/start\" id=\"import-start-form\">{csrf}\
                 <input type=\"hidden\" name=\"upload\" value=\"{u}\">\
                 <p>{hint}</p>{mail}<p><button type=\"submit\" id=\"import-start\">{start}</button></p></form>",
                csrf = csrf_field(session),
                u = escape(u),
                hint = escape(lang.t("imp.start_hint")),
                start = escape(lang.t("imp.start")),
                mail = if mail_on {
                    format!(
                        "<p><input type=\"checkbox\" id=\"import-mail\" name=\"deliver\" value=\"email\"> \
                         <label for=\"import-mail\">{}</label></p>",
                        escape(lang.t("imp.mail_links"))
                    )
                } else {
                    String::new()
                },
            );
        }
        _ => {
            let _ = write!(b, "<p>{}</p>", escape(lang.t("imp.no_rows")));
        }
    }
    let _ = write!(
        b,
        "<p><a href=\"{PATH}\">{}</a></p>",
        escape(lang.t("imp.again"))
    );
    layout(lang, lang.t("imp.dryrun_title"), Some(session), PATH, &b)
}

/// A job's page: its progress bar and counts; while it runs, the console's script
/// (`/console/static/progress.js`) polls `status_url` and moves the bar, and a link reloads the
/// page without it (no automatic refresh: WCAG 2.2.1); once it has ended, every row's result.
pub fn job(lang: Lang, session: &Session, p: &Progress, status_url: &str) -> String {
    let running = p.finished_at.is_none();
    let mut b = String::new();
    let state = if running {
        "imp.running"
    } else {
        "imp.finished"
    };
    let _ = write!(
        b,
        "<p class=\"notice\" role=\"status\" id=\"import-state\" data-state=\"{}\">{}</p>",
        if running { "running" } else { "finished" },
        escape(lang.t(state))
    );
    if let Some(f) = &p.failed {
        let _ = write!(
            b,
            "<p role=\"alert\">{} <code>{}</code></p>",
            escape(lang.t("imp.failed")),
            escape(f)
        );
    }
    // The catalogue orders the two numbers as the language does.
    let count = escape(lang.t("imp.count_of"))
        .replace(
            "{done}",
            &format!("<span id=\"import-done\">{}</span>", p.done),
        )
        .replace(
            "{total}",
            &format!("<span id=\"import-total\">{}</span>", p.total),
        );
    let _ = write!(
        b,
        "<p><label for=\"import-progress\">{label}</label> \
         <progress id=\"import-progress\" value=\"{done}\" max=\"{total}\"{status}>{pct} %</progress> \
         <span id=\"import-percent\">{pct} %</span> ({count})</p>",
        label = escape(lang.t("imp.progress")),
        done = p.done,
        total = p.total,
        pct = p.percent(),
        status = if running {
            format!(" data-status=\"{}\"", escape(status_url))
        } else {
            String::new()
        },
    );
    if running {
        let _ = write!(
            b,
            "<p><a id=\"import-reload\" href=\"\">{}</a></p>",
            escape(lang.t("imp.reload"))
        );
    }
    if !running {
        results(
            &mut b,
            lang,
            &p.rows,
            false,
            "import-results",
            lang.t("imp.results_caption"),
        );
        let _ = write!(
            b,
            "<p><a href=\"{PATH}\">{}</a></p>",
            escape(lang.t("imp.again"))
        );
    }
    let head = if running {
        "<script src=\"/console/static/progress.js\" defer></script>"
    } else {
        ""
    };
    layout_with_head(lang, lang.t("imp.job_title"), Some(session), PATH, head, &b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::service::RowResult;
    use crate::registry::tokens::Scope;

    fn session(lang: Lang) -> Session {
        Session {
            token_id: "tid".into(),
            token_name: "ops".into(),
            scopes: vec![Scope::Register],
            created_at: 0,
            last_seen: 0,
            csrf: "csrf-token".into(),
            lang,
        }
    }

    #[test]
    fn a_running_job_is_followed_by_the_script_and_a_finished_one_lists_its_rows() {
        let running = Progress {
            total: 8,
            done: 2,
            ..Progress::default()
        };
        let page = job(
            Lang::En,
            &session(Lang::En),
            &running,
            "/console/import/j1/status",
        );
        assert!(page.contains("<head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><script src=\"/console/static/progress.js\" defer></script>"), "{page}");
        assert!(!page.contains("http-equiv"), "no automatic refresh: {page}");
        assert!(page.contains(
            "<progress id=\"import-progress\" value=\"2\" max=\"8\" data-status=\"/console/import/j1/status\">25 %</progress>"
        ), "{page}");
        assert!(
            page.contains("<a id=\"import-reload\" href=\"\">"),
            "{page}"
        );
        assert!(
            page.contains(
                "<span id=\"import-done\">2</span> of <span id=\"import-total\">8</span> rows"
            ),
            "{page}"
        );
        assert!(!page.contains("import-results"));
        let ja = job(Lang::Ja, &session(Lang::Ja), &running, "/s");
        assert!(
            ja.contains(
                "<span id=\"import-total\">8</span> 行中 <span id=\"import-done\">2</span> 行"
            ),
            "{ja}"
        );
        let finished = Progress {
            total: 1,
            done: 1,
            rows: vec![ImportRow {
                result: RowResult {
                    row: 1,
                    external_id: Some("e<1>".into()),
                    result: "created".into(),
                    id: Some("sub-1".into()),
                    error: None,
                    mail: None,
                    mail_error: None,
                },
                name: Some("Ann & Bo".into()),
            }],
            finished_at: Some(5),
            failed: None,
        };
        let page = job(Lang::En, &session(Lang::En), &finished, "/s");
        assert!(!page.contains("progress.js"), "{page}");
        assert!(!page.contains("data-status"), "{page}");
        assert!(page.contains("<table id=\"import-results\">"));
        assert!(
            page.contains("<a href=\"/console/people/sub-1\">Ann &amp; Bo</a>"),
            "{page}"
        );
        assert!(page.contains("<code>e&lt;1&gt;</code>"), "{page}");
    }

    #[test]
    fn the_form_carries_the_csrf_token_and_a_problem_when_there_is_one() {
        let p = Problem {
            key: "imp.err.csv",
            detail: Some("CSV: unknown column \"<x>\"".into()),
        };
        let page = form(Lang::En, &session(Lang::En), Some(&p));
        assert!(page.contains("name=\"csrf\" value=\"csrf-token\""));
        assert!(page.contains("role=\"alert\""));
        assert!(
            page.contains("unknown column &quot;&lt;x&gt;&quot;"),
            "{page}"
        );
        let page = dry_run(Lang::En, &session(Lang::En), &[], Some("u1"), false);
        assert!(
            !page.contains("import-start"),
            "no rows, nothing to start: {page}"
        );
    }
}
