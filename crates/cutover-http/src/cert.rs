//! Small pieces about certificates, shared by the live checks, the file checks, ACME issuance and
//! the reuse of a valid certificate on hosts: PEM chains, what a certificate says (names, validity,
//! issuer), and whether a private key belongs to a certificate.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// Why a certificate, a chain, a key or a CA file could not be read.
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

/// Issuer names of Cloudflare's Origin CA: the RSA root says the first in its OU, the ECC root the
/// second. Leaves issued by them name the CA in their issuer's OU.
pub const ORIGIN_CA_ISSUERS: [&str; 2] =
    ["CloudFlare Origin SSL Certificate Authority", "CloudFlare Origin SSL ECC Certificate Authority"];

/// Every certificate in `pem`, in order (for a server chain: leaf first, then intermediates).
///
/// Other PEM sections (a private key in the same file) are skipped. No certificate at all, a
/// broken PEM section, or a section that is not an X.509 certificate is an error.
pub fn parse_chain_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut chain = Vec::new();
    for item in CertificateDer::pem_slice_iter(pem) {
        let der = item.map_err(|e| TlsError::Pem(format!("{e:?}")))?;
        X509Certificate::from_der(&der).map_err(|e| {
            TlsError::Certificate(format!("certificate {} of the chain does not parse: {e}", chain.len() + 1))
        })?;
        chain.push(der);
    }
    if chain.is_empty() {
        return Err(TlsError::Pem("no certificate (no \"BEGIN CERTIFICATE\" section)".into()));
    }
    Ok(chain)
}

/// The private key in `pem` (PKCS#8, SEC1 or PKCS#1; the first one found).
pub fn parse_key_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            TlsError::Key("no private key (no \"BEGIN ... PRIVATE KEY\" section)".into())
        }
        e => TlsError::Key(format!("{e:?}")),
    })
}

/// Whether `key_pem` is the private key of the first certificate of `chain` (compares the public
/// key the private key derives with the certificate's). An unreadable or unsupported key is an
/// error, as is an empty chain.
pub fn key_matches(chain: &[CertificateDer<'static>], key_pem: &[u8]) -> Result<bool, TlsError> {
    if chain.is_empty() {
        return Err(TlsError::Certificate("empty certificate chain".into()));
    }
    let key = parse_key_pem(key_pem)?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| TlsError::Key(format!("unsupported private key: {e}")))?;
    match CertifiedKey::new(chain.to_vec(), signing).keys_match() {
        Ok(()) => Ok(true),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => Ok(false),
        Err(e) => Err(TlsError::Key(format!("cannot compare key and certificate: {e}"))),
    }
}

/// What one certificate says, as far as the checks care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject distinguished name, as `CN=..., O=...`.
    pub subject: String,
    /// The issuer distinguished name.
    pub issuer: String,
    /// The subjectAltName dNSName entries, as written (a wildcard stays `*.example.com`).
    pub names: Vec<String>,
    /// The subjectAltName iPAddress entries: what a URL whose host is an address is checked against.
    pub ips: Vec<IpAddr>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// Issued by Cloudflare's Origin CA (by its issuer name): trusted by Cloudflare's edge only.
    pub origin_ca: bool,
    /// Subject equals issuer (a self-signed certificate or a root).
    pub self_issued: bool,
    /// The basicConstraints CA flag.
    pub is_ca: bool,
}

impl CertInfo {
    pub fn from_der(der: &[u8]) -> Result<Self, TlsError> {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| TlsError::Certificate(format!("not an X.509 certificate: {e}")))?;
        let (mut names, mut ips) = (Vec::new(), Vec::new());
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(n) => names.push((*n).to_string()),
                    GeneralName::IPAddress(bytes) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                            ips.push(IpAddr::from(v4));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                            ips.push(IpAddr::from(v6));
                        }
                    }
                    _ => {}
                }
            }
        }
        let issuer_attrs = cert
            .issuer()
            .iter_organizational_unit()
            .chain(cert.issuer().iter_common_name())
            .filter_map(|a| a.as_str().ok())
            .collect::<Vec<_>>();
        let origin_ca = issuer_attrs.iter().any(|v| is_origin_ca_name(v));
        let time = |t: &x509_parser::time::ASN1Time| {
            let secs = t.timestamp();
            if secs >= 0 {
                UNIX_EPOCH + Duration::from_secs(secs as u64)
            } else {
                UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
            }
        };
        Ok(Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            names,
            ips,
            not_before: time(&cert.validity().not_before),
            not_after: time(&cert.validity().not_after),
            origin_ca,
            self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
            is_ca: cert.is_ca(),
        })
    }

    /// Whole days from `now` until `not_after`, rounded down; negative once expired (-1 on the
    /// first day after).
    pub fn days_left(&self, now: SystemTime) -> i64 {
        let secs = match self.not_after.duration_since(now) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64) - 1,
        };
        secs.div_euclid(86_400)
    }

    /// Whether the certificate is within its validity at `at`.
    pub fn valid_at(&self, at: SystemTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    /// Whether one of [`names`](Self::names) covers `name`: the same name, or a wildcard
    /// `*.rest` for a name of exactly one more label. Case-insensitive; a trailing dot is ignored.
    /// An address (`10.0.0.5`, `2001:db8::5`) is covered only by the same address in
    /// [`ips`](Self::ips), never by a DNS name.
    pub fn covers(&self, name: &str) -> bool {
        match name.parse::<IpAddr>() {
            Ok(ip) => self.ips.contains(&ip),
            Err(_) => self.names.iter().any(|pattern| name_matches(pattern, name)),
        }
    }

    /// `not_after` as a UTC date, `YYYY-MM-DD`.
    pub fn not_after_date(&self) -> String {
        utc_date(self.not_after)
    }
}

