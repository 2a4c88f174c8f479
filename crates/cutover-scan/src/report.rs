//! What a scan found, and what it looked at. Nothing here holds a secret: a finding carries only
//! its redaction and fingerprint, so the report can be printed, logged or serialized as it is.

use serde::Serialize;

/// One secret at one place: a file of the working tree, or a file as a commit introduced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id (`stripe-live-secret-key`).
    pub rule: &'static str,
    pub description: &'static str,
    /// Relative to the scanned directory, `/`-separated.
    pub file: String,
    /// 1-based line of the value (of a private key: its `BEGIN` line).
    pub line: usize,
    /// The commit that introduced the value in this file; `None` for the working tree.
    pub commit: Option<String>,
    /// A few leading characters and the length: `sk_l… (32 chars)`.
    pub redacted: String,
    /// The value's fingerprint, for a `fingerprint:` line in `.cutoverignore`.
    pub fingerprint: String,
}

impl Finding {
    /// `working tree`, or the commit's first 10 hex digits.
    pub fn place(&self) -> String {
        match &self.commit {
            Some(commit) => commit.chars().take(10).collect(),
            None => "working tree".into(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} ({}): {} {}", self.file, self.line, self.place(), self.rule, self.redacted)
    }
}

/// What was scanned.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Files of the working tree read.
    pub files: usize,
    /// Whether the directory is a git working tree whose history was scanned.
    pub history: bool,
    pub commits: usize,
    /// Distinct blobs of the history read.
    pub blobs: usize,
    /// Bytes of text scanned, files and blobs.
    pub bytes: u64,
    pub skipped_binary: usize,
    /// Files and blobs over the size limit.
    pub skipped_large: usize,
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Working tree first (by file and line), then history, oldest commit first.
    pub findings: Vec<Finding>,
    pub stats: Stats,
    /// Files that could not be read: their secrets, if any, are not in the report.
    pub warnings: Vec<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}
