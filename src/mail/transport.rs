//! The connection to the relay: lettre's SMTP client on tokio with rustls, configured from
//! `[mail]`, and what an attempt's failure means for the mail (try again later, or give up).

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailConfig, MailSecurity};
use crate::error::{Error, Result};

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The relay accepted the mail.
    Accepted,
    /// Try again later: a 4xx answer, no connection, a timeout, a TLS failure.
    Temporary(String),
    /// Give up: a 5xx answer (the relay will never take this mail).
    Permanent(String),
}

/// The relay.
#[derive(Clone)]
pub struct Relay {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `host:port`, for messages.
    name: String,
}

/// The SMTP AUTH password: the project's secret-file reader (no trailing newline; refused if
/// other users can read the file, or if it is empty or not UTF-8).
fn read_password(path: &std::path::Path) -> Result<String> {
    let raw = crate::config::scep_validation::read_secret_file("mail.password_file", path)
        .map_err(|e| Error::Malformed(e.to_string()))?;
    String::from_utf8(raw)
        .map_err(|_| Error::Malformed(format!("mail.password_file {}: not UTF-8", path.display())))
}

impl Relay {
    /// The relay `cfg` names (checked by `MailConfig::validate`); reads the password and CA
    /// files now, so a missing one stops the start.
    pub fn new(cfg: &MailConfig) -> Result<Relay> {
        let (host, port) = cfg
            .relay_host_port()
            .ok_or_else(|| Error::Malformed("mail.relay must be host:port".into()))?;
        let tls_params = || -> Result<TlsParameters> {
            let mut b = TlsParameters::builder(host.clone());
            if let Some(ca) = &cfg.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| Error::Malformed(format!("mail.ca_file {}: {e}", ca.display())))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| Error::Malformed(format!("mail.ca_file {}: {e}", ca.display())))?;
                b = b
                    .certificate_store(CertificateStore::None)
                    .add_root_certificate(cert);
            }
            b.build_rustls()
                .map_err(|e| Error::Malformed(format!("mail TLS settings: {e}")))
        };
        let tls = match cfg.security {
            MailSecurity::Starttls => Tls::Required(tls_params()?),
            MailSecurity::Tls => Tls::Wrapper(tls_params()?),
            MailSecurity::None => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(cfg.timeout_secs)));
        if let (Some(user), Some(file)) = (&cfg.username, &cfg.password_file) {
            b = b.credentials(Credentials::new(user.clone(), read_password(file)?));
        }
        Ok(Relay {
            transport: b.build(),
            name: format!("{host}:{port}"),
        })
    }

    /// `host:port`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends one message.
    pub async fn send(&self, msg: Message) -> Attempt {
        match self.transport.send(msg).await {
            Ok(_) => Attempt::Accepted,
            Err(e) if e.is_permanent() => Attempt::Permanent(describe(&e)),
            Err(e) => Attempt::Temporary(describe(&e)),
        }
    }

    /// Whether the relay answers now (connects and greets), for the start-up check.
    pub async fn reachable(&self) -> std::result::Result<(), String> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the relay did not accept the connection".into()),
            Err(e) => Err(describe(&e)),
        }
    }
}

/// The error in one line, with the relay's code when it answered.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut s = e.to_string().replace(['\r', '\n'], " ");
    if let Some(code) = e.status() {
        if !s.contains(&code.to_string()) {
            s = format!("{code} {s}");
        }
    }
    s.chars().take(500).collect()
}
