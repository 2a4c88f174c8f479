//! `[monitor]`: the watch after go-live (its window, thresholds, failure limits) and what a breach
//! does.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::HumanDuration;

/// `[monitor]`: the watch after go-live.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    #[serde(default = "default_window")]
    pub window: HumanDuration,
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// k6 thresholds by metric: `http_req_failed = "rate<0.01"`, `http_req_duration = "p(95)<800"`.
    #[serde(default)]
    pub thresholds: BTreeMap<String, String>,
    /// Thresholds are judged over the samples of this last stretch of time…
    #[serde(default = "default_sliding")]
    pub sliding_window: HumanDuration,
    /// …once it holds at least this many samples: one slow answer among five is not a trend.
    #[serde(default = "default_min_samples")]
    pub min_samples: u32,
    /// How many failed rounds are tolerated (Argo Rollouts' `failureLimit`): one more is a breach.
    #[serde(default = "default_failure_limit")]
    pub failure_limit: u32,
    /// Rounds in a row that could not measure anything (every check failing to connect) before
    /// it alerts (Argo Rollouts' `consecutiveErrorLimit`); such rounds never roll back.
    #[serde(default = "default_consecutive_errors")]
    pub consecutive_errors: u32,
    #[serde(default)]
    pub on_fail: OnFail,
    /// `slack:URL`, `discord:URL`, `webhook:URL`, `mailto:ADDRESS`.
    #[serde(default)]
    pub notify: Vec<String>,
}

impl Default for Monitor {
    fn default() -> Self {
        Self {
            window: default_window(),
            interval: default_interval(),
            thresholds: BTreeMap::new(),
            sliding_window: default_sliding(),
            min_samples: default_min_samples(),
            failure_limit: default_failure_limit(),
            consecutive_errors: default_consecutive_errors(),
            on_fail: OnFail::default(),
            notify: Vec::new(),
        }
    }
}

fn default_window() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(48 * 3600))
}

fn default_interval() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(60))
}

fn default_sliding() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(600))
}

fn default_min_samples() -> u32 {
    30
}

fn default_failure_limit() -> u32 {
    3
}

fn default_consecutive_errors() -> u32 {
    4
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFail {
    #[default]
    Rollback,
    Alert,
}
