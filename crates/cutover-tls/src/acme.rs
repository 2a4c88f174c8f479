//! One ACME order, from account to certificate, on a current-thread tokio runtime of its own.
//!
//! Every request runs under a timeout ([`REQUEST_TIMEOUT`], and never past the plan's deadline);
//! polls stop at the deadline. Challenge responses are removed again whatever happens.

use std::fmt::Write as _;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cutover_http::cert::{CertInfo, key_matches, parse_chain_pem};
use cutover_remote::{Reporter, Target};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, Order,
    OrderStatus, Problem, RetryPolicy,
};

use crate::error::TlsIssueError;
use crate::hook::{self, TxtRecord};
use crate::hosts::{self, TokenFile};
use crate::reuse::covers;
use crate::{Challenge, Plan};

/// The longest one ACME request may take (polls have the whole remaining time).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A new certificate chain and its private key, both PEM.
#[derive(Debug)]
pub(crate) struct NewPair {
    pub cert: String,
    pub key: String,
    pub info: CertInfo,
}

/// The account credentials file for `directory` in `account_dir`.
pub fn account_file(account_dir: &Path, directory: &str) -> PathBuf {
    let slug: String = directory
        .trim_start_matches("https://")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect();
    account_dir.join(format!("acme-account-{slug}.json"))
}

struct Acme<'a> {
    rt: tokio::runtime::Runtime,
    plan: &'a Plan,
    deadline: Instant,
}

/// One challenge the server wants answered.
struct Pending {
    /// As ordered (`*.example.com` for a wildcard).
    name: String,
    token: String,
    key_authorization: String,
    txt: TxtRecord,
}

pub(crate) fn order(
    plan: &Plan,
    names: &[String],
    hosts: &[&dyn Target],
    progress: &dyn Reporter,
) -> Result<NewPair, TlsIssueError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TlsIssueError::Plan(format!("cannot start the ACME client: {e}")))?;
    let acme = Acme { rt, plan, deadline: Instant::now() + plan.timeout };

    progress.step(None, &format!("ACME directory {}", plan.directory));
    let mut account = acme.account(false, progress)?;
    let identifiers: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
    progress.step(None, &format!("ordering a certificate for {}", names.join(", ")));
    let mut order =
        match acme.raw("creating the order", REQUEST_TIMEOUT, account.new_order(&NewOrder::new(&identifiers)))? {
            Ok(order) => order,
            // The server forgot the account (a test server restarted, staging was reset): once more
            // with a new one.
            Err(instant_acme::Error::Api(p))
                if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:accountDoesNotExist") =>
            {
                progress.warn(None, "the ACME server does not know the stored account; registering a new one");
                account = acme.account(true, progress)?;
                acme.call("creating the order", account.new_order(&NewOrder::new(&identifiers)))?
            }
            Err(e) => return Err(acme.error("creating the order", e)),
        };

    let pending = acme.pending(&mut order, progress)?;
    if !pending.is_empty() {
        let presented = acme.present(&pending, hosts, progress)?;
        let validated = acme.validate(&mut order, progress);
        acme.clean_up(presented, &pending, hosts, progress);
        validated?;
    } else {
        progress.step(None, "every name is already authorized for this account");
    }

    acme.finalize(&mut order, names, progress)
}

