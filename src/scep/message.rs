//! The SCEP pkiMessage (RFC 8894 §3.2): its authenticated attributes, read from a client's
//! request, and the CertRep the CA answers with (§3.3.2).

use super::cms::{self, Signed};
use super::der::{self, tag};
use super::FailInfo;
use crate::error::{Error, Result};

/// RFC 8894 §3.2.1.2 messageType.
pub const OID_MESSAGE_TYPE: &[u64] = &[2, 16, 840, 1, 113733, 1, 9, 2];
/// RFC 8894 §3.2.1.3 pkiStatus.
pub const OID_PKI_STATUS: &[u64] = &[2, 16, 840, 1, 113733, 1, 9, 3];
/// RFC 8894 §3.2.1.4 failInfo.
pub const OID_FAIL_INFO: &[u64] = &[2, 16, 840, 1, 113733, 1, 9, 4];
/// RFC 8894 §3.2.1.5 senderNonce.
pub const OID_SENDER_NONCE: &[u64] = &[2, 16, 840, 1, 113733, 1, 9, 5];
/// RFC 8894 §3.2.1.5 recipientNonce.
pub const OID_RECIPIENT_NONCE: &[u64] = &[2, 16, 840, 1, 113733, 1, 9, 6];
/// RFC 8894 §3.2.1.1 transactionID.
pub const OID_TRANSACTION_ID: &[u64] = &[2, 16, 840, 1, 113733, 1, 9, 7];
/// RFC 8894 §3.2.1.4 failInfoText (id-scep-failInfoText).
pub const OID_FAIL_INFO_TEXT: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 24, 1];

/// Longest transactionID accepted (clients use a hex or base64 hash of their key).
const MAX_TRANSACTION_ID: usize = 128;

/// RFC 8894 §3.2.1.2 messageType, in the RFC's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// 3: the CA's answer.
    CertRep,
    /// 17: renewal, signed with the current certificate.
    RenewalReq,
    /// 19: enrolment.
    PkcsReq,
    /// 20: a poll for a pending request (GetCertInitial).
    CertPoll,
    /// 21: a certificate by issuer and serial.
    GetCert,
    /// 22: the CRL of an issuer.
    GetCrl,
}

impl MessageType {
    fn parse(s: &str) -> Option<MessageType> {
        match s {
            "3" => Some(MessageType::CertRep),
            "17" => Some(MessageType::RenewalReq),
            "19" => Some(MessageType::PkcsReq),
            "20" => Some(MessageType::CertPoll),
            "21" => Some(MessageType::GetCert),
            "22" => Some(MessageType::GetCrl),
            _ => None,
        }
    }
}

/// A client's pkiMessage whose attributes were read (the signature is checked later, so that
/// a bad one is answered with a signed FAILURE naming the transaction).
pub struct Request<'a> {
    /// The SignedData.
    pub signed: Signed<'a>,
    /// messageType, or the unknown value as sent.
    pub message_type: std::result::Result<MessageType, String>,
    /// transactionID.
    pub transaction_id: String,
    /// senderNonce: the reply's recipientNonce.
    pub sender_nonce: Vec<u8>,
    /// signingTime, unix seconds, if the client sent one.
    pub signing_time: Option<i64>,
}

/// Reads a pkiMessage and its SCEP attributes. A message without a transactionID or
/// senderNonce cannot be answered with a CertRep: that is [`Error::Malformed`] (HTTP 400).
pub fn read_request(input: &[u8]) -> Result<Request<'_>> {
    let signed = cms::read_signed(input)?;
    let malformed = |w: &str| Error::Malformed(format!("SCEP message: {w}"));
    let transaction_id = signed
        .attribute(OID_TRANSACTION_ID)
        .ok_or_else(|| malformed("no transactionID"))?
        .text()?
        .to_owned();
    if transaction_id.is_empty() || transaction_id.len() > MAX_TRANSACTION_ID {
        return Err(malformed("transactionID must be 1 to 128 characters"));
    }
    let nonce = signed
        .attribute(OID_SENDER_NONCE)
        .filter(|t| t.tag == tag::OCTET_STRING)
        .ok_or_else(|| malformed("no senderNonce"))?;
    // RFC 8894 §3.2.1.5 says 16 octets; Apple devices send 8.
    if !(8..=64).contains(&nonce.content.len()) {
        return Err(malformed("senderNonce must be 8 to 64 octets"));
    }
    let sender_nonce = nonce.content.to_vec();
    let message_type = signed
        .attribute(OID_MESSAGE_TYPE)
        .ok_or_else(|| malformed("no messageType"))?
        .text()?;
    let message_type = MessageType::parse(message_type).ok_or_else(|| message_type.to_owned());
    let signing_time = signed
        .attribute(cms::OID_SIGNING_TIME)
        .map(|t| parse_time(t.tag, t.content))
        .transpose()?;
    Ok(Request {
        signed,
        message_type,
        transaction_id,
        sender_nonce,
        signing_time,
    })
}

