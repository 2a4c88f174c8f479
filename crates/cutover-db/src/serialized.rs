//! PHP `serialize()` values: parsed exactly, every string's content offered for rewriting, its
//! `s:N` byte length recomputed, and every other byte (floats, keys, property names with NUL
//! bytes, custom `C:` payloads) copied as it was. A value that does not parse is never touched.

/// Nesting deeper than this is refused rather than risk the stack.
const MAX_DEPTH: usize = 256;

/// Whether `value` starts like a serialized container or string (scalars hold nothing to rewrite).
pub fn looks_serialized(value: &[u8]) -> bool {
    value.len() >= 4 && matches!(value[0], b'a' | b'O' | b's' | b'C') && value[1] == b':' && value[2].is_ascii_digit()
}

/// Rewrites the string values inside `value` with `f`; `Ok(None)` when nothing changed.
pub fn rewrite(value: &[u8], f: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>) -> Result<Option<Vec<u8>>, String> {
    let mut p = Parser { src: value, pos: 0, out: Vec::new(), changed: false, f };
    p.value(0, true)?;
    if p.pos != value.len() {
        return Err(format!("unexpected bytes after the value at byte {}", p.pos));
    }
    Ok(p.changed.then_some(p.out))
}

struct Parser<'a, 'f> {
    src: &'a [u8],
    pos: usize,
    out: Vec<u8>,
    changed: bool,
    f: &'f mut dyn FnMut(&[u8]) -> Option<Vec<u8>>,
}

impl Parser<'_, '_> {
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.src.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(&format!("expected `{}`", byte as char))
        }
    }

    /// Digits (with an optional leading `-`), returned as a number.
    fn int(&mut self) -> Result<i64, String> {
        let start = self.pos;
        if self.src.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        while self.src.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        if self.pos == digits || self.pos - digits > 19 {
            return self.err("expected a number");
        }
        std::str::from_utf8(&self.src[start..self.pos])
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or_else(|| self.err("number out of range"), Ok)
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.int()?;
        usize::try_from(n).map_or_else(|_| self.err("negative length"), Ok)
    }

    /// `"` + exactly `n` bytes + `"`, returning the bytes' range.
    fn quoted(&mut self, n: usize) -> Result<std::ops::Range<usize>, String> {
        self.expect(b'"')?;
        let start = self.pos;
        let end = start
            .checked_add(n)
            .filter(|e| *e <= self.src.len())
            .map_or_else(|| self.err("string runs past the end"), Ok)?;
        self.pos = end;
        self.expect(b'"')?;
        Ok(start..end)
    }

    fn copy_from(&mut self, start: usize) {
        self.out.extend_from_slice(&self.src[start..self.pos]);
    }

    fn value(&mut self, depth: usize, rewrite: bool) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        let start = self.pos;
        let Some(&kind) = self.src.get(self.pos) else { return self.err("unexpected end") };
        self.pos += 1;
        if kind == b'N' {
            self.expect(b';')?;
            self.copy_from(start);
            return Ok(());
        }
        self.expect(b':')?;
        match kind {
            b'b' | b'i' | b'r' | b'R' => {
                let n = self.int()?;
                if kind == b'b' && !(0..=1).contains(&n) {
                    return self.err("a boolean is 0 or 1");
                }
                self.expect(b';')?;
                self.copy_from(start);
            }
            b'd' => {
                while self.src.get(self.pos).is_some_and(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b)) {
                    self.pos += 1;
                }
                self.expect(b';')?;
                self.copy_from(start);
            }
            b's' => {
                let n = self.len()?;
                self.expect(b':')?;
                let range = self.quoted(n)?;
                self.expect(b';')?;
                match rewrite.then(|| (self.f)(&self.src[range])).flatten() {
                    Some(new) => {
                        self.out.extend_from_slice(format!("s:{}:\"", new.len()).as_bytes());
                        self.out.extend_from_slice(&new);
                        self.out.extend_from_slice(b"\";");
                        self.changed = true;
                    }
                    None => self.copy_from(start),
                }
            }
            b'E' => {
                let n = self.len()?;
                self.expect(b':')?;
                self.quoted(n)?;
                self.expect(b';')?;
                self.copy_from(start);
            }
            b'a' | b'O' | b'C' => {
                if kind != b'a' {
                    let n = self.len()?;
                    self.expect(b':')?;
                    self.quoted(n)?;
                    self.expect(b':')?;
                }
                let n = self.len()?;
                self.expect(b':')?;
                self.expect(b'{')?;
                if kind == b'C' {
                    // A class's own serialization format: opaque, copied as it is.
                    self.pos = self
                        .pos
                        .checked_add(n)
                        .filter(|e| *e <= self.src.len())
                        .map_or_else(|| self.err("payload runs past the end"), Ok)?;
                    self.expect(b'}')?;
                    self.copy_from(start);
                    return Ok(());
                }
                self.copy_from(start);
                for _ in 0..n {
                    let key = self.pos;
                    match self.src.get(key) {
                        Some(b'i' | b's') => self.value(depth + 1, false)?,
                        _ => return self.err("an array key is an int or a string"),
                    }
                    self.value(depth + 1, rewrite)?;
                }
                let close = self.pos;
                self.expect(b'}')?;
                self.copy_from(close);
            }
            _ => return self.err(&format!("unknown type `{}`", kind as char)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(value: &[u8]) -> Result<Option<Vec<u8>>, String> {
        rewrite(value, &mut |s: &[u8]| {
            let s = String::from_utf8_lossy(s);
            s.contains("old.test").then(|| s.replace("http://old.test", "https://new.example.org").into_bytes())
        })
    }

    #[test]
    fn lengths_are_fixed_and_everything_else_is_kept_byte_for_byte() {
        let value =
            b"a:3:{s:3:\"url\";s:15:\"http://old.test\";i:0;d:0.1000000000000000055511151231257827;s:1:\"n\";N;}";
        let out = replace(value).unwrap().unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a:3:{s:3:\"url\";s:23:\"https://new.example.org\";i:0;d:0.1000000000000000055511151231257827;s:1:\"n\";N;}"
        );
    }

    #[test]
    fn object_property_names_with_nul_bytes_are_untouched() {
        let value = b"O:3:\"Foo\":2:{s:8:\"\0Foo\0url\";s:15:\"http://old.test\";s:6:\"\0*\0old\";b:1;}";
        let out = replace(value).unwrap().unwrap();
        assert_eq!(out, b"O:3:\"Foo\":2:{s:8:\"\0Foo\0url\";s:23:\"https://new.example.org\";s:6:\"\0*\0old\";b:1;}");
    }

    #[test]
    fn unchanged_values_report_no_change_and_broken_ones_an_error() {
        assert_eq!(replace(b"a:1:{i:0;s:3:\"abc\";}").unwrap(), None);
        for bad in [&b"a:1:{i:0;s:9:\"abc\";}"[..], b"s:3:\"abc\"", b"a:2:{i:0;N;}", b"s:3:\"abc\";x", b"a:1:{d:1;N;}"]
        {
            assert!(replace(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn custom_serialized_payloads_are_opaque() {
        let value = b"C:11:\"ArrayObject\":21:{x:i:0;a:0:{};m:a:0:{}}";
        assert_eq!(replace(value).unwrap(), None);
    }
}
