//! The `.env` syntax both ways, in one place so that reading undoes exactly what writing does:
//! how a value is written where it sits in a line (bare, in double or in single quotes: the
//! renderer's [`encode`]) and how a file's `KEY=value` lines are read back ([`read`], for the
//! audit's rules and for `db rewrite`'s `--old-env`/`--new-env`). A value rendered into a
//! template and read back from the result is the value that was rendered.

use std::collections::BTreeMap;

/// Where a value sits in its line, which decides how it must be written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quoting {
    Unquoted,
    Double,
    Single,
}

/// The quoting at byte `at` of `line` (a `KEY=value` line): the state after the `=`.
pub(crate) fn quoting_at(line: &str, at: usize) -> Quoting {
    let Some(eq) = line.find('=') else { return Quoting::Unquoted };
    let mut state = Quoting::Unquoted;
    let mut escaped = false;
    for c in line[eq + 1..at.max(eq + 1)].chars() {
        match (state, c) {
            (Quoting::Double, _) if escaped => escaped = false,
            (Quoting::Double, '\\') => escaped = true,
            (Quoting::Double, '"') | (Quoting::Single, '\'') => state = Quoting::Unquoted,
            (Quoting::Unquoted, '"') => state = Quoting::Double,
            (Quoting::Unquoted, '\'') => state = Quoting::Single,
            _ => {}
        }
    }
    state
}

/// The characters a double-quoted value escapes with a `\`; [`read`] unescapes these and no others.
const ESCAPED: [char; 3] = ['\\', '"', '$'];

/// `value` (the secret `name`'s) written for `quoting`, or why it cannot be (phpdotenv's and the
/// usual dotenv rules).
pub(crate) fn encode(name: &str, value: &str, quoting: Quoting) -> Result<String, String> {
    if value.contains(['\n', '\r']) {
        return Err(format!("secret `{name}` holds a line break, which a .env line cannot carry"));
    }
    match quoting {
        Quoting::Double => {
            let mut out = String::with_capacity(value.len());
            for c in value.chars() {
                if ESCAPED.contains(&c) {
                    out.push('\\');
                }
                out.push(c);
            }
            Ok(out)
        }
        Quoting::Single if value.contains('\'') => {
            Err(format!("secret `{name}` holds a `'`, which single quotes cannot carry: use double quotes"))
        }
        Quoting::Single => Ok(value.to_owned()),
        Quoting::Unquoted if value.contains(|c: char| c.is_whitespace() || "\"'#$\\`".contains(c)) => Err(format!(
            "secret `{name}` holds spaces or quote, `#`, `$` or `\\` characters, which an unquoted .env value \
             cannot carry: write it in double quotes (`KEY=\"${{secret:{name}}}\"`)"
        )),
        Quoting::Unquoted => Ok(value.to_owned()),
    }
}

/// One `KEY=value` line of a `.env`, its value as the application reads it. Its `Debug` leaves
/// the value out: it may be a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Pair {
    pub key: String,
    pub value: String,
    /// 1-based.
    pub line: usize,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair").field("key", &self.key).field("line", &self.line).finish_non_exhaustive()
    }
}

/// The `KEY=value` lines of a `.env` in file order, duplicates included (`export ` prefixes,
/// comment lines and lines without `=` are passed over). A value in double quotes has `\\`, `\"`
/// and `\$` unescaped (any other `\` stays as it is); one in single quotes is taken as written; a
/// bare one ends at a ` #` comment. A quote that is never closed leaves the value as written.
/// `${…}` is not expanded.
pub fn read(text: &str) -> Vec<Pair> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let (key, raw) = line.strip_prefix("export ").unwrap_or(line).split_once('=')?;
            Some(Pair { key: key.trim().to_owned(), value: value(raw.trim()), line: i + 1 })
        })
        .collect()
}

/// The keys and values of a `.env`; a key defined twice has its later value.
pub fn values(text: &str) -> BTreeMap<String, String> {
    read(text).into_iter().map(|p| (p.key, p.value)).collect()
}

