//! Group commit: callers queue certificate writes (or bare durability barriers) and get a
//! ticket; one thread takes everything queued and applies the writes in one transaction, a
//! second flushes everything applied so far once and resolves the tickets of those batches.
//!
//! One writer means no lock contention between transactions (sled serialises them behind a
//! global lock) and one thread wake-up per batch instead of one per request; an async caller
//! waits on a oneshot channel, not on a thread.

use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::{CertificateCommit, CommitTicket, InsertOutcome};
use crate::error::{Error, Result};

/// Most requests taken into one batch (one transaction, one fsync).
const MAX_BATCH: usize = 512;

/// Applies a batch of writes in one transaction: one outcome per write, in order. An `Err`
/// fails the whole batch (nothing of it was written).
pub type ApplyFn = dyn Fn(&[&CertificateCommit]) -> Result<Vec<Result<InsertOutcome>>> + Send;
/// Makes every write so far durable.
pub type FlushFn = dyn Fn() -> Result<()> + Send;

struct Job {
    write: Option<CertificateCommit>,
    reply: oneshot::Sender<Result<InsertOutcome>>,
}

/// Outcomes of an applied batch, waiting for the flush that makes them durable.
type Applied = Vec<(
    oneshot::Sender<Result<InsertOutcome>>,
    Result<InsertOutcome>,
)>;

/// The committer threads and their queue; dropping it drains the queue and joins the threads.
pub struct GroupCommitter {
    tx: Option<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl GroupCommitter {
    /// Starts the threads: one applies batches, one flushes what was applied, so the next
    /// batch's transaction runs while the previous one's fsync does.
    pub fn start(apply: Box<ApplyFn>, flush: Box<FlushFn>) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let (applied_tx, applied_rx) = mpsc::channel::<Applied>();
        let flusher = std::thread::Builder::new()
            .name("enrolld-flush".into())
            .spawn(move || flush_loop(applied_rx, flush))
            .map_err(Error::internal)?;
        let applier = std::thread::Builder::new()
            .name("enrolld-commit".into())
            .spawn(move || apply_loop(rx, apply, applied_tx))
            .map_err(Error::internal)?;
        Ok(GroupCommitter {
            tx: Some(tx),
            threads: vec![applier, flusher],
        })
    }

    /// Queues a write.
    pub fn commit(&self, c: CertificateCommit) -> CommitTicket {
        self.submit(Some(c))
    }

    /// Queues a barrier: resolves after a flush that began after every write queued before it.
    pub fn barrier(&self) -> CommitTicket {
        self.submit(None)
    }

    fn submit(&self, write: Option<CertificateCommit>) -> CommitTicket {
        let (reply, rx) = oneshot::channel();
        let Some(tx) = &self.tx else {
            return CommitTicket::ready(Err(Error::Internal("store is closing".into())));
        };
        match tx.send(Job { write, reply }) {
            Ok(()) => CommitTicket::pending(rx),
            Err(_) => {
                CommitTicket::ready(Err(Error::Internal("the store's committer stopped".into())))
            }
        }
    }
}

impl Drop for GroupCommitter {
    fn drop(&mut self) {
        // Closing the queue ends the threads once they have committed what was queued.
        self.tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn apply_loop(rx: mpsc::Receiver<Job>, apply: Box<ApplyFn>, out: mpsc::Sender<Applied>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let writes: Vec<&CertificateCommit> =
            batch.iter().filter_map(|j| j.write.as_ref()).collect();
        let applied = if writes.is_empty() {
            Ok(Vec::new())
        } else {
            apply(&writes)
        };
        let (mut outcomes, failure) = match applied {
            Ok(o) => (o.into_iter(), None),
            Err(e) => (Vec::new().into_iter(), Some(e.to_string())),
        };
        let done: Applied = batch
            .into_iter()
            .map(|job| {
                let r = match &failure {
                    Some(e) => Err(Error::Internal(format!("store write failed: {e}"))),
                    None if job.write.is_some() => outcomes.next().unwrap_or_else(|| {
                        Err(Error::Internal("committer lost an outcome".into()))
                    }),
                    None => Ok(InsertOutcome::Inserted),
                };
                (job.reply, r)
            })
            .collect();
        if out.send(done).is_err() {
            return;
        }
    }
}

fn flush_loop(rx: mpsc::Receiver<Applied>, flush: Box<FlushFn>) {
    while let Ok(first) = rx.recv() {
        let mut batches = vec![first];
        while let Ok(b) = rx.try_recv() {
            batches.push(b);
        }
        let flushed = flush().map_err(|e| e.to_string());
        for (reply, r) in batches.into_iter().flatten() {
            let r = match &flushed {
                Ok(()) => r,
                Err(e) => Err(Error::Internal(format!("store flush failed: {e}"))),
            };
            // The caller may have gone away (client disconnected): the write stands.
            let _ = reply.send(r);
        }
    }
}
