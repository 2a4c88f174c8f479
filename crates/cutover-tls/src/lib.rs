//! Certificates for production: `cutover tls issue`.
//!
//! [`issue`] first reads the certificate and key at the configured paths on every host. If one
//! host has a pair whose chain validates to a trusted root (the system's roots and the plan's
//! `directory_ca`; not required for [`LETS_ENCRYPT_STAGING`]) and that covers every name with
//! more than [`REUSE_MIN_DAYS`] days left, that pair is kept (and copied to the hosts that lack
//! it) and the ACME server is not contacted, so a redeploy never spends the CA's rate limit;
//! `force` orders a new one anyway. Otherwise it
//! orders a certificate over ACME (RFC 8555, Let's Encrypt by default) with the account stored in
//! the local state directory, answering HTTP-01 by writing the token files under the webroot of
//! every host (the CA may ask any of them) or DNS-01 through a local hook command, and removes
//! the responses afterwards whatever happened. The pair is installed on every host (key mode
//! 0600 from creation, both files replaced atomically by rename), then the reload command runs
//! on each host that changed.
//!
//! The ACME client is async (instant-acme); it runs on a current-thread tokio runtime inside
//! [`issue`], which is synchronous like the rest of cutover. Every ACME request has a timeout
//! and every poll stops at the plan's deadline. Hosts are reached only through [`Target`];
//! progress goes to a [`Reporter`].

mod acme;
mod error;
mod hook;
mod hosts;
mod reuse;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use cutover_http::Trust;

pub use acme::account_file;
pub use cutover_remote::{Reporter, Target};
pub use error::TlsIssueError;

/// Let's Encrypt's production directory, the default.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging directory: untrusted certificates, generous rate limits.
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";
/// A certificate with more days left than this is kept instead of ordering a new one.
pub const REUSE_MIN_DAYS: i64 = 30;
/// How long an issuance may take, validation and every poll included, unless the plan says.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// How the ACME server checks that we control the names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Token files under `webroot` (a path on the hosts) at `.well-known/acme-challenge/`,
    /// written on every host; the web server must serve that directory over plain HTTP on
    /// port 80 for every name.
    Http01 { webroot: String },
    /// TXT records published by `hook`, a local `sh -c` command run once per record with
    /// `CUTOVER_ACME_ACTION` (`present` or `cleanup`), `CUTOVER_ACME_DOMAIN` (the name without
    /// a wildcard's `*.`), `CUTOVER_ACME_NAME` (`_acme-challenge.<domain>`) and
    /// `CUTOVER_ACME_VALUE` (the TXT value) in its environment. `present` must add the value
    /// (a name and its wildcard share one record name) and return once it is published; a
    /// non-zero exit is an error. `workdir` is where it runs (the config's directory), else the
    /// current directory.
    Dns01 { hook: String, workdir: Option<PathBuf> },
}

/// What to issue, how, and where it goes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// DNS names for the certificate (the first is its main name); `*.example.com` needs DNS-01.
    pub names: Vec<String>,
    /// The ACME directory URL: [`LETS_ENCRYPT`], [`LETS_ENCRYPT_STAGING`] or another CA's.
    pub directory: String,
    pub challenge: Challenge,
    /// Where the certificate chain (PEM, leaf first) goes on every host; `~/…` is the login
    /// user's home.
    pub cert_path: String,
    /// Where the private key (PEM, mode 0600) goes on every host.
    pub key_path: String,
    /// `sh` command run on each host whose certificate changed (`systemctl reload nginx`).
    pub reload: Option<String>,
    /// Local directory for the ACME account (`.cutover/`): one credentials file per directory
    /// URL ([`account_file`]), mode 0600.
    pub account_dir: PathBuf,
    /// A PEM CA certificate (the file's first) trusted for the directory's HTTPS in addition to
    /// the system's roots: a private or test ACME server. Let's Encrypt needs none. Every
    /// certificate in the file is also a trusted root, with the system's, when judging whether a
    /// certificate already on the hosts can be kept: a private CA's root goes here too.
    pub directory_ca: Option<PathBuf>,
    /// Contact for the account (`ops@example.com` or a `mailto:` URL), used when it is created.
    pub contact: Option<String>,
    /// Order a new certificate even when a valid one is on the hosts.
    pub force: bool,
    /// Deadline for the whole ACME exchange (each request also stops after 30 s).
    pub timeout: Duration,
}

