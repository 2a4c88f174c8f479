//! What can go wrong while issuing or installing a certificate; every variant says where.

use std::path::PathBuf;

use cutover_remote::RemoteError;

#[derive(Debug, thiserror::Error)]
pub enum TlsIssueError {
    /// The request itself is wrong (a bad name, a wildcard with http-01, …): nothing was done.
    #[error("{0}")]
    Plan(String),
    /// Reading the current certificate, writing challenge files: no host changed.
    #[error(transparent)]
    Host(RemoteError),
    /// Some hosts could not be read or prepared: no host changed.
    #[error("{step} failed on {} host(s):\n{}", errors.len(), list(errors))]
    Hosts { step: String, errors: Vec<RemoteError> },
    /// The local ACME account file.
    #[error("ACME account file {}: {reason}", path.display())]
    Account { path: PathBuf, reason: String },
    /// The ACME server refused or failed a request (its problem document, or the transport error).
    #[error("ACME server {directory}: {step}: {detail}")]
    Acme { directory: String, step: String, detail: String },
    /// An ACME request or poll did not finish in time.
    #[error("ACME server {directory}: {step}: no answer within {seconds} s")]
    Timeout { directory: String, step: String, seconds: u64 },
    /// The ACME server could not validate a name: its problem detail, per name.
    #[error("validation failed ({challenge}):\n{}", failures.join("\n"))]
    Validation { challenge: String, failures: Vec<String> },
    /// The DNS-01 hook failed or timed out.
    #[error("DNS hook `{hook}` ({action} for {domain}) failed: {status}{}", detail_suffix(detail))]
    Hook { hook: String, action: String, domain: String, status: String, detail: String },
    /// What the ACME server sent is not a usable certificate for the names and key.
    #[error("the certificate from the ACME server is not usable: {0}")]
    Certificate(String),
    /// The certificate was installed on some hosts, not on others. The next run reuses it.
    #[error(
        "certificate installed on [{}] but not on {} host(s):\n{}\nrun again: the certificate is reused and installed where it is missing",
        installed.join(", "), errors.len(), list(errors)
    )]
    Install { installed: Vec<String>, errors: Vec<RemoteError> },
    /// The certificate is installed everywhere it was needed, but the reload command failed.
    #[error("certificate installed on [{}], but reload failed on {} host(s):\n{}", installed.join(", "), errors.len(), list(errors))]
    Reload { installed: Vec<String>, errors: Vec<RemoteError> },
}

impl TlsIssueError {
    /// Whether a host changed before the error (a new certificate or key on some host):
    /// [`Install`](Self::Install) and [`Reload`](Self::Reload). Everything else left every
    /// host as it was (challenge files, if any were written, were removed).
    pub fn hosts_changed(&self) -> bool {
        match self {
            Self::Install { installed, .. } => !installed.is_empty(),
            Self::Reload { .. } => true,
            _ => false,
        }
    }
}

fn list(errors: &[RemoteError]) -> String {
    errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(": {detail}") }
}
