//! The `acme` workload: full RFC 8555 orders — newOrder → authorization → finalize →
//! certificate download — on identifiers an EAB key pre-authorises, one EAB-bound account per
//! client, CSRs generated beforehand. Every request is an ES256 JWS (RFC 7515 flattened).
//!
//! With `--http01-port`, names need proof instead: the driver answers http-01 (RFC 8555 §8.3)
//! itself, which also lets it drive other ACME servers (Pebble, Caddy's `acme_server`) for
//! comparison.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{json, Value};

use crate::client::{Http, OpError, Reply, Target};
use crate::http01::Challenges;
use crate::pki::{self, b64u};
use crate::{load, Drive};

/// ACME requests per order, each a JWS the server verifies (the floor's unit of work).
pub const JWS_PER_ORDER: u32 = 4;

/// How the workload talks to the server.
#[derive(clap::Args, Clone)]
pub struct Options {
    /// Path of the ACME directory on the server (Pebble: /dir; Caddy: /acme/<ca>/directory).
    #[arg(long, default_value = "/acme/directory")]
    pub directory: String,
    /// Create accounts without External Account Binding (servers without an admin API).
    #[arg(long)]
    pub no_eab: bool,
    /// Answer http-01 challenges on 127.0.0.1:PORT (names then need proof; with EAB, the keys
    /// allow them only after a challenge).
    #[arg(long)]
    pub http01_port: Option<u16>,
    /// Cycle through this many names per run instead of a fresh name per order (lets a server
    /// reuse valid authorizations).
    #[arg(long)]
    pub names: Option<usize>,
}

/// The directory URLs (RFC 8555 §7.1.1) the driver uses.
struct Directory {
    /// The server the URLs are on.
    target: Arc<Target>,
    /// Key authorizations served by the http-01 responder, when names need proof.
    challenges: Option<Challenges>,
    /// RFC 8555 §7.2: where a nonce comes from when no answer brought one.
    new_nonce: String,
    /// RFC 8555 §7.3.
    new_account: String,
    /// RFC 8555 §7.4.
    new_order: String,
}

/// An account: its key, its URL (`kid`) and the next nonce to spend.
struct Account {
    /// The account key (ES256).
    key: EcdsaKeyPair,
    /// The account URL, the `kid` of every request.
    kid: String,
    /// The `Replay-Nonce` of the last answer, spent by the next request (RFC 8555 §6.5).
    nonce: Option<String>,
    /// RFC 7638 thumbprint of the key, for key authorizations (RFC 8555 §8.1).
    thumbprint: String,
}

/// RFC 7638: SHA-256 over the required members in lexical order, no whitespace.
fn thumbprint(jwk: &Value) -> String {
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
        jwk["x"], jwk["y"]
    );
    b64u(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref())
}

fn jwk(key: &EcdsaKeyPair) -> Value {
    let p = key.public_key().as_ref(); // 0x04 ‖ x ‖ y
    json!({"crv": "P-256", "kty": "EC", "x": b64u(&p[1..33]), "y": b64u(&p[33..65])})
}

/// A flattened JWS over `payload` (`None`: POST-as-GET, RFC 8555 §6.3).
fn jws(key: &EcdsaKeyPair, protected: &Value, payload: Option<&Value>) -> Result<Vec<u8>, OpError> {
    let p = b64u(protected.to_string().as_bytes());
    let body = payload.map_or_else(String::new, |v| b64u(v.to_string().as_bytes()));
    let sig = key
        .sign(&SystemRandom::new(), format!("{p}.{body}").as_bytes())
        .map_err(|_| OpError::Protocol("jws", "signing failed".into()))?;
    Ok(
        json!({"protected": p, "payload": body, "signature": b64u(sig.as_ref())})
            .to_string()
            .into_bytes(),
    )
}

