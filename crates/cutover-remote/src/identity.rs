//! Who is acting: recorded in locks and journal entries so a held lock names its holder.

use rustix::io::Errno;
use rustix::process::{Pid, getuid, test_kill_process};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user: String,
    pub machine: String,
    pub pid: u32,
}

impl Identity {
    pub fn current() -> Self {
        let user = ["USER", "LOGNAME"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| format!("uid{}", getuid().as_raw()));
        Self { user, machine: hostname(), pid: std::process::id() }
    }

    /// Whether the process is known to be gone: only answerable for a process on this machine.
    pub fn process_gone(&self) -> Option<bool> {
        if self.machine != hostname() {
            return None;
        }
        Some(!process_exists(self.pid))
    }
}

/// Whether a process with `pid` exists on this machine: only the kernel's "no such process"
/// says no (another user's process is there, even if we may not signal it).
pub fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else { return false };
    !matches!(test_kill_process(pid), Err(Errno::SRCH))
}

/// This machine's name (`uname -n`).
pub fn hostname() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".to_owned())
}
