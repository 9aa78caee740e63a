//! Start-up: first-start initialisation of the data directory, then serving.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::admin::Admin;
use crate::audit::Checkpointer;
use crate::ca::profile::SanName;
use crate::ca::{keys, pem_encode, Ca, CaPaths};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::est::Est;
use crate::http::{self, AppState};
use crate::registry::tokens;
use crate::secrets::Secrets;
use crate::store::sled_store::SledStore;
use crate::store::Store;

/// Where things live in the data directory.
#[derive(Debug, Clone)]
pub struct DataPaths {
    /// The directory itself.
    pub dir: PathBuf,
    /// The trust anchors clients use (root, then issuing CA).
    pub ca_bundle: PathBuf,
    /// The bootstrap admin token (0600).
    pub admin_token: PathBuf,
    /// HMAC key for stored secrets (0600).
    pub secret_key: PathBuf,
    /// The sled store.
    pub store: PathBuf,
    /// Generated TLS server chain.
    pub tls_cert: PathBuf,
    /// Generated TLS server key (0600).
    pub tls_key: PathBuf,
    /// The audit log's signing key, its public key and the newest checkpoint: outside the
    /// store, so that writing the store is not enough to rewrite the log.
    pub audit: crate::audit::AuditFiles,
}

impl DataPaths {
    /// The layout under `dir`.
    pub fn new(dir: &Path) -> Self {
        DataPaths {
            dir: dir.to_owned(),
            ca_bundle: dir.join("ca-bundle.pem"),
            admin_token: dir.join("admin-token"),
            secret_key: dir.join("secret.key"),
            store: dir.join("store"),
            tls_cert: dir.join("tls").join("server.crt"),
            tls_key: dir.join("tls").join("server.key"),
            audit: crate::audit::AuditFiles::in_dir(dir),
        }
    }
}

/// A CA to import on first start instead of creating one.
#[derive(Debug, Clone)]
pub struct Import {
    /// PEM file: the CA certificate, then its chain up to the root.
    pub cert: PathBuf,
    /// PEM file: the CA's private key.
    pub key: PathBuf,
}

