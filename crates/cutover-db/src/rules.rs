//! `--replace OLD NEW` rules, in every form OLD takes inside a value: as written, JSON-escaped
//! (`https:\/\/…`), and URL-encoded (`https%3A%2F%2F…`, either hex case). One automaton finds
//! them all, longest match first.

use aho_corasick::{AhoCorasick, MatchKind};

use crate::dialect::trailing_backslashes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Raw,
    JsonEscaped,
    UrlEncoded,
}

/// A value with its replacements made, and which forms of the rules occurred in it.
pub type Replaced = (Vec<u8>, Vec<Form>);

/// A match would begin on an escaped byte: the value must be decoded first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsideEscape;

#[derive(Debug, Clone)]
pub struct Rules {
    automaton: Option<AhoCorasick>,
    patterns: Vec<Vec<u8>>,
    replacements: Vec<Vec<u8>>,
    forms: Vec<Form>,
    /// For each rule, its longest run of URL-safe bytes: it stands unchanged in every form, so a
    /// value without any of them cannot match (a SIMD search, far cheaper than the automaton).
    keys: Vec<memchr::memmem::Finder<'static>>,
}

impl Rules {
    pub fn new(pairs: &[(String, String)]) -> Result<Self, String> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut replacements = Vec::new();
        let mut forms = Vec::new();
        let mut add = |old: String, new: String, form: Form| {
            if !old.is_empty() && !patterns.iter().any(|p| p == old.as_bytes()) {
                patterns.push(old.into_bytes());
                replacements.push(new.into_bytes());
                forms.push(form);
            }
        };
        for (i, (old, new)) in pairs.iter().enumerate() {
            if old.is_empty() {
                return Err("a --replace pattern cannot be empty".into());
            }
            // Which NEW would win is not the user's choice to guess: the second is a mistake.
            if pairs[..i].iter().any(|(earlier, _)| earlier == old) {
                return Err(format!("`--replace {old}` is given twice; give each OLD once"));
            }
            add(old.clone(), new.clone(), Form::Raw);
            add(old.replace('/', "\\/"), new.replace('/', "\\/"), Form::JsonEscaped);
            add(url_encode(old, true), url_encode(new, true), Form::UrlEncoded);
            add(url_encode(old, false), url_encode(new, false), Form::UrlEncoded);
        }
        let automaton = build(&patterns)?;
        let runs: Vec<&str> = pairs.iter().map(|(old, _)| longest_safe_run(old)).collect();
        // A rule without such a run (made only of other bytes) is found by the automaton alone.
        let keys = if runs.iter().all(|r| !r.is_empty()) {
            runs.iter().map(|r| memchr::memmem::Finder::new(r.as_bytes()).into_owned()).collect()
        } else {
            Vec::new()
        };
        Ok(Self { automaton, patterns, replacements, forms, keys })
    }

    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// Whether any form of any rule occurs in `value`.
    pub fn matches(&self, value: &[u8]) -> bool {
        let Some(automaton) = &self.automaton else { return false };
        if !self.keys.is_empty() && !self.keys.iter().any(|k| k.find(value).is_some()) {
            return false;
        }
        automaton.is_match(value)
    }

    /// Whether some rule's NEW contains its OLD: then finding OLD after a rewrite means nothing.
    pub fn new_contains_old(&self) -> bool {
        self.patterns.iter().zip(&self.replacements).any(|(p, r)| memchr::memmem::find(r, p).is_some())
    }

    /// Whether every rule has a URL-safe key (see [`Rules::might_match`]).
    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Whether some rule's host part occurs in `value`: enough reason to look inside a structured
    /// value, whose strings may hold OLD escaped more than once (JSON in JSON).
    pub fn might_match(&self, value: &[u8]) -> bool {
        if self.keys.is_empty() {
            return self.matches(value);
        }
        self.keys.iter().any(|k| k.find(value).is_some())
    }

    /// The same rules for text as a dump writes it: every pattern and replacement passed through
    /// `escape`. `None` when a pattern would contain `quote` (a match could then straddle an
    /// escaped quote).
    pub fn escaped(&self, escape: &dyn Fn(&[u8]) -> Vec<u8>, quote: u8) -> Option<Self> {
        let patterns: Vec<Vec<u8>> = self.patterns.iter().map(|p| escape(p)).collect();
        if patterns.iter().any(|p| p.contains(&quote)) {
            return None;
        }
        Some(Self {
            automaton: build(&patterns).ok()?,
            patterns,
            replacements: self.replacements.iter().map(|r| escape(r)).collect(),
            forms: self.forms.clone(),
            keys: self.keys.clone(),
        })
    }

    /// Like [`Rules::apply`] on escaped text, where `\` escapes the next byte: `Err` when a match
    /// would begin on an escaped byte (the caller then decodes the value first).
    pub fn apply_escaped(&self, raw: &[u8]) -> Result<Option<Replaced>, InsideEscape> {
        self.replace(raw, |start| trailing_backslashes(&raw[..start]).is_multiple_of(2))
    }

    /// Replaces every occurrence; returns the new bytes and which forms occurred.
    pub fn apply(&self, value: &[u8]) -> Option<Replaced> {
        self.replace(value, |_| true).unwrap_or(None)
    }

    /// One pass of the automaton; `Err` as soon as `allowed` refuses a match's start.
    fn replace(&self, value: &[u8], allowed: impl Fn(usize) -> bool) -> Result<Option<Replaced>, InsideEscape> {
        let Some(automaton) = &self.automaton else { return Ok(None) };
        let mut out = Vec::new();
        let mut last = 0;
        let mut hit = Vec::new();
        for m in automaton.find_iter(value) {
            if !allowed(m.start()) {
                return Err(InsideEscape);
            }
            if out.capacity() == 0 {
                out.reserve(value.len() + 16);
            }
            out.extend_from_slice(&value[last..m.start()]);
            out.extend_from_slice(&self.replacements[m.pattern().as_usize()]);
            let form = self.forms[m.pattern().as_usize()];
            if !hit.contains(&form) {
                hit.push(form);
            }
            last = m.end();
        }
        if hit.is_empty() {
            return Ok(None);
        }
        out.extend_from_slice(&value[last..]);
        Ok(Some((out, hit)))
    }
}

