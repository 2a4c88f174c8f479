//! `cutover secrets scan [PATH]`: the working tree and the whole git history of a directory
//! through the built-in rules. Needs no cutover.toml. Exit 1 when anything is found; values are
//! never printed, only their redaction and fingerprint.

use std::path::{Path, PathBuf};

use clap::Args;
use cutover_scan::{Finding, IGNORE_FILE, Progress, Report, ScanError, ScanOptions, Stats, scan_with_progress};
use serde::Serialize;

use crate::CliError;
use crate::context::Ctx;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The repository or directory to scan (default: the current directory).
    #[arg(value_name = "PATH")]
    pub path: Option<std::path::PathBuf>,
    /// Only the files as they are now, not the git history.
    #[arg(long, conflicts_with = "no_work_tree")]
    pub no_history: bool,
    /// Only the git history, not the files as they are now.
    #[arg(long)]
    pub no_work_tree: bool,
    /// Files and blobs larger than this many bytes are skipped (default 4 MiB).
    #[arg(long, value_name = "BYTES")]
    pub max_size: Option<u64>,
}

#[derive(Serialize)]
struct Json<'a> {
    path: String,
    clean: bool,
    findings: &'a [Finding],
    stats: &'a Stats,
    warnings: &'a [String],
}

pub fn exec(ctx: &Ctx<'_>, args: &ScanArgs) -> Result<(), CliError> {
    let root = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let out = ctx.out;
    let progress = |p: Progress| match p {
        Progress::WorkTree { files } => out.say(&format!("scanning {files} file(s) of the working tree")),
        Progress::History { commits, blobs } => {
            out.say(&format!("scanning {blobs} blob(s) from {commits} commit(s) of history"));
        }
    };
    let defaults = ScanOptions::default();
    let options = ScanOptions {
        work_tree: !args.no_work_tree,
        history: !args.no_history,
        max_file_size: args.max_size.unwrap_or(defaults.max_file_size),
        ..defaults
    };
    let report = scan_with_progress(&root, &options, &progress).map_err(|e| error(&root, e))?;
    for warning in &report.warnings {
        out.warn_line(warning);
    }
    if out.json {
        out.json(&Json {
            path: root.display().to_string(),
            clean: report.is_clean(),
            findings: &report.findings,
            stats: &report.stats,
            warnings: &report.warnings,
        });
    } else if !report.is_clean() {
        let rows: Vec<Vec<String>> = report
            .findings
            .iter()
            .map(|f| {
                vec![
                    f.rule.to_owned(),
                    format!("{}:{}", f.file, f.line),
                    f.place(),
                    f.redacted.clone(),
                    f.fingerprint.clone(),
                ]
            })
            .collect();
        out.table(&["RULE", "LOCATION", "COMMIT", "VALUE", "FINGERPRINT"], &rows);
    }
    out.say(&summary(&report));
    if report.is_clean() {
        return Ok(());
    }
    out.say(&format!(
        "rotate every secret that reached a commit: deleting it does not remove it from history. To accept a \
         finding, add `fingerprint:<FINGERPRINT>` to {IGNORE_FILE} or a `cutover:allow` comment on its line"
    ));
    Err(CliError::Check(format!("{} secret(s) found in `{}`", report.findings.len(), root.display())))
}

fn summary(report: &Report) -> String {
    let stats = &report.stats;
    let in_tree = report.findings.iter().filter(|f| f.commit.is_none()).count();
    let history = if stats.history {
        format!(" and {} blob(s) of {} commit(s)", stats.blobs, stats.commits)
    } else {
        " (not a git repository: no history)".to_owned()
    };
    format!(
        "{} finding(s), {in_tree} in the working tree and {} in history; scanned {} file(s){history}, {:.1} MiB in {:.2} s",
        report.findings.len(),
        report.findings.len() - in_tree,
        stats.files,
        stats.bytes as f64 / f64::from(1 << 20),
        stats.seconds,
    )
}

fn error(root: &Path, err: ScanError) -> CliError {
    match err {
        ScanError::NotFound { .. } | ScanError::Ignore { .. } => CliError::Usage(err.to_string()),
        ScanError::Read { path, source } => {
            CliError::Io { what: format!("failed to read `{}`", path.display()), source }
        }
        ScanError::Spawn { command, source } => CliError::Io { what: format!("failed to run `{command}`"), source },
        ScanError::Git { command, stderr } => CliError::Io {
            what: format!("`{command}` failed in `{}`", root.display()),
            source: std::io::Error::other(stderr),
        },
        ScanError::GitMissing { .. } => {
            CliError::Io { what: err.to_string(), source: std::io::Error::from(std::io::ErrorKind::NotFound) }
        }
    }
}
