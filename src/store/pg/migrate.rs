//! The PostgreSQL schema's versions: SQL files in `migrations/`, embedded in the binary,
//! applied in order by [`migrate`] and recorded in `schema_version`. A store opens only on
//! the version this build knows ([`check`]): a newer schema belongs to a newer enrolld, an
//! older one needs `enrolld migrate` first.

use postgres::{Client, IsolationLevel, NoTls};

use super::db_error;
use crate::error::{Error, Result};

/// Every migration, in order: (version, SQL).
pub const MIGRATIONS: &[(i32, &str)] = &[(1, include_str!("../../../migrations/0001_init.sql"))];

/// The schema version this build reads and writes.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    INT PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

fn current(client: &mut impl postgres::GenericClient) -> Result<Option<i32>> {
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'schema_version')",
            &[],
        )
        .map_err(db_error)?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_one("SELECT max(version) FROM schema_version", &[])
        .map_err(db_error)?;
    Ok(row.get::<_, Option<i32>>(0))
}

/// Applies the migrations the database lacks, each in its own transaction with its
/// `schema_version` row. Returns the versions applied (none when up to date). Refuses a
/// database whose schema is newer than this build.
pub fn migrate(config: &postgres::Config) -> Result<Vec<i32>> {
    let mut client = config.connect(NoTls).map_err(db_error)?;
    client.batch_execute(VERSION_TABLE).map_err(db_error)?;
    let mut applied = Vec::new();
    for &(version, sql) in MIGRATIONS {
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()
            .map_err(db_error)?;
        let have = current(&mut tx)?.unwrap_or(0);
        if have > latest() {
            return Err(newer(have));
        }
        if have >= version {
            continue;
        }
        tx.batch_execute(sql).map_err(db_error)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )
        .map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        applied.push(version);
    }
    Ok(applied)
}

fn newer(have: i32) -> Error {
    Error::Internal(format!(
        "the database's schema is version {have}, newer than this enrolld knows ({}): \
         run the enrolld that migrated it",
        latest()
    ))
}

/// Refuses to open a database whose schema is not the one this build knows.
pub fn check(client: &mut Client) -> Result<()> {
    match current(client)? {
        Some(v) if v == latest() => Ok(()),
        Some(v) if v > latest() => Err(newer(v)),
        Some(v) => Err(Error::Internal(format!(
            "the database's schema is version {v}; this enrolld needs {}: run `enrolld migrate`",
            latest()
        ))),
        None => Err(Error::Internal(
            "the database has no enrolld schema: run `enrolld migrate`".into(),
        )),
    }
}
