//! Running one process with a given stdin, collecting or streaming its output: the one place
//! that pumps pipes, shared by the local and the SSH target.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Command, ExitStatus, Stdio};

use crate::RemoteError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What the process reads on stdin.
pub enum Stdin<'a> {
    Null,
    Bytes(&'a [u8]),
    /// Called once with the pipe; it may write as much as it likes (an upload stream).
    Writer(&'a mut (dyn FnMut(&mut dyn Write) -> io::Result<()> + Send)),
}

impl std::fmt::Debug for Stdin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Null => f.write_str("Null"),
            Self::Bytes(b) => write!(f, "Bytes({})", b.len()),
            Self::Writer(_) => f.write_str("Writer"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// `exit 3` or `killed by signal 9`.
    pub fn describe_status(&self) -> String {
        use std::os::unix::process::ExitStatusExt;
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => "unknown status".to_owned(),
        }
    }

    /// The last lines of stderr (or stdout), for an error message.
    pub fn tail(&self) -> String {
        let text = if self.stderr.trim().is_empty() { &self.stdout } else { &self.stderr };
        let lines: Vec<&str> = text.trim_end().lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    }
}

pub type LineSink<'a> = &'a (dyn Fn(Stream, &str) + Sync);

/// Runs `cmd` to completion. With `on_line`, every output line is also passed on as it arrives.
pub(crate) fn run(
    host: &str,
    step: &str,
    mut cmd: Command,
    stdin: Stdin<'_>,
    on_line: Option<LineSink<'_>>,
) -> Result<Output, RemoteError> {
    cmd.stdin(match stdin {
        Stdin::Null => Stdio::null(),
        _ => Stdio::piped(),
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    // Ctrl-C goes to cutover alone; children on the host finish or see their stdin close.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd.spawn().map_err(|source| RemoteError::Spawn { host: host.to_owned(), program, source })?;
    let io_err = |source| RemoteError::Io { host: host.to_owned(), step: step.to_owned(), source };

    let child_stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let (write_result, out, err) = std::thread::scope(|s| {
        let out = s.spawn(|| pump(stdout, Stream::Stdout, on_line));
        let err = s.spawn(|| pump(stderr, Stream::Stderr, on_line));
        let write_result = match (stdin, child_stdin) {
            (Stdin::Bytes(bytes), Some(mut pipe)) => pipe.write_all(bytes),
            (Stdin::Writer(write), Some(mut pipe)) => write(&mut pipe).and_then(|()| pipe.flush()),
            _ => Ok(()),
        };
        (write_result, out.join().expect("stdout reader"), err.join().expect("stderr reader"))
    });
    let status = child.wait().map_err(io_err)?;
    let output = Output { status, stdout: out.map_err(io_err)?, stderr: err.map_err(io_err)? };
    // A broken pipe only means the process stopped reading: its status and stderr say why.
    match write_result {
        Err(e) if output.success() || e.kind() != io::ErrorKind::BrokenPipe => Err(io_err(e)),
        _ => Ok(output),
    }
}

fn pump(reader: impl Read, stream: Stream, on_line: Option<LineSink<'_>>) -> io::Result<String> {
    let mut all = Vec::new();
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if let Some(sink) = on_line {
            let text = String::from_utf8_lossy(&line);
            sink(stream, text.trim_end_matches(['\n', '\r']));
        }
        all.extend_from_slice(&line);
    }
    Ok(String::from_utf8_lossy(&all).into_owned())
}
