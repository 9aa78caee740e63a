//! [`AcmeStore`] on PostgreSQL. An account's key thumbprint and its EAB kid are unique
//! columns, so a second account for either cannot exist even if a check were missed.

use super::{from_json, to_json, PgStore};
use crate::error::{Error, Result};
use crate::ids::{AccountId, AuthzId, EabKid, OrderId};
use crate::states::OrderStatus;
use crate::store::{
    AccountRecord, AcmeStore, AuthzRecord, CreateAccount, EabKeyRecord, OrderRecord,
};

impl AcmeStore for PgStore {
    fn create_eab_key(&self, key: &EabKeyRecord) -> Result<()> {
        let key = key.clone();
        self.pool.write(move |tx| {
            let n = tx.execute(
                "INSERT INTO acme_eab_keys (kid, subject_id, account, record) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (kid) DO NOTHING",
                &[
                    &key.kid.as_str(),
                    &key.subject_id.as_ref().map(|s| s.as_str()),
                    &key.account.as_ref().map(|a| a.as_str()),
                    &to_json(&key)?,
                ],
            )?;
            if n == 0 {
                return Err(Error::Conflict("EAB kid exists".into()).into());
            }
            Ok(())
        })
    }

    fn get_eab_key(&self, kid: &EabKid) -> Result<Option<EabKeyRecord>> {
        let kid = kid.clone();
        self.pool.read(move |c| {
            c.query_opt(
                "SELECT record FROM acme_eab_keys WHERE kid = $1",
                &[&kid.as_str()],
            )?
            .map(|r| from_json(r.get(0)))
            .transpose()
        })
    }

    fn put_eab_key(&self, key: &EabKeyRecord) -> Result<()> {
        let key = key.clone();
        self.pool.write(move |tx| {
            tx.execute(
                "INSERT INTO acme_eab_keys (kid, subject_id, account, record) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (kid) DO UPDATE SET \
                 subject_id = excluded.subject_id, account = excluded.account, \
                 record = excluded.record",
                &[
                    &key.kid.as_str(),
                    &key.subject_id.as_ref().map(|s| s.as_str()),
                    &key.account.as_ref().map(|a| a.as_str()),
                    &to_json(&key)?,
                ],
            )?;
            Ok(())
        })
    }

    fn create_account(&self, acct: &AccountRecord) -> Result<CreateAccount> {
        let acct = acct.clone();
        self.pool.write(move |tx| {
            let existing = tx.query_opt(
                "SELECT id FROM acme_accounts WHERE thumbprint = $1",
                &[&acct.thumbprint],
            )?;
            if let Some(r) = existing {
                return Ok(CreateAccount::KeyExists(AccountId::parse(r.get(0))?));
            }
            if let Some(kid) = &acct.eab_kid {
                let Some(row) = tx.query_opt(
                    "SELECT record FROM acme_eab_keys WHERE kid = $1 FOR UPDATE",
                    &[&kid.as_str()],
                )?
                else {
                    return Ok(CreateAccount::EabTaken);
                };
                let mut eab: EabKeyRecord = from_json(row.get(0))?;
                if eab.account.is_some() {
                    return Ok(CreateAccount::EabTaken);
                }
                eab.account = Some(acct.id.clone());
                tx.execute(
                    "UPDATE acme_eab_keys SET account = $2, record = $3 WHERE kid = $1",
                    &[&kid.as_str(), &acct.id.as_str(), &to_json(&eab)?],
                )?;
            }
            tx.execute(
                "INSERT INTO acme_accounts (id, thumbprint, eab_kid, record) \
                 VALUES ($1, $2, $3, $4)",
                &[
                    &acct.id.as_str(),
                    &acct.thumbprint,
                    &acct.eab_kid.as_ref().map(|k| k.as_str()),
                    &to_json(&acct)?,
                ],
            )?;
            Ok(CreateAccount::Created)
        })
    }

    fn get_account(&self, id: &AccountId) -> Result<Option<AccountRecord>> {
        let id = id.clone();
        self.pool.read(move |c| {
            c.query_opt(
                "SELECT record FROM acme_accounts WHERE id = $1",
                &[&id.as_str()],
            )?
            .map(|r| from_json(r.get(0)))
            .transpose()
        })
    }

