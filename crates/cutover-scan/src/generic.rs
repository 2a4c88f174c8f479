//! The generic rule: a value assigned to a name that says password, secret, token or key, in any
//! of the usual syntaxes (`.env`, YAML, JSON, PHP arrays and `define`, code), kept only when the
//! value looks random and is no placeholder, reference, path, word list or identifier, and
//! sits where a literal can ([`check_site`]).

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
    "bytes",
    "exception",
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

/// Where an assignment sits, beyond its own text: `before` is its line up to the match, `code`
/// says the file is source code, `in_comment` whether the match is inside a comment. Turns away
/// a bare value in code outside comments (code quotes its literals, so `= ReactSharedInternals$1;`
/// is a name) and a "quoted" value whose opening quote closes the string the name is in
/// (`"#?secret="+r,t.setAttribute("` in minified JavaScript).
pub fn check_site(caps: &Captures<'_>, before: &[u8], code: bool, in_comment: impl FnOnce() -> bool) -> bool {
    let Some(whole) = caps.get(0) else { return false };
    if caps.name("u").is_some() {
        return !code || in_comment();
    }
    let (Some(key), Some(value)) = (caps.name("key"), caps.name("s")) else { return true };
    let bytes = whole.as_bytes();
    let Some(&quote) = (value.start() - whole.start()).checked_sub(1).and_then(|i| bytes.get(i)) else { return true };
    let prefix = [before, &bytes[..key.start() - whole.start()]].concat();
    // `"secret": "…"` and `define('KEY', '…')`: the name's string closes right after it.
    let name_quoted = bytes.get(key.end() - whole.start()) == Some(&quote);
    name_quoted || !inside_string(&prefix, quote)
}

/// Whether the end of `line` is inside a string opened with `quote`: an odd count of unescaped
/// `quote`s before it, apostrophes between letters (`don't`) aside.
fn inside_string(line: &[u8], quote: u8) -> bool {
    let mut count = 0usize;
    for (i, &b) in line.iter().enumerate() {
        let escaped = i > 0 && line[i - 1] == b'\\';
        let apostrophe = quote == b'\''
            && i > 0
            && line[i - 1].is_ascii_alphabetic()
            && line.get(i + 1).is_some_and(u8::is_ascii_alphabetic);
        if b == quote && !escaped && !apostrophe {
            count += 1;
        }
    }
    !count.is_multiple_of(2)
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
    !is_path_or_url(value)
        && !is_file_name(value)
        && !is_identifier_path(value)
        && !is_word_list(value)
        && (has_digit_or_symbol(value) || letters_look_random(value))
}

/// The entropy a random value of this length and alphabet almost always reaches: short values
/// repeat characters by chance, and hex has 4 bits at most.
fn min_bits(value: &[u8]) -> f64 {
    let ceiling = if value.iter().all(u8::is_ascii_hexdigit) { 2.5 } else { 3.0 };
    f64::min(ceiling, (value.len() as f64).log2() - 1.0)
}

/// A bare value (`.env`, YAML): as a quoted one, and not an identifier or a dotted reference,
/// nor the rest of an operator the name ends at (`use cutover_secrets::Template;` read as
/// `cutover_secrets` `:` `:Template`, or `token==…`).
pub fn bare_value_ok(value: &[u8]) -> bool {
    !value.starts_with(b":")
        && !value.starts_with(b"=")
        && value_ok(value)
        && has_digit_or_symbol(value)
        && !is_dotted_identifier(value)
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
        || (text.starts_with('/') && text[1..].contains('/') && is_wordy_path(&value[1..]))
}

/// Extensions that make a value a file's name (`'/MissingAppKeyException.php'`,
/// `storage/oauth-private.key`): compared in lower case.
const FILE_EXTENSIONS: &[&str] = &[
    "php", "phtml", "inc", "js", "mjs", "cjs", "ts", "jsx", "tsx", "vue", "json", "yml", "yaml", "xml", "html", "htm",
    "css", "scss", "txt", "md", "rb", "py", "sh", "ini", "conf", "cfg", "toml", "env", "lock", "sql", "log", "pem",
    "key", "crt", "cer", "pub", "p12", "pfx", "jks", "der", "csv", "gz", "zip", "tar", "tgz", "so", "jar", "png",
    "jpg", "gif", "svg", "twig", "tpl", "rs", "go", "java",
];

/// A file's name or path: a known extension after a stem of named parts (`/src/Encrypter.php`,
/// `keys/jwt-private.pem`), not random text that happens to hold a dot.
fn is_file_name(value: &[u8]) -> bool {
    let Some(dot) = value.iter().rposition(|&b| b == b'.') else { return false };
    let extension = value[dot + 1..].to_ascii_lowercase();
    FILE_EXTENSIONS.iter().any(|e| e.as_bytes() == extension.as_slice())
        && value[..dot].iter().any(u8::is_ascii_alphabetic)
        && is_wordy_path(&value[..dot])
}

