//! RFC 7515 flattened JWS as RFC 8555 §6.2 uses it, verified with aws-lc-rs (the crypto
//! provider rustls already uses).
//!
//! Why not jose-jws: version 0.1 is serde types only (no verification) and its `url` header
//! field sits behind an undeclared feature, so ACME's `url` would be lost (docs/acme.md).
//!
//! A [`Jws`] that exists has parsed; [`Jws::verify`] checks the signature with a key.
//! Nonce and URL checks are the caller's (`acme::Acme::authenticate`), because they need state.

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{AcmeProblem, Error, Result};

/// The algorithms accepted (RFC 8555 §6.2: servers MUST support ES256 and SHOULD EdDSA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// ECDSA P-256 SHA-256, signature r‖s (RFC 7518 §3.4).
    Es256,
    /// ECDSA P-384 SHA-384, signature r‖s.
    Es384,
    /// RSASSA-PKCS1-v1_5 SHA-256, modulus ≥ 2048 bits.
    Rs256,
    /// Ed25519 (RFC 8037).
    EdDsa,
}

impl Alg {
    fn parse(s: &str) -> Result<Alg> {
        Ok(match s {
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "RS256" => Alg::Rs256,
            "EdDSA" => Alg::EdDsa,
            other => {
                return Err(Error::acme(
                    AcmeProblem::BadSignatureAlgorithm,
                    format!(
                        "algorithm {other:?} is not accepted; use ES256, ES384, RS256 or EdDSA"
                    ),
                ))
            }
        })
    }
}

/// A public JWK (RFC 7517) of a supported kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jwk {
    /// EC key; `crv` is P-256 or P-384; x and y are the raw coordinates.
    Ec {
        /// "P-256" or "P-384".
        crv: &'static str,
        /// X coordinate, big-endian, fixed size.
        x: Vec<u8>,
        /// Y coordinate.
        y: Vec<u8>,
    },
    /// RSA key: modulus and exponent, big-endian.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// Ed25519 key (RFC 8037 OKP).
    Ed25519 {
        /// The 32-byte public key.
        x: Vec<u8>,
    },
}

fn b64u(v: &Value, field: &str) -> Result<Vec<u8>> {
    let s = v
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| bad_key(&format!("JWK lacks {field}")))?;
    Base64UrlUnpadded::decode_vec(s).map_err(|_| bad_key(&format!("JWK {field} is not base64url")))
}

fn bad_key(m: &str) -> Error {
    Error::acme(AcmeProblem::BadPublicKey, m)
}

fn malformed(m: impl Into<String>) -> Error {
    Error::acme(AcmeProblem::Malformed, m)
}

