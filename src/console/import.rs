//! The console's bulk import, without HTTP: the CSV files a dry run has judged, kept for the
//! session that sent them until it starts the import (or for [`UPLOAD_SECS`]), and the import
//! jobs, each a blocking task that registers the rows through `Registry::bulk_with` (the call
//! behind `POST /api/v1/subjects/bulk`) and counts them as it goes.
//!
//! Both live in this process's memory: a restart forgets them (an import under way stops
//! where it was; what it registered stays registered), and a job is seen on the node that runs
//! it. A job stays [`JOB_KEEP_SECS`] after it finishes; at most [`MAX_JOBS`] are kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::clock::SharedClock;
use crate::error::{Error, Result};
use crate::registry::bulk::Mode;
use crate::registry::service::RowResult;
use crate::registry::subjects::{parse_csv, SubjectInput};
use crate::registry::tokens::Scope;
use crate::secrets::random_token;

use super::session::Session;
use super::Console;

/// Largest CSV file the console takes (bytes).
pub const MAX_CSV_BYTES: usize = 5 * 1024 * 1024;
/// How long a judged CSV file waits for its import to be started (seconds).
pub const UPLOAD_SECS: i64 = 30 * 60;
/// How long a finished job can still be looked at (seconds).
pub const JOB_KEEP_SECS: i64 = 3600;
/// Most judged files kept at once (each at most [`MAX_CSV_BYTES`]); past it the oldest goes.
const MAX_UPLOADS: usize = 32;
/// Most jobs kept at once; past it finished ones go, oldest first, and while that many run a
/// new one is refused.
pub const MAX_JOBS: usize = 64;
/// Random bytes in an upload or job id (128 bits).
const ID_BYTES: usize = 16;

/// One row of a dry run or an import as a page shows it.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// The registry's result for the row (number, external id, result, subject id, error).
    pub result: RowResult,
    /// The person's display name or the device's name the row gives, if it could be read.
    pub name: Option<String>,
}

/// A CSV file a dry run judged, waiting for its import to start.
struct Upload {
    /// Keyed hash of the session that sent it: only that session may start it.
    owner: String,
    /// The file's text (UTF-8, without a byte order mark).
    csv: String,
    /// When it is forgotten (unix seconds).
    expires_at: i64,
}

/// What a job has done so far.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Rows in the file.
    pub total: usize,
    /// Rows registered or refused so far.
    pub done: usize,
    /// Their results, in row order.
    pub rows: Vec<ImportRow>,
    /// When the job ended (unix seconds); `None` while it runs.
    pub finished_at: Option<i64>,
    /// Why the job stopped before its last row, in the server's words.
    pub failed: Option<String>,
}

impl Progress {
    /// Done rows in percent of all, rounded down (100 for an empty file).
    pub fn percent(&self) -> usize {
        (self.done * 100).checked_div(self.total).unwrap_or(100)
    }
}

/// One import under way or finished.
#[derive(Debug)]
pub struct Job {
    /// The job's id, in its page's address (random: one token's jobs are not guessable by
    /// another).
    pub id: String,
    /// The admin token whose session started it: the audit log's actor, and who may look.
    pub token_id: String,
    /// Its progress, updated by the job's task row by row.
    progress: Mutex<Progress>,
}

impl Job {
    /// Whether `session` may see the job: a session of the token that started it, or one
    /// with `admin`.
    pub fn visible_to(&self, session: &Session) -> bool {
        session.token_id == self.token_id || session.may(Scope::Admin)
    }

    /// A copy of the progress; the rows only once the job has ended (a running job's page
    /// shows counts).
    pub fn progress(&self) -> Progress {
        let p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        Progress {
            total: p.total,
            done: p.done,
            rows: if p.finished_at.is_some() {
                p.rows.clone()
            } else {
                Vec::new()
            },
            finished_at: p.finished_at,
            failed: p.failed.clone(),
        }
    }

    /// Records one more row.
    pub fn record(&self, row: ImportRow) {
        let mut p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        p.done += 1;
        p.rows.push(row);
    }

    /// Marks the job ended at `now`, with why it stopped early if it did (a job ends once).
    pub fn finish(&self, now: i64, failed: Option<String>) {
        let mut p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        if p.finished_at.is_none() {
            p.finished_at = Some(now);
            p.failed = failed;
        }
    }

