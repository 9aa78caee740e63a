//! `enrolld-bench`: the benchmark harness of docs/benchmarks.md (issue 7).
//!
//! - `est`, `acme`, `ocsp` drive a running server over HTTPS: C clients, each on one
//!   keep-alive HTTP/1.1 connection, for S seconds; work that is not measured (credentials,
//!   EAB accounts, CSRs, revocations) is prepared first. Start the server with
//!   `ENROLLD_RATE_LIMIT=off`.
//! - `scep` drives a SCEP server (enrolld's, or another such as micromdm's `scepserver`) over
//!   plain HTTP or HTTPS with PKCSReq enrolments made beforehand.
//! - `floor` measures the crypto floor in-process on one core, and on all of them;
//!   `scep-floor` the crypto cost of one SCEP enrolment on the server side.
//! - `crl` builds a store of N certificates, revokes them and times CRL generation, in-process.
//! - `crash` starts `enrolld serve` itself and kills it with SIGKILL mid-workload, many times,
//!   checking after each restart that nothing acknowledged was lost (issue 6); exits non-zero
//!   on any violation.
//!
//! Every subcommand prints one JSON object on stdout; progress goes to stderr.
#![forbid(unsafe_code)]

#[path = "enrolld_bench/acme.rs"]
mod acme;
#[path = "enrolld_bench/client.rs"]
mod client;
#[path = "enrolld_bench/crash/mod.rs"]
mod crash;
#[path = "enrolld_bench/crl.rs"]
mod crl;
#[path = "enrolld_bench/est.rs"]
mod est;
#[path = "enrolld_bench/floor.rs"]
mod floor;
#[path = "enrolld_bench/http01.rs"]
mod http01;
#[path = "enrolld_bench/load.rs"]
mod load;
#[path = "enrolld_bench/ocsp.rs"]
mod ocsp;
#[path = "enrolld_bench/pki.rs"]
mod pki;
#[path = "enrolld_bench/scep.rs"]
mod scep;
#[path = "enrolld_bench/scep_floor.rs"]
mod scep_floor;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "enrolld-bench",
    about = "Load driver and crypto floor for enrolld (docs/benchmarks.md)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Options of the workloads that drive a running server.
#[derive(clap::Args, Clone)]
pub struct Drive {
    /// Base URL of the server.
    #[arg(long, default_value = "https://localhost:8443")]
    url: String,
    /// CA bundle (PEM) the server's certificate chains to.
    #[arg(long, default_value = "enrolld-data/ca-bundle.pem")]
    ca_bundle: PathBuf,
    /// File holding an admin token with scope admin (or issue + revoke).
    #[arg(long, default_value = "enrolld-data/admin-token")]
    admin_token: PathBuf,
    /// Concurrent clients, each on its own keep-alive connection.
    #[arg(long, short = 'c', default_value_t = 16)]
    concurrency: usize,
    /// Seconds to run.
    #[arg(long, short = 's', default_value_t = 10.0)]
    seconds: f64,
    /// Operations prepared beforehand (credentials or CSRs); a client stops when they run out.
    #[arg(long)]
    pool: Option<usize>,
    /// The server's process id: adds its CPU seconds and peak RSS (from /proc) to the report.
    #[arg(long)]
    server_pid: Option<String>,
    /// Seconds one request may take before it counts as a timeout error.
    #[arg(long, default_value_t = 30.0)]
    request_timeout: f64,
}

impl Drive {
    fn admin_token(&self) -> Result<String, String> {
        std::fs::read_to_string(&self.admin_token)
            .map(|t| t.trim().to_owned())
            .map_err(|e| format!("cannot read {}: {e}", self.admin_token.display()))
    }

