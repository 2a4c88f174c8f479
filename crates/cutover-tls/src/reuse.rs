//! Whether a certificate already on a host can be kept instead of ordering a new one.

use std::time::SystemTime;

use cutover_http::Trust;
use cutover_http::cert::{CertInfo, key_matches, parse_chain_pem};

use crate::{LETS_ENCRYPT, LETS_ENCRYPT_STAGING, REUSE_MIN_DAYS};

/// A certificate and key pair found on a host that is good for the plan.
#[derive(Debug, Clone)]
pub(crate) struct Reusable {
    pub host: String,
    pub cert: String,
    pub key: String,
    pub info: CertInfo,
}

/// Whether `info` covers `name`. A wildcard name is covered only by the same wildcard.
pub(crate) fn covers(info: &CertInfo, name: &str) -> bool {
    if name.starts_with("*.") {
        info.names.iter().any(|n| n.trim_end_matches('.').eq_ignore_ascii_case(name))
    } else {
        info.covers(name)
    }
}

/// Judges one host's pair: `Ok` with what the certificate says when it can be kept, else why not.
///
/// Kept only when: the file is a chain (leaf, then the certificate that issued it) whose leaf is
/// not a CA, not self-issued and not a Cloudflare origin certificate; when the directory is Let's
/// Encrypt's production one, Let's Encrypt issued it and not its staging environment; the chain
/// validates (signatures up to a root) against `trust`, the system's roots and the extra CA
/// ([`Trust::verify_chain`]), except for [`LETS_ENCRYPT_STAGING`], whose certificates no one
/// trusts; it is valid now with more than [`REUSE_MIN_DAYS`] days left; it covers every name; and
/// the key file holds its private key.
pub(crate) fn judge(
    names: &[String],
    directory: &str,
    trust: &Trust,
    cert: &str,
    key: Option<&str>,
    now: SystemTime,
) -> Result<CertInfo, String> {
    let chain = parse_chain_pem(cert.as_bytes()).map_err(|e| format!("certificate file unreadable: {e}"))?;
    let info = CertInfo::from_der(&chain[0]).map_err(|e| e.to_string())?;
    if info.is_ca || info.self_issued {
        return Err("a self-signed or CA certificate, not one from an ACME CA".into());
    }
    if info.origin_ca {
        return Err("a Cloudflare origin certificate".into());
    }
    match chain.get(1).map(|der| CertInfo::from_der(der)) {
        Some(Ok(issuer)) if issuer.subject == info.issuer => {}
        Some(_) => return Err("the file's second certificate did not issue the first".into()),
        None => return Err("the file has no intermediate certificate after the leaf".into()),
    }
    if directory == LETS_ENCRYPT && (!info.issuer.contains("O=Let's Encrypt") || info.issuer.contains("STAGING")) {
        return Err(format!("issued by {}, not by Let's Encrypt", info.issuer));
    }
    if directory != LETS_ENCRYPT_STAGING {
        trust.verify_chain(&chain, now).map_err(|why| format!("not trusted: {why}"))?;
    }
    if !info.valid_at(now) {
        return Err(format!("not valid now (valid until {})", info.not_after_date()));
    }
    let days = info.days_left(now);
    if days <= REUSE_MIN_DAYS {
        return Err(format!("only {days} days left (until {})", info.not_after_date()));
    }
    let missing: Vec<&str> = names.iter().filter(|n| !covers(&info, n)).map(String::as_str).collect();
    if !missing.is_empty() {
        return Err(format!("does not cover {}", missing.join(", ")));
    }
    let key = key.ok_or("no key file")?;
    match key_matches(&chain, key.as_bytes()) {
        Ok(true) => Ok(info),
        Ok(false) => Err("the key file does not hold this certificate's key".into()),
        Err(e) => Err(format!("key file unusable: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use cutover_testkit::certs::{Ca, Leaf};

    use super::*;

    const DIR: &str = "https://acme.example.test/directory";

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// The system's roots and `ca` as the extra CA.
    fn trusting(ca: &Ca) -> Trust {
        let dir = tempfile::tempdir().unwrap();
        Trust::load(Some(&ca.write(dir.path(), "ca"))).unwrap()
    }

    #[test]
    fn keeps_only_a_valid_chain_for_every_name_with_its_key() {
        let root = Ca::new("test root");
        let trust = trusting(&root);
        let inter = root.intermediate("test intermediate");
        let now = SystemTime::now();
        let want = names(&["a.test", "b.test"]);
        let judge = |_: &Leaf, chain: &str, key: Option<&str>| judge(&want, DIR, &trust, chain, key, now);

        let good = inter.issue(&["a.test", "b.test", "c.test"]);
        let info = judge(&good, &good.chain_pem, Some(&good.key_pem)).unwrap();
        assert!(info.covers("b.test"));

        let why = |leaf: &Leaf, chain: &str, key: Option<&str>| judge(leaf, chain, key).unwrap_err();
        let soon = inter.issue_expiring(&["a.test", "b.test"], 10);
        assert!(why(&soon, &soon.chain_pem, Some(&soon.key_pem)).contains("10 days left"));
        let expired = inter.issue_expiring(&["a.test", "b.test"], -2);
        assert!(why(&expired, &expired.chain_pem, Some(&expired.key_pem)).contains("not valid now"));
        let partial = inter.issue(&["a.test"]);
        assert!(why(&partial, &partial.chain_pem, Some(&partial.key_pem)).contains("does not cover b.test"));
        let other = inter.issue(&["a.test", "b.test"]);
        assert!(why(&good, &good.chain_pem, Some(&other.key_pem)).contains("does not hold"));
        assert!(why(&good, &good.chain_pem, None).contains("no key file"));
        assert!(why(&good, &good.cert_pem, Some(&good.key_pem)).contains("no intermediate"));
        assert!(why(&good, "garbage", Some(&good.key_pem)).contains("unreadable"));
        let snakeoil = Leaf::self_signed(&["a.test", "b.test"]);
        assert!(why(&snakeoil, &snakeoil.chain_pem, Some(&snakeoil.key_pem)).contains("self-signed"));
        let origin_ca = Ca::origin_ca_like();
        let origin = origin_ca.issue(&["a.test", "b.test"]);
        let origin_chain = format!("{}{}", origin.cert_pem, origin_ca.cert_pem());
        assert!(why(&origin, &origin_chain, Some(&origin.key_pem)).contains("Cloudflare origin"));
    }

    #[test]
    fn keeps_only_a_chain_that_leads_to_a_trusted_root() {
        let now = SystemTime::now();
        let want = names(&["a.test"]);
        let root = Ca::new("untrusted root");
        let pair = root.intermediate("untrusted intermediate").issue(&["a.test"]);
        let system = Trust::load(None).unwrap();
        let why = judge(&want, DIR, &system, &pair.chain_pem, Some(&pair.key_pem), now).unwrap_err();
        assert!(why.starts_with("not trusted: "), "{why}");
        assert!(why.contains("\"untrusted root\" is not a trusted root"), "{why}");
        // Well formed, but signed by another key than the intermediate's.
        let forged = format!("{}{}", pair.cert_pem, Ca::new("untrusted intermediate").cert_pem());
        let why = judge(&want, DIR, &trusting(&root), &forged, Some(&pair.key_pem), now).unwrap_err();
        assert!(why.starts_with("not trusted: "), "{why}");

        judge(&want, DIR, &trusting(&root), &pair.chain_pem, Some(&pair.key_pem), now).unwrap();
        // Let's Encrypt's staging certificates are never publicly trusted: only their shape counts.
        judge(&want, crate::LETS_ENCRYPT_STAGING, &system, &pair.chain_pem, Some(&pair.key_pem), now).unwrap();
    }

    #[test]
    fn the_production_directory_keeps_only_what_lets_encrypt_issued() {
        let now = SystemTime::now();
        let want = names(&["a.test"]);
        // A leaf followed by the CA that signed it, named like Let's Encrypt's intermediates, and
        // trust in that CA.
        let pair = |dn: &[(&str, &str)]| {
            let ca = Ca::with_dn(dn);
            let leaf = ca.issue(&["a.test"]);
            (format!("{}{}", leaf.cert_pem, ca.cert_pem()), leaf.key_pem, trusting(&ca))
        };
        let (chain, key, trust) = pair(&[("C", "US"), ("O", "Let's Encrypt"), ("CN", "R11")]);
        assert!(judge(&want, LETS_ENCRYPT, &trust, &chain, Some(&key), now).is_ok());
        let (chain, key, trust) =
            pair(&[("C", "US"), ("O", "(STAGING) Let's Encrypt"), ("CN", "(STAGING) False Fennel E6")]);
        let why = judge(&want, LETS_ENCRYPT, &trust, &chain, Some(&key), now).unwrap_err();
        assert!(why.contains("not by Let's Encrypt"), "{why}");
        assert!(judge(&want, crate::LETS_ENCRYPT_STAGING, &trust, &chain, Some(&key), now).is_ok());
        let root = Ca::new("test root");
        let trust = trusting(&root);
        let ours = root.intermediate("test intermediate").issue(&["a.test"]);
        let why = judge(&want, LETS_ENCRYPT, &trust, &ours.chain_pem, Some(&ours.key_pem), now).unwrap_err();
        assert!(why.contains("not by Let's Encrypt"), "{why}");
        assert!(judge(&want, DIR, &trust, &ours.chain_pem, Some(&ours.key_pem), now).is_ok());
    }

    #[test]
    fn a_wildcard_is_covered_only_by_the_same_wildcard() {
        let root = Ca::new("root");
        let trust = trusting(&root);
        let inter = root.intermediate("inter");
        let now = SystemTime::now();
        let wild = inter.issue(&["*.a.test"]);
        let judge =
            |want: &[&str], leaf: &Leaf| judge(&names(want), DIR, &trust, &leaf.chain_pem, Some(&leaf.key_pem), now);
        assert!(judge(&["*.a.test", "x.a.test"], &wild).is_ok());
        let single = inter.issue(&["x.a.test"]);
        assert!(judge(&["*.a.test"], &single).is_err());
    }
}
