//! Notifications of `[monitor] notify`: Slack, Discord and JSON webhooks, and mail through `[smtp]`.
//!
//! What the monitor (and a rollback) tells people: a breach, a rollback, a failed rollback and a
//! passed window each become one message per channel: a Slack or Discord webhook, a plain JSON
//! webhook, or a mail through `[smtp]`.
//!
//! Each delivery is bounded: an attempt has a time-out (the notifier's for webhooks, `[smtp]
//! timeout` for each step of a mail), and a failed attempt is retried a few times with a doubling
//! pause when it may pass (no answer, a 5xx/429/408, an SMTP 4xx), never when it cannot (a 4xx, a
//! certificate that does not verify, bad settings). Worst case per channel: `attempts × timeout`
//! plus the pauses; [`Notifier::send_all`] sends to every channel at once, so all of them take no
//! longer than the slowest. Nothing here panics or prints; errors name the channel with the
//! webhook's path left out (it is the token), and never hold the SMTP password.
//!
//! ```no_run
//! use cutover_notify::{Channel, Event, EventKind, Notifier};
//! # let trust = cutover_http::Trust::load(None).unwrap();
//! let channels = [Channel::parse("slack:https://hooks.slack.com/services/T/B/X").unwrap()];
//! let event = Event::new(EventKind::RolledBack, "production", "p(95) 1320 ms > 800 ms")
//!     .release("20250101-120000");
//! for (channel, result) in Notifier::new(trust).send_all(&channels, &event) {
//!     if let Err(e) = result {
//!         eprintln!("warning: {e}");
//!     }
//! }
//! ```

mod channel;
mod error;
mod event;
mod mail;
mod payload;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::crypto::CryptoProvider;

pub use channel::Channel;
pub use error::NotifyError;
pub use event::{Attachment, Event, EventKind};
pub use mail::{Smtp, SmtpTls};

use cutover_http::Trust;
use cutover_http::client::{self, Context, Fail, Payload, Request, Response};
use cutover_http::text::cut;
use error::Failure;

/// The longest pause a receiver's `Retry-After` gets.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// How much of a webhook's answer body is read at most.
const MAX_ANSWER: u64 = 64 * 1024;
/// How much of it is kept, for the message of a refusal.
const ANSWER_EXCERPT: usize = 2048;

/// Sends events to channels. Cheap to share between threads.
#[derive(Clone)]
pub struct Notifier {
    trust: Trust,
    smtp: Option<Smtp>,
    timeout: Duration,
    attempts: u32,
    backoff: Duration,
    provider: Arc<CryptoProvider>,
}

impl Notifier {
    /// Webhooks verified against `trust` (system roots and `[tls] extra_ca`; the relay too), no
    /// SMTP, 10 s per attempt, 3 attempts, 1 s before the second (then doubling).
    pub fn new(trust: Trust) -> Notifier {
        Notifier {
            trust,
            smtp: None,
            timeout: Duration::from_secs(10),
            attempts: 3,
            backoff: Duration::from_secs(1),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        }
    }

    /// The relay for `mailto:` channels (`[smtp]`); without one they fail with
    /// [`NotifyError::NoSmtp`].
    pub fn smtp(mut self, smtp: Option<Smtp>) -> Notifier {
        self.smtp = smtp;
        self
    }

    /// Time for one webhook attempt: name lookup, connect, TLS, request and the answer's head
    /// (and as much of its body as comes in that time).
    pub fn timeout(mut self, timeout: Duration) -> Notifier {
        self.timeout = timeout;
        self
    }

    /// Attempts per channel and event (1 to 10).
    pub fn attempts(mut self, attempts: u32) -> Notifier {
        self.attempts = attempts.clamp(1, 10);
        self
    }

    /// The pause before the second attempt; it doubles after each.
    pub fn backoff(mut self, backoff: Duration) -> Notifier {
        self.backoff = backoff;
        self
    }

