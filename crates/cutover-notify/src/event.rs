//! What happened, in the words every channel renders: the kind, the environment, the release, a
//! one-line title and a longer detail.

use std::time::SystemTime;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The monitor's thresholds broke.
    Breach,
    /// The release was rolled back (by the monitor, the smoke checks or a command).
    RolledBack,
    /// A rollback was attempted and failed: someone has to look now.
    RollbackFailed,
    /// The monitor window passed with the thresholds held: steady state.
    WindowPassed,
    /// Anything else worth telling (`on_fail = "alert"`, a paused verdict).
    Alert,
}

impl EventKind {
    /// `breach`, `rolled_back`, `rollback_failed`, `window_passed`, `alert`: the `event` field of
    /// the plain JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Breach => "breach",
            EventKind::RolledBack => "rolled_back",
            EventKind::RollbackFailed => "rollback_failed",
            EventKind::WindowPassed => "window_passed",
            EventKind::Alert => "alert",
        }
    }

    /// In words, for people: `thresholds breached`, `rolled back`, …
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Breach => "thresholds breached",
            EventKind::RolledBack => "rolled back",
            EventKind::RollbackFailed => "rollback failed",
            EventKind::WindowPassed => "monitor window passed",
            EventKind::Alert => "alert",
        }
    }

    pub(crate) fn emoji(self) -> &'static str {
        match self {
            EventKind::Breach => "\u{1f6a8}",            // rotating light
            EventKind::RolledBack => "\u{21a9}\u{fe0f}", // leftwards arrow with hook
            EventKind::RollbackFailed => "\u{1f525}",    // fire
            EventKind::WindowPassed => "\u{2705}",       // check mark
            EventKind::Alert => "\u{26a0}\u{fe0f}",      // warning sign
        }
    }

    /// Discord embed colour: red, orange, dark red, green, yellow.
    pub(crate) fn color(self) -> u32 {
        match self {
            EventKind::Breach => 0xd93025,
            EventKind::RolledBack => 0xf29900,
            EventKind::RollbackFailed => 0x8b0000,
            EventKind::WindowPassed => 0x188038,
            EventKind::Alert => 0xf9ab00,
        }
    }
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The environment (`production`).
    pub env: String,
    /// The release concerned (the one rolled back, or the one that held), when there is one.
    pub release: Option<String>,
    /// One line: `p(95) 1320 ms > 800 ms over the last 10 min`.
    pub title: String,
    /// More lines, may be empty.
    pub detail: String,
    pub at: SystemTime,
    /// A file that goes with it (the launch report): attached to mails, and named, or linked
    /// with its `link`, in the webhooks' text.
    pub attachment: Option<Attachment>,
}

/// A file sent along with an event.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file's name (`report-production-….html`).
    pub name: String,
    /// Its MIME type (`text/html; charset=utf-8`).
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// Where it can be read: a URL, or the path on the machine that wrote it.
    pub link: String,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .field("link", &self.link)
            .finish()
    }
}

impl Event {
    /// An event happening now, without release or detail.
    pub fn new(kind: EventKind, env: impl Into<String>, title: impl Into<String>) -> Event {
        Event {
            kind,
            env: env.into(),
            release: None,
            title: title.into(),
            detail: String::new(),
            at: SystemTime::now(),
            attachment: None,
        }
    }

    pub fn attach(mut self, attachment: Attachment) -> Event {
        self.attachment = Some(attachment);
        self
    }

    pub fn release(mut self, release: impl Into<String>) -> Event {
        self.release = Some(release.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Event {
        self.detail = detail.into();
        self
    }

    pub fn at(mut self, at: SystemTime) -> Event {
        self.at = at;
        self
    }

    /// `production: rolled back (release 20250101-120000)`.
    pub fn headline(&self) -> String {
        match &self.release {
            Some(release) => format!("{}: {} (release {release})", self.env, self.kind.label()),
            None => format!("{}: {}", self.env, self.kind.label()),
        }
    }

    /// `at` as RFC 3339 in UTC, to the second: `2025-01-01T12:00:00Z`.
    pub fn at_rfc3339(&self) -> String {
        let secs = match self.at.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        time::OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
    }
}
