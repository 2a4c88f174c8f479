//! The order's challenges: which ones are pending, putting their responses in place (token files
//! on every host for HTTP-01, TXT records through the hook for DNS-01), waiting for the server to
//! validate them, and removing the responses again.

use std::time::Duration;

use cutover_remote::{Reporter, Target};
use instant_acme::{AuthorizationStatus, ChallengeType, Identifier, Order, OrderStatus, RetryPolicy};

use super::Acme;
use super::request::describe;
use crate::Challenge;
use crate::error::TlsIssueError;
use crate::hook::{self, TxtRecord};
use crate::hosts::{self, TokenFile};

/// One challenge the server wants answered.
pub(super) struct Pending {
    /// As ordered (`*.example.com` for a wildcard).
    name: String,
    token: String,
    key_authorization: String,
    txt: TxtRecord,
}

impl Acme<'_> {
    fn challenge_type(&self) -> ChallengeType {
        match self.plan.challenge {
            Challenge::Http01 { .. } => ChallengeType::Http01,
            Challenge::Dns01 { .. } => ChallengeType::Dns01,
        }
    }

    /// The challenges of the order's pending authorizations.
    pub(super) fn pending(&self, order: &mut Order, progress: &dyn Reporter) -> Result<Vec<Pending>, TlsIssueError> {
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
    pub(super) fn present(
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
    pub(super) fn clean_up(
        &self,
        presented: usize,
        pending: &[Pending],
        hosts: &[&dyn Target],
        progress: &dyn Reporter,
    ) {
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
    pub(super) fn validate(&self, order: &mut Order, progress: &dyn Reporter) -> Result<(), TlsIssueError> {
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