fn problem_type(r: &Reply) -> String {
    serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Account {
    /// Signs and POSTs `payload` to `url` with this account's `kid`; keeps the answer's nonce.
    async fn post(
        &mut self,
        http: &mut Http,
        dir: &Directory,
        step: &'static str,
        url: &str,
        payload: Option<&Value>,
        want: u16,
    ) -> Result<Reply, OpError> {
        let nonce = match self.nonce.take() {
            Some(n) => n,
            None => fresh_nonce(http, dir).await?,
        };
        let protected = json!({"alg": "ES256", "kid": self.kid, "nonce": nonce, "url": url});
        let body = jws(&self.key, &protected, payload)?;
        let r = http
            .post(dir.target.path_of(url), "application/jose+json", &[], body)
            .await?;
        self.nonce = r.header("replay-nonce").map(str::to_owned);
        if r.status.as_u16() != want {
            let kind = problem_type(&r);
            if let Some(short) = kind.strip_prefix("urn:ietf:params:acme:error:") {
                return Err(OpError::Protocol(
                    step,
                    format!("{short} (HTTP {})", r.status.as_u16()),
                ));
            }
        }
        r.expect(step, want)
    }
}

async fn fresh_nonce(http: &mut Http, dir: &Directory) -> Result<String, OpError> {
    let r = http.get(dir.target.path_of(&dir.new_nonce), &[]).await?;
    r.header("replay-nonce")
        .map(str::to_owned)
        .ok_or_else(|| OpError::Protocol("new-nonce", "no Replay-Nonce".into()))
}

/// Creates an account; with `eab = Some((admin token, suffix))`, first an EAB key allowing
/// `*.{suffix}` (after a challenge when the directory answers challenges) and binds to it.
async fn new_account(
    http: &mut Http,
    dir: &Directory,
    eab: Option<(&str, &str)>,
) -> Result<Account, OpError> {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| OpError::Protocol("account-key", "key generation failed".into()))?;
    let jwk = jwk(&key);
    let payload = match eab {
        Some((admin_token, suffix)) => eab_payload(http, dir, admin_token, suffix, &jwk).await?,
        None => json!({"termsOfServiceAgreed": true}),
    };
    let nonce = fresh_nonce(http, dir).await?;
    let protected = json!({"alg": "ES256", "jwk": jwk, "nonce": nonce, "url": dir.new_account});
    let r = http
        .post(
            dir.target.path_of(&dir.new_account),
            "application/jose+json",
            &[],
            jws(&key, &protected, Some(&payload))?,
        )
        .await?
        .expect("new-account", 201)?;
    let kid = r
        .header("location")
        .ok_or_else(|| OpError::Protocol("new-account", "no Location".into()))?
        .to_owned();
    Ok(Account {
        nonce: r.header("replay-nonce").map(str::to_owned),
        key,
        kid,
        thumbprint: thumbprint(&jwk),
    })
}

/// The newAccount payload with an externalAccountBinding to a fresh EAB key (admin API).
async fn eab_payload(
    http: &mut Http,
    dir: &Directory,
    admin_token: &str,
    suffix: &str,
    jwk: &Value,
) -> Result<Value, OpError> {
    let bearer = format!("Bearer {admin_token}");
    let challenge = dir.challenges.is_some();
    let body = json!({"allowed_identifiers": [
        {"type": "dns", "value": format!("*.{suffix}"), "challenge": challenge}
    ]});
    let r = http
        .post(
            "/api/v1/acme/eab",
            "application/json",
            &[("authorization", &bearer)],
            body.to_string(),
        )
        .await?
        .expect("create-eab", 201)?;
    let v: Value = serde_json::from_slice(&r.body)
        .map_err(|e| OpError::Protocol("create-eab", e.to_string()))?;
    let kid = v["kid"].as_str().unwrap_or_default().to_owned();
    let mac = Base64UrlUnpadded::decode_vec(v["hmac_key"].as_str().unwrap_or_default())
        .map_err(|_| OpError::Protocol("create-eab", "hmac_key is not base64url".into()))?;
    // RFC 8555 §7.3.4: an HS256 JWS over the account key, by the EAB key.
    let eab_protected = b64u(
        json!({"alg": "HS256", "kid": kid, "url": dir.new_account})
            .to_string()
            .as_bytes(),
    );
    let eab_payload = b64u(jwk.to_string().as_bytes());
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &mac),
        format!("{eab_protected}.{eab_payload}").as_bytes(),
    );
    Ok(json!({
        "termsOfServiceAgreed": true,
        "externalAccountBinding": {
            "protected": eab_protected, "payload": eab_payload, "signature": b64u(tag.as_ref())
        }
    }))
}

