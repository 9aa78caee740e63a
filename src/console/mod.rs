//! The web console for administrators, without HTTP: sessions, CSRF tokens, the
//! message catalogues and the pages, over the same registry services as the admin API (the
//! [`Registry`], the token check of `registry::tokens`, the shared [`Metrics`] and
//! [`Gauges`]). `http::console` turns requests into calls here and the answers into responses.

pub mod audit_page;
pub mod charts;
pub mod eab_page;
pub mod html;
pub mod i18n;
pub mod import;
pub mod import_page;
pub mod manage;
pub mod pages;
pub mod people;
pub mod register_page;
pub mod session;
pub mod tokens_page;

use std::net::IpAddr;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::est::throttle::Throttle;
use crate::gauges::Gauges;
use crate::metrics::Metrics;
use crate::registry::service::Registry;
use crate::registry::tokens;
use crate::status::StatusService;
use i18n::Lang;
use session::{Session, Sessions};

/// The stylesheet, served at `/console/static/console.css`.
pub const CSS: &str = include_str!("console.css");
/// The console's one script, served at `/console/static/progress.js`: it follows a running
/// bulk import. Every page works without it.
pub const PROGRESS_JS: &str = include_str!("progress.js");

/// The console's services.
pub struct Console {
    /// Signed-in administrators.
    pub sessions: Sessions,
    /// Failed sign-ins back off like failed EST logins: the same tracker, keyed by
    /// (`console:<token id>`, client address).
    throttle: Arc<Throttle>,
    /// Tokens, audit log and everything the pages show.
    registry: Arc<Registry>,
    /// The counters `/metrics` renders: issuance by channel.
    metrics: Arc<Metrics>,
    /// The store gauges `/metrics` renders: certificates by status and expiry, approvals.
    gauges: Arc<Gauges>,
    /// The issuing CA's CRL times for the CA page.
    status: Arc<StatusService>,
    /// Bulk import: files waiting after their dry run, and the import jobs.
    pub imports: import::Imports,
}

impl Console {
    /// The console over the server's services.
    pub fn new(
        registry: Arc<Registry>,
        throttle: Arc<Throttle>,
        metrics: Arc<Metrics>,
        gauges: Arc<Gauges>,
        status: Arc<StatusService>,
    ) -> Self {
        Console {
            sessions: Sessions::new(registry.secrets.clone(), registry.clock.clone()),
            imports: import::Imports::new(registry.clock.clone()),
            throttle,
            registry,
            metrics,
            gauges,
            status,
        }
    }

    /// Exchanges an admin token for a session (id for the cookie, and the session); audited
    /// with the token as actor. Refused while (token id, address) backs off.
    /// Blocking (store reads, audit flush).
    pub fn sign_in(&self, token: &str, ip: IpAddr, lang: Lang) -> Result<(String, Session)> {
        let token = token.trim();
        let now = self.registry.clock.now();
        let key = format!(
            "console:{}",
            token.split_once('.').map_or(token, |(id, _)| id)
        );
        self.throttle.check(&key, ip, now)?;
        let rec =
            match tokens::authenticate(&*self.registry.store, &self.registry.secrets, token, now) {
                Ok(rec) => rec,
                Err(e) => {
                    self.throttle.failed(&key, ip, now);
                    return Err(e);
                }
            };
        self.throttle.succeeded(&key, ip);
        let (id, session) = self.sessions.create(&rec, lang)?;
        self.registry.audit(
            &session.actor(),
            "console.sign-in",
            &rec.id,
            "ok",
            &ip.to_string(),
        )?;
        Ok((id, session))
    }

    /// The live session with id `id`, if its token still exists and has not expired (a
    /// revoked token ends its sessions). Blocking (store read).
    pub fn session(&self, id: &str) -> Result<Option<Session>> {
        let Some(s) = self.sessions.touch(id) else {
            return Ok(None);
        };
        let now = self.registry.clock.now();
        let live = self
            .registry
            .store
            .get_admin_token(&s.token_id)?
            .is_some_and(|t| t.expires_at.is_none_or(|e| e > now));
        if !live {
            self.sessions.remove(id);
            return Ok(None);
        }
        Ok(Some(s))
    }

    /// Ends a session; audited with its token as actor. Blocking (audit flush).
    pub fn sign_out(&self, id: &str, ip: IpAddr) -> Result<()> {
        let s = self
            .sessions
            .remove(id)
            .ok_or_else(|| Error::Unauthenticated("no such session".into()))?;
        self.registry.audit(
            &s.actor(),
            "console.sign-out",
            &s.token_id,
            "ok",
            &ip.to_string(),
        )
    }

    /// The dashboard of `s`. Blocking (the gauges may scan the store).
    pub fn dashboard(&self, s: &Session) -> Result<String> {
        let snapshot = self.gauges.current()?;
        Ok(pages::dashboard(
            s.lang,
            s,
            &snapshot,
            &self.metrics.issued(),
            self.registry.mail_counts()?,
        ))
    }

    /// The CA page of `s`. Blocking (the CRL may be regenerated if due).
    pub fn ca(&self, s: &Session) -> Result<String> {
        let crl_times = match self.status.issuing_crl() {
            Ok(c) => Some((c.this_update, c.next_update)),
            Err(e) => {
                tracing::error!(error = %e, "console: the issuing CA's CRL could not be made");
                self.status
                    .last_issuing_crl()
                    .map(|c| (c.this_update, c.next_update))
            }
        };
        let info = pages::CaInfo {
            status_base: self.registry.cfg.status_base_url(),
            crl_times,
        };
        Ok(pages::ca(s.lang, s, &info))
    }
}