impl Jwk {
    /// Parses a public JWK; private members are refused (a client leaking its key is a bug).
    pub fn from_json(v: &Value) -> Result<Jwk> {
        if !v.is_object() {
            return Err(bad_key("JWK must be an object"));
        }
        if v.get("d").is_some() {
            return Err(bad_key("JWK contains a private key"));
        }
        match v.get("kty").and_then(Value::as_str) {
            Some("EC") => {
                let (crv, len) = match v.get("crv").and_then(Value::as_str) {
                    Some("P-256") => ("P-256", 32),
                    Some("P-384") => ("P-384", 48),
                    _ => return Err(bad_key("EC keys must be on P-256 or P-384")),
                };
                let x = b64u(v, "x")?;
                let y = b64u(v, "y")?;
                if x.len() != len || y.len() != len {
                    return Err(bad_key("EC coordinates have the wrong length"));
                }
                let jwk = Jwk::Ec { crv, x, y };
                // Refuse points not on the curve now, not at first verification.
                let point = jwk.ec_point();
                let alg = if crv == "P-256" {
                    &signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED
                };
                aws_lc_rs::signature::ParsedPublicKey::new(alg, &point)
                    .map_err(|_| bad_key("EC point is not on the curve"))?;
                Ok(jwk)
            }
            Some("RSA") => {
                let n = strip_zeros(b64u(v, "n")?);
                let e = strip_zeros(b64u(v, "e")?);
                let bits = n
                    .first()
                    .map_or(0, |b| n.len() * 8 - b.leading_zeros() as usize);
                if !(2048..=8192).contains(&bits) {
                    return Err(bad_key("RSA keys must have 2048 to 8192 bits"));
                }
                if e.is_empty() || e.len() > 4 {
                    return Err(bad_key("RSA exponent is invalid"));
                }
                Ok(Jwk::Rsa { n, e })
            }
            Some("OKP") => {
                if v.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                    return Err(bad_key("OKP keys must be Ed25519"));
                }
                let x = b64u(v, "x")?;
                if x.len() != 32 {
                    return Err(bad_key("Ed25519 key must be 32 bytes"));
                }
                Ok(Jwk::Ed25519 { x })
            }
            _ => Err(bad_key("unsupported key type (kty)")),
        }
    }

    fn ec_point(&self) -> Vec<u8> {
        match self {
            Jwk::Ec { x, y, .. } => {
                let mut p = Vec::with_capacity(1 + x.len() + y.len());
                p.push(4);
                p.extend_from_slice(x);
                p.extend_from_slice(y);
                p
            }
            _ => Vec::new(),
        }
    }

    /// RFC 7638 canonical JSON: required members only, lexicographic order, no whitespace.
    pub fn canonical_json(&self) -> String {
        let e = |b: &[u8]| Base64UrlUnpadded::encode_string(b);
        match self {
            Jwk::Ec { crv, x, y } => format!(
                r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                e(x),
                e(y)
            ),
            Jwk::Rsa { n, e: exp } => {
                format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, e(exp), e(n))
            }
            Jwk::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, e(x)),
        }
    }

    /// The JWK as a JSON value (canonical members only).
    pub fn to_json(&self) -> Value {
        serde_json::from_str(&self.canonical_json()).unwrap_or(Value::Null)
    }

    /// RFC 7638 thumbprint: base64url(SHA-256(canonical JSON)).
    pub fn thumbprint(&self) -> String {
        let d =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.canonical_json().as_bytes());
        Base64UrlUnpadded::encode_string(d.as_ref())
    }

    /// Verifies `sig` over `msg` with this key under `alg`; the algorithm must fit the key.
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> Result<()> {
        let bad_sig = || malformed("JWS signature is invalid");
        match (self, alg) {
            (Jwk::Ec { crv: "P-256", .. }, Alg::Es256) => {
                if sig.len() != 64 {
                    return Err(bad_sig());
                }
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, self.ec_point())
                    .verify(msg, sig)
                    .map_err(|_| bad_sig())
            }
            (Jwk::Ec { crv: "P-384", .. }, Alg::Es384) => {
                if sig.len() != 96 {
                    return Err(bad_sig());
                }
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, self.ec_point())
                    .verify(msg, sig)
                    .map_err(|_| bad_sig())
            }
            (Jwk::Rsa { n, e }, Alg::Rs256) => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
                .map_err(|_| bad_sig()),
            (Jwk::Ed25519 { x }, Alg::EdDsa) => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(msg, sig)
                .map_err(|_| bad_sig()),
            _ => Err(Error::acme(
                AcmeProblem::BadSignatureAlgorithm,
                "the JWS algorithm does not match the key type",
            )),
        }
    }
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let first = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    v.drain(..first);
    v
}

/// The protected header members ACME uses (RFC 8555 §6.2).
#[derive(Debug, Clone)]
pub struct Protected {
    /// Signature algorithm.
    pub alg: Alg,
    /// Anti-replay nonce (absent only in EAB and keyChange inner JWS).
    pub nonce: Option<String>,
    /// The request URL the client signed.
    pub url: String,
    /// The key, for newAccount, revokeCert by certificate key and inner keyChange JWS.
    pub jwk: Option<Jwk>,
    /// The account URL, for everything else.
    pub kid: Option<String>,
}

/// A parsed (not yet verified) flattened JWS.
#[derive(Debug, Clone)]
pub struct Jws {
    /// Decoded protected header.
    pub protected: Protected,
    /// The raw protected header JSON (for EAB `alg` checks).
    pub protected_json: Value,
    /// Original base64url of the protected header (signing input).
    protected_b64: String,
    /// Original base64url of the payload (signing input).
    payload_b64: String,
    /// Decoded payload; empty for POST-as-GET.
    pub payload: Vec<u8>,
    /// Decoded signature.
    signature: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flattened {
    protected: String,
    payload: String,
    signature: String,
    #[serde(default)]
    header: Option<Value>,
}

/// Largest JWS accepted (a CSR for RSA 8192 with many names fits well).
pub const MAX_JWS_BYTES: usize = 64 * 1024;

impl Jws {
    /// Parses the flattened JSON serialization from a request body.
    pub fn parse(body: &[u8]) -> Result<Jws> {
        if body.len() > MAX_JWS_BYTES {
            return Err(malformed("JWS too large"));
        }
        let f: Flattened = serde_json::from_slice(body)
            .map_err(|_| malformed("body is not a flattened JWS (RFC 7515 §7.2.2)"))?;
        Self::from_parts(f)
    }

    /// Parses a JWS that is itself a JSON value (EAB, keyChange inner JWS).
    pub fn from_value(v: &Value) -> Result<Jws> {
        let f: Flattened = serde_json::from_value(v.clone())
            .map_err(|_| malformed("inner value is not a flattened JWS"))?;
        Self::from_parts(f)
    }

