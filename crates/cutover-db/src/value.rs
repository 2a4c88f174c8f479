//! One value of a dump, rewritten by kind: a Laravel payload is opened, its plaintext rewritten
//! and sealed again; a PHP-serialized or JSON value is parsed and its strings rewritten (each
//! again by kind, so serialized data inside serialized strings works); anything else gets the
//! plain rules. A value that looks serialized but does not parse is left alone and reported; one
//! that only looks like JSON is text (JSON has no lengths a replace could break).

use crate::laravel::{self, AppKey};
use crate::rules::{Form, Rules};
use crate::{json, serialized};

/// Strings nested in strings deeper than this are left as they are.
const MAX_NESTING: usize = 32;

#[derive(Debug, Clone)]
pub struct Reencrypt {
    /// Tried in order: the old APP_KEY, then its APP_PREVIOUS_KEYS.
    pub old: Vec<AppKey>,
    pub new: AppKey,
}

#[derive(Debug, Clone)]
pub struct Rewriter {
    rules: Rules,
    reencrypt: Option<Reencrypt>,
}

/// What happened to one value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub plain: bool,
    pub serialized: bool,
    pub json: bool,
    pub url_encoded: bool,
    pub reencrypted: bool,
    /// Why some part of the value was left as it was.
    pub problem: Option<String>,
}

impl Rewriter {
    pub fn new(rules: Rules, reencrypt: Option<Reencrypt>) -> Self {
        Self { rules, reencrypt }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Whether `value` can only be plain text to the rewriter: not an encrypted payload, not
    /// serialized, not JSON-shaped. Its first bytes decide, so escaped text answers the same.
    pub fn plain_shaped(&self, value: &[u8]) -> bool {
        let payload = self.reencrypt.is_some() && value.starts_with(b"eyJpdiI6");
        !(payload || serialized::looks_serialized(value) || json::looks_json(value))
    }

    /// True when no value can ever change: the dump is copied through.
    pub fn is_noop(&self) -> bool {
        self.rules.is_empty() && self.reencrypt.is_none()
    }

    /// Whether `value` could change at all; false for the vast majority, which is the fast path.
    pub fn candidate(&self, value: &[u8]) -> bool {
        self.rules.might_match(value)
            || (self.reencrypt.is_some() && memchr::memmem::find(value, b"eyJpdiI6").is_some())
    }

    /// The new value, or `None` when it stays as it is; `change` says what was done or refused.
    pub fn rewrite(&self, value: &[u8], change: &mut Change) -> Option<Vec<u8>> {
        let new = self.rewrite_at(value, 0, change, true);
        self.check_leftovers(value, new.as_deref(), change);
        new
    }

    /// A structured value may keep OLD where cutover does not rewrite (a JSON or PHP array key, a
    /// property name, a custom `C:` payload): that is reported, not passed over in silence.
    fn check_leftovers(&self, value: &[u8], new: Option<&[u8]>, change: &mut Change) {
        if change.problem.is_none()
            && !self.plain_shaped(value)
            && !self.rules.new_contains_old()
            && self.rules.matches(new.unwrap_or(value))
        {
            change.problem = Some(
                "a rule's pattern remains in a part that is not rewritten (a key, a property name or a custom \
                 serialized payload)"
                    .into(),
            );
        }
    }

    /// For a binary column's value: rewritten only when it is text, or a structure that parses
    /// (serialized, JSON, an encrypted payload); a plain replace could break a binary format.
    pub fn rewrite_binary(&self, value: &[u8], change: &mut Change) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(value).is_ok();
        let new = self.rewrite_at(value, 0, change, text);
        if new.is_none() && !text && change.problem.is_none() && self.rules.matches(value) {
            change.problem = Some("binary value that is not text holds a rule's pattern; left as it was".into());
        }
        new
    }

