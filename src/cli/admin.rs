//! `enrolld admin …`: calls one admin API endpoint and prints the answer.
//!
//! Connection settings come from flags, then the environment, then defaults:
//!
//! | flag            | environment         | default                                          |
//! |-----------------|---------------------|--------------------------------------------------|
//! | `--url`         | `ENROLLD_URL`       | `https://localhost:8443`                         |
//! | `--token`, `--token-file` | `ENROLLD_TOKEN` | none: a token is required                  |
//! | `--ca-bundle`   | `ENROLLD_CA_BUNDLE` | `./enrolld-data/ca-bundle.pem` if it exists, else the system's CA bundle |
//!
//! A CA bundle, once named, is the only thing trusted. The answer's JSON goes to stdout,
//! pretty-printed. Exit status: 0 success; 1 a local problem (arguments, files); 2 the server
//! refused the request (4xx; the problem document's detail on stderr); 3 the server failed
//! (5xx) or could not be reached (connection, TLS, timeout); 4 `audit verify-remote` found
//! the hash chain broken.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use super::calls::Call;
use super::commands::{AdminCmd, AuditCmd};
use crate::notify::http::{self, Endpoint, Reply, SendError};

/// Where the server is when neither `--url` nor `ENROLLD_URL` says.
pub const DEFAULT_URL: &str = "https://localhost:8443";
/// The bundle `enrolld serve` writes in its default data directory.
const DEFAULT_BUNDLE: &str = "./enrolld-data/ca-bundle.pem";
/// Longest a request may take (a bulk import of 100,000 rows takes a while).
const TIMEOUT: Duration = Duration::from_secs(300);
/// Largest answer read (a page of 1000 certificates with their PEM is about 2 MB).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// `enrolld admin` arguments: how to reach the server, and what to do.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// How to reach and authenticate to the server.
    #[command(flatten)]
    pub conn: Connection,
    /// What to do.
    #[command(subcommand)]
    pub cmd: AdminCmd,
}

/// Connection options, accepted before or after the subcommand.
#[derive(Debug, clap::Args)]
pub struct Connection {
    /// Base URL of the server [env: ENROLLD_URL] [default: https://localhost:8443].
    #[arg(long, global = true, help_heading = "Connection", value_name = "URL")]
    pub url: Option<String>,
    /// API token (visible in the process list: prefer ENROLLD_TOKEN or --token-file)
    /// [env: ENROLLD_TOKEN].
    #[arg(
        long,
        global = true,
        help_heading = "Connection",
        value_name = "TOKEN",
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// File holding the API token (such as DATA_DIR/admin-token).
    #[arg(long, global = true, help_heading = "Connection", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// PEM CA bundle, the only certificates trusted for the server [env: ENROLLD_CA_BUNDLE]
    /// [default: ./enrolld-data/ca-bundle.pem if present, else the system's bundle].
    #[arg(long, global = true, help_heading = "Connection", value_name = "FILE")]
    pub ca_bundle: Option<PathBuf>,
}

/// How a run ended, as the exit status says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    /// Arguments, files, configuration.
    Local = 1,
    /// 4xx.
    Refused = 2,
    /// 5xx, or no answer.
    Unavailable = 3,
    /// `audit verify-remote`: the chain is broken.
    AuditBroken = 4,
}

/// A failed run: its exit status and the line for stderr.
struct Failure(Exit, String);

/// Runs one admin command and returns the process exit status.
pub fn main(args: AdminArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("enrolld admin: {e}");
            return ExitCode::from(Exit::Local as u8);
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, msg)) => {
            eprintln!("enrolld admin: {msg}");
            ExitCode::from(code as u8)
        }
    }
}