/// UTCTime or GeneralizedTime (`Z` form) to unix seconds.
fn parse_time(t: u8, content: &[u8]) -> Result<i64> {
    let bad = || Error::Malformed("SCEP message: bad signingTime".into());
    let s = std::str::from_utf8(content).map_err(|_| bad())?;
    let s = s.strip_suffix('Z').ok_or_else(bad)?;
    let (year, rest) = match t {
        tag::UTC_TIME if s.len() == 12 => {
            let y: i32 = s[..2].parse().map_err(|_| bad())?;
            (if y >= 50 { 1900 + y } else { 2000 + y }, &s[2..])
        }
        tag::GENERALIZED_TIME if s.len() == 14 => (s[..4].parse().map_err(|_| bad())?, &s[4..]),
        _ => return Err(bad()),
    };
    let num = |r: std::ops::Range<usize>| -> Result<u8> { rest[r].parse().map_err(|_| bad()) };
    let month = time::Month::try_from(num(0..2)?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(year, month, num(2..4)?).map_err(|_| bad())?;
    let t = time::Time::from_hms(num(4..6)?, num(6..8)?, num(8..10)?).map_err(|_| bad())?;
    Ok(time::PrimitiveDateTime::new(date, t)
        .assume_utc()
        .unix_timestamp())
}

/// RFC 8894 §3.2.1.3 pkiStatus of a CertRep, with what each carries.
pub enum Status {
    /// 0: granted; the degenerate SignedData (certificate or CRL), already sealed to the
    /// requester in an EnvelopedData.
    Success(Vec<u8>),
    /// 2: refused, with the failInfo and a sentence (failInfoText).
    Failure(FailInfo, String),
    /// 3: waiting for an administrator; the client polls with CertPoll.
    Pending,
}

/// Builds a CertRep for `req` (RFC 8894 §3.3.2): transactionID copied, recipientNonce = the
/// request's senderNonce, a fresh senderNonce; signed by the RA.
pub fn cert_rep(
    transaction_id: &str,
    recipient_nonce: &[u8],
    status: &Status,
    signer: &cms::Signer<'_>,
) -> Result<Vec<u8>> {
    let printable = |s: &str| der::encode(tag::PRINTABLE_STRING, s.as_bytes());
    let nonce = crate::secrets::random_bytes(16)?;
    // FAILURE and PENDING carry no pkcsPKIEnvelope, but an empty eContent rather than none:
    // OpenSSL's PKCS7_verify (certmonger, sscep) refuses a SignedData without content ("no
    // content") and so could not read the status; micromdm's server answers the same way.
    let (code, content) = match status {
        Status::Success(env) => ("0", env.as_slice()),
        Status::Failure(..) => ("2", &[][..]),
        Status::Pending => ("3", &[][..]),
    };
    let mut attrs = vec![
        cms::attribute(OID_TRANSACTION_ID, &printable(transaction_id)),
        cms::attribute(OID_MESSAGE_TYPE, &printable("3")),
        cms::attribute(OID_PKI_STATUS, &printable(code)),
        cms::attribute(OID_SENDER_NONCE, &der::encode(tag::OCTET_STRING, &nonce)),
        cms::attribute(
            OID_RECIPIENT_NONCE,
            &der::encode(tag::OCTET_STRING, recipient_nonce),
        ),
    ];
    if let Status::Failure(info, text) = status {
        attrs.push(cms::attribute(
            OID_FAIL_INFO,
            &printable(&(*info as u8).to_string()),
        ));
        let text: String = text.chars().take(255).collect();
        attrs.push(cms::attribute(
            OID_FAIL_INFO_TEXT,
            &der::encode(tag::UTF8_STRING, text.as_bytes()),
        ));
    }
    cms::sign(Some(content), &attrs, signer, &[], &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_both_forms() {
        let utc = parse_time(tag::UTC_TIME, b"260529120000Z").unwrap();
        let gen = parse_time(tag::GENERALIZED_TIME, b"20260529120000Z").unwrap();
        assert_eq!(utc, gen);
        assert_eq!(utc, 1_780_056_000);
        assert!(parse_time(tag::UTC_TIME, b"2605291200Z").is_err());
        assert!(parse_time(tag::UTC_TIME, b"261329120000Z").is_err());
    }

    /// FAILURE and PENDING CertReps carry an empty eContent (OpenSSL-based clients cannot
    /// verify a SignedData without one) whose signature and messageDigest verify; SUCCESS
    /// carries the envelope.
    #[test]
    fn every_cert_rep_has_encapsulated_content_that_verifies() {
        let dir = tempfile::tempdir().unwrap();
        crate::ca::Ca::create(dir.path(), &crate::config::CaConfig::default(), None).unwrap();
        let ca = crate::ca::Ca::load(dir.path()).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let ra = crate::ca::ra::Ra::load_or_create(dir.path(), &ca, None, 30, now).unwrap();
        let signer = cms::Signer {
            cert_der: &ra.current.cert_der,
            key: &ra.current.signing,
        };
        let cases = [
            (Status::Failure(FailInfo::BadRequest, "no".into()), &b""[..]),
            (Status::Pending, &b""[..]),
            (Status::Success(b"sealed".to_vec()), &b"sealed"[..]),
        ];
        for (i, (status, want)) in cases.into_iter().enumerate() {
            let rep = cert_rep("tx-1", &[7; 16], &status, &signer).unwrap();
            let signed = cms::read_signed(&rep).unwrap();
            assert_eq!(signed.content.as_deref(), Some(want), "case {i}");
            assert_eq!(signed.verify(false).unwrap(), &ra.current.cert_der[..]);
        }
    }
}
