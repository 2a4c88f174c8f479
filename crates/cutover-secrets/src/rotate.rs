//! New values for secrets that can be generated: Laravel's `APP_KEY` (`base64:` and 32 random
//! bytes), random passwords, random hex. Rotating `APP_KEY` keeps the old key in
//! `APP_PREVIOUS_KEYS`, so sessions and values encrypted with it stay readable.

use base64::Engine;

use crate::{Secret, SecretsError};

/// How a new value is made (mirrors the config's `[secrets] generate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AppKey,
    Password(usize),
    Hex(usize),
}

/// The name Laravel reads its old keys from.
pub const PREVIOUS_KEYS: &str = "APP_PREVIOUS_KEYS";

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub fn generate(kind: Kind) -> Result<Secret, SecretsError> {
    let random = |n: usize| -> Result<zeroize::Zeroizing<Vec<u8>>, SecretsError> {
        let mut bytes = zeroize::Zeroizing::new(vec![0u8; n]);
        getrandom::getrandom(&mut bytes).map_err(|e| SecretsError::Rotate(format!("no randomness: {e}")))?;
        Ok(bytes)
    };
    Ok(match kind {
        Kind::AppKey => {
            Secret::new(format!("base64:{}", base64::engine::general_purpose::STANDARD.encode(random(32)?.as_slice())))
        }
        Kind::Password(len) => {
            // Rejection sampling: every character equally likely.
            let mut out = zeroize::Zeroizing::new(String::with_capacity(len));
            while out.len() < len {
                for &b in random(len)?.iter() {
                    if (b as usize) < 248 && out.len() < len {
                        out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
                    }
                }
            }
            Secret::new(out.as_str())
        }
        Kind::Hex(n) => {
            let bytes = random(n)?;
            Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
    })
}

/// Whether a new value of `name` must also be changed where something else checks it (a
/// database user's password, a mail account's) before the app is given it. A key or a salt that
/// only the app uses (`APP_KEY`, WordPress's `AUTH_SALT` and `LOGGED_IN_KEY`, a `SESSION_SECRET`)
/// is not: its new value is simply the app's from the next deploy on. The name decides when it
/// says which it is (a word `PASSWORD`, `PASSWD`, `PASS` or `PWD`; a last word `KEY`, `SALT`,
/// `SECRET`, `NONCE` or `PEPPER`), else the generator does: a `password` is for someone to check.
pub fn checked_elsewhere(name: &str, kind: Kind) -> bool {
    if kind == Kind::AppKey {
        return false;
    }
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(['_', '-', '.']).filter(|w| !w.is_empty()).collect();
    if words.iter().any(|w| ["PASSWORD", "PASSWD", "PASS", "PWD"].contains(w)) {
        return true;
    }
    if words.last().is_some_and(|w| ["KEY", "SALT", "SECRET", "NONCE", "PEPPER"].contains(w)) {
        return false;
    }
    matches!(kind, Kind::Password(_))
}

/// `APP_PREVIOUS_KEYS` after rotating away from `old`: the old key first, then the keys that
/// were already there, without repeats.
pub fn previous_keys(old: &Secret, existing: Option<&Secret>) -> Secret {
    let mut keys = vec![old.expose().to_owned()];
    if let Some(existing) = existing {
        for k in existing.expose().split(',').map(str::trim).filter(|k| !k.is_empty()) {
            if !keys.iter().any(|have| have == k) {
                keys.push(k.to_owned());
            }
        }
    }
    let joined = zeroize::Zeroizing::new(keys.join(","));
    for k in &mut keys {
        zeroize::Zeroize::zeroize(k);
    }
    Secret::new(joined.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_checked_elsewhere_and_the_apps_own_keys_and_salts_are_not() {
        for (name, kind) in [
            ("DB_PASSWORD", Kind::Password(32)),
            ("REDIS_PASS", Kind::Hex(24)),
            ("mail_pwd", Kind::Hex(16)),
            ("SMTP_PASSWORD_KEY", Kind::Hex(16)),
            ("BASIC_AUTH", Kind::Password(20)),
        ] {
            assert!(checked_elsewhere(name, kind), "{name}");
        }
        for (name, kind) in [
            ("APP_KEY", Kind::AppKey),
            ("AUTH_SALT", Kind::Password(64)),
            ("LOGGED_IN_KEY", Kind::Password(64)),
            ("SESSION_SECRET", Kind::Hex(32)),
            ("SIGNING", Kind::Hex(32)),
        ] {
            assert!(!checked_elsewhere(name, kind), "{name}");
        }
    }

    #[test]
    fn generated_values_have_the_right_shape_and_differ() {
        let key = generate(Kind::AppKey).unwrap();
        let raw = key.expose().strip_prefix("base64:").unwrap();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(raw).unwrap().len(), 32);
        assert_ne!(generate(Kind::AppKey).unwrap(), key);
        let pw = generate(Kind::Password(40)).unwrap();
        assert_eq!(pw.expose().len(), 40);
        assert!(pw.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        let hex = generate(Kind::Hex(16)).unwrap();
        assert_eq!(hex.expose().len(), 32);
    }

    #[test]
    fn the_old_app_key_goes_first_into_previous_keys() {
        let old = Secret::new("base64:OLD");
        assert_eq!(previous_keys(&old, None).expose(), "base64:OLD");
        let existing = Secret::new("base64:OLDER, base64:OLD");
        assert_eq!(previous_keys(&old, Some(&existing)).expose(), "base64:OLD,base64:OLDER");
    }
}
