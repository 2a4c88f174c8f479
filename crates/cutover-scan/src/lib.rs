//! The secret scanner behind `cutover secrets scan`: finds secrets committed to a repository.
//!
//! It reads a repository's working tree and every blob of its git history, through one built-in
//! rule set ([`rules`]) with a keyword pre-filter. It uses nothing else of cutover; the secrets
//! audit runs the same rules over a `.env` template ([`Scanner::scan_text`]).
//!
//! History is read blob by blob, not commit by commit: `git log --raw` names every blob once with
//! the oldest commit and path that introduced it, `git cat-file --batch` streams them, and worker
//! threads scan them. A value found again in a later version of the same file is reported once,
//! at the commit that introduced it. Findings never hold a value: only its first characters, its
//! length and a fingerprint ([`Finding`]).
//!
//! A match is judged by where it sits as well as by its shape: inside a comment that shows an
//! example (doc blocks, `e.g.`), or as a bare name in source code, it is no secret.
//!
//! `.cutoverignore` at the root leaves paths out (gitignore patterns) and accepts values
//! (`fingerprint:`) or whole rules (`rule:`); a line with `cutover:allow` is not reported.

mod entropy;
mod error;
mod generic;
mod git;
mod ignorefile;
mod matcher;
mod redact;
mod report;
mod rules;
mod site;
mod tree;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub use entropy::{is_placeholder, shannon};
pub use error::ScanError;
pub use ignorefile::{FILE_NAME as IGNORE_FILE, IgnoreFile};
pub use matcher::{Hit, Scanner, is_binary};
pub use report::{Finding, Report, Stats};
pub use rules::{Rule, rules};

use git::{Blob, History};

/// What to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The files as they are now (tracked and untracked-but-not-ignored in a git working tree).
    pub work_tree: bool,
    /// Every blob of every commit reachable from any ref, when the directory is in a git
    /// working tree.
    pub history: bool,
    /// Files and blobs larger than this are skipped (counted in [`Stats::skipped_large`]).
    pub max_file_size: u64,
    /// Scanning threads; 0 for one per core.
    pub threads: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self { work_tree: true, history: true, max_file_size: 4 << 20, threads: 0 }
    }
}

/// Where a long scan is, for a progress line.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    WorkTree { files: usize },
    History { commits: usize, blobs: usize },
}

/// Scans `root` (a directory, or one file) as `options` say.
pub fn scan(root: &Path, options: &ScanOptions) -> Result<Report, ScanError> {
    scan_with_progress(root, options, &|_| {})
}

/// [`scan`], telling `progress` what is about to be scanned.
pub fn scan_with_progress(
    root: &Path,
    options: &ScanOptions,
    progress: &dyn Fn(Progress),
) -> Result<Report, ScanError> {
    let started = Instant::now();
    let metadata = std::fs::metadata(root).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ScanError::NotFound { path: root.to_owned() },
        _ => ScanError::Read { path: root.to_owned(), source },
    })?;
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let mut report = Report::default();
    if metadata.is_file() {
        let name = root.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let dir = root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let (findings, stats, warnings) = scan_files(dir, &[name], options.max_file_size, 1);
        report = Report { findings, stats, warnings };
    } else {
        let ignore = IgnoreFile::load(root)?;
        let in_repo = git::is_work_tree(root)?;
        if options.work_tree {
            let mut files = if in_repo {
                git::work_tree_files(root)?
            } else {
                let (files, warnings) = tree::files(root);
                report.warnings.extend(warnings);
                files
            };
            files.retain(|f| !ignore.skips_path(f));
            progress(Progress::WorkTree { files: files.len() });
            let (findings, stats, warnings) = scan_files(root, &files, options.max_file_size, threads);
            report.findings.extend(findings);
            report.stats = stats;
            report.warnings.extend(warnings);
        }
        if options.history && in_repo {
            let history = git::history(root, &|path| ignore.skips_path(path))?;
            progress(Progress::History { commits: history.commits.len(), blobs: history.blobs.len() });
            report.findings.extend(scan_history(root, &history, options.max_file_size, threads, &mut report.stats)?);
        }
        report.findings.retain(|f| !ignore.accepts(f.rule, &f.fingerprint));
    }
    let mut seen = HashSet::new();
    report.findings.retain(|f| seen.insert((f.commit.clone(), f.file.clone(), f.line, f.rule, f.fingerprint.clone())));
    report.stats.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// What each worker counts.
#[derive(Default)]
struct Tally {
    bytes: u64,
    binary: usize,
    large: usize,
}

