//! Laravel's Encrypter payloads: `base64(json{iv, value, mac, tag})`, AES-128/256-CBC with
//! HMAC-SHA256 or AES-128/256-GCM. Values encrypted with staging's APP_KEY are opened with it
//! (or a previous key) and sealed again with production's, in Laravel's exact format.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::Mac;
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// An application key. Its bytes never appear in `Debug` output or messages.
#[derive(Clone)]
pub struct AppKey(Vec<u8>);

impl std::fmt::Debug for AppKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AppKey(AES-{}, redacted)", self.0.len() * 8)
    }
}

impl AppKey {
    /// Parses `base64:…` (Laravel's form) or a raw 16/32-byte key. The error never echoes the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim().trim_matches('"').trim_matches('\'');
        let bytes = match text.strip_prefix("base64:") {
            Some(b64) => B64.decode(b64).map_err(|_| "the key after `base64:` is not valid base64".to_owned())?,
            None => text.as_bytes().to_vec(),
        };
        match bytes.len() {
            16 | 32 => Ok(Self(bytes)),
            n => Err(format!("the key is {n} bytes; Laravel keys are 16 (AES-128) or 32 (AES-256) bytes")),
        }
    }
}

/// The cipher mode a payload used; its key size follows the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Cbc,
    Gcm,
}

#[derive(Deserialize)]
struct Envelope {
    iv: String,
    value: String,
    #[serde(default)]
    mac: String,
    #[serde(default)]
    tag: Option<String>,
}

/// Whether `bytes` looks like an Encrypter payload: base64 of `{"iv":`.
pub fn looks_like_payload(bytes: &[u8]) -> bool {
    bytes.len() >= 40
        && bytes.starts_with(b"eyJpdiI6")
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Why a payload could not be opened (never includes key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    NotAPayload(&'static str),
    NoKeyOpensIt,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAPayload(why) => write!(f, "not a Laravel payload: {why}"),
            Self::NoKeyOpensIt => {
                f.write_str("no configured key opens this encrypted value (MAC or tag does not verify)")
            }
        }
    }
}

/// Decrypts with the first key that verifies; returns the plaintext and the mode used.
pub fn open(keys: &[AppKey], payload: &[u8]) -> Result<(Vec<u8>, Mode), OpenError> {
    let json = B64.decode(payload).map_err(|_| OpenError::NotAPayload("invalid base64"))?;
    let env: Envelope = serde_json::from_slice(&json).map_err(|_| OpenError::NotAPayload("invalid JSON"))?;
    let iv = B64.decode(&env.iv).map_err(|_| OpenError::NotAPayload("invalid iv"))?;
    let tag = env.tag.as_deref().filter(|t| !t.is_empty());
    for key in keys {
        let opened = match tag {
            Some(tag) => open_gcm(key, &iv, &env.value, tag).map(|p| (p, Mode::Gcm)),
            None => open_cbc(key, &iv, &env.iv, &env.value, &env.mac).map(|p| (p, Mode::Cbc)),
        };
        if let Some(result) = opened {
            return Ok(result);
        }
    }
    Err(OpenError::NoKeyOpensIt)
}

fn mac(key: &AppKey, iv_b64: &str, value_b64: &str) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(&key.0).expect("hmac takes any key length");
    mac.update(iv_b64.as_bytes());
    mac.update(value_b64.as_bytes());
    hex(&mac.finalize().into_bytes())
}

fn open_cbc(key: &AppKey, iv: &[u8], iv_b64: &str, value_b64: &str, mac_hex: &str) -> Option<Vec<u8>> {
    let expected = mac(key, iv_b64, value_b64);
    if !bool::from(expected.as_bytes().ct_eq(mac_hex.as_bytes())) || iv.len() != 16 {
        return None;
    }
    let data = B64.decode(value_b64).ok()?;
    match key.0.len() {
        16 => {
            cbc::Decryptor::<aes::Aes128>::new_from_slices(&key.0, iv).ok()?.decrypt_padded_vec_mut::<Pkcs7>(&data).ok()
        }
        _ => {
            cbc::Decryptor::<aes::Aes256>::new_from_slices(&key.0, iv).ok()?.decrypt_padded_vec_mut::<Pkcs7>(&data).ok()
        }
    }
}

fn open_gcm(key: &AppKey, iv: &[u8], value_b64: &str, tag_b64: &str) -> Option<Vec<u8>> {
    let mut data = B64.decode(value_b64).ok()?;
    data.extend(B64.decode(tag_b64).ok()?);
    if iv.len() != 12 {
        return None;
    }
    let nonce = aes_gcm::Nonce::from_slice(iv);
    let payload = Payload { msg: &data, aad: b"" };
    match key.0.len() {
        16 => aes_gcm::Aes128Gcm::new_from_slice(&key.0).ok()?.decrypt(nonce, payload).ok(),
        _ => aes_gcm::Aes256Gcm::new_from_slice(&key.0).ok()?.decrypt(nonce, payload).ok(),
    }
}

