//! Apple configuration profiles (`.mobileconfig`, Apple's Configuration Profile Reference):
//! an XML property list that an MDM pushes or a person installs, so that an Apple device
//! enrols over SCEP with a one-time registry challenge and trusts the CA.
//!
//! The profile holds a `com.apple.security.scep` payload (URL, challenge, subject and names
//! from the registry, RSA key size and usage, the SHA-1 fingerprint of the CA certificate
//! GetCACert ends with), a `com.apple.security.root` payload with the root certificate and a
//! `com.apple.security.pkcs1` payload for each CA certificate below it. When `[scep]`
//! configures a signer (`profile_signing.rs`), the plist is the content of a CMS SignedData.

use aws_lc_rs::digest;
use base64ct::{Base64, Encoding};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::service::{NewSubjectCredential, Registry};
use crate::ca::profile::SanName;
use crate::ca::KeyType;
use crate::error::{Error, Result};
use crate::ids::ProfileName;

/// The media type of a configuration profile, signed or not (Safari and Apple Configurator
/// offer to install what comes with it).
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// `Key Usage` of the SCEP payload: 1 (signing) + 4 (encryption).
const KEY_USAGE_SIGN_AND_ENCRYPT: i64 = 5;
/// `Retries`: how often the device polls after a PENDING answer (an approval).
const RETRIES: i64 = 3;
/// `RetryDelay`: seconds between two polls.
const RETRY_DELAY_SECS: i64 = 10;

/// A property-list value: the types a profile uses.
#[derive(Debug)]
enum Value {
    /// `<string>`, escaped when written.
    Str(String),
    /// `<integer>`.
    Int(i64),
    /// `<true/>` or `<false/>`.
    Bool(bool),
    /// `<data>`: base64.
    Data(Vec<u8>),
    /// `<array>`.
    Array(Vec<Value>),
    /// `<dict>`, keys in the order given.
    Dict(Vec<(&'static str, Value)>),
}

/// Escapes text for XML character data: `&`, `<`, `>` (and quotes, harmlessly), and replaces
/// the characters XML 1.0 cannot carry at all (C0 controls but tab, LF and CR; U+FFFE,
/// U+FFFF) with U+FFFD.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn write_value(v: &Value, depth: usize, out: &mut String) {
    let pad = "\t".repeat(depth);
    match v {
        Value::Str(s) => out.push_str(&format!("{pad}<string>{}</string>\n", escape(s))),
        Value::Int(i) => out.push_str(&format!("{pad}<integer>{i}</integer>\n")),
        Value::Bool(true) => out.push_str(&format!("{pad}<true/>\n")),
        Value::Bool(false) => out.push_str(&format!("{pad}<false/>\n")),
        Value::Data(d) => {
            out.push_str(&format!("{pad}<data>\n"));
            let b64 = Base64::encode_string(d);
            for chunk in b64.as_bytes().chunks(64) {
                // Base64 is ASCII: every chunk is valid UTF-8.
                out.push_str(&pad);
                out.push_str(&String::from_utf8_lossy(chunk));
                out.push('\n');
            }
            out.push_str(&format!("{pad}</data>\n"));
        }
        Value::Array(items) => {
            out.push_str(&format!("{pad}<array>\n"));
            for i in items {
                write_value(i, depth + 1, out);
            }
            out.push_str(&format!("{pad}</array>\n"));
        }
        Value::Dict(entries) => {
            out.push_str(&format!("{pad}<dict>\n"));
            for (k, v) in entries {
                out.push_str(&format!("{pad}\t<key>{}</key>\n", escape(k)));
                write_value(v, depth + 1, out);
            }
            out.push_str(&format!("{pad}</dict>\n"));
        }
    }
}

/// The XML text of a property list whose root is `root`.
fn plist(root: &Value) -> String {
    let mut out = String::from(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" ",
        "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
        "<plist version=\"1.0\">\n"
    ));
    write_value(root, 0, &mut out);
    out.push_str("</plist>\n");
    out
}

