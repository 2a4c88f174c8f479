//! `[smtp]`: the mail server `mailto:` notifications are sent through.

use serde::Deserialize;

use crate::HumanDuration;

/// `[smtp]`: how `mailto:` notifications are sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    pub from: String,
    pub username: Option<String>,
    /// The name of the secret (from `[secrets]`) holding the password; never the password.
    pub password_secret: Option<String>,
    #[serde(default)]
    pub tls: SmtpTls,
    #[serde(default = "default_smtp_timeout")]
    pub timeout: HumanDuration,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}
