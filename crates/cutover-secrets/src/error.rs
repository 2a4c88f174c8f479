//! What can go wrong with secrets. Every variant names the secret or file it is about and never
//! carries a value.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("age identity `{}`: {reason}", path.display())]
    Identity { path: PathBuf, reason: String },
    #[error("vault `{}`: {reason}", path.display())]
    Vault { path: PathBuf, reason: String },
    #[error("secret `{name}` ({env}) is not set{}", hint_suffix(hint))]
    Missing { env: String, name: String, hint: String },
    #[error("secret `{name}` ({env}): provider command `{command}` {reason}")]
    Command { env: String, name: String, command: String, reason: String },
    #[error("secret name `{0}` may use only letters, digits and `_`, and must not start with a digit")]
    BadName(String),
    #[error("the `{provider}` provider cannot store values: {hint}")]
    ReadOnly { provider: &'static str, hint: String },
    #[error("{location}: {message}")]
    Template { location: String, message: String },
    #[error("{what} `{}`", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Rotate(String),
}

fn hint_suffix(hint: &str) -> String {
    if hint.is_empty() { String::new() } else { format!(": {hint}") }
}
