//! Certificates for tests, made on the spot with rcgen: a root [`Ca`], intermediates under it,
//! server certificates ([`Leaf`]) for given names with a chosen validity (valid, expired, expiring
//! in N days), and self-signed leaves. Keys are ECDSA P-256, which rustls, OpenSSL 3 and nginx all
//! read.
//!
//! ```no_run
//! use cutover_testkit::certs::{Ca, Leaf};
//! let root = Ca::new("cutover test root");
//! let inter = root.intermediate("cutover test intermediate");
//! let leaf = inter.issue(&["shop.example.test"]);          // valid 90 days
//! let old = inter.issue_expiring(&["shop.example.test"], -3); // expired 3 days ago
//! let dir = tempfile::tempdir().unwrap();
//! let files = leaf.write(dir.path(), "shop");  // shop.crt (leaf), shop.chain.pem, shop.key
//! root.write(dir.path(), "root");              // root.pem (+ root.key)
//! # let _ = (old, files, Leaf::self_signed(&["x.test"]));
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};

const DAY: Duration = Duration::days(1);

/// The distinguished name of Cloudflare's ECC Origin CA root (its OU), plus the same text as CN,
/// for a test CA that the checks recognise as an Origin CA.
pub const ORIGIN_CA_ECC_DN: &[(&str, &str)] = &[
    ("C", "US"),
    ("ST", "California"),
    ("L", "San Francisco"),
    ("O", "CloudFlare, Inc."),
    ("OU", "CloudFlare Origin SSL ECC Certificate Authority"),
    ("CN", "CloudFlare Origin SSL ECC Certificate Authority"),
];

/// A certificate authority: a self-signed root ([`Ca::new`]) or an intermediate under another CA
/// ([`Ca::intermediate`]). Valid from five years ago for ten years from now, so it covers the
/// validity of every leaf it issues (expired ones too).
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    key_pem: String,
    /// PEM of this CA (when it is an intermediate) and of the intermediates above it, nearest
    /// first; empty for a root. Appended to the chain of every leaf it issues.
    chain_above: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl Ca {
    /// A root CA with `CN=common_name, O=cutover tests`.
    pub fn new(common_name: &str) -> Ca {
        Ca::with_dn(&[("O", "cutover tests"), ("CN", common_name)])
    }

    /// A root CA with the given distinguished name, as `(attribute, value)` pairs where the
    /// attribute is one of `C`, `ST`, `L`, `O`, `OU`, `CN` (e.g. [`ORIGIN_CA_ECC_DN`]).
    pub fn with_dn(dn: &[(&str, &str)]) -> Ca {
        let key = new_key();
        let params = ca_params(dn);
        let cert = params.self_signed(&key).expect("self-sign the test root");
        Ca {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
            chain_above: String::new(),
        }
    }

    /// A root CA named like Cloudflare's ECC Origin CA ([`ORIGIN_CA_ECC_DN`]); its leaves are
    /// recognised as Origin CA certificates. Real Origin CA leaves come straight from the root.
    pub fn origin_ca_like() -> Ca {
        Ca::with_dn(ORIGIN_CA_ECC_DN)
    }

    /// An intermediate CA under this one, `CN=common_name, O=cutover tests`.
    pub fn intermediate(&self, common_name: &str) -> Ca {
        let key = new_key();
        let params = ca_params(&[("O", "cutover tests"), ("CN", common_name)]);
        let cert = params.signed_by(&key, &self.issuer).expect("sign the test intermediate");
        let cert_pem = cert.pem();
        let chain_above = format!("{cert_pem}{}", self.chain_above);
        Ca { cert_pem, key_pem: key.serialize_pem(), issuer: Issuer::new(params, key), chain_above }
    }

    /// This CA's certificate (PEM).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// This CA's private key (PKCS#8 PEM).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A server certificate for `names` (the first is also the CN), valid from a day ago for 90 days.
    pub fn issue(&self, names: &[&str]) -> Leaf {
        self.issue_expiring(names, 90)
    }

    /// A server certificate for `names` that expires `days` days (plus one hour) from now, valid
    /// since 60 days before that: `-3` gives one that expired three days ago, `10` one with ten
    /// days left.
    pub fn issue_expiring(&self, names: &[&str], days: i64) -> Leaf {
        let not_after = OffsetDateTime::now_utc() + Duration::days(days) + Duration::hours(1);
        let not_before = (not_after - Duration::days(60)).min(OffsetDateTime::now_utc() - DAY);
        self.issue_valid(names, not_before, not_after)
    }

    /// A server certificate for `names` valid from `not_before` to `not_after`.
    pub fn issue_valid(&self, names: &[&str], not_before: OffsetDateTime, not_after: OffsetDateTime) -> Leaf {
        let key = new_key();
        let params = leaf_params(names, not_before, not_after);
        let cert = params.signed_by(&key, &self.issuer).expect("sign the test leaf");
        let cert_pem = cert.pem();
        Leaf { chain_pem: format!("{cert_pem}{}", self.chain_above), cert_pem, key_pem: key.serialize_pem() }
    }

    /// Writes `DIR/STEM.pem` (the certificate) and `DIR/STEM.key`; returns the certificate's path.
    pub fn write(&self, dir: &Path, stem: &str) -> PathBuf {
        let cert = dir.join(format!("{stem}.pem"));
        fs::write(&cert, &self.cert_pem).expect("write the test CA certificate");
        fs::write(dir.join(format!("{stem}.key")), &self.key_pem).expect("write the test CA key");
        cert
    }
}

