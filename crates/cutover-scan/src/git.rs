//! A repository's history as the blobs it ever held: one `git log --raw` lists, for every commit
//! in date order, the blobs it added or changed, so each blob is known by the oldest commit and
//! path that introduced it; one `git cat-file --batch` then streams each blob once.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use super::error::ScanError;

/// A blob and where it first appeared.
#[derive(Debug, Clone)]
pub struct HistoryBlob {
    pub id: String,
    /// Relative to the scanned directory, `/`-separated.
    pub path: String,
    /// Index into [`History::commits`].
    pub commit: usize,
}

/// Every commit reachable from any ref (oldest first) and every blob they introduced, in the
/// order they first appeared.
#[derive(Debug, Default)]
pub struct History {
    pub commits: Vec<String>,
    pub blobs: Vec<HistoryBlob>,
}

/// A blob's content as read for scanning.
#[derive(Debug)]
pub enum Blob {
    Text(Vec<u8>),
    /// Over the size limit: not read.
    Large,
    Missing,
}

fn git(dir: &Path) -> Command {
    let mut command = cutover_process::command("git");
    command.arg("-C").arg(dir).env("GIT_TERMINAL_PROMPT", "0").env_remove("GIT_DIR").env_remove("GIT_WORK_TREE");
    command
}

/// Whether `dir` is inside a git working tree. `Ok(false)` when git is not installed and no
/// `.git` is above `dir` (a plain directory is scanned without history).
pub fn is_work_tree(dir: &Path) -> Result<bool, ScanError> {
    match git(dir).args(["rev-parse", "--is-inside-work-tree"]).output() {
        Ok(output) if output.status.success() => Ok(output.stdout.starts_with(b"true")),
        // Anything but "not a repository" (dubious ownership, a broken .git) would silently
        // drop the history from the scan.
        Ok(output) if !String::from_utf8_lossy(&output.stderr).contains("not a git repository") => {
            Err(ScanError::git("git rev-parse", &output.stderr))
        }
        Ok(_) => Ok(false),
        Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
            if dir.ancestors().any(|a| a.join(".git").exists()) {
                Err(ScanError::GitMissing { path: dir.to_owned() })
            } else {
                Ok(false)
            }
        }
        Err(source) => Err(ScanError::Spawn { command: "git rev-parse".into(), source }),
    }
}

