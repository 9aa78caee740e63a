//! Admin API bearer tokens: `<id>.<secret>`, looked up by id, secret compared in constant time;
//! the registry operations that create, list and revoke them.

use serde_json::{json, Value};

use super::service::Registry;
use crate::error::{Error, Result};
use crate::secrets::{random_token, Secrets};
use crate::store::{AdminTokenRecord, Store};

/// What an admin token may do. The one list of scopes: the route table of the admin API
/// names one per route, tokens carry them, and they are stored and shown under these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read certificates, subjects, approvals and the audit log.
    Read,
    /// Register people and devices.
    Register,
    /// Create enrolment credentials, EAB keys and pickup links; decide approvals.
    Issue,
    /// Revoke certificates; change a subject's status (holds, off-boarding).
    Revoke,
    /// Everything, including tokens and backups.
    Admin,
}

impl Scope {
    /// Every scope, in the order the API documents them.
    pub const ALL: [Scope; 5] = [
        Scope::Read,
        Scope::Register,
        Scope::Issue,
        Scope::Revoke,
        Scope::Admin,
    ];

    /// The scope's name, as tokens carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Register => "register",
            Scope::Issue => "issue",
            Scope::Revoke => "revoke",
            Scope::Admin => "admin",
        }
    }

    /// The scope named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Creates a token with `scopes` and returns its text (shown once).
pub fn create(
    store: &dyn Store,
    secrets: &Secrets,
    name: &str,
    scopes: &[Scope],
    now: i64,
    expires_at: Option<i64>,
) -> Result<String> {
    let id = crate::secrets::random_id_token(9)?;
    let secret = random_token(32)?;
    store.put_admin_token(&AdminTokenRecord {
        version: 1,
        id: id.clone(),
        secret_hash: secrets.hash(&secret),
        name: name.to_owned(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at: now,
        expires_at,
    })?;
    store.flush()?;
    Ok(format!("{id}.{secret}"))
}

/// Checks a bearer token and that it carries `scope` (or `admin`).
pub fn authorize(
    store: &dyn Store,
    secrets: &Secrets,
    token: &str,
    scope: Scope,
    now: i64,
) -> Result<AdminTokenRecord> {
    let rec = authenticate(store, secrets, token, now)?;
    if !rec
        .scopes
        .iter()
        .any(|s| s == scope.as_str() || s == Scope::Admin.as_str())
    {
        return Err(Error::NotPermitted(format!("token lacks scope {scope}")));
    }
    Ok(rec)
}

/// Checks a token (`<id>.<secret>`: known id, secret compared in constant time, not expired)
/// whatever its scopes: the console's sign-in, which then shows what the scopes allow.
pub fn authenticate(
    store: &dyn Store,
    secrets: &Secrets,
    token: &str,
    now: i64,
) -> Result<AdminTokenRecord> {
    let fail = || Error::Unauthenticated("invalid or expired admin token".into());
    let (id, secret) = token.split_once('.').ok_or_else(fail)?;
    if id.len() > 64 || secret.len() > 128 {
        return Err(fail());
    }
    let rec = store.get_admin_token(id)?.ok_or_else(fail)?;
    if !secrets.verify(secret, &rec.secret_hash) {
        return Err(fail());
    }
    if rec.expires_at.is_some_and(|e| e <= now) {
        return Err(fail());
    }
    Ok(rec)
}

impl Registry {
    /// Creates an admin token.
    pub fn create_token(
        &self,
        actor: &str,
        name: &str,
        scopes: &[String],
        expires_in: Option<u64>,
    ) -> Result<Value> {
        let parsed: Option<Vec<Scope>> = scopes.iter().map(|s| Scope::from_name(s)).collect();
        let Some(parsed) = parsed.filter(|p| !p.is_empty()) else {
            let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            return Err(Error::Malformed(format!(
                "scopes must be among {}",
                names.join(", ")
            )));
        };
        if name.is_empty() || name.len() > 128 {
            return Err(Error::Malformed("name must be 1 to 128 characters".into()));
        }
        let t = self.clock.now();
        let expires_at = expires_in.map(|e| t.saturating_add(e.min(10 * 366 * 86400) as i64));
        let token = create(&*self.store, &self.secrets, name, &parsed, t, expires_at)?;
        let id = token.split('.').next().unwrap_or_default().to_owned();
        self.audit(actor, "token.create", &id, "ok", &scopes.join(","))?;
        Ok(json!({"id": id, "token": token, "scopes": scopes, "expires_at": expires_at}))
    }

    /// Lists tokens (never their secrets).
    pub fn list_tokens(&self) -> Result<Value> {
        let list: Vec<Value> = self
            .store
            .list_admin_tokens()?
            .into_iter()
            .map(|t| json!({"id": t.id, "name": t.name, "scopes": t.scopes, "created_at": t.created_at, "expires_at": t.expires_at}))
            .collect();
        Ok(json!({"tokens": list}))
    }

    /// Revokes a token.
    pub fn delete_token(&self, actor: &str, id: &str) -> Result<()> {
        if !self.store.delete_admin_token(id)? {
            return Err(Error::NotFound("no such token".into()));
        }
        self.audit(actor, "token.revoke", id, "ok", "")?;
        Ok(())
    }
}
