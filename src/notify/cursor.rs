//! Where webhook delivery stands in the audit log: the seq of the last entry handled
//! (delivered, or skipped because its action is not subscribed), kept in
//! `DATA_DIR/webhook-cursor` so that a restart resumes there.
//!
//! The file is replaced (write, fsync, rename) after each delivery, and after each batch of
//! skipped entries. A crash between a delivery and the rename redelivers that one event after
//! the restart: delivery is at least once, and receivers drop duplicates by event id.
//!
//! Why a file and not the store: the `Store` trait has no plain key-value write, and its one
//! counter (`next_counter`) only increments, which cannot record "entry N is done" without
//! also claiming N+1.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::RegistryStore;

/// The delivery position, in memory and on disk.
pub struct Cursor {
    /// `DATA_DIR/webhook-cursor`.
    path: PathBuf,
    /// Seq of the last audit entry handled; the next delivery is the first entry after it.
    seq: u64,
}

impl Cursor {
    /// Reads the cursor file. Without one (webhooks just configured), delivery starts after
    /// the newest audit entry: history is not replayed to a new receiver. A cursor past the
    /// end of the log (a store restored from an older backup) is moved back to the end.
    pub fn load(path: &Path, store: &dyn RegistryStore) -> Result<Cursor> {
        let head = audit_head(store)?;
        let seq = match std::fs::read_to_string(path) {
            Ok(text) => {
                let saved: u64 = text.trim().parse().map_err(|_| {
                    Error::Internal(format!(
                        "{} does not hold an audit sequence number; delete it to start at the newest entry",
                        path.display()
                    ))
                })?;
                if saved > head {
                    tracing::warn!(
                        saved,
                        head,
                        "webhook cursor is past the end of the audit log (store restored?); resuming at the end"
                    );
                    head
                } else {
                    saved
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::info!(
                    after = head,
                    "webhooks: no cursor yet; delivering audit entries after the newest one"
                );
                head
            }
            Err(e) => return Err(e.into()),
        };
        let c = Cursor {
            path: path.to_owned(),
            seq,
        };
        c.write()?;
        Ok(c)
    }

    /// Seq of the last audit entry handled.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Records that every entry up to `seq` is handled.
    pub async fn advance(&mut self, seq: u64) -> Result<()> {
        if seq <= self.seq {
            return Ok(());
        }
        self.seq = seq;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_file(&path, seq))
            .await
            .map_err(Error::internal)?
    }

    fn write(&self) -> Result<()> {
        write_file(&self.path, self.seq)
    }
}

fn write_file(path: &Path, seq: u64) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("{seq}\n").as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Seq of the newest audit entry (0 for an empty log). Entries are numbered 1, 2, … without
/// gaps (the hash chain checks that), so whether an entry exists after `k` is monotonic in
/// `k`, and a doubling search then a bisection find the end in O(log n) reads.
pub fn audit_head(store: &dyn RegistryStore) -> Result<u64> {
    let exists_after = |k: u64| -> Result<bool> { Ok(!store.audit_entries(k, 1)?.is_empty()) };
    if !exists_after(0)? {
        return Ok(0);
    }
    // Invariant: an entry exists after `lo`, none after `hi`.
    let mut lo = 0u64;
    let mut hi = 1u64;
    while exists_after(hi)? {
        lo = hi;
        hi = hi.saturating_mul(2);
        if hi == u64::MAX {
            break;
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if exists_after(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sled_store::SledStore;

    #[test]
    fn head_of_the_audit_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("store")).unwrap();
        assert_eq!(audit_head(&store).unwrap(), 0);
        for n in 1..=37u64 {
            store.append_audit("t", "a", "-", "ok", "", 0).unwrap();
            assert_eq!(audit_head(&store).unwrap(), n);
        }
    }

    #[test]
    fn cursor_file_round_trip_and_reset() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("store")).unwrap();
        for _ in 0..5 {
            store.append_audit("t", "a", "-", "ok", "", 0).unwrap();
        }
        let path = dir.path().join("webhook-cursor");
        // No file: start after the newest entry.
        assert_eq!(Cursor::load(&path, &store).unwrap().seq(), 5);
        write_file(&path, 3).unwrap();
        assert_eq!(Cursor::load(&path, &store).unwrap().seq(), 3);
        // Past the end: back to the end.
        write_file(&path, 99).unwrap();
        assert_eq!(Cursor::load(&path, &store).unwrap().seq(), 5);
        std::fs::write(&path, "garbage").unwrap();
        assert!(Cursor::load(&path, &store).is_err());
    }
}
