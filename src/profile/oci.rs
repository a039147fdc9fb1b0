//! Editing an OCI bundle's `config.json` in place: replace (or add) `linux.seccomp` and keep every
//! other byte of the file as it was. Pure text surgery guided by a small JSON scanner that knows
//! where each value starts and ends.

/// Byte span of a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

struct Scanner<'a> {
    s: &'a [u8],
    i: usize,
    /// Spans of every object member value, by key path (array elements are not indexed).
    spans: Vec<(Vec<String>, Span)>,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        let hit = self.s.get(self.i) == Some(&b);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.i += 1;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return serde_json::from_slice(&self.s[start..self.i]).ok();
                }
                _ => self.i += 1,
            }
        }
        None
    }

    /// Scans one value at `path`, recording the spans of object members beneath it.
    fn value(&mut self, path: &mut Vec<String>) -> Option<()> {
        self.ws();
        match *self.s.get(self.i)? {
            b'{' => {
                self.i += 1;
                if self.eat(b'}') {
                    return Some(());
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return None;
                    }
                    let key = self.string()?;
                    if !self.eat(b':') {
                        return None;
                    }
                    self.ws();
                    let start = self.i;
                    path.push(key);
                    self.value(path)?;
                    self.spans.push((path.clone(), Span { start, end: self.i }));
                    path.pop();
                    if self.eat(b'}') {
                        return Some(());
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.eat(b']') {
                    return Some(());
                }
                loop {
                    path.push("[]".into());
                    self.value(path)?;
                    path.pop();
                    if self.eat(b']') {
                        return Some(());
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b'"' => self.string().map(drop),
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && !matches!(
                        self.s[self.i],
                        b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'
                    )
                {
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }
}

/// Where the value at `path` is, and where its parent object is (for inserting into it).
pub fn locate(text: &str, path: &[&str]) -> (Option<Span>, Option<Span>) {
    let mut sc = Scanner {
        s: text.as_bytes(),
        i: 0,
        spans: Vec::new(),
    };
    if sc.value(&mut Vec::new()).is_none() {
        return (None, None);
    }
    let find = |p: &[&str]| {
        sc.spans
            .iter()
            .find(|(k, _)| k.len() == p.len() && k.iter().zip(p).all(|(a, b)| a == b))
            .map(|(_, s)| *s)
    };
    (find(path), find(&path[..path.len().saturating_sub(1)]))
}

fn indent_of_line(text: &str, at: usize) -> String {
    let line_start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    text[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// Pretty JSON for `value`, indented to sit at `base` indentation, with `unit` per level.
fn pretty(value: &serde_json::Value, base: &str, unit: &str) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(unit.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(value, &mut ser).ok();
    let s = String::from_utf8(buf).unwrap_or_default();
    s.lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                format!("{base}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The file's indentation unit (what its second level uses), two spaces by default.
fn indent_unit(text: &str) -> String {
    text.lines()
        .nth(1)
        .map(|l| {
            l.chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect::<String>()
        })
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "  ".into())
}

/// `text` with `linux.seccomp` set to `seccomp`; everything else untouched.
pub fn set_seccomp(text: &str, seccomp: &serde_json::Value) -> Result<String, String> {
    let unit = indent_unit(text);
    let (value, linux) = locate(text, &["linux", "seccomp"]);
    if let Some(span) = value {
        let base = indent_of_line(text, span.start);
        return Ok(format!(
            "{}{}{}",
            &text[..span.start],
            pretty(seccomp, &base, &unit),
            &text[span.end..]
        ));
    }
    if let Some(obj) = linux {
        // Insert as the first member of "linux".
        let base = format!("{}{unit}", indent_of_line(text, obj.start));
        let inner_empty = text[obj.start + 1..obj.end - 1].trim().is_empty();
        let sep = if inner_empty {
            format!("\n{}", indent_of_line(text, obj.start))
        } else {
            ",".into()
        };
        return Ok(format!(
            "{}\n{base}\"seccomp\": {}{sep}{}",
            &text[..obj.start + 1],
            pretty(seccomp, &base, &unit),
            &text[obj.start + 1..]
        ));
    }
    // No "linux" object: add one at the end of the top-level object.
    let end = text
        .trim_end()
        .rfind('}')
        .ok_or("config.json is not a JSON object")?;
    let before = text[..end].trim_end();
    let comma = if before.ends_with('{') { "" } else { "," };
    let body = pretty(&serde_json::json!({ "seccomp": seccomp }), &unit, &unit);
    Ok(format!(
        "{before}{comma}\n{unit}\"linux\": {body}\n{}",
        &text[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replaces_inserts_and_keeps_the_rest() {
        let cfg = "{\n\t\"ociVersion\": \"1.0.2\",\n\t\"linux\": {\n\t\t\"seccomp\": {\"defaultAction\": \"SCMP_ACT_ALLOW\"},\n\t\t\"namespaces\": [{\"type\": \"pid\"}]\n\t},\n\t\"x\": [1, {\"y\": \"}\"}]\n}\n";
        let new = json!({"defaultAction": "SCMP_ACT_ERRNO"});
        let out = set_seccomp(cfg, &new).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["linux"]["seccomp"], new);
        assert_eq!(v["x"][1]["y"], "}");
        assert!(
            out.contains("\t\t\"namespaces\": [{\"type\": \"pid\"}]\n"),
            "untouched bytes:\n{out}"
        );
        assert!(out.starts_with("{\n\t\"ociVersion\": \"1.0.2\",\n"));

        let no_seccomp = "{\n  \"linux\": {\n    \"namespaces\": []\n  }\n}";
        let out = set_seccomp(no_seccomp, &new).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["linux"]["seccomp"], new);
        assert_eq!(v["linux"]["namespaces"], json!([]));

        let no_linux = "{\n  \"ociVersion\": \"1.0.2\"\n}\n";
        let out = set_seccomp(no_linux, &new).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["linux"]["seccomp"], new);
        assert_eq!(v["ociVersion"], "1.0.2");
        let empty_linux = "{\"linux\": {}}";
        let v: serde_json::Value =
            serde_json::from_str(&set_seccomp(empty_linux, &new).unwrap()).unwrap();
        assert_eq!(v["linux"]["seccomp"], new);
    }

    #[test]
    fn locates_nested_values() {
        let (v, p) = locate(
            r#"{"a": {"linux": 1}, "linux": {"seccomp": [1, 2]}}"#,
            &["linux", "seccomp"],
        );
        let text = r#"{"a": {"linux": 1}, "linux": {"seccomp": [1, 2]}}"#;
        assert_eq!(&text[v.unwrap().start..v.unwrap().end], "[1, 2]");
        assert!(p.is_some());
        assert_eq!(locate("{\"a\": [", &["a"]), (None, None));
    }
}
