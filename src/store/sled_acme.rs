//! [`AcmeStore`] on sled.

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use super::sled_store::SledStore;
use super::{AccountRecord, AcmeStore, AuthzRecord, CreateAccount, EabKeyRecord, OrderRecord};
use crate::error::{Error, Result};
use crate::ids::{AccountId, AuthzId, EabKid, OrderId};
use crate::states::OrderStatus;

fn get_json<T: serde::de::DeserializeOwned>(tree: &sled::Tree, key: &[u8]) -> Result<Option<T>> {
    match tree.get(key)? {
        Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
        None => Ok(None),
    }
}

fn order_index_key(order: &OrderRecord) -> Vec<u8> {
    let mut k = order.account.as_str().as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&order.created_at.to_be_bytes());
    k.extend_from_slice(order.id.as_str().as_bytes());
    k
}

enum Abort {
    KeyExists(AccountId),
    EabTaken,
    Json(String),
}

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Abort>>;

fn tx_json<T: serde::Serialize>(v: &T) -> TxResult<Vec<u8>> {
    serde_json::to_vec(v)
        .map_err(|e| ConflictableTransactionError::Abort(Abort::Json(e.to_string())))
}

impl AcmeStore for SledStore {
    fn create_eab_key(&self, key: &EabKeyRecord) -> Result<()> {
        let _gate = self.write_gate()?;
        if let Some(sid) = &key.subject_id {
            self.reg.links.insert(
                super::sled_store::link_key(sid, b'e', key.kid.as_str().as_bytes()),
                &[] as &[u8],
            )?;
        }
        let res = self.acme.eab_keys.compare_and_swap(
            key.kid.as_str(),
            None as Option<&[u8]>,
            Some(serde_json::to_vec(key)?),
        );
        self.acme_cache.invalidate();
        res?.map_err(|_| Error::Conflict("EAB kid exists".into()))
    }

    fn get_eab_key(&self, kid: &EabKid) -> Result<Option<EabKeyRecord>> {
        self.acme_cache.eab_key(kid, || {
            get_json(&self.acme.eab_keys, kid.as_str().as_bytes())
        })
    }

    fn put_eab_key(&self, key: &EabKeyRecord) -> Result<()> {
        let _gate = self.write_gate()?;
        let res = self
            .acme
            .eab_keys
            .insert(key.kid.as_str(), serde_json::to_vec(key)?);
        self.acme_cache.invalidate();
        res?;
        Ok(())
    }