/// Reads and scans `files` (relative to `root`) on `threads` threads.
fn scan_files(root: &Path, files: &[String], max_size: u64, threads: usize) -> (Vec<Finding>, Stats, Vec<String>) {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let warnings = Mutex::new(Vec::new());
    let tallies = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..threads.min(files.len()).max(1) {
            s.spawn(|| {
                let mut tally = Tally::default();
                let mut found = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(relative) = files.get(index) else { break };
                    let path = root.join(relative);
                    match std::fs::symlink_metadata(&path) {
                        Ok(m) if !m.is_file() => continue,
                        Ok(m) if m.len() > max_size => {
                            tally.large += 1;
                            continue;
                        }
                        Ok(_) => {}
                        // Listed by git as tracked but deleted from the working tree.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => {
                            warnings.lock().expect("warnings").push(format!("failed to read `{relative}`: {e}"));
                            continue;
                        }
                    }
                    let text = match std::fs::read(&path) {
                        Ok(text) => text,
                        Err(e) => {
                            warnings.lock().expect("warnings").push(format!("failed to read `{relative}`: {e}"));
                            continue;
                        }
                    };
                    if is_binary(&text) {
                        tally.binary += 1;
                        continue;
                    }
                    tally.bytes += text.len() as u64;
                    for hit in Scanner::get().scan_text(relative, &text) {
                        found.push((index, finding(hit, relative, None)));
                    }
                }
                results.lock().expect("results").extend(found);
                let mut total = tallies.lock().expect("tallies");
                total.bytes += tally.bytes;
                total.binary += tally.binary;
                total.large += tally.large;
            });
        }
    });
    let mut found = results.into_inner().expect("results");
    found.sort_by_key(|(index, finding)| (*index, finding.line));
    let tally = tallies.into_inner().expect("tallies");
    let stats = Stats {
        files: files.len(),
        bytes: tally.bytes,
        skipped_binary: tally.binary,
        skipped_large: tally.large,
        ..Stats::default()
    };
    let mut warnings = warnings.into_inner().expect("warnings");
    warnings.sort();
    (found.into_iter().map(|(_, f)| f).collect(), stats, warnings)
}

/// Streams every blob of `history` through the scanner on `threads` threads; a value is
/// reported where it first appeared in each file, not again in the file's later versions.
fn scan_history(
    root: &Path,
    history: &History,
    max_size: u64,
    threads: usize,
    stats: &mut Stats,
) -> Result<Vec<Finding>, ScanError> {
    let ids: Vec<&str> = history.blobs.iter().map(|b| b.id.as_str()).collect();
    let (sender, receiver) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(threads * 4);
    let receiver = Mutex::new(receiver);
    let results = Mutex::new(Vec::new());
    let tallies = Mutex::new(Tally::default());
    let read = std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut tally = Tally::default();
                let mut found = Vec::new();
                loop {
                    let job = receiver.lock().expect("receiver").recv();
                    let Ok((index, text)) = job else { break };
                    if is_binary(&text) {
                        tally.binary += 1;
                        continue;
                    }
                    tally.bytes += text.len() as u64;
                    let hits = Scanner::get().scan_text(&history.blobs[index].path, &text);
                    if !hits.is_empty() {
                        found.push((index, hits));
                    }
                }
                results.lock().expect("results").extend(found);
                let mut total = tallies.lock().expect("tallies");
                total.bytes += tally.bytes;
                total.binary += tally.binary;
            });
        }
        let mut large = 0;
        let read = git::read_blobs(root, &ids, max_size, |index, blob| match blob {
            Blob::Text(text) => {
                // Workers stop only when the sender is dropped, so this cannot fail.
                let _ = sender.send((index, text));
            }
            Blob::Large => large += 1,
            Blob::Missing => {}
        });
        drop(sender);
        tallies.lock().expect("tallies").large += large;
        read
    });
    read?;
    let tally = tallies.into_inner().expect("tallies");
    stats.history = true;
    stats.commits = history.commits.len();
    stats.blobs = history.blobs.len();
    stats.bytes += tally.bytes;
    stats.skipped_binary += tally.binary;
    stats.skipped_large += tally.large;

    let mut found = results.into_inner().expect("results");
    found.sort_by_key(|(index, _)| *index);
    let mut reported = HashSet::new();
    let mut findings = Vec::new();
    for (index, hits) in found {
        let blob = &history.blobs[index];
        let mut occurrences: HashMap<(&str, String), usize> = HashMap::new();
        for hit in hits {
            let nth = occurrences.entry((hit.rule, hit.fingerprint.clone())).or_default();
            let key = (hit.rule, hit.fingerprint.clone(), blob.path.as_str(), *nth);
            *nth += 1;
            if reported.insert(key) {
                findings.push(finding(hit, &blob.path, Some(&history.commits[blob.commit])));
            }
        }
    }
    Ok(findings)
}

fn finding(hit: Hit, file: &str, commit: Option<&str>) -> Finding {
    Finding {
        rule: hit.rule,
        description: hit.description,
        file: file.to_owned(),
        line: hit.line,
        commit: commit.map(str::to_owned),
        redacted: hit.redacted,
        fingerprint: hit.fingerprint,
    }
}
