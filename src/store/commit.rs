//! What a channel hands the store when it has signed a certificate: the record, what the
//! issuance consumes, the audit entry that goes with it, and the ticket it waits on until all of
//! that is durable.

use tokio::sync::oneshot;

use super::{CertificateRecord, Consumes, InsertOutcome, OrderRecord};
use crate::error::{Error, Result};

/// Why the certificate is written, and what must hold for it to be.
#[derive(Debug, Clone)]
pub enum CommitKind {
    /// EST, pickup links, bulk issuance: spends `Consumes` (if any) in the same transaction.
    Issue(Option<Consumes>),
    /// ACME finalize: the order must still be `ready`; it is stored as given (status `valid`,
    /// certificate set) with the certificate.
    FinalizeOrder(Box<OrderRecord>),
}

/// The audit entry written with the certificate; its target is the certificate's serial.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    /// Who: `est:<credential>`, `acme:<account>`, …
    pub actor: String,
    /// What: `certificate.issue`.
    pub action: String,
    /// Free text (the channel).
    pub detail: String,
    /// When, unix seconds.
    pub at: i64,
}

/// One certificate write.
#[derive(Debug, Clone)]
pub struct CertificateCommit {
    /// The record to insert (its serial must be new).
    pub cert: CertificateRecord,
    /// What the write consumes or updates.
    pub kind: CommitKind,
    /// Written in the same transaction when the certificate is.
    pub audit: Option<AuditDraft>,
}

/// Resolves once the write it stands for is durable (or refused, or failed).
#[must_use = "a commit is durable only once its ticket resolves"]
pub struct CommitTicket(Inner);

enum Inner {
    Ready(Result<InsertOutcome>),
    Pending(oneshot::Receiver<Result<InsertOutcome>>),
}

impl CommitTicket {
    /// A ticket whose outcome is already known (synchronous backends, early errors).
    pub fn ready(r: Result<InsertOutcome>) -> Self {
        CommitTicket(Inner::Ready(r))
    }

    /// A ticket the committer resolves through `rx`.
    pub fn pending(rx: oneshot::Receiver<Result<InsertOutcome>>) -> Self {
        CommitTicket(Inner::Pending(rx))
    }

    /// Waits for the outcome.
    pub async fn wait(self) -> Result<InsertOutcome> {
        match self.0 {
            Inner::Ready(r) => r,
            Inner::Pending(rx) => rx
                .await
                .map_err(|_| Error::Internal("the store's committer stopped".into()))?,
        }
    }

    /// Waits for the outcome by blocking the calling thread. Unlike tokio's `blocking_recv`
    /// it may run on an async worker (synchronous store callers do, as a blocking `flush`
    /// always did); async code should prefer [`CommitTicket::wait`].
    pub fn wait_blocking(self) -> Result<InsertOutcome> {
        match self.0 {
            Inner::Ready(r) => r,
            Inner::Pending(rx) => park_until_ready(rx)
                .map_err(|_| Error::Internal("the store's committer stopped".into()))?,
        }
    }

    /// Waits for durability only (a [`super::Store::durable`] ticket).
    pub async fn durable(self) -> Result<()> {
        self.wait().await.map(|_| ())
    }
}

/// Wakes a parked thread.
struct Unpark(std::thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` on the calling thread, parking it between polls.
fn park_until_ready<F: std::future::Future>(fut: F) -> F::Output {
    let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        // A wake between the poll and the park makes the park return at once.
        std::thread::park();
    }
}
