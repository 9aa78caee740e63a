//! The store on PostgreSQL: the same contract as the sled store (`super`'s module docs), for
//! deployments that run several nodes on one database or keep their data in a database they
//! already operate. See `docs/postgres.md` for the schema, the transactions and how this
//! backend differs from sled.
//!
//! Tables are those of `migrations/`; every record is the same serde record sled keeps, as
//! JSONB, with the columns that queries filter, sort or constrain on beside it. Every
//! multi-step write is one SERIALIZABLE transaction ([`pool::Pool::write`]), run again when
//! it loses a race; certificate writes go through the group committer, so that concurrent
//! issuances share one transaction and one commit. A write is durable when its transaction
//! has committed (the server's `synchronous_commit`), so [`Store::flush`] only waits for the
//! committer's queue.

mod acme;
mod commit;
mod mail;
pub mod migrate;
mod pool;
mod registry;

use std::sync::Arc;

use postgres::Transaction;

use self::pool::{Pool, TxResult};
use super::group_commit::GroupCommitter;
use super::{
    AdminTokenRecord, AuditRecord, CertStatus, CertificateCommit, CertificateRecord, CommitTicket,
    Consumes, CredentialRecord, DailyIssued, InsertOutcome, Store,
};
use crate::error::{Error, Result};
use crate::ids::{CredentialId, Serial};
use crate::revocation::RevocationReason;
use crate::store::daily::ChannelGroup;

/// Where and how to connect.
#[derive(Clone)]
pub struct PgOptions {
    /// Connection settings (host or socket directory, port, user, database, password).
    pub config: postgres::Config,
    /// Connections for the store's calls; the group committer has one more of its own.
    pub pool_size: usize,
}

/// PostgreSQL-backed [`Store`], [`super::RegistryStore`], [`super::MailStore`] and
/// [`super::AcmeStore`].
pub struct PgStore {
    /// The group committer (first field: dropped, and its queue drained, first).
    committer: GroupCommitter,
    /// Connections for every other call.
    pool: Arc<Pool>,
}

/// Counter of the revocation epoch (in `counters`).
const EPOCH: &str = "revocation_epoch";

impl PgStore {
    /// Connects and checks the schema version (see [`migrate::check`]); apply migrations
    /// first with [`migrate::migrate`].
    pub fn open(opts: &PgOptions) -> Result<Self> {
        let pool = Arc::new(Pool::start(&opts.config, opts.pool_size)?);
        pool.read(|c| migrate::check(c).map_err(Into::into))?;
        let committer = {
            let commits = Pool::start(&opts.config, 1)?;
            GroupCommitter::start(
                Box::new(move |writes| {
                    let owned: Vec<CertificateCommit> =
                        writes.iter().map(|c| (*c).clone()).collect();
                    commits.write(move |tx| commit::apply(tx, &owned))
                }),
                // A committed transaction is durable: nothing more to flush.
                Box::new(|| Ok(())),
            )?
        };
        Ok(PgStore { committer, pool })
    }

    fn revoke_with(
        &self,
        serial: &Serial,
        at: i64,
        reason: RevocationReason,
        suspension: bool,
    ) -> Result<bool> {
        let serial = serial.clone();
        self.pool.write(move |tx| {
            let Some(mut rec) = cert_for_update(tx, &serial)? else {
                return Err(Error::NotFound(format!("no certificate with serial {serial}")).into());
            };
            let Some((status, revoked_at)) = rec.status.revoked(at, reason, suspension) else {
                return Ok(false);
            };
            rec.status = status;
            set_revocation(tx, &rec, Some((revoked_at, reason)))?;
            Ok(true)
        })
    }
}

/// The store's error for a database error; the text names the server's message, never the
/// connection's password (the configuration carries none in its URL).
pub(crate) fn db_error(e: postgres::Error) -> Error {
    // The cause (refused connection, missing socket, the server's message) is in the source.
    match std::error::Error::source(&e) {
        Some(cause) => Error::Internal(format!("postgres: {e}: {cause}")),
        None => Error::Internal(format!("postgres: {e}")),
    }
}

/// JSON for a JSONB column.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> TxResult<serde_json::Value> {
    Ok(serde_json::to_value(v)?)
}

/// A record from a JSONB column.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> TxResult<T> {
    Ok(serde_json::from_value(v)?)
}

/// A certificate record's JSON: every field but the DER, which has its own column.
pub(crate) fn cert_json(c: &CertificateRecord) -> TxResult<serde_json::Value> {
    to_json(&CertificateRecord {
        der: Vec::new(),
        ..c.clone()
    })
}

