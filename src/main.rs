//! The `enrolld` binary: parses arguments, starts logging, binds, and calls `server::run`.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use enrolld::ca::KeyType;
use enrolld::config::Config;
use enrolld::server;

/// mimalloc instead of glibc malloc: the server allocates per request on two workers, a
/// committer and sled's I/O threads (docs/benchmarks.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "enrolld",
    version,
    about = "A CA for client certificates: EST, ACME, admin API"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// TOML configuration file (see config/enrolld.example.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory (default ./enrolld-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Listen address (default 127.0.0.1:8443).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Address of the plain-HTTP status listener (CRL, OCSP, CA certificates); without a
    /// configuration file the default is 127.0.0.1:8080.
    #[arg(long)]
    http_listen: Option<SocketAddr>,
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Checks the audit log: hash chain, head and signed checkpoints (run with the server
    /// stopped, or on a restored backup).
    Verify {
        /// Data directory (default ./enrolld-data).
        #[arg(long, default_value = "./enrolld-data")]
        data_dir: PathBuf,
        /// The audit signing public key (a copy of DATA_DIR/audit-signing.pub kept elsewhere);
        /// default: the key in the data directory.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CaCmd {
    /// Encrypts the data directory's plain CA keys in place with the configured passphrase
    /// (`ca.key_passphrase_file` or ENROLLD_CA_PASSPHRASE). Run it with the server stopped.
    EncryptKeys {
        #[command(flatten)]
        common: Common,
    },
    /// Replaces the SCEP RA key and certificate (RSA-2048, `scep.ra_validity_days`); the
    /// current pair is kept as the previous one, so requests encrypted to it still open.
    /// Restart the server to serve the new RA certificate in GetCACert.
    RotateRa {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum Cmd {
    /// Admin API client for scripts: `enrolld admin people add …` (see `enrolld admin --help`).
    Admin(enrolld::cli::admin::AdminArgs),
    /// Restores a backup (from `GET /api/v1/backup`) into an empty data directory.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// Data directory to create (default ./enrolld-data).
        #[arg(long, default_value = "./enrolld-data")]
        data_dir: PathBuf,
    },
    /// CA key tools.
    Ca {
        #[command(subcommand)]
        cmd: CaCmd,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        cmd: AuditCmd,
    },
    /// Creates or upgrades the PostgreSQL store's schema (`[store] backend = "postgres"`):
    /// applies the migrations the database lacks; refuses a schema newer than this build.
    Migrate {
        /// TOML configuration file with the `[store]` section.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the server, initialising the data directory on first start.
    Serve {
        #[command(flatten)]
        common: Common,
    },
    /// Initialise the data directory (CA, TLS certificate, admin token) without serving.
    Init {
        #[command(flatten)]
        common: Common,
        /// CA key type: p256 (default), p384, rsa2048, rsa3072, rsa4096, ed25519.
        #[arg(long)]
        key_type: Option<String>,
        /// Import this CA certificate (PEM, chain up to the root may follow) instead of creating one.
        #[arg(long, requires = "import_key")]
        import_ca: Option<PathBuf>,
        /// The private key (PEM) of the imported CA.
        #[arg(long, requires = "import_ca")]
        import_key: Option<PathBuf>,
    },
}

fn load_config(c: &Common) -> Result<Config, String> {
    let mut cfg = match &c.config {
        Some(p) => Config::load(p).map_err(|e| e.to_string())?,
        None => Config::embedded(),
    };
    if let Some(d) = &c.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(l) = c.listen {
        cfg.listen = l;
    }
    if let Some(l) = c.http_listen {
        cfg.http_listen = Some(l);
    }
    Ok(cfg)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sled=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a log file or the journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if let Cmd::Admin(args) = cli.cmd {
        return enrolld::cli::admin::main(args);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("enrolld: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Async workers: four times the cores (at least 8), unless `TOKIO_WORKER_THREADS` says
/// otherwise. Store reads on a worker block the thread while the committer's transaction holds
/// sled's global lock; with one worker per core that idled the CPU (on 2 cores: +19 % EST
/// enrolments/s with 4 workers than with 2, and another +4–8 % EST and ACME with 8;
/// 16 gained nothing, docs/benchmarks.md).
fn worker_threads() -> usize {
    if let Some(n) = std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return n;
    }
    std::thread::available_parallelism()
        .map_or(2, |c| c.get())
        .saturating_mul(4)
        .max(8)
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.cmd {
        Cmd::Admin(_) => Err("admin is handled in main".into()),
        Cmd::Restore { from, data_dir } => {
            let data =
                std::fs::read(&from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
            std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
            let n = enrolld::backup::restore(&data_dir, &data).map_err(|e| e.to_string())?;
            println!("restored {n} store entries into {}", data_dir.display());
            Ok(())
        }
        Cmd::Audit {
            cmd:
                AuditCmd::Verify {
                    data_dir,
                    public_key,
                },
        } => verify_audit(&data_dir, public_key.as_deref()),
        Cmd::Ca {
            cmd: CaCmd::EncryptKeys { common },
        } => {
            let cfg = load_config(&common)?;
            let pass = enrolld::ca::keys::passphrase(&cfg.ca)
                .map_err(|e| e.to_string())?
                .ok_or("no CA key passphrase: set ca.key_passphrase_file (--config) or ENROLLD_CA_PASSPHRASE")?;
            let done =
                enrolld::ca::Ca::encrypt_keys(&cfg.data_dir, &pass).map_err(|e| e.to_string())?;
            if done.is_empty() {
                println!("the CA keys are encrypted already");
            }
            for p in done {
                println!("encrypted {}", p.display());
            }
            Ok(())
        }
        Cmd::Ca {
            cmd: CaCmd::RotateRa { common },
        } => {
            let cfg = load_config(&common)?;
            let pass = enrolld::ca::keys::passphrase(&cfg.ca).map_err(|e| e.to_string())?;
            let ca = enrolld::ca::Ca::load_with(&cfg.data_dir, pass.as_deref())
                .map_err(|e| e.to_string())?;
            let der = enrolld::ca::ra::Ra::rotate(
                &cfg.data_dir,
                &ca,
                pass.as_deref(),
                cfg.scep.ra_validity_days,
                time::OffsetDateTime::now_utc(),
            )
            .map_err(|e| e.to_string())?;
            let fp = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
            println!(
                "new SCEP RA certificate: {} (SHA-256 {})",
                enrolld::ca::ra::RaPaths::new(&cfg.data_dir).cert.display(),
                hex::encode(fp.as_ref())
            );
            println!("restart the server to serve it; the previous RA key still opens requests");
            Ok(())
        }
        Cmd::Init {
            common,
            key_type,
            import_ca,
            import_key,
        } => {
            let mut cfg = load_config(&common)?;
            if let Some(k) = key_type {
                cfg.ca.key_type = KeyType::parse(&k).map_err(|e| e.public_message().to_owned())?;
            }
            let import = match (import_ca, import_key) {
                (Some(cert), Some(key)) => Some(server::Import { cert, key }),
                _ => None,
            };
            let init = server::initialise(&cfg, import.as_ref()).map_err(|e| e.to_string())?;
            println!(
                "{}",
                if init.created {
                    "initialised"
                } else {
                    "already initialised"
                }
            );
            println!("{}", server::banner(&cfg, &init.paths));
            Ok(())
        }
        Cmd::Migrate { config } => {
            let cfg = Config::load(&config).map_err(|e| e.to_string())?;
            let opts = cfg.store.pg_options().map_err(|e| e.to_string())?;
            let applied =
                enrolld::store::pg::migrate::migrate(&opts.config).map_err(|e| e.to_string())?;
            match applied.last() {
                Some(v) => println!("schema migrated to version {v}"),
                None => println!(
                    "schema is up to date (version {})",
                    enrolld::store::pg::migrate::latest()
                ),
            }
            Ok(())
        }
        Cmd::Serve { common } => {
            let cfg = load_config(&common)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(worker_threads())
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(cfg.listen)
                    .await
                    .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
                server::run(cfg, listener, shutdown_signal())
                    .await
                    .map_err(|e| e.to_string())
            })
        }
    }
}

/// `enrolld audit verify`: chain, head and checkpoints of a stopped server's log.
fn verify_audit(
    data_dir: &std::path::Path,
    public_key: Option<&std::path::Path>,
) -> Result<(), String> {
    use enrolld::audit::{AuditFiles, PublicKey};
    let files = AuditFiles::in_dir(data_dir);
    let key_file = match public_key {
        Some(p) => p.to_owned(),
        None if files.key.exists() => files.key.clone(),
        None => files.public.clone(),
    };
    let key = PublicKey::from_file(&key_file).map_err(|e| e.to_string())?;
    let latest = enrolld::audit::read_latest(&files.latest).map_err(|e| e.to_string())?;
    let store = enrolld::store::sled_store::SledStore::open(&data_dir.join("store"))
        .map_err(|e| format!("cannot open the store (is the server running?): {e}"))?;
    match enrolld::audit::verify(&store, &key, latest.as_ref()).map_err(|e| e.to_string())? {
        Ok(v) => {
            println!(
                "audit log OK: {} entries, hash chain intact, head matches; {} signed checkpoints (key {}), the newest at entry {}",
                v.entries, v.checkpoints, v.key_id, v.last_checkpoint
            );
            if v.unsigned_entries > 0 {
                println!(
                    "warning: the {} newest entries come after the newest checkpoint: no signature covers them (the server stopped without its shutdown checkpoint; its next start signs them)",
                    v.unsigned_entries
                );
            }
            Ok(())
        }
        Err(why) => Err(format!("audit log verification FAILED: {why}")),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
