//! `[gates]`: how long a passed gate (pre-flight, DNS/TLS ready) counts for a deploy.

use serde::Deserialize;

use crate::HumanDuration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// A gate passed longer ago than this is expired: it must pass again.
    #[serde(default = "default_max_age")]
    pub max_age: HumanDuration,
}

impl Default for Gates {
    fn default() -> Self {
        Self { max_age: default_max_age() }
    }
}

fn default_max_age() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(24 * 3600))
}
