//! `[store]`: where certificates, the registry and the audit log are kept — the embedded sled
//! store in the data directory (the default), or a PostgreSQL database.

use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

/// The storage backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// sled in `DATA_DIR/store`: one machine, nothing to operate.
    #[default]
    Sled,
    /// A PostgreSQL database (`url`), for deployments that keep their data in a database
    /// they already operate.
    Postgres,
}

/// The `[store]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Which backend keeps the data.
    #[serde(default)]
    pub backend: StoreBackend,
    /// PostgreSQL: a connection URL or key=value string without a password
    /// (`postgresql://enrolld@db.example/enrolld`), so that the configuration can be shown
    /// and logged.
    #[serde(default)]
    pub url: Option<String>,
    /// PostgreSQL: a file that holds the password (trailing newline ignored); none for
    /// peer or certificate authentication.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PostgreSQL: connections for the store's calls (one more serves certificate commits).
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: StoreBackend::Sled,
            url: None,
            password_file: None,
            pool_size: default_pool_size(),
        }
    }
}

fn default_pool_size() -> usize {
    8
}

/// Largest `pool_size` accepted (PostgreSQL's default `max_connections` is 100).
const MAX_POOL: usize = 64;

impl StoreConfig {
    /// Checks the fields against the backend: a URL for PostgreSQL and no password in it;
    /// no PostgreSQL fields for sled.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(format!("store: {m}")));
        match self.backend {
            StoreBackend::Sled => {
                if self.url.is_some() || self.password_file.is_some() {
                    return invalid("url and password_file apply to backend = \"postgres\"");
                }
                Ok(())
            }
            StoreBackend::Postgres => {
                let Some(url) = &self.url else {
                    return invalid("backend = \"postgres\" needs url");
                };
                let config: postgres::Config = url.parse().map_err(|_| {
                    ConfigError::Invalid("store: url is not a PostgreSQL connection string".into())
                })?;
                if config.get_password().is_some() {
                    return invalid("url must not carry the password: use password_file");
                }
                if self.pool_size == 0 || self.pool_size > MAX_POOL {
                    return invalid(&format!("pool_size must be 1 to {MAX_POOL}"));
                }
                Ok(())
            }
        }
    }

    /// The PostgreSQL store's connection settings, with the password read from its file.
    pub fn pg_options(&self) -> Result<crate::store::pg::PgOptions, ConfigError> {
        if self.backend != StoreBackend::Postgres {
            return Err(ConfigError::Invalid(
                "store: backend is not \"postgres\"".into(),
            ));
        }
        self.validate()?;
        let url = self.url.as_deref().unwrap_or_default();
        let mut config: postgres::Config = url.parse().map_err(|_| {
            ConfigError::Invalid("store: url is not a PostgreSQL connection string".into())
        })?;
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            config.password(text.trim_end_matches(['\r', '\n']));
        }
        config.application_name("enrolld");
        Ok(crate::store::pg::PgOptions {
            config,
            pool_size: self.pool_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn invalid(toml: &str) -> String {
        match Config::parse(toml) {
            Err(ConfigError::Invalid(m)) => m,
            other => panic!("{toml}: {other:?}"),
        }
    }

    #[test]
    fn sled_is_the_default() {
        let cfg = Config::parse("").unwrap();
        assert_eq!(cfg.store.backend, StoreBackend::Sled);
    }

    #[test]
    fn postgres_needs_a_url_without_a_password() {
        assert!(invalid("[store]\nbackend = \"postgres\"").contains("needs url"));
        assert!(invalid(
            "[store]\nbackend = \"postgres\"\nurl = \"postgresql://enrolld:hunter2@db/enrolld\""
        )
        .contains("must not carry the password"));
        assert!(invalid(
            "[store]\nbackend = \"postgres\"\nurl = \"postgresql://db/x\"\npool_size = 0"
        )
        .contains("pool_size"));
        assert!(invalid("[store]\nurl = \"postgresql://db/x\"").contains("apply to backend"));
        let cfg = Config::parse(
            "[store]\nbackend = \"postgres\"\nurl = \"postgresql://enrolld@db.example:5433/ca\"",
        )
        .unwrap();
        assert_eq!(cfg.store.pool_size, 8);
    }

    /// The server does not open a PostgreSQL store yet: it says so and writes nothing,
    /// rather than serving from a sled store the operator did not ask for.
    #[test]
    fn the_server_refuses_postgres_until_it_is_wired() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::parse(
            "[store]\nbackend = \"postgres\"\nurl = \"postgresql://enrolld@db.example/ca\"",
        )
        .unwrap();
        cfg.data_dir = dir.path().join("data");
        let err = match crate::server::initialise(&cfg, None) {
            Ok(_) => panic!("the server started on a postgres configuration"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("postgres backend: not wired yet"), "{err}");
        assert!(!cfg.data_dir.exists());
    }

    #[test]
    fn the_password_comes_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        let cfg = Config::parse(&format!(
            "[store]\nbackend = \"postgres\"\nurl = \"host=db user=enrolld dbname=ca\"\npassword_file = {:?}",
            file.display().to_string()
        ))
        .unwrap();
        let opts = cfg.store.pg_options().unwrap();
        assert_eq!(opts.config.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(opts.config.get_dbname(), Some("ca"));
        // The configuration's Debug output (which a log may show) has no password in it.
        assert!(!format!("{:?}", cfg.store).contains("s3cret"));
    }
}
