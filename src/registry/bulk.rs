//! Bulk registration: many subjects in one call (the admin API's `POST /api/v1/subjects/bulk`,
//! the console's import), row by row so a bad row does not stop the others, with a report per
//! row as it goes; and its dry run, which judges every row the same way and writes nothing.

use std::collections::{HashMap, HashSet};

use super::service::{Registry, RowResult};
use super::subjects::{self, Registered, SubjectInput};
use crate::error::{Error, Result};

/// Most rows one bulk call takes.
pub const MAX_ROWS: usize = 100_000;

/// Whether a bulk call writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Registers every good row and writes one `subject.bulk` audit entry.
    Apply,
    /// Judges every row as `Apply` would (validation, and created / updated / unchanged
    /// against the store and the rows before it) and writes nothing, audit included.
    DryRun,
}

impl Registry {
    /// Registers many subjects; a bad row does not stop the others.
    pub fn bulk(
        &self,
        actor: &str,
        rows: Vec<std::result::Result<SubjectInput, String>>,
    ) -> Result<Vec<RowResult>> {
        self.bulk_with(actor, rows, Mode::Apply, false, &mut |_| {})
    }

    /// What [`Registry::bulk`] would answer for `rows`, writing nothing and auditing nothing.
    pub fn bulk_dry_run(
        &self,
        rows: Vec<std::result::Result<SubjectInput, String>>,
    ) -> Result<Vec<RowResult>> {
        self.bulk_with("-", rows, Mode::DryRun, false, &mut |_| {})
    }

    /// The bulk call behind both: each row's result goes to `progress` as soon as it is known
    /// (the console's import job counts them), then all of them are returned. With
    /// [`Mode::Apply`] the call is audited once, as `subject.bulk` by `actor`. With
    /// `mail_links` (and `Mode::Apply`), every person a row registers, updates or finds
    /// unchanged, active and with an address, gets a pickup link by mail
    /// ([`Registry::mail_pickup`]); the row says which mail, or why none.
    pub fn bulk_with(
        &self,
        actor: &str,
        rows: Vec<std::result::Result<SubjectInput, String>>,
        mode: Mode,
        mail_links: bool,
        progress: &mut dyn FnMut(&RowResult),
    ) -> Result<Vec<RowResult>> {
        if mail_links && mode == Mode::Apply && self.mailer.is_none() {
            return Err(Error::Malformed(
                "mail is not configured ([mail] relay): links cannot be sent".into(),
            ));
        }
        if rows.len() > MAX_ROWS {
            return Err(Error::TooLarge("at most 100,000 rows".into()));
        }
        let mut out = Vec::with_capacity(rows.len());
        let mut changed = 0;
        let mut earlier = HashMap::new();
        // A dry run's would-be subjects: ids no store holds, never shown.
        let mut unborn = HashSet::new();
        for (i, row) in rows.into_iter().enumerate() {
            // Failed rows still name their external id, so integrators can match them.
            let row_external_id = row
                .as_ref()
                .ok()
                .map(|r| r.external_id.clone())
                .filter(|e| !e.is_empty());
            let res = row.map_err(Error::Malformed).and_then(|input| {
                let kind = input.kind.clone().ok_or_else(|| {
                    Error::Malformed("kind is required (person or device)".into())
                })?;
                let now = self.clock.now();
                let r: Result<Registered> = match mode {
                    Mode::Apply => subjects::register(&*self.store, &kind, &input, now),
                    Mode::DryRun => subjects::check(&*self.store, &kind, &input, now, &mut earlier),
                };
                r.map(|r| (input, r))
            });
            let result = match res {
                Ok((input, r)) => {
                    if r.result != "unchanged" {
                        changed += 1;
                    }
                    if mode == Mode::DryRun && r.result == "created" {
                        unborn.insert(r.subject.id.clone());
                    }
                    RowResult {
                        row: i + 1,
                        external_id: Some(input.external_id),
                        result: r.result.into(),
                        id: (!unborn.contains(&r.subject.id)).then(|| r.subject.id.to_string()),
                        error: None,
                        mail: None,
                        mail_error: None,
                    }
                }
                Err(e) => RowResult {
                    row: i + 1,
                    external_id: row_external_id,
                    result: "error".into(),
                    id: None,
                    error: Some(e.public_message().to_owned()),
                    mail: None,
                    mail_error: None,
                },
            };
            let mut result = result;
            if mail_links && mode == Mode::Apply && result.result != "error" {
                self.mail_row(actor, &mut result);
            }
            progress(&result);
            out.push(result);
        }
        if mode == Mode::Apply {
            self.audit(
                actor,
                "subject.bulk",
                "-",
                "ok",
                &format!("{} rows, {changed} changed", out.len()),
            )?;
        }
        Ok(out)
    }

    /// Mails a pickup link to the person of a registered row; the row says which mail or why
    /// none.
    fn mail_row(&self, actor: &str, row: &mut RowResult) {
        let subject = row
            .id
            .as_deref()
            .and_then(|id| crate::ids::SubjectId::parse(id).ok())
            .map(|id| self.store.get_subject(&id));
        let outcome = match subject {
            Some(Ok(Some(s))) if s.kind != "person" => Err("a device gets no pickup link".into()),
            Some(Ok(Some(s))) if s.status != crate::states::SubjectStatus::Active => {
                Err(format!("the subject is {}", s.status))
            }
            Some(Ok(Some(s))) => self
                .mail_pickup(actor, &s, None, false)
                .map(|m| m.mail)
                .map_err(|e| e.public_message().to_owned()),
            Some(Err(e)) => Err(e.public_message().to_owned()),
            _ => Err("the subject is not registered".into()),
        };
        match outcome {
            Ok(mail) => row.mail = Some(mail),
            Err(e) => row.mail_error = Some(e),
        }
    }
}