    fn create_account(&self, acct: &AccountRecord) -> Result<CreateAccount> {
        let _gate = self.write_gate()?;
        let t = &self.acme;
        let value = serde_json::to_vec(acct)?;
        let res = (&t.accounts, &t.accounts_by_key, &t.eab_keys).transaction(
            |(accounts, by_key, eab_keys)| {
                if let Some(existing) = by_key.get(acct.thumbprint.as_bytes())? {
                    let id = String::from_utf8_lossy(&existing).to_string();
                    let id = AccountId::parse(&id).map_err(|e| {
                        ConflictableTransactionError::Abort(Abort::Json(e.to_string()))
                    })?;
                    return Err(ConflictableTransactionError::Abort(Abort::KeyExists(id)));
                }
                if let Some(kid) = &acct.eab_kid {
                    let raw = eab_keys
                        .get(kid.as_str().as_bytes())?
                        .ok_or(ConflictableTransactionError::Abort(Abort::EabTaken))?;
                    let mut eab: EabKeyRecord = serde_json::from_slice(&raw).map_err(|e| {
                        ConflictableTransactionError::Abort(Abort::Json(e.to_string()))
                    })?;
                    if eab.account.is_some() {
                        return Err(ConflictableTransactionError::Abort(Abort::EabTaken));
                    }
                    eab.account = Some(acct.id.clone());
                    eab_keys.insert(kid.as_str().as_bytes(), tx_json(&eab)?)?;
                }
                accounts.insert(acct.id.as_str().as_bytes(), value.as_slice())?;
                by_key.insert(acct.thumbprint.as_bytes(), acct.id.as_str().as_bytes())?;
                Ok(())
            },
        );
        self.acme_cache.invalidate();
        match res {
            Ok(()) => Ok(CreateAccount::Created),
            Err(TransactionError::Abort(Abort::KeyExists(id))) => Ok(CreateAccount::KeyExists(id)),
            Err(TransactionError::Abort(Abort::EabTaken)) => Ok(CreateAccount::EabTaken),
            Err(TransactionError::Abort(Abort::Json(e))) => {
                Err(Error::Internal(format!("account transaction: {e}")))
            }
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    fn get_account(&self, id: &AccountId) -> Result<Option<AccountRecord>> {
        self.acme_cache
            .account(id, || get_json(&self.acme.accounts, id.as_str().as_bytes()))
    }

    fn get_account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<AccountId>> {
        match self.acme.accounts_by_key.get(thumbprint.as_bytes())? {
            Some(v) => Ok(Some(AccountId::parse(&String::from_utf8_lossy(&v))?)),
            None => Ok(None),
        }
    }

    fn update_account(&self, old: &AccountRecord, new: &AccountRecord) -> Result<bool> {
        let _gate = self.write_gate()?;
        let t = &self.acme;
        let value = serde_json::to_vec(new)?;
        let old_value = serde_json::to_vec(old)?;
        let res = (&t.accounts, &t.accounts_by_key).transaction(|(accounts, by_key)| {
            // Compare-and-swap: a concurrent change (deactivation, key rollover) wins.
            let current = accounts.get(old.id.as_str().as_bytes())?;
            let current: Option<AccountRecord> =
                current.and_then(|v| serde_json::from_slice(&v).ok());
            let expected: Option<AccountRecord> = serde_json::from_slice(&old_value).ok();
            if current.map(|c| (c.status, c.thumbprint, c.contact))
                != expected.map(|c| (c.status, c.thumbprint, c.contact))
            {
                return Err(ConflictableTransactionError::Abort(Abort::EabTaken));
            }
            if old.thumbprint != new.thumbprint {
                if by_key.get(new.thumbprint.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(Abort::EabTaken));
                }
                by_key.remove(old.thumbprint.as_bytes())?;
                by_key.insert(new.thumbprint.as_bytes(), new.id.as_str().as_bytes())?;
            }
            accounts.insert(new.id.as_str().as_bytes(), value.as_slice())?;
            Ok(())
        });
        self.acme_cache.invalidate();
        match res {
            Ok(()) => Ok(true),
            Err(TransactionError::Abort(_)) => Ok(false),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    fn create_order(&self, order: &OrderRecord, authzs: &[AuthzRecord]) -> Result<()> {
        let _gate = self.write_gate()?;
        let t = &self.acme;
        let ov = serde_json::to_vec(order)?;
        let avs = authzs
            .iter()
            .map(|a| Ok((a.id.as_str().as_bytes().to_vec(), serde_json::to_vec(a)?)))
            .collect::<Result<Vec<_>>>()?;
        let ik = order_index_key(order);
        // No transaction (sled's would take its global lock from the async worker): the
        // writes go in reference order, authorizations, then the order, then the account's
        // index entry, so a crash between them leaves only records nothing refers to yet.
        // The caller answers only after a flush.
        for (k, v) in &avs {
            t.authzs.insert(k.as_slice(), v.as_slice())?;
        }
        t.orders
            .insert(order.id.as_str().as_bytes(), ov.as_slice())?;
        t.orders_by_account.insert(ik.as_slice(), &[] as &[u8])?;
        Ok(())
    }

    fn get_order(&self, id: &OrderId) -> Result<Option<OrderRecord>> {
        get_json(&self.acme.orders, id.as_str().as_bytes())
    }

    fn update_order(&self, old_status: OrderStatus, order: &OrderRecord) -> Result<bool> {
        let _gate = self.write_gate()?;
        let key = order.id.as_str().as_bytes();
        let Some(raw) = self.acme.orders.get(key)? else {
            return Ok(false);
        };
        let cur: OrderRecord = serde_json::from_slice(&raw)?;
        if cur.status != old_status {
            return Ok(false);
        }
        Ok(self
            .acme
            .orders
            .compare_and_swap(key, Some(raw), Some(serde_json::to_vec(order)?))?
            .is_ok())
    }

    fn list_orders(&self, account: &AccountId) -> Result<Vec<OrderId>> {
        let mut prefix = account.as_str().as_bytes().to_vec();
        prefix.push(0);
        let mut out = Vec::new();
        for kv in self.acme.orders_by_account.scan_prefix(&prefix) {
            let (k, _) = kv?;
            let id = &k[prefix.len() + 8..];
            out.push(OrderId::parse(&String::from_utf8_lossy(id))?);
        }
        Ok(out)
    }

    fn get_authz(&self, id: &AuthzId) -> Result<Option<AuthzRecord>> {
        get_json(&self.acme.authzs, id.as_str().as_bytes())
    }

    fn put_authz(&self, authz: &AuthzRecord) -> Result<()> {
        let _gate = self.write_gate()?;
        self.acme
            .authzs
            .insert(authz.id.as_str().as_bytes(), serde_json::to_vec(authz)?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ProfileName;
    use crate::states::AccountStatus;

    fn eab(kid: &EabKid) -> EabKeyRecord {
        EabKeyRecord {
            version: 1,
            kid: kid.clone(),
            hmac_key_sealed: "sealed".into(),
            profile: ProfileName("device".into()),
            allowed_identifiers: vec![],
            created_at: 0,
            expires_at: None,
            withdrawn: false,
            account: None,
            subject_id: None,
        }
    }

    fn account(kid: &EabKid, thumbprint: &str) -> AccountRecord {
        AccountRecord {
            version: 1,
            id: AccountId::random().unwrap(),
            jwk: serde_json::json!({"kty": "EC"}),
            thumbprint: thumbprint.into(),
            contact: vec![],
            status: AccountStatus::Valid,
            tos_agreed: true,
            eab_kid: Some(kid.clone()),
            created_at: 0,
            subject_id: None,
        }
    }

    /// Reads come from the store's cache after the first; every write path shows at once.
    #[test]
    fn cached_accounts_and_eab_keys_follow_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let kid = EabKid::random().unwrap();
        s.create_eab_key(&eab(&kid)).unwrap();
        assert!(s.get_eab_key(&kid).unwrap().unwrap().account.is_none());
        let a = account(&kid, "t1");
        assert_eq!(s.create_account(&a).unwrap(), CreateAccount::Created);
        // create_account bound the (cached) key to the account.
        assert_eq!(
            s.get_eab_key(&kid).unwrap().unwrap().account,
            Some(a.id.clone())
        );
        assert_eq!(
            s.get_account(&a.id).unwrap().unwrap().status,
            AccountStatus::Valid
        );
        // Key rollover, then deactivation, through update_account.
        let mut rolled = a.clone();
        rolled.thumbprint = "t2".into();
        assert!(s.update_account(&a, &rolled).unwrap());
        assert_eq!(s.get_account(&a.id).unwrap().unwrap().thumbprint, "t2");
        let mut off = rolled.clone();
        off.status = AccountStatus::Deactivated;
        assert!(s.update_account(&rolled, &off).unwrap());
        assert_eq!(
            s.get_account(&a.id).unwrap().unwrap().status,
            AccountStatus::Deactivated
        );
        // Withdrawing the key through put_eab_key.
        let mut w = s.get_eab_key(&kid).unwrap().unwrap();
        w.withdrawn = true;
        s.put_eab_key(&w).unwrap();
        assert!(s.get_eab_key(&kid).unwrap().unwrap().withdrawn);
        // And a reopened store reads the same from disk.
        drop(s);
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            s.get_account(&a.id).unwrap().unwrap().status,
            AccountStatus::Deactivated
        );
        assert!(s.get_eab_key(&kid).unwrap().unwrap().withdrawn);
    }
}
