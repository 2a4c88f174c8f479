//! What can go wrong on a host; every variant names the host and the step.

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("failed to start `{program}` for `{host}`")]
    Spawn {
        host: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to connect to `{host}`: {detail}")]
    Connect { host: String, detail: String },
    #[error("host key of `{host}` could not be verified: {detail}")]
    HostKey { host: String, detail: String },
    #[error("{step} failed on `{host}` ({status}){}", fmt_detail(detail))]
    Failed { host: String, step: String, status: String, detail: String },
    #[error("{step} on `{host}`: i/o error")]
    Io {
        host: String,
        step: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{step} on `{host}`: unexpected answer from the host: {detail}")]
    Protocol { host: String, step: String, detail: String },
    #[error("journal on `{host}` is malformed at line {line}: {detail}")]
    Journal { host: String, line: usize, detail: String },
}

fn fmt_detail(detail: &str) -> String {
    if detail.is_empty() { String::new() } else { format!(": {detail}") }
}

impl RemoteError {
    pub fn host(&self) -> &str {
        match self {
            Self::Spawn { host, .. }
            | Self::Connect { host, .. }
            | Self::HostKey { host, .. }
            | Self::Failed { host, .. }
            | Self::Io { host, .. }
            | Self::Protocol { host, .. }
            | Self::Journal { host, .. } => host,
        }
    }
}
