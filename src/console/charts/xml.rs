//! A strict little XML reader for the tests: it parses a chart back into elements so the
//! tests can read what a browser would draw, and refuses anything not well-formed.

/// An element of a parsed document.
#[derive(Debug)]
pub(super) struct Node {
    /// Element name, prefix included.
    pub(super) name: String,
    /// Attributes in document order, values unescaped.
    pub(super) attrs: Vec<(String, String)>,
    /// Child elements.
    pub(super) children: Vec<Node>,
    /// Character data directly inside the element, unescaped.
    pub(super) text: String,
}

impl Node {
    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn f(&self, name: &str) -> f64 {
        let v = self
            .attr(name)
            .unwrap_or_else(|| panic!("no {name} on {self:?}"));
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
    }

    /// All elements below (and including) this one, in document order.
    pub(super) fn all(&self) -> Vec<&Node> {
        let mut out = vec![self];
        for c in &self.children {
            out.extend(c.all());
        }
        out
    }

    pub(super) fn named(&self, name: &str) -> Vec<&Node> {
        self.all().into_iter().filter(|n| n.name == name).collect()
    }

    pub(super) fn with_class(&self, class: &str) -> Vec<&Node> {
        self.all()
            .into_iter()
            .filter(|n| n.attr("class") == Some(class))
            .collect()
    }

    /// The text of every `<text>` element.
    pub(super) fn texts(&self) -> Vec<&str> {
        self.named("text").iter().map(|n| n.text.as_str()).collect()
    }
}

/// Parses a whole document strictly: one root element, matching end tags, quoted attribute
/// values without `<`, no duplicate attributes, only the predefined and numeric entities.
pub(super) fn parse(doc: &str) -> Result<Node, String> {
    let mut p = Parser { s: doc, i: 0 };
    p.skip_space();
    let root = p.element()?;
    p.skip_space();
    if p.i != doc.len() {
        return Err(format!("content after the root at {}", p.i));
    }
    Ok(root)
}

/// The state of [`parse`].
struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }

    fn skip_space(&mut self) {
        while self.rest().starts_with([' ', '\n', '\t', '\r']) {
            self.i += 1;
        }
    }

    fn expect(&mut self, t: &str) -> Result<(), String> {
        if self.rest().starts_with(t) {
            self.i += t.len();
            Ok(())
        } else {
            Err(format!("expected {t:?} at {}: {:.40}", self.i, self.rest()))
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let len = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, ':' | '-' | '_' | '.')))
            .unwrap_or(self.rest().len());
        if len == 0
            || !self
                .rest()
                .starts_with(|c: char| c.is_alphabetic() || c == '_')
        {
            return Err(format!("bad name at {}: {:.40}", self.i, self.rest()));
        }
        let name = self.rest()[..len].to_string();
        self.i += len;
        Ok(name)
    }

    fn element(&mut self) -> Result<Node, String> {
        self.expect("<")?;
        let name = self.name()?;
        let mut attrs: Vec<(String, String)> = Vec::new();
        loop {
            let before = self.i;
            self.skip_space();
            if self.rest().starts_with("/>") {
                self.i += 2;
                return Ok(Node {
                    name,
                    attrs,
                    children: vec![],
                    text: String::new(),
                });
            }
            if self.rest().starts_with('>') {
                self.i += 1;
                break;
            }
            if self.i == before {
                return Err(format!("no space before attribute at {}", self.i));
            }
            let a = self.name()?;
            self.expect("=\"")?;
            let end = self.rest().find('"').ok_or("unterminated attribute")?;
            let raw = &self.rest()[..end];
            if raw.contains('<') {
                return Err(format!("< in attribute {a}"));
            }
            let value = unescape(raw)?;
            self.i += end + 1;
            if attrs.iter().any(|(n, _)| *n == a) {
                return Err(format!("duplicate attribute {a}"));
            }
            attrs.push((a, value));
        }
        let mut node = Node {
            name,
            attrs,
            children: vec![],
            text: String::new(),
        };
        loop {
            let end = self.rest().find('<').ok_or("unterminated element")?;
            let raw = &self.rest()[..end];
            if raw.contains('>') {
                return Err(format!("> in text at {}", self.i));
            }
            node.text.push_str(&unescape(raw)?);
            self.i += end;
            if self.rest().starts_with("</") {
                self.i += 2;
                let close = self.name()?;
                if close != node.name {
                    return Err(format!("</{close}> closes <{}>", node.name));
                }
                self.skip_space();
                self.expect(">")?;
                return Ok(node);
            }
            node.children.push(self.element()?);
        }
    }
}

fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semi = rest[amp..].find(';').ok_or("& without ;")? + amp;
        let entity = &rest[amp + 1..semi];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or(format!("bad entity {e}"))?,
            e if e.starts_with('#') => e[1..]
                .parse()
                .ok()
                .and_then(char::from_u32)
                .ok_or(format!("bad entity {e}"))?,
            e => return Err(format!("unknown entity {e}")),
        };
        out.push(c);
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    if out
        .chars()
        .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err("control character".into());
    }
    Ok(out)
}
