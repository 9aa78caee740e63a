//! Console sessions: an admin token, checked once at sign-in, is exchanged for a random session
//! id that travels in a cookie. The server keeps only a keyed hash of the id (a copy of the
//! map, a log line or a core dump does not hand out sessions), the token's id, name and scopes,
//! a CSRF token for the session's forms, the chosen language and two expiries read from the
//! injected clock: idle and absolute.
//!
//! Sessions live in this process's memory: a restart signs everyone out, and several nodes
//! behind one name need the shared store (issue 17) before a session works on all of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::i18n::Lang;
use crate::clock::SharedClock;
use crate::error::Result;
use crate::registry::tokens::Scope;
use crate::secrets::{random_token, Secrets};
use crate::store::AdminTokenRecord;

/// The cookie that carries the session id.
pub const COOKIE: &str = "enrolld_console";
/// The cookie that carries the sign-in form's CSRF token (there is no session yet): the form's
/// hidden field must repeat it, so another site cannot sign a browser in with its own token.
pub const SIGN_IN_COOKIE: &str = "enrolld_console_signin";
/// A session unused this long (seconds) has ended.
pub const IDLE_SECS: i64 = 30 * 60;
/// A session ends this long (seconds) after sign-in, however busy.
pub const ABSOLUTE_SECS: i64 = 12 * 3600;
/// Random bytes in a session id and in a CSRF token (256 bits).
const ID_BYTES: usize = 32;
/// Most sessions kept at once; past it, ended ones are dropped, then the oldest.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in administrator.
#[derive(Debug, Clone)]
pub struct Session {
    /// The admin token's id: the audit log's actor is `token:<id>`.
    pub token_id: String,
    /// The token's name, shown in the header so the reader knows which token they hold.
    pub token_name: String,
    /// What the token may do: decides what the pages show and allow.
    pub scopes: Vec<Scope>,
    /// Sign-in time, unix seconds: the absolute expiry counts from it.
    pub created_at: i64,
    /// Last request, unix seconds: the idle expiry counts from it.
    pub last_seen: i64,
    /// The session's CSRF token: every form carries it in a hidden field.
    pub csrf: String,
    /// The language the reader chose (at sign-in from `Accept-Language`, then the switcher).
    pub lang: Lang,
}

impl Session {
    /// Whether the token carries `scope` (or `admin`, which carries every scope).
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|s| *s == scope || *s == Scope::Admin)
    }

    /// The audit log's actor for this session's actions.
    pub fn actor(&self) -> String {
        format!("token:{}", self.token_id)
    }

    /// Whether a form's CSRF field is this session's token, compared in constant time.
    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| same_secret(p, &self.csrf))
    }

    /// Whether the session has ended at `now`.
    fn ended(&self, now: i64) -> bool {
        now - self.last_seen >= IDLE_SECS || now - self.created_at >= ABSOLUTE_SECS
    }
}

/// Whether two secrets are equal and not empty, compared in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    !a.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// A new random CSRF token for the sign-in form (256 bits).
pub fn new_sign_in_token() -> Result<String> {
    random_token(ID_BYTES)
}

/// The sessions of this process.
pub struct Sessions {
    /// Keys the hashes of session ids.
    secrets: Arc<Secrets>,
    /// Expiry reads this clock.
    clock: SharedClock,
    /// Keyed hash of the session id → session.
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// No sessions yet.
    pub fn new(secrets: Arc<Secrets>, clock: SharedClock) -> Self {
        Sessions {
            secrets,
            clock,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The map key of a session id: its keyed hash, domain-separated from other secrets.
    fn key(&self, id: &str) -> String {
        self.secrets.hash(&format!("console-session:{id}"))
    }

    /// Starts a session for an authenticated token; returns the session id (for the cookie,
    /// never stored) and the session.
    pub fn create(&self, token: &AdminTokenRecord, lang: Lang) -> Result<(String, Session)> {
        let now = self.clock.now();
        let id = random_token(ID_BYTES)?;
        let session = Session {
            token_id: token.id.clone(),
            token_name: token.name.clone(),
            scopes: token
                .scopes
                .iter()
                .filter_map(|s| Scope::from_name(s))
                .collect(),
            created_at: now,
            last_seen: now,
            csrf: random_token(ID_BYTES)?,
            lang,
        };
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| !s.ended(now));
            if map.len() >= MAX_SESSIONS {
                if let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, s)| s.last_seen)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(self.key(&id), session.clone());
        Ok((id, session))
    }

