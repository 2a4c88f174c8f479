//! One ACME request at a time on the order's runtime: under its own timeout and never past the
//! plan's deadline, its errors said in words (problem documents, error chains).

use std::fmt::Write as _;
use std::future::Future;
use std::time::{Duration, Instant};

use instant_acme::Problem;

use super::{Acme, REQUEST_TIMEOUT};
use crate::error::TlsIssueError;

impl Acme<'_> {
    pub(super) fn directory(&self) -> String {
        self.plan.directory.clone()
    }

    pub(super) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Runs one ACME future for at most `limit` (and never past the deadline).
    pub(super) fn raw<T>(
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

    pub(super) fn call<T>(
        &self,
        step: &str,
        fut: impl Future<Output = Result<T, instant_acme::Error>>,
    ) -> Result<T, TlsIssueError> {
        self.raw(step, REQUEST_TIMEOUT, fut)?.map_err(|e| self.error(step, e))
    }

    pub(super) fn error(&self, step: &str, error: instant_acme::Error) -> TlsIssueError {
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
}

/// A problem document as one line: `detail (type)`, then its subproblems.
pub(super) fn describe(problem: &Problem) -> String {
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
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
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