/// Encrypts as Laravel does: a fresh IV, `base64(json_encode(compact('iv','value','mac','tag'),
/// JSON_UNESCAPED_SLASHES))`.
pub fn seal(key: &AppKey, mode: Mode, plaintext: &[u8]) -> Vec<u8> {
    let (iv, value, mac_hex, tag) = match mode {
        Mode::Cbc => {
            let iv = random::<16>();
            let data = match key.0.len() {
                16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(&key.0, &iv)
                    .expect("key and iv sizes checked")
                    .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
                _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(&key.0, &iv)
                    .expect("key and iv sizes checked")
                    .encrypt_padded_vec_mut::<Pkcs7>(plaintext),
            };
            let (iv, value) = (B64.encode(iv), B64.encode(data));
            let mac_hex = mac(key, &iv, &value);
            (iv, value, mac_hex, String::new())
        }
        Mode::Gcm => {
            let iv = random::<12>();
            let nonce = aes_gcm::Nonce::from_slice(&iv);
            let payload = Payload { msg: plaintext, aad: b"" };
            let mut data = match key.0.len() {
                16 => aes_gcm::Aes128Gcm::new_from_slice(&key.0).expect("key size checked").encrypt(nonce, payload),
                _ => aes_gcm::Aes256Gcm::new_from_slice(&key.0).expect("key size checked").encrypt(nonce, payload),
            }
            .expect("gcm encryption of a buffer cannot fail");
            let tag = data.split_off(data.len() - 16);
            (B64.encode(iv), B64.encode(data), String::new(), B64.encode(tag))
        }
    };
    // Base64 never contains characters JSON escapes (with JSON_UNESCAPED_SLASHES).
    let json = format!(r#"{{"iv":"{iv}","value":"{value}","mac":"{mac_hex}","tag":"{tag}"}}"#);
    B64.encode(json).into_bytes()
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("the OS random source works");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The keys in `APP_KEY` and `APP_PREVIOUS_KEYS` of a dotenv file, current key first, from its
/// `(key, value)` pairs in file order, values already read as the application reads them (the
/// caller reads the file: `cutover_secrets::dotenv::read`).
pub fn keys_from_dotenv<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Vec<AppKey>, String> {
    let mut current = None;
    let mut previous = Vec::new();
    for (name, value) in pairs {
        match name {
            // As phpdotenv does, the first definition wins.
            "APP_KEY" if !value.is_empty() && current.is_none() => {
                current = Some(AppKey::parse(value).map_err(|e| format!("APP_KEY: {e}"))?)
            }
            "APP_PREVIOUS_KEYS" => {
                for (i, k) in value.split(',').filter(|k| !k.trim().is_empty()).enumerate() {
                    previous.push(AppKey::parse(k).map_err(|e| format!("APP_PREVIOUS_KEYS entry {}: {e}", i + 1))?);
                }
            }
            _ => {}
        }
    }
    let current = current.ok_or_else(|| "no APP_KEY".to_owned())?;
    Ok(std::iter::once(current).chain(previous).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8, len: usize) -> AppKey {
        AppKey(vec![byte; len])
    }

    #[test]
    fn sealed_values_open_with_the_same_key_in_every_mode_and_size() {
        for (mode, len) in [(Mode::Cbc, 32), (Mode::Cbc, 16), (Mode::Gcm, 32), (Mode::Gcm, 16)] {
            let k = key(7, len);
            let sealed = seal(&k, mode, b"s:5:\"hello\";");
            assert!(looks_like_payload(&sealed));
            assert_eq!(open(std::slice::from_ref(&k), &sealed).unwrap(), (b"s:5:\"hello\";".to_vec(), mode));
            assert_eq!(open(&[key(8, len)], &sealed), Err(OpenError::NoKeyOpensIt));
            // A previous key is tried after the current one.
            assert!(open(&[key(8, len), k], &sealed).is_ok());
        }
    }

    #[test]
    fn keys_come_from_dotenv_and_never_show_in_debug() {
        let k = B64.encode([3u8; 32]);
        let old = B64.encode([4u8; 16]);
        let (k, old) = (format!("base64:{k}"), format!("base64:{old}"));
        let pairs = [("APP_NAME", "x"), ("APP_KEY", k.as_str()), ("APP_PREVIOUS_KEYS", old.as_str())];
        let keys = keys_from_dotenv(pairs).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(format!("{keys:?}"), "[AppKey(AES-256, redacted), AppKey(AES-128, redacted)]");
        assert!(keys_from_dotenv([("APP_KEY", "base64:AAAA")]).unwrap_err().contains("3 bytes"));
        assert!(keys_from_dotenv([("X", "1")]).unwrap_err().contains("no APP_KEY"));
        // An empty APP_KEY is passed over and the first set one wins; every APP_PREVIOUS_KEYS adds.
        let pairs = [("APP_KEY", ""), ("APP_KEY", k.as_str()), ("APP_KEY", old.as_str())];
        assert_eq!(format!("{:?}", keys_from_dotenv(pairs).unwrap()), "[AppKey(AES-256, redacted)]");
        let pairs = [("APP_PREVIOUS_KEYS", old.as_str()), ("APP_KEY", k.as_str()), ("APP_PREVIOUS_KEYS", ",")];
        assert_eq!(keys_from_dotenv(pairs).unwrap().len(), 2);
    }

    #[test]
    fn tampered_mac_is_refused() {
        let k = key(1, 32);
        let sealed = seal(&k, Mode::Cbc, b"secret");
        let json = String::from_utf8(B64.decode(&sealed).unwrap()).unwrap();
        let tampered = B64.encode(json.replace("\"mac\":\"", "\"mac\":\"0"));
        assert_eq!(open(&[k], tampered.as_bytes()), Err(OpenError::NoKeyOpensIt));
    }
}