impl Plan {
    /// A plan with Let's Encrypt's production directory, no reload, no contact, the default
    /// timeout, not forced.
    pub fn new(
        names: Vec<String>,
        challenge: Challenge,
        cert_path: impl Into<String>,
        key_path: impl Into<String>,
        account_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            names,
            directory: LETS_ENCRYPT.to_owned(),
            challenge,
            cert_path: cert_path.into(),
            key_path: key_path.into(),
            reload: None,
            account_dir: account_dir.into(),
            directory_ca: None,
            contact: None,
            force: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The names, normalized (lowercase, no trailing dot, no duplicates), after checking the
    /// whole plan.
    fn check(&self) -> Result<Vec<String>, TlsIssueError> {
        let bad = |m: String| Err(TlsIssueError::Plan(m));
        let mut names: Vec<String> = Vec::new();
        for raw in &self.names {
            let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
            if !valid_name(&name) {
                return bad(format!("`{raw}` is not a DNS name a certificate can be issued for"));
            }
            if name.starts_with("*.") && matches!(self.challenge, Challenge::Http01 { .. }) {
                return bad(format!("`{name}`: a wildcard name can only be validated with dns-01"));
            }
            if !names.contains(&name) {
                names.push(name);
            }
        }
        if names.is_empty() {
            return bad("no names to issue a certificate for".into());
        }
        if !self.directory.starts_with("https://") {
            return bad(format!("ACME directory `{}` is not an https:// URL", self.directory));
        }
        if self.cert_path.trim().is_empty() || self.key_path.trim().is_empty() {
            return bad("the certificate and key paths on the hosts must be set".into());
        }
        if self.cert_path == self.key_path {
            return bad(format!("certificate and key must be separate files (both are `{}`)", self.cert_path));
        }
        match &self.challenge {
            Challenge::Http01 { webroot } if webroot.trim().is_empty() => {
                return bad("http-01 needs the webroot on the hosts".into());
            }
            Challenge::Dns01 { hook, .. } if hook.trim().is_empty() => {
                return bad("dns-01 needs a hook command".into());
            }
            _ => {}
        }
        if self.timeout.is_zero() {
            return bad("the timeout must be more than zero".into());
        }
        Ok(names)
    }
}

fn valid_name(name: &str) -> bool {
    let base = name.strip_prefix("*.").unwrap_or(name);
    !base.is_empty()
        && name.len() <= 253
        && base.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// What [`issue`] did.
#[derive(Debug, Clone)]
pub struct Issued {
    /// A certificate already on a host was kept; the ACME server was not contacted.
    pub reused: bool,
    /// With `reused`, the host it was found on.
    pub reused_from: Option<String>,
    /// The certificate's DNS names.
    pub names: Vec<String>,
    /// The certificate's issuer, `C=US, O=Let's Encrypt, CN=R11`.
    pub issuer: String,
    pub not_after: SystemTime,
    /// `not_after` as a UTC date.
    pub not_after_date: String,
    /// Whole days left when it was installed.
    pub days_left: i64,
    /// Hosts that got the certificate and key (and then the reload), by [`Target::name`].
    pub installed_on: Vec<String>,
    /// Hosts that already had exactly this certificate and key (mode 0600): left alone, not
    /// reloaded.
    pub unchanged_on: Vec<String>,
}

/// Issues (or reuses) the certificate of `plan` and installs it on every host of `hosts`.
///
/// A pair already on a host is kept only if its chain validates to the system's roots or a
/// certificate of `directory_ca` (any chain of the right shape for [`LETS_ENCRYPT_STAGING`]).
/// Nothing changes on any host before a certificate is in hand, except HTTP-01 token files,
/// which are removed again. A host that cannot be read, or whose certificate or key path cannot
/// be written, stops the command before any order. See [`TlsIssueError::hosts_changed`] for the
/// errors after which some host has the new certificate.
pub fn issue(plan: &Plan, hosts: &[&dyn Target], progress: &dyn Reporter) -> Result<Issued, TlsIssueError> {
    let names = plan.check()?;
    if hosts.is_empty() {
        return Err(TlsIssueError::Plan("no hosts to install the certificate on".into()));
    }
    let trust = Trust::load(plan.directory_ca.as_deref())
        .map_err(|e| TlsIssueError::Plan(format!("the extra CA, trusted for certificates on the hosts: {e}")))?;
    progress.step(None, &format!("reading {} and {} on {} host(s)", plan.cert_path, plan.key_path, hosts.len()));
    let current = hosts::all(
        "reading the current certificate",
        hosts::each(hosts, |t| hosts::read_current(t, &plan.cert_path, &plan.key_path)),
    )?;

    let now = SystemTime::now();
    let mut best: Option<reuse::Reusable> = None;
    for (target, have) in hosts.iter().zip(&current) {
        let Some(cert) = &have.cert else {
            progress.step(Some(target.name()), "no certificate yet");
            continue;
        };
        match reuse::judge(&names, &plan.directory, &trust, cert, have.key.as_deref(), now) {
            Ok(info) => {
                progress.step(
                    Some(target.name()),
                    &format!(
                        "certificate for {} valid until {} ({} days left): reusable",
                        info.names.join(", "),
                        info.not_after_date(),
                        info.days_left(now)
                    ),
                );
                if best.as_ref().is_none_or(|b| info.not_after > b.info.not_after) {
                    best = Some(reuse::Reusable {
                        host: target.name().to_owned(),
                        cert: cert.clone(),
                        key: have.key.clone().unwrap_or_default(),
                        info,
                    });
                }
            }
            Err(why) => progress.step(Some(target.name()), &format!("current certificate not reusable: {why}")),
        }
    }

    let (cert, key, info, reused_from) = match best {
        Some(found) if !plan.force => {
            progress
                .step(None, &format!("reusing the certificate from {}; the ACME server is not contacted", found.host));
            (found.cert, found.key, found.info, Some(found.host))
        }
        found => {
            if found.is_some() {
                progress.step(None, "--force: ordering a new certificate although a valid one is installed");
            }
            let pair = acme::order(plan, &names, hosts, progress)?;
            (pair.cert, pair.key, pair.info, None)
        }
    };

    // A host needs the files unless it has exactly these, with the key kept private.
    let needs: Vec<bool> = current
        .iter()
        .map(|have| have.cert.as_deref() != Some(&cert) || have.key.as_deref() != Some(&key) || !have.key_private)
        .collect();
    let targets: Vec<&dyn Target> = hosts.iter().zip(&needs).filter(|(_, n)| **n).map(|(t, _)| *t).collect();
    let unchanged_on: Vec<String> =
        hosts.iter().zip(&needs).filter(|(_, n)| !**n).map(|(t, _)| t.name().to_owned()).collect();
    for name in &unchanged_on {
        progress.step(Some(name), "already has this certificate and key");
    }

    let mut installed_on = Vec::new();
    let mut errors = Vec::new();
    if !targets.is_empty() {
        for target in &targets {
            progress.step(Some(target.name()), &format!("installing {} and {}", plan.cert_path, plan.key_path));
        }
        let results = hosts::each(&targets, |t| hosts::install(t, &plan.cert_path, &plan.key_path, &cert, &key));
        let mut installed = Vec::new();
        for (target, result) in targets.iter().zip(results) {
            match result {
                Ok(()) => installed.push(*target),
                Err(e) => errors.push(e),
            }
        }
        installed_on = installed.iter().map(|t| t.name().to_owned()).collect();
        let mut reload_errors = Vec::new();
        if let Some(reload) = &plan.reload {
            for target in &installed {
                progress.step(Some(target.name()), &format!("reloading: {reload}"));
            }
            let results = hosts::each(&installed, |t| {
                let on_line = |_, line: &str| progress.hook_line(t.name(), line);
                t.run_streaming("reloading after the certificate change", reload, &on_line).map(drop)
            });
            reload_errors = results.into_iter().filter_map(Result::err).collect();
        }
        if !errors.is_empty() {
            errors.extend(reload_errors);
            return Err(TlsIssueError::Install { installed: installed_on, errors });
        }
        if !reload_errors.is_empty() {
            return Err(TlsIssueError::Reload { installed: installed_on, errors: reload_errors });
        }
    }

    Ok(Issued {
        reused: reused_from.is_some(),
        reused_from,
        names: info.names.clone(),
        issuer: info.issuer.clone(),
        not_after: info.not_after,
        not_after_date: info.not_after_date(),
        days_left: info.days_left(now),
        installed_on,
        unchanged_on,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(names: &[&str], challenge: Challenge) -> Plan {
        Plan::new(names.iter().map(|s| s.to_string()).collect(), challenge, "/c.pem", "/k.pem", "/state")
    }

    #[test]
    fn names_are_normalized_and_checked() {
        let http = Challenge::Http01 { webroot: "/var/www".into() };
        assert_eq!(
            plan(&["Example.COM.", "example.com", "www.example.com"], http.clone()).check().unwrap(),
            ["example.com", "www.example.com"]
        );
        let plan_error = |plan: Plan| match plan.check() {
            Err(TlsIssueError::Plan(message)) => message,
            other => panic!("expected a plan error, got {other:?}"),
        };
        for bad in ["", "exa mple.com", "-a.example.com", "a..b", "x_y.example.com", "*.", "a.*.b"] {
            let message = plan_error(plan(&[bad], http.clone()));
            assert!(message.contains("is not a DNS name"), "{bad}: {message}");
        }
        let err = plan(&["*.example.com"], http.clone()).check().unwrap_err().to_string();
        assert!(err.contains("dns-01"), "{err}");
        let dns = Challenge::Dns01 { hook: "true".into(), workdir: None };
        assert_eq!(plan(&["*.example.com"], dns).check().unwrap(), ["*.example.com"]);
        assert_eq!(plan_error(plan(&[], http.clone())), "no names to issue a certificate for");
        let mut same = plan(&["a.example"], http);
        same.key_path = same.cert_path.clone();
        assert!(plan_error(same).contains("must be separate files"));
    }
}
