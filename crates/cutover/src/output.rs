//! Everything the user sees: messages on stderr, data on stdout, an upload bar per host and the
//! monitor's status line on a terminal, plain lines elsewhere. It is also the engine's
//! [`Reporter`] and the stages' [`GateReporter`]. Writes to stdout are checked: a closed pipe
//! (`| head`) ends the output quietly, any other failure fails the command ([`Output::finish`]).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use cutover_checks::smoke::Sample;
use cutover_gates::{GateReporter, Run};
use cutover_remote::Reporter;
use cutover_state::{MonitorRecord, RoundStats};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::CliError;
use crate::cli::Global;

#[derive(Debug)]
pub struct Output {
    pub json: bool,
    quiet: bool,
    verbose: bool,
    /// Present when stderr is a terminal: progress bars are drawn there.
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// The monitor's status line, on a terminal, while it runs.
    status: Mutex<Option<ProgressBar>>,
    stdout: Mutex<Stdout>,
    /// While set, data for stdout is dropped: `launch --json` runs each stage's command and
    /// prints one document of its own at the end.
    muted: std::sync::atomic::AtomicBool,
}

/// What became of stdout.
#[derive(Debug)]
enum Stdout {
    Open,
    /// Its reader went away (`| head`), or its failure was reported: nothing more is written.
    Closed,
    /// A write failed; reported by [`Output::finish`].
    Failed(std::io::Error),
}

impl Output {
    pub fn new(global: &Global) -> Self {
        let tty = std::io::stderr().is_terminal() && !global.quiet;
        Self {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
            multi: tty.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            bars: Mutex::new(HashMap::new()),
            status: Mutex::new(None),
            stdout: Mutex::new(Stdout::Open),
            muted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A message for the user (stderr); suppressed by `-q`.
    pub fn say(&self, text: &str) {
        if !self.quiet {
            self.line(text);
        }
    }

    /// Drops (or, with `false`, writes again) data meant for stdout.
    pub fn mute_data(&self, muted: bool) {
        self.muted.store(muted, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether there is a terminal to ask on (stdin and stderr both are one).
    pub fn can_ask(&self) -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// Asks `question` on the terminal (`[y/N]`: only `y` or `yes` is yes). `None` when there
    /// is no terminal to ask on (stdin or stderr is not one): nothing is asked.
    pub fn ask(&self, question: &str) -> Option<bool> {
        if !self.can_ask() {
            return None;
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{} [y/N] ", printable(question));
        let _ = err.flush();
        drop(err);
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_err() {
            return Some(false);
        }
        Some(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
    }

    /// Detail shown with `-v` only.
    pub fn detail(&self, text: &str) {
        if self.verbose {
            self.line(text);
        }
    }

    fn line(&self, text: &str) {
        let text = &*printable(text);
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    /// A message that `-q` does not silence (a `--json` summary on stderr).
    pub fn say_always(&self, text: &str) {
        self.line(text);
    }

    /// A warning line on stderr.
    pub fn warn_line(&self, text: &str) {
        self.line(&format!("warning: {text}"));
    }

    /// A byte counter with throughput on a terminal, for long streams; `None` elsewhere.
    pub fn byte_progress(&self, label: &str) -> Option<ProgressBar> {
        let multi = self.multi.as_ref()?;
        let bar = multi.add(ProgressBar::no_length());
        bar.set_style(
            ProgressStyle::with_template("  {prefix} {bytes} read, {bytes_per_sec}, {elapsed}")
                .expect("template parses"),
        );
        bar.set_prefix(label.to_owned());
        Some(bar)
    }

    /// Data for scripts and pipes (stdout), with terminal control characters escaped (hosts'
    /// and servers' text reaches it: a release's failure reason).
    pub fn data(&self, text: &str) {
        self.data_raw(&printable(text));
    }

    /// Data written exactly as given (a secret's value). Once a write has failed, nothing more
    /// is written.
    pub fn data_raw(&self, text: &str) {
        if self.muted.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let mut state = self.stdout.lock().expect("stdout lock");
        if !matches!(*state, Stdout::Open) {
            return;
        }
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
            *state = if e.kind() == std::io::ErrorKind::BrokenPipe { Stdout::Closed } else { Stdout::Failed(e) };
        }
    }

    /// The command's result, with what became of its data: a write to stdout that failed fails a
    /// command that had succeeded (a failed command keeps its own error, and the write's is shown
    /// too). A closed pipe is no failure: its reader had what it wanted.
    pub fn finish<T>(&self, result: Result<T, CliError>) -> Result<T, CliError> {
        let mut state = self.stdout.lock().expect("stdout lock");
        let failed = match std::mem::replace(&mut *state, Stdout::Closed) {
            Stdout::Failed(source) => CliError::Io { what: "failed to write to stdout".into(), source },
            other => {
                *state = other;
                return result;
            }
        };
        drop(state);
        match result {
            Ok(_) => Err(failed),
            Err(e) => {
                self.error(&failed);
                Err(e)
            }
        }
    }

    /// Rows under a header, each column as wide as its widest cell (stdout). The last column is
    /// not padded.
    pub fn table(&self, header: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let render = |cells: &mut dyn Iterator<Item = &str>| {
            let mut line = String::new();
            for (i, (cell, w)) in cells.zip(&widths).enumerate() {
                if i + 1 == widths.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}  "));
                }
            }
            line.trim_end().to_owned()
        };
        let mut text = render(&mut header.iter().copied());
        for row in rows {
            text.push('\n');
            text.push_str(&render(&mut row.iter().map(String::as_str)));
        }
        self.data(&text);
    }

    pub fn json(&self, value: &impl Serialize) {
        self.data(&serde_json::to_string_pretty(value).expect("output serializes"));
    }

    pub fn error(&self, err: &CliError) {
        self.line(&error_text(err));
    }
}

/// An error as `error:`, each cause, the config's snippet and a hint.
pub fn error_text(err: &CliError) -> String {
    let mut text = format!("error: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text += &format!("\n  caused by: {cause}");
        source = cause.source();
    }
    if let Some(snippet) = err.snippet() {
        for line in snippet.lines() {
            text += &format!("\n   | {line}");
        }
    }
    if let Some(hint) = err.hint() {
        text += &format!("\nhint: {hint}");
    }
    text
}

/// `text` with every control character but newline and tab written as an escape (`\x1b`), so
/// what a server, host or hook says cannot move the cursor, retitle the terminal or hide a line.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string().replace("\\u{", "\\x{")),
            c => out.push(c),
        }
    }
    out.into()
}

fn prefix(host: Option<&str>) -> String {
    host.map_or_else(String::new, |h| format!("[{h}] "))
}

impl Reporter for Output {
    fn step(&self, host: Option<&str>, message: &str) {
        if host.is_some() {
            self.detail(&format!("  {}{message}", prefix(host)));
        } else {
            self.say(&format!("==> {message}"));
        }
    }

