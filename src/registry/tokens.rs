//! Admin API bearer tokens: `<id>.<secret>`, looked up by id, secret compared in constant time.

use crate::error::{Error, Result};
use crate::secrets::{random_token, Secrets};
use crate::store::{AdminTokenRecord, Store};

/// Creates a token with `scopes` and returns its text (shown once).
pub fn create(
    store: &dyn Store,
    secrets: &Secrets,
    name: &str,
    scopes: &[&str],
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
    scope: &str,
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
    if !rec.scopes.iter().any(|s| s == scope || s == "admin") {
        return Err(Error::NotPermitted(format!("token lacks scope {scope}")));
    }
    Ok(rec)
}
