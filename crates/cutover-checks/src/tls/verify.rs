//! Verdicts on a certificate for the readiness checks, shared by the live checks and the file
//! checks: trust (against the public roots, or Cloudflare's Origin CA roots for an Origin CA
//! certificate), names, expiry.

use std::time::SystemTime;

use cutover_http::cert::{CertInfo, name_matches, utc_date};
use cutover_http::chain::{Source, short_name};
use rustls::pki_types::CertificateDer;

use super::Policy;
use crate::Finding;

/// `check`: trust of `chain` (leaf first) as of a moment inside the leaf's validity, so that an
/// expired certificate is reported by the expiry verdict, not here.
pub(crate) fn trust_finding(
    check: String,
    host: &str,
    chain: &[CertificateDer<'static>],
    leaf: &CertInfo,
    policy: &Policy,
    source: Source,
) -> Finding {
    let result = policy.trust.judge_chain(chain, leaf, source, SystemTime::now());
    let issuer = short_name(&leaf.issuer);
    if leaf.origin_ca {
        const ORIGIN: &str = "origin-only (Cloudflare Origin CA)";
        return match (result, policy.proxied) {
            (Ok(()), true) => {
                Finding::pass(check, host, format!("{ORIGIN}: trusted by Cloudflare's edge; the name is proxied"))
            }
            (Ok(()), false) => Finding::fail(
                check,
                host,
                format!("{ORIGIN}: an Origin CA certificate is trusted only by Cloudflare; the name is not proxied"),
            ),
            (Err(reason), _) => Finding::fail(
                check,
                host,
                format!("{ORIGIN}, but not signed by Cloudflare's Origin CA roots: {reason}"),
            ),
        };
    }
    match result {
        Ok(()) => Finding::pass(check, host, format!("trusted, issued by {issuer}")),
        Err(reason) => Finding::fail(check, host, reason),
    }
}

/// `check`: whether the certificate covers `name`.
pub(crate) fn name_finding(check: String, host: &str, leaf: &CertInfo, name: &str) -> Finding {
    // An address is checked against the IP SANs; no DNS name covers it.
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        return if leaf.ips.contains(&ip) {
            Finding::pass(check, host, format!("{name} is in the certificate"))
        } else if leaf.ips.is_empty() {
            Finding::fail(check, host, format!("{name} is not covered: the certificate has no IP addresses"))
        } else {
            let ips: Vec<String> = leaf.ips.iter().map(ToString::to_string).collect();
            Finding::fail(check, host, format!("{name} is not covered; the certificate is for {}", ips.join(", ")))
        };
    }
    match leaf.names.iter().find(|pattern| name_matches(pattern, name)) {
        Some(pattern) if pattern.eq_ignore_ascii_case(name) => {
            Finding::pass(check, host, format!("{name} is in the certificate"))
        }
        Some(pattern) => Finding::pass(check, host, format!("{name} is covered by {pattern}")),
        None if leaf.names.is_empty() => Finding::fail(
            check,
            host,
            format!("{name} is not covered: the certificate has no DNS names ({})", short_name(&leaf.subject)),
        ),
        None => Finding::fail(
            check,
            host,
            format!("{name} is not covered; the certificate is for {}", leaf.names.join(", ")),
        ),
    }
}

/// `check`: days left before the leaf expires.
pub(crate) fn expiry_finding(check: String, host: &str, leaf: &CertInfo, policy: &Policy, now: SystemTime) -> Finding {
    let until = leaf.not_after_date();
    if now < leaf.not_before {
        return Finding::fail(check, host, format!("not valid yet (from {})", utc_date(leaf.not_before)));
    }
    let days = leaf.days_left(now);
    if now > leaf.not_after {
        let ago = -days;
        let unit = if ago == 1 { "day" } else { "days" };
        return Finding::fail(check, host, format!("expired {ago} {unit} ago (on {until})"));
    }
    let unit = if days == 1 { "day" } else { "days" };
    let detail = format!("{days} {unit} left (until {until})");
    if days < i64::from(policy.fail_days) {
        Finding::fail(check, host, detail)
    } else if days < i64::from(policy.warn_days) {
        Finding::warn(check, host, detail)
    } else {
        Finding::pass(check, host, detail)
    }
}