    /// Whether the job has ended.
    fn finished_at(&self) -> Option<i64> {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .finished_at
    }
}

/// The judged files and the jobs of this process.
pub struct Imports {
    /// Expiry reads this clock.
    clock: SharedClock,
    /// Upload id → judged file.
    uploads: Mutex<HashMap<String, Upload>>,
    /// Job id → job.
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl Imports {
    /// No files, no jobs.
    pub fn new(clock: SharedClock) -> Self {
        Imports {
            clock,
            uploads: Mutex::new(HashMap::new()),
            jobs: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps a judged file for the session `owner` (a keyed hash of its id) and returns the id
    /// its start form carries. A session keeps one file: a new dry run replaces its last.
    pub fn keep_upload(&self, owner: &str, csv: String) -> Result<String> {
        let now = self.clock.now();
        let id = random_token(ID_BYTES)?;
        let mut map = self.uploads.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, u| u.expires_at > now && u.owner != owner);
        if map.len() >= MAX_UPLOADS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, u)| u.expires_at)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            id.clone(),
            Upload {
                owner: owner.to_owned(),
                csv,
                expires_at: now + UPLOAD_SECS,
            },
        );
        Ok(id)
    }

    /// Takes the judged file `id` for the session `owner`: once (a second start of the same
    /// file finds nothing), and only the session that sent it, before it expires.
    pub fn take_upload(&self, id: &str, owner: &str) -> Result<String> {
        let now = self.clock.now();
        let mut map = self.uploads.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, u| u.expires_at > now);
        match map.get(id) {
            Some(u) if u.owner == owner => Ok(map.remove(id).map(|u| u.csv).unwrap_or_default()),
            _ => Err(Error::NotFound(
                "no such upload: it expired, was started already or belongs to another session"
                    .into(),
            )),
        }
    }

    /// A new job of `total` rows for the token `token_id`. Finished jobs past their keeping
    /// time go first; refused (RateLimited) while [`MAX_JOBS`] jobs run.
    pub fn start_job(&self, token_id: &str, total: usize) -> Result<Arc<Job>> {
        let now = self.clock.now();
        let mut map = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, j| j.finished_at().is_none_or(|t| now - t < JOB_KEEP_SECS));
        if map.len() >= MAX_JOBS {
            let oldest = map
                .iter()
                .filter_map(|(k, j)| j.finished_at().map(|t| (t, k.clone())))
                .min()
                .map(|(_, k)| k);
            match oldest {
                Some(k) => {
                    map.remove(&k);
                }
                None => {
                    return Err(Error::RateLimited(
                        "too many imports are running; wait for one to finish".into(),
                        60,
                    ))
                }
            }
        }
        let job = Arc::new(Job {
            id: random_token(ID_BYTES)?,
            token_id: token_id.to_owned(),
            progress: Mutex::new(Progress {
                total,
                ..Progress::default()
            }),
        });
        map.insert(job.id.clone(), job.clone());
        Ok(job)
    }

    /// The job `id`, unless it finished longer than [`JOB_KEEP_SECS`] ago.
    pub fn job(&self, id: &str) -> Option<Arc<Job>> {
        let now = self.clock.now();
        let map = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(id)
            .filter(|j| j.finished_at().is_none_or(|t| now - t < JOB_KEEP_SECS))
            .cloned()
    }
}

/// Ends a job if its task stops without saying how (a panic): its page then says it failed
/// instead of running for ever.
pub struct FinishGuard {
    /// The job the task works on.
    pub job: Arc<Job>,
    /// The clock of the end time.
    pub clock: SharedClock,
}

impl Drop for FinishGuard {
    fn drop(&mut self) {
        self.job.finish(
            self.clock.now(),
            Some("the import stopped unexpectedly".into()),
        );
    }
}

/// The name a row gives its subject (a person's display name, a device's name), if it parsed.
fn row_name(row: &std::result::Result<SubjectInput, String>) -> Option<String> {
    row.as_ref()
        .ok()
        .and_then(|i| i.display_name.clone().or_else(|| i.name.clone()))
}

