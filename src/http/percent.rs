//! Percent-decoding (RFC 3986 §2.1) of request paths and of
//! `application/x-www-form-urlencoded` bodies (WHATWG URL §5.1), on bytes: what the escapes
//! decode to is only interpreted (as UTF-8, base64, …) by the caller.

/// A `%` that is not followed by two hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedEscape;

impl std::fmt::Display for MalformedEscape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a % is not followed by two hexadecimal digits")
    }
}

/// Decodes every `%XX` of `input`; with `plus_is_space` (form bodies) a `+` is a space.
pub fn decode(input: &[u8], plus_is_space: bool) -> Result<Vec<u8>, MalformedEscape> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'%' => match rest {
                [hi, lo, tail @ ..] => {
                    let (Some(hi), Some(lo)) = (hex(*hi), hex(*lo)) else {
                        return Err(MalformedEscape);
                    };
                    out.push(hi << 4 | lo);
                    rest = tail;
                }
                _ => return Err(MalformedEscape),
            },
            b'+' if plus_is_space => out.push(b' '),
            _ => out.push(b),
        }
    }
    Ok(out)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_to_bytes() {
        assert_eq!(decode(b"ab%2Fcd%2b%3D", false).unwrap(), b"ab/cd+=");
        assert_eq!(decode(b"a+b%20c", false).unwrap(), b"a+b c");
        assert_eq!(decode(b"a+b%20c", true).unwrap(), b"a b c");
        assert_eq!(decode(b"%E2%82%AC%ff", false).unwrap(), b"\xe2\x82\xac\xff");
        assert_eq!(decode(b"", true).unwrap(), b"");
    }

    /// A `%` before a multi-byte character used to slice a `str` inside the character.
    #[test]
    fn malformed_escapes_are_errors() {
        for bad in [
            "%".as_bytes(),
            b"x%",
            b"x%4",
            b"%zz",
            b"%4g",
            b"%-1",
            "%\u{20ac}".as_bytes(),
            "%a\u{e9}".as_bytes(),
            "%\u{e9}".as_bytes(),
            b"%\xff\xff",
        ] {
            assert_eq!(decode(bad, false), Err(MalformedEscape), "{bad:?}");
            assert_eq!(decode(bad, true), Err(MalformedEscape), "{bad:?}");
        }
    }
}
