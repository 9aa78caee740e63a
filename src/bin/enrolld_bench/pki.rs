//! Small PKI helpers of the driver: CSRs, a DER walker for certs-only PKCS#7 and OCSP
//! responses, and base64.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use rcgen::{CertificateParams, DistinguishedName, KeyPair, SanType};

/// base64url without padding (RFC 8555 §6.1).
pub fn b64u(data: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(data)
}

/// Standard base64.
pub fn b64(data: &[u8]) -> String {
    Base64::encode_string(data)
}

/// A fresh P-256 key and a CSR (DER) with no subject and the given DNS SANs.
pub fn p256_csr(dns: &[String]) -> Result<Vec<u8>, String> {
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    for d in dns {
        p.subject_alt_names.push(SanType::DnsName(
            d.clone()
                .try_into()
                .map_err(|e: rcgen::Error| e.to_string())?,
        ));
    }
    Ok(p.serialize_request(&key)
        .map_err(|e| e.to_string())?
        .der()
        .to_vec())
}

/// `n` CSRs made on every core (so that the driver is not the bottleneck later).
pub fn p256_csrs(names: Vec<Vec<String>>) -> Result<Vec<Vec<u8>>, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = names.len().div_ceil(threads).max(1);
    let parts: Vec<Vec<Vec<String>>> = names.chunks(chunk).map(<[_]>::to_vec).collect();
    let handles: Vec<_> = parts
        .into_iter()
        .map(|part| std::thread::spawn(move || part.iter().map(|n| p256_csr(n)).collect()))
        .collect();
    let mut out = Vec::new();
    for h in handles {
        let r: Result<Vec<Vec<u8>>, String> =
            h.join().map_err(|_| "CSR thread panicked".to_owned())?;
        out.extend(r?);
    }
    Ok(out)
}

/// One DER TLV: (tag, contents, the rest after it, total length).
pub fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8], usize)> {
    let tag = *data.first()?;
    let first = *data.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut l = 0usize;
        for i in 0..n {
            l = (l << 8) | *data.get(2 + i)? as usize;
        }
        (l, 2 + n)
    };
    let content = data.get(hdr..hdr + len)?;
    Some((tag, content, &data[hdr + len..], hdr + len))
}

/// The certificates (DER) in a base64 certs-only PKCS#7 body: every TLV that parses as a
/// whole certificate.
pub fn certs_from_pkcs7(body: &[u8]) -> Vec<Vec<u8>> {
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let Ok(der) = Base64::decode_vec(&String::from_utf8_lossy(&compact)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(&der, 0, &mut out);
    out
}

fn walk(data: &[u8], depth: usize, out: &mut Vec<Vec<u8>>) {
    let mut rest = data;
    while let Some((tag, content, next, total)) = tlv(rest) {
        let raw = &rest[..total];
        if tag == 0x30
            && x509_parser::parse_x509_certificate(raw).is_ok_and(|(rem, _)| rem.is_empty())
        {
            out.push(raw.to_vec());
        } else if tag & 0x20 != 0 && depth < 8 {
            walk(content, depth + 1, out);
        }
        rest = next;
    }
}

/// RFC 6960 §4.2.1 responseStatus of an OCSPResponse (0 is successful).
pub fn ocsp_response_status(der: &[u8]) -> Option<u8> {
    let (tag, content, _, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, status, _, _) = tlv(content)?;
    (tag == 0x0a && status.len() == 1).then(|| status[0])
}

/// The certStatus of the first SingleResponse: `good`, `revoked` or `unknown`.
pub fn ocsp_cert_status(der: &[u8]) -> Option<&'static str> {
    let (_, resp, _, _) = tlv(der)?;
    let (_, _, rest, _) = tlv(resp)?; // responseStatus
    let (_, bytes, _, _) = tlv(rest)?; // [0] EXPLICIT ResponseBytes
    let (_, bytes, _, _) = tlv(bytes)?; // SEQUENCE
    let (_, _, rest, _) = tlv(bytes)?; // responseType
    let (_, basic, _, _) = tlv(rest)?; // OCTET STRING
    let (_, basic, _, _) = tlv(basic)?; // BasicOCSPResponse
    let (_, mut data, _, _) = tlv(basic)?; // tbsResponseData
    loop {
        let (tag, content, rest, _) = tlv(data)?;
        if tag == 0x30 {
            // responses: SEQUENCE OF SingleResponse
            let (_, single, _, _) = tlv(content)?;
            let (_, _, after_id, _) = tlv(single)?; // certID
            let (status, _, _, _) = tlv(after_id)?;
            return match status {
                0x80 => Some("good"),
                0xa1 => Some("revoked"),
                0x82 => Some("unknown"),
                _ => None,
            };
        }
        data = rest; // version [0], responderID [1]/[2], producedAt
    }
}
