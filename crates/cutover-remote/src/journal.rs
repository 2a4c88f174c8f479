//! `.cutover/journal.jsonl`: each host's own record of its releases, one JSON event a line.
//! It is the source of truth for which releases exist, which failed and what a rollback may use.

use serde::{Deserialize, Serialize};

use crate::{Identity, RemoteError, identity::now_rfc3339, shell};

pub const PATH: &str = ".cutover/journal.jsonl";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Upload of a release starts (before any file is written).
    Prepare,
    /// The release is complete on this host: files, shared links, before_switch hooks.
    Prepared,
    /// `current` is about to point at `release` (was `from`).
    Switch,
    /// `current` points at `release`.
    Switched,
    /// `release` must never be a rollback target (its checks, a hook or the monitor failed it).
    Failed,
    /// `release` was rolled back by hand: the default rollback target skips it, `rollback --to`
    /// may go back to it.
    RolledBack,
    Remove,
    Removed,
    /// The deploy lock was broken: by `cutover unlock`, or by a rollback (a stale lock of its machine).
    Unlock,
    /// A command stopped here on SIGINT or SIGTERM, having finished or undone its step in flight;
    /// the reason says what was left undone. With a release: that release was left unfinished
    /// (never switched to) or unverified (live, its checks did not run to the end).
    Interrupted,
    /// Written by a newer cutover; kept, not understood.
    #[serde(other)]
    Unknown,
}

/// Why `current` moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Deploy,
    Rollback,
    /// Another host failed to switch, so this one went back.
    Revert,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub ts: String,
    pub event: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// BLAKE3 of the release's manifest: the artifact's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub user: String,
    pub machine: String,
    /// The process that wrote it, on `machine` (absent in journals of older cutovers): tells
    /// whether a release's builder may still be at work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

impl Event {
    pub fn new(event: Kind, release: Option<&str>, who: &Identity) -> Self {
        Self {
            ts: now_rfc3339(),
            event,
            release: release.map(str::to_owned),
            from: None,
            cause: None,
            manifest: None,
            reason: None,
            user: who.user.clone(),
            machine: who.machine.clone(),
            pid: Some(who.pid),
        }
    }

    pub fn from(mut self, from: Option<&str>) -> Self {
        self.from = from.map(str::to_owned);
        self
    }

    pub fn cause(mut self, cause: Cause) -> Self {
        self.cause = Some(cause);
        self
    }

    pub fn manifest(mut self, hash: &str) -> Self {
        self.manifest = Some(hash.to_owned());
        self
    }

    /// Why; cut to [`REASON_MAX`] bytes (a server's 60 KB header in a failed check must not make
    /// every later script and journal read carry it).
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(cut(reason, REASON_MAX));
        self
    }
}

/// The longest reason a journal event keeps.
pub const REASON_MAX: usize = 2000;

/// `text`, or its first `max` bytes (at a character boundary) and how much was left out.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes not kept)", &text[..end], text.len() - end)
}

/// A shell fragment that appends `events` to the journal, run from the deploy root. Each line
/// starts with a newline too, so a line cut short by a kill or a full disk stays a line of its
/// own instead of swallowing the next event (the empty lines this makes are skipped).
pub fn append_script(events: &[Event]) -> String {
    let lines: String = events.iter().map(|e| serde_json::to_string(e).expect("events serialize") + "\n").collect();
    if lines.is_empty() {
        return String::new();
    }
    format!("printf '\\n%s' {} >> {PATH}\n", shell::quote(&lines))
}

/// Whether a line that does not parse is an event whose write was cut short (kill, full disk).
fn torn(line: &str) -> bool {
    line.starts_with("{\"ts\":") && !line.trim_end().ends_with('}')
}