impl Acme<'_> {
    fn directory(&self) -> String {
        self.plan.directory.clone()
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Runs one ACME future for at most `limit` (and never past the deadline).
    fn raw<T>(
        &self,
        step: &str,
        limit: Duration,
        fut: impl Future<Output = Result<T, instant_acme::Error>>,
    ) -> Result<Result<T, instant_acme::Error>, TlsIssueError> {
        // Said as the limit that applied: this request's own, or the plan's whole deadline.
        let (limit, seconds) = match self.remaining() {
            remaining if remaining < limit => (remaining, self.plan.timeout.as_secs()),
            _ => (limit, limit.as_secs()),
        };
        self.rt.block_on(async { tokio::time::timeout(limit, fut).await }).map_err(|_| TlsIssueError::Timeout {
            directory: self.directory(),
            step: step.to_owned(),
            seconds,
        })
    }

    fn call<T>(
        &self,
        step: &str,
        fut: impl Future<Output = Result<T, instant_acme::Error>>,
    ) -> Result<T, TlsIssueError> {
        self.raw(step, REQUEST_TIMEOUT, fut)?.map_err(|e| self.error(step, e))
    }

    fn error(&self, step: &str, error: instant_acme::Error) -> TlsIssueError {
        let detail = match &error {
            instant_acme::Error::Api(problem) => describe(problem),
            instant_acme::Error::Timeout(_) => {
                return TlsIssueError::Timeout {
                    directory: self.directory(),
                    step: step.to_owned(),
                    seconds: self.plan.timeout.as_secs(),
                };
            }
            other => error_chain(other),
        };
        TlsIssueError::Acme { directory: self.directory(), step: step.to_owned(), detail }
    }

    /// The stored account for this directory, or a new one (stored, mode 0600).
    fn account(&self, fresh: bool, progress: &dyn Reporter) -> Result<Account, TlsIssueError> {
        let path = account_file(&self.plan.account_dir, &self.plan.directory);
        let account_err = |reason: String| TlsIssueError::Account { path: path.clone(), reason };
        if !fresh && path.exists() {
            let bytes = std::fs::read(&path).map_err(|e| account_err(e.to_string()))?;
            let parse = || serde_json::from_slice::<AccountCredentials>(&bytes);
            let _ = parse().map_err(|e| account_err(format!("not an account file: {e}")))?;
            progress.step(None, &format!("using the ACME account in {}", path.display()));
            return self.with_trust("reading the directory", progress, |builder| async {
                builder.from_credentials(parse().map_err(instant_acme::Error::Json)?).await
            });
        }
        progress.step(None, "registering an ACME account");
        let contact =
            self.plan.contact.as_ref().map(|c| if c.contains(':') { c.clone() } else { format!("mailto:{c}") });
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let new = NewAccount { contact: &contacts, terms_of_service_agreed: true, only_return_existing: false };
        let (account, credentials) =
            self.with_trust("reading the directory and registering an account", progress, |builder| {
                builder.create(&new, self.plan.directory.clone(), None)
            })?;
        let json = serde_json::to_vec_pretty(&credentials).map_err(|e| account_err(e.to_string()))?;
        write_private(&path, &json).map_err(|e| account_err(e.to_string()))?;
        progress.step(None, &format!("ACME account stored in {}", path.display()));
        Ok(account)
    }

    /// Runs `f` (whose first request reads the directory) with an HTTPS client that trusts the
    /// plan's `directory_ca`, and when the server's certificate is not from that CA, once more
    /// with one that trusts the system's roots: the CA file adds trust, it does not replace it.
    fn with_trust<T, F>(
        &self,
        step: &str,
        progress: &dyn Reporter,
        f: impl Fn(instant_acme::AccountBuilder) -> F,
    ) -> Result<T, TlsIssueError>
    where
        F: Future<Output = Result<T, instant_acme::Error>>,
    {
        let options: Vec<Option<&PathBuf>> = match &self.plan.directory_ca {
            Some(ca) => vec![Some(ca), None],
            None => vec![None],
        };
        for (i, ca) in options.iter().enumerate() {
            let builder = match ca {
                Some(ca) => Account::builder_with_root(ca).map_err(|e| {
                    TlsIssueError::Plan(format!("CA file {} for the ACME directory: {}", ca.display(), error_chain(&e)))
                })?,
                None => Account::builder()
                    .map_err(|e| TlsIssueError::Plan(format!("cannot set up the HTTPS client: {}", error_chain(&e))))?,
            };
            match self.raw(step, REQUEST_TIMEOUT, f(builder))? {
                Ok(value) => return Ok(value),
                Err(e) if i + 1 < options.len() && error_chain(&e).contains("invalid peer certificate") => {
                    progress
                        .step(None, "the directory's certificate is not from the extra CA; trying the system's roots");
                }
                Err(e) => return Err(self.error(step, e)),
            }
        }
        unreachable!("the last trust option returns")
    }

    fn challenge_type(&self) -> ChallengeType {
        match self.plan.challenge {
            Challenge::Http01 { .. } => ChallengeType::Http01,
            Challenge::Dns01 { .. } => ChallengeType::Dns01,
        }
    }

    /// The challenges of the order's pending authorizations.
    fn pending(&self, order: &mut Order, progress: &dyn Reporter) -> Result<Vec<Pending>, TlsIssueError> {
        let kind = self.challenge_type();
        let mut pending = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(mut authz) =
            self.call("fetching the authorizations", async { authorizations.next().await.transpose() })?
        {
            let name = authz.identifier().to_string();
            let domain = match authz.identifier().identifier {
                Identifier::Dns(domain) => domain.clone(),
                other => return Err(self.protocol(format!("unexpected identifier {other:?}"))),
            };
            match authz.status {
                AuthorizationStatus::Valid => {
                    progress.step(None, &format!("{name}: already authorized"));
                    continue;
                }
                AuthorizationStatus::Pending => {}
                status => return Err(self.protocol(format!("the authorization for {name} is {status:?}"))),
            }
            let Some(challenge) = authz.challenge(kind.clone()) else {
                return Err(self.protocol(format!("no {} challenge offered for {name}", challenge_name(&kind))));
            };
            let token = challenge.token.clone();
            if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(self.protocol(format!("challenge token for {name} is not base64url: {token:?}")));
            }
            let key_authorization = challenge.key_authorization();
            pending.push(Pending {
                txt: TxtRecord {
                    name: format!("_acme-challenge.{domain}"),
                    domain,
                    value: key_authorization.dns_value(),
                },
                name,
                token,
                key_authorization: key_authorization.as_str().to_owned(),
            });
        }
        Ok(pending)
    }

    fn protocol(&self, detail: String) -> TlsIssueError {
        TlsIssueError::Acme { directory: self.directory(), step: "reading the order".into(), detail }
    }

    /// Puts every response in place: token files on every host, or TXT records through the
    /// hook. On failure, what was put in place is removed again. Returns how many TXT records
    /// were presented (all of them on success; for HTTP-01, the count is irrelevant).
    fn present(
        &self,
        pending: &[Pending],
        hosts: &[&dyn Target],
        progress: &dyn Reporter,
    ) -> Result<usize, TlsIssueError> {
        match &self.plan.challenge {
            Challenge::Http01 { webroot } => {
                progress.step(
                    None,
                    &format!(
                        "writing {} http-01 challenge file(s) under {webroot} on {} host(s)",
                        pending.len(),
                        hosts.len()
                    ),
                );
                let files = token_files(pending);
                let results = hosts::each(hosts, |t| hosts::write_tokens(t, webroot, &files));
                if results.iter().any(Result::is_err) {
                    self.clean_up(pending.len(), pending, hosts, progress);
                    return hosts::all("writing the http-01 challenge files", results).map(|_| 0);
                }
                Ok(pending.len())
            }
            Challenge::Dns01 { hook, workdir } => {
                for (i, p) in pending.iter().enumerate() {
                    progress.step(None, &format!("dns hook: present {} TXT for {}", p.txt.name, p.name));
                    if let Err(e) = hook::run(hook, workdir.as_deref(), "present", &p.txt, self.plan.timeout, progress)
                    {
                        self.clean_up(i, pending, hosts, progress);
                        return Err(e);
                    }
                }
                Ok(pending.len())
            }
        }
    }

    /// Removes the responses presented (for DNS-01, the first `presented` records); a failure
    /// here is a warning: the order's outcome does not depend on it.
    fn clean_up(&self, presented: usize, pending: &[Pending], hosts: &[&dyn Target], progress: &dyn Reporter) {
        match &self.plan.challenge {
            Challenge::Http01 { webroot } => {
                progress.step(None, "removing the http-01 challenge files");
                let files = token_files(pending);
                for (target, result) in
                    hosts.iter().zip(hosts::each(hosts, |t| hosts::remove_tokens(t, webroot, &files)))
                {
                    if let Err(e) = result {
                        progress.warn(Some(target.name()), &format!("challenge files not removed: {e}"));
                    }
                }
            }
            Challenge::Dns01 { hook, workdir } => {
                for p in &pending[..presented] {
                    progress.step(None, &format!("dns hook: cleanup {} TXT for {}", p.txt.name, p.name));
                    if let Err(e) = hook::run(hook, workdir.as_deref(), "cleanup", &p.txt, self.plan.timeout, progress)
                    {
                        progress.warn(None, &e.to_string());
                    }
                }
            }
        }
    }

    /// Tells the server the responses are in place and waits for the order to become ready.
    fn validate(&self, order: &mut Order, progress: &dyn Reporter) -> Result<(), TlsIssueError> {
        let kind = self.challenge_type();
        {
            let mut authorizations = order.authorizations();
            while let Some(mut authz) =
                self.call("fetching the authorizations", async { authorizations.next().await.transpose() })?
            {
                if authz.status != AuthorizationStatus::Pending {
                    continue;
                }
                let name = authz.identifier().to_string();
                let Some(mut challenge) = authz.challenge(kind.clone()) else { continue };
                self.call(&format!("starting the validation of {name}"), challenge.set_ready())?;
            }
        }
        progress.step(None, "waiting for the ACME server to validate");
        let remaining = self.remaining();
        let policy = RetryPolicy::new().initial_delay(Duration::from_millis(250)).backoff(1.5).timeout(remaining);
        let polled = self.raw("waiting for validation", remaining, order.poll_ready(&policy))?;
        let order_problem = match polled {
            Ok(OrderStatus::Ready) => return Ok(()),
            Ok(_) => None,
            Err(instant_acme::Error::Api(problem)) => Some(problem),
            Err(e) => return Err(self.error("waiting for validation", e)),
        };
        let mut failures = self.challenge_problems(order, &kind);
        if failures.is_empty() {
            failures.push(match order_problem {
                Some(problem) => describe(&problem),
                None => "the order became invalid; the server gave no detail".to_owned(),
            });
        }
        Err(TlsIssueError::Validation { challenge: challenge_name(&kind).to_owned(), failures })
    }

    /// `name: detail (type)` for every challenge the server marked as failed.
    fn challenge_problems(&self, order: &mut Order, kind: &ChallengeType) -> Vec<String> {
        let mut failures = Vec::new();
        let mut authorizations = order.authorizations();
        while let Ok(Some(mut authz)) =
            self.call("fetching the authorizations", async { authorizations.next().await.transpose() })
        {
            let name = authz.identifier().to_string();
            let Ok(state) = self.call("reading an authorization", authz.refresh()) else { continue };
            for challenge in state.challenges.iter().filter(|c| &c.r#type == kind) {
                if let Some(problem) = &challenge.error {
                    failures.push(format!("{name}: {}", describe(problem)));
                }
            }
        }
        failures
    }

    fn finalize(&self, order: &mut Order, names: &[String], progress: &dyn Reporter) -> Result<NewPair, TlsIssueError> {
        progress.step(None, "validated; sending the certificate request");
        let plan_err = |e: rcgen::Error| TlsIssueError::Plan(format!("cannot make the certificate request: {e}"));
        let key = rcgen::KeyPair::generate().map_err(plan_err)?;
        let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(plan_err)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params.serialize_request(&key).map_err(plan_err)?;
        self.call("finalizing the order", order.finalize_csr(csr.der()))?;
        let remaining = self.remaining();
        let policy = RetryPolicy::new().initial_delay(Duration::from_millis(250)).backoff(1.5).timeout(remaining);
        let cert = self
            .raw("waiting for the certificate", remaining, order.poll_certificate(&policy))?
            .map_err(|e| self.error("waiting for the certificate", e))?;
        let key = key.serialize_pem();

        let chain = parse_chain_pem(cert.as_bytes()).map_err(|e| TlsIssueError::Certificate(e.to_string()))?;
        let info = CertInfo::from_der(&chain[0]).map_err(|e| TlsIssueError::Certificate(e.to_string()))?;
        let missing: Vec<&str> = names.iter().filter(|n| !covers(&info, n)).map(String::as_str).collect();
        if !missing.is_empty() {
            return Err(TlsIssueError::Certificate(format!("it does not cover {}", missing.join(", "))));
        }
        match key_matches(&chain, key.as_bytes()) {
            Ok(true) => {}
            Ok(false) => return Err(TlsIssueError::Certificate("it is not for the key that was sent".into())),
            Err(e) => return Err(TlsIssueError::Certificate(e.to_string())),
        }
        progress.step(None, &format!("issued: {} until {}", info.names.join(", "), info.not_after_date()));
        Ok(NewPair { cert, key, info })
    }
}

