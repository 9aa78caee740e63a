//! A real SMTP relay for the mail tests: `tests/support/smtpd.py` (Debian's aiosmtpd, run by
//! Debian's own python3), on 127.0.0.1 with STARTTLS (or implicit TLS, or none) on a
//! certificate from a test CA, storing what it accepts as files.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// The interpreter that has Debian's python3-aiosmtpd (installed by `.ci/run`).
const PYTHON: &str = "/usr/bin/python3";

/// One received mail: the envelope and the message as the relay got it.
pub struct Received {
    pub meta: serde_json::Value,
    pub raw: String,
}

pub struct TestRelay {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tls: &'static str,
    /// SMTP AUTH the relay asks for: (user, password).
    pub auth: Option<(String, String)>,
    child: Option<Child>,
}

impl TestRelay {
    /// Starts a relay with `tls` = `starttls`, `implicit` or `none` on a port the kernel picks.
    pub fn start(tls: &'static str) -> TestRelay {
        Self::start_with_auth(tls, None)
    }

    /// Starts a relay that asks for SMTP AUTH with `auth` = (user, password).
    pub fn start_with_auth(tls: &'static str, auth: Option<(&str, &str)>) -> TestRelay {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::default();
        ca.distinguished_name
            .push(DnType::CommonName, "mail test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let ca_cert = ca.self_signed(&key).unwrap();
        let issuer = Issuer::new(ca, key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), leaf_key.serialize_pem()).unwrap();
        std::fs::create_dir(dir.path().join("mail")).unwrap();
        let mut r = TestRelay {
            dir,
            port: 0,
            tls,
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
            child: None,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtpd.py");
        let d = self.dir.path();
        let mut cmd = Command::new(PYTHON);
        if let Some((u, p)) = &self.auth {
            cmd.arg(&script)
                .arg("--auth-user")
                .arg(u)
                .arg("--auth-password")
                .arg(p);
        } else {
            cmd.arg(&script);
        }
        let mut child = cmd
            .arg("--dir")
            .arg(d.join("mail"))
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--tls")
            .arg(self.tls)
            .arg("--cert")
            .arg(d.join("cert.pem"))
            .arg("--key")
            .arg(d.join("key.pem"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {PYTHON} {}: {e}", script.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("listening ").unwrap_or_else(|| {
            panic!("smtpd.py did not start (python3-aiosmtpd installed?): {line:?}")
        });
        self.port = port.parse().unwrap();
        self.child = Some(child);
    }

    /// Stops the relay (connections are refused until [`TestRelay::restart`]).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the relay again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The test CA's certificate file, for `[mail] ca_file`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// While set, every message is answered 451.
    pub fn tempfail(&self, on: bool) {
        let f = self.dir.path().join("mail/tempfail");
        if on {
            std::fs::write(f, "").unwrap();
        } else {
            let _ = std::fs::remove_file(f);
        }
    }

    /// Refuses `addr` with 550.
    pub fn reject(&self, addr: &str) {
        std::fs::write(self.dir.path().join("mail/reject"), format!("{addr}\n")).unwrap();
    }

    /// The `[mail]` section for an enrolld that sends here.
    pub fn config(&self, extra: &str) -> String {
        let security = match self.tls {
            "implicit" => "tls",
            other => other,
        };
        format!(
            "[mail]\nrelay = \"localhost:{}\"\nsecurity = \"{security}\"\nfrom = \"Corp PKI <pki@corp.example>\"\n\
             reply_to = \"helpdesk@corp.example\"\nca_file = {:?}\nretry_initial_secs = 60\nretry_max_secs = 600\n{extra}",
            self.port,
            self.ca_file().to_str().unwrap()
        )
    }

    /// Every mail received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let d = self.dir.path().join("mail");
        let mut names: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".eml") && !n.starts_with('.'))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let raw = std::fs::read_to_string(d.join(&n)).unwrap();
                let meta = std::fs::read_to_string(d.join(n.replace(".eml", ".json"))).unwrap();
                Received {
                    meta: serde_json::from_str(&meta).unwrap(),
                    raw,
                }
            })
            .collect()
    }

    /// Waits (up to `secs`) until at least `n` mails have arrived; all of them.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A header of a raw message (first occurrence, unfolded).
pub fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or(raw);
    let mut out: Option<String> = None;
    for line in head.split("\r\n") {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(o) = out.as_mut() {
                o.push_str(line.trim_start());
            }
            continue;
        }
        if out.is_some() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case(name) {
                out = Some(v.trim().to_owned());
            }
        }
    }
    out
}

/// The decoded text/plain part of a multipart message.
pub fn text_part(raw: &str) -> String {
    part(raw, "text/plain")
}

/// The decoded text/html part of a multipart message.
pub fn html_part(raw: &str) -> String {
    part(raw, "text/html")
}

fn part(raw: &str, ctype: &str) -> String {
    let at = raw
        .find(&format!("Content-Type: {ctype}"))
        .unwrap_or_else(|| panic!("no {ctype} part in\n{raw}"));
    let rest = &raw[at..];
    let (head, body) = rest.split_once("\r\n\r\n").unwrap();
    let body = body.split("\r\n--").next().unwrap();
    if head.contains("Content-Transfer-Encoding: base64") {
        use base64ct::{Base64, Encoding};
        let joined: String = body.split_whitespace().collect();
        String::from_utf8(Base64::decode_vec(&joined).unwrap()).unwrap()
    } else if head.contains("Content-Transfer-Encoding: quoted-printable") {
        quoted_printable(body)
    } else {
        body.to_owned()
    }
}

fn quoted_printable(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() + 1 {
            if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}
