//! One line of a readiness report: what was checked, against which host or server, the verdict
//! and why. Checks produce findings; the binary prints them as a table or JSON.

use std::fmt;

/// A check's verdict. Ordered from best to worst, so the worst of a report is its `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    Pass,
    /// Works today, but something a launch should fix (a long TTL, a certificate that expires soon).
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was checked, e.g. `dns A shop.example.com`, `tls name www.shop.example.com`.
    pub check: String,
    /// The host (its name in the config) or DNS server the check was made against.
    pub host: String,
    pub status: Status,
    /// What was seen, in one line: addresses and TTLs, days left, the reason of a failure.
    pub detail: String,
}

impl Finding {
    pub fn new(check: impl Into<String>, host: impl Into<String>, status: Status, detail: impl Into<String>) -> Self {
        Self { check: check.into(), host: host.into(), status, detail: detail.into() }
    }

    pub fn pass(check: impl Into<String>, host: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(check, host, Status::Pass, detail)
    }

    pub fn warn(check: impl Into<String>, host: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(check, host, Status::Warn, detail)
    }

    pub fn fail(check: impl Into<String>, host: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(check, host, Status::Fail, detail)
    }
}
