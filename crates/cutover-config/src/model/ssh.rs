//! `[ssh]`: the ssh config file, how long to wait for a host, how long connections stay open,
//! and how many hosts are worked at once.

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
    /// How many hosts a command works at once (connections, deploy steps, rollback, status):
    /// a fleet larger than this goes through in waves, each host as soon as one ends.
    #[serde(default = "default_max_parallel")]
    pub max_parallel: std::num::NonZeroUsize,
}

impl Default for Ssh {
    fn default() -> Self {
        Self {
            config: None,
            connect_timeout: default_connect_timeout(),
            timeout: default_timeout(),
            persist: default_persist(),
            max_parallel: default_max_parallel(),
        }
    }
}

fn default_max_parallel() -> std::num::NonZeroUsize {
    std::num::NonZeroUsize::new(128).expect("128 is not zero")
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