/// Everything a running server needs, loaded from the data directory.
pub struct Initialised {
    /// The CA.
    pub ca: Arc<Ca>,
    /// The store.
    pub store: Arc<SledStore>,
    /// Hash key.
    pub secrets: Arc<Secrets>,
    /// TLS server chain (PEM).
    pub tls_cert_pem: Vec<u8>,
    /// TLS server key (PEM).
    pub tls_key_pem: Vec<u8>,
    /// Signs checkpoints of the audit log.
    pub audit: Arc<Checkpointer>,
    /// Paths.
    pub paths: DataPaths,
    /// Whether this start created the CA.
    pub created: bool,
    /// The SCEP RA (created on the first start with SCEP enabled).
    pub ra: Option<Arc<crate::ca::ra::Ra>>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Initialises the data directory if it is empty, and loads it.
pub fn initialise(cfg: &Config, import: Option<&Import>) -> Result<Initialised> {
    if cfg.store.backend == crate::config::StoreBackend::Postgres {
        // The PostgreSQL store passes the store conformance suite, but the server still
        // builds on the sled store's type; refuse rather than serve from the wrong place.
        return Err(Error::NotOffered(
            "postgres backend: not wired yet (the server opens only the sled store; \
             `enrolld migrate` prepares the database)"
                .into(),
        ));
    }
    let paths = DataPaths::new(&cfg.data_dir);
    std::fs::create_dir_all(&paths.dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&paths.dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let ca_paths = CaPaths::new(&paths.dir);
    let created = !ca_paths.exists();
    let passphrase = keys::passphrase(&cfg.ca)?;
    if created {
        match import {
            Some(i) => Ca::import(&paths.dir, &i.cert, &i.key, passphrase.as_deref())?,
            None => {
                let root_crl = format!("{}/crl/root.crl", cfg.status_base_url());
                Ca::create(&paths.dir, &cfg.ca, Some(&root_crl))?
            }
        }
    } else if import.is_some() {
        return Err(Error::Malformed(format!(
            "{} already holds a CA; import into an empty data directory",
            paths.dir.display()
        )));
    }
    let ca = Arc::new(Ca::load_with(&paths.dir, passphrase.as_deref())?);
    let secrets = Arc::new(Secrets::load_or_create(&paths.secret_key)?);
    let store = Arc::new(SledStore::open(&paths.store)?);

    let (tls_cert_pem, tls_key_pem) = match (&cfg.tls.cert_file, &cfg.tls.key_file) {
        (Some(c), Some(k)) => (std::fs::read(c)?, std::fs::read(k)?),
        _ => {
            if !paths.tls_cert.exists()
                || !paths.tls_key.exists()
                || server_cert_needs_renewal(&paths.tls_cert)
            {
                std::fs::create_dir_all(paths.tls_cert.parent().unwrap_or(&paths.dir))?;
                let (der, key) = ca.issue_server_cert(&server_names(cfg)?)?;
                let mut chain = pem_encode("CERTIFICATE", &der);
                chain.push_str(&pem_encode("CERTIFICATE", ca.issuing_der()));
                crate::secrets::write_secret_file(&paths.tls_key, key.serialize_pem().as_bytes())?;
                std::fs::write(&paths.tls_cert, chain)?;
            }
            (
                std::fs::read(&paths.tls_cert)?,
                std::fs::read(&paths.tls_key)?,
            )
        }
    };
    std::fs::write(&paths.ca_bundle, ca.bundle_pem())?;
    if !paths.admin_token.exists() {
        let token = tokens::create(
            &*store,
            &secrets,
            "bootstrap",
            &[tokens::Scope::Admin],
            now(),
            None,
        )?;
        crate::secrets::write_secret_file(&paths.admin_token, format!("{token}\n").as_bytes())?;
    }
    let audit = Arc::new(Checkpointer::open(
        paths.audit.clone(),
        store.clone() as Arc<dyn Store>,
    )?);
    store.flush()?;
    let ra = if cfg.scep.enabled && cfg.scep.ca_as_ra {
        Some(Arc::new(crate::ca::ra::Ra::from_ca(
            &paths.dir,
            passphrase.as_deref(),
        )?))
    } else if cfg.scep.enabled {
        Some(Arc::new(crate::ca::ra::Ra::load_or_create(
            &paths.dir,
            &ca,
            passphrase.as_deref(),
            cfg.scep.ra_validity_days,
            time::OffsetDateTime::now_utc(),
        )?))
    } else {
        None
    };
    Ok(Initialised {
        ra,
        ca,
        store,
        secrets,
        audit,
        tls_cert_pem,
        tls_key_pem,
        paths,
        created,
    })
}

/// Whether the generated server certificate expires within 30 days (or cannot be read).
fn server_cert_needs_renewal(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return true;
    };
    let Some(der) = crate::ca::pem_certs(&text)
        .ok()
        .and_then(|c| c.into_iter().next())
    else {
        return true;
    };
    match x509_parser::parse_x509_certificate(&der) {
        Ok((_, c)) => c.validity().not_after.timestamp() < now() + 30 * 86400,
        Err(_) => true,
    }
}

/// Names of the generated TLS server certificate.
fn server_names(cfg: &Config) -> Result<Vec<SanName>> {
    let mut names = vec![
        SanName::Dns("localhost".into()),
        SanName::Ip([127, 0, 0, 1].into()),
        SanName::Ip(std::net::Ipv6Addr::LOCALHOST.into()),
    ];
    let ip = cfg.listen.ip();
    if !ip.is_unspecified() && !ip.is_loopback() {
        names.push(SanName::Ip(ip));
    }
    for n in &cfg.tls.names {
        names.push(SanName::parse(n)?);
    }
    if let Some(url) = &cfg.public_base_url {
        if let Some(host) = url
            .split("://")
            .nth(1)
            .and_then(|r| r.split(['/', ':']).next())
        {
            if !host.is_empty() {
                names.push(SanName::parse(host)?);
            }
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// The start-up banner: where everything is.
pub fn banner(cfg: &Config, paths: &DataPaths) -> String {
    let base = cfg.base_url();
    let status = cfg.status_base_url();
    format!(
        "enrolld is ready\n  base URL:     {base}\n  EST:          {base}/.well-known/est/\n  admin API:    {base}/api/v1/\n  health:       {base}/healthz\n  CRL:          {status}/crl/issuing.crl\n  OCSP:         {status}/ocsp\n  CA bundle:    {}\n  admin token:  {}\n",
        paths.ca_bundle.display(),
        paths.admin_token.display()
    )
}

/// Signs a checkpoint of the audit log's head, on the blocking pool (it flushes the store).
async fn sign_checkpoint(audit: &Arc<Checkpointer>) -> Result<()> {
    let audit = audit.clone();
    tokio::task::spawn_blocking(move || audit.checkpoint(now()))
        .await
        .map_err(Error::internal)??;
    Ok(())
}

/// Serves on `listener` until `shutdown`, then flushes the store.
pub async fn run(
    cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    run_with_clock(cfg, listener, shutdown, crate::clock::system()).await
}

/// [`run`] with the clock the services read: tests pass a
/// [`crate::clock::ManualClock`] and move time instead of sleeping.
pub async fn run_with_clock(
    mut cfg: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    clock: crate::clock::SharedClock,
) -> Result<()> {
    // The real ports first: the CA created on first start names the root CRL URL.
    cfg.listen = listener.local_addr()?;
    let plain = match cfg.http_listen {
        Some(addr) => {
            let plain = TcpListener::bind(addr)
                .await
                .map_err(|e| Error::Internal(format!("cannot listen on {addr}: {e}")))?;
            cfg.http_listen = Some(plain.local_addr()?);
            Some(plain)
        }
        None => None,
    };
    // Configured files are read before the data directory is touched: a bad one stops here.
    let profile_signer = crate::registry::profile_signing::ProfileSigner::from_config(&cfg.scep)?;
    if profile_signer.is_some() {
        tracing::info!("Apple configuration profiles are signed (scep.profile_signing_cert)");
    }
    let init = initialise(&cfg, None)?;
    cfg.apply_status_defaults();
    http::set_per_ip_limit(cfg.limits.requests_per_ip_per_second);
    let cfg = Arc::new(cfg);
    let store: Arc<dyn Store> = init.store.clone();
    let acme_store: Arc<dyn crate::store::AcmeStore> = init.store.clone();
    let est = Arc::new(Est::new(
        init.ca.clone(),
        store.clone(),
        acme_store.clone(),
        cfg.clone(),
        init.secrets.clone(),
        clock.clone(),
    )?);
    let admin = Arc::new(Admin {
        store: store.clone(),
        secrets: init.secrets.clone(),
        cfg: cfg.clone(),
        clock: clock.clone(),
    });
    let acme = Arc::new(crate::acme::Acme::new(
        init.ca.clone(),
        store.clone(),
        acme_store,
        cfg.clone(),
        init.secrets.clone(),
        clock.clone(),
    )?);
    if cfg.acme.validation.is_test_mode() {
        tracing::warn!(
            validation = ?cfg.acme.validation,
            "ACME validation runs with TEST-ONLY settings (non-standard ports, private addresses or a chosen resolver); never use this in production"
        );
    }
    if std::env::var("ENROLLD_RATE_LIMIT").is_ok_and(|v| v == "off") {
        tracing::warn!("rate limits are OFF (ENROLLD_RATE_LIMIT=off)");
    }
    let mut anchors: Vec<Vec<u8>> = init.ca.chain().to_vec();
    anchors.extend(est.bootstrap_anchors());
    let tls = http::tls::server_config(&init.tls_cert_pem, &init.tls_key_pem, &anchors)?;
    let status = http::status::StatusState {
        status: Arc::new(crate::status::StatusService::new(
            init.ca.clone(),
            store.clone(),
            cfg.status.clone(),
            clock.clone(),
        )?),
        issuing_der: Arc::new(init.ca.issuing_der().to_vec()),
        root_der: Arc::new(init.ca.root_der().to_vec()),
        ocsp_limit: Arc::new(http::status::OcspLimit::new(
            cfg.status.ocsp_requests_per_ip_per_second,
        )),
    };
    let scep = match init.ra.clone() {
        Some(ra) => Some(Arc::new(
            crate::scep::Scep::new(
                init.ca.clone(),
                ra,
                store.clone(),
                cfg.clone(),
                init.secrets.clone(),
                status.status.clone(),
                est.throttle.clone(),
                clock.clone(),
            )
            .map_err(|e| Error::Internal(format!("configuration: {e}")))?,
        )),
        None => None,
    };
    let plain = match plain {
        Some(plain) => {
            tracing::info!(listen = %plain.local_addr()?, "plain-HTTP status listener (CRL, OCSP, CA certificates)");
            Some((
                plain,
                http::status_router(
                    status.clone(),
                    &cfg.limits,
                    scep.clone(),
                    init.ca.metrics().clone(),
                ),
            ))
        }
        None => None,
    };
    for (profile, field, url) in cfg.https_status_urls() {
        tracing::warn!(
            %profile,
            field,
            url,
            "certificates of this profile name an https status URL; relying parties fetch CRLs, OCSP and CA certificates over plain HTTP (Windows does not follow https CDP or AIA URLs): set http_listen, or an http URL"
        );
    }
    if cfg.public_base_url.is_none() && !cfg.listen.ip().is_loopback() {
        tracing::warn!(
            "public_base_url is not set: certificates name {} for CRL and OCSP; set it explicitly, these URLs must last as long as the certificates",
            cfg.status_base_url()
        );
    }
    // Mail (issue 16): off without [mail] relay. A template that does not render, or a
    // password or CA file that cannot be read, stops the start here.
    let mailer = crate::mail::Mailer::new(&cfg.mail, init.secrets.clone(), clock.clone())?;
    let relay = match &mailer {
        Some(_) => Some(crate::mail::transport::Relay::new(&cfg.mail)?),
        None => None,
    };
    let registry = Arc::new(crate::registry::service::Registry {
        store: store.clone(),
        secrets: init.secrets.clone(),
        cfg: cfg.clone(),
        acme_store: init.store.clone(),
        ca: init.ca.clone(),
        audit_signer: init.audit.clone(),
        clock: clock.clone(),
        profile_signer,
        mailer: mailer.clone(),
    });
    let gauges = Arc::new(crate::gauges::Gauges::new(
        store.clone(),
        status.status.clone(),
        clock.clone(),
        init.ca.metrics().clone(),
    ));
    // The console signs in over the registry's token check; failed sign-ins back off in the
    // EST throttle, shared like SCEP's.
    let console = Arc::new(crate::console::Console::new(
        registry.clone(),
        est.throttle.clone(),
        init.ca.metrics().clone(),
        gauges.clone(),
        status.status.clone(),
    ));
    let mail_tasks = match (mailer, relay) {
        (Some(mailer), Some(relay)) => {
            let outbox = Arc::new(crate::mail::outbox::Outbox {
                mailer: mailer.clone(),
                relay,
                store: store.clone(),
                registry: registry.clone(),
                metrics: init.ca.metrics().clone(),
            });
            let reminders = Arc::new(crate::mail::reminders::Reminders {
                mailer,
                registry: registry.clone(),
            });
            vec![outbox.spawn(), reminders.spawn()]
        }
        _ => Vec::new(),
    };
    let router = http::router(
        AppState {
            est,
            admin,
            acme,
            registry,
            metrics: init.ca.metrics().clone(),
            gauges,
            console,
        },
        status,
        &cfg.limits,
        scep,
    );
    // Webhooks (issue 4): the notifier tails the audit log until shutdown.
    let notifier = crate::notify::spawn(&cfg, store.clone())?;
    // Entries of an earlier run that ended without its shutdown checkpoint are signed now.
    sign_checkpoint(&init.audit).await?;
    let checkpoints = init.audit.clone().spawn(cfg.audit);
    println!("{}", banner(&cfg, &init.paths));
    tracing::info!(listen = %cfg.listen, "serving");
    // One shutdown for both listeners.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let https = http::tls::serve(
        listener,
        Some(tls),
        router,
        cfg.limits.clone(),
        stopped(stop_rx.clone()),
    );
    let status_http = async {
        match plain {
            Some((plain, router)) => {
                http::tls::serve(plain, None, router, cfg.limits.clone(), stopped(stop_rx)).await
            }
            None => Ok(()),
        }
    };
    let stop = async {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let (result, plain_result, ()) = tokio::join!(https, status_http, stop);
    let result = result.and(plain_result);
    if let Some(n) = notifier {
        n.abort();
    }
    checkpoints.abort();
    for t in mail_tasks {
        t.abort();
    }
    // Requests have finished: the last entries get their checkpoint.
    sign_checkpoint(&init.audit).await?;
    store.flush()?;
    tracing::info!("store flushed; bye");
    result
}
