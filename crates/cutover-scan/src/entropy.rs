//! How random a value looks, and whether it is a placeholder rather than a secret: the filters
//! that keep the generic rules quiet on templates, docs, hashes and identifiers.

/// Shannon entropy of the bytes of `value`, in bits per byte.
pub fn shannon(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value {
        counts[usize::from(b)] += 1;
    }
    let len = value.len() as f64;
    counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / len).map(|p| -p * p.log2()).sum()
}

/// How many of lower case, upper case, digits and other characters `value` mixes.
pub fn classes(value: &[u8]) -> usize {
    let mut seen = [false; 4];
    for &b in value {
        let class = match b {
            b'a'..=b'z' => 0,
            b'A'..=b'Z' => 1,
            b'0'..=b'9' => 2,
            _ => 3,
        };
        seen[class] = true;
    }
    seen.iter().filter(|&&s| s).count()
}

/// Made of runs of keyboard or alphabet sequences (`abcdefgh`, `12345678`, `qwertyuiop`,
/// `asdfqwer1234asdf`), in either case: three quarters of it at least, in runs of 3 or more.
pub fn is_sequential(value: &[u8]) -> bool {
    const SEQUENCES: [&[u8]; 4] = [
        b"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
        b"0123456789012345678901234567890123456789",
        b"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789",
        b"qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm",
    ];
    let lower = value.to_ascii_lowercase();
    let in_sequence = |piece: &[u8]| SEQUENCES.iter().any(|seq| memchr::memmem::find(seq, piece).is_some());
    let (mut covered, mut i) = (0, 0);
    while i < lower.len() {
        let mut run = 0;
        while i + run < lower.len() && in_sequence(&lower[i..=i + run]) {
            run += 1;
        }
        if run >= 3 {
            covered += run;
            i += run;
        } else {
            i += 1;
        }
    }
    !lower.is_empty() && covered * 4 >= lower.len() * 3
}

/// Words that mark a value as an example or a template, compared in lower case.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "changeme",
    "change_me",
    "change-me",
    "changethis",
    "placeholder",
    "your_",
    "your-",
    "yourpass",
    "yoursecret",
    "yourtoken",
    "yourkey",
    "xxxx",
    "****",
    "....",
    "…",
    "dummy",
    "sample",
    "redacted",
    "replace",
    "insert",
    "todo",
    "fixme",
    "notasecret",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "hunter2",
    "not-a-secret",
    "not_a_secret",
    "secret_here",
    "key_here",
    "token_here",
    "-here",
    "_here",
    "process.env",
    "getenv",
    "environ",
    "env(",
    "env[",
    "env.",
    "secrets.",
    "vault:",
    "${",
    "{{",
    "}}",
    "<%",
    "%s",
    "%(",
    "#{",
];

/// Whole values that are words, not secrets.
const PLACEHOLDER_VALUES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "username",
    "null",
    "none",
    "nil",
    "true",
    "false",
    "undefined",
    "string",
    "required",
    "optional",
    "hidden",
    "default",
    "disabled",
    "enabled",
];

/// Whether `value` is a template, an example or an environment reference rather than a value:
/// `${secret:X}`, `changeme`, `xxxx`, `your-key-here`, `<token>`, `%s`, `env('X')`, a run of one
/// character or a keyboard sequence.
pub fn is_placeholder(value: &[u8]) -> bool {
    let Some(&first) = value.first() else { return true };
    if matches!(first, b'$' | b'%' | b'{' | b'<' | b'[' | b'@' | b'&' | b'*' | b'#' | b'(') {
        return true;
    }
    let lower = String::from_utf8_lossy(value).to_lowercase();
    if PLACEHOLDER_VALUES.contains(&lower.as_str()) || PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    value.iter().all(|&b| b == first) || is_sequential(value)
}

/// Whether `value` looks like randomness of at least `min_bits` per character and is no
/// placeholder: what every rule with a fixed prefix asks of the part after it.
pub fn looks_random(value: &[u8], min_bits: f64) -> bool {
    !is_placeholder(value) && shannon(value) >= min_bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_uniform_and_constant_values() {
        assert_eq!(shannon(b""), 0.0);
        assert_eq!(shannon(b"aaaaaaaa"), 0.0);
        assert!((shannon(b"ab") - 1.0).abs() < 1e-9);
        assert!((shannon(b"0123456789abcdef") - 4.0).abs() < 1e-9);
        // 64 distinct characters: 6 bits each.
        let all: Vec<u8> = (b'0'..=b'9').chain(b'a'..=b'z').chain(b'A'..=b'Z').chain([b'+', b'/']).collect();
        assert!((shannon(&all) - 6.0).abs() < 1e-9);
    }

    #[test]
    fn random_tokens_pass_and_words_do_not() {
        assert!(shannon(b"q8Zr2LmW0vTx9KpB4nYc") > 4.0);
        assert!(shannon(b"password") < 3.0);
        assert!(looks_random(b"9f2KqL0xW7ZbT3vRm8Nc", 3.5));
        assert!(!looks_random(b"abababababababab", 3.5));
    }

    #[test]
    fn classes_count_kinds_of_characters() {
        assert_eq!(classes(b"abc"), 1);
        assert_eq!(classes(b"aB3"), 3);
        assert_eq!(classes(b"aB3_"), 4);
    }

    #[test]
    fn placeholders_are_recognised() {
        for value in [
            "${secret:DB_PASSWORD}",
            "{{ secrets.TOKEN }}",
            "changeme",
            "CHANGE_ME_PLEASE",
            "xxxxxxxxxxxxxxxx",
            "your-key-here",
            "<your token>",
            "%s",
            "env('APP_SECRET')",
            "process.env.API_KEY",
            "os.environ['X']",
            "password",
            "12345678",
            "abcdefgh",
            "qwertyuiop",
            "asdfqwer1234asdf",
            "Passw0rd",
            "********",
            "EXAMPLEKEY",
            "",
        ] {
            assert!(is_placeholder(value.as_bytes()), "{value} is a placeholder");
        }
    }

    #[test]
    fn real_looking_values_are_not_placeholders() {
        for value in ["q8Zr2LmW0vTx9KpB4nYc", "tr0ub4dor&3x", "S3cure!Pa55w0rd#2024", "ab8f9c0d1e2f3a4b"] {
            assert!(!is_placeholder(value.as_bytes()), "{value} is not a placeholder");
        }
    }
}
