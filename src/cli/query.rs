//! Percent-encoding of path segments and query strings (RFC 3986 §2.1), and the duration
//! syntax of `--expires-in`.

/// Encodes everything but RFC 3986 §2.3 unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string built from optional parameters; absent ones are left out.
#[derive(Default)]
pub struct Query(Vec<(&'static str, String)>);

impl Query {
    /// Adds `name=value` when `value` is present.
    pub fn opt(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.0.push((name, v.to_string()));
        }
        self
    }

    /// `path` followed by `?a=b&c=d`, or `path` alone.
    pub fn to_path(&self, path: &str) -> String {
        if self.0.is_empty() {
            return path.to_owned();
        }
        let q: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        format!("{path}?{}", q.join("&"))
    }
}

/// Seconds from `3600`, `90s`, `45m`, `12h` or `30d`.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86400,
        _ => return Err(format!("{s:?}: use seconds, or a number with s, m, h or d")),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?}: use seconds, or a number with s, m, h or d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(encode("Finance & Ops/1"), "Finance%20%26%20Ops%2F1");
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("é"), "%C3%A9");
        let q = Query::default()
            .opt("kind", Some("person"))
            .opt("status", None::<&str>)
            .opt("limit", Some(5));
        assert_eq!(q.to_path("/x"), "/x?kind=person&limit=5");
        assert_eq!(Query::default().to_path("/x"), "/x");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("45m"), Ok(2700));
        assert_eq!(parse_duration("12h"), Ok(43200));
        assert_eq!(parse_duration("30d"), Ok(2_592_000));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("d").is_err());
    }
}
