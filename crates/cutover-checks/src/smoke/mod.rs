//! HTTP checks (`[[check]]`) for the smoke tests and the monitor: one request to the live site,
//! judged by status, body and latency, through the public URL or straight to one host. A check
//! never hangs and never errors: a name that does not resolve, a TLS error, a server that hangs
//! and an answer of gigabytes are each a failed [`Sample`] with a reason, within the check's
//! timeout and a fixed amount of memory.
//!
//! - **Time**: `timeout` bounds the whole sample (DNS, connect, handshake, every redirect, the
//!   body), as one deadline that every read and write stops at.
//! - **Memory**: the body streams by to its end; its first [`KEEP_BODY`] bytes are kept when a
//!   body condition searches it, and its last [`KEEP_TAIL`] for `complete` and the searches
//!   (see [`body`] for what each condition looks at). A body longer than `max_body`
//!   ([`DEFAULT_MAX_BODY`]) fails with [`Failure::TooLarge`] and is not read further.
//! - **Latency** is k6's `http_req_duration` (sending + waiting + receiving: from the first byte
//!   of the request to the last of the body, redirects followed included, connection setup
//!   excluded), so `max_latency` and the monitor's `http_req_duration` thresholds measure the
//!   same thing. [`Sample::elapsed`] has the wall time with connection setup.
//! - **TLS**: rustls with ring, certificates judged against [`Trust`] (system roots and
//!   `[tls] extra_ca`), valid now, and covering the URL's host.
//! - **HTTP/1.1 only** (`cutover-http`'s client: our connect and verifier, hyper's framing), one
//!   request per connection (`Connection: close`), no compression asked.
//!
//! [`run_all`] runs every check through the public URL (and each host when `every_host`) at once,
//! in up to [`MAX_PARALLEL`] threads, so a round takes about as long as its slowest check.

pub mod body;
mod sample;
mod status;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use cutover_config::human;
use cutover_http::client::{Client, Context, Fail, Request, Response};
use cutover_http::text::cut;
use cutover_http::{Failure, Trust, Url, Via};
use rustls::crypto::CryptoProvider;

pub use body::KEEP_TAIL;
pub use regex::Regex;
pub use sample::Sample;
pub use status::StatusSet;

/// How much of a body's start is kept for `body_contains`, `body_not_contains` and `body_regex`
/// (1 MiB).
pub const KEEP_BODY: usize = 1 << 20;
/// The default `max_body` (16 MiB): a larger body fails the check.
pub const DEFAULT_MAX_BODY: u64 = 16 << 20;
/// Redirects followed at most (with `follow_redirects`); one more is a [`Failure::Status`].
pub const MAX_REDIRECTS: usize = 5;

/// A sample's reason is cut to this many characters where it is made: a server's own words (a
/// `Location` header, say) go into it, and it travels on into every message, journal line,
/// notification and state row after it.
pub const REASON_MAX: usize = 500;

/// How much of a URL a server sent (a redirect's target) a reason quotes.
const QUOTED_URL_MAX: usize = 200;
/// Requests [`run_all`] and [`run_many`] make at once, at most.
pub const MAX_PARALLEL: usize = 256;

/// One `[[check]]`.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    /// Absolute `http` or `https` URL without credentials ([`check_url`] makes one from the
    /// config's text and the environment's URL).
    pub url: Url,
    /// As sent: `GET`, `HEAD`, `POST`, ... (`POST`, `PUT` and `PATCH` send an empty body).
    pub method: String,
    /// Sent as given (names title-cased), after `Host`, `User-Agent: cutover/VERSION` and
    /// `Accept: */*`, each of which a header of the same name replaces. `Connection`, `Content-Length` and
    /// `Transfer-Encoding` are cutover's ([`Check::validate`] refuses them). `Authorization`,
    /// `Cookie` and `Host` are dropped when a redirect leads to another host.
    pub headers: Vec<(String, String)>,
    pub expect_status: StatusSet,
    /// Each must appear in the body's first [`KEEP_BODY`] bytes or its last [`KEEP_TAIL`].
    pub body_contains: Vec<String>,
    /// None may appear in the body's first [`KEEP_BODY`] bytes or its last [`KEEP_TAIL`].
    pub body_not_contains: Vec<String>,
    /// Must match the body's first [`KEEP_BODY`] bytes (as UTF-8, invalid bytes replaced).
    pub body_regex: Option<Regex>,
    /// The body is a whole HTML document: it ends with `</html>` (any case), then only
    /// whitespace and comments; judged on its real end at any length.
    pub complete: bool,
    /// A slower response fails with [`Failure::Latency`] (see the module docs for what latency is).
    pub max_latency: Option<Duration>,
    /// Follow up to [`MAX_REDIRECTS`] redirects (`Location`, relative or absolute); the last
    /// response is judged. Without it a redirect is judged as it is (3xx is in the default
    /// `expect_status`). A 303, or a 301/302 to a `POST`, is followed with `GET`.
    pub follow_redirects: bool,
    /// Also ask each host directly ([`run_all`]), not only the public URL.
    pub every_host: bool,
    /// The whole sample's time, redirects and body included.
    pub timeout: Duration,
    /// A longer body fails with [`Failure::TooLarge`].
    pub max_body: u64,
}