/// A random (version 4) UUID, upper case as Apple's tools write them.
fn uuid_v4() -> Result<String> {
    let mut b = crate::secrets::random_bytes(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode_upper(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// The reverse-DNS prefix of a subject's profile identifiers: the base URL's host reversed
/// (`ca.example.com` → `com.example.ca`), then `enrolld` and the subject id. An IP address or
/// a host without a dot gives no host part.
pub fn identifier_prefix(base_url: &str, subject_id: &str) -> String {
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split(['/', ':', '['])
        .next()
        .unwrap_or_default();
    let is_name = host.contains('.')
        && host.parse::<std::net::IpAddr>().is_err()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let mut parts: Vec<&str> = if is_name {
        host.split('.').filter(|p| !p.is_empty()).rev().collect()
    } else {
        Vec::new()
    };
    parts.push("enrolld");
    parts.push(subject_id);
    parts.join(".")
}

/// The commonName of a certificate, or its whole subject when it has none.
fn common_name(der: &[u8]) -> String {
    match X509Certificate::from_der(der) {
        Ok((_, c)) => c
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| c.subject().to_string()),
        Err(_) => "CA".to_owned(),
    }
}

/// What a profile is made of.
pub struct ProfileInput<'a> {
    /// The stable part of the identifiers ([`identifier_prefix`]); a random suffix follows.
    pub identifier_prefix: &'a str,
    /// The certificate's commonName, from the registry.
    pub common_name: &'a str,
    /// The certificate's SANs, from the registry (`dNSName` / `rfc822Name` / URI).
    pub names: &'a [SanName],
    /// The SCEP URL the challenge belongs to (`/scep` or `/scep/<label>`).
    pub scep_url: &'a str,
    /// The one-time challenge.
    pub challenge: &'a str,
    /// RSA key size the device generates.
    pub key_size: u32,
    /// The CA certificates, DER: the issuing CA first, the root last (as GetCACert sends them).
    pub ca_chain: &'a [Vec<u8>],
}

/// The SCEP payload's `SubjectAltName` dictionary: one string per kind, or an array when a
/// kind has several names.
fn subject_alt_name(names: &[SanName]) -> Option<Value> {
    let mut entries: Vec<(&'static str, Value)> = Vec::new();
    for key in ["dNSName", "rfc822Name", "uniformResourceIdentifier"] {
        let mut values: Vec<String> = names
            .iter()
            .filter_map(|n| match (key, n) {
                ("dNSName", SanName::Dns(v))
                | ("rfc822Name", SanName::Email(v))
                | ("uniformResourceIdentifier", SanName::Uri(v)) => Some(v.clone()),
                _ => None,
            })
            .filter(|v| !v.is_empty())
            .collect();
        match values.len() {
            0 => {}
            1 => entries.push((key, Value::Str(values.remove(0)))),
            _ => entries.push((
                key,
                Value::Array(values.into_iter().map(Value::Str).collect()),
            )),
        }
    }
    (!entries.is_empty()).then_some(Value::Dict(entries))
}

/// The profile's XML property list.
pub fn build(p: &ProfileInput<'_>) -> Result<String> {
    let (root, below) = p
        .ca_chain
        .split_last()
        .ok_or_else(|| Error::Internal("no CA certificate".into()))?;
    let ca_name = common_name(&p.ca_chain[0]);
    let id = format!("{}.{}", p.identifier_prefix, uuid_v4()?);
    let payload = |kind: &str, suffix: &str, name: String, mut rest: Vec<(&'static str, Value)>| {
        let mut d = vec![
            ("PayloadType", Value::Str(kind.to_owned())),
            ("PayloadVersion", Value::Int(1)),
            ("PayloadIdentifier", Value::Str(format!("{id}.{suffix}"))),
            ("PayloadUUID", Value::Str(uuid_v4()?)),
            ("PayloadDisplayName", Value::Str(name)),
        ];
        d.append(&mut rest);
        Ok::<Value, Error>(Value::Dict(d))
    };
    let mut scep = vec![
        ("URL", Value::Str(p.scep_url.to_owned())),
        ("Name", Value::Str(ca_name.clone())),
        (
            "Subject",
            Value::Array(vec![Value::Array(vec![Value::Array(vec![
                Value::Str("CN".into()),
                Value::Str(p.common_name.to_owned()),
            ])])]),
        ),
        ("Challenge", Value::Str(p.challenge.to_owned())),
        ("Keysize", Value::Int(i64::from(p.key_size))),
        ("Key Type", Value::Str("RSA".into())),
        ("Key Usage", Value::Int(KEY_USAGE_SIGN_AND_ENCRYPT)),
        ("Retries", Value::Int(RETRIES)),
        ("RetryDelay", Value::Int(RETRY_DELAY_SECS)),
        // SecSCEPValidateCACertMessage accepts a 16-byte (MD5) or 20-byte (SHA-1) fingerprint
        // and compares it with the top of the chain GetCACert returns: the root.
        (
            "CAFingerprint",
            Value::Data(
                digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, root)
                    .as_ref()
                    .to_vec(),
            ),
        ),
    ];
    if let Some(san) = subject_alt_name(p.names) {
        scep.push(("SubjectAltName", san));
    }
    let mut content = vec![payload(
        "com.apple.security.scep",
        "scep",
        format!("Certificate for {}", p.common_name),
        vec![
            (
                "PayloadDescription",
                Value::Str(format!(
                    "Requests a certificate for {} from {ca_name} over SCEP.",
                    p.common_name
                )),
            ),
            ("PayloadContent", Value::Dict(scep)),
        ],
    )?];
    content.push(payload(
        "com.apple.security.root",
        "root",
        format!("Root CA: {}", common_name(root)),
        vec![
            (
                "PayloadCertificateFileName",
                Value::Str("root-ca.cer".into()),
            ),
            ("PayloadContent", Value::Data(root.clone())),
        ],
    )?);
    for (i, der) in below.iter().enumerate() {
        content.push(payload(
            "com.apple.security.pkcs1",
            &format!("ca{i}"),
            format!("CA: {}", common_name(der)),
            vec![
                (
                    "PayloadCertificateFileName",
                    Value::Str(format!("ca-{i}.cer")),
                ),
                ("PayloadContent", Value::Data(der.clone())),
            ],
        )?);
    }
    let top = Value::Dict(vec![
        ("PayloadType", Value::Str("Configuration".into())),
        ("PayloadVersion", Value::Int(1)),
        ("PayloadIdentifier", Value::Str(id.clone())),
        ("PayloadUUID", Value::Str(uuid_v4()?)),
        (
            "PayloadDisplayName",
            Value::Str(format!("Certificate enrolment for {}", p.common_name)),
        ),
        (
            "PayloadDescription",
            Value::Str(format!(
                "Enrols this device for a certificate for {} from {ca_name} (SCEP, one-time challenge) and installs the CA certificates.",
                p.common_name
            )),
        ),
        ("PayloadOrganization", Value::Str(ca_name)),
        ("PayloadRemovalDisallowed", Value::Bool(false)),
        ("PayloadContent", Value::Array(content)),
    ]);
    Ok(plist(&top))
}

/// A profile ready to send.
pub struct AppleProfile {
    /// The plist, or the SignedData around it.
    pub body: Vec<u8>,
    /// A file name for `Content-Disposition`: `<subject id>.mobileconfig`.
    pub file_name: String,
}

/// The RSA key size a device should make for `profile`: 2048 bits, or 4096 if the profile
/// accepts only that of the sizes Apple devices make.
fn key_size(profile: &crate::ca::Profile, name: &str) -> Result<u32> {
    if profile.key_types.contains(&KeyType::Rsa2048) {
        Ok(2048)
    } else if profile.key_types.contains(&KeyType::Rsa4096) {
        Ok(4096)
    } else {
        Err(Error::Conflict(format!(
            "profile {name} accepts no RSA key size an Apple device makes (2048 or 4096)"
        )))
    }
}

impl Registry {
    /// A configuration profile for a subject: a fresh one-time SCEP challenge, made and
    /// audited exactly as `POST .../credentials {"kind": "scep"}` makes it (a subject that is
    /// not active is refused the same way), inside a SCEP payload with the registry's names,
    /// and the CA certificates; signed when a profile signer is configured.
    pub fn apple_profile(
        &self,
        actor: &str,
        id: &str,
        label: Option<String>,
        expires_in: Option<u64>,
    ) -> Result<AppleProfile> {
        if !self.cfg.scep.enabled {
            return Err(Error::NotFound("SCEP is not enabled".into()));
        }
        let s = self.subject(id)?;
        let (cn, names) = super::pickup::subject_names(&s);
        let key_size = key_size(self.cfg.profile(&ProfileName(s.kind.clone()))?, &s.kind)?;
        let made = self.create_credential(
            actor,
            id,
            NewSubjectCredential {
                kind: "scep".into(),
                expires_in,
                uses: None,
                label,
                legacy_p12: false,
                deliver: None,
            },
        )?;
        let field = |k: &str| {
            made[k]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| Error::Internal(format!("SCEP challenge without {k}")))
        };
        let prefix = identifier_prefix(&self.cfg.base_url(), s.id.as_str());
        let xml = build(&ProfileInput {
            identifier_prefix: &prefix,
            common_name: &cn,
            names: &names,
            scep_url: &field("url")?,
            challenge: &field("challenge")?,
            key_size,
            ca_chain: self.ca.chain(),
        })?;
        let body = match &self.profile_signer {
            Some(signer) => signer.sign(xml.as_bytes())?,
            None => xml.into_bytes(),
        };
        Ok(AppleProfile {
            body,
            file_name: format!("{}.mobileconfig", s.id.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_characters_xml_cannot_carry() {
        assert_eq!(escape("A&B <x> \"q\""), "A&amp;B &lt;x&gt; &quot;q&quot;");
        assert_eq!(escape("a\u{1}b\tc"), "a\u{FFFD}b\tc");
        assert_eq!(escape("Zoë"), "Zoë");
    }

    #[test]
    fn identifiers_reverse_a_dns_host_only() {
        assert_eq!(
            identifier_prefix("https://ca.example.com:8443", "abc"),
            "com.example.ca.enrolld.abc"
        );
        assert_eq!(
            identifier_prefix("https://localhost:8443", "abc"),
            "enrolld.abc"
        );
        assert_eq!(identifier_prefix("https://10.0.0.1", "abc"), "enrolld.abc");
        assert_eq!(
            identifier_prefix("https://[::1]:8443", "abc"),
            "enrolld.abc"
        );
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid_v4().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "A" | "B"), "{u}");
        assert_ne!(u, uuid_v4().unwrap());
    }

    #[test]
    fn alt_names_are_strings_or_arrays_by_count() {
        let one = subject_alt_name(&[SanName::Email("a@example.com".into())]).unwrap();
        assert!(
            matches!(&one, Value::Dict(e) if e.len() == 1 && e[0].0 == "rfc822Name" && matches!(e[0].1, Value::Str(_)))
        );
        let two = subject_alt_name(&[
            SanName::Dns("a.example.com".into()),
            SanName::Dns("b.example.com".into()),
        ])
        .unwrap();
        assert!(
            matches!(&two, Value::Dict(e) if e[0].0 == "dNSName" && matches!(&e[0].1, Value::Array(a) if a.len() == 2))
        );
        assert!(subject_alt_name(&[]).is_none());
    }
}
