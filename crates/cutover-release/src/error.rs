//! Errors of the release engine, each naming the hosts and the step, and saying what state
//! production was left in ([`Outcome`]), which the binary turns into an exit code.

use cutover_remote::RemoteError;

/// What a failed command did to production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing changed on any host's `current`.
    Unchanged,
    /// Refused before starting: the lock is held, or a rule forbids it.
    Blocked,
    /// A change started and did not finish everywhere; `cutover status` shows where.
    Partial,
    /// The release failed after the switch and every host was put back.
    RolledBack,
    /// Stopped by SIGINT or SIGTERM, the step in flight finished or undone: every host is on
    /// one complete release; the message says which and what was left undone.
    Interrupted,
}

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("failed to read the app in `{path}`")]
    Source {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` is not valid UTF-8; cutover releases only UTF-8 file names")]
    NonUtf8Path { path: String },
    #[error("{path:?} contains a control character (tab, newline, …); rename it or exclude it")]
    ControlCharPath { path: String },
    #[error("build command `{command}` failed ({status})")]
    Build { command: String, status: String },
    #[error("{step} failed on {}:\n{}", hosts_of(errors), list(errors))]
    Hosts { step: String, errors: Vec<RemoteError>, outcome: Outcome },
    #[error("the deploy lock is held:\n{}", holders.join("\n"))]
    Locked { holders: Vec<String>, any_stale: bool },
    #[error(
        "release `{release}` stopped before switching: this deploy no longer holds the deploy lock on {} \
         (it was broken while the deploy ran); {}, and {release} is marked failed",
        quoted(hosts),
        if reverted.is_empty() { "no host was switched".to_owned() }
        else { format!("{} had switched and went back, so no host is on it", quoted(reverted)) }
    )]
    LockLost { release: String, hosts: Vec<String>, reverted: Vec<String> },
    #[error(
        "`current` is not a symlink to a release on {}; cutover does not guess which release is live:\n{}",
        quoted(&hosts.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>()),
        hosts.iter().map(|(_, line)| line.as_str()).collect::<Vec<_>>().join("\n")
    )]
    BadCurrent {
        /// Each host, with a line saying what its `current` is and where.
        hosts: Vec<(String, String)>,
    },
    #[error("nothing to roll back to on `{host}`: {detail}")]
    NothingToRollBack { host: String, detail: String },
    #[error("{detail}")]
    Refused { detail: String },
    #[error("{detail}")]
    Partial { detail: String },
    #[error("release `{release}` failed after the switch and every host was rolled back to {to}:\n{}", list(errors))]
    RolledBack { release: String, to: String, errors: Vec<RemoteError> },
    #[error("interrupted by {signal}: {detail}")]
    Interrupted { signal: String, detail: String },
    /// The confirmation was answered no: nothing was sent, no host changed.
    #[error("not confirmed: {release} was not deployed to {env}; nothing changed")]
    NotConfirmed { env: String, release: String },
    #[error("release `{release}` failed its checks after the switch and every host was rolled back to {to}:\n{detail}")]
    VerifyFailed { release: String, to: String, detail: String },
    #[error("release `{release}` was prepared on every host but not switched to: {detail}")]
    BeforeSwitch { release: String, detail: String },
}

pub(crate) fn quoted(hosts: &[String]) -> String {
    hosts.iter().map(|h| format!("`{h}`")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn hosts_of(errors: &[RemoteError]) -> String {
    let mut hosts: Vec<String> = errors.iter().map(|e| format!("`{}`", e.host())).collect();
    hosts.dedup();
    hosts.join(", ")
}

/// One error a line, indented under a heading.
pub(crate) fn list(errors: &[RemoteError]) -> String {
    errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
}

impl ReleaseError {
    /// The refusal for hosts whose `current` is not a symlink to a release (`problems`: host and
    /// what its `current` is), naming each host and the path.
    pub fn bad_current<'a, P: std::fmt::Display>(
        root: &cutover_config::DeployPath,
        problems: impl IntoIterator<Item = (&'a str, P)>,
    ) -> Self {
        let hosts = problems
            .into_iter()
            .map(|(host, problem)| (host.to_owned(), format!("  `{host}`: {problem} (`{root}/current`)")))
            .collect();
        Self::BadCurrent { hosts }
    }

    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Hosts { outcome, .. } => *outcome,
            Self::Locked { .. } | Self::LockLost { .. } => Outcome::Blocked,
            Self::Partial { .. } => Outcome::Partial,
            Self::RolledBack { .. } | Self::VerifyFailed { .. } => Outcome::RolledBack,
            Self::Interrupted { .. } => Outcome::Interrupted,
            Self::Source { .. }
            | Self::NonUtf8Path { .. }
            | Self::ControlCharPath { .. }
            | Self::Build { .. }
            | Self::NothingToRollBack { .. }
            | Self::BadCurrent { .. }
            | Self::NotConfirmed { .. }
            | Self::BeforeSwitch { .. }
            | Self::Refused { .. } => Outcome::Unchanged,
        }
    }

    /// What the user can do about it, where there is something.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Locked { any_stale: true, .. } => Some(
                "the holder's process is gone: break the lock with `cutover unlock --reason \"…\"` \
                 (`cutover rollback` breaks a stale lock of this machine by itself)"
                    .into(),
            ),
            Self::LockLost { .. } => {
                Some("see who holds the lock now with `cutover status`, then deploy again once it is free".into())
            }
            Self::Locked { .. } => Some(
                "wait for that command to finish; if its process is gone, run `cutover unlock --reason \"…\"`".into(),
            ),
            Self::Partial { .. } => Some("run `cutover status` to see which host is on which release".into()),
            Self::BadCurrent { .. } => Some(
                "cutover never makes such a `current`: look at what made it, move it aside on that host, and point \
                 `current` at the release that should be live (`ln -s releases/ID current`; `cutover releases` lists them)"
                    .into(),
            ),
            Self::Hosts { errors, .. } if errors.iter().any(|e| matches!(e, RemoteError::HostKey { .. })) => Some(
                "check the host's key fingerprint, then add it with `ssh-keyscan HOST >> ~/.ssh/known_hosts` or by connecting once with ssh".into(),
            ),
            _ => None,
        }
    }
}
