//! What one check asked through one way in says: a [`Sample`], and when it failed, the kind of
//! [`Failure`] (which the monitor uses to tell a dead network from a dead site).

use std::time::{Duration, SystemTime};

use cutover_http::Failure;

/// One check through one [`Via`](cutover_http::Via), once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The check's name.
    pub check: String,
    /// The [`Via`](cutover_http::Via)'s label: `public` or a host's name.
    pub via: String,
    /// The last URL asked (after redirects, when they are followed).
    pub url: String,
    pub ok: bool,
    /// The last response's status, when a response head arrived (also on a failure after it).
    pub status: Option<u16>,
    /// k6's `http_req_duration`: from the first byte of the request to the last byte of the
    /// response body, summed over the redirects followed; DNS, connect and TLS handshake are not
    /// included. `None` when no response head arrived; up to the failure when one arrived but
    /// the body did not complete.
    pub latency: Option<Duration>,
    /// Wall time of the whole sample, DNS, connects and handshakes included; never more than
    /// the check's timeout plus a few milliseconds.
    pub elapsed: Duration,
    /// `None` exactly when `ok`.
    pub failure: Option<Failure>,
    /// Why it failed, in one line; `None` when `ok`.
    pub reason: Option<String>,
    /// When the sample started.
    pub at: SystemTime,
}