/// Parses a journal. A malformed line is an error naming the host and line, except an event
/// whose write was cut short: it never happened, and is left out.
pub fn parse(host: &str, text: &str) -> Result<Vec<Event>, RemoteError> {
    let mut events = Vec::new();
    let complete = text.ends_with('\n') || text.is_empty();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(line) {
            Ok(event) => events.push(event),
            Err(_) if (i + 1 == lines.len() && !complete) || torn(line) => continue,
            Err(e) => {
                return Err(RemoteError::Journal { host: host.to_owned(), line: i + 1, detail: e.to_string() });
            }
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Identity {
        Identity { user: "ana".into(), machine: "laptop".into(), pid: 7 }
    }

    /// Appends `events` in `dir` through a real shell.
    fn append(dir: &std::path::Path, events: &[Event]) {
        let script = format!("cd {}\n{}", shell::quote(&dir.display().to_string()), append_script(events));
        crate::Target::run(&crate::LocalTarget, "appending", &script, crate::Stdin::Null).unwrap();
    }

    #[test]
    fn appended_events_parse_back_through_a_real_shell() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".cutover")).unwrap();
        let events = vec![
            Event::new(Kind::Prepare, Some("r1"), &who()),
            Event::new(Kind::Failed, Some("r1"), &who()).reason("it's `broken` $HOME"),
        ];
        append(dir.path(), &events);
        let text = std::fs::read_to_string(dir.path().join(PATH)).unwrap();
        assert_eq!(parse("h", &text).unwrap(), events);
    }

    #[test]
    fn a_long_reason_is_cut_where_it_is_stored() {
        let long = "é".repeat(90_000);
        let event = Event::new(Kind::Failed, Some("r1"), &who()).reason(&long);
        let kept = event.reason.unwrap();
        assert!(kept.len() < REASON_MAX + 40, "{} bytes kept", kept.len());
        assert!(kept.ends_with("(178000 more bytes not kept)"), "{}", &kept[kept.len() - 40..]);
        assert_eq!(Event::new(Kind::Failed, None, &who()).reason("short").reason.as_deref(), Some("short"));
    }

    #[test]
    fn malformed_line_names_host_and_line() {
        let good = serde_json::to_string(&Event::new(Kind::Prepare, Some("r1"), &who())).unwrap();
        let text = format!("{good}\nnot json\n{good}\n");
        let err = parse("web2", &text).unwrap_err();
        assert!(matches!(err, RemoteError::Journal { ref host, line: 2, .. } if host == "web2"), "{err}");
    }

    #[test]
    fn an_event_appended_after_a_torn_write_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".cutover")).unwrap();
        let good = serde_json::to_string(&Event::new(Kind::Prepare, Some("r1"), &who())).unwrap();
        std::fs::write(dir.path().join(PATH), format!("{good}\n{}", &good[..25])).unwrap();
        let next = Event::new(Kind::Prepared, Some("r1"), &who());
        append(dir.path(), std::slice::from_ref(&next));
        let text = std::fs::read_to_string(dir.path().join(PATH)).unwrap();
        let events = parse("h", &text).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1], next);
    }

    #[test]
    fn torn_last_line_is_left_out() {
        let good = serde_json::to_string(&Event::new(Kind::Prepare, Some("r1"), &who())).unwrap();
        let text = format!("{good}\n{}", &good[..20]);
        assert_eq!(parse("h", &text).unwrap().len(), 1);
    }

    #[test]
    fn journals_of_older_cutovers_still_read() {
        // Written before `pid` and `rolled_back` existed: a rollback marked what it left failed.
        let text = concat!(
            r#"{"ts":"2026-11-26T10:00:00Z","event":"switched","release":"r2","from":"r1","cause":"deploy","user":"ana","machine":"laptop"}"#,
            "\n",
            r#"{"ts":"2026-11-26T11:00:00Z","event":"failed","release":"r2","reason":"rolled back by ana@laptop","user":"ana","machine":"laptop"}"#,
            "\n",
        );
        let events = parse("h", text).unwrap();
        assert_eq!(events[1].event, Kind::Failed);
        assert_eq!(events[1].pid, None);
        let new = Event::new(Kind::RolledBack, Some("r2"), &who());
        let line = serde_json::to_string(&new).unwrap();
        assert!(line.contains(r#""event":"rolled_back""#) && line.contains(r#""pid":7"#), "{line}");
        let line = serde_json::to_string(&Event::new(Kind::Interrupted, Some("r2"), &who())).unwrap();
        assert!(line.contains(r#""event":"interrupted""#), "{line}");
        assert_eq!(parse("h", &format!("{line}\n")).unwrap()[0].event, Kind::Interrupted);
    }

    #[test]
    fn events_of_a_newer_cutover_are_kept_as_unknown() {
        let text = r#"{"ts":"t","event":"teleported","user":"u","machine":"m"}"#.to_owned() + "\n";
        assert_eq!(parse("h", &text).unwrap()[0].event, Kind::Unknown);
    }
}
