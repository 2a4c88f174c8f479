//! The one abstraction of a host: it runs a POSIX `sh` script and reports how that went. The
//! script travels on stdin, read by [`crate::shell::BOOTSTRAP`] (see `exec.rs`).

use std::process::Command;

use cutover_config::HostSpec;

use std::io::Write;

use crate::exec::{self, LineSink, Sink};
use crate::{LocalTarget, Output, RemoteError, SshOptions, SshTarget, Stdin};

pub trait Target: Send + Sync + std::fmt::Debug {
    /// The host as the user wrote it (`local`, `deploy@web1`, …).
    fn name(&self) -> &str;

    /// A command that runs `sh -c BOOTSTRAP cutover MARKER` on the host.
    fn command(&self, marker: &str) -> Command;

    /// Turns a failed run into an error; SSH tells a lost connection apart from a failed script.
    fn failure(&self, step: &str, output: &Output) -> RemoteError {
        RemoteError::Failed {
            host: self.name().to_owned(),
            step: step.to_owned(),
            status: output.describe_status(),
            detail: output.tail(),
        }
    }

    /// Runs `script` and returns its output whatever its exit status; the output also goes
    /// where `sink` says.
    fn exec(&self, step: &str, script: &str, stdin: Stdin<'_>, sink: Sink<'_>) -> Result<Output, RemoteError> {
        exec::run(self.name(), step, |marker| self.command(marker), script, stdin, sink)
    }

    /// Runs `script`; a non-zero exit is an error naming the host and `step`.
    fn run(&self, step: &str, script: &str, stdin: Stdin<'_>) -> Result<Output, RemoteError> {
        let output = self.exec(step, script, stdin, Sink::Answer)?;
        if output.success() { Ok(output) } else { Err(self.failure(step, &output)) }
    }

    /// Like [`Target::run`], passing every output line to `on_line` as it arrives (hooks).
    fn run_streaming(&self, step: &str, script: &str, on_line: LineSink<'_>) -> Result<Output, RemoteError> {
        let output = self.exec(step, script, Stdin::Null, Sink::Lines(on_line))?;
        if output.success() { Ok(output) } else { Err(self.failure(step, &output)) }
    }

    /// Like [`Target::run`], with the script's stdout written to `stdout` byte for byte as it
    /// comes (a dump streamed off the host) and `stdin` fed to it meanwhile (a load).
    fn run_piped(
        &self,
        step: &str,
        script: &str,
        stdin: Stdin<'_>,
        stdout: &mut (dyn Write + Send),
    ) -> Result<Output, RemoteError> {
        let output = self.exec(step, script, stdin, Sink::Raw(stdout))?;
        if output.success() { Ok(output) } else { Err(self.failure(step, &output)) }
    }
}

/// Opens a target for `host`: for SSH, the multiplexed master connection is up when this returns.
pub fn connect(host: &HostSpec, options: &SshOptions) -> Result<Box<dyn Target>, RemoteError> {
    Ok(match host {
        HostSpec::Local => Box::new(LocalTarget::new()),
        HostSpec::Ssh(dest) => Box::new(SshTarget::connect(dest, options)?),
    })
}