async fn run(args: AdminArgs) -> Result<(), Failure> {
    let local = |m: String| Failure(Exit::Local, m);
    let call = args.cmd.call().map_err(local)?;
    let token = token(&args.conn).map_err(local)?;
    let url = args
        .conn
        .url
        .clone()
        .or_else(|| env("ENROLLD_URL"))
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let roots = if url.starts_with("https://") {
        Some(roots(&args.conn).map_err(local)?)
    } else {
        None
    };
    let endpoint = Endpoint::parse(&url, roots).map_err(local)?;
    let reply = send(&endpoint, &token, &call).await?;
    let verify = matches!(
        args.cmd,
        AdminCmd::Audit {
            cmd: AuditCmd::VerifyRemote
        }
    );
    print_reply(&reply, &call, verify)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The token: `--token`, else `--token-file`, else `ENROLLD_TOKEN`.
fn token(c: &Connection) -> Result<String, String> {
    let t = match (&c.token, &c.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?
        }
        (None, None) => env("ENROLLD_TOKEN")
            .ok_or("no API token: give --token-file FILE, ENROLLD_TOKEN or --token")?,
    };
    let t = t.trim().to_owned();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the API token is empty or holds spaces or control characters".into());
    }
    Ok(t)
}

/// The trust anchors: the named bundle only, else the default data directory's, else the
/// system's.
fn roots(c: &Connection) -> Result<rustls::RootCertStore, String> {
    if let Some(p) = c
        .ca_bundle
        .clone()
        .or_else(|| env("ENROLLD_CA_BUNDLE").map(PathBuf::from))
    {
        return http::roots_from_pem_file(&p);
    }
    let local = Path::new(DEFAULT_BUNDLE);
    if local.exists() {
        return http::roots_from_pem_file(local);
    }
    http::system_roots()
}

async fn send(endpoint: &Endpoint, token: &str, call: &Call) -> Result<Reply, Failure> {
    let auth = format!("Bearer {token}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("accept", "application/json"),
    ];
    let body = match &call.body {
        Some((ct, data)) => {
            headers.push(("content-type", ct));
            Bytes::from(data.clone())
        }
        None => Bytes::new(),
    };
    endpoint
        .send(
            call.method.clone(),
            &call.path,
            &headers,
            body,
            TIMEOUT,
            MAX_ANSWER,
        )
        .await
        .map_err(|e| match e {
            SendError::Request(_) => Failure(Exit::Local, e.to_string()),
            _ => Failure(Exit::Unavailable, e.to_string()),
        })
}

fn print_reply(reply: &Reply, call: &Call, verify: bool) -> Result<(), Failure> {
    let status = reply.status;
    let json: Option<Value> = serde_json::from_slice(&reply.body).ok();
    if !status.is_success() {
        let detail = json
            .as_ref()
            .and_then(|v| v.get("detail").or_else(|| v.get("title")))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let text = String::from_utf8_lossy(&reply.body);
                text.chars().take(300).collect::<String>().trim().to_owned()
            });
        let code = if status.is_client_error() {
            Exit::Refused
        } else {
            Exit::Unavailable
        };
        return Err(Failure(code, format!("HTTP {status}: {detail}")));
    }
    let out = match &json {
        Some(v) if call.pem_only => match v.get("pem").and_then(Value::as_str) {
            Some(pem) => pem.to_owned(),
            None => {
                return Err(Failure(
                    Exit::Unavailable,
                    "the answer has no pem field".into(),
                ))
            }
        },
        Some(v) => match serde_json::to_string_pretty(v) {
            Ok(text) => text + "\n",
            Err(e) => return Err(Failure(Exit::Local, e.to_string())),
        },
        None if reply.body.is_empty() => String::new(),
        None => format!("{}\n", String::from_utf8_lossy(&reply.body)),
    };
    write_stdout(&out)?;
    if verify && json.as_ref().and_then(|v| v.get("valid")) != Some(&Value::Bool(true)) {
        return Err(Failure(
            Exit::AuditBroken,
            "the server reports the audit log's hash chain broken".into(),
        ));
    }
    Ok(())
}

/// Writes the answer; a reader that went away (`| head`) is not an error.
fn write_stdout(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure(Exit::Local, format!("writing the answer: {e}"))),
    }
}
