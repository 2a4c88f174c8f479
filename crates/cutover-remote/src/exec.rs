//! Running one script on a host: the one place that pumps pipes, shared by the local and the SSH
//! target.
//!
//! A script never travels in a command's arguments (the kernel caps them, and a login shell would
//! parse them): the host runs a fixed bootstrap ([`shell::bootstrap`]) that reads the script from
//! stdin up to a marker line made for this one run, prints the marker on stdout and stderr, and
//! runs the script with the rest of stdin as its input. Whatever a login shell prints before that
//! (a `.bashrc` that echoes) comes before the marker and is dropped. Output is read in pieces of
//! at most [`PIECE`] bytes, so neither a line without end nor a flood of output grows memory:
//! stdout is kept whole only when it is the script's answer; streamed output and stderr keep a
//! bounded tail ([`TAIL`]) for the error message.

use std::io::{self, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{RemoteError, shell};

/// A line longer than this is passed on in pieces of this size.
pub const PIECE: usize = 64 * 1024;
/// How much of a stream is kept when it is not the script's answer.
pub const TAIL: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What the script reads on stdin, after the script itself.
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
    /// Whole when the run was not streamed; else its last [`TAIL`] bytes.
    pub stdout: String,
    /// Its last [`TAIL`] bytes.
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

    /// The last lines of stderr (or stdout), for an error message; each line cut to 500 chars.
    pub fn tail(&self) -> String {
        let text = if self.stderr.trim().is_empty() { &self.stdout } else { &self.stderr };
        let lines: Vec<&str> = text.trim_end().lines().collect();
        let cut = |l: &&str| match l.char_indices().nth(500) {
            Some((i, _)) => format!("{}… ({} bytes in all)", &l[..i], l.len()),
            None => (*l).to_owned(),
        };
        lines[lines.len().saturating_sub(5)..].iter().map(cut).collect::<Vec<_>>().join("\n")
    }
}

pub type LineSink<'a> = &'a (dyn Fn(Stream, &str) + Sync);

/// Where a script's output goes besides the [`Output`] a run returns.
pub enum Sink<'a> {
    /// Nowhere: stdout is kept whole, the script's answer.
    Answer,
    /// Every line of stdout and stderr as it arrives (hooks); stdout keeps only its tail.
    Lines(LineSink<'a>),
    /// Stdout byte for byte as it arrives, written here and not kept (a dump streamed off a
    /// host). A write that fails closes the pipe, so the script's writer stops, and the run
    /// ends with that error.
    Raw(&'a mut (dyn Write + Send)),
}

impl std::fmt::Debug for Sink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Answer => "Answer",
            Self::Lines(_) => "Lines",
            Self::Raw(_) => "Raw",
        })
    }
}