fn field<'a>(v: &'a Value, step: &'static str, name: &str) -> Result<&'a str, OpError> {
    v[name]
        .as_str()
        .ok_or_else(|| OpError::Protocol(step, format!("no {name} in {v}")))
}

fn json_of(r: &Reply, step: &'static str) -> Result<Value, OpError> {
    serde_json::from_slice(&r.body).map_err(|e| OpError::Protocol(step, e.to_string()))
}

/// One full order for `name` with the prepared `csr` (DER).
async fn order(
    http: &mut Http,
    dir: &Directory,
    acct: &mut Account,
    name: &str,
    csr: &[u8],
) -> Result<(), OpError> {
    let payload = json!({"identifiers": [{"type": "dns", "value": name}]});
    let r = acct
        .post(http, dir, "new-order", &dir.new_order, Some(&payload), 201)
        .await?;
    let order_url = r
        .header("location")
        .ok_or_else(|| OpError::Protocol("new-order", "no Location".into()))?
        .to_owned();
    let o = json_of(&r, "new-order")?;
    let authz_url = o["authorizations"][0]
        .as_str()
        .ok_or_else(|| OpError::Protocol("new-order", "no authorization".into()))?
        .to_owned();
    let finalize_url = field(&o, "new-order", "finalize")?.to_owned();

    let a = acct.post(http, dir, "authz", &authz_url, None, 200).await?;
    let a = json_of(&a, "authz")?;
    if a["status"] != "valid" {
        match &dir.challenges {
            Some(ch) if a["status"] == "pending" => {
                prove(http, dir, acct, ch, &authz_url, &a).await?;
            }
            _ => {
                return Err(OpError::Protocol(
                    "authz",
                    format!("status {} (not pre-authorised)", a["status"]),
                ))
            }
        }
    }

    let payload = json!({"csr": b64u(csr)});
    let f = acct
        .post(http, dir, "finalize", &finalize_url, Some(&payload), 200)
        .await?;
    let mut o = json_of(&f, "finalize")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while o["status"] == "processing" {
        if Instant::now() > deadline {
            return Err(OpError::Protocol("finalize", "still processing".into()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        let r = acct
            .post(http, dir, "poll-order", &order_url, None, 200)
            .await?;
        o = json_of(&r, "poll-order")?;
    }
    if o["status"] != "valid" {
        return Err(OpError::Protocol(
            "finalize",
            format!("order status {}", o["status"]),
        ));
    }
    let cert_url = field(&o, "finalize", "certificate")?.to_owned();
    let c = acct
        .post(http, dir, "certificate", &cert_url, None, 200)
        .await?;
    if !c.body.starts_with(b"-----BEGIN CERTIFICATE-----") {
        return Err(OpError::Protocol("certificate", "not a PEM chain".into()));
    }
    Ok(())
}

/// Answers the authorization's http-01 challenge and waits until the server decided.
async fn prove(
    http: &mut Http,
    dir: &Directory,
    acct: &mut Account,
    challenges: &Challenges,
    authz_url: &str,
    authz: &Value,
) -> Result<(), OpError> {
    let ch = authz["challenges"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "http-01"))
        .ok_or_else(|| OpError::Protocol("authz", "no http-01 challenge".into()))?;
    let token = field(ch, "authz", "token")?.to_owned();
    let url = field(ch, "authz", "url")?.to_owned();
    challenges.put(&token, format!("{token}.{}", acct.thumbprint));
    let result = async {
        acct.post(http, dir, "challenge", &url, Some(&json!({})), 200)
            .await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let r = acct
                .post(http, dir, "poll-authz", authz_url, None, 200)
                .await?;
            let a = json_of(&r, "poll-authz")?;
            match a["status"].as_str() {
                Some("valid") => return Ok(()),
                Some("pending") if Instant::now() < deadline => continue,
                other => {
                    return Err(OpError::Protocol(
                        "challenge",
                        format!("authorization {other:?}"),
                    ))
                }
            }
        }
    }
    .await;
    challenges.remove(&token);
    result
}

/// Runs the workload and returns its report.
pub async fn run(d: &Drive, target: Arc<Target>, opts: Options) -> Result<Value, String> {
    let token = if opts.no_eab {
        String::new()
    } else {
        d.admin_token()?
    };
    let challenges = match opts.http01_port {
        Some(port) => {
            let c = Challenges::default();
            crate::http01::serve(port, c.clone()).await?;
            Some(c)
        }
        None => None,
    };
    let t = Instant::now();
    let mut h = Http::new(target.clone());
    let r = h
        .get(&opts.directory, &[])
        .await
        .and_then(|r| r.expect("directory", 200))
        .map_err(|e| e.detail())?;
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
    let url = |k: &str| {
        v[k].as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("directory lacks {k}"))
    };
    let dir = Arc::new(Directory {
        target: target.clone(),
        challenges,
        new_nonce: url("newNonce")?,
        new_account: url("newAccount")?,
        new_order: url("newOrder")?,
    });
    let suffix = format!("{}.bench.example", d.tag());
    let accounts = {
        let (dir, token, suffix) = (dir.clone(), token.clone(), suffix.clone());
        let eab = !opts.no_eab;
        load::setup(
            &target,
            d.concurrency.min(16),
            d.concurrency,
            move |_, mut h| {
                let (dir, token, suffix) = (dir.clone(), token.clone(), suffix.clone());
                async move {
                    let eab = eab.then_some((token.as_str(), suffix.as_str()));
                    let r = new_account(&mut h, &dir, eab).await;
                    (h, r.map(|a| std::sync::Mutex::new(Some(a))))
                }
            },
        )
        .await?
    };
    let pool = d.pool.unwrap_or((d.seconds * 800.0) as usize + 200);
    let names: Vec<String> = (0..pool)
        .map(|i| format!("d{}.{suffix}", opts.names.map_or(i, |k| i % k.max(1))))
        .collect();
    let csrs = {
        let names = names.clone();
        tokio::task::spawn_blocking(move || {
            pki::p256_csrs(names.into_iter().map(|n| vec![n]).collect())
        })
        .await
        .map_err(|e| e.to_string())??
    };
    let prepared: Arc<Vec<(String, Vec<u8>)>> = Arc::new(names.into_iter().zip(csrs).collect());
    let setup_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "acme: {} accounts and {pool} CSRs prepared in {setup_secs:.1} s",
        d.concurrency
    );
    let accounts = Arc::new(accounts);
    let next = Arc::new(AtomicUsize::new(0));
    let extra = json!({
        "pool": pool,
        "setup_seconds": load::round(setup_secs, 2),
        "jws_requests_per_order": JWS_PER_ORDER,
        "eab": !opts.no_eab,
        "authorisation": if opts.http01_port.is_some() { "http-01" } else { "pre-authorised" },
        "distinct_names": opts.names,
    });
    Ok(load::run(
        "acme-order",
        &target,
        d.concurrency,
        d.seconds,
        d.server_pid.as_deref(),
        extra,
        move |i, mut http, mut rec| {
            let (prepared, next, accounts, dir) = (
                prepared.clone(),
                next.clone(),
                accounts.clone(),
                dir.clone(),
            );
            async move {
                let acct = accounts
                    .get(i)
                    .and_then(|m| m.lock().ok().and_then(|mut a| a.take()));
                let Some(mut acct) = acct else {
                    rec.exhausted = true;
                    return (http, rec);
                };
                while rec.running() {
                    let Some((name, csr)) = prepared.get(next.fetch_add(1, Ordering::Relaxed))
                    else {
                        rec.exhausted = true;
                        break;
                    };
                    let start = Instant::now();
                    let r = order(&mut http, &dir, &mut acct, name, csr).await;
                    rec.record(start, r);
                }
                (http, rec)
            }
        },
    )
    .await)
}
