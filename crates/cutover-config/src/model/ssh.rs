//! `[ssh]`: the ssh config file, connect timeout and how long connections stay open.

use std::path::PathBuf;

use serde::Deserialize;

use crate::HumanDuration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    /// Passed to every ssh invocation as `-F FILE`.
    pub config: Option<PathBuf>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// How long each host's connection stays open after a command, so the next one (a
    /// rollback) needs no new SSH handshake. `"0s"` closes connections when cutover exits.
    #[serde(default = "default_persist")]
    pub persist: HumanDuration,
}

impl Default for Ssh {
    fn default() -> Self {
        Self { config: None, connect_timeout: default_connect_timeout(), persist: default_persist() }
    }
}

fn default_persist() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
}

fn default_connect_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