/// Parts of a path or name, split at `/`, `\`, `.`, `-`, `_`, every one made of words.
fn is_wordy_path(value: &[u8]) -> bool {
    value.split(|b| b"/\\.-_".contains(b)).filter(|p| !p.is_empty()).all(is_wordy)
        && value.iter().all(|b| b.is_ascii_alphanumeric() || b"/\\.-_".contains(b))
}

/// Names joined by `::`, `\` or `->` (`ParagonIE_Sodium_Compat::CRYPTO_BOX_SECRETKEYBYTES`,
/// `App\Models\User`, `$this->token`), each made of words.
fn is_identifier_path(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value);
    let text = text.trim_start_matches(['\\', '$']);
    (text.contains("::") || text.contains('\\') || text.contains("->"))
        && text.split("::").flat_map(|p| p.split('\\')).flat_map(|p| p.split("->")).all(|piece| {
            piece.bytes().next().is_some_and(|b| !b.is_ascii_digit())
                && piece.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
                && piece.split(['_', '$']).all(|p| is_wordy(p.as_bytes()))
        })
}

/// Made of words the way names are (`ParagonIE`, `getElementById`, `SECRETKEYBYTES`, `v2`):
/// lower-case or capitalised words of two letters or more, upper-case runs and numbers. Random
/// text has one-letter words: `mQ2pL` is `m`, `Q`, `2`, `p`, `L`.
fn is_wordy(piece: &[u8]) -> bool {
    if piece.len() <= 1 {
        return true;
    }
    let mut i = 0;
    while i < piece.len() {
        let start = i;
        if piece[i].is_ascii_digit() {
            while i < piece.len() && piece[i].is_ascii_digit() {
                i += 1;
            }
            continue;
        }
        if !piece[i].is_ascii_alphabetic() {
            return false;
        }
        let upper = piece[i..].iter().take_while(|b| b.is_ascii_uppercase()).count();
        if upper >= 2 {
            // An upper-case run; its last letter starts the next word when lower case follows
            // (`XMLHttp`: `XML`, `Http`).
            i += upper;
            if piece.get(i).is_some_and(u8::is_ascii_lowercase) {
                i -= 1;
            }
            continue;
        }
        i += upper;
        let lower = piece[i..].iter().take_while(|b| b.is_ascii_lowercase()).count();
        i += lower;
        // One letter is a word only as a prefix to a number (`v2`, `x86`).
        let prefix = start == 0 && piece.get(i).is_some_and(u8::is_ascii_digit);
        if i - start < 2 && !prefix {
            return false;
        }
    }
    true
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
        assert!(!bare_value_ok(b":Template"), "the rest of `cutover_secrets::Template`");
        assert!(!bare_value_ok(b"=q8Zr2LmW0vTx9KpB4nYc"), "the rest of `token==…`");
        assert!(!bare_value_ok(b"hashedPassword"));
        assert!(bare_value_ok(b"q8Zr2LmW0vTx9KpB4nYc"));
    }

    #[test]
    fn paths_and_names_are_not_values_but_random_text_with_their_punctuation_is() {
        for value in [
            "/MissingAppKeyException.php",
            "/src/Encryption/Encrypter.php",
            "/etc/Passport/Keys",
            "storage/oauth-private.key",
            "Illuminate\\Encryption\\Encrypter",
            "ParagonIE_Sodium_Compat::CRYPTO_BOX_SECRETKEYBYTES",
            "$this->apiToken",
            "\\App\\Models\\UserToken",
        ] {
            assert!(!value_ok(value.as_bytes()), "{value}");
        }
        for value in
            ["/q8Zr2LmW0vTx9KpB4nYc", "/aB3x9/QzK7pL2mW", "q8Zr2LmW0v.Tx9KpB", "Xk9\\mQ2pL7vR4::aZ", "Tx9Kp-B4nYc.key2"]
        {
            assert!(value_ok(value.as_bytes()), "{value}");
        }
    }

    #[test]
    fn names_are_made_of_words_and_random_text_of_letters() {
        for piece in ["ParagonIE", "getElementById", "SECRETKEYBYTES", "XMLHttpRequest", "v2", "Sodium", "x"] {
            assert!(is_wordy(piece.as_bytes()), "{piece}");
        }
        for piece in ["mQ2pL", "q8Zr2LmW", "aBcD", "Xk9m"] {
            assert!(!is_wordy(piece.as_bytes()), "{piece}");
        }
    }

    #[test]
    fn a_quote_that_closes_the_name_s_string_opens_no_value() {
        assert!(inside_string(b"t.src+=\"#?", b'"'));
        assert!(!inside_string(b"x = \"a\" + ", b'"'));
        assert!(!inside_string(b"echo \"Don't lose it: ", b'\''));
        assert!(inside_string(b"echo 'it\\'s ", b'\''));
    }
}
