//! What a finding may say about its value: a short prefix and the length, and a fingerprint to
//! name it in `.cutoverignore`. The value itself never leaves the scanner.

/// At most 4 characters of `value` (a fifth of it for short values), `…` and the length:
/// `AKIA… (20 chars)`.
pub fn redact(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let len = text.chars().count();
    let shown: String = text.chars().take((len / 5).min(4)).collect();
    format!("{shown}… ({len} chars)")
}

/// 16 hex digits of a BLAKE3 hash of the value: the same value has the same fingerprint in
/// every file and commit, so one `fingerprint:` line in `.cutoverignore` accepts it everywhere.
pub fn fingerprint(value: &[u8]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"cutover secrets scan\0");
    hasher.update(value);
    hasher.finalize().to_hex()[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_shows_a_short_prefix_and_the_length() {
        assert_eq!(redact(concat!("AKIA", "Q3EGRXTZ7M4DPLWY").as_bytes()), "AKIA… (20 chars)");
        assert_eq!(redact(b"hunter2hunter"), "hu… (13 chars)");
        assert_eq!(redact(b"abcd"), "… (4 chars)");
    }

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        assert_eq!(fingerprint(b"one"), fingerprint(b"one"));
        assert_ne!(fingerprint(b"one"), fingerprint(b"two"));
        assert_eq!(fingerprint(b"one").len(), 16);
    }
}