impl Check {
    /// `GET url`, expecting 200-399, no body or latency condition, redirects not followed, public
    /// URL only, 10 s timeout, [`DEFAULT_MAX_BODY`].
    pub fn new(name: impl Into<String>, url: Url) -> Check {
        Check {
            name: name.into(),
            url,
            method: "GET".into(),
            headers: Vec::new(),
            expect_status: StatusSet::default(),
            body_contains: Vec::new(),
            body_not_contains: Vec::new(),
            body_regex: None,
            complete: false,
            max_latency: None,
            follow_redirects: false,
            every_host: false,
            timeout: Duration::from_secs(10),
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// Whether the check can be sent as written: the URL (see [`check_url`]), the method (an
    /// HTTP token), the headers (token names, no line breaks in values, none of cutover's own)
    /// and a timeout over zero. [`run`] refuses an invalid check with a [`Failure::Protocol`]
    /// sample; configs should call this when they load.
    pub fn validate(&self) -> Result<(), String> {
        usable_url(&self.url)?;
        if !is_token(&self.method) {
            return Err(format!("method `{}` is not an HTTP method", self.method.escape_debug()));
        }
        for (name, value) in &self.headers {
            if !is_token(name) {
                return Err(format!("header name `{}` is not an HTTP token", name.escape_debug()));
            }
            if ["Connection", "Content-Length", "Transfer-Encoding"].iter().any(|n| n.eq_ignore_ascii_case(name)) {
                return Err(format!("header `{name}` is set by cutover"));
            }
            if value.chars().any(|c| matches!(c, '\r' | '\n' | '\0')) {
                return Err(format!("header `{name}`: the value has a line break or NUL"));
            }
        }
        if self.timeout.is_zero() {
            return Err("the timeout is zero".into());
        }
        Ok(())
    }
}

/// The URL of a check: `text` as an absolute URL, or relative to `base` (the environment's
/// URL, by RFC 3986: `/health` replaces the path, `health` replaces its last segment). It must
/// be `http` or `https`, with a host and without credentials (put those in `headers`, where they
/// are not printed).
pub fn check_url(base: &Url, text: &str) -> Result<Url, String> {
    let url = base.join(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    usable_url(&url)?;
    Ok(url)
}

fn usable_url(url: &Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{url}`: only http and https URLs can be checked"));
    }
    if url.host().is_none() {
        return Err(format!("`{url}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in a check URL are not supported: send them in `headers`".into());
    }
    Ok(())
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Runs `check` once through `via`: at most `check.timeout`, and a few KiB of memory plus
/// [`KEEP_BODY`] and [`KEEP_TAIL`] when the body is matched.
pub fn run(check: &Check, via: &Via, trust: &Trust) -> Sample {
    run_with(check, via, trust, &Arc::new(rustls::crypto::ring::default_provider()), &new_client())
}

/// A client for one thread's checks, or why there is none (each of its checks fails saying so).
fn new_client() -> Result<Client, String> {
    Client::new().map_err(|fail| fail.reason)
}

/// The jobs [`run_all`] makes: each check through the public URL, then through each of `hosts`
/// when the check has `every_host`.
pub fn plan<'a>(checks: &'a [Check], public: &'a Via, hosts: &'a [Via]) -> Vec<(&'a Check, &'a Via)> {
    checks
        .iter()
        .flat_map(|check| {
            let hosts = if check.every_host { hosts } else { &[] };
            std::iter::once(public).chain(hosts).map(move |via| (check, via))
        })
        .collect()
}

/// Every check through [`Via::public`] and, for checks with `every_host`, through each of
/// `hosts`, all at once. Samples come in [`plan`]'s order: by check as given, public first, then
/// the hosts as given.
pub fn run_all(checks: &[Check], hosts: &[Via], trust: &Trust) -> Vec<Sample> {
    let public = Via::public();
    run_many(&plan(checks, &public, hosts), trust)
}

/// Runs every `(check, via)` pair at once (up to [`MAX_PARALLEL`] at a time), returning their
/// samples in the same order. A check that panics gives a failed sample saying so.
pub fn run_many(jobs: &[(&Check, &Via)], trust: &Trust) -> Vec<Sample> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let results: Vec<OnceLock<Sample>> = jobs.iter().map(|_| OnceLock::new()).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut client = None;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&(check, via)) = jobs.get(i) else { break };
            let client = client.get_or_insert_with(new_client);
            let sample = std::panic::catch_unwind(AssertUnwindSafe(|| run_with(check, via, trust, &provider, client)))
                .unwrap_or_else(|_| panicked(check, via));
            let _ = results[i].set(sample);
        }
    };
    std::thread::scope(|scope| {
        // The calling thread works too, so the jobs get done even if no thread can be started.
        for _ in 1..jobs.len().min(MAX_PARALLEL) {
            let spawned = std::thread::Builder::new()
                .name("cutover-check".into())
                .stack_size(512 * 1024)
                .spawn_scoped(scope, work);
            if spawned.is_err() {
                break;
            }
        }
        work();
    });
    results
        .into_iter()
        .zip(jobs)
        .map(|(cell, (check, via))| cell.into_inner().unwrap_or_else(|| panicked(check, via)))
        .collect()
}

