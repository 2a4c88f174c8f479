//! This machine as a host: scripts run with the local `sh`.

use std::process::Command;

use crate::Target;

#[derive(Debug, Default)]
pub struct LocalTarget;

impl LocalTarget {
    pub fn new() -> Self {
        Self
    }
}

impl Target for LocalTarget {
    fn name(&self) -> &str {
        "local"
    }

    #[allow(clippy::disallowed_methods)] // a target starts its own `sh`
    fn command(&self, marker: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(crate::shell::BOOTSTRAP).arg("cutover").arg(marker);
        cmd
    }
}
