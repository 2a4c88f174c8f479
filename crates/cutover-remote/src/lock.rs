//! `.cutover/lock`: one deploy at a time per host. The lock file is written whole to a temporary
//! name and then hard-linked into place, so it appears atomically and never half-written.

use serde::{Deserialize, Serialize};

use crate::journal::{self, Event};
use crate::{Identity, identity::now_rfc3339};

pub const PATH: &str = ".cutover/lock";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    #[serde(flatten)]
    pub holder: Identity,
    pub since: String,
    pub command: String,
    /// Identifies this holder, so releasing never removes somebody else's lock.
    pub token: String,
}

impl LockInfo {
    pub fn new(command: &str) -> Self {
        let holder = Identity::current();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let token = format!("{}-{}-{nanos:x}", holder.machine, holder.pid);
        Self { holder, since: now_rfc3339(), command: command.to_owned(), token }
    }

    /// `ana@laptop (pid 4242, cutover deploy) since 2026-11-26T10:00:00Z`
    pub fn describe(&self) -> String {
        format!(
            "{}@{} (pid {}, `{}`) since {}",
            self.holder.user, self.holder.machine, self.holder.pid, self.command, self.since
        )
    }

    /// `Some(true)` when the holder ran on this machine and its process is gone.
    pub fn stale(&self) -> Option<bool> {
        self.holder.process_gone()
    }

    /// Shell fragment, run from the deploy root: prints `@@lock acquired`, or what is in the way
    /// ([`show_script`]). The lock's text is part of the script, never read from a pipe, so a
    /// client killed half-way can never leave a partial lock behind. `ln -T` never treats the
    /// path as a directory to link into: whatever is there (a directory, a symlink to one, a
    /// fifo), taking the lock fails.
    pub fn acquire_script(&self) -> String {
        let json = serde_json::to_string(self).expect("lock serializes");
        format!(
            "tmp=.cutover/lock.$$\nprintf '%s\\n' {json} > \"$tmp\" || {{ {full} >&2; rm -f \"$tmp\"; exit 1; }}\n\
             if ln -T \"$tmp\" {PATH} 2>/dev/null; then rm -f \"$tmp\"; echo '@@lock acquired'\n\
             else rm -f \"$tmp\"\n{show}fi\n",
            json = crate::shell::quote(&json),
            full = crate::shell::say_if_full(),
            show = show_script("lock held", "lock gone"),
        )
    }

    /// Shell condition, run from the deploy root: the lock path is a regular file (not a
    /// symlink) whose lock holds this holder's token.
    pub fn held_condition(&self) -> String {
        self.holds(PATH)
    }

    /// Shell condition: `path` (a shell word) is a regular file holding this holder's token.
    fn holds(&self, path: &str) -> String {
        // `read` is a builtin: no process for the check. The lock is one line of JSON.
        format!(
            "{{ [ -f {path} ] && [ ! -L {path} ] && read -r held < {path} && case \"$held\" in *{}*) true;; *) false;; esac; }}",
            crate::shell::quote(&format!("\"token\":\"{}\"", self.token))
        )
    }

    /// Shell fragment, run from the deploy root, that breaks this (stale) lock if it is still the
    /// one on the host, journaling `event` first; prints `@@broken` when it did. The lock is
    /// first renamed aside, so the file checked is the file removed: a lock taken meanwhile by
    /// someone else is put back, never deleted.
    pub fn break_script(&self, event: &Event) -> String {
        let aside = "\"$aside\"";
        format!(
            "aside=.cutover/lock.stale.$$\n\
             if mv -T {PATH} {aside} 2>/dev/null; then\n\
             if {holds}; then\n{journal}rm -f {aside}; echo '@@broken'\n\
             else mv -n -T {aside} {PATH} 2>/dev/null || true; fi\n\
             fi\n",
            holds = self.holds(aside),
            journal = journal::append_script(std::slice::from_ref(event)),
        )
    }

    /// Shell fragment that removes the lock only if it is still this holder's.
    pub fn release_script(&self) -> String {
        format!("if {}; then rm -f {PATH}; fi\n", self.held_condition())
    }
}

/// What a lock path that is not a regular file is, in words (`a directory`), as
/// [`show_script`] prints it after `@@lock bad`.
const KINDS: &str = "if [ -L {P} ]; then echo 'a symlink'; elif [ -d {P} ]; then echo 'a directory'; \
     elif [ -p {P} ]; then echo 'a fifo'; elif [ -S {P} ]; then echo 'a socket'; \
     elif [ -b {P} ] || [ -c {P} ]; then echo 'a device'; else echo 'not a regular file'; fi";

/// Shell fragment, run from the deploy root, that shows what is at the lock path without ever
/// opening anything but a regular file (`cat` on a fifo blocks): `@@{held}` and the lock's text
/// for a regular file, `@@lock bad` and what it is for anything else, `@@{absent}` for nothing.
pub fn show_script(held: &str, absent: &str) -> String {
    format!(
        "if [ -f {PATH} ] && [ ! -L {PATH} ]; then echo '@@{held}'; cat {PATH}; echo\n\
         elif [ -e {PATH} ] || [ -L {PATH} ]; then echo '@@lock bad'; {kinds}\n\
         else echo '@@{absent}'; fi\n",
        kinds = KINDS.replace("{P}", PATH),
    )
}