    fn from_parts(f: Flattened) -> Result<Jws> {
        if f.header.is_some() {
            return Err(malformed(
                "unprotected JWS header is not allowed (RFC 8555 §6.2)",
            ));
        }
        let dec = |s: &str, what: &str| {
            Base64UrlUnpadded::decode_vec(s)
                .map_err(|_| malformed(format!("JWS {what} is not base64url")))
        };
        let protected_bytes = dec(&f.protected, "protected header")?;
        let payload = dec(&f.payload, "payload")?;
        let signature = dec(&f.signature, "signature")?;
        let pj: Value = serde_json::from_slice(&protected_bytes)
            .map_err(|_| malformed("JWS protected header is not JSON"))?;
        if !pj.is_object() {
            return Err(malformed("JWS protected header is not an object"));
        }
        let alg = Alg::parse(pj.get("alg").and_then(Value::as_str).unwrap_or("none"))?;
        let url = pj
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("JWS protected header lacks url"))?
            .to_owned();
        let nonce = pj.get("nonce").and_then(Value::as_str).map(str::to_owned);
        let kid = pj.get("kid").and_then(Value::as_str).map(str::to_owned);
        let jwk = match pj.get("jwk") {
            Some(v) => Some(Jwk::from_json(v)?),
            None => None,
        };
        Ok(Jws {
            protected: Protected {
                alg,
                nonce,
                url,
                jwk,
                kid,
            },
            protected_json: pj,
            protected_b64: f.protected,
            payload_b64: f.payload,
            payload,
            signature,
        })
    }

    /// Verifies the signature with `key`.
    pub fn verify(&self, key: &Jwk) -> Result<()> {
        let input = format!("{}.{}", self.protected_b64, self.payload_b64);
        key.verify(self.protected.alg, input.as_bytes(), &self.signature)
    }

    /// Verifies an HS256 MAC (EAB, RFC 8555 §7.3.4) in constant time.
    pub fn verify_hs256(&self, mac_key: &[u8]) -> Result<()> {
        if self.protected_json.get("alg").and_then(Value::as_str) != Some("HS256") {
            return Err(Error::acme(
                AcmeProblem::BadSignatureAlgorithm,
                "external account binding must use HS256",
            ));
        }
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, mac_key);
        let input = format!("{}.{}", self.protected_b64, self.payload_b64);
        aws_lc_rs::hmac::verify(&key, input.as_bytes(), &self.signature).map_err(|_| {
            Error::acme(
                AcmeProblem::Unauthorized,
                "external account binding MAC is invalid",
            )
        })
    }

    /// Whether this is a POST-as-GET (empty payload, RFC 8555 §6.3).
    pub fn is_post_as_get(&self) -> bool {
        self.payload_b64.is_empty()
    }

    /// The payload as JSON (an empty payload is an error here).
    pub fn payload_json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| malformed(format!("invalid request payload: {e}")))
    }
}

/// EAB JWS headers carry `alg` HS256, which [`Jws::from_parts`] refuses for account keys;
/// this parses such a JWS without the algorithm allow-list.
pub fn parse_eab(v: &Value) -> Result<Jws> {
    let mut patched = v.clone();
    // Parse the header ourselves: the account-key allow-list does not apply to MACs.
    let protected = v
        .get("protected")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("externalAccountBinding is not a flattened JWS"))?;
    let header: Value = Base64UrlUnpadded::decode_vec(protected)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| malformed("externalAccountBinding header is not base64url JSON"))?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(Error::acme(
            AcmeProblem::BadSignatureAlgorithm,
            "external account binding must use HS256",
        ));
    }
    if header.get("nonce").is_some() {
        return Err(malformed("external account binding must not carry a nonce"));
    }
    let f: Flattened = serde_json::from_value(std::mem::take(&mut patched))
        .map_err(|_| malformed("externalAccountBinding is not a flattened JWS"))?;
    let dec =
        |s: &str| Base64UrlUnpadded::decode_vec(s).map_err(|_| malformed("EAB is not base64url"));
    let url = header
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("external account binding lacks url"))?
        .to_owned();
    Ok(Jws {
        protected: Protected {
            alg: Alg::Es256, // unused for MACs; verify_hs256 checks the header's alg
            nonce: None,
            url,
            jwk: None,
            kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
        },
        protected_json: header,
        payload: dec(&f.payload)?,
        signature: dec(&f.signature)?,
        protected_b64: f.protected,
        payload_b64: f.payload,
    })
}

#[cfg(test)]
#[path = "jws_tests.rs"]
mod tests;
