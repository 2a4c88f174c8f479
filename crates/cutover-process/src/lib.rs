//! Local child processes: one way to start them, with a timeout that kills the whole process group.
//!
//! [`command`] is the one place (with `cutover-remote`'s targets) that creates a
//! [`std::process::Command`]. [`run_with_timeout`] and [`run_streaming`] run one: stdin is
//! `/dev/null`, stdout and stderr are read as they come, and the child leads a process group of
//! its own. When it exits, or at the deadline, the whole group is killed, so nothing it left in
//! the background (`cmd &`) holds its output open, stretches the timeout or outlives it. Being
//! a group of its own also means Ctrl-C reaches cutover alone.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, kill_process_group, waitid};

/// How often a child is checked for having exited while its output stays open.
const TICK: Duration = Duration::from_millis(10);
/// How long output is still read once the group is killed (a process that left the group with
/// `setsid` may hold it open for ever).
const DRAIN: Duration = Duration::from_secs(1);

/// A command for `program`: the one way to start a local process outside `cutover-remote`.
#[allow(clippy::disallowed_methods)]
pub fn command(program: impl AsRef<OsStr>) -> Command {
    Command::new(program)
}

/// What a finished child printed and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Which of a child's outputs a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("could not start `{program}`: {source}")]
    Start { program: String, source: io::Error },
    #[error("could not wait for `{program}`: {source}")]
    Wait { program: String, source: io::Error },
    #[error("`{program}` did not finish within {timeout:?} and was stopped")]
    Timeout { program: String, timeout: Duration },
}

/// Runs `cmd` to its end or for at most `timeout`, and returns all it printed.
pub fn run_with_timeout(cmd: Command, timeout: Duration) -> Result<Output, ProcessError> {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let status = run(cmd, Some(timeout), &mut |stream, bytes: &[u8]| match stream {
        Stream::Stdout => stdout.extend_from_slice(bytes),
        Stream::Stderr => stderr.extend_from_slice(bytes),
    })?;
    Ok(Output { status, stdout, stderr })
}

/// Runs `cmd` to its end (or for at most `timeout`), passing each line of its output to
/// `on_line` as it arrives, without its line ending (invalid UTF-8 replaced).
pub fn run_streaming(
    cmd: Command,
    timeout: Option<Duration>,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<ExitStatus, ProcessError> {
    let mut pending = [Vec::new(), Vec::new()];
    let mut emit = |stream: Stream, line: &[u8]| {
        let text = String::from_utf8_lossy(line);
        on_line(stream, text.trim_end_matches(['\n', '\r']));
    };
    let status = run(cmd, timeout, &mut |stream, mut bytes: &[u8]| {
        let buf = &mut pending[stream as usize];
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&bytes[..=end]);
            emit(stream, buf);
            buf.clear();
            bytes = &bytes[end + 1..];
        }
        buf.extend_from_slice(bytes);
    });
    // A last line without a newline is still a line.
    for (stream, buf) in [(Stream::Stdout, &pending[0]), (Stream::Stderr, &pending[1])] {
        if !buf.is_empty() {
            emit(stream, buf);
        }
    }
    status
}

/// `exit 3` or `killed by signal 9`.
pub fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "unknown status".to_owned(),
    }
}

/// The loop both runners share: `sink` gets output as it is read, in the order it arrives.
fn run(
    mut cmd: Command,
    timeout: Option<Duration>,
    sink: &mut dyn FnMut(Stream, &[u8]),
) -> Result<ExitStatus, ProcessError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = cmd.spawn().map_err(|source| ProcessError::Start { program: program.clone(), source })?;
    let mut pipes = Pipes { stdout: child.stdout.take(), stderr: child.stderr.take() };
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        match exited(&child) {
            Ok(true) => break,
            Ok(false) => {}
            Err(source) => {
                stop(&mut child, &mut pipes, sink);
                return Err(ProcessError::Wait { program, source });
            }
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            stop(&mut child, &mut pipes, sink);
            return Err(ProcessError::Timeout { program, timeout: timeout.unwrap_or_default() });
        }
        let wait = deadline.map_or(TICK, |d| (d - now).min(TICK));
        if pipes.is_open() {
            pipes.read(wait, sink);
        } else {
            std::thread::sleep(wait);
        }
    }
    // The leader has exited but is not reaped yet, so its pid, the group's id, cannot have been
    // given to another process: whatever it left running in the group goes, then it is reaped.
    kill_group(&child);
    let status = child.wait().map_err(|source| ProcessError::Wait { program, source });
    pipes.drain(sink);
    status
}

/// Whether the leader has exited, leaving it a zombie (`WNOWAIT`): until it is reaped, its pid
/// (and so the id of its group) is not reused, so killing the group cannot reach a stranger.
fn exited(child: &Child) -> std::io::Result<bool> {
    let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    Ok(waitid(WaitId::Pid(Pid::from_child(child)), options)?.is_some())
}

/// Kills the group at a deadline or an error, keeps what it had printed, and reaps the leader.
fn stop(child: &mut Child, pipes: &mut Pipes, sink: &mut dyn FnMut(Stream, &[u8])) {
    kill_group(child);
    pipes.drain(sink);
    let _ = child.wait();
}

fn kill_group(child: &Child) {
    // The child leads its own group (`process_group(0)`), so its pid is the group's id; it is
    // never reaped before this, so that id is still the group's. The group lives on while any
    // member does; a group whose only member is the zombie leader is simply empty of the living.
    let _ = kill_process_group(Pid::from_child(child), Signal::KILL);
}