    fn hook_line(&self, host: &str, line: &str) {
        self.say(&format!("  [{host}] {line}"));
    }

    fn warn(&self, host: Option<&str>, message: &str) {
        self.line(&format!("warning: {}{message}", prefix(host)));
    }

    fn upload_start(&self, host: &str, files: usize, bytes: u64) {
        match &self.multi {
            Some(multi) => {
                let bar = multi.add(ProgressBar::new(bytes.max(1)));
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {prefix:<20} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                    )
                    .expect("template parses")
                    .progress_chars("=> "),
                );
                bar.set_prefix(host.to_owned());
                bar.set_message(format!("{files} file(s)"));
                self.bars.lock().expect("bars lock").insert(host.to_owned(), bar);
            }
            None => self.say(&format!("  [{host}] uploading {files} changed file(s), {bytes} bytes")),
        }
    }

    fn upload_progress(&self, host: &str, bytes: u64) {
        if let Some(bar) = self.bars.lock().expect("bars lock").get(host) {
            bar.set_position(bytes.min(bar.length().unwrap_or(bytes)));
        }
    }

    fn upload_done(&self, host: &str) {
        match self.bars.lock().expect("bars lock").remove(host) {
            Some(bar) => bar.finish(),
            None => self.detail(&format!("  [{host}] upload complete")),
        }
    }
}

impl GateReporter for Output {
    fn samples(&self, run: Run, samples: &[Sample]) {
        match run {
            Run::Smoke if self.json => self.json(&serde_json::json!({
                "passed": samples.iter().all(|s| s.ok),
                "samples": cutover_gates::rows(samples),
            })),
            // With `--json` stdout is the deploy's report alone; the failures are in the error.
            Run::AfterDeploy if self.json => {}
            Run::Smoke | Run::AfterDeploy => {
                let table: Vec<Vec<String>> = samples
                    .iter()
                    .map(|s| {
                        vec![
                            s.check.clone(),
                            s.via.clone(),
                            if s.ok { "PASS" } else { "FAIL" }.to_owned(),
                            s.status.map_or("-".into(), |c| c.to_string()),
                            s.latency.map_or("-".into(), |d| format!("{} ms", d.as_millis())),
                            s.reason.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                self.table(&["CHECK", "VIA", "RESULT", "STATUS", "LATENCY", "REASON"], &table);
            }
        }
    }

    /// Rewritten in place on a terminal (a spinner with the latest status), plain lines
    /// elsewhere; `-q` silences it.
    fn status(&self, line: &str) {
        let Some(multi) = &self.multi else {
            self.say(line);
            return;
        };
        let mut status = self.status.lock().expect("status lock");
        let bar = status.get_or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("template parses"));
            bar.enable_steady_tick(std::time::Duration::from_millis(250));
            bar
        });
        bar.set_message(line.to_owned());
    }

    /// Kept in the scrollback above the status; `-q` does not silence it.
    fn note(&self, line: &str) {
        self.say_always(line);
    }

    fn rounds_done(&self) {
        if let Some(bar) = self.status.lock().expect("status lock").take() {
            bar.finish_and_clear();
        }
    }

    fn monitor_ended(&self, record: &MonitorRecord, rounds: &RoundStats) {
        if self.json {
            self.json(&serde_json::json!({ "monitor": record, "rounds": rounds }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert_eq!(printable("plain\ttext\nnext ünï"), "plain\ttext\nnext ünï");
        assert_eq!(printable("\x1b]0;owned\x07\x1b[2J\r\u{9b}x"), "\\x{1b}]0;owned\\x{7}\\x{1b}[2J\\x{d}\\x{9b}x");
    }
}