fn build(patterns: &[Vec<u8>]) -> Result<Option<AhoCorasick>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns)
        .map(Some)
        .map_err(|e| format!("cannot build the replace rules: {e}"))
}

/// The longest run of bytes that every form (raw, JSON-escaped, URL-encoded) leaves as they are.
fn longest_safe_run(text: &str) -> &str {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.~".contains(c)))
        .max_by_key(|run| run.len())
        .unwrap_or_default()
}

/// PHP's `rawurlencode` (letters, digits and `-_.~` kept), with upper- or lowercase hex.
fn url_encode(text: &str, upper: bool) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_replaced_with_the_same_form() {
        let rules = Rules::new(&[("https://staging.shop.test".into(), "https://shop.example".into())]).unwrap();
        let (out, forms) = rules
            .apply(b"a https://staging.shop.test/x b https:\\/\\/staging.shop.test c https%3A%2F%2Fstaging.shop.test d https%3a%2f%2fstaging.shop.test")
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a https://shop.example/x b https:\\/\\/shop.example c https%3A%2F%2Fshop.example d https%3a%2f%2fshop.example"
        );
        assert_eq!(forms, [Form::Raw, Form::JsonEscaped, Form::UrlEncoded]);
        assert!(rules.apply(b"nothing here").is_none());
    }

    #[test]
    fn the_longest_rule_wins() {
        let rules =
            Rules::new(&[("staging.test".into(), "A".into()), ("cdn.staging.test".into(), "B".into())]).unwrap();
        assert_eq!(rules.apply(b"cdn.staging.test staging.test").unwrap().0, b"B A");
    }

    #[test]
    fn the_same_old_twice_is_refused() {
        let pairs = [("a.test".to_owned(), "b.test".to_owned()), ("a.test".to_owned(), "c.test".to_owned())];
        assert_eq!(Rules::new(&pairs).err().unwrap(), "`--replace a.test` is given twice; give each OLD once");
    }
}
