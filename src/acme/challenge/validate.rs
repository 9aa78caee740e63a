//! Challenge validation: http-01 and dns-01 (RFC 8555 §8.3, §8.4) and tls-alpn-01 (RFC 8737),
//! with the safety rules of RFC 8555 §10.4: only the standard ports, no loopback, private or
//! link-local targets, few redirects, small bodies, and response bodies never echoed back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::dns;
use crate::config::ValidationConfig;
use crate::error::{AcmeProblem, Error, Result};

/// Largest http-01 response read.
const MAX_BODY: usize = 8 * 1024;
/// Redirects followed at most (http only, to the validation port).
const MAX_REDIRECTS: usize = 3;

/// Validates challenges.
pub struct Validator {
    /// Ports, resolver, address policy.
    cfg: ValidationConfig,
}

fn err(kind: AcmeProblem, m: impl Into<String>) -> Error {
    Error::acme(kind, m)
}

/// Addresses RFC 8555 §10.4 says a validator must not be pointed at: loopback, private,
/// link-local and every other special-purpose range (RFC 6890), and every IPv6 form that
/// carries an IPv4 address, judged by that address (a NAT64 or 6to4 gateway would forward
/// to it).
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site local fec0::/10 (deprecated)
                || (s[0], s[1]) == (0x2001, 0x0db8) // documentation 2001:db8::/32
                || (s[0], s[1], s[2]) == (0x0064, 0xff9b, 0x0001) // local-use NAT64 64:ff9b:1::/48
                || embedded_v4(&v6).iter().any(|v4| is_forbidden_v4(*v4))
        }
    }
}

fn is_forbidden_v4(v4: Ipv4Addr) -> bool {
    let o = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 shared address space
        || (o[0], o[1], o[2]) == (192, 0, 0) // 192.0.0.0/24 IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || o[0] == 0
        || o[0] >= 240
}

