//! Making sled's writes durable.
//!
//! `sled::Db::flush` (0.34) writes its log buffers with `pwrite` followed by
//! `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)`. That starts and waits for write-back
//! of the written range, but it neither flushes the device's volatile write cache nor commits
//! the file's metadata (its grown size); sled's real `fsync` runs only from its periodic
//! flusher, every `flush_every_ms`. A write acknowledged after `flush` alone survives a killed
//! process, not a power cut. So every flush that makes a write durable here ends with an
//! `fdatasync` of sled's log file (`<store>/db`) through a handle of our own: the page cache
//! belongs to the file, not to the descriptor, and `fdatasync` also flushes the device cache
//! and the file size.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// sled's database with a handle on its log file.
#[derive(Clone)]
pub(super) struct DurableFlush {
    db: sled::Db,
    log: Arc<File>,
    /// Completed `fdatasync`s of the log file.
    syncs: Arc<AtomicU64>,
}

impl DurableFlush {
    /// `dir` is the directory sled was opened in.
    pub(super) fn new(db: sled::Db, dir: &Path) -> Result<Self> {
        let path = dir.join("db");
        let log = File::open(&path)
            .map_err(|e| Error::Internal(format!("open {} for fdatasync: {e}", path.display())))?;
        Ok(DurableFlush {
            db,
            log: Arc::new(log),
            syncs: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Writes every buffered update and waits until it is on stable storage.
    pub(super) fn flush(&self) -> Result<()> {
        self.db.flush()?;
        self.log
            .sync_data()
            .map_err(|e| Error::Internal(format!("fdatasync of the store log: {e}")))?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// How many flushes reached stable storage since the store was opened.
    pub(super) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }
}