/// Tracked files and untracked ones that are not ignored, under `dir`, relative to it.
pub fn work_tree_files(dir: &Path) -> Result<Vec<String>, ScanError> {
    let output = git(dir)
        .args(["ls-files", "--cached", "--others", "--exclude-standard", "--deduplicate", "-z"])
        .output()
        .map_err(|source| ScanError::Spawn { command: "git ls-files".into(), source })?;
    if !output.status.success() {
        return Err(ScanError::git("git ls-files", &output.stderr));
    }
    Ok(output
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// Every blob of every commit reachable from any ref, under `dir`, with the oldest commit and
/// path that introduced it; `skip` leaves out paths (`.cutoverignore`).
pub fn history(dir: &Path, skip: &dyn Fn(&str) -> bool) -> Result<History, ScanError> {
    const COMMAND: &str = "git log --all --raw";
    let mut child = git(dir)
        .args([
            "log",
            "--all",
            "--date-order",
            "--reverse",
            "--root",
            "--no-renames",
            "--diff-merges=first-parent",
            "--raw",
            "--no-abbrev",
            "--relative",
            "-z",
            "--format=%x01%H",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ScanError::Spawn { command: COMMAND.into(), source })?;
    let stdout = child.stdout.take().expect("piped stdout");
    let parsed = parse_log(BufReader::with_capacity(1 << 16, stdout), skip);
    let stderr = drain_stderr(&mut child);
    let status = child.wait().map_err(|source| ScanError::Spawn { command: COMMAND.into(), source })?;
    let history = parsed.map_err(|source| ScanError::Spawn { command: COMMAND.into(), source })?;
    // A repository without any commit yet has no history, not an error.
    let unborn = history.commits.is_empty() && stderr.contains("does not have any commits");
    if !status.success() && !unborn {
        return Err(ScanError::git(COMMAND, stderr.as_bytes()));
    }
    Ok(history)
}

fn drain_stderr(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}

/// `\x01<commit>\0` then `:<mode> <mode> <old> <new> <status>\0<path>\0` per changed file.
fn parse_log(reader: impl BufRead, skip: &dyn Fn(&str) -> bool) -> std::io::Result<History> {
    let mut history = History::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut pending: Option<String> = None;
    for token in reader.split(0) {
        let token = token?;
        let token = token.strip_prefix(b"\n").unwrap_or(&token);
        if let Some(commit) = token.strip_prefix(b"\x01") {
            history.commits.push(String::from_utf8_lossy(commit).into_owned());
            pending = None;
        } else if let Some(raw) = token.strip_prefix(b":") {
            // mode mode old new status: the new blob, unless deleted or a submodule.
            let fields: Vec<&[u8]> = raw.split(|&b| b == b' ').collect();
            pending = match fields.as_slice() {
                [_, new_mode, _, new, _] if *new_mode != b"160000" && new.iter().any(|&b| b != b'0') => {
                    Some(String::from_utf8_lossy(new).into_owned())
                }
                _ => None,
            };
        } else if let Some(id) = pending.take() {
            let path = String::from_utf8_lossy(token).into_owned();
            if history.commits.is_empty() || skip(&path) || seen.contains(&id) {
                continue;
            }
            seen.insert(id.clone());
            history.blobs.push(HistoryBlob { id, path, commit: history.commits.len() - 1 });
        }
    }
    Ok(history)
}

/// Streams the blobs `ids` through one `git cat-file --batch`, calling `each` with the index of
/// each blob in `ids` and its content; blobs over `max_size` bytes are skipped unread.
pub fn read_blobs(dir: &Path, ids: &[&str], max_size: u64, mut each: impl FnMut(usize, Blob)) -> Result<(), ScanError> {
    const COMMAND: &str = "git cat-file --batch";
    let mut child = git(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ScanError::Spawn { command: COMMAND.into(), source })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let result = std::thread::scope(|s| {
        let writer = s.spawn(move || -> std::io::Result<()> {
            let mut input = std::io::BufWriter::with_capacity(1 << 16, &mut stdin);
            for id in ids {
                input.write_all(id.as_bytes())?;
                input.write_all(b"\n")?;
            }
            input.flush()
            // stdin is dropped here, closing the pipe: cat-file finishes.
        });
        let read = read_batch(BufReader::with_capacity(1 << 20, stdout), ids.len(), max_size, &mut each);
        if read.is_err() {
            // The writer may be blocked on a full pipe that nobody reads any more.
            let _ = child.kill();
        }
        let written = writer.join().expect("the writer does not panic");
        read.and(written.or_else(|e| if e.kind() == std::io::ErrorKind::BrokenPipe { Ok(()) } else { Err(e) }))
    });
    let stderr = drain_stderr(&mut child);
    let status = child.wait().map_err(|source| ScanError::Spawn { command: COMMAND.into(), source })?;
    result.map_err(|source| ScanError::Spawn { command: COMMAND.into(), source })?;
    if !status.success() {
        return Err(ScanError::git(COMMAND, stderr.as_bytes()));
    }
    Ok(())
}

fn read_batch(
    mut out: BufReader<ChildStdout>,
    count: usize,
    max_size: u64,
    each: &mut impl FnMut(usize, Blob),
) -> std::io::Result<()> {
    let mut header = Vec::with_capacity(128);
    for index in 0..count {
        header.clear();
        if out.read_until(b'\n', &mut header)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "cat-file ended early"));
        }
        let line = String::from_utf8_lossy(&header);
        let fields: Vec<&str> = line.trim_end().split(' ').collect();
        let size = match fields.as_slice() {
            [_, _, size] => size.parse::<u64>().map_err(std::io::Error::other)?,
            _ => {
                each(index, Blob::Missing);
                continue;
            }
        };
        if size > max_size {
            std::io::copy(&mut (&mut out).take(size + 1), &mut std::io::sink())?;
            each(index, Blob::Large);
            continue;
        }
        let mut content = vec![0; usize::try_from(size).map_err(std::io::Error::other)?];
        out.read_exact(&mut content)?;
        let mut newline = [0u8; 1];
        out.read_exact(&mut newline)?;
        each(index, Blob::Text(content));
    }
    Ok(())
}