    /// Delivers `event` to `channel`, retrying as the module docs say.
    pub fn send(&self, channel: &Channel, event: &Event) -> Result<(), NotifyError> {
        let name = channel.redacted();
        if matches!(channel, Channel::Mail(_)) && self.smtp.is_none() {
            return Err(NotifyError::NoSmtp { channel: name });
        }
        let mut pause = self.backoff;
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(channel, event) {
                Ok(()) => return Ok(()),
                Err(failure) => failure,
            };
            if !failure.retry() || attempt >= self.attempts {
                return Err(failure.into_error(name, attempt));
            }
            let wait = match &failure {
                Failure::Refused { wait: Some(wait), .. } => (*wait).min(MAX_RETRY_AFTER),
                _ => pause,
            };
            std::thread::sleep(wait);
            pause = pause.saturating_mul(2);
            attempt += 1;
        }
    }

    /// Delivers `event` to every channel at once (one thread each); the outcomes come in the
    /// order of `channels`, each with the channel's redacted name.
    pub fn send_all(&self, channels: &[Channel], event: &Event) -> Vec<(String, Result<(), NotifyError>)> {
        std::thread::scope(|scope| {
            let handles: Vec<_> =
                channels.iter().map(|channel| scope.spawn(move || self.send(channel, event))).collect();
            handles
                .into_iter()
                .zip(channels)
                .map(|(handle, channel)| {
                    let result = handle.join().unwrap_or_else(|_| {
                        Err(NotifyError::Unreachable {
                            channel: channel.redacted(),
                            reason: "the notifier itself failed (panic)".into(),
                            attempts: 0,
                        })
                    });
                    (channel.redacted(), result)
                })
                .collect()
        })
    }

    fn attempt(&self, channel: &Channel, event: &Event) -> Result<(), Failure> {
        let (url, body) = match channel {
            Channel::Mail(to) => {
                let Some(smtp) = &self.smtp else {
                    return Err(Failure::Setup("no [smtp] settings".into()));
                };
                return mail::send(smtp, to, event, &self.trust);
            }
            Channel::Slack(url) => (url, payload::slack(event)),
            Channel::Discord(url) => (url, payload::discord(event)),
            Channel::Webhook(url) => (url, payload::plain(event)),
        };
        let body = serde_json::to_vec(&body).map_err(|e| Failure::Setup(format!("cannot encode the payload: {e}")))?;
        self.post(url, &body).map_err(|failure| failure.scrub(&url_secrets(url)))
    }

    /// POSTs `body` (JSON) to `url` through the HTTP checks' client, within one timeout.
    fn post(&self, url: &url::Url, body: &[u8]) -> Result<(), Failure> {
        let ctx = Context {
            trust: &self.trust,
            provider: &self.provider,
            deadline: Instant::now() + self.timeout,
            timeout: self.timeout,
            keep: ANSWER_EXCERPT,
            keep_tail: 0,
            max_body: MAX_ANSWER,
        };
        let request = Request {
            method: "POST",
            url,
            headers: &[],
            body: Some(Payload { content_type: "application/json", data: body }),
            connect_to: None,
            skip_redirect_body: false,
        };
        let answer = match client::exchange(&request, &ctx) {
            Ok(answer) => answer,
            // Once the head is in, the answer stands whatever became of its body.
            Err(Fail { partial: Some(answer), .. }) => *answer,
            Err(fail) => return Err(unanswered(fail, &ctx)),
        };
        verdict(&answer)
    }
}

/// An attempt that got no answer: a timeout once the attempt's time is up, else unreachable (and
/// worth another attempt unless a certificate was refused).
fn unanswered(fail: Fail, ctx: &Context<'_>) -> Failure {
    if fail.permanent {
        Failure::Unreachable { reason: fail.reason, retry: false }
    } else if fail.kind == cutover_http::Failure::Timeout || Instant::now() >= ctx.deadline {
        Failure::Timeout(ctx.timeout)
    } else {
        Failure::Unreachable { reason: fail.reason, retry: true }
    }
}

/// A 2xx is delivered; another status is a refusal, with the start of the answer's body and
/// whether it may pass.
fn verdict(answer: &Response) -> Result<(), Failure> {
    if (200..300).contains(&answer.status) {
        return Ok(());
    }
    let mut reason = format!("HTTP {} {}", answer.status, answer.reason).trim_end().to_string();
    let text: String =
        String::from_utf8_lossy(&answer.body.kept).chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_empty() {
        reason.push_str(&format!(": {}", cut(&text, 200)));
    }
    let retry = matches!(answer.status, 408 | 425 | 429 | 500..=599);
    let wait = answer.head.header("Retry-After").and_then(|v| v.parse::<u64>().ok()).map(Duration::from_secs);
    Err(Failure::Refused { reason, retry, wait })
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("trust", &self.trust)
            .field("smtp", &self.smtp)
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// The parts of a webhook URL that may be a token, as a server might echo them: the path, each
/// longer path segment, the query, the user and the password.
fn url_secrets(url: &url::Url) -> Vec<&str> {
    let mut secrets = vec![url.as_str(), url.path(), url.username()];
    secrets.extend(url.path_segments().into_iter().flatten().filter(|s| s.len() >= 6));
    secrets.extend(url.query());
    secrets.extend(url.password());
    secrets.retain(|s| s.len() > 1);
    secrets
}