impl Console {
    /// Who owns a judged file: a keyed hash of the session id (the id itself is not kept).
    fn upload_owner(&self, session_id: &str) -> String {
        self.registry
            .secrets
            .hash(&format!("console-import:{session_id}"))
    }

    /// The dry run of `csv` for the session `session_id`: every row judged by the registry's
    /// dry run (the admin API's bulk import, writing nothing and auditing nothing), and the id
    /// under which the file waits for its import when it has rows. A file that cannot be read
    /// as CSV is an error (Malformed). Blocking (store reads).
    pub fn import_dry_run(
        &self,
        session_id: &str,
        csv: String,
    ) -> Result<(Vec<ImportRow>, Option<String>)> {
        let rows = parse_csv(&csv)?;
        let names: Vec<Option<String>> = rows.iter().map(row_name).collect();
        let judged = self.registry.bulk_dry_run(rows)?;
        let out: Vec<ImportRow> = judged
            .into_iter()
            .zip(names)
            .map(|(result, name)| ImportRow { result, name })
            .collect();
        let upload = if out.is_empty() {
            None
        } else {
            Some(
                self.imports
                    .keep_upload(&self.upload_owner(session_id), csv)?,
            )
        };
        Ok((out, upload))
    }

    /// Starts the import of the file the session's dry run kept as `upload`: a blocking task
    /// registers its rows through `Registry::bulk_with` with the session's token as actor (one
    /// `subject.bulk` audit entry, as the admin API writes) and counts each row on the job.
    /// The file can be started once. Must run inside the tokio runtime.
    pub fn start_import(
        &self,
        session_id: &str,
        session: &Session,
        upload: &str,
        mail_links: bool,
    ) -> Result<Arc<Job>> {
        let csv = self
            .imports
            .take_upload(upload, &self.upload_owner(session_id))?;
        let rows = parse_csv(&csv)?;
        let names: Vec<Option<String>> = rows.iter().map(row_name).collect();
        let job = self.imports.start_job(&session.token_id, rows.len())?;
        let runtime = tokio::runtime::Handle::try_current().map_err(Error::internal)?;
        let registry = self.registry.clone();
        let actor = session.actor();
        let guard = FinishGuard {
            job: job.clone(),
            clock: registry.clock.clone(),
        };
        runtime.spawn_blocking(move || {
            let job = guard.job.clone();
            let mut names = names.into_iter();
            let done = registry.bulk_with(&actor, rows, Mode::Apply, mail_links, &mut |r| {
                job.record(ImportRow {
                    result: r.clone(),
                    name: names.next().flatten(),
                });
            });
            if let Err(e) = &done {
                tracing::error!(error = %e, job = %job.id, "console import stopped");
            }
            job.finish(
                registry.clock.now(),
                done.err().map(|e| e.public_message().to_owned()),
            );
            drop(guard);
        });
        Ok(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn imports() -> (Arc<ManualClock>, Imports) {
        let clock = Arc::new(ManualClock::at(1_000_000));
        (clock.clone(), Imports::new(clock))
    }

    fn row(n: usize, result: &str) -> ImportRow {
        ImportRow {
            result: RowResult {
                row: n,
                external_id: Some(format!("e{n}")),
                result: result.into(),
                id: None,
                error: None,
                mail: None,
                mail_error: None,
            },
            name: None,
        }
    }

    fn session(token_id: &str, scopes: Vec<Scope>) -> Session {
        Session {
            token_id: token_id.into(),
            token_name: "t".into(),
            scopes,
            created_at: 0,
            last_seen: 0,
            csrf: "c".into(),
            lang: crate::console::i18n::Lang::En,
        }
    }

    #[test]
    fn an_upload_is_taken_once_by_its_session_before_it_expires() {
        let (clock, im) = imports();
        let id = im.keep_upload("alice", "kind\n".into()).unwrap();
        assert!(id.len() >= 22, "{id}");
        assert!(im.take_upload(&id, "mallory").is_err());
        assert_eq!(im.take_upload(&id, "alice").unwrap(), "kind\n");
        assert!(im.take_upload(&id, "alice").is_err());
        let id = im.keep_upload("alice", "x".into()).unwrap();
        clock.advance(UPLOAD_SECS - 1);
        let late = im.keep_upload("bob", "y".into()).unwrap();
        clock.advance(1);
        assert!(im.take_upload(&id, "alice").is_err());
        assert_eq!(im.take_upload(&late, "bob").unwrap(), "y");
    }

    #[test]
    fn a_session_keeps_one_upload_and_all_sessions_at_most_a_bound() {
        let (clock, im) = imports();
        let first = im.keep_upload("alice", "1".into()).unwrap();
        let second = im.keep_upload("alice", "2".into()).unwrap();
        assert!(im.take_upload(&first, "alice").is_err());
        assert_eq!(im.take_upload(&second, "alice").unwrap(), "2");
        let oldest = im.keep_upload("s0", "0".into()).unwrap();
        for i in 1..=MAX_UPLOADS {
            clock.advance(1);
            im.keep_upload(&format!("s{i}"), i.to_string()).unwrap();
        }
        assert!(im.take_upload(&oldest, "s0").is_err());
        assert_eq!(im.uploads.lock().unwrap().len(), MAX_UPLOADS);
    }

    #[test]
    fn progress_counts_rows_and_shows_them_once_finished() {
        let (clock, im) = imports();
        let job = im.start_job("tid", 4).unwrap();
        assert_eq!(job.progress().percent(), 0);
        job.record(row(1, "created"));
        job.record(row(2, "error"));
        job.record(row(3, "updated"));
        let p = job.progress();
        assert_eq!((p.done, p.total, p.percent()), (3, 4, 75));
        assert!(p.rows.is_empty() && p.finished_at.is_none());
        job.record(row(4, "unchanged"));
        job.finish(clock.now(), None);
        job.finish(clock.now() + 5, Some("late".into()));
        let p = job.progress();
        assert_eq!((p.done, p.percent()), (4, 100));
        assert_eq!(p.finished_at, Some(clock.now()));
        assert_eq!(p.failed, None);
        let results: Vec<&str> = p.rows.iter().map(|r| r.result.result.as_str()).collect();
        assert_eq!(results, ["created", "error", "updated", "unchanged"]);
        assert_eq!(Progress::default().percent(), 100);
    }

    #[test]
    fn a_job_is_kept_an_hour_after_it_finishes_and_only_its_token_or_admin_sees_it() {
        let (clock, im) = imports();
        let job = im.start_job("tid", 1).unwrap();
        clock.advance(10 * JOB_KEEP_SECS);
        assert!(im.job(&job.id).is_some(), "a running job is never dropped");
        job.finish(clock.now(), None);
        clock.advance(JOB_KEEP_SECS - 1);
        assert!(im.job(&job.id).is_some());
        clock.advance(1);
        assert!(im.job(&job.id).is_none());
        assert!(im.job("no-such-job").is_none());
        assert!(job.visible_to(&session("tid", vec![Scope::Register])));
        assert!(!job.visible_to(&session("other", vec![Scope::Register, Scope::Read])));
        assert!(job.visible_to(&session("other", vec![Scope::Admin])));
    }

    #[test]
    fn jobs_are_bounded_finished_ones_go_first_and_running_ones_refuse_more() {
        let (clock, im) = imports();
        let first = im.start_job("tid", 1).unwrap();
        first.finish(clock.now(), None);
        let mut running = Vec::new();
        for _ in 1..MAX_JOBS {
            clock.advance(1);
            running.push(im.start_job("tid", 1).unwrap());
        }
        clock.advance(1);
        let newest = im.start_job("tid", 1).unwrap();
        assert!(im.job(&first.id).is_none(), "the finished job made room");
        assert!(im.job(&newest.id).is_some());
        assert!(matches!(
            im.start_job("tid", 1),
            Err(Error::RateLimited(..))
        ));
        running[0].finish(clock.now(), None);
        assert!(im.start_job("tid", 1).is_ok());
    }

    #[test]
    fn a_task_that_stops_without_finishing_fails_its_job() {
        let (clock, im) = imports();
        let job = im.start_job("tid", 2).unwrap();
        drop(FinishGuard {
            job: job.clone(),
            clock: clock.clone(),
        });
        assert!(job.progress().failed.is_some());
        let done = im.start_job("tid", 0).unwrap();
        done.finish(clock.now(), None);
        drop(FinishGuard {
            job: done.clone(),
            clock,
        });
        assert_eq!(done.progress().failed, None);
    }
}
