//! Local child processes: one way to start them, with a timeout that kills the whole process group.
//!
//! [`command`] is the one place (with `cutover-remote`'s targets) that creates a
//! [`std::process::Command`]. [`run_with_timeout`] and [`run_streaming`] run one: stdin is
//! `/dev/null`, stdout and stderr are read as they come, and the child leads a process group of
//! its own. When it exits, or at the deadline, the whole group is killed, so nothing it left in
//! the background (`cmd &`) holds its output open, stretches the timeout or outlives it. Being
//! a group of its own also means Ctrl-C reaches cutover alone.
//!
//! [`run_foreground`] is for the user's own build: a foreground job as a shell starts one, in
//! cutover's process group with cutover's stdin, so it can ask on the terminal (a key's
//! passphrase, a git credential) and Ctrl-C stops it with cutover; it has no deadline and
//! nothing of it is killed.

pub mod interrupt;

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
/// A line longer than this (a progress bar redrawn with `\r`, a minified blob) is passed on in
/// pieces of this size, so a line without a newline never grows without bound.
const MAX_LINE: usize = 64 * 1024;
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
    let status = run(cmd, Mode::Bounded(timeout), &mut |stream, bytes: &[u8]| match stream {
        Stream::Stdout => stdout.extend_from_slice(bytes),
        Stream::Stderr => stderr.extend_from_slice(bytes),
    })?;
    Ok(Output { status, stdout, stderr })
}

/// Runs `cmd` to its end or for at most `timeout`, passing each line of its output to `on_line`
/// as it arrives, without its line ending (invalid UTF-8 replaced).
pub fn run_streaming(
    cmd: Command,
    timeout: Duration,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<ExitStatus, ProcessError> {
    lines(cmd, Mode::Bounded(timeout), on_line)
}

/// Runs `cmd` to its end as a foreground job (see the module's docs), passing each line of its
/// output to `on_line` as it arrives.
pub fn run_foreground(cmd: Command, on_line: &mut dyn FnMut(Stream, &str)) -> Result<ExitStatus, ProcessError> {
    lines(cmd, Mode::Foreground, on_line)
}

/// How a child is run.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// A group of its own, stdin from `/dev/null`, killed whole when it exits or at the deadline.
    Bounded(Duration),
    /// In cutover's group with cutover's stdin; waited for as long as it takes, nothing killed.
    Foreground,
}

fn lines(cmd: Command, mode: Mode, on_line: &mut dyn FnMut(Stream, &str)) -> Result<ExitStatus, ProcessError> {
    let mut pending = [Vec::new(), Vec::new()];
    let mut emit = |stream: Stream, line: &[u8]| {
        let text = String::from_utf8_lossy(line);
        on_line(stream, text.trim_end_matches(['\n', '\r']));
    };
    let status = run(cmd, mode, &mut |stream, mut bytes: &[u8]| {
        let buf = &mut pending[stream as usize];
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&bytes[..=end]);
            emit(stream, buf);
            buf.clear();
            bytes = &bytes[end + 1..];
        }
        buf.extend_from_slice(bytes);
        while buf.len() >= MAX_LINE {
            let rest = buf.split_off(MAX_LINE);
            emit(stream, buf);
            *buf = rest;
        }
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
fn run(mut cmd: Command, mode: Mode, sink: &mut dyn FnMut(Stream, &[u8])) -> Result<ExitStatus, ProcessError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let (timeout, own_group) = match mode {
        Mode::Bounded(timeout) => (Some(timeout), true),
        Mode::Foreground => (None, false),
    };
    if own_group {
        cmd.stdin(Stdio::null()).process_group(0);
    }
    let mut child = cmd.spawn().map_err(|source| ProcessError::Start { program: program.clone(), source })?;
    let mut pipes = Pipes { stdout: child.stdout.take(), stderr: child.stderr.take() };
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        match exited(&child) {
            Ok(true) => break,
            Ok(false) => {}
            Err(source) => {
                stop(&mut child, own_group, &mut pipes, sink);
                return Err(ProcessError::Wait { program, source });
            }
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            stop(&mut child, own_group, &mut pipes, sink);
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
    if own_group {
        kill_group(&child);
    }
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

/// Kills the group (or, in cutover's group, the child alone) at a deadline or an error, keeps
/// what it had printed, and reaps the leader.
fn stop(child: &mut Child, own_group: bool, pipes: &mut Pipes, sink: &mut dyn FnMut(Stream, &[u8])) {
    if own_group {
        kill_group(child);
    } else {
        let _ = child.kill();
    }
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
        run_streaming(sh("sleep 30 & echo done"), Duration::from_secs(20), &mut |_, l| lines.push(l.to_owned()))
            .unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        assert_eq!(lines, ["done"]);
    }

    #[test]
    fn lines_stream_in_order_with_their_stream_and_a_last_line_without_newline() {
        let mut lines = Vec::new();
        let status = run_streaming(
            sh("echo one; sleep 0.1; echo two >&2; sleep 0.1; printf 'three\\r\\nfour'"),
            Duration::from_secs(10),
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
    fn a_foreground_job_runs_in_our_process_group_and_a_bounded_one_in_its_own() {
        let ours = rustix::process::getpgrp().as_raw_nonzero().get().to_string();
        let group_of = |lines: &[String]| lines.first().map(|l| l.trim().to_owned()).unwrap_or_default();
        let mut lines = Vec::new();
        let status = run_foreground(sh("ps -o pgid= -p $$"), &mut |_, l| lines.push(l.to_owned())).unwrap();
        assert!(status.success(), "{lines:?}");
        assert_eq!(group_of(&lines), ours, "a build can prompt on the terminal and Ctrl-C reaches it");
        let mut lines = Vec::new();
        run_streaming(sh("ps -o pgid= -p $$"), Duration::from_secs(10), &mut |_, l| lines.push(l.to_owned())).unwrap();
        assert_ne!(group_of(&lines), ours);
        assert!(!group_of(&lines).is_empty(), "{lines:?}");
    }

    #[test]
    fn a_line_without_a_newline_is_passed_on_in_bounded_pieces() {
        let mut pieces = Vec::new();
        let script = format!("head -c {} /dev/zero | tr '\\0' x", MAX_LINE * 2 + 10);
        run_streaming(sh(&script), Duration::from_secs(10), &mut |_, l| pieces.push(l.len())).unwrap();
        assert_eq!(pieces, [MAX_LINE, MAX_LINE, 10]);
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
