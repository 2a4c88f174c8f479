//! One ACME order, from account to certificate, on a current-thread tokio runtime of its own.
//!
//! Every request runs under a timeout ([`REQUEST_TIMEOUT`], and never past the plan's deadline);
//! polls stop at the deadline. Challenge responses are removed again whatever happens.
//!
//! `account.rs` holds the account, `challenge.rs` the challenges, `certificate.rs` the
//! certificate request and the checks of what comes back, `request.rs` the timeouts and errors of
//! every request.

mod account;
mod certificate;
mod challenge;
mod request;

use std::time::{Duration, Instant};

use cutover_http::cert::CertInfo;
use cutover_remote::{Reporter, Target};
use instant_acme::{Identifier, NewOrder};

pub use account::account_file;

use crate::Plan;
use crate::error::TlsIssueError;

/// The longest one ACME request may take (polls have the whole remaining time).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A new certificate chain and its private key, both PEM.
#[derive(Debug)]
pub(crate) struct NewPair {
    pub cert: String,
    pub key: String,
    pub info: CertInfo,
}

struct Acme<'a> {
    rt: tokio::runtime::Runtime,
    plan: &'a Plan,
    deadline: Instant,
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
