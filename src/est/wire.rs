//! EST message encodings (RFC 7030 §4, RFC 8951 §3): base64 bodies, certs-only replies,
//! the serverkeygen multipart reply.

use base64ct::{Base64, Encoding};

use crate::ca::pkcs7;
use crate::error::{Error, Result};

/// Decodes an EST request body: base64 with or without line breaks, whatever
/// Content-Transfer-Encoding says (RFC 8951 §3). A PEM envelope is tolerated.
pub fn decode_body(body: &[u8]) -> Result<Vec<u8>> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::Malformed("body must be base64 text (RFC 8951 §3)".into()))?;
    let inner: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let compact: String = inner.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(Error::Malformed(
            "empty body: a base64 PKCS#10 request is required".into(),
        ));
    }
    Base64::decode_vec(&compact)
        .map_err(|_| Error::Malformed("body is not valid base64 (RFC 8951 §3)".into()))
}

/// Base64 with LF line breaks every 64 characters (RFC 8951 §3: line breaks are optional;
/// LF keeps shell tools such as `base64 -d` happy).
pub fn encode_base64_lines(der: &[u8]) -> String {
    let b64 = Base64::encode_string(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 32 + 2);
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// A certs-only reply body (base64 of the PKCS#7 DER).
pub fn certs_only_body(certs: &[&[u8]]) -> String {
    encode_base64_lines(&pkcs7::certs_only(certs))
}

/// RFC 7030 §4.4.2: multipart/mixed with the PKCS#8 key first, then the certificate.
/// Returns (content type with boundary, body).
pub fn serverkeygen_body(pkcs8_der: &[u8], cert_der: &[u8]) -> Result<(String, String)> {
    let boundary = format!(
        "enrolld-{}",
        crate::secrets::random_token(12)?.replace(['-', '_'], "x")
    );
    let body = format!(
        "--{b}\r\nContent-Type: application/pkcs8\r\nContent-Transfer-Encoding: base64\r\n\r\n{key}--{b}\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\nContent-Transfer-Encoding: base64\r\n\r\n{cert}--{b}--\r\n",
        b = boundary,
        key = encode_base64_lines(pkcs8_der).replace('\n', "\r\n"),
        cert = certs_only_body(&[cert_der]).replace('\n', "\r\n"),
    );
    Ok((format!("multipart/mixed; boundary={boundary}"), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_with_and_without_line_breaks() {
        assert_eq!(decode_body(b"AAEC").unwrap(), vec![0, 1, 2]);
        assert_eq!(decode_body(b"AA\r\nEC\r\n").unwrap(), vec![0, 1, 2]);
        assert_eq!(
            decode_body(
                b"-----BEGIN CERTIFICATE REQUEST-----\nAAEC\n-----END CERTIFICATE REQUEST-----\n"
            )
            .unwrap(),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn body_garbage_is_bad_request() {
        assert!(matches!(decode_body(b"%%%"), Err(Error::Malformed(_))));
        assert!(matches!(decode_body(b""), Err(Error::Malformed(_))));
        assert!(matches!(
            decode_body(&[0xff, 0xfe]),
            Err(Error::Malformed(_))
        ));
    }
}
