//! A small BER reader for the CMS structures SCEP clients send (RFC 5652 allows BER; OpenSSL
//! and older Apple clients use indefinite lengths and chunked OCTET STRINGs). It hands out
//! slices of the input, so a signature can be checked over the exact bytes received.
//!
//! Only what CMS needs: single-octet tags (numbers below 31), definite and indefinite lengths,
//! nesting at most [`MAX_DEPTH`] deep. Anything else is [`Error::Malformed`].

use std::borrow::Cow;

use crate::error::{Error, Result};

/// Deepest nesting accepted; CMS messages need about a dozen levels.
const MAX_DEPTH: usize = 32;

/// Universal tags used by the SCEP messages.
pub mod tag {
    /// INTEGER
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING (primitive)
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER
    pub const OID: u8 = 0x06;
    /// UTF8String
    pub const UTF8_STRING: u8 = 0x0c;
    /// PrintableString
    pub const PRINTABLE_STRING: u8 = 0x13;
    /// IA5String
    pub const IA5_STRING: u8 = 0x16;
    /// UTCTime
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE (constructed)
    pub const SEQUENCE: u8 = 0x30;
    /// SET (constructed)
    pub const SET: u8 = 0x31;
    /// The constructed bit of an identifier octet.
    pub const CONSTRUCTED: u8 = 0x20;
    /// Context-specific `[n]`, primitive.
    pub const fn context(n: u8) -> u8 {
        0x80 | n
    }
    /// Context-specific `[n]`, constructed.
    pub const fn context_constructed(n: u8) -> u8 {
        0xa0 | n
    }
}

/// One element: its identifier octet, its content and the whole encoding.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    /// The identifier octet (class, constructed bit, number).
    pub tag: u8,
    /// The content octets; for an indefinite length, without the end-of-contents marker.
    pub content: &'a [u8],
    /// Identifier, length and content exactly as received.
    pub raw: &'a [u8],
    /// Whether the length was indefinite (then `content` holds BER elements).
    pub indefinite: bool,
}

/// Reads one element from the start of `input`; answers it and what follows.
pub fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8])> {
    read_at(input, 0)
}

/// Reads exactly one element: nothing may follow it.
pub fn read_all(input: &[u8]) -> Result<Tlv<'_>> {
    let (t, rest) = read(input)?;
    if !rest.is_empty() {
        return Err(bad("trailing data after the message"));
    }
    Ok(t)
}

fn bad(what: &str) -> Error {
    Error::Malformed(format!("malformed SCEP message: {what}"))
}

fn read_at(input: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8])> {
    if depth > MAX_DEPTH {
        return Err(bad("nested too deeply"));
    }
    let (&tag, rest) = input.split_first().ok_or_else(|| bad("truncated"))?;
    if tag & 0x1f == 0x1f {
        return Err(bad("multi-octet tags are not used by SCEP"));
    }
    let (&first, rest) = rest.split_first().ok_or_else(|| bad("truncated length"))?;
    if first == 0x80 {
        if tag & tag::CONSTRUCTED == 0 {
            return Err(bad("indefinite length on a primitive element"));
        }
        // Indefinite: elements until the end-of-contents octets 00 00.
        let mut cursor = rest;
        loop {
            if cursor.len() >= 2 && cursor[0] == 0 && cursor[1] == 0 {
                let content_len = rest.len() - cursor.len();
                let total = input.len() - cursor.len() + 2;
                return Ok((
                    Tlv {
                        tag,
                        content: &rest[..content_len],
                        raw: &input[..total],
                        indefinite: true,
                    },
                    &cursor[2..],
                ));
            }
            let (_, after) = read_at(cursor, depth + 1)?;
            cursor = after;
        }
    }
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 || rest.len() < n {
            return Err(bad("bad length"));
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad("truncated"));
    }
    let header = input.len() - rest.len();
    Ok((
        Tlv {
            tag,
            content: &rest[..len],
            raw: &input[..header + len],
            indefinite: false,
        },
        &rest[len..],
    ))
}

