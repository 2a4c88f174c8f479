//! The built-in provider: one age-encrypted file (`cutover.vault.age` by default) holding every
//! environment's secrets, safe to commit. It is encrypted to the user's age identity (from the
//! file `CUTOVER_AGE_IDENTITY` names, else `~/.config/cutover/age.key`) and to any extra
//! recipients (teammates' `age1…` keys); the plaintext never touches the disk.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519;
use zeroize::Zeroizing;

use crate::{Secret, SecretsError};

/// Where the identity is read from: `CUTOVER_AGE_IDENTITY`, else `~/.config/cutover/age.key`.
pub fn default_identity_path() -> PathBuf {
    if let Some(path) = std::env::var_os("CUTOVER_AGE_IDENTITY") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    home.join(".config/cutover/age.key")
}

pub struct Vault {
    path: PathBuf,
    identity: x25519::Identity,
    recipients: Vec<x25519::Recipient>,
    envs: BTreeMap<String, BTreeMap<String, Secret>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: BTreeMap<&String, Vec<&String>> = self.envs.iter().map(|(e, m)| (e, m.keys().collect())).collect();
        f.debug_struct("Vault").field("path", &self.path).field("names", &names).finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens the vault at `path` with the identity at `identity`. A vault that does not exist
    /// yet is empty; an identity that does not exist is an error naming the file.
    pub fn open(path: &Path, identity: &Path, recipients: &[String]) -> Result<Self, SecretsError> {
        let identity_key = read_identity(identity)?;
        let vault_err = |reason: String| SecretsError::Vault { path: path.to_owned(), reason };
        let mut extra = Vec::new();
        for r in recipients {
            extra.push(x25519::Recipient::from_str(r).map_err(|e| vault_err(format!("recipient `{r}`: {e}")))?);
        }
        let envs = match std::fs::read(path) {
            Ok(bytes) => decrypt(&bytes, &identity_key).map_err(|reason| {
                vault_err(format!("{reason} (is `{}` the identity it was encrypted to?)", identity.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => {
                return Err(SecretsError::Io { what: "cannot read the vault", path: path.to_owned(), source });
            }
        };
        Ok(Self { path: path.to_owned(), identity: identity_key, recipients: extra, envs })
    }

    /// Moves a vault kept where earlier versions kept it by default (`legacy`, inside
    /// `.cutover/`) to `path`, so the local state and the secrets no longer share a directory.
    /// Returns whether it moved one. The move is a link then an unlink: a vault already at
    /// `path` is never replaced, and with one at both places nothing moves and the error names
    /// both.
    pub fn adopt_legacy(legacy: &Path, path: &Path) -> Result<bool, SecretsError> {
        if !legacy.is_file() {
            return Ok(false);
        }
        let both = || SecretsError::Vault {
            path: path.to_owned(),
            reason: format!(
                "a vault is also at `{}`, where earlier versions kept it; keep the one that holds your \
                 secrets at `{}` and remove the other",
                legacy.display(),
                path.display()
            ),
        };
        if path.exists() {
            return Err(both());
        }
        match std::fs::hard_link(legacy, path) {
            Ok(()) => {}
            // Another cutover moved it at the same moment: fine once the old name is gone.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return if legacy.exists() { Err(both()) } else { Ok(false) };
            }
            Err(source) => {
                return Err(SecretsError::Io {
                    what: "cannot move the vault out of `.cutover/` (move it by hand) from",
                    path: legacy.to_owned(),
                    source,
                });
            }
        }
        match std::fs::remove_file(legacy) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(source) => {
                Err(SecretsError::Io { what: "moved the vault, but cannot remove", path: legacy.to_owned(), source })
            }
        }
    }

    /// Creates an identity at `path` (0600, in a 0700 directory) if there is none; returns its
    /// public key when it made one.
    pub fn create_identity(path: &Path) -> Result<Option<String>, SecretsError> {
        if path.exists() {
            return Ok(None);
        }
        let io = |what, source| SecretsError::Io { what, path: path.to_owned(), source };
        if let Some(dir) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io("cannot create the identity's directory", e))?;
        }
        let identity = x25519::Identity::generate();
        let public = identity.to_public().to_string();
        let text = Zeroizing::new(format!(
            "# cutover age identity: keep it secret, back it up\n# public key: {public}\n{}\n",
            identity.to_string().expose_secret()
        ));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| io("cannot create the identity", e))?;
        file.write_all(text.as_bytes()).map_err(|e| io("cannot write the identity", e))?;
        Ok(Some(public))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, env: &str, name: &str) -> Option<&Secret> {
        self.envs.get(env)?.get(name)
    }

    pub fn names(&self, env: &str) -> Vec<String> {
        self.envs.get(env).map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    pub fn set(&mut self, env: &str, name: &str, value: Secret) {
        self.envs.entry(env.to_owned()).or_default().insert(name.to_owned(), value);
    }

    /// Encrypts to the identity and the extra recipients and replaces the file atomically.
    pub fn save(&self) -> Result<(), SecretsError> {
        let plain: BTreeMap<&String, BTreeMap<&String, &str>> =
            self.envs.iter().map(|(e, m)| (e, m.iter().map(|(k, v)| (k, v.expose())).collect())).collect();
        let json = Zeroizing::new(serde_json::to_vec_pretty(&plain).expect("a map of strings serializes"));
        let mut recipients: Vec<&dyn age::Recipient> = vec![];
        let own = self.identity.to_public();
        recipients.push(&own);
        recipients.extend(self.recipients.iter().map(|r| r as &dyn age::Recipient));
        let vault_err = |reason: String| SecretsError::Vault { path: self.path.clone(), reason };
        let encryptor =
            age::Encryptor::with_recipients(recipients.into_iter()).map_err(|e| vault_err(e.to_string()))?;
        let mut sealed = Vec::new();
        let mut writer = encryptor.wrap_output(&mut sealed).map_err(|e| vault_err(e.to_string()))?;
        writer.write_all(&json).and_then(|()| writer.finish().map(drop)).map_err(|e| vault_err(e.to_string()))?;

        let io = |what, source| SecretsError::Io { what, path: self.path.clone(), source };
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| io("cannot create", e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io("cannot write next to", e))?;
        tmp.write_all(&sealed).map_err(|e| io("cannot write", e))?;
        tmp.persist(&self.path).map_err(|e| io("cannot replace", e.error))?;
        Ok(())
    }
}