/// A certificate from its `record` and `der` columns.
fn cert_from(row: &postgres::Row) -> TxResult<CertificateRecord> {
    let mut c: CertificateRecord = from_json(row.get("record"))?;
    c.der = row.get("der");
    Ok(c)
}

/// A certificate, its row locked until the transaction ends.
fn cert_for_update(
    tx: &mut Transaction<'_>,
    serial: &Serial,
) -> TxResult<Option<CertificateRecord>> {
    tx.query_opt(
        "SELECT record, der FROM certificates WHERE serial = $1 FOR UPDATE",
        &[&serial.as_bytes()],
    )?
    .map(|r| cert_from(&r))
    .transpose()
}

/// Stores `rec`'s new status with its `revoked` row (`Some`: set, `None`: removed) and
/// bumps the revocation epoch, inside the caller's transaction.
fn set_revocation(
    tx: &mut Transaction<'_>,
    rec: &CertificateRecord,
    entry: Option<(i64, RevocationReason)>,
) -> TxResult<()> {
    tx.execute(
        "UPDATE certificates SET record = $2 WHERE serial = $1",
        &[&rec.serial.as_bytes(), &cert_json(rec)?],
    )?;
    match entry {
        Some((at, reason)) => tx.execute(
            "INSERT INTO revoked (serial, revoked_at, not_after, reason) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (serial) DO UPDATE SET revoked_at = excluded.revoked_at, \
             not_after = excluded.not_after, reason = excluded.reason",
            &[
                &rec.serial.as_bytes(),
                &at,
                &rec.not_after,
                &reason.as_str(),
            ],
        )?,
        None => tx.execute(
            "DELETE FROM revoked WHERE serial = $1",
            &[&rec.serial.as_bytes()],
        )?,
    };
    bump(tx, EPOCH)?;
    Ok(())
}

/// Adds one to a counter and returns its new value, inside the caller's transaction.
fn bump(tx: &mut impl postgres::GenericClient, name: &str) -> TxResult<i64> {
    Ok(tx
        .query_one(
            "INSERT INTO counters (name, value) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
            &[&name],
        )?
        .get(0))
}

/// Appends one entry to the audit hash chain, moving its head, inside the caller's
/// transaction (the head's row lock orders concurrent appenders).
#[allow(clippy::too_many_arguments)]
pub(crate) fn append_audit_tx(
    tx: &mut Transaction<'_>,
    actor: &str,
    action: &str,
    target: &str,
    outcome: &str,
    detail: &str,
    at: i64,
) -> TxResult<AuditRecord> {
    let head = tx.query_opt(
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        &[],
    )?;
    let (seq, prev) = match head {
        Some(r) => (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)),
        None => (0, "0".repeat(64)),
    };
    let mut e = AuditRecord {
        seq: seq + 1,
        time: at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        outcome: outcome.to_owned(),
        detail: detail.to_owned(),
        prev_hash: prev,
        hash: String::new(),
    };
    e.hash = crate::store::registry_records::audit_hash(&e);
    tx.execute(
        "INSERT INTO audit (seq, record) VALUES ($1, $2)",
        &[&(e.seq as i64), &to_json(&e)?],
    )?;
    tx.execute(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        &[&(e.seq as i64), &e.hash],
    )?;
    Ok(e)
}

/// Serials from a one-column query.
fn serials(rows: Vec<postgres::Row>) -> TxResult<Vec<Serial>> {
    rows.iter()
        .map(|r| Serial::from_bytes(r.get::<_, &[u8]>(0)).map_err(Into::into))
        .collect()
}

/// Rows a scan reads per query.
const PAGE: i64 = 256;

impl Store for PgStore {
    fn insert_certificate(
        &self,
        cert: &CertificateRecord,
        consumes: Option<&Consumes>,
    ) -> Result<InsertOutcome> {
        let c = [CertificateCommit {
            cert: cert.clone(),
            kind: super::CommitKind::Issue(consumes.cloned()),
            audit: None,
        }];
        self.pool
            .write(move |tx| commit::apply(tx, &c))?
            .pop()
            .unwrap_or_else(|| Err(Error::Internal("commit produced no outcome".into())))
    }

    fn get_certificate(&self, serial: &Serial) -> Result<Option<CertificateRecord>> {
        let serial = serial.clone();
        self.pool.read(move |c| {
            c.query_opt(
                "SELECT record, der FROM certificates WHERE serial = $1",
                &[&serial.as_bytes()],
            )?
            .map(|r| cert_from(&r))
            .transpose()
        })
    }

    fn certificates_by_subject(&self, subject: &str) -> Result<Vec<Serial>> {
        let subject = subject.to_lowercase();
        self.pool.read(move |c| {
            serials(c.query(
                "SELECT serial FROM certificates WHERE subject_lc = $1 ORDER BY serial",
                &[&subject],
            )?)
        })
    }

