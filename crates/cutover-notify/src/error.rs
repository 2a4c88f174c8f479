//! Why a notification was not delivered. Every variant names the channel in its redacted form
//! (`slack:https://hooks.slack.com/…`); reasons have had the URL's path, its query and the SMTP
//! password taken out, since a server's error page may echo them.

use std::time::Duration;

/// A notification that could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A `mailto:` channel, but no `[smtp]` settings.
    #[error("cannot notify `{channel}`: no [smtp] settings to send mail with")]
    NoSmtp { channel: String },
    /// The settings cannot work: a bad `from`, a password over a plain connection, an unusable CA.
    /// Not retried.
    #[error("cannot notify `{channel}`: {reason}")]
    Setup { channel: String, reason: String },
    /// No answer: the name does not resolve, the connection or the TLS handshake failed, the
    /// connection broke.
    #[error("cannot notify `{channel}`: {reason}{}", tries(*attempts))]
    Unreachable { channel: String, reason: String, attempts: u32 },
    /// No complete answer within the time-out of an attempt.
    #[error("cannot notify `{channel}`: no answer within {}{}", cutover_config::human::duration(*after), tries(*attempts))]
    Timeout { channel: String, after: Duration, attempts: u32 },
    /// The receiver answered, with a refusal: an HTTP status other than 2xx, an SMTP error reply.
    #[error("cannot notify `{channel}`: refused: {reason}{}", tries(*attempts))]
    Refused { channel: String, reason: String, attempts: u32 },
}

impl NotifyError {
    /// The channel, redacted.
    pub fn channel(&self) -> &str {
        match self {
            NotifyError::NoSmtp { channel }
            | NotifyError::Setup { channel, .. }
            | NotifyError::Unreachable { channel, .. }
            | NotifyError::Timeout { channel, .. }
            | NotifyError::Refused { channel, .. } => channel,
        }
    }

    /// How many attempts were made (0 when none could be).
    pub fn attempts(&self) -> u32 {
        match self {
            NotifyError::NoSmtp { .. } | NotifyError::Setup { .. } => 0,
            NotifyError::Unreachable { attempts, .. }
            | NotifyError::Timeout { attempts, .. }
            | NotifyError::Refused { attempts, .. } => *attempts,
        }
    }
}

fn tries(attempts: u32) -> String {
    if attempts > 1 { format!(" (after {attempts} attempts)") } else { String::new() }
}

/// The outcome of one attempt, before it is known whether another follows.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Not worth retrying (bad settings; a certificate that does not verify).
    Setup(String),
    Unreachable {
        reason: String,
        retry: bool,
    },
    Timeout(Duration),
    /// `retry`: the refusal may pass (HTTP 408/425/429/5xx, SMTP 4xx). `wait`: how long the
    /// receiver asked us to wait (`Retry-After`).
    Refused {
        reason: String,
        retry: bool,
        wait: Option<Duration>,
    },
}

impl Failure {
    pub fn retry(&self) -> bool {
        match self {
            Failure::Setup(_) => false,
            Failure::Unreachable { retry, .. } | Failure::Refused { retry, .. } => *retry,
            Failure::Timeout(_) => true,
        }
    }

    pub fn into_error(self, channel: String, attempts: u32) -> NotifyError {
        match self {
            Failure::Setup(reason) => NotifyError::Setup { channel, reason },
            Failure::Unreachable { reason, .. } => NotifyError::Unreachable { channel, reason, attempts },
            Failure::Timeout(after) => NotifyError::Timeout { channel, after, attempts },
            Failure::Refused { reason, .. } => NotifyError::Refused { channel, reason, attempts },
        }
    }

    /// The same failure with every occurrence of each secret in its text replaced by `…`.
    pub fn scrub(self, secrets: &[&str]) -> Failure {
        let clean = |text: String| scrub(text, secrets);
        match self {
            Failure::Setup(r) => Failure::Setup(clean(r)),
            Failure::Unreachable { reason, retry } => Failure::Unreachable { reason: clean(reason), retry },
            Failure::Timeout(d) => Failure::Timeout(d),
            Failure::Refused { reason, retry, wait } => Failure::Refused { reason: clean(reason), retry, wait },
        }
    }
}

/// `text` with every occurrence of each non-trivial secret replaced by `…`.
pub(crate) fn scrub(mut text: String, secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.len() >= 3).collect();
    // Longest first, so a secret that contains another is taken out whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if text.contains(secret) {
            text = text.replace(secret, "…");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_longest_first() {
        assert_eq!(scrub("GET /a/b/SECRET failed".into(), &["/a", "/a/b/SECRET"]), "GET … failed");
        assert_eq!(scrub("a / b".into(), &["/"]), "a / b");
    }

    #[test]
    fn messages() {
        let e =
            NotifyError::Timeout { channel: "slack:https://h/…".into(), after: Duration::from_secs(2), attempts: 3 };
        assert_eq!(e.to_string(), "cannot notify `slack:https://h/…`: no answer within 2 s (after 3 attempts)");
        let e = NotifyError::Refused { channel: "webhook:http://h/".into(), reason: "HTTP 404".into(), attempts: 1 };
        assert_eq!(e.to_string(), "cannot notify `webhook:http://h/`: refused: HTTP 404");
        assert_eq!(e.attempts(), 1);
        assert_eq!(e.channel(), "webhook:http://h/");
    }
}
