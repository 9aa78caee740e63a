//! Signs checkpoints of the audit log: on demand (start, shutdown) and from a task that
//! watches the head.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{read_latest, write_latest, AuditFiles, PublicKey, SigningKey};
use crate::config::AuditConfig;
use crate::error::{Error, Result};
use crate::store::{AuditCheckpointRecord, Store};

/// How often the task looks at the head of the log (one read of the `meta` tree).
const POLL: Duration = Duration::from_secs(1);

/// Signs and stores checkpoints of one store's audit log.
pub struct Checkpointer {
    /// The log.
    store: Arc<dyn Store>,
    /// The signing key, from outside the store.
    key: SigningKey,
    /// Where the newest checkpoint is also written.
    files: AuditFiles,
    /// Seq of the newest checkpoint; held while one is made, so two are never made at once.
    last: Mutex<u64>,
}

impl Checkpointer {
    /// Loads (or creates) the signing key of `files` for `store`'s log.
    pub fn open(files: AuditFiles, store: Arc<dyn Store>) -> Result<Checkpointer> {
        let key = SigningKey::load_or_create(&files)?;
        let last = store.last_audit_checkpoint()?.map_or(0, |c| c.seq);
        Ok(Checkpointer {
            store,
            key,
            files,
            last: Mutex::new(last),
        })
    }

    /// The key that checks this checkpointer's signatures.
    pub fn public_key(&self) -> &PublicKey {
        self.key.public()
    }

    /// The files: key, public key, newest checkpoint.
    pub fn files(&self) -> &AuditFiles {
        &self.files
    }

    /// Seq of the newest checkpoint (0: none).
    pub fn last_seq(&self) -> Result<u64> {
        Ok(*self.lock()?)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, u64>> {
        self.last
            .lock()
            .map_err(|_| Error::Internal("audit checkpointer poisoned".into()))
    }

    /// Signs the head of the log if it is newer than the last checkpoint: stores the
    /// checkpoint, makes the store durable (entries and checkpoint), then writes the newest
    /// checkpoint file. Blocks on the flush: call it off the async workers.
    pub fn checkpoint(&self, now: i64) -> Result<Option<AuditCheckpointRecord>> {
        let mut last = self.lock()?;
        let Some((seq, hash)) = self.store.audit_head()? else {
            return Ok(None);
        };
        if seq <= *last {
            return Ok(None);
        }
        let c = self.key.sign(seq, &hash, now);
        self.store.put_audit_checkpoint(&c)?;
        self.store.flush()?;
        write_latest(&self.files.latest, &c)?;
        *last = seq;
        tracing::debug!(seq, "audit checkpoint signed");
        Ok(Some(c))
    }

    /// The newest checkpoint file's content.
    pub fn latest(&self) -> Result<Option<AuditCheckpointRecord>> {
        read_latest(&self.files.latest)
    }

    /// Starts the task that signs a checkpoint once `checkpoint_entries` entries wait for
    /// one, or `checkpoint_interval_secs` after the first waiting entry was seen. The caller
    /// aborts it at shutdown and signs a last checkpoint itself.
    pub fn spawn(self: Arc<Self>, cfg: AuditConfig) -> JoinHandle<()> {
        tokio::spawn(async move {
            let interval = Duration::from_secs(cfg.checkpoint_interval_secs);
            // When an entry not yet signed was first seen.
            let mut waiting_since: Option<Instant> = None;
            loop {
                tokio::time::sleep(POLL).await;
                let this = self.clone();
                let pending = match tokio::task::spawn_blocking(move || this.pending()).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "audit checkpoint: reading the head failed");
                        continue;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "audit checkpoint: task failed");
                        continue;
                    }
                };
                if pending == 0 {
                    waiting_since = None;
                    continue;
                }
                let waited = waiting_since.get_or_insert_with(Instant::now).elapsed();
                if !due(pending, waited, cfg.checkpoint_entries, interval) {
                    continue;
                }
                let this = self.clone();
                match tokio::task::spawn_blocking(move || this.checkpoint(now())).await {
                    Ok(Ok(_)) => waiting_since = None,
                    Ok(Err(e)) => tracing::error!(error = %e, "audit checkpoint failed"),
                    Err(e) => tracing::error!(error = %e, "audit checkpoint: task failed"),
                }
            }
        })
    }

    /// Entries after the newest checkpoint.
    fn pending(&self) -> Result<u64> {
        let head = self.store.audit_head()?.map_or(0, |h| h.0);
        Ok(head.saturating_sub(self.last_seq()?))
    }
}

/// Whether `pending` entries, the oldest seen `waited` ago, call for a checkpoint now.
fn due(pending: u64, waited: Duration, every: u64, interval: Duration) -> bool {
    pending > 0 && (pending >= every || waited >= interval)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sled_store::SledStore;

    #[test]
    fn checkpoints_sign_the_head_once() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.path().join("store")).unwrap());
        let files = AuditFiles::in_dir(dir.path());
        let cp = Checkpointer::open(files.clone(), store.clone()).unwrap();
        // Nothing to sign in an empty log.
        assert_eq!(cp.checkpoint(100).unwrap(), None);
        assert_eq!(cp.latest().unwrap(), None);
        for _ in 0..3 {
            store.append_audit("t", "a", "-", "ok", "", 0).unwrap();
        }
        let c = cp.checkpoint(200).unwrap().unwrap();
        assert_eq!((c.seq, c.time), (3, 200));
        assert_eq!(
            Some(c.hash.clone()),
            store.audit_head().unwrap().map(|h| h.1)
        );
        assert!(cp.public_key().verifies(&c));
        assert_eq!(cp.latest().unwrap(), Some(c.clone()));
        assert_eq!(store.last_audit_checkpoint().unwrap(), Some(c.clone()));
        // The head did not move: no second checkpoint.
        assert_eq!(cp.checkpoint(300).unwrap(), None);
        // Reopened (a restart): it knows its last checkpoint and its key.
        let again = Checkpointer::open(files, store.clone()).unwrap();
        assert_eq!(again.last_seq().unwrap(), 3);
        assert_eq!(again.public_key(), cp.public_key());
        store.append_audit("t", "a", "-", "ok", "", 0).unwrap();
        assert_eq!(again.pending().unwrap(), 1);
        assert_eq!(again.checkpoint(400).unwrap().map(|c| c.seq), Some(4));
        assert_eq!(store.audit_checkpoints(0, 10).unwrap().len(), 2);
    }

    #[test]
    fn when_a_checkpoint_is_due() {
        let every = 100;
        let interval = Duration::from_secs(60);
        assert!(!due(0, Duration::from_secs(3600), every, interval));
        assert!(!due(99, Duration::from_secs(59), every, interval));
        assert!(due(100, Duration::ZERO, every, interval));
        assert!(due(1, Duration::from_secs(60), every, interval));
    }
}
