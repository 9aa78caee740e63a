//! Verification of the whole audit log: chain, head and signed checkpoints.

use serde::Serialize;

use super::PublicKey;
use crate::error::Result;
use crate::store::registry_records::audit_hash;
use crate::store::{AuditCheckpointRecord, RegistryStore};

/// What a log that verifies holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// Entries, all chained and matching the head.
    pub entries: u64,
    /// Signed checkpoints, every one valid and matching its entry.
    pub checkpoints: u64,
    /// Seq of the newest checkpoint (0: none, only in an empty log).
    pub last_checkpoint: u64,
    /// When the newest checkpoint was signed, unix seconds.
    pub last_checkpoint_time: Option<i64>,
    /// Entries after the newest checkpoint: chained, but not yet covered by a signature
    /// (on a running server, or after a crash).
    pub unsigned_entries: u64,
    /// The key that checked the signatures (`PublicKey::key_id`).
    pub key_id: String,
}

/// Checks the chain and its head ([`verify_audit`]), then every checkpoint: signed by `key`,
/// naming an entry of the log with the hash it has. `latest` is the newest checkpoint as
/// kept outside the store (`audit-checkpoint.json`): the store must still hold it, so it
/// cannot be rolled back behind it. Entries after the newest checkpoint are counted, not
/// refused: a running server signs them later, a crashed one at its next start. Returns
/// what was checked, or the first thing wrong.
pub fn verify(
    store: &dyn RegistryStore,
    key: &PublicKey,
    latest: Option<&AuditCheckpointRecord>,
) -> Result<std::result::Result<Verified, String>> {
    let entries = match verify_audit(store)? {
        Ok(n) => n,
        Err(why) => return Ok(Err(why)),
    };
    let key_id = key.key_id();
    let mut count = 0u64;
    let mut newest: Option<AuditCheckpointRecord> = None;
    let mut after = 0;
    loop {
        let batch = store.audit_checkpoints(after, 1000)?;
        if batch.is_empty() {
            break;
        }
        for c in batch {
            after = c.seq;
            if c.key_id != key_id {
                return Ok(Err(format!(
                    "checkpoint at entry {} was signed by key {}, not by {key_id}",
                    c.seq, c.key_id
                )));
            }
            if !key.verifies(&c) {
                return Ok(Err(format!(
                    "checkpoint at entry {} has an invalid signature",
                    c.seq
                )));
            }
            // The entry it names: read again (on a running server it may be newer than
            // the walk above), and checked on its own.
            match store.audit_entries(c.seq.saturating_sub(1), 1)?.pop() {
                Some(e) if e.seq == c.seq && e.hash == c.hash && audit_hash(&e) == e.hash => {}
                Some(e) if e.seq == c.seq => {
                    return Ok(Err(format!(
                    "entry {} does not match its signed checkpoint: the log was altered or rebuilt",
                    c.seq
                )))
                }
                _ => {
                    return Ok(Err(format!(
                        "entry {} of a signed checkpoint is missing: the log was cut",
                        c.seq
                    )))
                }
            }
            count += 1;
            newest = Some(c);
        }
    }
    if let Some(l) = latest {
        if !key.verifies(l) {
            return Ok(Err(
                "the newest checkpoint file has an invalid signature".into()
            ));
        }
        let stored = store.audit_checkpoints(l.seq.saturating_sub(1), 1)?.pop();
        if stored.as_ref() != Some(l) {
            return Ok(Err(format!(
                "the store no longer holds the newest checkpoint (entry {}): it was rolled back or its checkpoints removed",
                l.seq
            )));
        }
    } else if count > 0 {
        return Ok(Err(
            "the store holds checkpoints but the newest checkpoint file is missing".into(),
        ));
    }
    let last = newest.as_ref().map_or(0, |c| c.seq);
    Ok(Ok(Verified {
        entries,
        checkpoints: count,
        last_checkpoint: last,
        last_checkpoint_time: newest.map(|c| c.time),
        unsigned_entries: entries.saturating_sub(last),
        key_id,
    }))
}

