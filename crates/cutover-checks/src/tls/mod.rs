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

mod http;
mod legacy;
mod probe;
mod verify;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cutover_http::Trust;
use cutover_http::cert::{self, CertInfo};
use cutover_http::chain::Source;
use cutover_http::text::io_reason;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;

use crate::Finding;
use legacy::LegacyReply;
use probe::ConnectError;

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
            findings.extend(chain_findings(host, Some(name), &session.chain, policy, Source::Server));
            let host_header = http::host_header(name, policy.https_port, 443);
            let head = http::head(&mut session.stream, &host_header, policy.timeout, |s, t| {
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
                    findings.extend(chain_findings(host, Some(name), &chain, policy, Source::Server));
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
    let mut findings = vec![verify::trust_finding(format!("tls trust{suffix}"), host, chain, &leaf, policy, source)];
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
    let host = cert.display().to_string();
    let mut findings = Vec::new();
    let chain =
        std::fs::read(cert).map_err(|e| format!("{}: cannot read: {}", cert.display(), io_reason(&e))).and_then(
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
        let mut judged = chain_findings(&host, None, chain, policy, Source::File);
        if let Ok(leaf) = CertInfo::from_der(&chain[0]) {
            let expiry = judged.pop();
            judged.extend(names.iter().map(|n| verify::name_finding(format!("tls name {n}"), &host, &leaf, n)));
            judged.extend(expiry);
        }
        findings.extend(judged);
    }
    if let Some(key) = key {
        let pem = std::fs::read(key).map_err(|e| format!("{}: cannot read: {}", key.display(), io_reason(&e)));
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