/// A value as written after its `=` (trimmed), as the application reads it.
fn value(raw: &str) -> String {
    if let Some(body) = raw.strip_prefix('"') {
        let mut out = String::with_capacity(body.len());
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return out,
                '\\' => match chars.clone().next() {
                    Some(next) if ESCAPED.contains(&next) => {
                        out.push(next);
                        chars.next();
                    }
                    _ => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        raw.to_owned()
    } else if let Some(body) = raw.strip_prefix('\'') {
        body.split_once('\'').map_or_else(|| raw.to_owned(), |(inside, _)| inside.to_owned())
    } else {
        let end = raw.char_indices().find(|&(i, c)| c == '#' && raw[..i].ends_with(char::is_whitespace));
        end.map_or(raw, |(i, _)| raw[..i].trim_end()).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// `value` rendered into a line as the renderer writes it for `quoting`.
    fn line(value: &str, quoting: Quoting) -> Option<String> {
        let encoded = encode("X", value, quoting).ok()?;
        Some(match quoting {
            Quoting::Double => format!("X=\"{encoded}\"\n"),
            Quoting::Single => format!("X='{encoded}'\n"),
            Quoting::Unquoted => format!("X={encoded}\n"),
        })
    }

    #[test]
    fn reading_undoes_what_the_renderer_escapes() {
        let cases: [(&str, Quoting, &str); 9] = [
            (r#"p"a$s\w"#, Quoting::Double, r#"X="p\"a\$s\\w""#),
            (r"\", Quoting::Double, r#"X="\\""#),
            (r"\$", Quoting::Double, r#"X="\\\$""#),
            (r#"\""#, Quoting::Double, r#"X="\\\"""#),
            ("  spaced  # not a comment ", Quoting::Double, "X=\"  spaced  # not a comment \""),
            ("${APP_NAME}", Quoting::Double, r#"X="\${APP_NAME}""#),
            (r#"no "quote" $here \n"#, Quoting::Single, r#"X='no "quote" $here \n'"#),
            ("", Quoting::Unquoted, "X="),
            ("base64:AbC+/9=", Quoting::Unquoted, "X=base64:AbC+/9="),
        ];
        for (value, quoting, written) in cases {
            let rendered = line(value, quoting).unwrap();
            assert_eq!(rendered.trim_end(), written, "{value:?} for {quoting:?}");
            let read = read(&rendered);
            assert_eq!(read.len(), 1);
            assert_eq!(read[0].value, value, "{written}");
        }
    }

    #[test]
    fn reads_dotenv_lines_as_an_application_does() {
        let text = "# APP_KEY=commented\n\nexport A = 1 \nB=\"x\\ny\" # note\nC='it''s'\nD=bare # note\n\
                    E=a#b\nF=\"open\nG='open\nno equals sign\nB=again\n";
        let read = read(text);
        let got: Vec<(&str, &str, usize)> = read.iter().map(|p| (p.key.as_str(), p.value.as_str(), p.line)).collect();
        assert_eq!(
            got,
            [
                ("A", "1", 3),
                ("B", "x\\ny", 4),
                ("C", "it", 5),
                ("D", "bare", 6),
                ("E", "a#b", 7),
                ("F", "\"open", 8),
                ("G", "'open", 9),
                ("B", "again", 11),
            ]
        );
        assert_eq!(values(text)["B"], "again", "a later definition wins");
        assert_eq!(format!("{:?}", read[0]), "Pair { key: \"A\", line: 3, .. }", "no value in Debug");
    }

    fn quoting() -> impl Strategy<Value = Quoting> {
        prop_oneof![Just(Quoting::Unquoted), Just(Quoting::Double), Just(Quoting::Single)]
    }

    proptest! {
        /// Render a value, read it back, get the same value: wherever the renderer accepts it.
        #[test]
        fn what_is_rendered_reads_back_the_same(value in r#"[ -~\t\u{a0}é€]{0,40}"#, quoting in quoting()) {
            if let Some(rendered) = line(&value, quoting) {
                let read = read(&rendered);
                prop_assert_eq!(read.len(), 1);
                prop_assert_eq!(&read[0].value, &value);
            }
        }
    }
}
