//! `.cutover/lock`: one deploy at a time per host. The lock file is written whole to a temporary
//! name and then hard-linked into place, so it appears atomically and never half-written.

use serde::{Deserialize, Serialize};

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

    /// Shell fragment, run from the deploy root: prints `@@lock acquired`, or `@@lock held` and
    /// the holder's lock file. The lock's text is part of the script, never read from a pipe, so
    /// a client killed half-way can never leave a partial lock behind.
    pub fn acquire_script(&self) -> String {
        let json = serde_json::to_string(self).expect("lock serializes");
        format!(
            "tmp=.cutover/lock.$$\nprintf '%s\\n' {json} > \"$tmp\"\n\
             if ln \"$tmp\" {PATH} 2>/dev/null; then rm -f \"$tmp\"; echo '@@lock acquired'\n\
             else rm -f \"$tmp\"; echo '@@lock held'; cat {PATH}; echo; fi\n",
            json = crate::shell::quote(&json),
        )
    }

    /// Shell fragment that removes the lock only if it is still this holder's.
    pub fn release_script(&self) -> String {
        // `read` is a builtin: no process for the check. The lock is one line of JSON.
        format!(
            "if [ -f {PATH} ] && read -r held < {PATH}; then case \"$held\" in *{}*) rm -f {PATH};; esac; fi\n",
            crate::shell::quote(&format!("\"token\":\"{}\"", self.token))
        )
    }
}
