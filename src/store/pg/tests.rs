//! Tests of the PostgreSQL store against a private cluster (`test_cluster`): the store
//! conformance suite, the schema versions, and calls from an async worker.

use super::test_cluster::cluster;
use super::*;

fn open(dir: &std::path::Path) -> Arc<dyn crate::store::conformance::FullStore> {
    Arc::new(
        PgStore::open(&PgOptions {
            config: cluster().database_for(dir),
            pool_size: 4,
        })
        .unwrap(),
    )
}

crate::store_conformance!(open);

/// A fresh database for a schema test.
fn fresh(name: &str) -> postgres::Config {
    let mut admin = cluster()
        .config("postgres")
        .connect(postgres::NoTls)
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    cluster().config(name)
}

fn error_of(r: Result<PgStore>) -> String {
    match r {
        Ok(_) => panic!("the store opened"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn migrations_apply_once_and_are_recorded() {
    let config = fresh("schema_once");
    let opts = PgOptions {
        config: config.clone(),
        pool_size: 1,
    };
    assert!(error_of(PgStore::open(&opts)).contains("enrolld migrate"));
    assert_eq!(migrate::migrate(&config).unwrap(), vec![migrate::latest()]);
    assert_eq!(migrate::migrate(&config).unwrap(), Vec::<i32>::new());
    let mut c = config.connect(postgres::NoTls).unwrap();
    let versions: Vec<i32> = c
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=migrate::latest()).collect::<Vec<_>>());
    PgStore::open(&opts).unwrap();
}

/// A test directory's database is migrated on first use and is the same one on the next.
#[test]
fn a_test_directory_has_its_own_migrated_database() {
    let dir = tempfile::tempdir().unwrap();
    let config = cluster().database_for(dir.path());
    let mut c = config.connect(postgres::NoTls).unwrap();
    migrate::check(&mut c).unwrap();
    c.execute("INSERT INTO counters (name, value) VALUES ('x', 7)", &[])
        .unwrap();
    let again = cluster().database_for(dir.path());
    let mut c = again.connect(postgres::NoTls).unwrap();
    let row = c
        .query_one("SELECT value FROM counters WHERE name = 'x'", &[])
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 7);
    let other = tempfile::tempdir().unwrap();
    assert_ne!(
        cluster().database_for(other.path()).get_dbname(),
        config.get_dbname()
    );
}

#[test]
fn a_schema_newer_than_the_code_is_refused() {
    let config = fresh("schema_newer");
    migrate::migrate(&config).unwrap();
    let mut c = config.connect(postgres::NoTls).unwrap();
    c.execute(
        "INSERT INTO schema_version (version) VALUES ($1)",
        &[&(migrate::latest() + 1)],
    )
    .unwrap();
    let opts = PgOptions {
        config: config.clone(),
        pool_size: 1,
    };
    assert!(error_of(PgStore::open(&opts)).contains("newer than this enrolld knows"));
    let err = migrate::migrate(&config).unwrap_err().to_string();
    assert!(err.contains("newer than this enrolld knows"), "{err}");
}

/// Synchronous callers use the store from async workers too (admin handlers): the pool's
/// threads own the connections, so no runtime is nested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_works_on_an_async_worker() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.insert_certificate(
        &crate::store::conformance::records::cert("0b", "x", 9),
        None,
    )
    .unwrap();
    s.flush().unwrap();
    assert!(s
        .get_certificate(&Serial::parse_hex("0b").unwrap())
        .unwrap()
        .is_some());
}

/// What `enrolld migrate` does with a `[store]` section: the connection string of the
/// configuration reaches the database, migrates it, and a store opens on it.
#[test]
fn the_store_section_migrates_and_opens_the_database() {
    fresh("from_config");
    let cfg = crate::config::Config::parse(&format!(
        "[store]\nbackend = \"postgres\"\nurl = \"host={} user=enrolld dbname=from_config\"\npool_size = 2",
        cluster().socket_dir().display()
    ))
    .unwrap();
    let opts = cfg.store.pg_options().unwrap();
    assert_eq!(
        migrate::migrate(&opts.config).unwrap(),
        vec![migrate::latest()]
    );
    let s = PgStore::open(&opts).unwrap();
    s.insert_certificate(
        &crate::store::conformance::records::cert("0c", "x", 9),
        None,
    )
    .unwrap();
    assert_eq!(s.count_certificates().unwrap(), 1);
}