/// Whether the issuer attribute `value` names Cloudflare's Origin CA.
pub fn is_origin_ca_name(value: &str) -> bool {
    value.to_ascii_lowercase().contains("cloudflare origin ssl")
}

/// Whether the certificate name `pattern` (exact or `*.` wildcard) covers `name`.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if pattern.is_empty() || name.is_empty() {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(rest) => match name.split_once('.') {
            Some((first, name_rest)) => !first.is_empty() && first != "*" && name_rest == rest && rest.contains('.'),
            None => false,
        },
        None => pattern == name,
    }
}

/// A time as a UTC date, `YYYY-MM-DD` (civil-from-days, so no date library is needed).
pub fn utc_date(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let days = secs.div_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(names: &[&str]) -> CertInfo {
        CertInfo {
            subject: String::new(),
            issuer: String::new(),
            names: names.iter().map(|s| s.to_string()).collect(),
            ips: vec!["10.0.0.5".parse().unwrap(), "2001:db8::5".parse().unwrap()],
            not_before: UNIX_EPOCH,
            not_after: UNIX_EPOCH + Duration::from_secs(10 * 86_400),
            origin_ca: false,
            self_issued: false,
            is_ca: false,
        }
    }

    #[test]
    fn covers_exact_and_single_label_wildcards() {
        let c = info(&["Shop.Example.com", "*.example.org"]);
        assert!(c.covers("shop.example.com"));
        assert!(c.covers("SHOP.EXAMPLE.COM."));
        assert!(!c.covers("www.shop.example.com"));
        assert!(!c.covers("example.com"));
        assert!(c.covers("www.example.org"));
        assert!(c.covers("WWW.example.ORG"));
        assert!(!c.covers("example.org"));
        assert!(!c.covers("a.b.example.org"));
        assert!(!c.covers(".example.org"));
        assert!(!info(&["*.com"]).covers("example.com"));
        assert!(!info(&[]).covers("example.com"));
        // Addresses by the IP SANs only.
        assert!(c.covers("10.0.0.5") && c.covers("2001:db8:0::5"));
        assert!(!c.covers("10.0.0.6"));
        assert!(!info(&["10.0.0.7"]).covers("10.0.0.7"), "a DNS name that reads like an address is not one");
    }

    #[test]
    fn days_left_rounds_down_and_goes_negative() {
        let c = info(&[]);
        assert_eq!(c.days_left(UNIX_EPOCH), 10);
        assert_eq!(c.days_left(UNIX_EPOCH + Duration::from_secs(86_400 + 1)), 8);
        assert_eq!(c.days_left(UNIX_EPOCH + Duration::from_secs(10 * 86_400)), 0);
        assert_eq!(c.days_left(UNIX_EPOCH + Duration::from_secs(10 * 86_400 + 5)), -1);
        assert_eq!(c.days_left(UNIX_EPOCH + Duration::from_secs(12 * 86_400 + 5)), -3);
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(UNIX_EPOCH), "1970-01-01");
        assert_eq!(utc_date(UNIX_EPOCH + Duration::from_secs(1_709_251_199)), "2024-02-29");
        assert_eq!(utc_date(UNIX_EPOCH + Duration::from_secs(1_861_920_000)), "2029-01-01");
    }

    #[test]
    fn pem_errors() {
        assert!(matches!(parse_chain_pem(b""), Err(TlsError::Pem(_))));
        assert!(matches!(parse_chain_pem(b"hello"), Err(TlsError::Pem(_))));
        let bad = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(
            matches!(parse_chain_pem(bad), Err(TlsError::Certificate(m)) if m.starts_with("certificate 1 of the chain does not parse")),
        );
        assert!(matches!(parse_key_pem(b"nothing"), Err(TlsError::Key(m)) if m.starts_with("no private key")));
    }

    #[test]
    fn cloudflare_roots_are_recognised() {
        let roots = parse_chain_pem(crate::CLOUDFLARE_ORIGIN_ROOTS_PEM).unwrap();
        assert_eq!(roots.len(), 2);
        for root in &roots {
            let info = CertInfo::from_der(root).unwrap();
            assert!(info.origin_ca, "{}", info.issuer);
            assert!(info.self_issued && info.is_ca);
            assert_eq!(info.not_after_date(), "2029-08-15");
        }
    }
}