    fn certificates_expiring_before(&self, unix_time: i64, limit: usize) -> Result<Vec<Serial>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.pool.read(move |c| {
            serials(c.query(
                "SELECT serial FROM certificates WHERE not_after < $1 \
                 ORDER BY not_after, serial LIMIT $2",
                &[&unix_time, &limit],
            )?)
        })
    }

    fn count_certificates(&self) -> Result<usize> {
        self.pool.read(|c| {
            let n: i64 = c
                .query_one("SELECT count(*) FROM certificates", &[])?
                .get(0);
            Ok(n as usize)
        })
    }

    fn create_credential(&self, cred: &CredentialRecord) -> Result<()> {
        let cred = cred.clone();
        self.pool.write(move |tx| {
            let n = tx.execute(
                "INSERT INTO credentials (id, subject_id, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
                &[
                    &cred.id.as_str(),
                    &cred.subject_id.as_ref().map(|s| s.as_str()),
                    &to_json(&cred)?,
                ],
            )?;
            if n == 0 {
                return Err(Error::Conflict("credential id exists".into()).into());
            }
            Ok(())
        })
    }

    fn get_credential(&self, id: &CredentialId) -> Result<Option<CredentialRecord>> {
        let id = id.clone();
        self.pool.read(move |c| {
            c.query_opt(
                "SELECT record FROM credentials WHERE id = $1",
                &[&id.as_str()],
            )?
            .map(|r| from_json(r.get(0)))
            .transpose()
        })
    }

    fn disable_credential(&self, id: &CredentialId) -> Result<bool> {
        let id = id.clone();
        self.pool.write(move |tx| {
            let Some(row) = tx.query_opt(
                "SELECT record FROM credentials WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )?
            else {
                return Err(Error::NotFound(format!("no credential {id}")).into());
            };
            let mut rec: CredentialRecord = from_json(row.get(0))?;
            if rec.disabled {
                return Ok(false);
            }
            rec.disabled = true;
            tx.execute(
                "UPDATE credentials SET record = $2 WHERE id = $1",
                &[&id.as_str(), &to_json(&rec)?],
            )?;
            Ok(true)
        })
    }

    fn put_admin_token(&self, token: &AdminTokenRecord) -> Result<()> {
        let token = token.clone();
        self.pool.write(move |tx| {
            tx.execute(
                "INSERT INTO admin_tokens (id, record) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                &[&token.id, &to_json(&token)?],
            )?;
            Ok(())
        })
    }

    fn get_admin_token(&self, id: &str) -> Result<Option<AdminTokenRecord>> {
        let id = id.to_owned();
        self.pool.read(move |c| {
            c.query_opt("SELECT record FROM admin_tokens WHERE id = $1", &[&id])?
                .map(|r| from_json(r.get(0)))
                .transpose()
        })
    }

    fn revoke_certificate(
        &self,
        serial: &Serial,
        at: i64,
        reason: RevocationReason,
    ) -> Result<bool> {
        self.revoke_with(serial, at, reason, false)
    }

    fn hold_for_suspension(&self, serial: &Serial, at: i64) -> Result<bool> {
        self.revoke_with(serial, at, RevocationReason::CertificateHold, true)
    }

    fn update_certificate(&self, old: &CertificateRecord, new: &CertificateRecord) -> Result<()> {
        let (old, new) = (old.clone(), new.clone());
        self.pool.write(move |tx| {
            let current = cert_for_update(tx, &old.serial)?.ok_or_else(|| {
                Error::NotFound(format!("no certificate with serial {}", old.serial))
            })?;
            if current.status != old.status || current.renewal_window != old.renewal_window {
                return Err(Error::Conflict("certificate changed concurrently".into()).into());
            }
            tx.execute(
                "UPDATE certificates SET record = $2, der = $3 WHERE serial = $1",
                &[&old.serial.as_bytes(), &cert_json(&new)?, &new.der],
            )?;
            Ok(())
        })
    }

    fn release_hold(&self, serial: &Serial) -> Result<bool> {
        let serial = serial.clone();
        self.pool.write(move |tx| {
            let Some(mut rec) = cert_for_update(tx, &serial)? else {
                return Ok(false);
            };
            if !matches!(
                &rec.status,
                CertStatus::Revoked {
                    reason: RevocationReason::CertificateHold,
                    suspension: true,
                    ..
                }
            ) {
                return Ok(false);
            }
            rec.status = CertStatus::Good;
            set_revocation(tx, &rec, None)?;
            Ok(true)
        })
    }

    fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>> {
        self.pool.read(|c| {
            c.query("SELECT record FROM admin_tokens ORDER BY id", &[])?
                .into_iter()
                .map(|r| from_json(r.get(0)))
                .collect()
        })
    }

    fn delete_admin_token(&self, id: &str) -> Result<bool> {
        let id = id.to_owned();
        self.pool
            .write(move |tx| Ok(tx.execute("DELETE FROM admin_tokens WHERE id = $1", &[&id])? > 0))
    }

    fn scan_revoked(&self, f: &mut dyn FnMut(Serial, i64, RevocationReason, i64)) -> Result<()> {
        let rows = self.pool.read(|c| {
            Ok(c.query(
                "SELECT serial, revoked_at, reason, not_after FROM revoked ORDER BY serial",
                &[],
            )?)
        })?;
        for r in rows {
            // A reason it cannot read is `unspecified`, as the sled store reads it.
            let reason =
                RevocationReason::from_name(r.get(2)).unwrap_or(RevocationReason::Unspecified);
            f(Serial::from_bytes(r.get(0))?, r.get(1), reason, r.get(3));
        }
        Ok(())
    }

    fn revocation_of(&self, serial: &Serial) -> Result<Option<Option<(i64, RevocationReason)>>> {
        let serial = serial.clone();
        self.pool.read(move |c| {
            let row = c.query_one(
                "SELECT (SELECT 1 FROM certificates WHERE serial = $1) IS NOT NULL, \
                 r.revoked_at, r.reason \
                 FROM (SELECT 1) AS one LEFT JOIN revoked r ON r.serial = $1",
                &[&serial.as_bytes()],
            )?;
            if let (Some(at), Some(reason)) =
                (row.get::<_, Option<i64>>(1), row.get::<_, Option<&str>>(2))
            {
                let reason =
                    RevocationReason::from_name(reason).unwrap_or(RevocationReason::Unspecified);
                return Ok(Some(Some((at, reason))));
            }
            Ok(row.get::<_, bool>(0).then_some(None))
        })
    }

    fn revocation_epoch(&self) -> Result<u64> {
        self.pool.read(|c| {
            let row = c.query_opt("SELECT value FROM counters WHERE name = $1", &[&EPOCH])?;
            Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u64))
        })
    }

    fn next_counter(&self, name: &str) -> Result<u64> {
        let key = format!("counter:{name}");
        self.pool.write(move |tx| Ok(bump(tx, &key)? as u64))
    }

    fn scan_certificates(
        &self,
        after: Option<&Serial>,
        f: &mut dyn FnMut(CertificateRecord) -> bool,
    ) -> Result<()> {
        let mut cursor: Vec<u8> = after.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
        loop {
            let from = cursor.clone();
            let page = self.pool.read(move |c| {
                c.query(
                    "SELECT record, der FROM certificates WHERE serial > $1 \
                     ORDER BY serial LIMIT $2",
                    &[&from, &PAGE],
                )?
                .iter()
                .map(cert_from)
                .collect::<TxResult<Vec<_>>>()
            })?;
            let full = page.len() as i64 == PAGE;
            for c in page {
                cursor = c.serial.as_bytes().to_vec();
                if !f(c) {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn issued_per_day(&self, first_day: i64, last_day: i64) -> Result<Vec<DailyIssued>> {
        let rows = self.pool.read(move |c| {
            Ok(c.query(
                "SELECT day, channel_group, count FROM issued_per_day \
                 WHERE day BETWEEN $1 AND $2",
                &[&first_day, &last_day],
            )?)
        })?;
        let mut out = rows
            .iter()
            .map(|r| {
                let group = ChannelGroup::parse(r.get(1))
                    .ok_or_else(|| Error::Internal("malformed issued_per_day group".into()))?;
                Ok(DailyIssued {
                    day: r.get(0),
                    group,
                    count: r.get::<_, i64>(2) as u64,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|d| (d.day, d.group));
        Ok(out)
    }

    fn size_on_disk(&self) -> Result<u64> {
        self.pool.read(|c| {
            let n: i64 = c
                .query_one("SELECT pg_database_size(current_database())", &[])?
                .get(0);
            Ok(n as u64)
        })
    }

    fn export_all(&self) -> Result<super::Export> {
        Err(Error::Internal(
            "a PostgreSQL store is backed up with the database's own tools (pg_dump), \
             not enrolld backup"
                .into(),
        ))
    }

    fn flush(&self) -> Result<()> {
        // Every other write committed before it returned; this waits for queued commits.
        self.committer.barrier().wait_blocking().map(|_| ())
    }

    fn commit_certificate(&self, c: CertificateCommit) -> CommitTicket {
        self.committer.commit(c)
    }

    fn durable(&self) -> CommitTicket {
        self.committer.barrier()
    }
}

#[cfg(test)]
mod test_cluster;
#[cfg(test)]
mod tests;
