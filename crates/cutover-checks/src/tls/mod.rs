//! TLS readiness of a host (stage 2 of a launch): whether each name is served with a certificate
//! that is trusted, covers the name and is not about to expire, over a modern protocol version,
//! with HTTP redirected to HTTPS and HSTS sent. Also the same certificate checks on files before
//! they are installed.

pub mod cert;

use std::path::PathBuf;

/// Cloudflare's Origin CA roots (`origin_ca_ecc_root.pem` and `origin_ca_rsa_root.pem`), as
/// Cloudflare publishes them and cloudflared embeds them (`tlsconfig/cloudflare_ca.go`).
pub const CLOUDFLARE_ORIGIN_ROOTS_PEM: &[u8] = include_bytes!("cloudflare_origin_ca.pem");

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("bad PEM: {0}")]
    Pem(String),
    #[error("{0}")]
    Certificate(String),
    #[error("{0}")]
    Key(String),
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
}
