//! `[hooks]`: the commands run on each host around the switch and after a rollback.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    #[serde(default)]
    pub before_switch: Vec<String>,
    #[serde(default)]
    pub after_switch: Vec<String>,
    #[serde(default)]
    pub after_rollback: Vec<String>,
}
