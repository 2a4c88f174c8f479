//! Verdicts on a certificate chain's trust, in words that say what to fix: whether it leads to a
//! root of a store, judged within the leaf's validity (its own dates are the expiry verdict's
//! business). Shared by [`Trust`](crate::Trust), the client's verifier and the readiness checks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, RootCertStore};

use crate::cert::{CertInfo, utc_date};

/// Where a chain came from, for the wording of an incomplete chain: a server sent it, or a file
/// holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Server,
    File,
}

/// Whether `chain` (leaf first, not empty) leads to a root of `store`, judged as of `at` or, when
/// the leaf is not valid then, the nearest moment within its validity (the leaf's own dates are
/// the expiry verdict's business); else why not, in words that say what to fix.
pub(crate) fn chain_verdict(
    chain: &[CertificateDer<'static>],
    leaf: &CertInfo,
    store: &RootCertStore,
    provider: &CryptoProvider,
    source: Source,
    at: SystemTime,
) -> Result<(), String> {
    signed_by_trust_anchor(chain, leaf, store, provider, at).map_err(|e| {
        let mut reason = reason(&e, chain, leaf, source);
        if !leaf.valid_at(at) {
            reason.push_str(&format!(
                " (judged as of {}, within the certificate's validity)",
                utc_date(judging_time(leaf, at))
            ));
        }
        reason
    })
}

fn signed_by_trust_anchor(
    chain: &[CertificateDer<'static>],
    leaf: &CertInfo,
    store: &RootCertStore,
    provider: &CryptoProvider,
    at: SystemTime,
) -> Result<(), rustls::Error> {
    let parsed = ParsedCertificate::try_from(&chain[0])?;
    let at = judging_time(leaf, at);
    let at = UnixTime::since_unix_epoch(at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO));
    verify_server_cert_signed_by_trust_anchor(
        &parsed,
        store,
        &chain[1..],
        at,
        provider.signature_verification_algorithms.all,
    )
}

/// A moment the leaf is valid: `now` if it is, else the nearest end of its validity.
fn judging_time(leaf: &CertInfo, now: SystemTime) -> SystemTime {
    now.clamp(leaf.not_before, leaf.not_after.max(leaf.not_before))
}

/// Why a chain is not trusted, in words that say what to fix.
fn reason(e: &rustls::Error, chain: &[CertificateDer<'static>], leaf: &CertInfo, source: Source) -> String {
    let rustls::Error::InvalidCertificate(cert_error) = e else {
        return format!("certificate not accepted: {e}");
    };
    if chain.len() == 1 && leaf.self_issued {
        return format!("self-signed certificate ({}), not issued by a trusted CA", short_name(&leaf.subject));
    }
    let last = chain.last().and_then(|c| CertInfo::from_der(c).ok());
    match cert_error {
        CertificateError::UnknownIssuer => match last {
            Some(last) if last.self_issued => format!(
                "unknown issuer: the chain ends at the root {}, which is not trusted",
                short_name(&last.subject)
            ),
            Some(last) => {
                let sent = match (source, chain.len()) {
                    (Source::Server, 1) => "the server sent only the leaf, and its issuer".to_string(),
                    (Source::File, 1) => "the file holds only the leaf, and its issuer".to_string(),
                    (Source::Server, n) => format!("the server sent {n} certificates, and the last one's issuer"),
                    (Source::File, n) => format!("the file holds {n} certificates, and the last one's issuer"),
                };
                format!(
                    "incomplete chain or unknown issuer: {sent} {} is not a trusted root \
                         (missing intermediate certificate?)",
                    short_name(&last.issuer)
                )
            }
            None => "unknown issuer".into(),
        },
        CertificateError::BadSignature => "a signature in the chain does not verify".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "an intermediate certificate of the chain has expired".into()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "an intermediate certificate of the chain is not valid yet".into()
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the certificate is not meant for TLS servers (extended key usage)".into()
        }
        CertificateError::Other(_) if leaf.is_ca => {
            "the first certificate is a CA certificate: the server certificate must come first".into()
        }
        other => format!("certificate not accepted: {other:?}"),
    }
}

/// `CN` of a distinguished name if it has one, else the whole name; quoted.
pub fn short_name(dn: &str) -> String {
    let cn = dn.split(", ").find_map(|part| part.strip_prefix("CN="));
    let ou = dn.split(", ").find_map(|part| part.strip_prefix("OU="));
    format!("\"{}\"", cn.or(ou).unwrap_or(dn))
}