    fn rewrite_at(&self, value: &[u8], depth: usize, change: &mut Change, plain: bool) -> Option<Vec<u8>> {
        if !self.candidate(value) {
            return None;
        }
        if depth > MAX_NESTING {
            change.problem.get_or_insert(format!("nested more than {MAX_NESTING} strings deep; left as it was"));
            return None;
        }
        if let Some(re) = &self.reencrypt
            && laravel::looks_like_payload(value)
        {
            return match laravel::open(&re.old, value) {
                Ok((opened, mode)) => {
                    let inner = self.rewrite_at(&opened, depth + 1, change, true).unwrap_or(opened);
                    change.reencrypted = true;
                    Some(laravel::seal(&re.new, mode, &inner))
                }
                Err(e) => {
                    change.problem.get_or_insert(e.to_string());
                    None
                }
            };
        }
        if serialized::looks_serialized(value) {
            let result = serialized::rewrite(value, &mut |s: &[u8]| self.rewrite_at(s, depth + 1, change, true));
            return self.structured(result, change, "PHP-serialized", |c| c.serialized = true);
        }
        if json::looks_json(value) {
            // Text that only starts like JSON (a shortcode, `{{ template }}`, a PostgreSQL array)
            // has no lengths to break: it gets the plain rules, and no trace of the attempt.
            let before = change.clone();
            match json::rewrite(value, &mut |s: &[u8]| self.rewrite_at(s, depth + 1, change, true)) {
                Ok(result) => {
                    change.json |= result.is_some();
                    return result;
                }
                Err(_) => *change = before,
            }
        }
        if !plain {
            return None;
        }
        let (out, forms) = self.rules.apply(value)?;
        for form in forms {
            match form {
                Form::Raw => change.plain = true,
                Form::JsonEscaped => change.json = true,
                Form::UrlEncoded => change.url_encoded = true,
            }
        }
        Some(out)
    }

    fn structured(
        &self,
        result: Result<Option<Vec<u8>>, String>,
        change: &mut Change,
        what: &str,
        mark: fn(&mut Change),
    ) -> Option<Vec<u8>> {
        match result {
            Ok(Some(out)) => {
                mark(change);
                Some(out)
            }
            Ok(None) => None,
            Err(e) => {
                change.problem.get_or_insert(format!("looks {what} but does not parse ({e}); left as it was"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewriter(reencrypt: Option<Reencrypt>) -> Rewriter {
        Rewriter::new(Rules::new(&[("http://old.test".into(), "https://new.example.org".into())]).unwrap(), reencrypt)
    }

    #[test]
    fn serialized_inside_serialized_and_json_inside_serialized_are_rewritten() {
        let inner = "a:1:{s:3:\"url\";s:15:\"http://old.test\";}";
        let json = r#"{"u":"http:\/\/old.test\/"}"#;
        let value =
            format!("a:2:{{s:5:\"inner\";s:{}:\"{inner}\";s:4:\"json\";s:{}:\"{json}\";}}", inner.len(), json.len());
        let mut change = Change::default();
        let out = String::from_utf8(rewriter(None).rewrite(value.as_bytes(), &mut change).unwrap()).unwrap();
        let new_inner = "a:1:{s:3:\"url\";s:23:\"https://new.example.org\";}";
        assert!(out.contains(&format!("s:{}:\"{new_inner}\"", new_inner.len())), "{out}");
        let new_json = r#"{"u":"https:\/\/new.example.org\/"}"#;
        assert!(out.contains(&format!("s:{}:\"{new_json}\"", new_json.len())), "{out}");
        assert!(change.serialized && change.problem.is_none());
    }

    #[test]
    fn broken_serialized_value_is_left_exactly_and_reported() {
        let value = b"a:1:{s:3:\"url\";s:99:\"http://old.test\";}";
        let mut change = Change::default();
        assert_eq!(rewriter(None).rewrite(value, &mut change), None);
        assert!(change.problem.unwrap().contains("looks PHP-serialized but does not parse"));
    }

    #[test]
    fn encrypted_values_are_reencrypted_with_their_plaintext_rewritten() {
        let old = AppKey::parse(&format!("base64:{}", base64_of(&[1; 32]))).unwrap();
        let new = AppKey::parse(&format!("base64:{}", base64_of(&[2; 32]))).unwrap();
        let sealed = laravel::seal(&old, laravel::Mode::Cbc, b"s:15:\"http://old.test\";");
        let rw = rewriter(Some(Reencrypt { old: vec![old.clone()], new: new.clone() }));
        let mut change = Change::default();
        let out = rw.rewrite(&sealed, &mut change).unwrap();
        assert!(change.reencrypted && change.serialized);
        let (plain, mode) = laravel::open(&[new], &out).unwrap();
        assert_eq!(plain, b"s:23:\"https://new.example.org\";");
        assert_eq!(mode, laravel::Mode::Cbc);
        assert!(laravel::open(&[old], &out).is_err());
    }

    fn base64_of(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}
