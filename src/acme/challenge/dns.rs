//! A minimal DNS client (RFC 1035) for dns-01 TXT lookups and address lookups through a chosen
//! resolver. UDP only, one question, answers parsed defensively.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::error::{AcmeProblem, Error, Result};

/// Record types used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// IPv4 address.
    A = 1,
    /// Text.
    Txt = 16,
    /// IPv6 address.
    Aaaa = 28,
}

fn dns_err(m: impl Into<String>) -> Error {
    Error::acme(AcmeProblem::Dns, m)
}

/// Encodes a query for `name`/`rtype` with transaction `id`.
pub fn encode_query(id: u16, name: &str, rtype: RecordType) -> Result<Vec<u8>> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(dns_err("invalid name"));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&(rtype as u16).to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    Ok(q)
}

fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    for _ in 0..128 {
        let len = *msg.get(pos)? as usize;
        if len == 0 {
            return Some(pos + 1);
        }
        if len & 0xc0 == 0xc0 {
            return Some(pos + 2);
        }
        pos += 1 + len;
    }
    None
}

/// Parses the answers of `rtype` from a response to query `id`; each answer's RDATA.
pub fn parse_response(msg: &[u8], id: u16, rtype: RecordType) -> Result<Vec<Vec<u8>>> {
    let bad = || dns_err("malformed DNS response");
    if msg.len() < 12 || msg[0..2] != id.to_be_bytes() {
        return Err(bad());
    }
    let rcode = msg[3] & 0x0f;
    if rcode == 3 {
        return Ok(Vec::new()); // NXDOMAIN
    }
    if rcode != 0 {
        return Err(dns_err(format!("DNS server answered rcode {rcode}")));
    }
    let qd = u16::from_be_bytes([msg[4], msg[5]]) as usize;
    let an = u16::from_be_bytes([msg[6], msg[7]]) as usize;
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(msg, pos).ok_or_else(bad)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an.min(64) {
        pos = skip_name(msg, pos).ok_or_else(bad)?;
        let hdr = msg.get(pos..pos + 10).ok_or_else(bad)?;
        let t = u16::from_be_bytes([hdr[0], hdr[1]]);
        let rdlen = u16::from_be_bytes([hdr[8], hdr[9]]) as usize;
        let rdata = msg.get(pos + 10..pos + 10 + rdlen).ok_or_else(bad)?;
        if t == rtype as u16 {
            out.push(rdata.to_vec());
        }
        pos += 10 + rdlen;
    }
    Ok(out)
}

/// TXT RDATA: the concatenation of its character-strings.
pub fn txt_value(rdata: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(&len) = rdata.get(pos) {
        let s = rdata.get(pos + 1..pos + 1 + len as usize).unwrap_or(&[]);
        out.extend_from_slice(s);
        pos += 1 + len as usize;
    }
    out
}

/// Sends one query to `server` and returns the RDATA of the answers.
pub async fn query(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Vec<Vec<u8>>> {
    let mut idb = [0u8; 2];
    aws_lc_rs::rand::fill(&mut idb).map_err(|_| Error::Internal("rng".into()))?;
    let id = u16::from_be_bytes(idb);
    let q = encode_query(id, name, rtype)?;
    let bind: SocketAddr = if server.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| dns_err(format!("DNS socket: {e}")))?;
    sock.connect(server)
        .await
        .map_err(|e| dns_err(format!("DNS connect: {e}")))?;
    sock.send(&q)
        .await
        .map_err(|e| dns_err(format!("DNS send: {e}")))?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(timeout, sock.recv(&mut buf))
        .await
        .map_err(|_| dns_err("DNS query timed out"))?
        .map_err(|e| dns_err(format!("DNS receive: {e}")))?;
    parse_response(&buf[..n], id, rtype)
}

/// Addresses of `name` through `server`.
pub async fn lookup_ip(server: SocketAddr, name: &str, timeout: Duration) -> Result<Vec<IpAddr>> {
    let mut out = Vec::new();
    for rd in query(server, name, RecordType::A, timeout).await? {
        if let Ok(a) = <[u8; 4]>::try_from(rd.as_slice()) {
            out.push(IpAddr::from(a));
        }
    }
    for rd in query(server, name, RecordType::Aaaa, timeout).await? {
        if let Ok(a) = <[u8; 16]>::try_from(rd.as_slice()) {
            out.push(IpAddr::from(a));
        }
    }
    Ok(out)
}

/// The first nameserver of /etc/resolv.conf.
pub fn system_resolver() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some("nameserver"))
            .then(|| it.next()?.parse::<IpAddr>().ok())
            .flatten()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding_and_answer_parsing() {
        let q = encode_query(0x1234, "_acme-challenge.a.example", RecordType::Txt).unwrap();
        assert_eq!(&q[..2], &[0x12, 0x34]);
        // Build a response: the question echoed, one TXT answer with a compression pointer.
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1; // ancount
        r.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 6, 5]);
        r.extend_from_slice(b"hello");
        let answers = parse_response(&r, 0x1234, RecordType::Txt).unwrap();
        assert_eq!(txt_value(&answers[0]), b"hello");
        assert!(parse_response(&r, 0x9999, RecordType::Txt).is_err());
        assert!(parse_response(&r[..r.len() - 3], 0x1234, RecordType::Txt).is_err());
        assert!(parse_response(&[0; 5], 0, RecordType::Txt).is_err());
    }
}
