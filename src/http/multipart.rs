//! A small `multipart/form-data` reader (RFC 7578) for the console's file upload: the boundary
//! from the content type, then each part's name, file name and bytes. The whole body is in
//! memory already (the route's body limit bounds it); parts are few and their headers short.

use crate::error::Error;

/// Most parts a form may have (the import form has three).
const MAX_PARTS: usize = 16;
/// Longest header block of one part.
const MAX_PART_HEAD: usize = 8 * 1024;

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The form field's name (`Content-Disposition: form-data; name=`).
    pub name: String,
    /// The file's name, for a file field (which a browser sends even when no file was chosen,
    /// with an empty name and no bytes).
    pub filename: Option<String>,
    /// The part's bytes.
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type (RFC 2046 §5.1.1: 1 to 70
/// characters), or `None` for any other type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    if !params
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        (!v.is_empty() && v.len() <= 70).then(|| v.to_owned())
    })
}

/// Where `needle` first occurs in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// The parameters of a `Content-Disposition` value, quoted strings unquoted (`\"` and `\\`
/// unescaped; a `;` inside quotes does not split).
fn disposition_params(v: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = v.chars().peekable();
    // Skip the disposition type.
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            chars.next();
            if c == '=' {
                break;
            }
            key.push(c);
        }
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n);
                        }
                    }
                    '"' => break,
                    c => val.push(c),
                }
            }
            for c in chars.by_ref() {
                if c == ';' {
                    break;
                }
            }
        } else {
            for c in chars.by_ref() {
                if c == ';' {
                    break;
                }
                val.push(c);
            }
            val = val.trim().to_owned();
        }
        out.push((key, val));
    }
    out
}

/// The parts of a `multipart/form-data` body delimited by `boundary`.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, Error> {
    let bad = |why: &str| Error::Malformed(format!("multipart form: {why}"));
    let delim = format!("--{boundary}").into_bytes();
    // The first delimiter may follow a preamble; later ones follow a CRLF.
    let mut at = if body.starts_with(&delim) {
        0
    } else {
        let mut d = b"\r\n".to_vec();
        d.extend_from_slice(&delim);
        find(body, &d, 0).ok_or_else(|| bad("no boundary"))? + 2
    };
    let mut next_delim = b"\r\n".to_vec();
    next_delim.extend_from_slice(&delim);
    let mut parts = Vec::new();
    loop {
        at += delim.len();
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        if !rest.starts_with(b"\r\n") {
            return Err(bad("a boundary is not followed by a line end"));
        }
        if parts.len() == MAX_PARTS {
            return Err(bad("too many parts"));
        }
        let head_start = at + 2;
        let head_end = find(body, b"\r\n\r\n", head_start)
            .filter(|e| e - head_start <= MAX_PART_HEAD)
            .ok_or_else(|| bad("a part's headers do not end"))?;
        let head = std::str::from_utf8(&body[head_start..head_end])
            .map_err(|_| bad("a part's headers are not UTF-8"))?;
        let mut name = None;
        let mut filename = None;
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                continue;
            }
            for (pk, pv) in disposition_params(v) {
                match pk.as_str() {
                    "name" => name = Some(pv),
                    "filename" => filename = Some(pv),
                    _ => {}
                }
            }
        }
        let data_start = head_end + 4;
        let data_end =
            find(body, &next_delim, data_start).ok_or_else(|| bad("a part does not end"))?;
        parts.push(Part {
            name: name.ok_or_else(|| bad("a part has no name"))?,
            filename,
            data: body[data_start..data_end].to_vec(),
        });
        at = data_end + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/form-data; boundary=----WebKitFormBoundaryx7";

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut b = b"preamble\r\n".to_vec();
        for (name, file, data) in parts {
            b.extend_from_slice(b"------WebKitFormBoundaryx7\r\n");
            match file {
                Some(f) => b.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                         Content-Type: text/csv\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"------WebKitFormBoundaryx7--\r\n");
        b
    }

    #[test]
    fn the_boundary_comes_from_a_form_data_type_only() {
        assert_eq!(boundary(CT).as_deref(), Some("----WebKitFormBoundaryx7"));
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; Boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))),
            None
        );
    }

    #[test]
    fn parts_keep_names_file_names_and_bytes() {
        let csv: &[u8] = b"kind,external_id\r\nperson,e1\r\n\xff binary --not-a-boundary";
        let b = body(&[
            ("csrf", None, b"tok"),
            ("file", Some("people; \\\"2026\\\".csv"), csv),
            ("csv", None, b""),
        ]);
        let parts = parse(&b, &boundary(CT).unwrap()).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            (parts[0].name.as_str(), parts[0].data.as_slice()),
            ("csrf", &b"tok"[..])
        );
        assert_eq!(parts[1].filename.as_deref(), Some("people; \"2026\".csv"));
        assert_eq!(parts[1].data, csv);
        assert_eq!(parts[2].filename, None);
        assert!(parts[2].data.is_empty());
    }

    #[test]
    fn broken_bodies_are_refused() {
        let bd = "----WebKitFormBoundaryx7";
        assert!(parse(b"no boundary here", bd).is_err());
        let good = body(&[("csv", None, b"x")]);
        // Cut before the closing delimiter: the part does not end.
        assert!(parse(&good[..good.len() - 40], bd).is_err());
        // A part without a name.
        let nameless = b"------WebKitFormBoundaryx7\r\nContent-Type: text/plain\r\n\r\nx\r\n------WebKitFormBoundaryx7--";
        assert!(parse(nameless, bd).is_err());
        // Headers that never end.
        let endless = format!("------WebKitFormBoundaryx7\r\n{}", "X: y\r\n".repeat(3000));
        assert!(parse(endless.as_bytes(), bd).is_err());
        // Too many parts.
        let many: Vec<(&str, Option<&str>, &[u8])> = vec![("a", None, b"1"); MAX_PARTS + 1];
        assert!(parse(&body(&many), bd).is_err());
        // An empty form.
        assert_eq!(
            parse(b"------WebKitFormBoundaryx7--\r\n", bd).unwrap(),
            vec![]
        );
    }
}