fn token_files(pending: &[Pending]) -> Vec<TokenFile> {
    pending.iter().map(|p| TokenFile { token: p.token.clone(), content: p.key_authorization.clone() }).collect()
}

fn challenge_name(kind: &ChallengeType) -> &'static str {
    match kind {
        ChallengeType::Http01 => "http-01",
        ChallengeType::Dns01 => "dns-01",
        _ => "other",
    }
}

/// A problem document as one line: `detail (type)`, then its subproblems.
fn describe(problem: &Problem) -> String {
    let mut text = problem.detail.clone().unwrap_or_else(|| "no detail".to_owned());
    if let Some(kind) = &problem.r#type {
        let _ = write!(text, " ({})", kind.trim_start_matches("urn:ietf:params:acme:error:"));
    }
    for sub in &problem.subproblems {
        let _ = write!(text, "; {sub}");
    }
    text
}

/// An error and its sources, `a: b: c` (transport errors say little at the top).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            let _ = write!(text, ": {s}");
        }
        source = e.source();
    }
    text
}

/// Writes `bytes` to `path` with mode 0600 from creation (directory 0700 if it is made),
/// through a temporary file and a rename.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp =
        dir.join(format!(".{}.tmp{}", path.file_name().unwrap_or_default().to_string_lossy(), std::process::id()));
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_account_file_per_directory() {
        let dir = Path::new("/state");
        assert_eq!(
            account_file(dir, "https://acme-v02.api.letsencrypt.org/directory"),
            Path::new("/state/acme-account-acme-v02.api.letsencrypt.org_directory.json")
        );
        assert_ne!(account_file(dir, "https://127.0.0.1:14000/dir"), account_file(dir, "https://127.0.0.1:14001/dir"));
    }

    #[test]
    fn private_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sub/account.json");
        write_private(&path, b"{}").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