struct Pipes {
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
}

impl Pipes {
    fn is_open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some()
    }

    /// Waits up to `wait` for output and reads what came; a closed pipe is dropped.
    fn read(&mut self, wait: Duration, sink: &mut dyn FnMut(Stream, &[u8])) {
        let events = PollFlags::IN | PollFlags::HUP | PollFlags::ERR;
        let mut fds = Vec::with_capacity(2);
        let mut which = Vec::with_capacity(2);
        if let Some(out) = &self.stdout {
            fds.push(PollFd::new(out, events));
            which.push(Stream::Stdout);
        }
        if let Some(err) = &self.stderr {
            fds.push(PollFd::new(err, events));
            which.push(Stream::Stderr);
        }
        let timeout = Timespec::try_from(wait).unwrap_or(Timespec { tv_sec: 0, tv_nsec: 10_000_000 });
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => return,
            Ok(_) => {}
            Err(_) => {
                // Not expected for two pipes; reading blocking would be worse than giving up.
                self.stdout = None;
                self.stderr = None;
                return;
            }
        }
        let ready: Vec<Stream> =
            fds.iter().zip(&which).filter(|(fd, _)| !fd.revents().is_empty()).map(|(_, stream)| *stream).collect();
        drop(fds);
        let mut buf = [0u8; 16 * 1024];
        for stream in ready {
            // One read: poll said it will not block.
            let read = match stream {
                Stream::Stdout => self.stdout.as_mut().map(|p| read_once(p, &mut buf)),
                Stream::Stderr => self.stderr.as_mut().map(|p| read_once(p, &mut buf)),
            };
            match read {
                Some(Ok(0)) | Some(Err(_)) => self.close(stream),
                Some(Ok(n)) => sink(stream, &buf[..n]),
                None => {}
            }
        }
    }

    fn close(&mut self, stream: Stream) {
        match stream {
            Stream::Stdout => self.stdout = None,
            Stream::Stderr => self.stderr = None,
        }
    }

    /// Reads until both pipes close, for at most [`DRAIN`].
    fn drain(&mut self, sink: &mut dyn FnMut(Stream, &[u8])) {
        let until = Instant::now() + DRAIN;
        while self.is_open() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            self.read(until - now, sink);
        }
    }
}

fn read_once(pipe: &mut (impl Read + AsFd), buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match pipe.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = command("sh");
        cmd.arg("-c").arg(script);
        cmd
    }

    #[test]
    fn output_and_status_are_captured_per_stream() {
        let out = run_with_timeout(sh("echo out; echo err >&2; exit 3"), Duration::from_secs(10)).unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(describe(out.status), "exit 3");
        let killed = run_with_timeout(sh("kill -9 $$"), Duration::from_secs(10)).unwrap();
        assert_eq!(describe(killed.status), "killed by signal 9");
    }

    #[test]
    fn a_timeout_kills_the_whole_group_and_names_the_program() {
        let dir = std::env::temp_dir().join(format!("cutover-process-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("survived");
        let start = Instant::now();
        let script = format!("(sleep 1; touch '{}') & sleep 30", marker.display());
        let err = run_with_timeout(sh(&script), Duration::from_millis(300)).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        assert!(matches!(&err, ProcessError::Timeout { program, .. } if program == "sh"), "{err:?}");
        assert_eq!(err.to_string(), "`sh` did not finish within 300ms and was stopped");
        // The background child was in the group and went with it.
        let later = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < later {
            assert!(!marker.exists(), "a background child outlived the timeout");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_background_child_holding_the_output_does_not_stretch_the_run() {
        let start = Instant::now();
        let out = run_with_timeout(sh("sleep 30 & echo done"), Duration::from_secs(20)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        assert_eq!(out.stdout, b"done\n");
        assert!(out.status.success());
        let start = Instant::now();
        let mut lines = Vec::new();
        run_streaming(sh("sleep 30 & echo done"), None, &mut |_, l| lines.push(l.to_owned())).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        assert_eq!(lines, ["done"]);
    }

    #[test]
    fn lines_stream_in_order_with_their_stream_and_a_last_line_without_newline() {
        let mut lines = Vec::new();
        let status = run_streaming(
            sh("echo one; sleep 0.1; echo two >&2; sleep 0.1; printf 'three\\r\\nfour'"),
            Some(Duration::from_secs(10)),
            &mut |stream, line| lines.push((stream, line.to_owned())),
        )
        .unwrap();
        assert!(status.success());
        assert_eq!(
            lines,
            [
                (Stream::Stdout, "one".to_owned()),
                (Stream::Stderr, "two".to_owned()),
                (Stream::Stdout, "three".to_owned()),
                (Stream::Stdout, "four".to_owned()),
            ]
        );
    }

    #[test]
    fn stdin_is_empty_and_a_missing_program_is_a_start_error() {
        let out = run_with_timeout(sh("cat; echo end"), Duration::from_secs(10)).unwrap();
        assert_eq!(out.stdout, b"end\n");
        let err =
            run_with_timeout(command("/nonexistent/cutover-no-such-program"), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, ProcessError::Start { .. }), "{err:?}");
        assert!(err.to_string().starts_with("could not start `/nonexistent/cutover-no-such-program`: "), "{err}");
    }
}
