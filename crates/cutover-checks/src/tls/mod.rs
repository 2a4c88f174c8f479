//! TLS readiness of a host (stage 2 of a launch): whether each name is served with a certificate
//! that is trusted, covers the name and is not about to expire, over TLS 1.2/1.3 only, with plain
//! HTTP redirected to HTTPS and HSTS sent. Also the same certificate checks on files before they
//! are installed ([`check_files`]).
//!
//! Every check is bounded by [`Policy::timeout`] and returns [`Finding`]s, never an error: a
//! server that refuses, is not TLS or never answers is a `fail` finding with the reason.
//!
//! Check names (the `check` column), where NAME is the server name (SNI and `Host`):
//! - `tls connect NAME`: only when no TLS 1.2/1.3 session could be made (fail, with the reason);
//! - `tls version NAME`: TLS 1.2/1.3 negotiated (pass), TLS 1.0/1.1 also accepted (warn), only
//!   TLS 1.0/1.1 (fail);
//! - `tls trust NAME`: the chain sent leads to a trusted root (system roots and the extra CA file);
//!   an Origin CA certificate is judged against Cloudflare's Origin CA roots and passes only when
//!   the names are proxied;
//! - `tls name NAME`: the certificate covers NAME;
//! - `tls expiry NAME`: days left (warn under `warn_days`, fail under `fail_days` or expired);
//! - `hsts NAME`: `Strict-Transport-Security` on `GET /` over HTTPS (warn when absent);
//! - `http redirect NAME`: `GET /` on the HTTP port redirects to `https://` (warn otherwise).
//!
//! [`check_files`] uses `tls cert file`, `tls trust`, `tls name NAME`, `tls expiry` and `tls key`,
//! with the certificate file's path as the host.

pub mod cert;
pub(crate) mod http;
mod legacy;
pub(crate) mod probe;
mod verify;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;

use crate::Finding;
use cert::CertInfo;
use legacy::LegacyReply;
use probe::ConnectError;
use verify::Source;

/// Cloudflare's Origin CA roots (`origin_ca_ecc_root.pem` and `origin_ca_rsa_root.pem`), as
/// Cloudflare publishes them and cloudflared embeds them (`tlsconfig/cloudflare_ca.go`). Both are
/// valid until 2029-08-15.
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

    /// [`Trust::verify_chain`] for a chain a server sent, so the reasons say so (the HTTP
    /// checks' verifier).
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
        verify::chain_verdict(chain, &leaf, &self.public, &provider, source, at)
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

/// What the checks expect and how long they wait.
#[derive(Debug, Clone)]
pub struct Policy {
    pub trust: Trust,
    /// Warn when a certificate has fewer days left than this (30).
    pub warn_days: u32,
    /// Fail when a certificate has fewer days left than this (7), or has expired.
    pub fail_days: u32,
    pub https_port: u16,
    pub http_port: u16,
    /// For each connect, and for each exchange after it (handshake, one HTTP response).
    pub timeout: Duration,
    /// The names are behind Cloudflare's proxy, so an Origin CA certificate is fine.
    pub proxied: bool,
}

impl Policy {
    /// The defaults: warn under 30 days, fail under 7, ports 443 and 80, 5 s, not proxied.
    pub fn new(trust: Trust) -> Policy {
        Policy {
            trust,
            warn_days: 30,
            fail_days: 7,
            https_port: 443,
            http_port: 80,
            timeout: Duration::from_secs(5),
            proxied: false,
        }
    }
}

/// Live checks of one host at `addr`: for each name (in parallel), a TLS connection to
/// `addr:https_port` with the name as SNI, judged for version, trust, name and expiry, then
/// `GET /` over it for HSTS, a legacy TLS 1.0/1.1 hello, and `GET /` to `addr:http_port` for the
/// redirect. Findings come grouped by name, in the order of `names`. See the module docs for the
/// check names.
pub fn check_host(host_label: &str, addr: IpAddr, names: &[String], policy: &Policy) -> Vec<Finding> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let provider = &provider;
                scope.spawn(move || check_name(host_label, addr, name, policy, provider))
            })
            .collect();
        handles
            .into_iter()
            .zip(names)
            .flat_map(|(handle, name)| {
                handle.join().unwrap_or_else(|_| {
                    vec![Finding::fail(format!("tls connect {name}"), host_label, "the check itself failed (panic)")]
                })
            })
            .collect()
    })
}

fn check_name(host: &str, addr: IpAddr, name: &str, policy: &Policy, provider: &Arc<CryptoProvider>) -> Vec<Finding> {
    let https = SocketAddr::new(addr, policy.https_port);
    let mut findings = Vec::new();
    match probe::handshake(provider, https, name, policy.timeout) {
        Ok(mut session) => {
            let legacy = legacy::probe(https, name, policy.timeout);
            findings.push(version_finding(host, name, session.version, &legacy));
            findings.extend(chain_findings(host, Some(name), &session.chain, policy, provider, Source::Server));
            let request = http::request(name, policy.https_port, 443);
            let head = http::exchange(&mut session.stream, &request, policy.timeout, |s, t| {
                let _ = s.sock.set_read_timeout(Some(t));
            });
            findings.push(http::hsts_verdict(format!("hsts {name}"), host, head));
        }
        Err(e) => {
            findings.push(Finding::fail(format!("tls connect {name}"), host, format!("{https}: {}", e.reason())));
            // A server that speaks TLS but not 1.2/1.3 may still speak 1.0/1.1; its certificate
            // is judged all the same.
            if let ConnectError::Tls(_) = e
                && let (LegacyReply::Accepted(v), chain) = legacy::probe_chain(https, name, policy.timeout, true)
            {
                findings.push(Finding::fail(
                    format!("tls version {name}"),
                    host,
                    format!("speaks only TLS 1.0/1.1 (chose {} for a TLS 1.1 hello)", legacy::version_name(v)),
                ));
                if !chain.is_empty() {
                    findings.extend(chain_findings(host, Some(name), &chain, policy, provider, Source::Server));
                }
            }
        }
    }
    findings.push(http::redirect_finding(host, SocketAddr::new(addr, policy.http_port), name, policy.timeout));
    findings
}

