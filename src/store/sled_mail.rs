//! [`MailStore`] on sled: the outbox.
//!
//! Trees: `mail` (id → [`MailRecord`] JSON), `mail_events` (event → id: one mail per event),
//! `mail_due` (next attempt (be u64) ‖ id → (): the queued mails in the order they fall due),
//! `mail_recent` (creation time (be u64) ‖ id → (): newest last) and `mail_counts` (status →
//! be u64), all written in one transaction per change, so counts and indexes never disagree
//! with the records.

use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
};

use super::sled_store::{link_key, SledStore};
use super::{MailRecord, MailStore, PickupRecord};
use crate::error::{Error, Result};
use crate::states::MailStatus;

/// The outbox's trees.
struct MailTrees {
    mail: sled::Tree,
    events: sled::Tree,
    due: sled::Tree,
    recent: sled::Tree,
    counts: sled::Tree,
}

/// Why a transaction stopped.
enum Abort {
    /// The event (or the pickup link id) exists already.
    Exists,
    /// The record changed meanwhile (compare-and-swap).
    Changed,
    /// A record would not encode or decode.
    Json(String),
}

type Tx<T> = std::result::Result<T, ConflictableTransactionError<Abort>>;

/// A time as an index key prefix that sorts in time order (times before 1970 sort first).
fn time_key(t: i64, id: &str) -> Vec<u8> {
    let mut k = ((t as u64) ^ (1 << 63)).to_be_bytes().to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

fn json<T: serde::Serialize>(v: &T) -> Tx<Vec<u8>> {
    serde_json::to_vec(v)
        .map_err(|e| ConflictableTransactionError::Abort(Abort::Json(e.to_string())))
}

/// Adds `by` (±1) to the count of `status`.
fn count(counts: &TransactionalTree, status: MailStatus, by: i64) -> Tx<()> {
    let key = status.as_str().as_bytes();
    let now = counts
        .get(key)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    let next = now.saturating_add_signed(by);
    counts.insert(key, &next.to_be_bytes())?;
    Ok(())
}

/// Writes a new mail and its indexes; aborts if its event is taken.
fn insert(
    (mail, events, due, recent, counts): (
        &TransactionalTree,
        &TransactionalTree,
        &TransactionalTree,
        &TransactionalTree,
        &TransactionalTree,
    ),
    m: &MailRecord,
) -> Tx<()> {
    if events.get(m.event.as_bytes())?.is_some() {
        return Err(ConflictableTransactionError::Abort(Abort::Exists));
    }
    events.insert(m.event.as_bytes(), m.id.as_bytes())?;
    mail.insert(m.id.as_bytes(), json(m)?)?;
    if m.status == MailStatus::Queued {
        due.insert(time_key(m.next_attempt_at, &m.id), &[] as &[u8])?;
    }
    recent.insert(time_key(m.created_at, &m.id), &[] as &[u8])?;
    count(counts, m.status, 1)
}

fn finish<T>(
    r: std::result::Result<T, TransactionError<Abort>>,
    exists: &str,
) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(TransactionError::Abort(Abort::Exists)) => {
            if exists.is_empty() {
                Ok(None)
            } else {
                Err(Error::Conflict(exists.into()))
            }
        }
        Err(TransactionError::Abort(Abort::Changed)) => Ok(None),
        Err(TransactionError::Abort(Abort::Json(e))) => Err(Error::Internal(e)),
        Err(TransactionError::Storage(e)) => Err(e.into()),
    }
}

/// The mail stored under `id` in `mail`.
fn read(mail: &sled::Tree, id: &[u8]) -> Result<Option<MailRecord>> {
    match mail.get(id)? {
        Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
        None => Ok(None),
    }
}

impl SledStore {
    fn mail_trees(&self) -> Result<MailTrees> {
        Ok(MailTrees {
            mail: self.db.open_tree("mail")?,
            events: self.db.open_tree("mail_events")?,
            due: self.db.open_tree("mail_due")?,
            recent: self.db.open_tree("mail_recent")?,
            counts: self.db.open_tree("mail_counts")?,
        })
    }
}

