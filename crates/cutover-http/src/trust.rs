//! The roots a certificate is judged against ([`Trust`]): the system's, Cloudflare's Origin CA
//! roots and `[tls] extra_ca`, loaded once and shared by the HTTP client, the readiness checks and
//! ACME issuance.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use crate::cert::{self, CertInfo, TlsError};
use crate::chain::{self, Source};

/// Cloudflare's Origin CA roots (`origin_ca_ecc_root.pem` and `origin_ca_rsa_root.pem`), as
/// Cloudflare publishes them and cloudflared embeds them (`tlsconfig/cloudflare_ca.go`). Both are
/// valid until 2029-08-15.
pub const CLOUDFLARE_ORIGIN_ROOTS_PEM: &[u8] = include_bytes!("cloudflare_origin_ca.pem");

/// The roots a certificate is judged against.
#[derive(Clone)]
pub struct Trust {
    /// System roots plus the extra CA file: for ordinary certificates.
    public: Arc<RootCertStore>,
    /// Cloudflare's Origin CA roots plus the extra CA file: for Origin CA certificates.
    origin: Arc<RootCertStore>,
    extra_ca: Option<PathBuf>,
}

impl Trust {
    /// The system's roots (`rustls-native-certs`; none if the system has none), Cloudflare's
    /// Origin CA roots, and every certificate of `extra_ca` (PEM) as a root of both. An extra CA
    /// file that cannot be read, holds no certificate or does not parse is an error naming it.
    pub fn load(extra_ca: Option<&Path>) -> Result<Trust, TlsError> {
        let mut public = RootCertStore::empty();
        public.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let mut origin = RootCertStore::empty();
        for root in cert::parse_chain_pem(CLOUDFLARE_ORIGIN_ROOTS_PEM)? {
            origin.add(root).map_err(|e| TlsError::Certificate(format!("Cloudflare Origin CA root: {e}")))?;
        }
        if let Some(path) = extra_ca {
            let file_error = |reason: String| TlsError::File { path: path.to_path_buf(), reason };
            let pem = std::fs::read(path).map_err(|e| file_error(format!("cannot read the CA file: {e}")))?;
            for root in
                cert::parse_chain_pem(&pem).map_err(|e| file_error(format!("not a CA certificate file: {e}")))?
            {
                public.add(root.clone()).map_err(|e| file_error(format!("unusable CA certificate: {e}")))?;
                origin.add(root).map_err(|e| file_error(format!("unusable CA certificate: {e}")))?;
            }
        }
        Ok(Trust { public: Arc::new(public), origin: Arc::new(origin), extra_ca: extra_ca.map(Path::to_path_buf) })
    }

    /// How many roots ordinary certificates are judged against (system + extra).
    pub fn public_roots(&self) -> usize {
        self.public.len()
    }

    /// The extra CA file given to [`Trust::load`].
    pub fn extra_ca(&self) -> Option<&Path> {
        self.extra_ca.as_deref()
    }

    /// Whether `chain` (leaf first, then intermediates, as in a certificate file) is signed up to
    /// a root of the public store (the system's roots and the extra CA), as of `at`; else why
    /// not, in the words of the `tls trust` check for a file (`unknown issuer: …`,
    /// `incomplete chain …`, `self-signed certificate …`). Only trust is judged: a leaf that is
    /// not valid at `at` is judged as of the nearest moment within its validity, and names are
    /// not looked at. Cloudflare's Origin CA roots are not in the public store, so an Origin CA
    /// certificate verifies only when its root is the extra CA.
    pub fn verify_chain(&self, chain: &[CertificateDer<'static>], at: SystemTime) -> Result<(), String> {
        self.verify_chain_from(chain, at, Source::File)
    }

    /// [`Trust::verify_chain`] for a chain a server sent, so the reasons say so (the client's
    /// verifier).
    pub(crate) fn verify_server_chain(&self, chain: &[CertificateDer<'static>], at: SystemTime) -> Result<(), String> {
        self.verify_chain_from(chain, at, Source::Server)
    }

    fn verify_chain_from(
        &self,
        chain: &[CertificateDer<'static>],
        at: SystemTime,
        source: Source,
    ) -> Result<(), String> {
        let Some(first) = chain.first() else {
            return Err("no certificate".into());
        };
        let leaf = CertInfo::from_der(first).map_err(|e| format!("the certificate does not parse: {e}"))?;
        let provider = rustls::crypto::ring::default_provider();
        chain::chain_verdict(chain, &leaf, &self.public, &provider, source, at)
    }

    /// Whether `chain` (leaf first, not empty; `leaf` is its first certificate parsed) is signed
    /// up to a root, as the readiness check `tls trust` judges it: an Origin CA certificate
    /// against Cloudflare's Origin CA roots (and the extra CA), any other against the public
    /// store; as of `at`, or the nearest moment within the leaf's validity. The reasons are
    /// [`Trust::verify_chain`]'s, worded for where the chain came from.
    pub fn judge_chain(
        &self,
        chain: &[CertificateDer<'static>],
        leaf: &CertInfo,
        source: Source,
        at: SystemTime,
    ) -> Result<(), String> {
        let store = if leaf.origin_ca { &self.origin } else { &self.public };
        let provider = rustls::crypto::ring::default_provider();
        chain::chain_verdict(chain, leaf, store, &provider, source, at)
    }
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("public_roots", &self.public.len())
            .field("origin_roots", &self.origin.len())
            .field("extra_ca", &self.extra_ca)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use cutover_testkit::certs::{Ca, Leaf};

    use super::*;

    fn chain(pem: &str) -> Vec<CertificateDer<'static>> {
        cert::parse_chain_pem(pem.as_bytes()).unwrap()
    }

    #[test]
    fn verify_chain_uses_the_extra_ca_and_says_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = Ca::new("verify root");
        let leaf = root.intermediate("verify intermediate").issue(&["a.test"]);
        let now = SystemTime::now();
        let system = Trust::load(None).unwrap();
        let why = system.verify_chain(&chain(&leaf.chain_pem), now).unwrap_err();
        assert!(why.contains("issuer \"verify root\" is not a trusted root"), "{why}");
        let why = system.verify_chain(&chain(&leaf.cert_pem), now).unwrap_err();
        assert!(why.contains("the file holds only the leaf"), "{why}");
        let snakeoil = Leaf::self_signed(&["a.test"]);
        assert!(system.verify_chain(&chain(&snakeoil.chain_pem), now).unwrap_err().contains("self-signed"));
        assert_eq!(system.verify_chain(&[], now).unwrap_err(), "no certificate");

        let extra = Trust::load(Some(&root.write(dir.path(), "root"))).unwrap();
        extra.verify_chain(&chain(&leaf.chain_pem), now).unwrap();
        // Only trust is judged: an expired leaf is judged within its validity.
        let expired = root.intermediate("other intermediate").issue_expiring(&["a.test"], -3);
        extra.verify_chain(&chain(&expired.chain_pem), now).unwrap();
        let why = extra.verify_chain(&chain(&leaf.cert_pem), now).unwrap_err();
        assert!(why.contains("missing intermediate"), "{why}");
    }
}