fn panicked(check: &Check, via: &Via) -> Sample {
    Sample {
        check: check.name.clone(),
        via: via.label.clone(),
        url: check.url.to_string(),
        ok: false,
        status: None,
        latency: None,
        elapsed: Duration::ZERO,
        failure: Some(Failure::Protocol),
        reason: Some("the check itself failed (panic)".into()),
        at: SystemTime::now(),
    }
}

/// What a sample found, before it is dressed as a [`Sample`].
struct Outcome {
    url: Url,
    status: Option<u16>,
    latency: Option<Duration>,
    failure: Option<(Failure, String)>,
}

fn run_with(
    check: &Check,
    via: &Via,
    trust: &Trust,
    provider: &Arc<CryptoProvider>,
    client: &Result<Client, String>,
) -> Sample {
    let at = SystemTime::now();
    let started = Instant::now();
    let outcome = match (check.validate(), client) {
        (Ok(()), Ok(client)) => attempt(check, via, trust, provider, client, started),
        (Ok(()), Err(reason)) => Outcome {
            url: check.url.clone(),
            status: None,
            latency: None,
            failure: Some((Failure::Protocol, reason.clone())),
        },
        (Err(reason), _) => Outcome {
            url: check.url.clone(),
            status: None,
            latency: None,
            failure: Some((Failure::Protocol, format!("invalid check: {reason}"))),
        },
    };
    let (failure, reason) = outcome.failure.unzip();
    Sample {
        check: check.name.clone(),
        via: via.label.clone(),
        url: outcome.url.to_string(),
        ok: failure.is_none(),
        status: outcome.status,
        latency: outcome.latency,
        elapsed: started.elapsed(),
        failure,
        reason: reason.map(|r| cut(&r, REASON_MAX)),
        at,
    }
}