/// A marker no banner or script output can hold by chance: made fresh for each run.
fn new_marker() -> String {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let seed = format!("{}:{nanos}:{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed));
    format!("@@cutover-{}", &blake3::hash(seed.as_bytes()).to_hex()[..32])
}

/// Runs `script` through `cmd`, which must run [`shell::bootstrap`] with the marker as its one
/// argument (`make(marker)` builds it); its output also goes where `sink` says.
pub(crate) fn run(
    host: &str,
    step: &str,
    make: impl FnOnce(&str) -> Command,
    script: &str,
    stdin: Stdin<'_>,
    sink: Sink<'_>,
) -> Result<Output, RemoteError> {
    let marker = new_marker();
    let mut cmd = make(&marker);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // Ctrl-C goes to cutover alone; children on the host finish or see their stdin close.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd.spawn().map_err(|source| RemoteError::Spawn { host: host.to_owned(), program, source })?;
    let io_err = |source| RemoteError::Io { host: host.to_owned(), step: step.to_owned(), source };

    let mut pipe = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let (on_line, keep_stdout, raw) = match sink {
        Sink::Answer => (None, Keep::All, None),
        Sink::Lines(on_line) => (Some(on_line), Keep::Tail, None),
        Sink::Raw(raw) => (None, Keep::Tail, Some(raw)),
    };
    let marker: &str = &marker;
    let (write_result, out, err) = std::thread::scope(|s| {
        let out = s.spawn(move || pump(stdout, Stream::Stdout, marker, keep_stdout, on_line, raw));
        let err = s.spawn(move || pump(stderr, Stream::Stderr, marker, Keep::Tail, on_line, None));
        let write_result = shell::framed(script, marker, &mut pipe).and_then(|()| match stdin {
            Stdin::Null => Ok(()),
            Stdin::Bytes(bytes) => pipe.write_all(bytes),
            Stdin::Writer(write) => write(&mut pipe).and_then(|()| pipe.flush()),
        });
        drop(pipe);
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    All,
    Tail,
}

/// What one stream said, kept as [`Keep`] says; what came before the marker line is dropped
/// once the marker comes (if it never comes, the script never ran, and all of it is the story).
struct Kept {
    keep: Keep,
    bytes: Vec<u8>,
    /// Bytes dropped from the front to keep the tail bounded.
    cut: bool,
}

impl Kept {
    fn push(&mut self, piece: &[u8]) {
        self.bytes.extend_from_slice(piece);
        if self.keep == Keep::Tail && self.bytes.len() > 2 * TAIL {
            let from = self.bytes.len() - TAIL;
            self.bytes.drain(..from);
            self.cut = true;
        }
    }

    fn text(mut self) -> String {
        if self.keep == Keep::Tail && self.bytes.len() > TAIL {
            let from = self.bytes.len() - TAIL;
            self.bytes.drain(..from);
            self.cut = true;
        }
        if self.cut {
            // Start at a whole line.
            if let Some(nl) = self.bytes.iter().position(|&b| b == b'\n') {
                self.bytes.drain(..=nl);
            }
        }
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

fn pump(
    mut reader: impl Read,
    stream: Stream,
    marker: &str,
    keep: Keep,
    on_line: Option<LineSink<'_>>,
    mut raw: Option<&mut (dyn Write + Send)>,
) -> io::Result<String> {
    let mut before = Kept { keep: Keep::Tail, bytes: Vec::new(), cut: false };
    let mut after = Kept { keep, bytes: Vec::new(), cut: false };
    let mut started = false;
    let mut line: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; PIECE];
    let mut emit = |line: &[u8], started: &mut bool| {
        if !*started {
            let text = trim_newline(line);
            if text.ends_with(marker.as_bytes()) {
                *started = true;
            } else {
                before.push(line);
            }
            return;
        }
        if let Some(sink) = on_line {
            sink(stream, &String::from_utf8_lossy(trim_newline(line)));
        }
        after.push(line);
    };
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut rest = &buf[..n];
        if started && let Some(raw) = raw.as_deref_mut() {
            // Past the marker, a raw stream is passed on as it came; returning drops the
            // reader, so the writer on the host sees its pipe close.
            raw.write_all(rest)?;
            continue;
        }
        while !rest.is_empty() {
            if started && let Some(raw) = raw.as_deref_mut() {
                raw.write_all(rest)?;
                break;
            }
            let room = PIECE - line.len();
            match rest[..rest.len().min(room)].iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    line.extend_from_slice(&rest[..=nl]);
                    rest = &rest[nl + 1..];
                    emit(&line, &mut started);
                    line.clear();
                }
                None if rest.len() >= room => {
                    line.extend_from_slice(&rest[..room]);
                    rest = &rest[room..];
                    emit(&line, &mut started);
                    line.clear();
                }
                None => {
                    line.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
    }
    if !line.is_empty() {
        emit(&line, &mut started);
    }
    if let Some(raw) = raw {
        raw.flush()?;
    }
    Ok(if started { after.text() } else { before.text() })
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::{LocalTarget, Target};

    /// A host whose login shell says something before it runs the command, as a `.bashrc` with
    /// an `echo` does, and whose command goes through a login shell's parsing.
    #[derive(Debug)]
    struct Chatty(&'static str);

    impl Target for Chatty {
        fn name(&self) -> &str {
            "chatty"
        }

        #[allow(clippy::disallowed_methods)] // a test target starts its own `sh`
        fn command(&self, marker: &str) -> Command {
            let login = format!("{}; exec sh -c {} cutover {marker}", self.0, shell::quote(shell::BOOTSTRAP));
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(login);
            cmd
        }
    }

    #[test]
    fn data_after_the_script_reaches_it_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let script = format!("set -e\nx=1\ncat > {}\necho after\n", shell::quote(&file.display().to_string()));
        let out = LocalTarget.run("storing", &script, Stdin::Bytes(&data)).unwrap();
        assert_eq!(out.stdout, "after\n", "the script goes on after its input");
        assert!(std::fs::read(&file).unwrap() == data, "the script read exactly the data sent");
    }

    #[test]
    fn a_raw_sink_gets_stdout_byte_for_byte_after_the_banner_and_a_failing_sink_stops_the_writer() {
        let host = Chatty("echo Welcome to web1; printf no-newline");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        let mut got = Vec::new();
        // `cat` echoes its stdin: what comes back went through the host and out again.
        let out = host.run_piped("dumping", "cat; echo oops >&2", Stdin::Bytes(&data), &mut got).unwrap();
        assert!(got == data, "{} bytes back of {}", got.len(), data.len());
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", "oops\n"));

        /// Takes 1 MiB, then refuses, as a load whose database went away.
        struct Refuses(usize);
        impl Write for Refuses {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0 >= 1 << 20 {
                    return Err(io::Error::other("the load side went away"));
                }
                self.0 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        // An endless writer: only a closed pipe stops it.
        let started = std::time::Instant::now();
        let err = host.run_piped("dumping", "yes 0123456789abcdef", Stdin::Null, &mut Refuses(0)).unwrap_err();
        assert!(err.to_string().contains("dumping") && started.elapsed() < std::time::Duration::from_secs(20), "{err}");
    }

    #[test]
    fn a_script_larger_than_the_kernels_argument_limit_runs() {
        // One argument may hold 128 KiB: a 1 MiB script (a long reason in a journal event) could
        // not have been passed as `sh -c SCRIPT`.
        let reason = "x".repeat(1 << 20);
        let script = format!("r={}\necho ${{#r}}\n", shell::quote(&reason));
        let out = LocalTarget.run("a long script", &script, Stdin::Null).unwrap();
        assert_eq!(out.stdout.trim(), (1 << 20).to_string());
    }

    #[test]
    fn an_argument_list_too_long_is_reported_as_itself() {
        // Nothing cutover sends goes in arguments any more; should a command still be too long
        // for the kernel, the error says so, naming the host, not a vaguer failure.
        let err = run(
            "web1",
            "switching",
            |marker| {
                let mut cmd = LocalTarget.command(marker);
                cmd.arg("x".repeat(200 * 1024));
                cmd
            },
            "true",
            Stdin::Null,
            Sink::Answer,
        )
        .unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).map(|e| e.to_string()).unwrap_or_default());
        assert!(chain.contains("web1") && chain.contains("Argument list too long"), "{chain}");
    }

    #[test]
    fn what_a_login_shell_prints_before_the_script_is_dropped() {
        let host = Chatty("echo Welcome to web1; echo motd >&2; printf no-newline");
        let out = host.run("reading", "echo '@@lock'; echo answer; echo oops >&2", Stdin::Null).unwrap();
        assert_eq!(out.stdout, "@@lock\nanswer\n");
        assert_eq!(out.stderr, "oops\n");
        let lines = Mutex::new(Vec::new());
        host.run_streaming("a hook", "echo one; echo two", &|_, l| lines.lock().unwrap().push(l.to_owned())).unwrap();
        assert_eq!(*lines.lock().unwrap(), ["one", "two"]);
    }

    #[test]
    fn a_script_cut_short_never_runs() {
        // Stdin closed before the marker: nothing of the script may run.
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("ran");
        let mut cmd = LocalTarget.command("@@cutover-never-sent");
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let script = format!("touch {}\n", shell::quote(&flag.display().to_string()));
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(254));
        assert!(String::from_utf8_lossy(&out.stderr).contains("did not arrive whole"));
        assert!(!flag.exists());
    }

    #[test]
    fn a_scripts_own_255_is_not_sshs() {
        let out = LocalTarget.exec("exiting", "exit 255", Stdin::Null, Sink::Answer).unwrap();
        assert_eq!(out.code(), Some(254));
        let out = LocalTarget.exec("exiting", "set -e\nfalse\necho never", Stdin::Null, Sink::Answer).unwrap();
        assert_eq!(out.code(), Some(1));
        assert_eq!(out.stdout, "");
    }

    #[test]
    fn streamed_output_keeps_a_bounded_tail_and_long_lines_come_in_pieces() {
        let count = Mutex::new((0usize, 0usize));
        // 40 MB of lines, then one 1 MiB line without a newline.
        let script = "yes 0123456789abcdef0123456789abcdef | head -n 1200000; head -c 1048576 /dev/zero | tr '\\0' x";
        let out = LocalTarget
            .run_streaming("a loud hook", script, &|_, l| {
                let mut c = count.lock().unwrap();
                c.0 += 1;
                c.1 = c.1.max(l.len());
            })
            .unwrap();
        let (lines, longest) = *count.lock().unwrap();
        assert_eq!(lines, 1_200_000 + 16, "every line and every 64 KiB piece is passed on");
        assert_eq!(longest, PIECE);
        assert!(out.stdout.len() <= TAIL, "kept {} bytes", out.stdout.len());
        assert!(out.stdout.ends_with("xxxx"));
    }

    #[test]
    fn a_scripts_answer_is_kept_whole() {
        let out = LocalTarget.run("reading", "head -c 3000000 /dev/zero | tr '\\0' y", Stdin::Null).unwrap();
        assert_eq!(out.stdout.len(), 3_000_000);
    }
}
