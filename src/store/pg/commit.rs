//! Certificate writes on PostgreSQL. One SERIALIZABLE transaction applies a batch of them:
//! each write is checked against what the transaction sees (earlier writes of the batch
//! included) with the rows it spends locked, then written with what it consumes, the subject's
//! new generation, the day's count and its audit entry, or refused without writing anything.

use postgres::Transaction;

use super::pool::TxResult;
use super::{append_audit_tx, cert_json, from_json, to_json};
use crate::error::{Error, Result};
use crate::states::{OrderStatus, SubjectStatus};
use crate::store::daily::{utc_day, ChannelGroup};
use crate::store::{
    CertStatus, CertificateCommit, CertificateRecord, CommitKind, Consumes, CredentialRecord,
    CredentialUse, InsertOutcome, OrderRecord, PickupRecord, SubjectRecord,
};

/// A row to write once every check of a job passed.
enum Write {
    Order(OrderRecord),
    Subject(SubjectRecord),
    Credential(CredentialRecord),
    Pickup(PickupRecord),
    Renewed(CertificateRecord),
}

/// A job refused: the outcome to answer with, or a stored record that does not decode.
enum Refused {
    Outcome(InsertOutcome),
    Corrupt(Error),
}

type Checked<T> = TxResult<std::result::Result<T, Refused>>;

/// Applies `writes` in the transaction `tx`; one outcome per write, in order. An `Err`
/// fails the whole batch.
pub(super) fn apply(
    tx: &mut Transaction<'_>,
    writes: &[CertificateCommit],
) -> TxResult<Vec<Result<InsertOutcome>>> {
    let mut out = Vec::with_capacity(writes.len());
    for c in writes {
        out.push(match apply_one(tx, c)? {
            Ok(()) => Ok(InsertOutcome::Inserted),
            Err(Refused::Outcome(o)) => Ok(o),
            Err(Refused::Corrupt(e)) => Err(Error::Internal(format!("corrupt record: {e}"))),
        });
    }
    Ok(out)
}

/// Decodes a stored record; a failure refuses the job, not the batch.
fn decode<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> std::result::Result<T, Refused> {
    from_json(v).map_err(|e| Refused::Corrupt(e.into()))
}

fn apply_one(tx: &mut Transaction<'_>, c: &CertificateCommit) -> Checked<()> {
    let cert = &c.cert;
    let refuse = |o: InsertOutcome| Ok(Err(Refused::Outcome(o)));
    let taken = tx.query_opt(
        "SELECT 1 FROM certificates WHERE serial = $1",
        &[&cert.serial.as_bytes()],
    )?;
    if taken.is_some() {
        return refuse(InsertOutcome::SerialTaken);
    }
    let mut writes = Vec::new();
    if let CommitKind::FinalizeOrder(order) = &c.kind {
        // Only a ready order is finalized: two concurrent finalizes issue once.
        let row = tx.query_opt(
            "SELECT record FROM acme_orders WHERE id = $1 FOR UPDATE",
            &[&order.id.as_str()],
        )?;
        let current: Option<OrderRecord> = match row {
            Some(r) => Some(match decode(r.get(0)) {
                Ok(o) => o,
                Err(e) => return Ok(Err(e)),
            }),
            None => None,
        };
        if current.is_none_or(|o| o.status != OrderStatus::Ready) {
            return refuse(InsertOutcome::CredentialUnusable);
        }
        writes.push(Write::Order((**order).clone()));
    }
    if let Some(sid) = &cert.subject_id {
        let Some(row) = tx.query_opt(
            "SELECT record FROM subjects WHERE id = $1 FOR UPDATE",
            &[&sid.as_str()],
        )?
        else {
            return refuse(InsertOutcome::SubjectInactive);
        };
        let mut subj: SubjectRecord = match decode(row.get(0)) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        if subj.status != SubjectStatus::Active {
            return refuse(InsertOutcome::SubjectInactive);
        }
        // Off-boarding compares the generation: a certificate issued concurrently makes one
        // of the two retry.
        subj.generation += 1;
        writes.push(Write::Subject(subj));
    }
    if let CommitKind::Issue(Some(consumes)) = &c.kind {
        match check_consumes(tx, cert, consumes)? {
            Ok(w) => writes.push(w),
            Err(r) => return Ok(Err(r)),
        }
    }
    for w in writes {
        write(tx, w)?;
    }
    tx.execute(
        "INSERT INTO certificates (serial, subject_lc, not_after, subject_id, record, der) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &cert.serial.as_bytes(),
            &cert.subject.to_lowercase(),
            &cert.not_after,
            &cert.subject_id.as_ref().map(|s| s.as_str()),
            &cert_json(cert)?,
            &cert.der,
        ],
    )?;
    tx.execute(
        "INSERT INTO issued_per_day (day, channel_group, count) VALUES ($1, $2, 1) \
         ON CONFLICT (day, channel_group) DO UPDATE SET count = issued_per_day.count + 1",
        &[
            &utc_day(cert.issued_at),
            &ChannelGroup::of(&cert.channel).as_str(),
        ],
    )?;
    if let Some(a) = &c.audit {
        append_audit_tx(
            tx,
            &a.actor,
            &a.action,
            &cert.serial.to_hex(),
            "ok",
            &a.detail,
            a.at,
        )?;
    }
    Ok(Ok(()))
}

