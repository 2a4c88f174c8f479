//! The ACME account: one credentials file per directory (mode 0600), registered when missing or
//! forgotten by the server, and the HTTPS client that trusts the plan's CA besides the system's.

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use cutover_remote::Reporter;
use instant_acme::{Account, AccountCredentials, NewAccount};

use super::request::error_chain;
use super::{Acme, REQUEST_TIMEOUT};
use crate::error::TlsIssueError;

/// The account credentials file for `directory` in `account_dir`.
pub fn account_file(account_dir: &Path, directory: &str) -> PathBuf {
    let slug: String = directory
        .trim_start_matches("https://")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    account_dir.join(format!("acme-account-{slug}.json"))
}

impl Acme<'_> {
    /// The stored account for this directory, or a new one (stored, mode 0600).
    pub(super) fn account(&self, fresh: bool, progress: &dyn Reporter) -> Result<Account, TlsIssueError> {
        let path = account_file(&self.plan.account_dir, &self.plan.directory);
        let account_err = |reason: String| TlsIssueError::Account { path: path.clone(), reason };
        if !fresh && path.exists() {
            let bytes = std::fs::read(&path).map_err(|e| account_err(e.to_string()))?;
            let parse = || serde_json::from_slice::<AccountCredentials>(&bytes);
            let _ = parse().map_err(|e| account_err(format!("not an account file: {e}")))?;
            progress.step(None, &format!("using the ACME account in {}", path.display()));
            return self.with_trust("reading the directory", progress, |builder| async {
                builder.from_credentials(parse().map_err(instant_acme::Error::Json)?).await
            });
        }
        progress.step(None, "registering an ACME account");
        let contact =
            self.plan.contact.as_ref().map(|c| if c.contains(':') { c.clone() } else { format!("mailto:{c}") });
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let new = NewAccount { contact: &contacts, terms_of_service_agreed: true, only_return_existing: false };
        let (account, credentials) =
            self.with_trust("reading the directory and registering an account", progress, |builder| {
                builder.create(&new, self.plan.directory.clone(), None)
            })?;
        let json = serde_json::to_vec_pretty(&credentials).map_err(|e| account_err(e.to_string()))?;
        write_private(&path, &json).map_err(|e| account_err(e.to_string()))?;
        progress.step(None, &format!("ACME account stored in {}", path.display()));
        Ok(account)
    }

    /// Runs `f` (whose first request reads the directory) with an HTTPS client that trusts the
    /// plan's `directory_ca`, and when the server's certificate is not from that CA, once more
    /// with one that trusts the system's roots: the CA file adds trust, it does not replace it.
    fn with_trust<T, F>(
        &self,
        step: &str,
        progress: &dyn Reporter,
        f: impl Fn(instant_acme::AccountBuilder) -> F,
    ) -> Result<T, TlsIssueError>
    where
        F: Future<Output = Result<T, instant_acme::Error>>,
    {
        let options: Vec<Option<&PathBuf>> = match &self.plan.directory_ca {
            Some(ca) => vec![Some(ca), None],
            None => vec![None],
        };
        for (i, ca) in options.iter().enumerate() {
            let builder = match ca {
                Some(ca) => Account::builder_with_root(ca).map_err(|e| {
                    TlsIssueError::Plan(format!("CA file {} for the ACME directory: {}", ca.display(), error_chain(&e)))
                })?,
                None => Account::builder()
                    .map_err(|e| TlsIssueError::Plan(format!("cannot set up the HTTPS client: {}", error_chain(&e))))?,
            };
            match self.raw(step, REQUEST_TIMEOUT, f(builder))? {
                Ok(value) => return Ok(value),
                Err(e) if i + 1 < options.len() && error_chain(&e).contains("invalid peer certificate") => {
                    progress
                        .step(None, "the directory's certificate is not from the extra CA; trying the system's roots");
                }
                Err(e) => return Err(self.error(step, e)),
            }
        }
        unreachable!("the last trust option returns")
    }
}

/// Writes `bytes` to `path` with mode 0600 from creation (directory 0700 if it is made),
/// through a temporary file and a rename.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp =
        dir.join(format!(".{}.tmp{}", path.file_name().unwrap_or_default().to_string_lossy(), std::process::id()));
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_account_file_per_directory() {
        let dir = Path::new("/state");
        assert_eq!(
            account_file(dir, "https://acme-v02.api.letsencrypt.org/directory"),
            Path::new("/state/acme-account-acme-v02.api.letsencrypt.org_directory.json")
        );
        assert_ne!(account_file(dir, "https://127.0.0.1:14000/dir"), account_file(dir, "https://127.0.0.1:14001/dir"));
    }

    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub/account.json");
        write_private(&path, b"{}").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
