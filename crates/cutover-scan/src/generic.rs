//! The generic rule: a value assigned to a name that says password, secret, token or key, in any
//! of the usual syntaxes (`.env`, YAML, JSON, PHP arrays and `define`, code), kept only when the
//! value looks random and is no placeholder, reference, path, word list or identifier.

use regex::bytes::Captures;

use super::entropy::{classes, is_placeholder, shannon};

/// Pre-filter keywords (ASCII case ignored).
pub const KEYWORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "api.key",
    "accesskey",
    "access_key",
    "access-key",
    "authkey",
    "auth_key",
    "auth-key",
    "privatekey",
    "private_key",
    "private-key",
    "signingkey",
    "signing_key",
    "encryptionkey",
    "encryption_key",
    "masterkey",
    "master_key",
    "appkey",
    "app_key",
    "credential",
    "salt",
];

/// `NAME = "value"`, `name: value`, `'name' => 'value'`, `"name": "value"`, `NAME=value`. The
/// value is group `s` when quoted, group `u` when bare (then it must end the line, a trailing
/// comment aside).
pub const ASSIGNMENT: &str = r#"(?i)(?P<key>[a-z0-9_.-]*(?:password|passwd|passphrase|pwd|secret|token|api[_.-]?key|access[_.-]?key|auth[_.-]?key|private[_.-]?key|signing[_.-]?key|encryption[_.-]?key|master[_.-]?key|app[_.-]?key|credentials?|salt)[a-z0-9_.-]*)["'`\]]?\s*(?:=>|:=|\?=|=|:)\s*(?:["'`](?P<s>[^"'`\s\\]{8,})["'`]|(?P<u>[^\s"'`;,(){}\[\]<>]{8,})\s*(?:(?:#|//|;).*)?$)"#;

/// PHP's `define('DB_PASSWORD', '…')` (WordPress `wp-config.php` keys and salts).
pub const DEFINE: &str = r#"(?i)define\(\s*["'](?P<key>[a-z0-9_]*(?:password|key|salt|secret|token)[a-z0-9_]*)["']\s*,\s*["'](?P<s>[^"'\r\n]{8,})["']"#;

/// The keyword stems of [`ASSIGNMENT`], to find where the name's keyword ends.
const STEMS: &[&str] =
    &["password", "passwd", "passphrase", "pwd", "secret", "token", "key", "credentials", "credential", "salt"];

/// Endings of a name after its keyword that make it about the secret rather than the secret:
/// `token_type`, `password_field`, `secret_name`, `api_key_id`, `password_min_length`.
const NOT_SECRET_SUFFIXES: &[&str] = &[
    "id",
    "ids",
    "name",
    "names",
    "type",
    "types",
    "url",
    "uri",
    "path",
    "file",
    "field",
    "fields",
    "length",
    "len",
    "size",
    "prefix",
    "suffix",
    "header",
    "headers",
    "env",
    "var",
    "mode",
    "count",
    "regex",
    "pattern",
    "policy",
    "format",
    "hint",
    "label",
    "placeholder",
    "question",
    "reset",
    "confirmation",
    "confirm",
    "expires",
    "expiry",
    "expiration",
    "expiresin",
    "expiresat",
    "ttl",
    "timeout",
    "version",
    "endpoint",
    "provider",
    "ref",
    "arn",
    "column",
    "method",
    "store",
    "manager",
    "helper",
    "service",
    "validator",
    "input",
    "class",
    "min",
    "max",
    "rule",
    "rules",
    "lifetime",
    "generator",
    "hash",
    "hashed",
    "digest",
    "form",
    "page",
    "route",
    "view",
    "template",
    "link",
    "button",
    "text",
    "message",
    "msg",
    "error",
    "title",
    "description",
    "enabled",
    "required",
    "location",
    "dir",
    "param",
    "params",
    "source",
    "kind",
    "algorithm",
    "algo",
    "cipher",
    "scheme",
    "strategy",
    "factory",
    "handler",
    "callback",
    "storage",
    "cache",
    "limit",
    "attempts",
    "retries",
    "changed",
];

/// Words inside a value that show it names a secret rather than being one.
const VALUE_STEMS: &[&str] = &["password", "passwd", "secret", "token", "credential", "apikey", "api_key"];

pub fn check_assignment(caps: &Captures<'_>) -> bool {
    let key = caps.name("key").map_or(&[][..], |m| m.as_bytes());
    if !secret_name(key) {
        return false;
    }
    match (caps.name("s"), caps.name("u")) {
        (Some(quoted), _) => value_ok(quoted.as_bytes()),
        (None, Some(bare)) => bare_value_ok(bare.as_bytes()),
        (None, None) => false,
    }
}

pub fn check_define(caps: &Captures<'_>) -> bool {
    let key = caps.name("key").map_or(&[][..], |m| m.as_bytes());
    let Some(value) = caps.name("s").map(|m| m.as_bytes()) else { return false };
    let spaces = value.iter().filter(|&&b| b == b' ').count();
    secret_name(key) && spaces <= 3 && (spaces == 0 || classes(value) >= 3) && value_ok_with_spaces(value)
}

/// Whether the name holding the value is a secret's, judged by what follows its last keyword.
pub fn secret_name(key: &[u8]) -> bool {
    let lower = key.to_ascii_lowercase();
    let lower = String::from_utf8_lossy(&lower);
    let Some(end) = STEMS.iter().filter_map(|stem| lower.rfind(stem).map(|at| at + stem.len())).max() else {
        return false;
    };
    let suffix: String = lower[end..].chars().filter(char::is_ascii_alphanumeric).collect();
    !NOT_SECRET_SUFFIXES.iter().any(|s| suffix.ends_with(s))
}

