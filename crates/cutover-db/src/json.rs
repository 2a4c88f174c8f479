//! JSON values: parsed exactly; every string value (not object keys) offered for rewriting and
//! written back in the style it had (`\/` escaping, `\uXXXX` for non-ASCII, as PHP's json_encode
//! does by default); everything else copied byte for byte.

const MAX_DEPTH: usize = 256;

/// Whether `value` is meant to be a JSON document: an object or an array.
pub fn looks_json(value: &[u8]) -> bool {
    matches!(value.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
}

/// Rewrites the string values inside `value` with `f`; `Ok(None)` when nothing changed.
pub fn rewrite(value: &[u8], f: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>) -> Result<Option<Vec<u8>>, String> {
    // The document's style decides how a rewritten string is written: PHP's json_encode escapes
    // `/` and every non-ASCII character by default, other writers do neither.
    let style = Style { escape_slash: memchr::memmem::find(value, b"\\/").is_some(), escape_unicode: value.is_ascii() };
    let mut p = Parser { src: value, pos: 0, out: Vec::with_capacity(value.len()), changed: false, f, style };
    p.ws();
    p.value(0, true)?;
    p.ws();
    if p.pos != value.len() {
        return Err(format!("unexpected bytes after the JSON value at byte {}", p.pos));
    }
    Ok(p.changed.then_some(p.out))
}

#[derive(Clone, Copy)]
struct Style {
    escape_slash: bool,
    escape_unicode: bool,
}

struct Parser<'a, 'f> {
    src: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    changed: bool,
    f: &'f mut dyn FnMut(&[u8]) -> Option<Vec<u8>>,
    style: Style,
}

impl Parser<'_, '_> {
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    fn ws(&mut self) {
        let start = self.pos;
        while self.src.get(self.pos).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
        self.out.extend_from_slice(&self.src[start..self.pos]);
    }

    fn byte(&mut self, b: u8) -> Result<(), String> {
        if self.src.get(self.pos) == Some(&b) {
            self.pos += 1;
            self.out.push(b);
            Ok(())
        } else {
            self.err(&format!("expected `{}`", b as char))
        }
    }

    fn value(&mut self, depth: usize, rewrite: bool) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        match self.src.get(self.pos) {
            Some(b'{') => self.container(depth, b'}', true),
            Some(b'[') => self.container(depth, b']', false),
            Some(b'"') => self.string(rewrite),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.err("expected a JSON value"),
        }
    }

    fn container(&mut self, depth: usize, close: u8, object: bool) -> Result<(), String> {
        self.out.push(self.src[self.pos]);
        self.pos += 1;
        self.ws();
        if self.src.get(self.pos) == Some(&close) {
            return self.byte(close);
        }
        loop {
            if object {
                self.string(false)?;
                self.ws();
                self.byte(b':')?;
                self.ws();
            }
            self.value(depth + 1, true)?;
            self.ws();
            match self.src.get(self.pos) {
                Some(b',') => {
                    self.byte(b',')?;
                    self.ws();
                }
                Some(&c) if c == close => return self.byte(close),
                _ => return self.err("expected `,` or the end of the container"),
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        if self.src[self.pos..].starts_with(word) {
            self.pos += word.len();
            self.out.extend_from_slice(word);
            Ok(())
        } else {
            self.err("invalid literal")
        }
    }

    fn number(&mut self) -> Result<(), String> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while p.src.get(p.pos).is_some_and(u8::is_ascii_digit) {
                p.pos += 1;
            }
            p.pos > s
        };
        if self.src.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        if self.src.get(self.pos) == Some(&b'0') {
            self.pos += 1;
        } else if !digits(self) {
            return self.err("invalid number");
        }
        if self.src.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digits(self) {
                return self.err("invalid number");
            }
        }
        if matches!(self.src.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.src.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return self.err("invalid number");
            }
        }
        self.out.extend_from_slice(&self.src[start..self.pos]);
        Ok(())
    }

    fn string(&mut self, rewrite: bool) -> Result<(), String> {
        let start = self.pos;
        if self.src.get(self.pos) != Some(&b'"') {
            return self.err("expected a string");
        }
        self.pos += 1;
        let mut decoded = Vec::new();
        loop {
            // Copy the run up to the next quote or backslash at once.
            let rest = &self.src[self.pos..];
            let run = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
            if rest[..run].iter().any(|&b| b < 0x20) {
                self.pos += rest[..run].iter().position(|&b| b < 0x20).unwrap_or(0);
                return self.err("control character in a string");
            }
            decoded.extend_from_slice(&rest[..run]);
            self.pos += run;
            let Some(&b) = self.src.get(self.pos) else { return self.err("unterminated string") };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.src.get(self.pos) else { return self.err("unterminated escape") };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' => decoded.push(e),
                        b'/' => decoded.push(b'/'),
                        b'b' => decoded.push(8),
                        b'f' => decoded.push(12),
                        b'n' => decoded.push(b'\n'),
                        b'r' => decoded.push(b'\r'),
                        b't' => decoded.push(b'\t'),
                        b'u' => {
                            let c = self.unicode()?;
                            decoded.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        _ => return self.err("invalid escape"),
                    }
                }
                0..=0x1f => return self.err("control character in a string"),
                _ => decoded.push(b),
            }
        }
        // UTF-8 is checked where it matters, on a string that changes (below).
        match rewrite.then(|| (self.f)(&decoded)).flatten() {
            Some(new) => {
                let Ok(new) = String::from_utf8(new) else { return self.err("rewritten string is not UTF-8") };
                encode(&new, self.style, &mut self.out);
                self.changed = true;
            }
            None => self.out.extend_from_slice(&self.src[start..self.pos]),
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let hex = self
            .src
            .get(self.pos..self.pos + 4)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u32::from_str_radix(h, 16).ok()) {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => self.err("invalid \\u escape"),
        }
    }

    fn unicode(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.src.get(self.pos..self.pos + 2) != Some(b"\\u") {
                return self.err("lone surrogate");
            }
            self.pos += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return self.err("invalid surrogate pair");
            }
            return char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                .map_or_else(|| self.err("invalid code point"), Ok);
        }
        char::from_u32(hi).map_or_else(|| self.err("lone surrogate"), Ok)
    }
}