impl MailStore for SledStore {
    fn enqueue_mail(&self, m: &MailRecord) -> Result<bool> {
        let _gate = self.write_gate()?;
        let t = self.mail_trees()?;
        let r = (&t.mail, &t.events, &t.due, &t.recent, &t.counts)
            .transaction(|(a, b, c, d, e)| insert((a, b, c, d, e), m));
        Ok(finish(r, "")?.is_some())
    }

    fn create_pickup_with_mail(&self, p: &PickupRecord, m: &MailRecord) -> Result<()> {
        let _gate = self.write_gate()?;
        let t = self.mail_trees()?;
        let link = link_key(&p.subject_id, b'p', p.id.as_bytes());
        let r = (
            &self.reg.pickups,
            &self.reg.links,
            &t.mail,
            &t.events,
            &t.due,
            &t.recent,
            &t.counts,
        )
            .transaction(|(pickups, links, mail, events, due, recent, counts)| {
                if pickups.get(p.id.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(Abort::Exists));
                }
                pickups.insert(p.id.as_bytes(), json(p)?)?;
                links.insert(link.as_slice(), &[] as &[u8])?;
                insert((mail, events, due, recent, counts), m)
            });
        finish(r, "pickup link or mail event exists").map(|_| ())
    }

    fn get_mail(&self, id: &str) -> Result<Option<MailRecord>> {
        read(&self.mail_trees()?.mail, id.as_bytes())
    }

    fn has_mail_event(&self, event: &str) -> Result<bool> {
        Ok(self.mail_trees()?.events.contains_key(event.as_bytes())?)
    }

    fn due_mails(&self, now: i64, limit: usize) -> Result<Vec<MailRecord>> {
        let t = self.mail_trees()?;
        let end = time_key(now.saturating_add(1), "");
        let mut out = Vec::new();
        for kv in t.due.range(..end) {
            if out.len() >= limit {
                break;
            }
            let (k, _) = kv?;
            if let Some(m) = read(&t.mail, &k[8..])? {
                if m.status == MailStatus::Queued {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    fn update_mail(&self, old: &MailRecord, new: &MailRecord) -> Result<bool> {
        if old.id != new.id || old.event != new.event {
            return Err(Error::Internal("a mail keeps its id and event".into()));
        }
        let _gate = self.write_gate()?;
        let t = self.mail_trees()?;
        let r = (&t.mail, &t.due, &t.counts).transaction(|(mail, due, counts)| {
            let stored = mail.get(old.id.as_bytes())?;
            let same = match &stored {
                Some(raw) => {
                    let cur: MailRecord = serde_json::from_slice(raw).map_err(|e| {
                        ConflictableTransactionError::Abort(Abort::Json(e.to_string()))
                    })?;
                    cur == *old
                }
                None => false,
            };
            if !same {
                return Err(ConflictableTransactionError::Abort(Abort::Changed));
            }
            if old.status == MailStatus::Queued {
                due.remove(time_key(old.next_attempt_at, &old.id))?;
            }
            if new.status == MailStatus::Queued {
                due.insert(time_key(new.next_attempt_at, &new.id), &[] as &[u8])?;
            }
            if old.status != new.status {
                count(counts, old.status, -1)?;
                count(counts, new.status, 1)?;
            }
            mail.insert(new.id.as_bytes(), json(new)?)?;
            Ok(())
        });
        Ok(finish(r, "")?.is_some())
    }

    fn count_mails(&self) -> Result<(u64, u64, u64)> {
        let t = self.mail_trees()?;
        let get = |s: MailStatus| -> Result<u64> {
            Ok(t.counts
                .get(s.as_str().as_bytes())?
                .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                .map_or(0, u64::from_be_bytes))
        };
        Ok((
            get(MailStatus::Queued)?,
            get(MailStatus::Sent)?,
            get(MailStatus::Failed)?,
        ))
    }

    fn recent_mails(&self, limit: usize) -> Result<Vec<MailRecord>> {
        let t = self.mail_trees()?;
        let mut out = Vec::new();
        for kv in t.recent.iter().rev().take(limit) {
            let (k, _) = kv?;
            if let Some(m) = read(&t.mail, &k[8..])? {
                out.push(m);
            }
        }
        Ok(out)
    }
}
