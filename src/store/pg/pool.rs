//! A small pool of PostgreSQL connections, each owned by its own thread.
//!
//! The store traits are synchronous and are called from async workers as well as from
//! blocking threads. The `postgres` crate's synchronous client drives its connection on a
//! runtime of its own and panics when called inside another runtime, so no caller thread
//! touches a connection: a job (a closure) goes to one of the pool's threads, which runs it on
//! its connection and sends the answer back. The caller blocks on a plain channel, as a
//! blocking `flush` of the sled store does.
//!
//! Writes run in SERIALIZABLE transactions; a serialization failure, a deadlock or a unique
//! violation raised by a concurrent insert makes the whole closure run again on a fresh
//! transaction (it must do no I/O outside the database), up to [`ATTEMPTS`] times.

use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use postgres::error::SqlState;
use postgres::{Client, IsolationLevel, NoTls, Transaction};

use super::db_error;
use crate::error::{Error, Result};

/// How often a transaction that lost a race is run again before the caller gets a conflict.
const ATTEMPTS: u32 = 40;

/// An error inside a transaction: the database's (perhaps worth a retry) or the store's own.
#[derive(Debug)]
pub(crate) enum TxError {
    /// From the server or the connection.
    Db(postgres::Error),
    /// A record that does not decode, a refused argument.
    App(Error),
}

impl From<postgres::Error> for TxError {
    fn from(e: postgres::Error) -> Self {
        TxError::Db(e)
    }
}

impl From<Error> for TxError {
    fn from(e: Error) -> Self {
        TxError::App(e)
    }
}

impl From<serde_json::Error> for TxError {
    fn from(e: serde_json::Error) -> Self {
        TxError::App(e.into())
    }
}

/// A result inside a transaction.
pub(crate) type TxResult<T> = std::result::Result<T, TxError>;

/// Whether a failed transaction may succeed when run again: it lost a race.
fn retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED
            || *c == SqlState::UNIQUE_VIOLATION
    )
}

impl From<TxError> for Error {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Db(e) => db_error(e),
            TxError::App(e) => e,
        }
    }
}

/// One connection, made again when the server closed it.
struct Conn {
    /// Where to connect.
    config: postgres::Config,
    /// `None` until the first job, and after the server went away.
    client: Option<Client>,
}

impl Conn {
    fn client(&mut self) -> Result<&mut Client> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.client = Some(self.config.connect(NoTls).map_err(db_error)?);
        }
        self.client
            .as_mut()
            .ok_or_else(|| Error::Internal("postgres: no connection".into()))
    }
}

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// The pool's threads and their queue; dropping it lets the threads finish their jobs.
pub(crate) struct Pool {
    /// Jobs for any idle thread.
    tx: Option<mpsc::Sender<Job>>,
    /// Joined on drop.
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `size` threads; each connects on its first job, so opening a store on a
    /// database that is down fails at its first query, not here.
    pub(crate) fn start(config: &postgres::Config, size: usize) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut threads = Vec::with_capacity(size);
        for i in 0..size.max(1) {
            let rx = rx.clone();
            let mut conn = Conn {
                config: config.clone(),
                client: None,
            };
            threads.push(
                std::thread::Builder::new()
                    .name(format!("enrolld-pg-{i}"))
                    .spawn(move || loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut conn),
                            Err(_) => return,
                        }
                    })
                    .map_err(Error::internal)?,
            );
        }
        Ok(Pool {
            tx: Some(tx),
            threads,
        })
    }

    /// Runs `f` on a pooled connection outside any transaction (single statements, reads).
    pub(crate) fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Client) -> TxResult<T> + Send + 'static,
    {
        self.submit(move |conn| f(conn.client()?).map_err(Error::from))
    }

    /// Runs `f` in a SERIALIZABLE transaction and commits, running it again on a lost race.
    pub(crate) fn write<T, F>(&self, mut f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&mut Transaction<'_>) -> TxResult<T> + Send + 'static,
    {
        self.submit(move |conn| {
            let mut last = None;
            for attempt in 0..ATTEMPTS {
                if attempt > 0 {
                    // Let the winner of the race finish.
                    std::thread::sleep(std::time::Duration::from_millis(
                        u64::from(attempt.min(10)) * 2,
                    ));
                }
                let client = conn.client()?;
                match run_once(client, &mut f) {
                    Ok(v) => return Ok(v),
                    Err(TxError::Db(e)) if retryable(&e) => last = Some(e),
                    Err(e) => return Err(e.into()),
                }
            }
            Err(Error::Conflict(format!(
                "the database kept refusing the transaction as concurrent: {}",
                last.map(|e| e.to_string()).unwrap_or_default()
            )))
        })
    }

    fn submit<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |conn| {
            // The caller may have gone away; the transaction stands either way.
            let _ = reply.send(f(conn));
        });
        let Some(tx) = &self.tx else {
            return Err(Error::Internal("store is closing".into()));
        };
        tx.send(job)
            .map_err(|_| Error::Internal("the store's connection pool stopped".into()))?;
        answer
            .recv()
            .map_err(|_| Error::Internal("a store connection thread stopped".into()))?
    }
}

fn run_once<T, F>(client: &mut Client, f: &mut F) -> TxResult<T>
where
    F: FnMut(&mut Transaction<'_>) -> TxResult<T>,
{
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .start()?;
    let v = f(&mut tx)?;
    tx.commit()?;
    Ok(v)
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