    fn get_account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<AccountId>> {
        let thumbprint = thumbprint.to_owned();
        let id: Option<String> = self.pool.read(move |c| {
            Ok(c.query_opt(
                "SELECT id FROM acme_accounts WHERE thumbprint = $1",
                &[&thumbprint],
            )?
            .map(|r| r.get(0)))
        })?;
        id.map(|i| AccountId::parse(&i)).transpose()
    }

    fn update_account(&self, old: &AccountRecord, new: &AccountRecord) -> Result<bool> {
        let (old, new) = (old.clone(), new.clone());
        self.pool.write(move |tx| {
            let Some(row) = tx.query_opt(
                "SELECT record FROM acme_accounts WHERE id = $1 FOR UPDATE",
                &[&old.id.as_str()],
            )?
            else {
                return Ok(false);
            };
            let cur: AccountRecord = from_json(row.get(0))?;
            if (cur.status, &cur.thumbprint, &cur.contact)
                != (old.status, &old.thumbprint, &old.contact)
            {
                return Ok(false);
            }
            if old.thumbprint != new.thumbprint {
                let taken = tx.query_opt(
                    "SELECT 1 FROM acme_accounts WHERE thumbprint = $1",
                    &[&new.thumbprint],
                )?;
                if taken.is_some() {
                    return Ok(false);
                }
            }
            tx.execute(
                "UPDATE acme_accounts SET thumbprint = $2, record = $3 WHERE id = $1",
                &[&old.id.as_str(), &new.thumbprint, &to_json(&new)?],
            )?;
            Ok(true)
        })
    }

    fn create_order(&self, order: &OrderRecord, authzs: &[AuthzRecord]) -> Result<()> {
        let (order, authzs) = (order.clone(), authzs.to_vec());
        self.pool.write(move |tx| {
            for a in &authzs {
                tx.execute(
                    "INSERT INTO acme_authzs (id, record) VALUES ($1, $2) \
                     ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                    &[&a.id.as_str(), &to_json(a)?],
                )?;
            }
            tx.execute(
                "INSERT INTO acme_orders (id, account, created_at, record) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET \
                 account = excluded.account, created_at = excluded.created_at, \
                 record = excluded.record",
                &[
                    &order.id.as_str(),
                    &order.account.as_str(),
                    &order.created_at,
                    &to_json(&order)?,
                ],
            )?;
            Ok(())
        })
    }

    fn get_order(&self, id: &OrderId) -> Result<Option<OrderRecord>> {
        let id = id.clone();
        self.pool.read(move |c| {
            c.query_opt(
                "SELECT record FROM acme_orders WHERE id = $1",
                &[&id.as_str()],
            )?
            .map(|r| from_json(r.get(0)))
            .transpose()
        })
    }

    fn update_order(&self, old_status: OrderStatus, order: &OrderRecord) -> Result<bool> {
        let order = order.clone();
        self.pool.write(move |tx| {
            let Some(row) = tx.query_opt(
                "SELECT record FROM acme_orders WHERE id = $1 FOR UPDATE",
                &[&order.id.as_str()],
            )?
            else {
                return Ok(false);
            };
            let cur: OrderRecord = from_json(row.get(0))?;
            if cur.status != old_status {
                return Ok(false);
            }
            tx.execute(
                "UPDATE acme_orders SET record = $2 WHERE id = $1",
                &[&order.id.as_str(), &to_json(&order)?],
            )?;
            Ok(true)
        })
    }

    fn list_orders(&self, account: &AccountId) -> Result<Vec<OrderId>> {
        let account = account.clone();
        let ids: Vec<String> = self.pool.read(move |c| {
            Ok(c.query(
                "SELECT id FROM acme_orders WHERE account = $1 ORDER BY created_at, id",
                &[&account.as_str()],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
        })?;
        ids.iter().map(|i| OrderId::parse(i)).collect()
    }

    fn get_authz(&self, id: &AuthzId) -> Result<Option<AuthzRecord>> {
        let id = id.clone();
        self.pool.read(move |c| {
            c.query_opt(
                "SELECT record FROM acme_authzs WHERE id = $1",
                &[&id.as_str()],
            )?
            .map(|r| from_json(r.get(0)))
            .transpose()
        })
    }

    fn put_authz(&self, authz: &AuthzRecord) -> Result<()> {
        let authz = authz.clone();
        self.pool.write(move |tx| {
            tx.execute(
                "INSERT INTO acme_authzs (id, record) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET record = excluded.record",
                &[&authz.id.as_str(), &to_json(&authz)?],
            )?;
            Ok(())
        })
    }
}
