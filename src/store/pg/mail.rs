//! [`MailStore`] on PostgreSQL: the outbox is one table with a unique event column; due mails
//! come from a partial index over the queued ones.

use super::pool::TxResult;
use super::registry::insert_pickup;
use super::{from_json, to_json, PgStore};
use crate::error::{Error, Result};
use crate::states::MailStatus;
use crate::store::{MailRecord, MailStore, PickupRecord};

/// Inserts `m` inside the caller's transaction unless its event exists; `false` if it does.
fn insert_mail(tx: &mut postgres::Transaction<'_>, m: &MailRecord) -> TxResult<bool> {
    let n = tx.execute(
        "INSERT INTO mail (id, event, status, next_attempt_at, created_at, record) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event) DO NOTHING",
        &[
            &m.id,
            &m.event,
            &m.status.as_str(),
            &m.next_attempt_at,
            &m.created_at,
            &to_json(m)?,
        ],
    )?;
    Ok(n == 1)
}

fn mails(rows: Vec<postgres::Row>) -> TxResult<Vec<MailRecord>> {
    rows.into_iter().map(|r| from_json(r.get(0))).collect()
}

impl MailStore for PgStore {
    fn enqueue_mail(&self, mail: &MailRecord) -> Result<bool> {
        let m = mail.clone();
        self.pool.write(move |tx| insert_mail(tx, &m))
    }

    fn create_pickup_with_mail(&self, p: &PickupRecord, mail: &MailRecord) -> Result<()> {
        let (p, m) = (p.clone(), mail.clone());
        self.pool.write(move |tx| {
            insert_pickup(tx, &p)?;
            if !insert_mail(tx, &m)? {
                // The transaction rolls back: the link goes with it.
                return Err(Error::Conflict("pickup link or mail event exists".into()).into());
            }
            Ok(())
        })
    }

    fn get_mail(&self, id: &str) -> Result<Option<MailRecord>> {
        let id = id.to_owned();
        self.pool.read(move |c| {
            c.query_opt("SELECT record FROM mail WHERE id = $1", &[&id])?
                .map(|r| from_json(r.get(0)))
                .transpose()
        })
    }

    fn has_mail_event(&self, event: &str) -> Result<bool> {
        let event = event.to_owned();
        self.pool.read(move |c| {
            Ok(
                c.query_opt("SELECT 1 FROM mail WHERE event = $1", &[&event])?
                    .is_some(),
            )
        })
    }

    fn due_mails(&self, now: i64, limit: usize) -> Result<Vec<MailRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.pool.read(move |c| {
            mails(c.query(
                "SELECT record FROM mail WHERE status = 'queued' AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $2",
                &[&now, &limit],
            )?)
        })
    }

    fn update_mail(&self, old: &MailRecord, new: &MailRecord) -> Result<bool> {
        if old.id != new.id || old.event != new.event {
            return Err(Error::Internal("a mail keeps its id and event".into()));
        }
        let (old, new) = (old.clone(), new.clone());
        self.pool.write(move |tx| {
            let Some(row) = tx.query_opt(
                "SELECT record FROM mail WHERE id = $1 FOR UPDATE",
                &[&old.id],
            )?
            else {
                return Ok(false);
            };
            let cur: MailRecord = from_json(row.get(0))?;
            if cur != old {
                return Ok(false);
            }
            tx.execute(
                "UPDATE mail SET status = $2, next_attempt_at = $3, record = $4 WHERE id = $1",
                &[
                    &new.id,
                    &new.status.as_str(),
                    &new.next_attempt_at,
                    &to_json(&new)?,
                ],
            )?;
            Ok(true)
        })
    }

    fn count_mails(&self) -> Result<(u64, u64, u64)> {
        let rows = self
            .pool
            .read(|c| Ok(c.query("SELECT status, count(*) FROM mail GROUP BY status", &[])?))?;
        let get = |s: MailStatus| {
            rows.iter()
                .find(|r| r.get::<_, &str>(0) == s.as_str())
                .map_or(0, |r| r.get::<_, i64>(1) as u64)
        };
        Ok((
            get(MailStatus::Queued),
            get(MailStatus::Sent),
            get(MailStatus::Failed),
        ))
    }

    fn recent_mails(&self, limit: usize) -> Result<Vec<MailRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.pool.read(move |c| {
            mails(c.query(
                "SELECT record FROM mail ORDER BY created_at DESC, id DESC LIMIT $1",
                &[&limit],
            )?)
        })
    }
}
