//! `[report]`: the launch report (`cutover report`) and whether the monitor's "window passed"
//! notification carries it.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// When a monitor window passes, write the report and attach it to the mail (a webhook
    /// gets its path and, with `url`, its link). Needs `[monitor] notify`.
    #[serde(default)]
    pub notify: bool,
    /// Where those reports are written (relative to the config file's directory).
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// Where `dir` is published (`https://ops.example/reports/`): the link a notification
    /// carries is this followed by the file's name.
    #[serde(default)]
    pub url: Option<ReportUrl>,
}

impl Default for Report {
    fn default() -> Self {
        Self { notify: false, dir: default_dir(), url: None }
    }
}

fn default_dir() -> PathBuf {
    PathBuf::from(".cutover/reports")
}

validated_string!(
    /// `http://…` or `https://…`, without spaces; a file's name is appended to it.
    ReportUrl,
    |text| {
        if !(text.starts_with("https://") || text.starts_with("http://")) || text.contains(char::is_whitespace) {
            return Err(format!("`{text}` is not an http(s) URL"));
        }
        Ok(())
    }
);

impl ReportUrl {
    /// The link to `file` in the published directory.
    pub fn join(&self, file: &str) -> String {
        format!("{}/{file}", self.0.trim_end_matches('/'))
    }
}