/// The IPv4 addresses an IPv6 address carries: IPv4-mapped `::ffff:0:0/96`, IPv4-compatible
/// `::/96` (deprecated), IPv4-translated `::ffff:0:0:0/96` (RFC 2765), NAT64 `64:ff9b::/96`
/// (RFC 6052), 6to4 `2002::/16` (RFC 3056), and Teredo `2001::/32` (RFC 4380: the server,
/// and the client's address stored inverted).
fn embedded_v4(v6: &Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    let v4 = |b: [u8; 4]| Ipv4Addr::from(b);
    let last = v4([o[12], o[13], o[14], o[15]]);
    match s {
        // ::a.b.c.d, ::ffff:a.b.c.d, ::ffff:0:a.b.c.d, 64:ff9b::a.b.c.d
        [0, 0, 0, 0, 0, 0 | 0xffff, _, _]
        | [0, 0, 0, 0, 0xffff, 0, _, _]
        | [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => vec![last],
        // 2002:AABB:CCDD::/48
        [0x2002, ..] => vec![v4([o[2], o[3], o[4], o[5]])],
        // 2001:0:server:flags:port:~client
        [0x2001, 0, ..] => vec![
            v4([o[4], o[5], o[6], o[7]]),
            v4([!o[12], !o[13], !o[14], !o[15]]),
        ],
        _ => Vec::new(),
    }
}

impl Validator {
    /// A validator with these settings.
    pub fn new(cfg: ValidationConfig) -> Self {
        Validator { cfg }
    }

    /// Validates `kind` for `domain` with `key_authz` (token.thumbprint).
    pub async fn validate(&self, kind: &str, domain: &str, key_authz: &str) -> Result<()> {
        let limit = Duration::from_secs(self.cfg.timeout_secs.max(1));
        let fut = async {
            match kind {
                "http-01" => self.http01(domain, key_authz).await,
                "dns-01" => self.dns01(domain, key_authz).await,
                "tls-alpn-01" => self.tls_alpn01(domain, key_authz).await,
                other => Err(err(
                    AcmeProblem::Malformed,
                    format!("unknown challenge {other}"),
                )),
            }
        };
        tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| err(AcmeProblem::Connection, "validation timed out"))?
    }

    async fn resolve(&self, domain: &str) -> Result<Vec<IpAddr>> {
        let limit = Duration::from_secs(3);
        let ips = match self.cfg.dns_resolver {
            Some(server) => dns::lookup_ip(server, domain, limit).await?,
            None => tokio::net::lookup_host((domain, 0))
                .await
                .map_err(|_| err(AcmeProblem::Dns, format!("no address for {domain}")))?
                .map(|sa| sa.ip())
                .collect(),
        };
        if ips.is_empty() {
            return Err(err(AcmeProblem::Dns, format!("no address for {domain}")));
        }
        Ok(ips)
    }

    async fn target(&self, domain: &str, port: u16) -> Result<SocketAddr> {
        let ips = self.resolve(domain).await?;
        let ip = ips
            .into_iter()
            .find(|ip| self.cfg.allow_private_addresses || !is_forbidden(*ip))
            .ok_or_else(|| {
                err(
                    AcmeProblem::Connection,
                    format!("{domain} resolves only to loopback, private or link-local addresses; refusing to connect"),
                )
            })?;
        Ok(SocketAddr::new(ip, port))
    }

    async fn http01(&self, domain: &str, key_authz: &str) -> Result<()> {
        let token = key_authz.split('.').next().unwrap_or("");
        let mut host = domain.to_owned();
        let mut path = format!("/.well-known/acme-challenge/{token}");
        for _ in 0..=MAX_REDIRECTS {
            let addr = self.target(&host, self.cfg.http_port).await?;
            let (status, location, body) = http_get(addr, &host, &path).await?;
            match status {
                200 => {
                    return if body.trim_ascii() == key_authz.as_bytes() {
                        Ok(())
                    } else {
                        Err(err(
                            AcmeProblem::IncorrectResponse,
                            format!("the key authorization served for {domain} does not match"),
                        ))
                    };
                }
                301 | 302 | 303 | 307 | 308 => {
                    let loc = location
                        .ok_or_else(|| err(AcmeProblem::Connection, "redirect without Location"))?;
                    let rest = loc.strip_prefix("http://").ok_or_else(|| {
                        err(
                            AcmeProblem::Connection,
                            "only http:// redirects on the validation port are followed",
                        )
                    })?;
                    let (h, p) = rest.split_once('/').unwrap_or((rest, ""));
                    if h.contains(':') || h.is_empty() {
                        return Err(err(
                            AcmeProblem::Connection,
                            "redirects to other ports are not followed",
                        ));
                    }
                    host = h.to_owned();
                    path = format!("/{p}");
                }
                other => {
                    return Err(err(
                        AcmeProblem::Unauthorized,
                        format!("http-01 for {domain}: the server answered status {other}"),
                    ))
                }
            }
        }
        Err(err(AcmeProblem::Connection, "too many redirects"))
    }

    async fn dns01(&self, domain: &str, key_authz: &str) -> Result<()> {
        let server = self
            .cfg
            .dns_resolver
            .or_else(dns::system_resolver)
            .ok_or_else(|| err(AcmeProblem::Dns, "no DNS resolver configured"))?;
        let name = format!("_acme-challenge.{domain}");
        let expected = Base64UrlUnpadded::encode_string(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key_authz.as_bytes()).as_ref(),
        );
        let records =
            dns::query(server, &name, dns::RecordType::Txt, Duration::from_secs(3)).await?;
        if records
            .iter()
            .any(|r| dns::txt_value(r) == expected.as_bytes())
        {
            Ok(())
        } else if records.is_empty() {
            Err(err(
                AcmeProblem::Unauthorized,
                format!("no TXT record at {name}"),
            ))
        } else {
            Err(err(
                AcmeProblem::IncorrectResponse,
                format!("no TXT record at {name} matches"),
            ))
        }
    }

    async fn tls_alpn01(&self, domain: &str, key_authz: &str) -> Result<()> {
        let addr = self.target(domain, self.cfg.tls_port).await?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        // TLS 1.3 only: the handshake signature is checked against the raw key, because webpki
        // refuses the critical acmeIdentifier extension when parsing the certificate.
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(Error::internal)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth();
        cfg.alpn_protocols = vec![b"acme-tls/1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|_| {
            err(
                AcmeProblem::Connection,
                format!("cannot connect to {domain}"),
            )
        })?;
        let name = rustls_pki_types::ServerName::try_from(domain.to_owned())
            .map_err(|_| err(AcmeProblem::Malformed, "invalid name"))?;
        let tls = connector.connect(name, tcp).await.map_err(|e| {
            err(
                AcmeProblem::Tls,
                format!("TLS handshake with {domain} failed: {e}"),
            )
        })?;
        let (_, conn) = tls.get_ref();
        if conn.alpn_protocol() != Some(b"acme-tls/1") {
            return Err(err(AcmeProblem::Tls, "server did not negotiate acme-tls/1"));
        }
        let cert = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| err(AcmeProblem::Tls, "no certificate presented"))?;
        check_alpn_cert(cert.as_ref(), domain, key_authz)
    }
}

/// RFC 8737 §3: exactly one dNSName SAN equal to the domain, and a critical acmeIdentifier
/// extension holding SHA-256 of the key authorization.
pub fn check_alpn_cert(der: &[u8], domain: &str, key_authz: &str) -> Result<()> {
    use x509_parser::extensions::GeneralName;
    let bad = |m: &str| err(AcmeProblem::IncorrectResponse, m);
    let (_, c) =
        x509_parser::parse_x509_certificate(der).map_err(|_| bad("certificate does not parse"))?;
    let san = c
        .subject_alternative_name()
        .ok()
        .flatten()
        .ok_or_else(|| bad("certificate has no subjectAltName"))?;
    let names = &san.value.general_names;
    if names.len() != 1
        || !matches!(names[0], GeneralName::DNSName(d) if d.eq_ignore_ascii_case(domain))
    {
        return Err(bad("certificate must name exactly the identifier"));
    }
    let want = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key_authz.as_bytes());
    let ext = c
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
        .ok_or_else(|| bad("certificate lacks the acmeIdentifier extension"))?;
    if !ext.critical {
        return Err(bad("acmeIdentifier extension must be critical"));
    }
    // extnValue is an OCTET STRING holding Authorization ::= OCTET STRING (SIZE (32)).
    let v = ext.value;
    if v.len() != 34 || v[0] != 0x04 || v[1] != 32 || &v[2..] != want.as_ref() {
        return Err(bad("acmeIdentifier does not match the key authorization"));
    }
    Ok(())
}

