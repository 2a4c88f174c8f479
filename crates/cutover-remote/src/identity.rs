//! Who is acting: recorded in locks and journal entries so a held lock names its holder.

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
            .unwrap_or_else(|| format!("uid{}", unsafe { libc::getuid() }));
        Self { user, machine: hostname(), pid: std::process::id() }
    }

    /// Whether the process is known to be gone: only answerable for a process on this machine.
    pub fn process_gone(&self) -> Option<bool> {
        if self.machine != hostname() {
            return None;
        }
        // SAFETY: kill with signal 0 only checks whether the pid exists.
        let rc = unsafe { libc::kill(self.pid as libc::pid_t, 0) };
        let gone = rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        Some(gone)
    }
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".to_owned())
}
