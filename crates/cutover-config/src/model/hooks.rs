//! `[hooks]`: the commands run on each host around the switch and after a rollback, the
//! migrations run once per deploy, and how long one may run.

use std::time::Duration;

use serde::Deserialize;

use crate::HumanDuration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(default)]
    pub before_switch: Vec<String>,
    #[serde(default)]
    pub after_switch: Vec<String>,
    #[serde(default)]
    pub after_rollback: Vec<String>,
    /// Run once per deploy on the db host, in the new release, after every host is prepared and
    /// before the switch; the database is snapshotted first, and restored if one fails.
    #[serde(default)]
    pub migrate: Vec<String>,
    /// How long one hook may run on a host; past it, the hook and what it started are killed
    /// and the hook fails.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            before_switch: Vec::new(),
            after_switch: Vec::new(),
            after_rollback: Vec::new(),
            migrate: Vec::new(),
            timeout: default_timeout(),
        }
    }
}

fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
