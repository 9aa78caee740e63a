//! The console's bulk import over plain HTTPS with a hand-kept cookie: the dry run judges
//! every row and writes nothing (the admin API's subject list and audit log as witnesses), the
//! import of 1,000 rows runs as a job whose page follows it to the end, scopes, CSRF, who may
//! see a job, and files that are refused with a page that says why.

mod common;

use common::console::*;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const BOUNDARY: &str = "----enrolldTestBoundary7MA4YWxk";

/// A `multipart/form-data` body of `fields` (name, file name for a file field, bytes).
fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, file, data) in fields {
        b.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let head = match file {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                 Content-Type: text/csv\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        b.extend_from_slice(head.as_bytes());
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

/// The import form sent as a browser sends it, with the session cookie `cookie`.
async fn send(s: &Server, cookie: &str, fields: &[(&str, Option<&str>, &[u8])]) -> Page {
    let r = browser(s)
        .post(s.url("/console/import"))
        .header("cookie", format!("enrolld_console={cookie}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(fields));
    read(r.send().await.unwrap()).await
}

/// The dry run of `csv` pasted into the form of the session `cookie` (its CSRF token taken
/// from the form).
async fn dry_run(s: &Server, cookie: &str, csv: &str) -> Page {
    let form = get(s, cookie, "/console/import").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let token = csrf(&form.body);
    send(
        s,
        cookie,
        &[
            ("csrf", None, token.as_bytes()),
            ("file", Some(""), b""),
            ("csv", None, csv.as_bytes()),
        ],
    )
    .await
}

/// The value of the hidden field `name` of a page.
fn hidden(body: &str, name: &str) -> String {
    let pat = format!("name=\"{name}\" value=\"");
    let at = body
        .find(&pat)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + pat.len();
    body[at..].split('"').next().unwrap().to_owned()
}

/// The figure of a counts list (`data-count="<what>"`) after `table_id`'s counts.
fn count(body: &str, table_id: &str, what: &str) -> usize {
    let at = body
        .find(&format!("id=\"{table_id}-counts\""))
        .expect("a counts list");
    let pat = format!("data-count=\"{what}\">");
    let from = body[at..].find(&pat).unwrap() + at + pat.len();
    body[from..].split('<').next().unwrap().parse().unwrap()
}

/// The rows of a results table: (row number, data-result, the row's HTML).
fn rows(body: &str, table_id: &str) -> Vec<(usize, String, String)> {
    let at = body
        .find(&format!("<table id=\"{table_id}\""))
        .expect("a results table");
    let end = body[at..].find("</table>").unwrap() + at;
    body[at..end]
        .split("<tr data-row=\"")
        .skip(1)
        .map(|r| {
            let n = r.split('"').next().unwrap().parse().unwrap();
            let res = r.split("data-result=\"").nth(1).unwrap();
            (n, res.split('"').next().unwrap().to_owned(), r.to_owned())
        })
        .collect()
}

/// Every subject, as the admin API lists them.
async fn subjects(s: &Server) -> Vec<Value> {
    let (st, v) = s
        .api(
            Method::GET,
            "/api/v1/subjects?limit=10000",
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v["subjects"].as_array().unwrap().clone()
}

/// Every audit entry, as the admin API reads them.
async fn audit(s: &Server) -> Vec<Value> {
    let (st, v) = s
        .api(
            Method::GET,
            "/api/v1/audit?limit=1000",
            &s.admin_token(),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    v["entries"].as_array().unwrap().clone()
}

/// The id of the admin token the server wrote at first start.
fn admin_id(s: &Server) -> String {
    s.admin_token().split('.').next().unwrap().to_owned()
}

/// The job page at `path` once the job has ended (polled; the test fails rather than hangs).
async fn finished(s: &Server, cookie: &str, path: &str) -> Page {
    for _ in 0..3000 {
        let page = get(s, cookie, path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        if page.body.contains("data-state=\"finished\"") {
            return page;
        }
        assert!(
            page.body
                .contains("<script src=\"/console/static/progress.js\" defer></script>"),
            "{}",
            page.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the import did not finish");
}

#[tokio::test]
async fn a_dry_run_judges_every_row_and_writes_nothing() {
    let s = Server::start("").await;
    let (st, v) = s
        .api(
            Method::POST,
            "/api/v1/people",
            &s.admin_token(),
            Some(json!({"external_id": "e1", "email": "ann@corp.example", "display_name": "Ann"})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let cookie = signed_in(&s, &s.admin_token(), "en").await;
    let form = get(&s, &cookie, "/console/import").await;
    assert_eq!(form.status, 200);
    for needle in [
        "id=\"import-form\"",
        "enctype=\"multipart/form-data\"",
        "type=\"file\" name=\"file\"",
        "name=\"csv\"",
        "href=\"/console/import\" aria-current=\"page\"",
    ] {
        assert!(form.body.contains(needle), "{needle}: {}", form.body);
    }
    let before = (subjects(&s).await, audit(&s).await.len());
    let csv = "kind,external_id,email,display_name,name\n\
               person,e1,ann@corp.example,Ann,\n\
               person,e2,bo@corp.example,Bo <b>,\n\
               person,e1,ann@corp.example,Ann Lee,\n\
               person,e3,not-an-address,Cy,\n\
               device,d1,,,kiosk-1\n\
               robot,x1,,,r2\n\
               person,e2,bo@corp.example,Bo B,\n";
    let p = dry_run(&s, &cookie, csv).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let got: Vec<(usize, String)> = rows(&p.body, "import-dryrun")
        .into_iter()
        .map(|(n, r, _)| (n, r))
        .collect();
    let want = [
        (1, "unchanged"),
        (2, "created"),
        (3, "updated"),
        (4, "error"),
        (5, "created"),
        (6, "error"),
        (7, "updated"),
    ];
    assert_eq!(
        got,
        want.map(|(n, r)| (n, r.to_owned())).to_vec(),
        "{}",
        p.body
    );
    let table = rows(&p.body, "import-dryrun");
    assert!(table[3].2.contains("invalid email"), "{}", table[3].2);
    assert!(table[3].2.contains("<code>e3</code>"), "{}", table[3].2);
    assert!(
        table[5].2.contains("kind must be person or device"),
        "{}",
        table[5].2
    );
    assert!(table[1].2.contains("Would create"), "{}", table[1].2);
    assert!(
        table[1].2.contains("Bo &lt;b&gt;"),
        "names are escaped: {}",
        table[1].2
    );
    // The existing subject's row links to its page; a would-be creation has no page yet.
    let e1 = before.0[0]["id"].as_str().unwrap();
    assert!(
        table[0].2.contains(&format!("/console/people/{e1}")),
        "{}",
        table[0].2
    );
    assert!(!table[1].2.contains("/console/people/"), "{}", table[1].2);
    // A later row about a would-be subject is judged against it, and has no page either.
    assert!(!table[6].2.contains("/console/people/"), "{}", table[6].2);
    for (what, n) in [
        ("rows", 7),
        ("created", 2),
        ("updated", 2),
        ("unchanged", 1),
        ("error", 2),
    ] {
        assert_eq!(count(&p.body, "import-dryrun", what), n, "{what}");
    }
    assert!(p.body.contains("id=\"import-start\""), "{}", p.body);
    let upload = hidden(&p.body, "upload");
    // Nothing was written: the same subjects, unchanged, and not one more audit entry.
    assert_eq!(subjects(&s).await, before.0);
    assert_eq!(audit(&s).await.len(), before.1);
    // The import of the same file does what the dry run said, row by row.
    let started = post(
        &s,
        &cookie,
        "/console/import/start",
        &[("csrf", &csrf(&p.body)), ("upload", &upload)],
    )
    .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let done = finished(&s, &cookie, started.headers["location"].to_str().unwrap()).await;
    let did: Vec<(usize, String)> = rows(&done.body, "import-results")
        .into_iter()
        .map(|(n, r, _)| (n, r))
        .collect();
    assert_eq!(did, got, "{}", done.body);
    assert_eq!(subjects(&s).await.len(), 3);
    // A file with a header and no rows offers nothing to start.
    let p = dry_run(&s, &cookie, "kind,external_id\n").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("no data rows"), "{}", p.body);
    assert!(!p.body.contains("import-start"), "{}", p.body);
}

#[tokio::test]
async fn an_import_of_1000_rows_runs_as_a_job_to_the_end() {
    let s = Server::start("").await;
    let cookie = signed_in(&s, &s.admin_token(), "en").await;
    let mut csv = String::from("\u{feff}kind,external_id,email,display_name,department\r\n");
    for i in 0..1000 {
        csv.push_str(&format!(
            "person,hr-{i:04},p{i}@corp.example,\"Person, {i}\",Sales\r\n"
        ));
    }
    // Sent as a file, as a spreadsheet saves "CSV UTF-8" (with a byte order mark).
    let form = get(&s, &cookie, "/console/import").await;
    let token = csrf(&form.body);
    let p = send(
        &s,
        &cookie,
        &[
            ("csrf", None, token.as_bytes()),
            ("file", Some("people.csv"), csv.as_bytes()),
            ("csv", None, b""),
        ],
    )
    .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(count(&p.body, "import-dryrun", "created"), 1000);
    assert!(subjects(&s).await.is_empty());
    let upload = hidden(&p.body, "upload");
    // Another session, even of the same token, cannot start this session's file.
    let other = signed_in(&s, &s.admin_token(), "en").await;
    let other_csrf = csrf(&get(&s, &other, "/console/import").await.body);
    let refused = post(
        &s,
        &other,
        "/console/import/start",
        &[("csrf", &other_csrf), ("upload", &upload)],
    )
    .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert!(
        refused.body.contains("no longer waiting"),
        "{}",
        refused.body
    );
    // Started from the dry run's form: the file is not sent again.
    let started = post(
        &s,
        &cookie,
        "/console/import/start",
        &[("csrf", &csrf(&p.body)), ("upload", &upload)],
    )
    .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let job_path = started.headers["location"].to_str().unwrap().to_owned();
    assert!(job_path.starts_with("/console/import/"), "{job_path}");
    // A second start of the same file finds nothing to start.
    let again = post(
        &s,
        &cookie,
        "/console/import/start",
        &[("csrf", &csrf(&p.body)), ("upload", &upload)],
    )
    .await;
    assert_eq!(again.status, 404, "{}", again.body);
    // The job's page follows the job until it ends (bounded: the test fails rather than hangs).
    let mut page = get(&s, &cookie, &job_path).await;
    let mut polls = 0;
    while page.body.contains("data-state=\"running\"") {
        assert_eq!(page.status, 200);
        assert!(
            page.body
                .contains("<script src=\"/console/static/progress.js\" defer></script>"),
            "{}",
            page.body
        );
        assert!(page.body.contains("id=\"import-reload\""), "{}", page.body);
        assert!(
            !page.body.contains("http-equiv=\"refresh\""),
            "no automatic refresh"
        );
        assert!(page
            .body
            .contains("<progress id=\"import-progress\" value=\""));
        let status = get(&s, &cookie, &format!("{job_path}/status")).await;
        assert_eq!(status.status, 200, "{}", status.body);
        let v: serde_json::Value = serde_json::from_str(&status.body).unwrap();
        assert_eq!(v["total"], 1000, "{v}");
        assert!(v["done"].as_u64().unwrap() <= 1000);
        assert!(page.body.contains("max=\"1000\""), "{}", page.body);
        polls += 1;
        assert!(polls < 3000, "the import did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        page = get(&s, &cookie, &job_path).await;
    }
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("data-state=\"finished\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("progress.js"), "{}", page.body);
    let status = get(&s, &cookie, &format!("{job_path}/status")).await;
    let v: serde_json::Value = serde_json::from_str(&status.body).unwrap();
    assert_eq!(
        (v["done"].as_u64(), v["finished"].as_bool()),
        (Some(1000), Some(true)),
        "{v}"
    );
    assert!(
        page.body
            .contains("<progress id=\"import-progress\" value=\"1000\" max=\"1000\">"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("<span id=\"import-percent\">100 %</span>"));
    assert_eq!(count(&page.body, "import-results", "created"), 1000);
    assert_eq!(count(&page.body, "import-results", "error"), 0);
    let results = rows(&page.body, "import-results");
    assert_eq!(results.len(), 1000);
    // Every subject is registered, and each row links to its subject's page.
    let all = subjects(&s).await;
    assert_eq!(all.len(), 1000);
    for (n, result, html) in &results {
        assert_eq!(result, "created", "row {n}");
        let ext = format!("hr-{:04}", n - 1);
        let subject = all
            .iter()
            .find(|x| x["external_id"] == ext.as_str())
            .unwrap_or_else(|| panic!("{ext} not registered"));
        assert_eq!(subject["display_name"], format!("Person, {}", n - 1));
        assert!(
            html.contains(&format!(
                "href=\"/console/people/{}\"",
                subject["id"].as_str().unwrap()
            )),
            "{html}"
        );
    }
    // Audited as the admin API's bulk import is, with the session's token as actor.
    let entries = audit(&s).await;
    let bulk: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "subject.bulk")
        .collect();
    assert_eq!(bulk.len(), 1, "{entries:?}");
    assert_eq!(bulk[0]["actor"], format!("token:{}", admin_id(&s)));
    assert_eq!(bulk[0]["detail"], "1000 rows, 1000 changed");
    // A session of another token with `register` does not see the job; another admin does.
    let (reg, _) = token_with(&s, "hr", &["register"]).await;
    let reg = signed_in(&s, &reg, "en").await;
    assert_eq!(get(&s, &reg, &job_path).await.status, 404);
    let (adm, _) = token_with(&s, "other-admin", &["admin"]).await;
    let adm = signed_in(&s, &adm, "en").await;
    let seen = get(&s, &adm, &job_path).await;
    assert_eq!(seen.status, 200);
    assert!(seen.body.contains("id=\"import-results\""));
    assert_eq!(
        get(&s, &cookie, "/console/import/no-such-job").await.status,
        404
    );
}

#[tokio::test]
async fn a_read_token_sees_no_import_form_and_its_forged_posts_are_refused() {
    let s = Server::start("").await;
    let (read_token, _) = token_with(&s, "auditor", &["read"]).await;
    let cookie = signed_in(&s, &read_token, "en").await;
    let p = get(&s, &cookie, "/console/import").await;
    assert_eq!(p.status, 403, "{}", p.body);
    assert!(!p.body.contains("import-form"), "{}", p.body);
    assert!(!p.body.contains("type=\"file\""), "{}", p.body);
    // Its own valid CSRF token does not make a forged POST pass.
    let token = csrf(&get(&s, &cookie, "/console/people").await.body);
    let forged = send(
        &s,
        &cookie,
        &[
            ("csrf", None, token.as_bytes()),
            (
                "csv",
                None,
                b"kind,external_id,email,display_name\nperson,e1,a@corp.example,A\n",
            ),
        ],
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(!forged.body.contains("import-dryrun"));
    let forged = post(
        &s,
        &cookie,
        "/console/import/start",
        &[("csrf", &token), ("upload", "whatever")],
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(subjects(&s).await.is_empty());
}

#[tokio::test]
async fn posts_without_the_csrf_token_are_refused() {
    let s = Server::start("").await;
    let cookie = signed_in(&s, &s.admin_token(), "en").await;
    let csv: &[u8] = b"kind,external_id,email,display_name\nperson,e1,a@corp.example,A\n";
    let none = send(&s, &cookie, &[("csv", None, csv)]).await;
    assert_eq!(none.status, 403, "{}", none.body);
    let wrong = send(
        &s,
        &cookie,
        &[("csrf", None, b"forged"), ("csv", None, csv)],
    )
    .await;
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    // A real dry run, then a start without the token.
    let p = dry_run(&s, &cookie, std::str::from_utf8(csv).unwrap()).await;
    let upload = hidden(&p.body, "upload");
    let start = post(&s, &cookie, "/console/import/start", &[("upload", &upload)]).await;
    assert_eq!(start.status, 403, "{}", start.body);
    // No session at all.
    let anon = post(
        &s,
        "not-a-session",
        "/console/import/start",
        &[("csrf", &csrf(&p.body)), ("upload", &upload)],
    )
    .await;
    assert_eq!(anon.status, 403);
    assert!(subjects(&s).await.is_empty());
    // The token still starts it: the refused attempts did not use the file up.
    let ok = post(
        &s,
        &cookie,
        "/console/import/start",
        &[("csrf", &csrf(&p.body)), ("upload", &upload)],
    )
    .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
}

/// The import form with `data` as the chosen file.
async fn file(s: &Server, cookie: &str, token: &str, data: Vec<u8>) -> Page {
    send(
        s,
        cookie,
        &[
            ("csrf", None, token.as_bytes()),
            ("file", Some("people.csv"), &data),
        ],
    )
    .await
}

#[tokio::test]
async fn bad_files_get_a_page_that_says_what_is_wrong() {
    let s = Server::start("").await;
    let cookie = signed_in(&s, &s.admin_token(), "en").await;
    let token = csrf(&get(&s, &cookie, "/console/import").await.body);
    // Not UTF-8 (Latin-1 "é").
    let p = file(
        &s,
        &cookie,
        &token,
        b"kind,external_id,email,display_name\nperson,e1,a@x.example,Ren\xe9\n".to_vec(),
    )
    .await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.body.contains("role=\"alert\""), "{}", p.body);
    assert!(p.body.contains("not UTF-8"), "{}", p.body);
    assert!(
        p.body.contains("id=\"import-form\""),
        "the form again: {}",
        p.body
    );
    // A header naming an unknown column: the server's words name it.
    let p = file(
        &s,
        &cookie,
        &token,
        b"kind,external_id,colour\nperson,e1,red\n".to_vec(),
    )
    .await;
    assert_eq!(p.status, 400, "{}", p.body);
    assert!(p.body.contains("could not be read"), "{}", p.body);
    assert!(
        p.body.contains("unknown column &quot;colour&quot;"),
        "{}",
        p.body
    );
    // An unterminated quote.
    let p = file(
        &s,
        &cookie,
        &token,
        b"kind,external_id\n\"person,e1\n".to_vec(),
    )
    .await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("unterminated"), "{}", p.body);
    // One byte more than 5 MiB in the file.
    let mut big = b"kind,external_id\n".to_vec();
    big.resize(5 * 1024 * 1024 + 1, b'x');
    let p = file(&s, &cookie, &token, big).await;
    assert_eq!(p.status, 413, "{}", p.body);
    assert!(p.body.contains("larger than 5 MiB"), "{}", p.body);
    // A body far past the form's limit is refused before it is read.
    let p = file(&s, &cookie, &token, vec![b'x'; 6 * 1024 * 1024]).await;
    assert_eq!(p.status, 413, "{}", p.body);
    assert!(p.body.contains("larger than 5 MiB"), "{}", p.body);
    // Nothing chosen, nothing pasted.
    let p = send(
        &s,
        &cookie,
        &[
            ("csrf", None, token.as_bytes()),
            ("file", Some(""), b""),
            ("csv", None, b"  "),
        ],
    )
    .await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("No CSV was given"), "{}", p.body);
    // In Japanese, the explanation is Japanese.
    let ja = signed_in(&s, &s.admin_token(), "ja").await;
    let ja_token = csrf(&get(&s, &ja, "/console/import").await.body);
    let p = send(
        &s,
        &ja,
        &[
            ("csrf", None, ja_token.as_bytes()),
            ("file", Some("people.csv"), b"kind\n\xff\n"),
        ],
    )
    .await;
    assert_eq!(p.status, 400);
    assert!(
        p.body.contains("UTF-8 のテキストではありません"),
        "{}",
        p.body
    );
    assert!(subjects(&s).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_can_mail_every_person_a_pickup_link_and_so_can_the_api() {
    let relay = common::smtp::TestRelay::start("starttls");
    let s = Server::start(&relay.config("")).await;
    let cookie = signed_in(&s, &s.admin_token(), "en").await;
    let p = dry_run(
        &s,
        &cookie,
        "kind,external_id,display_name,email,name\n\
         person,IM-1,Ann,ann@corp.example,\n\
         person,IM-2,Bob,bob@corp.example,\n\
         device,IM-3,,,laptop\n",
    )
    .await;
    assert!(p.body.contains("id=\"import-mail\""), "{}", p.body);
    let upload = hidden(&p.body, "upload");
    let started = post(
        &s,
        &cookie,
        "/console/import/start",
        &[
            ("csrf", &csrf(&p.body)),
            ("upload", &upload),
            ("deliver", "email"),
        ],
    )
    .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let done = finished(&s, &cookie, started.headers["location"].to_str().unwrap()).await;
    assert_eq!(
        done.body.matches("Pickup link queued for mail.").count(),
        2,
        "{}",
        done.body
    );
    assert!(
        done.body
            .contains("No link mailed: a device gets no pickup link"),
        "{}",
        done.body
    );
    let got = relay.wait_for(2, 20).await;
    let mut to: Vec<&str> = got
        .iter()
        .map(|m| m.meta["rcpt_tos"][0].as_str().unwrap())
        .collect();
    to.sort();
    assert_eq!(to, ["ann@corp.example", "bob@corp.example"]);

    // The API: ?deliver=email on the bulk call; each row names its mail.
    let r = s
        .client()
        .post(s.url("/api/v1/subjects/bulk?deliver=email"))
        .bearer_auth(s.admin_token())
        .json(&serde_json::json!([
            {"kind": "person", "external_id": "IM-4", "display_name": "Cy", "email": "cy@corp.example"},
            {"kind": "device", "external_id": "IM-5", "name": "printer"}
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["results"][0]["mail"].is_string(), "{v}");
    assert!(
        v["results"][1]["mail_error"]
            .as_str()
            .unwrap()
            .contains("a device gets no pickup link"),
        "{v}"
    );
    assert!(
        !v.to_string().contains("/pickup/"),
        "no link in the answer: {v}"
    );
    assert_eq!(relay.wait_for(3, 20).await.len(), 3);

    // Without mail the dry run offers no such box, and the API refuses the option.
    let plain = Server::start("").await;
    let cookie = signed_in(&plain, &plain.admin_token(), "en").await;
    let p = dry_run(
        &plain,
        &cookie,
        "kind,external_id,display_name,email\nperson,X,Xi,x@corp.example\n",
    )
    .await;
    assert!(!p.body.contains("import-mail"));
    let r = plain
        .client()
        .post(plain.url("/api/v1/subjects/bulk?deliver=email"))
        .bearer_auth(plain.admin_token())
        .json(&serde_json::json!([{"kind": "person", "external_id": "Y", "display_name": "Y", "email": "y@corp.example"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