/// A server certificate and its key.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The certificate alone (PEM).
    pub cert_pem: String,
    /// Its private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The certificate followed by the intermediates up to (not including) the root: what a
    /// server should send.
    pub chain_pem: String,
}

/// Where [`Leaf::write`] put the files.
#[derive(Debug, Clone)]
pub struct LeafFiles {
    /// `STEM.crt`: the leaf alone (a server configured with it sends an incomplete chain when
    /// there is an intermediate).
    pub cert: PathBuf,
    /// `STEM.chain.pem`: leaf then intermediates (nginx's `ssl_certificate`).
    pub chain: PathBuf,
    /// `STEM.key`.
    pub key: PathBuf,
}

impl Leaf {
    /// A self-signed server certificate for `names`, valid from a day ago for 90 days.
    pub fn self_signed(names: &[&str]) -> Leaf {
        let key = new_key();
        let now = OffsetDateTime::now_utc();
        let cert =
            leaf_params(names, now - DAY, now + Duration::days(90)).self_signed(&key).expect("self-sign the test leaf");
        let cert_pem = cert.pem();
        Leaf { chain_pem: cert_pem.clone(), cert_pem, key_pem: key.serialize_pem() }
    }

    /// Writes `DIR/STEM.crt`, `DIR/STEM.chain.pem` and `DIR/STEM.key` (mode 0600).
    pub fn write(&self, dir: &Path, stem: &str) -> LeafFiles {
        let files = LeafFiles {
            cert: dir.join(format!("{stem}.crt")),
            chain: dir.join(format!("{stem}.chain.pem")),
            key: dir.join(format!("{stem}.key")),
        };
        fs::write(&files.cert, &self.cert_pem).expect("write the test certificate");
        fs::write(&files.chain, &self.chain_pem).expect("write the test chain");
        fs::write(&files.key, &self.key_pem).expect("write the test key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&files.key, fs::Permissions::from_mode(0o600));
        }
        files
    }
}

fn new_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate a P-256 key")
}

fn distinguished_name(dn: &[(&str, &str)]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    for (attr, value) in dn {
        let ty = match *attr {
            "C" => DnType::CountryName,
            "ST" => DnType::StateOrProvinceName,
            "L" => DnType::LocalityName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "CN" => DnType::CommonName,
            other => panic!("unknown DN attribute {other:?} (use C, ST, L, O, OU or CN)"),
        };
        name.push(ty, *value);
    }
    name
}

fn ca_params(dn: &[(&str, &str)]) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(dn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = now - Duration::days(5 * 365);
    params.not_after = now + Duration::days(3650);
    params.use_authority_key_identifier_extension = true;
    params
}

fn leaf_params(names: &[&str], not_before: OffsetDateTime, not_after: OffsetDateTime) -> CertificateParams {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("valid test names");
    params.distinguished_name = distinguished_name(&[("CN", names.first().copied().unwrap_or("cutover test"))]);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = not_before;
    params.not_after = not_after;
    params.use_authority_key_identifier_extension = true;
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_verify_with_openssl() {
        if !crate::on_path("openssl") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = Ca::new("root");
        let inter = root.intermediate("inter");
        let root_pem = root.write(dir.path(), "root");
        let files = inter.issue(&["a.test", "b.test"]).write(dir.path(), "leaf");
        fs::write(dir.path().join("inter.pem"), inter.cert_pem()).unwrap();
        let out = std::process::Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(&root_pem)
            .arg("-untrusted")
            .arg(dir.path().join("inter.pem"))
            .arg(&files.cert)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let chain = fs::read_to_string(&files.chain).unwrap();
        assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2);
    }
}