impl<'a> Tlv<'a> {
    /// The element if it has tag `t`, else an error naming `what`.
    pub fn expect(self, t: u8, what: &str) -> Result<Tlv<'a>> {
        if self.tag == t {
            Ok(self)
        } else {
            Err(bad(&format!("{what}: unexpected tag {:#04x}", self.tag)))
        }
    }

    /// The elements inside a constructed element.
    pub fn children(&self) -> Result<Vec<Tlv<'a>>> {
        if self.tag & tag::CONSTRUCTED == 0 {
            return Err(bad("expected a constructed element"));
        }
        let mut out = Vec::new();
        let mut cursor = self.content;
        while !cursor.is_empty() {
            let (t, rest) = read_at(cursor, 1)?;
            out.push(t);
            cursor = rest;
        }
        Ok(out)
    }

    /// The value of an OCTET STRING (or an IMPLICIT-tagged one): primitive, or BER
    /// constructed from primitive chunks.
    pub fn octets(&self) -> Result<Cow<'a, [u8]>> {
        if self.tag & tag::CONSTRUCTED == 0 {
            return Ok(Cow::Borrowed(self.content));
        }
        let mut out = Vec::new();
        for c in self.children()? {
            out.extend_from_slice(&c.octets()?);
        }
        Ok(Cow::Owned(out))
    }

    /// The arcs of an OBJECT IDENTIFIER.
    pub fn oid(&self) -> Result<Vec<u64>> {
        if self.tag != tag::OID || self.content.is_empty() {
            return Err(bad("expected an object identifier"));
        }
        let mut arcs = Vec::new();
        let mut v: u64 = 0;
        for (i, &b) in self.content.iter().enumerate() {
            if v > (u64::MAX >> 7) {
                return Err(bad("object identifier arc too large"));
            }
            v = (v << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                if arcs.is_empty() {
                    let (a, b) = match v {
                        0..=39 => (0, v),
                        40..=79 => (1, v - 40),
                        _ => (2, v - 80),
                    };
                    arcs.push(a);
                    arcs.push(b);
                } else {
                    arcs.push(v);
                }
                v = 0;
            } else if i + 1 == self.content.len() {
                return Err(bad("truncated object identifier"));
            }
        }
        Ok(arcs)
    }

    /// Whether this is the OBJECT IDENTIFIER `arcs`.
    pub fn is_oid(&self, arcs: &[u64]) -> bool {
        self.oid().is_ok_and(|o| o == arcs)
    }

    /// A string of one of the ASN.1 string types, as UTF-8 text.
    pub fn text(&self) -> Result<&'a str> {
        match self.tag {
            tag::PRINTABLE_STRING | tag::UTF8_STRING | tag::IA5_STRING => {
                std::str::from_utf8(self.content).map_err(|_| bad("string is not UTF-8"))
            }
            _ => Err(bad("expected a string")),
        }
    }

    /// A small non-negative INTEGER.
    pub fn small_uint(&self) -> Result<u64> {
        if self.tag != tag::INTEGER
            || self.content.is_empty()
            || self.content.len() > 8
            || self.content[0] & 0x80 != 0
        {
            return Err(bad("expected a small non-negative integer"));
        }
        Ok(self
            .content
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
}

/// The DER encoding of `content` under identifier `tag` (definite length).
pub fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The DER encoding of the OBJECT IDENTIFIER `arcs`.
pub fn encode_oid(arcs: &[u64]) -> Vec<u8> {
    yasna::construct_der(|w| w.write_oid(&yasna::models::ObjectIdentifier::from_slice(arcs)))
}

/// The DER encoding of a SEQUENCE of already encoded elements.
pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    encode(tag::SEQUENCE, &parts.concat())
}

/// The DER encoding of a SET OF already encoded elements, sorted as X.690 §11.6 requires.
pub fn set_of(parts: &[&[u8]]) -> Vec<u8> {
    let mut sorted: Vec<&[u8]> = parts.to_vec();
    sorted.sort();
    encode(tag::SET, &sorted.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definite_and_indefinite_lengths_give_the_same_content() {
        // SEQUENCE { OCTET STRING 'ab' } both ways.
        let definite = [0x30, 0x04, 0x04, 0x02, b'a', b'b'];
        let indefinite = [0x30, 0x80, 0x04, 0x02, b'a', b'b', 0, 0];
        for input in [&definite[..], &indefinite[..]] {
            let t = read_all(input).unwrap();
            let kids = t.children().unwrap();
            assert_eq!(kids.len(), 1);
            assert_eq!(&*kids[0].octets().unwrap(), b"ab");
            assert_eq!(t.raw, input);
        }
    }

    #[test]
    fn chunked_octet_strings_are_joined() {
        // [0] constructed, indefinite, two chunks: BER as OpenSSL streams eContent.
        let input = [0xa0, 0x80, 0x04, 0x01, b'x', 0x04, 0x02, b'y', b'z', 0, 0];
        assert_eq!(&*read_all(&input).unwrap().octets().unwrap(), b"xyz");
    }

    #[test]
    fn fail_truncated_overlong_and_trailing() {
        assert!(read_all(&[0x30, 0x05, 0x04]).is_err());
        assert!(read_all(&[0x30, 0x85, 1, 0, 0, 0, 0]).is_err());
        assert!(read_all(&[0x04, 0x00, 0x00]).is_err());
        assert!(read_all(&[0x04, 0x80, 0, 0]).is_err());
        assert!(read_all(&[0x30, 0x80, 0x04, 0x00]).is_err());
        assert!(read_all(&[0x1f, 0x01, 0x00]).is_err());
    }

    #[test]
    fn fail_too_deep() {
        let mut input = Vec::new();
        for _ in 0..40 {
            input.extend_from_slice(&[0x30, 0x80]);
        }
        for _ in 0..40 {
            input.extend_from_slice(&[0, 0]);
        }
        assert!(read_all(&input).is_err());
    }

    #[test]
    fn oids_round_trip() {
        let arcs = [2u64, 16, 840, 1, 113733, 1, 9, 7];
        let der = encode_oid(&arcs);
        let t = read_all(&der).unwrap();
        assert_eq!(t.oid().unwrap(), arcs);
        assert!(t.is_oid(&arcs));
    }

    #[test]
    fn long_lengths_encode_minimally() {
        let content = vec![7u8; 300];
        let der = encode(tag::OCTET_STRING, &content);
        assert_eq!(&der[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(read_all(&der).unwrap().content, &content[..]);
    }
}