/// Writes `text` as a JSON string in the given style, copying runs that need no escape whole.
fn encode(text: &str, style: Style, out: &mut Vec<u8>) {
    let Style { escape_slash, escape_unicode } = style;
    let needs =
        |b: u8| b < 0x20 || b == b'"' || b == b'\\' || (escape_slash && b == b'/') || (escape_unicode && b >= 0x80);
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..].iter().position(|&b| needs(b)).unwrap_or(bytes.len() - i);
        out.extend_from_slice(&bytes[i..i + run]);
        i += run;
        let Some(c) = text[i..].chars().next() else { break };
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '/' => out.extend_from_slice(b"\\/"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
                }
            }
        }
        i += c.len_utf8();
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(value: &str) -> Result<Option<String>, String> {
        let out = rewrite(value.as_bytes(), &mut |s: &[u8]| {
            let s = String::from_utf8_lossy(s);
            s.contains("old.test").then(|| s.replace("http://old.test", "https://new.example.org/é").into_bytes())
        })?;
        Ok(out.map(|o| String::from_utf8(o).unwrap()))
    }

    #[test]
    fn strings_keep_their_escaping_style_and_other_bytes_stay() {
        assert_eq!(
            replace(r#"{"url": "http:\/\/old.test\/a", "n": 1.50, "k\u00e9": ["x"]}"#).unwrap().unwrap(),
            r#"{"url": "https:\/\/new.example.org\/\u00e9\/a", "n": 1.50, "k\u00e9": ["x"]}"#
        );
        assert_eq!(replace(r#"["http://old.test"]"#).unwrap().unwrap(), r#"["https://new.example.org/\u00e9"]"#);
        assert_eq!(replace(r#"["http://old.test", "ü"]"#).unwrap().unwrap(), r#"["https://new.example.org/é", "ü"]"#);
    }

    #[test]
    fn keys_are_not_rewritten_and_invalid_json_is_an_error() {
        assert_eq!(replace(r#"{"http://old.test": 1}"#).unwrap(), None);
        for bad in [r#"{"a": }"#, r#"{"a": 1"#, r#"["\x"]"#, "[01]", r#"["a"] x"#, r#"["\ud800"]"#] {
            assert!(replace(bad).is_err(), "{bad}");
        }
    }
}