fn version_finding(host: &str, name: &str, version: &str, legacy: &LegacyReply) -> Finding {
    let check = format!("tls version {name}");
    match legacy {
        LegacyReply::Accepted(v) => Finding::warn(
            check,
            host,
            format!("{version}, but also accepts TLS 1.0/1.1 ({} for a TLS 1.1 hello)", legacy::version_name(*v)),
        ),
        LegacyReply::Refused(_) => Finding::pass(check, host, format!("{version}; TLS 1.0/1.1 refused")),
        LegacyReply::NotTls => Finding::pass(check, host, format!("{version}; a TLS 1.1 hello got no TLS answer")),
        LegacyReply::NoAnswer(reason) => Finding::pass(check, host, format!("{version}; a TLS 1.1 hello: {reason}")),
    }
}

/// Trust, name(s) and expiry of a chain. With `name`, the checks carry it (live checks, one name
/// per connection); without, trust and expiry are unnamed and `names` get `tls name NAME` each.
fn chain_findings(
    host: &str,
    name: Option<&str>,
    chain: &[CertificateDer<'static>],
    policy: &Policy,
    provider: &CryptoProvider,
    source: Source,
) -> Vec<Finding> {
    let suffix = name.map(|n| format!(" {n}")).unwrap_or_default();
    if chain.is_empty() {
        return vec![Finding::fail(format!("tls trust{suffix}"), host, "no certificate")];
    }
    let leaf = match CertInfo::from_der(&chain[0]) {
        Ok(leaf) => leaf,
        Err(e) => {
            return vec![Finding::fail(
                format!("tls trust{suffix}"),
                host,
                format!("the certificate does not parse: {e}"),
            )];
        }
    };
    let mut findings =
        vec![verify::trust_finding(format!("tls trust{suffix}"), host, chain, &leaf, policy, provider, source)];
    if let Some(name) = name {
        findings.push(verify::name_finding(format!("tls name {name}"), host, &leaf, name));
    }
    findings.push(verify::expiry_finding(format!("tls expiry{suffix}"), host, &leaf, policy, SystemTime::now()));
    findings
}

/// Checks a certificate file (PEM: leaf first, then intermediates) and, when given, its private
/// key, before they are installed: `tls cert file` (fail when the file cannot be read or parsed),
/// `tls trust`, `tls name NAME` for each name, `tls expiry`, and `tls key` (the key matches the
/// certificate). The host column is the certificate file's path.
pub fn check_files(cert: &Path, key: Option<&Path>, names: &[String], policy: &Policy) -> Vec<Finding> {
    let provider = rustls::crypto::ring::default_provider();
    let host = cert.display().to_string();
    let mut findings = Vec::new();
    let chain =
        std::fs::read(cert).map_err(|e| format!("{}: cannot read: {}", cert.display(), probe::io_reason(&e))).and_then(
            |pem| cert::parse_chain_pem(&pem).map_err(|e| format!("{}: not a certificate chain: {e}", cert.display())),
        );
    let chain = match chain {
        Ok(chain) => Some(chain),
        Err(reason) => {
            findings.push(Finding::fail("tls cert file", &host, reason));
            None
        }
    };
    if let Some(chain) = &chain {
        let mut judged = chain_findings(&host, None, chain, policy, &provider, Source::File);
        if let Ok(leaf) = CertInfo::from_der(&chain[0]) {
            let expiry = judged.pop();
            judged.extend(names.iter().map(|n| verify::name_finding(format!("tls name {n}"), &host, &leaf, n)));
            judged.extend(expiry);
        }
        findings.extend(judged);
    }
    if let Some(key) = key {
        let pem = std::fs::read(key).map_err(|e| format!("{}: cannot read: {}", key.display(), probe::io_reason(&e)));
        let verdict = pem.and_then(|pem| {
            cert::parse_key_pem(&pem).map_err(|e| format!("{}: not a private key: {e}", key.display()))?;
            match &chain {
                Some(chain) => cert::key_matches(chain, &pem).map_err(|e| format!("{}: {e}", key.display())),
                None => Err(format!("{}: not compared, the certificate did not parse", key.display())),
            }
        });
        findings.push(match verdict {
            Ok(true) => {
                Finding::pass("tls key", &host, format!("private key {} matches the certificate", key.display()))
            }
            Ok(false) => {
                Finding::fail("tls key", &host, format!("private key {} does not match the certificate", key.display()))
            }
            Err(reason) => Finding::fail("tls key", &host, reason),
        });
    }
    findings
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