/// Checks the whole audit chain: sequence without gaps, each hash recomputed, each entry
/// linked to its predecessor, and the last entry against the stored head, so a log cut after
/// some entry does not verify. Returns the number of entries, or where it breaks.
///
/// On a running server entries may be appended during the walk: the head read before it must
/// be reached and matched, and the walk must not end past the head read after it.
pub fn verify_audit(
    store: &dyn crate::store::RegistryStore,
) -> Result<std::result::Result<u64, String>> {
    let head_before = store.audit_head()?;
    let mut prev = "0".repeat(64);
    let mut expected = 1u64;
    let mut after = 0;
    loop {
        let batch = store.audit_entries(after, 1000)?;
        if batch.is_empty() {
            break;
        }
        for e in batch {
            if e.seq != expected {
                return Ok(Err(format!(
                    "entry {expected} is missing (found {})",
                    e.seq
                )));
            }
            if e.prev_hash != prev {
                return Ok(Err(format!(
                    "entry {} does not link to entry {}",
                    e.seq,
                    e.seq - 1
                )));
            }
            if audit_hash(&e) != e.hash {
                return Ok(Err(format!("entry {} was altered (hash mismatch)", e.seq)));
            }
            if let Some((seq, hash)) = &head_before {
                if e.seq == *seq && e.hash != *hash {
                    return Ok(Err(format!(
                        "entry {seq} does not match the stored head (the chain was rewritten)"
                    )));
                }
            }
            prev = e.hash.clone();
            expected += 1;
            after = e.seq;
        }
    }
    let last = expected - 1;
    if let Some((seq, _)) = &head_before {
        if last < *seq {
            return Ok(Err(format!(
                "the log ends at entry {last} but the stored head is entry {seq}: the newest entries were removed"
            )));
        }
    }
    match store.audit_head()? {
        None if last == 0 => {}
        None => {
            return Ok(Err(format!(
                "the log holds {last} entries but no stored head"
            )))
        }
        Some((seq, _)) if last > seq => {
            return Ok(Err(format!(
                "entries after {seq} lie beyond the stored head (entry {seq})"
            )))
        }
        Some((seq, hash)) if last == seq && prev != hash => {
            return Ok(Err(format!(
                "entry {seq} does not match the stored head (the chain was rewritten)"
            )))
        }
        Some(_) => {}
    }
    Ok(Ok(last))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::audit::{AuditFiles, Checkpointer};
    use crate::store::sled_store::SledStore;
    use crate::store::Store;

    fn log(n: usize) -> (tempfile::TempDir, Arc<SledStore>, Checkpointer) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(&dir.path().join("store")).unwrap());
        let cp = Checkpointer::open(AuditFiles::in_dir(dir.path()), store.clone()).unwrap();
        for i in 0..n {
            store
                .append_audit("t", "a", &i.to_string(), "ok", "", 0)
                .unwrap();
        }
        (dir, store, cp)
    }

    fn check(store: &dyn Store, cp: &Checkpointer) -> std::result::Result<Verified, String> {
        verify(store, cp.public_key(), cp.latest().unwrap().as_ref()).unwrap()
    }

    #[test]
    fn a_signed_log_verifies() {
        let (_dir, store, cp) = log(0);
        assert_eq!(check(&*store, &cp).unwrap().entries, 0);
        for _ in 0..3 {
            store.append_audit("t", "a", "-", "ok", "", 0).unwrap();
        }
        // Entries without any checkpoint verify as a chain, counted as unsigned.
        let v = check(&*store, &cp).unwrap();
        assert_eq!((v.checkpoints, v.unsigned_entries), (0, 3));
        cp.checkpoint(10).unwrap();
        store.append_audit("t", "a", "-", "ok", "", 0).unwrap();
        let v = check(&*store, &cp).unwrap();
        assert_eq!(
            (
                v.entries,
                v.checkpoints,
                v.last_checkpoint,
                v.unsigned_entries
            ),
            (4, 1, 3, 1)
        );
        assert_eq!(v.key_id, cp.public_key().key_id());
    }

    #[test]
    fn fail_audit_verify_rebuilt_chain() {
        let (_dir, store, cp) = log(5);
        cp.checkpoint(10).unwrap();
        // Entry 2 altered and every hash after it recomputed, head included: a valid chain.
        let mut prev = store.audit_entries(0, 1).unwrap()[0].hash.clone();
        for mut e in store.audit_entries(1, 10).unwrap() {
            if e.seq == 2 {
                e.detail = "nothing to see".into();
            }
            e.prev_hash = prev;
            e.hash = audit_hash(&e);
            prev = e.hash.clone();
            store
                .tree_for_tests("audit")
                .insert(e.seq.to_be_bytes(), serde_json::to_vec(&e).unwrap())
                .unwrap();
        }
        let mut head = 5u64.to_be_bytes().to_vec();
        head.extend_from_slice(prev.as_bytes());
        store
            .tree_for_tests("meta")
            .insert("audit_head", head)
            .unwrap();
        assert_eq!(verify_audit(&*store).unwrap(), Ok(5));
        let why = check(&*store, &cp).unwrap_err();
        assert!(
            why.contains("entry 5 does not match its signed checkpoint"),
            "{why}"
        );
    }

    #[test]
    fn fail_audit_verify_forged_or_removed_checkpoints() {
        let (dir, store, cp) = log(2);
        cp.checkpoint(10).unwrap();
        // A checkpoint signed by another key.
        let other_dir = tempfile::tempdir().unwrap();
        let other = crate::audit::SigningKey::load_or_create(&AuditFiles::in_dir(other_dir.path()))
            .unwrap();
        let head = store.audit_head().unwrap().unwrap();
        let forged = other.sign(head.0, &head.1, 11);
        store.put_audit_checkpoint(&forged).unwrap();
        assert!(check(&*store, &cp).unwrap_err().contains("signed by key"));
        // Checkpoints removed from the store: the newest checkpoint file still names one.
        store.tree_for_tests("audit_checkpoints").clear().unwrap();
        let why = check(&*store, &cp).unwrap_err();
        assert!(
            why.contains("no longer holds the newest checkpoint"),
            "{why}"
        );
        // The file removed too: nothing is signed any more, which the answer says.
        std::fs::remove_file(AuditFiles::in_dir(dir.path()).latest).unwrap();
        let v = check(&*store, &cp).unwrap();
        assert_eq!((v.checkpoints, v.unsigned_entries), (0, 2));
    }
}
