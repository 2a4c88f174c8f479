//! `[ssh]`: the ssh config file, how long to wait for a host, and how long connections stay open.

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
    /// How long a connected host may stay silent (a dropped link, a frozen server) before it is
    /// given up: ssh's ServerAliveInterval × ServerAliveCountMax.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// How long each host's connection stays open after a command, so the next one (a
    /// rollback) needs no new SSH handshake. `"0s"` closes connections when cutover exits.
    #[serde(default = "default_persist")]
    pub persist: HumanDuration,
}

impl Default for Ssh {
    fn default() -> Self {
        Self {
            config: None,
            connect_timeout: default_connect_timeout(),
            timeout: default_timeout(),
            persist: default_persist(),
        }
    }
}

fn default_persist() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
}

fn default_connect_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}

fn default_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(30))
}