async fn http_get(
    addr: SocketAddr,
    host: &str,
    path: &str,
) -> Result<(u16, Option<String>, Vec<u8>)> {
    let conn_err = |m: &str| err(AcmeProblem::Connection, format!("{m} ({host})"));
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|_| conn_err("cannot connect"))?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: enrolld-validator\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|_| conn_err("write failed"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|_| conn_err("read failed"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_BODY + 4096 {
            return Err(err(
                AcmeProblem::Unauthorized,
                format!("http-01 response from {host} too large"),
            ));
        }
    }
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| conn_err("malformed HTTP response"))?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut body = buf[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| conn_err("malformed HTTP status line"))?;
    let mut location = None;
    let mut chunked = false;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("location") {
                location = Some(v.trim().to_owned());
            } else if k.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    if chunked {
        body = dechunk(&body).ok_or_else(|| conn_err("malformed chunked body"))?;
    }
    body.truncate(MAX_BODY);
    Ok((status, location, body))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
        if out.len() > MAX_BODY {
            return Some(out);
        }
    }
}

/// tls-alpn-01 validates the certificate's contents, not its chain (RFC 8737 §3).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        // Unreachable: the validator offers TLS 1.3 only.
        Err(rustls::Error::General(
            "TLS 1.2 is not used for tls-alpn-01".into(),
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        // The raw key: webpki would refuse the certificate's critical acmeIdentifier extension.
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
            .map_err(|_| rustls::Error::General("unparsable certificate".into()))?;
        let spki = rustls_pki_types::SubjectPublicKeyInfoDer::from(parsed.public_key().raw);
        rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &spki,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8555 §10.4: every special-purpose range, and every IPv6 form that carries an IPv4
    /// address (mapped, compatible, translated, NAT64, 6to4, Teredo), judged by that address.
    #[test]
    fn forbidden_addresses() {
        for (ip, forbidden) in [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("192.168.1.1", true),
            ("172.16.0.1", true),
            ("169.254.169.254", true),
            ("100.64.0.1", true),
            ("0.0.0.0", true),
            ("192.0.0.1", true),       // IETF protocol assignments 192.0.0.0/24
            ("192.0.0.255", true),     //
            ("198.18.0.1", true),      // benchmarking 198.18.0.0/15
            ("198.19.255.254", true),  //
            ("192.0.2.1", true),       // documentation
            ("255.255.255.255", true), // broadcast
            ("8.8.8.8", false),
            ("93.184.216.34", false),
            ("192.0.1.1", false),      // just outside 192.0.0.0/24
            ("198.17.255.255", false), // just outside 198.18.0.0/15
            ("198.20.0.1", false),     //
            ("::1", true),
            ("::", true),
            ("fe80::1", true),
            ("fd00::1", true),
            ("ff02::1", true),
            ("::ffff:127.0.0.1", true), // IPv4-mapped
            ("::ffff:10.0.0.1", true),  //
            ("::ffff:8.8.8.8", false),  //
            ("::127.0.0.1", true),      // IPv4-compatible ::/96
            ("::10.0.0.1", true),       //
            ("::169.254.169.254", true),
            ("::ffff:0:127.0.0.1", true), // IPv4-translated ::ffff:0:0/96
            ("64:ff9b::7f00:1", true),    // NAT64 64:ff9b::/96 → 127.0.0.1
            ("64:ff9b::a9fe:a9fe", true), // → 169.254.169.254
            ("64:ff9b::c0a8:101", true),  // → 192.168.1.1
            ("64:ff9b::808:808", false),  // → 8.8.8.8
            ("64:ff9b:1::1", true),       // local-use NAT64 64:ff9b:1::/48
            ("2002:7f00:1::1", true),     // 6to4 2002::/16 → 127.0.0.1
            ("2002:a00:1::1", true),      // → 10.0.0.1
            ("2002:c612:1::1", true),     // → 198.18.0.1
            ("2002:808:808::1", false),   // → 8.8.8.8
            // Teredo 2001:0::/32: server 8.8.8.8, client ~0x80fffffe = 127.0.0.1.
            ("2001:0:808:808:0:0:80ff:fffe", true),
            // Teredo with server 10.0.0.1 and a public client.
            ("2001:0:a00:1:0:0:f7f7:f7f7", true),
            // Teredo: public server 8.8.8.8 and public client ~0xf7f7f7f7 = 8.8.8.8.
            ("2001:0:808:808:0:0:f7f7:f7f7", false),
            ("2001:db8::1", true), // documentation
            ("2001:4860::8888", false),
            ("2606:4700::1111", false),
        ] {
            assert_eq!(is_forbidden(ip.parse().unwrap()), forbidden, "{ip}");
        }
    }

    #[test]
    fn chunked_bodies() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"zz\r\n").is_none());
    }
}
