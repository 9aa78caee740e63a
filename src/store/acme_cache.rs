//! A read cache of ACME accounts and EAB keys for the sled store.
//!
//! Every ACME request reads its account and the account's EAB key. From sled that is two
//! lookups and two JSON decodes, and each lookup waits while the committer's transaction holds
//! sled's global lock. The embedded store is the only writer of its database (sled locks the
//! directory), so a cache inside it can be exact: every method that writes an account or an
//! EAB key calls [`AcmeCache::invalidate`] after its write, and a value read from sled is kept
//! only if no invalidation happened since the read began (an epoch check under the cache's
//! lock), so a read that raced with a write can never leave the old value behind.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use super::{AccountRecord, EabKeyRecord};
use crate::error::Result;
use crate::ids::{AccountId, EabKid};

/// Entries kept per map; a full map is emptied (accounts are few next to requests).
const MAX_ENTRIES: usize = 65_536;

#[derive(Default)]
struct Maps {
    accounts: HashMap<AccountId, AccountRecord>,
    eab_keys: HashMap<EabKid, EabKeyRecord>,
}

/// Accounts and EAB keys by id, with exact invalidation.
#[derive(Default)]
pub(super) struct AcmeCache {
    /// Bumped (under the write lock) by every invalidation.
    epoch: AtomicU64,
    maps: RwLock<Maps>,
}

impl AcmeCache {
    /// The account `id`, from the cache or from `load`.
    pub(super) fn account(
        &self,
        id: &AccountId,
        load: impl FnOnce() -> Result<Option<AccountRecord>>,
    ) -> Result<Option<AccountRecord>> {
        self.get_or_load(id, |m| &m.accounts, |m| &mut m.accounts, load)
    }

    /// The EAB key `kid`, from the cache or from `load`.
    pub(super) fn eab_key(
        &self,
        kid: &EabKid,
        load: impl FnOnce() -> Result<Option<EabKeyRecord>>,
    ) -> Result<Option<EabKeyRecord>> {
        self.get_or_load(kid, |m| &m.eab_keys, |m| &mut m.eab_keys, load)
    }

    /// Forgets everything; called after every write of an account or an EAB key.
    pub(super) fn invalidate(&self) {
        let mut maps = self.maps.write().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        maps.accounts.clear();
        maps.eab_keys.clear();
    }

    fn get_or_load<K: Eq + Hash + Clone, V: Clone>(
        &self,
        key: &K,
        map: fn(&Maps) -> &HashMap<K, V>,
        map_mut: fn(&mut Maps) -> &mut HashMap<K, V>,
        load: impl FnOnce() -> Result<Option<V>>,
    ) -> Result<Option<V>> {
        {
            // A poisoned lock only means a panic elsewhere while holding it; the maps are
            // still consistent (every mutation is a single insert or clear).
            let maps = self.maps.read().unwrap_or_else(|p| p.into_inner());
            if let Some(v) = map(&maps).get(key) {
                return Ok(Some(v.clone()));
            }
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let loaded = load()?;
        if let Some(v) = &loaded {
            let mut maps = self.maps.write().unwrap_or_else(|p| p.into_inner());
            if self.epoch.load(Ordering::SeqCst) == epoch {
                let m = map_mut(&mut maps);
                if m.len() >= MAX_ENTRIES {
                    m.clear();
                }
                m.insert(key.clone(), v.clone());
            }
        }
        Ok(loaded)
    }

    #[cfg(test)]
    fn cached_accounts(&self) -> usize {
        self.maps.read().map(|m| m.accounts.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::states::AccountStatus;

    fn account(id: &AccountId, status: AccountStatus) -> AccountRecord {
        AccountRecord {
            version: 1,
            id: id.clone(),
            jwk: serde_json::json!({}),
            thumbprint: "t".into(),
            contact: vec![],
            status,
            tos_agreed: true,
            eab_kid: None,
            created_at: 0,
            subject_id: None,
        }
    }

    #[test]
    fn hits_skip_the_load_and_invalidation_forces_a_reload() {
        let c = AcmeCache::default();
        let id = AccountId::random().unwrap();
        let mut loads = 0;
        for _ in 0..3 {
            let got = c
                .account(&id, || {
                    loads += 1;
                    Ok(Some(account(&id, AccountStatus::Valid)))
                })
                .unwrap();
            assert_eq!(got.unwrap().status, AccountStatus::Valid);
        }
        assert_eq!(loads, 1);
        c.invalidate();
        let got = c
            .account(&id, || Ok(Some(account(&id, AccountStatus::Deactivated))))
            .unwrap();
        assert_eq!(got.unwrap().status, AccountStatus::Deactivated);
    }

    #[test]
    fn a_load_that_raced_with_a_write_is_not_kept() {
        let c = AcmeCache::default();
        let id = AccountId::random().unwrap();
        // The write (and its invalidation) lands while the read is in sled.
        let got = c
            .account(&id, || {
                c.invalidate();
                Ok(Some(account(&id, AccountStatus::Valid)))
            })
            .unwrap();
        assert_eq!(got.unwrap().status, AccountStatus::Valid);
        assert_eq!(c.cached_accounts(), 0, "the possibly old value was kept");
        // Missing accounts are not cached either.
        let other = AccountId::random().unwrap();
        assert!(c.account(&other, || Ok(None)).unwrap().is_none());
        assert_eq!(c.cached_accounts(), 0);
    }
}