fn write(tx: &mut Transaction<'_>, w: Write) -> TxResult<()> {
    match w {
        Write::Order(o) => tx.execute(
            "UPDATE acme_orders SET record = $2 WHERE id = $1",
            &[&o.id.as_str(), &to_json(&o)?],
        )?,
        Write::Subject(s) => tx.execute(
            "UPDATE subjects SET record = $2 WHERE id = $1",
            &[&s.id.as_str(), &to_json(&s)?],
        )?,
        Write::Credential(c) => tx.execute(
            "UPDATE credentials SET record = $2 WHERE id = $1",
            &[&c.id.as_str(), &to_json(&c)?],
        )?,
        Write::Pickup(p) => tx.execute(
            "UPDATE pickups SET record = $2 WHERE id = $1",
            &[&p.id, &to_json(&p)?],
        )?,
        Write::Renewed(c) => tx.execute(
            "UPDATE certificates SET record = $2 WHERE serial = $1",
            &[&c.serial.as_bytes(), &cert_json(&c)?],
        )?,
    };
    Ok(())
}

/// What the issuance consumes: checked (its row locked), and the updated record to write.
fn check_consumes(
    tx: &mut Transaction<'_>,
    cert: &CertificateRecord,
    consumes: &Consumes,
) -> Checked<Write> {
    let unusable = || Ok(Err(Refused::Outcome(InsertOutcome::CredentialUnusable)));
    match consumes {
        Consumes::Credential(spend) => {
            let Some(row) = tx.query_opt(
                "SELECT record FROM credentials WHERE id = $1 FOR UPDATE",
                &[&spend.id.as_str()],
            )?
            else {
                return unusable();
            };
            let mut cred: CredentialRecord = match decode(row.get(0)) {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            if let Some(u) = cred
                .uses
                .iter()
                .find(|u| u.csr_fingerprint == spend.csr_fingerprint)
            {
                return Ok(Err(Refused::Outcome(InsertOutcome::AlreadyIssued(
                    u.serial.clone(),
                ))));
            }
            if cred.uses_left == 0 || cred.disabled || cred.expires_at <= spend.now {
                return unusable();
            }
            cred.uses_left -= 1;
            cred.uses.push(CredentialUse {
                csr_fingerprint: spend.csr_fingerprint.clone(),
                serial: cert.serial.clone(),
            });
            Ok(Ok(Write::Credential(cred)))
        }
        Consumes::Pickup { id, now } => {
            let Some(row) = tx.query_opt(
                "SELECT record FROM pickups WHERE id = $1 FOR UPDATE",
                &[&id.as_str()],
            )?
            else {
                return unusable();
            };
            let mut p: PickupRecord = match decode(row.get(0)) {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            if p.spent.is_some() || p.expires_at <= *now {
                return unusable();
            }
            p.spent = Some(cert.serial.clone());
            Ok(Ok(Write::Pickup(p)))
        }
        Consumes::Renewal {
            old,
            csr_fingerprint,
        } => {
            let Some(row) = tx.query_opt(
                "SELECT record, der FROM certificates WHERE serial = $1 FOR UPDATE",
                &[&old.as_bytes()],
            )?
            else {
                return unusable();
            };
            let mut prev: CertificateRecord = match decode(row.get(0)) {
                Ok(c) => c,
                Err(e) => return Ok(Err(e)),
            };
            prev.der = row.get(1);
            if let Some(u) = &prev.renewed_by {
                if &u.csr_fingerprint == csr_fingerprint {
                    return Ok(Err(Refused::Outcome(InsertOutcome::AlreadyIssued(
                        u.serial.clone(),
                    ))));
                }
                return unusable();
            }
            if prev.status != CertStatus::Good {
                return unusable();
            }
            prev.renewed_by = Some(CredentialUse {
                csr_fingerprint: csr_fingerprint.clone(),
                serial: cert.serial.clone(),
            });
            Ok(Ok(Write::Renewed(prev)))
        }
    }
}