/// A quoted value: random enough, and none of the things that only look like secrets.
pub fn value_ok(value: &[u8]) -> bool {
    !value.contains(&b' ') && value_ok_with_spaces(value)
}

fn value_ok_with_spaces(value: &[u8]) -> bool {
    if value.len() < 8 || is_placeholder(value) || shannon(value) < min_bits(value) || classes(value) < 2 {
        return false;
    }
    // Laravel's `base64:` keys have a rule of their own, which knows a typed one from a generated one.
    if value.starts_with(b"base64:") {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    if VALUE_STEMS.iter().any(|s| memchr::memmem::find(&lower, s.as_bytes()).is_some()) {
        return false;
    }
    !is_path_or_url(value) && !is_word_list(value) && (has_digit_or_symbol(value) || letters_look_random(value))
}

/// The entropy a random value of this length and alphabet almost always reaches: short values
/// repeat characters by chance, and hex has 4 bits at most.
fn min_bits(value: &[u8]) -> f64 {
    let ceiling = if value.iter().all(u8::is_ascii_hexdigit) { 2.5 } else { 3.0 };
    f64::min(ceiling, (value.len() as f64).log2() - 1.0)
}

/// A bare value (`.env`, YAML): as a quoted one, and not an identifier or a dotted reference.
pub fn bare_value_ok(value: &[u8]) -> bool {
    value_ok(value) && has_digit_or_symbol(value) && !is_dotted_identifier(value)
}

fn is_path_or_url(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value);
    text.contains("://")
        || text.starts_with("./")
        || text.starts_with("../")
        || text.starts_with("~/")
        || (text.starts_with('/')
            && text[1..].contains('/')
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_./-".contains(&b)))
}

/// Words joined by punctuation (`required|string|min:8`, `my_app_session_value`, `AUTH_HEADER`):
/// every piece is a word in one case or a number, where random text mixes digits into letters.
fn is_word_list(value: &[u8]) -> bool {
    let pieces: Vec<&[u8]> = value.split(|b| !b.is_ascii_alphanumeric()).filter(|p| !p.is_empty()).collect();
    pieces.len() >= 2
        && pieces.iter().all(|p| {
            p.iter().all(u8::is_ascii_digit)
                || p.iter().all(u8::is_ascii_lowercase)
                || p.iter().all(u8::is_ascii_uppercase)
                || (p[0].is_ascii_uppercase() && p[1..].iter().all(u8::is_ascii_lowercase))
        })
}

fn has_digit_or_symbol(value: &[u8]) -> bool {
    value.iter().any(|b| b.is_ascii_digit() || !(b.is_ascii_alphanumeric() || b"_.-".contains(b)))
}

/// Letters only: random when the case changes often and never stays for long (`qZbTrWmK…`),
/// not camel case (`someConfigName`, `SomeRandomString`), whose words are runs of lower case.
fn letters_look_random(value: &[u8]) -> bool {
    let letters: Vec<bool> = value.iter().filter(|b| b.is_ascii_alphabetic()).map(u8::is_ascii_uppercase).collect();
    if letters.len() < 16 {
        return false;
    }
    let switches = letters.windows(2).filter(|w| w[0] != w[1]).count();
    let longest_run = letters.chunk_by(|a, b| a == b).map(<[bool]>::len).max().unwrap_or(0);
    switches * 5 >= letters.len() * 2 && longest_run <= 4
}

fn is_dotted_identifier(value: &[u8]) -> bool {
    value
        .split(|&b| b == b'.')
        .all(|p| !p.is_empty() && !p[0].is_ascii_digit() && p.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_'))
        && value.contains(&b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_about_a_secret_are_not_secret_names() {
        for key in ["DB_PASSWORD", "apiKey", "client_secret", "AWS_SESSION_TOKEN", "secret_key_base", "AUTH_SALT"] {
            assert!(secret_name(key.as_bytes()), "{key}");
        }
        for key in ["token_type", "password_field", "secret_name", "api_key_id", "PASSWORD_MIN_LENGTH", "tokenUrl"] {
            assert!(!secret_name(key.as_bytes()), "{key}");
        }
    }

    #[test]
    fn values_that_look_like_secrets() {
        for value in [
            "q8Zr2LmW0vTx9KpB4nYc",
            "S3cure!Pa55w0rd#2024",
            "ab8f9c0d1e2f3a4b5c6d",
            "QzXbTrWmKpLaNsDvFgHj",
            // Short random values repeat characters: 2.5 bits.
            "aB3aB9xQ",
            "9f9f0a1b2c3d4e5f",
        ] {
            assert!(value_ok(value.as_bytes()), "{value}");
        }
    }

    #[test]
    fn values_that_only_look_like_secrets() {
        for value in [
            "required|string|min:8|confirmed",
            "my_app_session_value",
            "AUTH_TOKEN_HEADER",
            "someConfigName",
            "SomeRandomString",
            "AnotherCamelCaseIdentifier",
            "reset_password_token",
            "https://example.com/token",
            "/usr/local/etc/secret",
            "12345678901234",
            "${DB_PASSWORD}",
            "changeme123",
            "with space inside",
        ] {
            assert!(!value_ok(value.as_bytes()), "{value}");
        }
        assert!(!bare_value_ok(b"config.database.secretValue"));
        assert!(!bare_value_ok(b"hashedPassword"));
        assert!(bare_value_ok(b"q8Zr2LmW0vTx9KpB4nYc"));
    }
}