    /// The live session with id `id`, its idle timer restarted; an ended one is dropped.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = self.clock.now();
        let key = self.key(id);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let s = map.get_mut(&key)?;
        if s.ended(now) {
            map.remove(&key);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Sets the session's language.
    pub fn set_lang(&self, id: &str, lang: Lang) {
        let key = self.key(id);
        if let Some(s) = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&key)
        {
            s.lang = lang;
        }
    }

    /// Ends the session; returns it if it existed.
    pub fn remove(&self, id: &str) -> Option<Session> {
        let key = self.key(id);
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key)
    }

    /// Whether any stored key equals `s` (tests: ids are not stored in the clear).
    #[cfg(test)]
    fn holds_key(&self, s: &str) -> bool {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(s)
    }
}

/// A session of a token with `scopes`, for the unit tests of the pages.
#[cfg(test)]
pub fn test_session(scopes: &[Scope]) -> Session {
    Session {
        token_id: "tid".into(),
        token_name: "ops".into(),
        scopes: scopes.to_vec(),
        created_at: 0,
        last_seen: 0,
        csrf: "csrf-token-of-the-session".into(),
        lang: Lang::En,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn token(scopes: &[&str]) -> AdminTokenRecord {
        AdminTokenRecord {
            version: 1,
            id: "tid".into(),
            secret_hash: String::new(),
            name: "ops".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            created_at: 0,
            expires_at: None,
        }
    }

    fn sessions() -> (Arc<ManualClock>, Sessions) {
        let clock = Arc::new(ManualClock::at(1_000_000));
        let s = Sessions::new(Arc::new(Secrets::from_bytes(&[1; 32])), clock.clone());
        (clock, s)
    }

    #[test]
    fn ids_are_random_and_stored_only_as_keyed_hashes() {
        let (_, s) = sessions();
        let (a, sa) = s.create(&token(&["read"]), Lang::En).unwrap();
        let (b, _) = s.create(&token(&["read"]), Lang::En).unwrap();
        assert_ne!(a, b);
        assert!(a.len() >= 43, "{a}");
        assert!(!s.holds_key(&a));
        assert!(s.holds_key(&s.key(&a)));
        assert_ne!(sa.csrf, a);
        assert!(s.touch(&a).is_some());
        assert!(s.touch("not-a-session").is_none());
    }

    #[test]
    fn idle_expiry_restarts_on_use_and_absolute_expiry_does_not() {
        let (clock, s) = sessions();
        let (id, _) = s.create(&token(&["read"]), Lang::En).unwrap();
        // Used every 29 minutes, the session lives until the absolute expiry.
        let mut used = 0;
        while used + IDLE_SECS - 60 < ABSOLUTE_SECS {
            clock.advance(IDLE_SECS - 60);
            used += IDLE_SECS - 60;
            assert!(s.touch(&id).is_some(), "ended after {used} s");
        }
        clock.advance(ABSOLUTE_SECS - used);
        assert!(s.touch(&id).is_none());
        // Left alone, a session ends after the idle time.
        let (id, _) = s.create(&token(&["read"]), Lang::En).unwrap();
        clock.advance(IDLE_SECS - 1);
        assert!(s.touch(&id).is_some());
        clock.advance(IDLE_SECS);
        assert!(s.touch(&id).is_none());
        // Once ended, always ended.
        clock.advance(-IDLE_SECS);
        assert!(s.touch(&id).is_none());
    }

    #[test]
    fn csrf_scopes_language_and_sign_out() {
        let (_, s) = sessions();
        let (id, sess) = s.create(&token(&["read", "bogus"]), Lang::Ja).unwrap();
        assert!(sess.csrf_ok(Some(&sess.csrf.clone())));
        assert!(!sess.csrf_ok(None));
        assert!(!sess.csrf_ok(Some("")));
        assert!(!sess.csrf_ok(Some(&format!("{}x", sess.csrf))));
        assert_eq!(sess.scopes, vec![Scope::Read]);
        assert!(sess.may(Scope::Read) && !sess.may(Scope::Revoke));
        let (_, admin) = s.create(&token(&["admin"]), Lang::Ja).unwrap();
        assert!(admin.may(Scope::Revoke));
        s.set_lang(&id, Lang::En);
        assert_eq!(s.touch(&id).unwrap().lang, Lang::En);
        assert_eq!(s.remove(&id).unwrap().token_id, "tid");
        assert!(s.touch(&id).is_none());
        assert!(s.remove(&id).is_none());
    }
}