fn read_identity(path: &Path) -> Result<x25519::Identity, SecretsError> {
    let err = |reason: String| SecretsError::Identity { path: path.to_owned(), reason };
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            err("not found (set CUTOVER_AGE_IDENTITY to your age key file, or create one with `cutover secrets set` or `cutover secrets rotate`)"
                .into())
        } else {
            err(format!("cannot read it: {e}"))
        }
    })?);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .ok_or_else(|| err("no `AGE-SECRET-KEY-…` line in it".into()))?;
    x25519::Identity::from_str(line).map_err(|e| err(format!("not a valid age identity: {e}")))
}

fn decrypt(bytes: &[u8], identity: &x25519::Identity) -> Result<BTreeMap<String, BTreeMap<String, Secret>>, String> {
    let decryptor = age::Decryptor::new(bytes).map_err(|e| format!("not an age file: {e}"))?;
    let mut reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|e| format!("cannot decrypt: {e}"))?;
    let mut json = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut json).map_err(|e| format!("cannot decrypt: {e}"))?;
    let plain: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_slice(&json).map_err(|e| format!("decrypted, but not a cutover vault: {e}"))?;
    Ok(plain.into_iter().map(|(e, m)| (e, m.into_iter().map(|(k, v)| (k, Secret::new(v))).collect())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_the_encrypted_file_and_the_file_holds_no_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let identity = dir.path().join("id/age.key");
        let public = Vault::create_identity(&identity).unwrap().expect("a new identity");
        assert!(public.starts_with("age1"));
        assert_eq!(Vault::create_identity(&identity).unwrap(), None, "an existing identity is kept");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&identity).unwrap().permissions().mode() & 0o777, 0o600);

        let path = dir.path().join("cutover.vault.age");
        let mut vault = Vault::open(&path, &identity, &[]).unwrap();
        assert_eq!(vault.get("production", "DB_PASSWORD"), None);
        vault.set("production", "DB_PASSWORD", Secret::new("pr0d-pa55-xyzzy"));
        vault.set("staging", "DB_PASSWORD", Secret::new("stag-pa55-xyzzy"));
        vault.save().unwrap();
        let raw = std::fs::read(&path).unwrap();
        assert!(raw.starts_with(b"age-encryption.org/v1"));
        assert!(!raw.windows(9).any(|w| w == b"pa55-xyzz"), "no plaintext in the vault file");
        assert!(!format!("{vault:?}").contains("pa55"));

        let again = Vault::open(&path, &identity, &[]).unwrap();
        assert_eq!(again.get("production", "DB_PASSWORD").unwrap().expose(), "pr0d-pa55-xyzzy");
        assert_eq!(again.names("staging"), ["DB_PASSWORD"]);
    }

    #[test]
    fn a_vault_left_in_the_state_directory_moves_out_once_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let identity = dir.path().join("age.key");
        Vault::create_identity(&identity).unwrap();
        let legacy = dir.path().join(".cutover/vault.age");
        let path = dir.path().join("cutover.vault.age");
        assert!(!Vault::adopt_legacy(&legacy, &path).unwrap(), "nothing to move");
        let mut vault = Vault::open(&legacy, &identity, &[]).unwrap();
        vault.set("production", "APP_KEY", Secret::new("base64:c2VjcmV0"));
        vault.save().unwrap();

        assert!(Vault::adopt_legacy(&legacy, &path).unwrap());
        assert!(!legacy.exists() && path.is_file());
        let moved = Vault::open(&path, &identity, &[]).unwrap();
        assert_eq!(moved.get("production", "APP_KEY").unwrap().expose(), "base64:c2VjcmV0");
        assert!(!Vault::adopt_legacy(&legacy, &path).unwrap(), "moved once");

        // One at both places: neither is touched, and the error names both.
        std::fs::write(&legacy, b"other").unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = Vault::adopt_legacy(&legacy, &path).unwrap_err().to_string();
        assert!(err.contains(".cutover/vault.age") && err.contains("cutover.vault.age"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(std::fs::read(&legacy).unwrap(), b"other");
    }

    #[test]
    fn a_missing_or_wrong_identity_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Vault::open(&dir.path().join("v.age"), &dir.path().join("none.key"), &[]).unwrap_err();
        assert!(err.to_string().contains("none.key") && err.to_string().contains("not found"), "{err}");
        let (a, b) = (dir.path().join("a.key"), dir.path().join("b.key"));
        Vault::create_identity(&a).unwrap();
        Vault::create_identity(&b).unwrap();
        let path = dir.path().join("v.age");
        let mut vault = Vault::open(&path, &a, &[]).unwrap();
        vault.set("production", "X", Secret::new("1"));
        vault.save().unwrap();
        let err = Vault::open(&path, &b, &[]).unwrap_err().to_string();
        assert!(err.contains("cannot decrypt") && err.contains("b.key"), "{err}");
        std::fs::write(&a, "garbage\n").unwrap();
        assert!(Vault::open(&path, &a, &[]).unwrap_err().to_string().contains("AGE-SECRET-KEY"));
    }
}