    /// A tag that keeps names of this run apart from earlier runs on the same server.
    fn tag(&self) -> String {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("r{t}")
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// EST simpleenroll with one-time credentials and P-256 CSRs made beforehand.
    Est {
        #[command(flatten)]
        drive: Drive,
    },
    /// ACME full orders (newOrder, authorization, finalize, download): pre-authorised names with
    /// EAB accounts, or names proven over http-01 (also against other ACME servers).
    Acme {
        #[command(flatten)]
        drive: Drive,
        #[command(flatten)]
        opts: acme::Options,
    },
    /// GET-form OCSP for a mix of good and revoked certificates (with `--nonce`: POSTs, each
    /// with a fresh nonce).
    Ocsp {
        #[command(flatten)]
        drive: Drive,
        /// Good certificates to enrol and ask about.
        #[arg(long, default_value_t = 8)]
        good: usize,
        /// Revoked certificates to enrol, revoke and ask about.
        #[arg(long, default_value_t = 8)]
        revoked: usize,
        /// POST every request with a fresh random nonce (RFC 8954): nothing can come from a
        /// cache, every answer is signed.
        #[arg(long)]
        nonce: bool,
    },
    /// SCEP PKCSReq enrolments (RFC 8894) with keys, challenges and messages made beforehand,
    /// against enrolld or another SCEP server.
    Scep {
        #[command(flatten)]
        drive: Drive,
        #[command(flatten)]
        opts: scep::Options,
    },
    /// The crypto floor with aws-lc-rs: per core, and on all cores.
    Floor {
        /// Seconds per figure.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
    },
    /// The server-side crypto of one SCEP enrolment with aws-lc-rs: the server's code paths
    /// and the raw RSA-2048 operations under them, per core.
    ScepFloor {
        /// Seconds per figure.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
    },
    /// CRL generation time with N revoked certificates, in-process (temporary directory).
    Crl {
        /// Certificates to issue and store.
        #[arg(long, default_value_t = 100_000)]
        entries: usize,
        /// How many of them to revoke (default: all).
        #[arg(long)]
        revoked: Option<usize>,
        /// Keep the CA and store in this directory instead of a temporary one.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Crash consistency: concurrent EST enrolments and revocations, SIGKILL at random
    /// moments, restart, and checks that every acknowledged answer survived (docs/security.md).
    Crash {
        #[command(flatten)]
        opts: crash::Options,
    },
}

/// A fresh directory under the system's temporary directory.
pub fn temp_dir(what: &str) -> Result<PathBuf, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "enrolld-bench-{what}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("enrolld-bench: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<serde_json::Value, String> {
    match cli.cmd {
        Cmd::Floor { seconds } => floor::run(seconds),
        Cmd::ScepFloor { seconds } => scep_floor::run(seconds),
        Cmd::Crl {
            entries,
            revoked,
            dir,
        } => crl::run(entries, revoked.unwrap_or(entries), dir.as_deref()),
        Cmd::Crash { opts } => {
            let report = crash::run(&opts)?;
            match report["violations"].as_u64() {
                Some(0) => Ok(report),
                n => {
                    // The report goes out even so: it says what was violated.
                    println!("{report}");
                    Err(format!("{} crash-consistency violations", n.unwrap_or(0)))
                }
            }
        }
        Cmd::Scep { drive, opts } => scep::run(&drive, &opts),
        Cmd::Est { drive } => drive_with(&drive, |d, t| Box::pin(est::run(d, t))),
        Cmd::Acme { drive, opts } => drive_with(&drive, |d, t| Box::pin(acme::run(d, t, opts))),
        Cmd::Ocsp {
            drive,
            good,
            revoked,
            nonce,
        } => drive_with(&drive, move |d, t| {
            Box::pin(ocsp::run(d, t, good, revoked, nonce))
        }),
    }
}

type Workload<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<serde_json::Value, String>> + 'a>>;

/// Builds the runtime and the target, then runs `f`.
fn drive_with(
    d: &Drive,
    f: impl for<'a> FnOnce(&'a Drive, std::sync::Arc<client::Target>) -> Workload<'a>,
) -> Result<serde_json::Value, String> {
    if d.concurrency == 0 || d.seconds <= 0.0 {
        return Err("concurrency and seconds must be > 0".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let timeout = std::time::Duration::from_secs_f64(d.request_timeout.max(0.1));
        let target = client::Target::new(&d.url, &d.ca_bundle, timeout).await?;
        f(d, target).await
    })
}
