//! The store on PostgreSQL, for deployments that keep their data in a database they already
//! operate: its schema, versioned in `migrations/` and applied by [`migrate::migrate`].

pub mod migrate;

use crate::error::Error;

/// The store's error for a database error; the text names the server's message, never the
/// connection's password (the configuration carries none in its URL).
pub(crate) fn db_error(e: postgres::Error) -> Error {
    Error::Internal(format!("postgres: {e}"))
}

#[cfg(test)]
mod test_cluster;
#[cfg(test)]
mod tests;
