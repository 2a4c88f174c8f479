//! `[tls]`: what `cutover ready` accepts and where `cutover tls issue` puts certificates.

use std::path::PathBuf;

use serde::Deserialize;

use crate::{DeployPath, HumanDuration};

/// `[tls]`: what `cutover ready` accepts and where `cutover tls issue` puts certificates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// PEM file of CAs trusted besides the system's roots (a private CA, a test CA); also trusted
    /// for the ACME directory's HTTPS. Relative to the config file.
    pub extra_ca: Option<PathBuf>,
    /// The directory on each host the web server serves at `/`, for ACME HTTP-01 challenges.
    pub webroot: Option<DeployPath>,
    /// Where the certificate chain (PEM) and its key live on each host.
    pub cert: Option<DeployPath>,
    pub key: Option<DeployPath>,
    /// Run on each host after a certificate is installed, e.g. `sudo systemctl reload nginx`.
    pub reload: Option<String>,
    /// Run locally to publish (and remove) a DNS-01 TXT record; see `cutover tls issue --help`.
    pub dns_hook: Option<String>,
    /// The ACME account's contact address.
    pub email: Option<String>,
    #[serde(default = "default_warn_days")]
    pub warn_days: u32,
    #[serde(default = "default_fail_days")]
    pub fail_days: u32,
    /// The ports the hosts serve HTTPS and HTTP on (as seen from here).
    #[serde(default = "default_https_port")]
    pub https_port: u16,
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    #[serde(default = "default_tls_timeout")]
    pub timeout: HumanDuration,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            extra_ca: None,
            webroot: None,
            cert: None,
            key: None,
            reload: None,
            dns_hook: None,
            email: None,
            warn_days: default_warn_days(),
            fail_days: default_fail_days(),
            https_port: default_https_port(),
            http_port: default_http_port(),
            timeout: default_tls_timeout(),
        }
    }
}

fn default_warn_days() -> u32 {
    30
}

fn default_fail_days() -> u32 {
    7
}

fn default_https_port() -> u16 {
    443
}

fn default_http_port() -> u16 {
    80
}

fn default_tls_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(5))
}
