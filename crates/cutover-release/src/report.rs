//! What a deploy or a rollback did, for the binary to print or emit as JSON.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct HostUpload {
    pub host: String,
    /// The release the unchanged files were linked from.
    pub base: Option<String>,
    pub linked_files: usize,
    pub sent_files: usize,
    /// Bytes of the tar stream written to the host (file data and headers).
    pub sent_bytes: u64,
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    pub env: String,
    pub release: String,
    pub previous: Option<String>,
    pub manifest: String,
    pub files: usize,
    pub app_bytes: u64,
    pub hosts: Vec<HostUpload>,
    /// The release is live but its checks could not be run (nothing reachable from here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    pub env: String,
    pub from: Option<String>,
    pub to: String,
    pub hosts: Vec<String>,
}