fn attempt(
    check: &Check,
    via: &Via,
    trust: &Trust,
    provider: &Arc<CryptoProvider>,
    client: &Client,
    started: Instant,
) -> Outcome {
    let (keep, keep_tail) = body::keep(check);
    let ctx = Context {
        trust,
        provider,
        deadline: started + check.timeout,
        timeout: check.timeout,
        keep,
        keep_tail,
        max_body: check.max_body,
    };
    let mut url = check.url.clone();
    let mut method = check.method.as_str();
    let mut headers = check.headers.clone();
    let mut latency = Duration::ZERO;
    let mut redirects = 0;
    loop {
        // A host is asked directly only under its own name; another host is found by DNS.
        let connect_to = via.addr.filter(|_| url.host_str() == check.url.host_str());
        let request = Request {
            method,
            url: &url,
            headers: &headers,
            body: None,
            connect_to,
            skip_redirect_body: check.follow_redirects,
        };
        let response = match client.exchange(&request, &ctx) {
            Ok(response) => response,
            Err(Fail { kind, reason, partial, .. }) => {
                let status = partial.as_ref().map(|r| r.status);
                let latency = partial.map(|r| latency + r.latency);
                return Outcome { url, status, latency, failure: Some((kind, reason)) };
            }
        };
        latency += response.latency;
        let location = response.head.header("Location").filter(|_| (300..400).contains(&response.status));
        let Some(location) = location.filter(|_| check.follow_redirects) else {
            return verdict(check, url, &response, latency);
        };
        let failed = |url: Url, kind, reason| Outcome {
            url,
            status: Some(response.status),
            latency: Some(latency),
            failure: Some((kind, reason)),
        };
        if redirects == MAX_REDIRECTS {
            let reason = format!("more than {MAX_REDIRECTS} redirects (the last to {})", cut(location, QUOTED_URL_MAX));
            return failed(url, Failure::Status, reason);
        }
        let next = match url.join(location).map_err(|e| e.to_string()).and_then(|u| usable_url(&u).map(|()| u)) {
            Ok(next) => next,
            Err(e) => {
                let reason = format!(
                    "status {} redirects to `{}`, which cannot be followed: {e}",
                    response.status,
                    cut(location, QUOTED_URL_MAX)
                );
                return failed(url, Failure::Protocol, reason);
            }
        };
        if next.host_str() != url.host_str() {
            headers.retain(|(n, _)| !["Authorization", "Cookie", "Host"].iter().any(|s| s.eq_ignore_ascii_case(n)));
        }
        if response.status == 303 && method != "HEAD" || matches!(response.status, 301 | 302) && method == "POST" {
            method = "GET";
        }
        url = next;
        redirects += 1;
    }
}

fn verdict(check: &Check, url: Url, response: &Response, latency: Duration) -> Outcome {
    let status = response.status;
    let at = if url == check.url { String::new() } else { format!(" at {url}") };
    let problems = body::problems(check, &response.body);
    let failure = if !check.expect_status.contains(status) {
        Some((Failure::Status, format!("status {status}, expected {}{at}", check.expect_status)))
    } else if !problems.is_empty() {
        // Every condition that failed, each saying why (cut with the whole reason at REASON_MAX).
        Some((Failure::Body, format!("{}{at}", problems.join("; "))))
    } else if let Some(max) = check.max_latency
        && latency > max
    {
        Some((
            Failure::Latency,
            format!("latency {} over max_latency {}{at}", human::duration(latency), human::duration(max)),
        ))
    } else {
        None
    };
    Outcome { url, status: Some(status), latency: Some(latency), failure }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_relative_to_the_environment() {
        let base = Url::parse("https://shop.example.com").unwrap();
        assert_eq!(check_url(&base, "/health").unwrap().as_str(), "https://shop.example.com/health");
        assert_eq!(check_url(&base, "health?x=1").unwrap().as_str(), "https://shop.example.com/health?x=1");
        assert_eq!(check_url(&base, "http://other.test:8080/x").unwrap().as_str(), "http://other.test:8080/x");
        assert!(check_url(&base, "ftp://other.test/").unwrap_err().contains("only http and https"));
        assert!(check_url(&base, "https://u:p@other.test/").unwrap_err().contains("credentials"));
        assert!(check_url(&base, "https://[::1/").is_err());
    }

    #[test]
    fn invalid_checks_are_refused() {
        let url = Url::parse("https://shop.example.com/").unwrap();
        let mut check = Check::new("c", url);
        assert_eq!(check.validate(), Ok(()));
        check.method = "GE T".into();
        assert!(check.validate().unwrap_err().contains("method"));
        check.method = "POST".into();
        check.headers = vec![("X-Token".into(), "a\r\nInjected: 1".into())];
        assert!(check.validate().unwrap_err().contains("line break"));
        check.headers = vec![("Content-Length".into(), "5".into())];
        assert!(check.validate().unwrap_err().contains("set by cutover"));
        check.headers = vec![("Bad Name".into(), "x".into())];
        assert!(check.validate().unwrap_err().contains("token"));
    }
}
